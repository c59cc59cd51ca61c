//! The checks the real APIs make before they answer, so a client that sends a
//! request the provider would reject is rejected here too (and the test sees
//! why) instead of passing against a lenient mock.

use std::collections::HashSet;

use serde_json::Value;

use crate::conversation::Format;
use crate::http::header;

/// Why a request is refused: the HTTP status and a message for the test log.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub status: u16,
    pub message: String,
}

fn bad(message: impl Into<String>) -> Rejection {
    Rejection {
        status: 400,
        message: message.into(),
    }
}

fn unauthorized(message: &str) -> Rejection {
    Rejection {
        status: 401,
        message: message.into(),
    }
}

/// Checks authentication headers and the body of a chat request.
pub fn chat(
    format: Format,
    headers: &[(String, String)],
    body: Option<&Value>,
) -> Result<(), Rejection> {
    match format {
        Format::OpenAi => {
            let auth = header(headers, "authorization").unwrap_or("");
            match auth.strip_prefix("Bearer ") {
                Some(key) if !key.trim().is_empty() => {}
                _ => {
                    return Err(unauthorized(
                        "missing or malformed `Authorization: Bearer` header",
                    ))
                }
            }
        }
        Format::Anthropic => {
            if header(headers, "x-api-key").is_none_or(|k| k.trim().is_empty()) {
                return Err(unauthorized("missing `x-api-key` header"));
            }
            if header(headers, "anthropic-version").is_none() {
                return Err(bad("missing `anthropic-version` header"));
            }
        }
    }
    let body = body.ok_or_else(|| bad("body is not JSON"))?;
    if !body.is_object() {
        return Err(bad("body is not a JSON object"));
    }
    match body.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => {}
        _ => return Err(bad("`model` must be a non-empty string")),
    }
    if body.get("stream").is_some_and(|s| !s.is_boolean()) {
        return Err(bad("`stream` must be a boolean"));
    }
    let messages = match body.get("messages").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => m,
        _ => return Err(bad("`messages` must be a non-empty array")),
    };
    match format {
        Format::OpenAi => openai(body, messages),
        Format::Anthropic => anthropic(body, messages),
    }
}

fn openai(body: &Value, messages: &[Value]) -> Result<(), Rejection> {
    if let Some(tools) = body.get("tools") {
        let tools = tools
            .as_array()
            .ok_or_else(|| bad("`tools` must be an array"))?;
        for (i, t) in tools.iter().enumerate() {
            let name = t.pointer("/function/name").and_then(Value::as_str);
            if t.get("type").and_then(Value::as_str) != Some("function") || name.is_none() {
                return Err(bad(format!(
                    "tools[{i}] must be {{type: function, function: {{name, ...}}}}"
                )));
            }
            if t.pointer("/function/parameters")
                .is_some_and(|p| !p.is_object())
            {
                return Err(bad(format!(
                    "tools[{i}].function.parameters must be an object"
                )));
            }
        }
    }
    // Every assistant tool call must be answered by `tool` messages right after it.
    let mut pending: HashSet<String> = HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "tool" && !pending.is_empty() {
            return Err(bad(format!(
                "messages[{i}]: an assistant message with `tool_calls` must be followed by tool \
                 messages responding to each `tool_call_id` (missing {pending:?})"
            )));
        }
        match role {
            "system" | "developer" | "user" => {
                if m.get("content").is_none_or(Value::is_null) {
                    return Err(bad(format!("messages[{i}].content is required")));
                }
            }
            "assistant" => {
                let calls = m.get("tool_calls").and_then(Value::as_array);
                let calls = calls.map(Vec::as_slice).unwrap_or(&[]);
                if calls.is_empty() && m.get("content").is_none_or(Value::is_null) {
                    return Err(bad(format!(
                        "messages[{i}]: assistant needs content or tool_calls"
                    )));
                }
                for c in calls {
                    let id = c.get("id").and_then(Value::as_str).unwrap_or("");
                    let args = c.pointer("/function/arguments").and_then(Value::as_str);
                    if id.is_empty()
                        || c.pointer("/function/name")
                            .and_then(Value::as_str)
                            .is_none()
                    {
                        return Err(bad(format!(
                            "messages[{i}]: tool call needs id and function.name"
                        )));
                    }
                    if args.is_none() {
                        return Err(bad(format!(
                            "messages[{i}]: function.arguments must be a string"
                        )));
                    }
                    pending.insert(id.to_string());
                }
            }
            "tool" => {
                let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
                if !pending.remove(id) {
                    return Err(bad(format!(
                        "messages[{i}]: tool message with tool_call_id {id:?} does not answer a \
                         preceding tool call"
                    )));
                }
                if m.get("content").is_none_or(Value::is_null) {
                    return Err(bad(format!("messages[{i}].content is required")));
                }
            }
            other => return Err(bad(format!("messages[{i}]: invalid role {other:?}"))),
        }
    }
    if !pending.is_empty() {
        return Err(bad(format!(
            "unanswered tool calls at the end: {pending:?}"
        )));
    }
    Ok(())
}

