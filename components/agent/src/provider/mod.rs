//! Chat providers: request building, reply parsing (whole and streamed) and
//! the exchange that ties them to the HTTP seam with retries.

pub mod anthropic;
pub mod openai;

use wasiclaw_json::Value;

use crate::error::AgentError;
use crate::http::{self, Clock, Http, Request, Response, RetryPolicy, Timeouts};
use crate::message::{Message, ToolCall, Usage};
use crate::sse;
use crate::tools::ToolSpec;

/// Non-streamed replies larger than this are refused rather than buffered.
const MAX_REPLY_BYTES: usize = 16 << 20;
/// How much of an error body is read to explain a failure.
const MAX_ERROR_BYTES: usize = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
}

impl ProviderKind {
    pub fn parse(s: &str) -> Option<ProviderKind> {
        match s {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

/// Where and how to reach the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub kind: ProviderKind,
    pub base_url: String,
    pub api_key: Option<String>,
}

pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub system: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [ToolSpec],
    pub stream: bool,
    pub max_tokens: u32,
}

/// One model reply, however it arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
}

impl Endpoint {
    pub fn build(&self, req: &ChatRequest) -> Request {
        let base = self.base_url.trim_end_matches('/');
        let (url, body, mut headers) = match self.kind {
            ProviderKind::OpenAi => {
                let mut h = Vec::new();
                if let Some(key) = &self.api_key {
                    h.push(("authorization".to_string(), format!("Bearer {key}")));
                }
                (
                    format!("{base}/chat/completions"),
                    openai::request_body(req),
                    h,
                )
            }
            ProviderKind::Anthropic => {
                let mut h = vec![("anthropic-version".to_string(), "2023-06-01".to_string())];
                if let Some(key) = &self.api_key {
                    h.push(("x-api-key".to_string(), key.clone()));
                }
                (
                    format!("{base}/v1/messages"),
                    anthropic::request_body(req),
                    h,
                )
            }
        };
        let body = body.into_bytes();
        headers.push(("content-type".into(), "application/json".into()));
        headers.push((
            "accept".into(),
            if req.stream {
                "text/event-stream"
            } else {
                "application/json"
            }
            .into(),
        ));
        headers.push(("content-length".into(), body.len().to_string()));
        Request { url, headers, body }
    }

    pub fn parse_reply(&self, body: &str) -> Result<Completion, String> {
        match self.kind {
            ProviderKind::OpenAi => openai::parse_reply(body),
            ProviderKind::Anthropic => anthropic::parse_reply(body),
        }
    }
}

/// Assembles a streamed reply event by event.
pub enum StreamState {
    OpenAi(openai::Stream),
    Anthropic(anthropic::Stream),
}

impl StreamState {
    pub fn new(kind: ProviderKind) -> StreamState {
        match kind {
            ProviderKind::OpenAi => StreamState::OpenAi(openai::Stream::default()),
            ProviderKind::Anthropic => StreamState::Anthropic(anthropic::Stream::default()),
        }
    }

    pub fn on_event(
        &mut self,
        ev: &sse::Event,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<(), String> {
        match self {
            StreamState::OpenAi(s) => s.on_event(ev, on_text),
            StreamState::Anthropic(s) => s.on_event(ev, on_text),
        }
    }

    /// The finished reply; an error if the stream ended before its end marker.
    pub fn finish(self) -> Result<Completion, String> {
        match self {
            StreamState::OpenAi(s) => s.finish(),
            StreamState::Anthropic(s) => s.finish(),
        }
    }
}

/// Everything `complete` needs besides the request itself.
pub struct Transport<'a> {
    pub http: &'a mut dyn Http,
    pub clock: &'a mut dyn Clock,
    pub policy: RetryPolicy,
    pub timeouts: Timeouts,
}

