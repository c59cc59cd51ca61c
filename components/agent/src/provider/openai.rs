//! OpenAI-compatible Chat Completions (OpenAI, Ollama, vLLM, llama.cpp, ...).

use wasiclaw_json::Value;

use super::{schema_value, str_field, ChatRequest, Completion};
use crate::message::{Message, Role, ToolCall, Usage};
use crate::sse::Event;

pub fn request_body(req: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        messages.push(Value::from_pairs([
            ("role", Value::from("system")),
            ("content", Value::from(req.system)),
        ]));
    }
    for m in req.messages {
        messages.push(message(m));
    }
    let mut body = Value::from_pairs([
        ("model", Value::from(req.model)),
        ("messages", Value::from(messages)),
    ]);
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|t| {
                Value::from_pairs([
                    ("type", Value::from("function")),
                    (
                        "function",
                        Value::from_pairs([
                            ("name", Value::from(t.name.as_str())),
                            ("description", Value::from(t.description.as_str())),
                            ("parameters", schema_value(t)),
                        ]),
                    ),
                ])
            })
            .collect::<Vec<_>>();
        body.set("tools", tools);
    }
    if req.stream {
        body.set("stream", true);
        body.set(
            "stream_options",
            Value::from_pairs([("include_usage", Value::from(true))]),
        );
    }
    body
}

fn message(m: &Message) -> Value {
    match m.role {
        Role::User => Value::from_pairs([
            ("role", Value::from("user")),
            ("content", Value::from(m.content.as_str())),
        ]),
        Role::Tool => Value::from_pairs([
            ("role", Value::from("tool")),
            ("tool_call_id", Value::from(m.tool_call_id.as_str())),
            ("content", Value::from(m.content.as_str())),
        ]),
        Role::Assistant => {
            let mut v = Value::from_pairs([("role", Value::from("assistant"))]);
            if m.tool_calls.is_empty() || !m.content.is_empty() {
                v.set("content", m.content.as_str());
            } else {
                v.set("content", Value::Null);
            }
            if !m.tool_calls.is_empty() {
                let calls = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        Value::from_pairs([
                            ("id", Value::from(c.id.as_str())),
                            ("type", Value::from("function")),
                            (
                                "function",
                                Value::from_pairs([
                                    ("name", Value::from(c.name.as_str())),
                                    ("arguments", Value::from(c.arguments.as_str())),
                                ]),
                            ),
                        ])
                    })
                    .collect::<Vec<_>>();
                v.set("tool_calls", calls);
            }
            v
        }
    }
}

fn usage(v: &Value) -> Usage {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("prompt_tokens"),
        output_tokens: n("completion_tokens"),
    }
}

fn api_error(v: &Value) -> Option<String> {
    let e = v.get("error").filter(|e| !e.is_null())?;
    let msg = e.get("message").and_then(Value::as_str).or(e.as_str());
    Some(format!("provider error: {}", msg.unwrap_or("(no message)")))
}

pub fn parse_reply(body: &str) -> Result<Completion, String> {
    let v = wasiclaw_json::parse(body).map_err(|e| e.to_string())?;
    if let Some(e) = api_error(&v) {
        return Err(e);
    }
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or("no \"choices\" in the reply")?;
    let msg = choice.get("message").ok_or("choice has no \"message\"")?;
    let text = match msg.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::Str(s)) => s.clone(),
        Some(_) => return Err("\"content\" is not a string".into()),
    };
    let mut tool_calls = Vec::new();
    if let Some(calls) = msg.get("tool_calls").filter(|c| !c.is_null()) {
        let calls = calls.as_array().ok_or("\"tool_calls\" is not an array")?;
        for (i, c) in calls.iter().enumerate() {
            let f = c.get("function").ok_or("tool call has no \"function\"")?;
            let arguments = match f.get("arguments") {
                None | Some(Value::Null) => String::new(),
                Some(Value::Str(s)) => s.clone(),
                // Some servers send an object instead of JSON text.
                Some(other) => other.to_json(),
            };
            tool_calls.push(ToolCall {
                id: call_id(c.get("id").and_then(Value::as_str), i),
                name: str_field(f, "name", "tool call")?.to_string(),
                arguments,
            });
        }
    }
    Ok(Completion {
        text,
        tool_calls,
        usage: v.get("usage").map(usage).unwrap_or_default(),
    })
}

/// Ids tie results to calls; servers that omit them get stable synthetic ones.
fn call_id(id: Option<&str>, index: usize) -> String {
    match id {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("call_{index}"),
    }
}

#[derive(Default)]
struct PartialCall {
    index: u64,
    id: String,
    name: String,
    arguments: String,
}

/// Accumulates `chat.completion.chunk` deltas; tool calls arrive as
/// fragments keyed by `index`.
#[derive(Default)]
pub struct Stream {
    text: String,
    calls: Vec<PartialCall>,
    usage: Usage,
    done: bool,
}

impl Stream {
    pub fn on_event(&mut self, ev: &Event, on_text: &mut dyn FnMut(&str)) -> Result<(), String> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if self.done {
            return Err("data after [DONE]".into());
        }
        let v =
            wasiclaw_json::parse(data).map_err(|e| format!("{e} in event {}", excerpt(data)))?;
        if let Some(e) = api_error(&v) {
            return Err(e);
        }
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            self.usage = usage(u);
        }
        let Some(choices) = v.get("choices").and_then(Value::as_array) else {
            return Ok(());
        };
        for choice in choices {
            let Some(delta) = choice.get("delta") else {
                continue;
            };
            if let Some(t) = delta.get("content").and_then(Value::as_str) {
                if !t.is_empty() {
                    self.text.push_str(t);
                    on_text(t);
                }
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for c in calls {
                    self.call_delta(c);
                }
            }
        }
        Ok(())
    }

    fn call_delta(&mut self, c: &Value) {
        let index = c
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(self.calls.len() as u64);
        let pos = match self.calls.iter().position(|p| p.index == index) {
            Some(p) => p,
            None => {
                self.calls.push(PartialCall {
                    index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };
        let p = &mut self.calls[pos];
        if let Some(id) = c.get("id").and_then(Value::as_str) {
            if p.id.is_empty() {
                p.id = id.to_string();
            }
        }
        if let Some(f) = c.get("function") {
            if let Some(name) = f.get("name").and_then(Value::as_str) {
                if p.name.is_empty() {
                    p.name = name.to_string();
                }
            }
            if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                p.arguments.push_str(a);
            }
        }
    }

    pub fn finish(self) -> Result<Completion, String> {
        if !self.done {
            return Err("the stream ended before [DONE] (truncated reply)".into());
        }
        let mut tool_calls = Vec::with_capacity(self.calls.len());
        for (i, p) in self.calls.into_iter().enumerate() {
            if p.name.is_empty() {
                return Err("a streamed tool call has no name".into());
            }
            tool_calls.push(ToolCall {
                id: call_id(Some(&p.id), i),
                name: p.name,
                arguments: p.arguments,
            });
        }
        Ok(Completion {
            text: self.text,
            tool_calls,
            usage: self.usage,
        })
    }
}

/// The start of a bad payload, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    let cut = s.char_indices().nth(80).map_or(s.len(), |(i, _)| i);
    let mut out = wasiclaw_json::quote(&s[..cut]);
    if cut < s.len() {
        out.push_str("...");
    }
    out
}
