//! Anthropic Messages responses in the shapes the real API sends: content
//! blocks, the named SSE event sequence, error bodies.

use serde_json::{json, Value};

use super::{pieces, IssuedCall, Usage};

const ID: &str = "msg_mock";

/// Anthropic sends tool input as an object. A scripted call whose arguments
/// are not a JSON object cannot be expressed in a non-streaming body, so it
/// is sent as a string and the client must treat it as invalid arguments.
fn input_value(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v) if v.is_object() => v,
        _ => json!(arguments),
    }
}

fn stop_reason(calls: &[IssuedCall]) -> &'static str {
    if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    }
}

/// A complete `message` object.
pub fn body(model: &str, text: &str, calls: &[IssuedCall], usage: Usage) -> Value {
    let mut content = Vec::new();
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for c in calls {
        content.push(json!({"type": "tool_use", "id": c.id, "name": c.call.name,
                            "input": input_value(&c.call.arguments)}));
    }
    json!({
        "id": ID, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop_reason(calls), "stop_sequence": null,
        "usage": {"input_tokens": usage.input, "output_tokens": usage.output},
    })
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn message_start(model: &str, usage: Usage) -> String {
    event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": ID, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": usage.input, "output_tokens": 1}}}),
    )
}

/// The streamed event sequence: `message_start`, a `ping`, per block
/// `content_block_start` / deltas (`text_delta`, `input_json_delta`) /
/// `content_block_stop`, then `message_delta` with usage and `message_stop`.
pub fn events(model: &str, text: &str, calls: &[IssuedCall], usage: Usage) -> Vec<String> {
    let mut out = vec![
        message_start(model, usage),
        event("ping", json!({"type": "ping"})),
    ];
    let mut index = 0;
    if !text.is_empty() {
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "text", "text": ""}}),
        ));
        for p in pieces(text, 7) {
            out.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "text_delta", "text": p}}),
            ));
        }
        out.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for c in calls {
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "tool_use", "id": c.id, "name": c.call.name, "input": {}}}),
        ));
        // The real API opens every tool input with an empty fragment.
        let mut frags = vec![""];
        frags.extend(pieces(&c.call.arguments, 5));
        for p in frags {
            out.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": p}}),
            ));
        }
        out.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    out.push(event(
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop_reason(calls), "stop_sequence": null},
               "usage": {"output_tokens": usage.output}}),
    ));
    out.push(event("message_stop", json!({"type": "message_stop"})));
    out
}

/// The error body the API sends with a non-2xx status.
pub fn error(status: u16, message: &str) -> Value {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// A truncated stream stops inside the first text block.
pub fn truncated_prefix(model: &str) -> Vec<String> {
    vec![
        message_start(
            model,
            Usage {
                input: 1,
                output: 1,
            },
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "text", "text": ""}}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": "This answer is cut sho"}}),
        ),
    ]
}