/// Runs one model request: send with retries, then parse the (streamed)
/// reply. Streamed text goes to `on_text` as it arrives.
pub fn complete(
    t: &mut Transport,
    endpoint: &Endpoint,
    req: &ChatRequest,
    on_text: &mut dyn FnMut(&str),
    log: &mut dyn FnMut(&str),
) -> Result<Completion, AgentError> {
    let request = endpoint.build(req);
    let mut resp = http::send_with_retry(t.http, t.clock, &t.policy, &request, t.timeouts, log)?;
    if !(200..300).contains(&resp.status) {
        let detail = resp
            .read_all(MAX_ERROR_BYTES)
            .map(|b| error_detail(std::str::from_utf8(&b).unwrap_or("(binary body)")))
            .unwrap_or_default();
        let msg = format!("{} returned HTTP {}{detail}", request.url, resp.status);
        return Err(if http::is_retryable_status(resp.status) {
            AgentError::Http(format!(
                "{msg} (gave up after {} attempts)",
                t.policy.max_retries + 1
            ))
        } else {
            AgentError::Provider(msg)
        });
    }
    // A server may ignore `stream: true` and answer with plain JSON.
    let is_json = resp
        .header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if req.stream && !is_json {
        read_stream(&mut resp, endpoint.kind, on_text)
    } else {
        let body = resp
            .read_all(MAX_REPLY_BYTES)
            .map_err(|e| AgentError::Http(format!("reading the reply: {e}")))?;
        let text = String::from_utf8(body)
            .map_err(|_| AgentError::Provider("malformed reply: not UTF-8".into()))?;
        let c = endpoint
            .parse_reply(&text)
            .map_err(|e| AgentError::Provider(format!("malformed reply: {e}")))?;
        if req.stream && !c.text.is_empty() {
            on_text(&c.text);
        }
        Ok(c)
    }
}

fn read_stream(
    resp: &mut Response,
    kind: ProviderKind,
    on_text: &mut dyn FnMut(&str),
) -> Result<Completion, AgentError> {
    let bad = |e: String| AgentError::Provider(format!("malformed stream: {e}"));
    let mut decoder = sse::Decoder::new();
    let mut state = StreamState::new(kind);
    loop {
        let chunk = resp
            .body
            .next_chunk()
            .map_err(|e| AgentError::Http(format!("reading the stream: {e}")))?;
        let Some(chunk) = chunk else { break };
        for ev in decoder.feed(&chunk).map_err(bad)? {
            state.on_event(&ev, on_text).map_err(bad)?;
        }
    }
    if let Some(ev) = decoder.finish().map_err(bad)? {
        state.on_event(&ev, on_text).map_err(bad)?;
    }
    state.finish().map_err(bad)
}

/// `: message` from a JSON error body (both providers nest it under
/// `error.message`), else a short excerpt of the raw body.
pub fn error_detail(body: &str) -> String {
    if let Ok(v) = wasiclaw_json::parse(body) {
        let msg = v
            .get("error")
            .and_then(|e| e.get("message").and_then(Value::as_str).or(e.as_str()))
            .or(v.get("message").and_then(Value::as_str));
        if let Some(m) = msg {
            return format!(": {m}");
        }
    }
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let cut = body.char_indices().nth(200).map_or(body.len(), |(i, _)| i);
    format!(": {}", &body[..cut])
}

/// `text` if it is a JSON object, else `fallback`: a tool with an unparsable
/// schema, or a replayed call with bad arguments, must not break every
/// later request.
pub fn object_text<'a>(text: &'a str, fallback: &'a str) -> &'a str {
    match wasiclaw_json::parse(text) {
        Ok(Value::Obj(_)) => text,
        _ => fallback,
    }
}

/// The arguments of a call as a JSON object (Anthropic wants an object, not
/// text); empty text means no arguments.
pub fn arguments_value(args: &str) -> Option<Value> {
    if args.trim().is_empty() {
        return Some(Value::object());
    }
    match wasiclaw_json::parse(args) {
        Ok(v @ Value::Obj(_)) => Some(v),
        _ => None,
    }
}

/// A required string field, or an error naming it.
pub(crate) fn str_field<'v>(v: &'v Value, key: &str, what: &str) -> Result<&'v str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what} has no string \"{key}\""))
}
