//! Native tests with fake seams: scripted HTTP, recorded sleeps, fake tools
//! and real files in a temp directory.

mod app_tests;
mod config_tests;
mod context_tests;
mod edge_tests;
mod frontmatter_tests;
mod http_tests;
mod loop_tests;
mod mcp_server_tests;
mod mcp_tests;
mod provider_tests;
mod session_fuzz;
mod session_tests;
mod sse_tests;
mod store_tests;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::AgentError;
use crate::files::StdFiles;
use crate::http::{Body, Clock, Http, HttpError, Request, Response, RetryPolicy, Timeouts};
use crate::message::Message;
use crate::provider::{self, ChatRequest, Completion, Endpoint, ProviderKind, Sink, Transport};
use crate::tools::{ToolError, ToolSpec, Tools};

/// A reply the fake server gives: status, headers and body chunks.
#[derive(Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Vec<u8>>,
    /// After the chunks, the body fails with this instead of ending cleanly.
    pub broken: Option<HttpError>,
}

impl Scripted {
    pub fn json(status: u16, body: &str) -> Scripted {
        Scripted {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![body.as_bytes().to_vec()],
            broken: None,
        }
    }

    /// An SSE body cut into pieces of `split` bytes (splitting events,
    /// lines and UTF-8 sequences at arbitrary points).
    pub fn sse(body: &str, split: usize) -> Scripted {
        Scripted {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: body
                .as_bytes()
                .chunks(split.max(1))
                .map(<[u8]>::to_vec)
                .collect(),
            broken: None,
        }
    }

    /// The connection resets after the chunks.
    pub fn broken(self) -> Scripted {
        self.cut_with(HttpError::Connect("connection reset".into()))
    }

    pub fn cut_with(mut self, e: HttpError) -> Scripted {
        self.broken = Some(e);
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Scripted {
        self.headers.push((k.into(), v.into()));
        self
    }
}

pub struct RecordedRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub timeouts: Timeouts,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> wasiclaw_json::Value {
        wasiclaw_json::parse(&self.body).expect("request body is JSON")
    }
}

#[derive(Default)]
pub struct FakeHttp {
    pub replies: VecDeque<Result<Scripted, HttpError>>,
    pub requests: Vec<RecordedRequest>,
}

impl FakeHttp {
    pub fn new(replies: Vec<Result<Scripted, HttpError>>) -> FakeHttp {
        FakeHttp {
            replies: replies.into(),
            requests: Vec::new(),
        }
    }
}

struct ChunkBody(VecDeque<Vec<u8>>, Option<HttpError>);

impl Body for ChunkBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        match (self.0.pop_front(), &self.1) {
            (Some(c), _) => Ok(Some(c)),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Ok(None),
        }
    }
}

impl Http for FakeHttp {
    fn send(&mut self, req: &Request, timeouts: Timeouts) -> Result<Response, HttpError> {
        self.requests.push(RecordedRequest {
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: String::from_utf8(req.body.clone()).expect("request body is UTF-8"),
            timeouts,
        });
        let s = self
            .replies
            .pop_front()
            .unwrap_or_else(|| Err(HttpError::Connect("no scripted reply left".into())))?;
        Ok(Response {
            status: s.status,
            headers: s.headers,
            body: Box::new(ChunkBody(s.chunks.into(), s.broken)),
        })
    }
}

#[derive(Default)]
pub struct FakeClock {
    pub now: u64,
    pub sleeps: Vec<Duration>,
}

impl Clock for FakeClock {
    fn now_unix(&self) -> u64 {
        self.now
    }

    fn sleep(&mut self, d: Duration) {
        self.sleeps.push(d);
    }
}

/// Tools: `echo` returns its arguments, `deny` always refuses.
#[derive(Default)]
pub struct FakeTools {
    pub calls: Vec<(String, String)>,
}

impl Tools for FakeTools {
    fn list(&mut self) -> Vec<ToolSpec> {
        vec![
            ToolSpec {
                name: "echo".into(),
                description: "Echo the arguments".into(),
                parameters: r#"{"type":"object","properties":{"text":{"type":"string"}}}"#.into(),
            },
            ToolSpec {
                name: "deny".into(),
                description: "Always denied".into(),
                parameters: "not json".into(),
            },
        ]
    }

    fn call(&mut self, name: &str, arguments: &str) -> Result<String, ToolError> {
        self.calls.push((name.into(), arguments.into()));
        match name {
            "echo" => Ok(format!("echo {arguments}")),
            "deny" => Err(ToolError::Denied("outside the workspace".into())),
            other => Err(ToolError::UnknownTool(other.into())),
        }
    }
}

