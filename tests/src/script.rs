//! What the mock model answers: a queue of scripted replies consumed one per
//! chat request, in order, whatever the wire format.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::Value;

use crate::conversation::ChatRequest;

/// One tool call the model makes. `arguments` is the raw text the model
/// emits, so a script can also send arguments that are not JSON at all.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: String,
}

impl ToolCall {
    pub fn new(name: &str, arguments: Value) -> Self {
        ToolCall {
            name: name.to_string(),
            arguments: arguments.to_string(),
        }
    }

    /// A call whose arguments are sent verbatim, e.g. truncated JSON.
    pub fn raw(name: &str, arguments: &str) -> Self {
        ToolCall {
            name: name.to_string(),
            arguments: arguments.to_string(),
        }
    }
}

/// A failure the server produces instead of an answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// This HTTP status with the provider's error body (500, 503, 529, ...).
    Status(u16),
    /// 429 with a `Retry-After` header of this many seconds.
    RateLimited { retry_after_secs: u32 },
    /// Streaming: a few real events, then the connection is cut without the
    /// end of the stream. Non-streaming: half the announced body, then cut.
    TruncatedStream,
    /// 200 with a body that is not the provider's wire format (not even JSON).
    MalformedBody,
    /// The connection is closed after the request, without any response.
    Close,
    /// This HTTP status with a provider error that quotes the request's
    /// credentials back (as OpenAI's 401 "Incorrect API key provided: ..."
    /// does, masked there; here in full, the worst case for a host to catch).
    EchoCredentials(u16),
}

/// In an answer's text: replaced by the request's headers, one
/// `name: value` per line.
pub const REQUEST_HEADERS: &str = "{request_headers}";

/// One scripted reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// The model answers `text` (may be empty) and makes `tool_calls` (may be none).
    Answer {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    Fault(Fault),
}

impl Reply {
    pub fn text(text: &str) -> Self {
        Reply::Answer {
            text: text.to_string(),
            tool_calls: Vec::new(),
        }
    }

    pub fn tool(name: &str, arguments: Value) -> Self {
        Reply::Answer {
            text: String::new(),
            tool_calls: vec![ToolCall::new(name, arguments)],
        }
    }
}

/// Produces the reply to each chat request. [`Script`] is the usual one; the
/// demo model answers from the conversation instead.
pub trait Responder: Send + Sync + 'static {
    /// `None` means "nothing left to say": the server answers 500 and says so.
    fn respond(&self, request: &ChatRequest) -> Option<Reply>;

    /// The model name to put in responses; `None` echoes the request's.
    fn model_name(&self) -> Option<String> {
        None
    }

    /// Replies not yet consumed, for responders that have a finite script.
    fn remaining(&self) -> usize {
        0
    }
}

/// A queue of replies, built fluently:
/// `Script::new().tool("read_file", json!({"path": "a"})).text("done")`.
#[derive(Debug, Default)]
pub struct Script {
    replies: Mutex<VecDeque<Reply>>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn reply(self, reply: Reply) -> Self {
        self.lock().push_back(reply);
        self
    }

    /// A plain answer that ends the turn. [`REQUEST_HEADERS`] in `text` is
    /// replaced by the chat request's headers, as a model reflecting its
    /// input would put them.
    pub fn text(self, text: &str) -> Self {
        self.reply(Reply::text(text))
    }

    /// One tool call with JSON arguments.
    pub fn tool(self, name: &str, arguments: Value) -> Self {
        self.reply(Reply::tool(name, arguments))
    }

    /// One tool call whose arguments are sent verbatim (e.g. invalid JSON).
    pub fn tool_raw(self, name: &str, arguments: &str) -> Self {
        self.reply(Reply::Answer {
            text: String::new(),
            tool_calls: vec![ToolCall::raw(name, arguments)],
        })
    }

    /// Some text plus several tool calls in one assistant message.
    pub fn tools(self, text: &str, calls: Vec<ToolCall>) -> Self {
        self.reply(Reply::Answer {
            text: text.to_string(),
            tool_calls: calls,
        })
    }

    pub fn fault(self, fault: Fault) -> Self {
        self.reply(Reply::Fault(fault))
    }

    /// The same fault `n` times, e.g. a provider that stays down.
    pub fn faults(mut self, fault: Fault, n: usize) -> Self {
        for _ in 0..n {
            self = self.fault(fault.clone());
        }
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Reply>> {
        // A panicking test thread cannot leave the queue half-updated.
        self.replies.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Responder for Script {
    fn respond(&self, _request: &ChatRequest) -> Option<Reply> {
        self.lock().pop_front()
    }

    fn remaining(&self) -> usize {
        self.lock().len()
    }
}
