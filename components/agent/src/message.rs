//! The provider-neutral conversation model. Sessions store it, the context
//! trimmer reasons about it and each provider translates it on the way out,
//! so a session started with one provider can continue with the other.

use crate::prelude::*;
use wasiclaw_json::Value;

use crate::jsonw::JsonWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// A tool invocation requested by the model. `arguments` is the JSON text as
/// the model produced it, kept verbatim so a malformed one can be reported
/// back to the model instead of being silently "fixed".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// Assistant messages only.
    pub tool_calls: Vec<ToolCall>,
    /// Tool results only: the call this answers.
    pub tool_call_id: String,
    /// Tool results only: the tool's name (readability, some providers).
    pub name: String,
    /// Tool results only: the tool failed and `content` explains why.
    pub is_error: bool,
}

impl Message {
    pub fn user(text: impl Into<String>) -> Message {
        Message::new(Role::User, text.into())
    }

    pub fn assistant(text: impl Into<String>, tool_calls: Vec<ToolCall>) -> Message {
        Message {
            tool_calls,
            ..Message::new(Role::Assistant, text.into())
        }
    }

    pub fn tool_result(call: &ToolCall, content: String, is_error: bool) -> Message {
        Message {
            tool_call_id: call.id.clone(),
            name: call.name.clone(),
            is_error,
            ..Message::new(Role::Tool, content)
        }
    }

    fn new(role: Role, content: String) -> Message {
        Message {
            role,
            content,
            tool_calls: Vec::new(),
            tool_call_id: String::new(),
            name: String::new(),
            is_error: false,
        }
    }

    /// One JSONL line (without the newline).
    pub fn to_json(&self) -> String {
        let mut w = JsonWriter::default();
        w.open('{').field("role", self.role.as_str());
        if self.role == Role::Tool {
            w.field("tool_call_id", &self.tool_call_id)
                .field("name", &self.name);
        }
        w.field("content", &self.content);
        if !self.tool_calls.is_empty() {
            w.key("tool_calls").open('[');
            for c in &self.tool_calls {
                w.open('{')
                    .field("id", &c.id)
                    .field("name", &c.name)
                    .field("arguments", &c.arguments)
                    .close('}');
            }
            w.close(']');
        }
        if self.is_error {
            w.key("is_error").raw("true");
        }
        w.close('}');
        w.out
    }

    /// Parses one JSONL line; `Err` names what is wrong with it.
    pub fn from_json(line: &str) -> Result<Message, String> {
        let v = wasiclaw_json::parse(line).map_err(|e| e.message())?;
        let role = match v.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some("tool") => Role::Tool,
            _ => return Err("missing or unknown \"role\"".into()),
        };
        let text = |key: &str| -> Result<String, String> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::Str(s)) => Ok(s.clone()),
                Some(_) => Err(cat!("\"", key, "\" is not a string")),
            }
        };
        let mut msg = Message::new(role, text("content")?);
        if role == Role::Tool {
            msg.tool_call_id = text("tool_call_id")?;
            msg.name = text("name")?;
            msg.is_error = v.get("is_error").and_then(Value::as_bool).unwrap_or(false);
            if msg.tool_call_id.is_empty() {
                return Err("tool result without \"tool_call_id\"".into());
            }
        }
        if let Some(calls) = v.get("tool_calls") {
            let calls = calls.as_array().ok_or("\"tool_calls\" is not an array")?;
            for c in calls {
                let field = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
                match (field("id"), field("name"), field("arguments")) {
                    (Some(id), Some(name), Some(arguments)) if !id.is_empty() => {
                        msg.tool_calls.push(ToolCall {
                            id,
                            name,
                            arguments,
                        })
                    }
                    _ => return Err("malformed entry in \"tool_calls\"".into()),
                }
            }
        }
        Ok(msg)
    }

    /// A rough token estimate (~4 bytes per token plus per-message overhead);
    /// good enough to keep requests under a budget without a tokenizer.
    pub fn estimate_tokens(&self) -> usize {
        let mut bytes = self.content.len() + self.tool_call_id.len() + self.name.len();
        for c in &self.tool_calls {
            bytes += c.id.len() + c.name.len() + c.arguments.len() + 16;
        }
        bytes.div_ceil(4) + 4
    }
}

/// Tokens reported by the provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}