/// Records what the loop and the exchange send to the sink.
#[derive(Default)]
pub struct Recorder {
    pub events: Vec<String>,
}

impl Recorder {
    /// The text that survived: every reply's deltas since its last discard.
    pub fn shown(&self) -> String {
        let mut out = String::new();
        let mut reply = String::new();
        for e in &self.events {
            if let Some(t) = e.strip_prefix("text:") {
                reply.push_str(t);
            } else if e == "discard" {
                reply.clear();
            } else {
                out.push_str(&std::mem::take(&mut reply));
            }
        }
        out + &reply
    }
}

impl Sink for Recorder {
    fn text(&mut self, delta: &str) {
        self.events.push(format!("text:{delta}"));
    }

    fn discard(&mut self) {
        self.events.push("discard".into());
    }

    fn reply_done(&mut self, last: bool) {
        self.events.push(format!("done:{last}"));
    }
}

/// The outcome of one `provider::complete` against scripted replies.
pub struct Exchange {
    pub result: Result<Completion, AgentError>,
    pub sink: Recorder,
    pub http: FakeHttp,
    pub sleeps: Vec<Duration>,
    pub log: Vec<String>,
}

pub fn exchange(
    kind: ProviderKind,
    stream: bool,
    replies: Vec<Result<Scripted, HttpError>>,
) -> Exchange {
    exchange_limited(kind, stream, replies, provider::MAX_REPLY_BYTES)
}

/// [`exchange`] with another reply size limit than `MAX_REPLY_BYTES`.
pub fn exchange_limited(
    kind: ProviderKind,
    stream: bool,
    replies: Vec<Result<Scripted, HttpError>>,
    max_reply_bytes: usize,
) -> Exchange {
    let mut http = FakeHttp::new(replies);
    let mut clock = FakeClock::default();
    let mut sink = Recorder::default();
    let mut log = Vec::new();
    let mut t = Transport {
        http: &mut http,
        clock: &mut clock,
        policy: RetryPolicy::default(),
        timeouts: Timeouts::from_secs(42),
        max_reply_bytes,
    };
    let msgs = [Message::user("x")];
    let req = ChatRequest {
        model: "m",
        system: "",
        messages: &msgs,
        tools: &[],
        stream,
        max_tokens: 5,
    };
    let endpoint = Endpoint {
        kind,
        base_url: "http://127.0.0.1:9/v1".into(),
        api_key: Some("k".into()),
    };
    let result = provider::complete(&mut t, &endpoint, &req, &mut sink, &mut |l| {
        log.push(l.to_string())
    });
    Exchange {
        result,
        sink,
        http,
        sleeps: clock.sleeps,
        log,
    }
}

/// A fresh temp directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "wasiclaw-agent-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn files(&self) -> StdFiles {
        StdFiles {
            root: self.0.clone(),
        }
    }

    pub fn write(&self, name: &str, text: &str) {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(p, text).expect("write file");
    }

    pub fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(name)).ok()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Canned provider bodies.
pub mod replies {
    use wasiclaw_json::quote;

    pub fn openai_text(text: &str) -> String {
        format!(
            r#"{{"choices":[{{"index":0,"message":{{"role":"assistant","content":{}}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":11,"completion_tokens":7}}}}"#,
            quote(text)
        )
    }

    /// `calls` are (id, name, arguments-as-text).
    pub fn openai_calls(calls: &[(&str, &str, &str)]) -> String {
        let calls = calls
            .iter()
            .map(|(id, name, args)| {
                format!(
                    r#"{{"id":{},"type":"function","function":{{"name":{},"arguments":{}}}}}"#,
                    quote(id),
                    quote(name),
                    quote(args)
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        format!(
            r#"{{"choices":[{{"index":0,"message":{{"role":"assistant","content":null,"tool_calls":[{calls}]}},"finish_reason":"tool_calls"}}],"usage":{{"prompt_tokens":20,"completion_tokens":3}}}}"#
        )
    }

    pub fn openai_sse_text(text: &str) -> String {
        let mut s = String::new();
        for piece in text.split_inclusive(' ') {
            s.push_str(&format!(
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}}}}]}}\n\n",
                quote(piece)
            ));
        }
        s.push_str(
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n",
        );
        s.push_str("data: [DONE]\n\n");
        s
    }
}
