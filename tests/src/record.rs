//! What the mock server remembers about each request, with the accessors
//! tests use to assert on what the client sent.

use std::time::Instant;

use serde_json::Value;

use crate::conversation::{Format, Turn};
use crate::http;
use crate::script::Reply;
use crate::validate::Rejection;

/// What kind of endpoint a request hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Chat(Format),
    Embeddings,
    /// Unknown path or unparseable HTTP: answered 4xx.
    Other,
}

/// One request as the server received it, and what it did about it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Arrival order among all requests.
    pub seq: usize,
    pub at: Instant,
    pub kind: Kind,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    /// Set when the request was refused the way the real API would refuse it.
    pub rejected: Option<Rejection>,
    /// The scripted reply it consumed (chat requests that were not rejected).
    pub reply: Option<Reply>,
    /// Ids the server gave the tool calls of that reply.
    pub tool_call_ids: Vec<String>,
    /// Status line sent (0 when the connection was closed without one).
    pub status: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        http::header(&self.headers, name)
    }

    pub fn stream(&self) -> bool {
        self.json
            .as_ref()
            .and_then(|j| j.get("stream"))
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// The conversation sent, provider-neutral (empty for non-chat requests).
    pub fn conversation(&self) -> Vec<Turn> {
        match (self.kind, &self.json) {
            (Kind::Chat(f), Some(j)) => crate::conversation::conversation(f, j),
            _ => Vec::new(),
        }
    }

    /// Names of the tools the request advertised, in either format.
    pub fn tool_names(&self) -> Vec<String> {
        let tools = self
            .json
            .as_ref()
            .and_then(|j| j.get("tools"))
            .and_then(Value::as_array);
        tools
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|t| {
                t.pointer("/function/name")
                    .or_else(|| t.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect()
    }

    /// Tool results carried by the request, as `(tool call id, content, is_error)`.
    pub fn tool_results(&self) -> Vec<(String, String, bool)> {
        self.conversation()
            .into_iter()
            .filter_map(|t| match t {
                Turn::ToolResult {
                    id,
                    content,
                    is_error,
                } => Some((id, content, is_error)),
                _ => None,
            })
            .collect()
    }

    /// The text of the last user message.
    pub fn last_user_text(&self) -> Option<String> {
        self.conversation().into_iter().rev().find_map(|t| match t {
            Turn::User(u) => Some(u),
            _ => None,
        })
    }
}