fn anthropic(body: &Value, messages: &[Value]) -> Result<(), Rejection> {
    match body.get("max_tokens").and_then(Value::as_u64) {
        Some(n) if n >= 1 => {}
        _ => return Err(bad("`max_tokens` must be a positive integer")),
    }
    if let Some(tools) = body.get("tools") {
        let tools = tools
            .as_array()
            .ok_or_else(|| bad("`tools` must be an array"))?;
        for (i, t) in tools.iter().enumerate() {
            if t.get("name").and_then(Value::as_str).is_none()
                || !t.get("input_schema").is_some_and(Value::is_object)
            {
                return Err(bad(format!(
                    "tools[{i}] needs `name` and an `input_schema` object"
                )));
            }
        }
    }
    if messages[0].get("role").and_then(Value::as_str) != Some("user") {
        return Err(bad("the first message must use the `user` role"));
    }
    // Tool uses of an assistant message must all be answered by tool_result
    // blocks in the very next (user) message, and only those.
    let mut pending: HashSet<String> = HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m
            .get("content")
            .ok_or_else(|| bad(format!("messages[{i}].content is required")))?;
        let blocks: &[Value] = match content {
            Value::String(_) => &[],
            Value::Array(b) if !b.is_empty() => b,
            _ => {
                return Err(bad(format!(
                    "messages[{i}].content must be a string or non-empty array"
                )))
            }
        };
        match role {
            "user" => {
                let mut answered = HashSet::new();
                for b in blocks {
                    if b.get("type").and_then(Value::as_str) == Some("tool_result") {
                        let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
                        if !pending.contains(id) {
                            return Err(bad(format!(
                                "messages[{i}]: unexpected `tool_use_id` {id:?} in `tool_result` \
                                 blocks: each tool_result must answer a tool_use of the previous message"
                            )));
                        }
                        answered.insert(id.to_string());
                    }
                }
                if answered != pending {
                    return Err(bad(format!(
                        "messages[{i}]: `tool_use` ids were found without `tool_result` blocks \
                         immediately after: {:?}",
                        pending.difference(&answered).collect::<Vec<_>>()
                    )));
                }
                pending.clear();
            }
            "assistant" => {
                if !pending.is_empty() {
                    return Err(bad(format!(
                        "messages[{i}]: tool_use ids {pending:?} not answered"
                    )));
                }
                for b in blocks {
                    if b.get("type").and_then(Value::as_str) == Some("tool_use") {
                        let id = b.get("id").and_then(Value::as_str).unwrap_or("");
                        if id.is_empty() || !b.get("input").is_some_and(Value::is_object) {
                            return Err(bad(format!(
                                "messages[{i}]: tool_use needs id and an input object"
                            )));
                        }
                        pending.insert(id.to_string());
                    }
                }
            }
            other => return Err(bad(format!("messages[{i}]: invalid role {other:?}"))),
        }
    }
    if !pending.is_empty() {
        return Err(bad(format!("tool_use ids {pending:?} have no tool_result")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn openai_rules() {
        let auth = h(&[("Authorization", "Bearer k")]);
        let ok = json!({"model": "m", "messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "a", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "a", "content": "r"}]});
        assert_eq!(chat(Format::OpenAi, &auth, Some(&ok)), Ok(()));
        assert_eq!(
            chat(Format::OpenAi, &[], Some(&ok)).unwrap_err().status,
            401
        );
        let unanswered = json!({"model": "m", "messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "a", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "user", "content": "again"}]});
        assert_eq!(
            chat(Format::OpenAi, &auth, Some(&unanswered))
                .unwrap_err()
                .status,
            400
        );
        let orphan = json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}]});
        assert!(chat(Format::OpenAi, &auth, Some(&orphan)).is_err());
        assert!(chat(Format::OpenAi, &auth, None).is_err());
    }

    #[test]
    fn anthropic_rules() {
        let hs = h(&[("x-api-key", "k"), ("anthropic-version", "2023-06-01")]);
        let ok = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}]}]});
        assert_eq!(chat(Format::Anthropic, &hs, Some(&ok)), Ok(()));
        let no_version = h(&[("x-api-key", "k")]);
        assert_eq!(
            chat(Format::Anthropic, &no_version, Some(&ok))
                .unwrap_err()
                .status,
            400
        );
        let no_max = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        assert!(chat(Format::Anthropic, &hs, Some(&no_max)).is_err());
        let missing_result = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
            {"role": "user", "content": "next"}]});
        assert!(chat(Format::Anthropic, &hs, Some(&missing_result)).is_err());
    }
}
