//! The edge front end: an OpenAI-compatible `POST /v1/chat/completions` and
//! `GET /healthz`, platform-free so routing, request parsing and the response
//! shapes are tested natively. The `wasi:http/incoming-handler` shim (feature
//! `http-edge`) only moves bytes between these functions and the host.
//!
//! The server keeps the conversation, not the client: the turn's message is
//! the LAST user message of `messages`, and the history comes from the
//! session file, exactly as in the CLI. Clients that resend the whole
//! conversation therefore do not duplicate it.

use crate::prelude::*;

use wasiclaw_json::{parse, quote, Value};

use crate::agent::{Sink, TurnOutput};
use crate::app::{self, load_config, Platform};
use crate::config::Overrides;
use crate::error::AgentError;
use crate::session;

/// Larger request bodies are refused (413) before they are parsed: the
/// history lives server-side, so a real request is one message.
pub const MAX_BODY: usize = wasiclaw_contract::MAX_EDGE_REQUEST_BYTES;
pub use wasiclaw_contract::SESSION_HEADER;

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    Chat,
    /// `POST /mcp`: the MCP server (`crate::mcp::server`).
    Mcp,
    /// A known path with the wrong method.
    MethodNotAllowed,
    NotFound,
}

/// The query string is ignored; a trailing slash is tolerated.
pub fn route(method: &str, path_with_query: &str) -> Route {
    let path = path_with_query.split('?').next().unwrap_or("");
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    match (method, path) {
        ("GET", "/healthz") => Route::Health,
        ("POST", "/v1/chat/completions") => Route::Chat,
        ("POST", "/mcp") => Route::Mcp,
        (_, "/healthz" | "/v1/chat/completions" | "/mcp") => Route::MethodNotAllowed,
        _ => Route::NotFound,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct ChatRequest {
    pub session: String,
    pub message: String,
    pub stream: bool,
}

/// A 4xx answer: the HTTP status and the OpenAI-style message.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest {
    pub status: u16,
    pub message: String,
}

fn bad(message: impl Into<String>) -> BadRequest {
    BadRequest {
        status: 400,
        message: message.into(),
    }
}

/// Text of a message `content`: a string, or an array of content parts
/// whose `text` parts are joined (what newer OpenAI clients send).
fn content_text(content: &Value) -> Option<String> {
    if let Some(s) = content.as_str() {
        return Some(s.to_string());
    }
    let parts = content.as_array()?;
    let mut out = String::new();
    for p in parts {
        if p.get("type").and_then(Value::as_str) == Some("text") {
            out.push_str(p.get("text").and_then(Value::as_str)?);
        }
    }
    Some(out)
}

/// Parses a chat completion request. The session is the
/// `x-wasiclaw-session` header when given, else the `user` field, else the
/// default session.
pub fn parse_request(body: &[u8], header_session: Option<&str>) -> Result<ChatRequest, BadRequest> {
    if body.len() > MAX_BODY {
        return Err(BadRequest {
            status: 413,
            message: cat!("request body larger than ", MAX_BODY, " bytes"),
        });
    }
    let text = core::str::from_utf8(body).map_err(|_| bad("request body is not UTF-8"))?;
    let v = parse(text).map_err(|e| bad(cat!("request body is not valid JSON: ", e)))?;
    if v.as_object().is_none() {
        return Err(bad("request body must be a JSON object"));
    }
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("'messages' must be an array"))?;
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .ok_or_else(|| bad("'messages' has no user message"))?;
    let message = last_user
        .get("content")
        .and_then(content_text)
        .ok_or_else(|| bad("the last user message has no text content"))?;
    if message.trim().is_empty() {
        return Err(bad("the last user message is empty"));
    }
    let stream = match v.get("stream") {
        None => false,
        Some(s) if s.is_null() => false,
        Some(s) => s
            .as_bool()
            .ok_or_else(|| bad("'stream' must be a boolean"))?,
    };
    let user = match v.get("user") {
        Some(u) if !u.is_null() => Some(u.as_str().ok_or_else(|| bad("'user' must be a string"))?),
        _ => None,
    };
    let chosen = wasiclaw_contract::session_for_request(header_session, user);
    let session = session::validate_name(chosen).map_err(bad)?.to_string();
    Ok(ChatRequest {
        session,
        message: message.trim().to_string(),
        stream,
    })
}

/// `{"error":{"message":..,"type":..}}`, the shape OpenAI clients parse.
pub fn error_body(message: &str, kind: &str) -> String {
    cat!(
        "{\"error\":{\"message\":",
        quote(message),
        ",\"type\":",
        quote(kind),
        "}}"
    )
}

