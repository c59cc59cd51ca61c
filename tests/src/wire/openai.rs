//! OpenAI Chat Completions responses, byte-for-byte in the shapes the real
//! API sends (non-streaming body, SSE chunks, error bodies).

use serde_json::{json, Value};

use super::{pieces, IssuedCall, Usage, CREATED};

const ID: &str = "chatcmpl-mock";

fn tool_calls_json(calls: &[IssuedCall]) -> Value {
    calls
        .iter()
        .map(|c| {
            json!({"id": c.id, "type": "function",
                   "function": {"name": c.call.name, "arguments": c.call.arguments}})
        })
        .collect()
}

fn usage_json(u: Usage) -> Value {
    json!({"prompt_tokens": u.input, "completion_tokens": u.output, "total_tokens": u.input + u.output})
}

/// A complete `chat.completion` object.
pub fn body(model: &str, text: &str, calls: &[IssuedCall], usage: Usage) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = tool_calls_json(calls);
    }
    json!({
        "id": ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null,
                     "finish_reason": if calls.is_empty() { "stop" } else { "tool_calls" }}],
        "usage": usage_json(usage),
        "system_fingerprint": "fp_mock",
    })
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> String {
    let c = json!({
        "id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
    });
    format!("data: {c}\n\n")
}

/// The SSE events of a streamed answer: a role chunk, text fragments, each
/// tool call announced once (id, name) and its arguments in fragments keyed
/// by `index`, the finish chunk, the usage chunk when asked for, `[DONE]`.
pub fn events(
    model: &str,
    text: &str,
    calls: &[IssuedCall],
    usage: Usage,
    include_usage: bool,
) -> Vec<String> {
    let mut out = vec![chunk(
        model,
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    for p in pieces(text, 7) {
        out.push(chunk(model, json!({"content": p}), None));
    }
    for (i, c) in calls.iter().enumerate() {
        out.push(chunk(
            model,
            json!({"tool_calls": [{"index": i, "id": c.id, "type": "function",
                                   "function": {"name": c.call.name, "arguments": ""}}]}),
            None,
        ));
        for p in pieces(&c.call.arguments, 5) {
            out.push(chunk(
                model,
                json!({"tool_calls": [{"index": i, "function": {"arguments": p}}]}),
                None,
            ));
        }
    }
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    out.push(chunk(model, json!({}), Some(finish)));
    if include_usage {
        let c = json!({"id": ID, "object": "chat.completion.chunk", "created": CREATED,
                       "model": model, "choices": [], "usage": usage_json(usage)});
        out.push(format!("data: {c}\n\n"));
    }
    out.push("data: [DONE]\n\n".to_string());
    out
}

/// The error body the API sends with a non-2xx status.
pub fn error(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        400 => ("invalid_request_error", Value::Null),
        401 => ("invalid_request_error", json!("invalid_api_key")),
        404 => ("invalid_request_error", json!("unknown_url")),
        429 => ("requests", json!("rate_limit_exceeded")),
        _ => ("server_error", Value::Null),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// A truncated stream stops after the role chunk and one text fragment.
pub fn truncated_prefix(model: &str) -> Vec<String> {
    vec![
        chunk(model, json!({"role": "assistant", "content": ""}), None),
        chunk(model, json!({"content": "This answer is cut sho"}), None),
    ]
}
