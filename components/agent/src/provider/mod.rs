//! Chat providers: request building, reply parsing (whole and streamed) and
//! the exchange that ties them to the HTTP seam with retries.

pub mod anthropic;
mod exchange;
pub mod openai;

pub use exchange::{complete, Sink, Transport, MAX_REPLY_BYTES};

use crate::prelude::*;
use wasiclaw_json::Value;

use crate::http::Request;
use crate::message::{Message, ToolCall, Usage};
use crate::sse;
use crate::tools::ToolSpec;

/// The providers and their defaults are part of the host–guest contract.
pub use wasiclaw_contract::ProviderKind;

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
                    h.push(("authorization".to_string(), cat!("Bearer ", key)));
                }
                (
                    cat!(base, "/chat/completions"),
                    openai::request_body(req),
                    h,
                )
            }
            ProviderKind::Anthropic => {
                let mut h = vec![("anthropic-version".to_string(), "2023-06-01".to_string())];
                if let Some(key) = &self.api_key {
                    h.push(("x-api-key".to_string(), key.clone()));
                }
                (cat!(base, "/v1/messages"), anthropic::request_body(req), h)
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

    /// Whether the provider's end marker (`[DONE]`, `message_stop`) arrived.
    pub fn done(&self) -> bool {
        match self {
            StreamState::OpenAi(s) => s.done(),
            StreamState::Anthropic(s) => s.done(),
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

/// `: message` from a JSON error body (both providers nest it under
/// `error.message`), else a short excerpt of the raw body.
pub fn error_detail(body: &str) -> String {
    if let Ok(v) = wasiclaw_json::parse(body) {
        let msg = v
            .get("error")
            .and_then(|e| e.get("message").and_then(Value::as_str).or(e.as_str()))
            .or(v.get("message").and_then(Value::as_str));
        if let Some(m) = msg {
            return cat!(": ", m);
        }
    }
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    cat!(": ", wasiclaw_json::text::prefix_chars(body, 200))
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
/// text); empty text means no arguments. The error says what is wrong
/// (where the JSON breaks, or that it is not an object), for the model.
pub fn arguments_value(args: &str) -> Result<Value, String> {
    if args.trim().is_empty() {
        return Ok(Value::object());
    }
    match wasiclaw_json::parse(args) {
        Ok(v @ Value::Obj(_)) => Ok(v),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(e.message()),
    }
}

/// A required string field, or an error naming it.
pub(crate) fn str_field<'v>(v: &'v Value, key: &str, what: &str) -> Result<&'v str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| cat!(what, " has no string \"", key, "\""))
}