pub fn invalid_request(message: &str) -> String {
    error_body(message, "invalid_request_error")
}

/// Upstream trouble is a bad gateway; our own configuration or storage is
/// an internal error.
pub fn error_status(e: &AgentError) -> (u16, &'static str) {
    match e {
        AgentError::Http(_) | AgentError::Provider(_) | AgentError::MaxIterations(_) => {
            (502, "upstream_error")
        }
        AgentError::Config(_) | AgentError::Session(_) => (500, "server_error"),
    }
}

/// The fields every response object repeats.
pub struct Meta<'a> {
    pub id: &'a str,
    pub created: u64,
    pub model: &'a str,
}

impl Meta<'_> {
    fn head(&self, object: &str) -> String {
        cat!(
            "{\"id\":",
            quote(self.id),
            ",\"object\":\"",
            object,
            "\",\"created\":",
            self.created,
            ",\"model\":",
            quote(self.model),
            ","
        )
    }
}

fn usage_json(out: &mut String, r: &TurnOutput) {
    let (p, c) = (r.usage.input_tokens, r.usage.output_tokens);
    out.push_str(&cat!(
        "\"usage\":{\"prompt_tokens\":",
        p,
        ",\"completion_tokens\":",
        c,
        ",\"total_tokens\":",
        p + c,
        "}"
    ));
}

/// The non-streaming `chat.completion` object.
pub fn completion_body(meta: &Meta, reply: &TurnOutput) -> String {
    let mut out = meta.head("chat.completion");
    out.push_str(&cat!(
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":",
        quote(&reply.text),
        "},\"finish_reason\":\"stop\"}],"
    ));
    usage_json(&mut out, reply);
    out.push('}');
    out
}

/// What a streamed chunk carries.
pub enum Delta<'a> {
    /// The first chunk: `{"role":"assistant"}`.
    Role,
    Content(&'a str),
    /// The last chunk: empty delta, `finish_reason: stop`, and the usage.
    Stop(&'a TurnOutput),
}

/// One SSE event holding a `chat.completion.chunk`.
pub fn chunk_event(meta: &Meta, delta: Delta) -> String {
    let mut out = String::from("data: ");
    out.push_str(&meta.head("chat.completion.chunk"));
    out.push_str("\"choices\":[{\"index\":0,\"delta\":");
    match delta {
        Delta::Role => {
            out.push_str("{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]")
        }
        Delta::Content(t) => {
            out.push_str(&cat!(
                "{\"content\":",
                quote(t),
                "},\"finish_reason\":null}]"
            ));
        }
        Delta::Stop(r) => {
            out.push_str("{},\"finish_reason\":\"stop\"}],");
            usage_json(&mut out, r);
        }
    }
    out.push_str("}\n\n");
    out
}

pub fn error_event(message: &str, kind: &str) -> String {
    cat!("data: ", error_body(message, kind), "\n\n")
}

pub const DONE_EVENT: &str = "data: [DONE]\n\n";

/// Streams reply text as chunk events through `send`. Narration that comes
/// with tool calls is streamed too (as on the CLI's terminal), followed by a
/// blank line; text already sent cannot be recalled if a broken-off reply
/// is retried, so the retry's text follows it.
pub struct StreamSink<'a> {
    pub meta: &'a Meta<'a>,
    pub send: &'a mut dyn FnMut(&str),
    open: bool,
}

impl<'a> StreamSink<'a> {
    pub fn new(meta: &'a Meta<'a>, send: &'a mut dyn FnMut(&str)) -> Self {
        StreamSink {
            meta,
            send,
            open: false,
        }
    }
}

impl Sink for StreamSink<'_> {
    fn text(&mut self, delta: &str) {
        if !delta.is_empty() {
            (self.send)(&chunk_event(self.meta, Delta::Content(delta)));
            self.open = true;
        }
    }

    fn discard(&mut self) {}

    fn reply_done(&mut self, last: bool) {
        if !last && self.open {
            (self.send)(&chunk_event(self.meta, Delta::Content("\n\n")));
        }
        self.open = false;
    }
}

/// The model name the responses report: the configured one, since that is
/// what actually answered (the request's `model` is not forwarded).
pub fn model_name(p: &mut Platform) -> Result<String, AgentError> {
    Ok(load_config(p.files, p.env, &Overrides::default())?.model)
}

/// One turn for the edge: the request's session and message, reply text
/// going to `sink` as it arrives.
pub fn turn(
    p: &mut Platform,
    log: &mut dyn FnMut(&str),
    req: &ChatRequest,
    sink: &mut dyn Sink,
) -> Result<TurnOutput, AgentError> {
    app::export_turn(p, log, &req.session, &req.message, sink)
}
