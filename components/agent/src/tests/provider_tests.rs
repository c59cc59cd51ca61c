use wasiclaw_json::{parse, Value};

use super::{exchange, replies, Exchange, FakeTools, Scripted};
use crate::error::AgentError;
use crate::message::{Message, ToolCall, Usage};
use crate::provider::{self, ChatRequest, Completion, Endpoint, ProviderKind};
use crate::tools::Tools;

fn history() -> Vec<Message> {
    let call = ToolCall {
        id: "c1".into(),
        name: "echo".into(),
        arguments: r#"{"text":"x"}"#.into(),
    };
    let call2 = ToolCall {
        id: "c2".into(),
        name: "deny".into(),
        arguments: "{}".into(),
    };
    vec![
        Message::user("hi"),
        Message::assistant("checking", vec![call.clone(), call2.clone()]),
        Message::tool_result(&call, "echo x".into(), false),
        Message::tool_result(&call2, "error: denied: no".into(), true),
        Message::assistant("", vec![]),
        Message::user("again"),
    ]
}

fn endpoint(kind: ProviderKind) -> Endpoint {
    Endpoint {
        kind,
        base_url: "http://127.0.0.1:9/v1/".into(),
        api_key: Some("sk-test".into()),
    }
}

fn build(kind: ProviderKind, stream: bool) -> (crate::http::Request, Value) {
    let specs = FakeTools::default().list();
    let msgs = history();
    let req = ChatRequest {
        model: "m1",
        system: "be brief",
        messages: &msgs,
        tools: &specs,
        stream,
        max_tokens: 123,
    };
    let r = endpoint(kind).build(&req);
    let v = parse(std::str::from_utf8(&r.body).unwrap()).unwrap();
    (r, v)
}

fn header<'a>(r: &'a crate::http::Request, k: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

#[test]
fn openai_request_json_with_tools() {
    let (r, v) = build(ProviderKind::OpenAi, true);
    assert_eq!(r.url, "http://127.0.0.1:9/v1/chat/completions");
    assert_eq!(header(&r, "authorization"), Some("Bearer sk-test"));
    assert_eq!(
        header(&r, "content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(v.get("model").unwrap().as_str(), Some("m1"));
    assert_eq!(v.get("stream").unwrap().as_bool(), Some(true));
    assert_eq!(
        v.get("stream_options").unwrap().to_json(),
        r#"{"include_usage":true}"#
    );
    let msgs = v.get("messages").unwrap().as_array().unwrap();
    assert_eq!(
        msgs[0].to_json(),
        r#"{"role":"system","content":"be brief"}"#
    );
    assert_eq!(msgs[1].to_json(), r#"{"role":"user","content":"hi"}"#);
    assert_eq!(
        msgs[2].to_json(),
        r#"{"role":"assistant","content":"checking","tool_calls":[{"id":"c1","type":"function","function":{"name":"echo","arguments":"{\"text\":\"x\"}"}},{"id":"c2","type":"function","function":{"name":"deny","arguments":"{}"}}]}"#
    );
    assert_eq!(
        msgs[3].to_json(),
        r#"{"role":"tool","tool_call_id":"c1","content":"echo x"}"#
    );
    assert_eq!(msgs[4].get("tool_call_id").unwrap().as_str(), Some("c2"));
    assert_eq!(msgs.len(), 7);
    let tools = v.get("tools").unwrap().as_array().unwrap();
    assert_eq!(
        tools[0].to_json(),
        r#"{"type":"function","function":{"name":"echo","description":"Echo the arguments","parameters":{"type":"object","properties":{"text":{"type":"string"}}}}}"#
    );
    // Unparsable schema text still yields a valid schema.
    assert_eq!(
        tools[1]
            .get("function")
            .unwrap()
            .get("parameters")
            .unwrap()
            .to_json(),
        r#"{"type":"object"}"#
    );
    let (_, v) = build(ProviderKind::OpenAi, false);
    assert!(v.get("stream").is_none() && v.get("stream_options").is_none());
}

#[test]
fn anthropic_request_json_with_tools() {
    let (r, v) = build(ProviderKind::Anthropic, true);
    assert_eq!(r.url, "http://127.0.0.1:9/v1/v1/messages");
    assert_eq!(header(&r, "x-api-key"), Some("sk-test"));
    assert_eq!(header(&r, "anthropic-version"), Some("2023-06-01"));
    assert!(header(&r, "authorization").is_none());
    assert_eq!(v.get("max_tokens").unwrap().as_u64(), Some(123));
    assert_eq!(v.get("system").unwrap().as_str(), Some("be brief"));
    assert_eq!(v.get("stream").unwrap().as_bool(), Some(true));
    let msgs = v.get("messages").unwrap().as_array().unwrap();
    // user, assistant(text + 2 tool_use), user(2 tool_result + merged "again")
    assert_eq!(msgs.len(), 3);
    assert_eq!(
        msgs[1].to_json(),
        r#"{"role":"assistant","content":[{"type":"text","text":"checking"},{"type":"tool_use","id":"c1","name":"echo","input":{"text":"x"}},{"type":"tool_use","id":"c2","name":"deny","input":{}}]}"#
    );
    assert_eq!(
        msgs[2].to_json(),
        r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"c1","content":"echo x"},{"type":"tool_result","tool_use_id":"c2","content":"error: denied: no","is_error":true},{"type":"text","text":"again"}]}"#
    );
    let tools = v.get("tools").unwrap().as_array().unwrap();
    assert_eq!(
        tools[0].to_json(),
        r#"{"name":"echo","description":"Echo the arguments","input_schema":{"type":"object","properties":{"text":{"type":"string"}}}}"#
    );
}

#[test]
fn no_key_sends_no_auth_header() {
    let mut e = endpoint(ProviderKind::OpenAi);
    e.api_key = None;
    let msgs = [Message::user("x")];
    let req = ChatRequest {
        model: "m",
        system: "",
        messages: &msgs,
        tools: &[],
        stream: false,
        max_tokens: 1,
    };
    let r = e.build(&req);
    assert!(header(&r, "authorization").is_none());
    let v = parse(std::str::from_utf8(&r.body).unwrap()).unwrap();
    assert!(v.get("tools").is_none(), "no empty tools array");
    assert_eq!(v.get("messages").unwrap().as_array().unwrap().len(), 1);
}

#[test]
fn openai_parse_non_stream() {
    let c = endpoint(ProviderKind::OpenAi)
        .parse_reply(&replies::openai_calls(&[("id1", "echo", r#"{"a":1}"#)]))
        .unwrap();
    assert_eq!(c.text, "");
    assert_eq!(
        c.tool_calls,
        vec![ToolCall {
            id: "id1".into(),
            name: "echo".into(),
            arguments: r#"{"a":1}"#.into()
        }]
    );
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 20,
            output_tokens: 3
        }
    );
    let c = provider::openai::parse_reply(&replies::openai_text("hello")).unwrap();
    assert_eq!((c.text.as_str(), c.usage.output_tokens), ("hello", 7));
}

#[test]
fn anthropic_parse_non_stream() {
    let body = r#"{"id":"m","type":"message","role":"assistant","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"tu1","name":"echo","input":{"text":"a"}}],"stop_reason":"tool_use","usage":{"input_tokens":12,"output_tokens":9}}"#;
    let c = provider::anthropic::parse_reply(body).unwrap();
    assert_eq!(c.text, "Let me look.");
    assert_eq!(c.tool_calls[0].id, "tu1");
    assert_eq!(c.tool_calls[0].arguments, r#"{"text":"a"}"#);
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 12,
            output_tokens: 9
        }
    );
}

#[test]
fn malformed_non_stream_replies_are_errors() {
    for body in [
        "",
        "not json",
        "{}",
        r#"{"choices":[]}"#,
        r#"{"choices":[{"message":{"content":5}}]}"#,
        r#"{"choices":[{"message":{"tool_calls":[{"function":{}}]}}]}"#,
    ] {
        assert!(provider::openai::parse_reply(body).is_err(), "{body}");
    }
    let e = provider::openai::parse_reply(r#"{"error":{"message":"quota"}}"#).unwrap_err();
    assert!(e.contains("quota"), "{e}");
    for body in [
        "[]",
        r#"{"content":"x"}"#,
        r#"{"content":[{"type":"tool_use","name":"x"}]}"#,
    ] {
        assert!(provider::anthropic::parse_reply(body).is_err(), "{body}");
    }
    let e = provider::anthropic::parse_reply(
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    )
    .unwrap_err();
    assert!(e.contains("Overloaded"), "{e}");
}

const OPENAI_STREAM: &str = concat!(
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Héllo\"}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" wörld\"}}]}\n\n",
    ": keep-alive comment\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"echo\",\"arguments\":\"\"}}]}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"te\"}}]}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":\"deny\",\"arguments\":\"{}\"}}]}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"xt\\\":\\\"hi\\\"}\"}}]}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":17}}\n\n",
    "data: [DONE]\n\n",
);

const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":40,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Héllo\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" wörld\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu_1\",\"name\":\"echo\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"te\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"xt\\\":\\\"hi\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu_2\",\"name\":\"deny\",\"input\":{}}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":17}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

/// Streams `body` through the full exchange, split into `split`-byte chunks.
fn stream(kind: ProviderKind, body: &str, split: usize) -> Exchange {
    exchange(kind, true, vec![Ok(Scripted::sse(body, split))])
}

#[test]
fn streams_parse_identically_however_they_are_split() {
    for (kind, body) in [
        (ProviderKind::OpenAi, OPENAI_STREAM),
        (ProviderKind::Anthropic, ANTHROPIC_STREAM),
    ] {
        for split in [1, 2, 3, 7, 64, 100_000] {
            let x = stream(kind, body, split);
            let c = x
                .result
                .unwrap_or_else(|e| panic!("{kind:?} split {split}: {e}"));
            assert_eq!(c.text, "Héllo wörld");
            assert_eq!(
                x.sink.shown(),
                "Héllo wörld",
                "text is streamed as it arrives"
            );
            assert_eq!(c.tool_calls.len(), 2);
            assert_eq!(c.tool_calls[0].name, "echo");
            assert_eq!(c.tool_calls[0].arguments, r#"{"text":"hi"}"#);
            assert_eq!(c.tool_calls[1].name, "deny");
            assert_eq!(c.tool_calls[1].arguments, "{}");
            assert_eq!(c.usage.output_tokens, 17);
            let input = if kind == ProviderKind::OpenAi { 31 } else { 40 };
            assert_eq!(c.usage.input_tokens, input);
        }
    }
}

#[test]
fn crlf_line_endings_are_accepted() {
    let body = replies::openai_sse_text("a b").replace('\n', "\r\n");
    assert_eq!(
        stream(ProviderKind::OpenAi, &body, 5).result.unwrap().text,
        "a b"
    );
}

fn provider_error(r: Result<Completion, AgentError>) -> String {
    match r {
        Err(AgentError::Provider(m)) => m,
        other => panic!("expected a provider error, got {other:?}"),
    }
}

/// The stream ends (cleanly or by a reset) after some text but before its
/// end marker: the request is retried, the partial text discarded.
#[test]
fn truncated_streams_are_retried_and_their_text_discarded() {
    for (kind, body, marker) in [
        (ProviderKind::OpenAi, OPENAI_STREAM, "data: [DONE]"),
        (
            ProviderKind::Anthropic,
            ANTHROPIC_STREAM,
            "event: message_stop",
        ),
    ] {
        let cut = &body[..body.find(marker).unwrap()];
        for first in [Scripted::sse(cut, 9), Scripted::sse(cut, 9).broken()] {
            let x = exchange(kind, true, vec![Ok(first), Ok(Scripted::sse(body, 9))]);
            let c = x.result.unwrap();
            assert_eq!(c.text, "Héllo wörld");
            assert_eq!(x.sink.shown(), "Héllo wörld");
            assert!(x.sink.events.contains(&"discard".to_string()));
            assert_eq!(x.http.requests.len(), 2);
            assert_eq!(x.sleeps.len(), 1);
            assert!(
                x.log[0].contains("truncated") || x.log[0].contains("broke off"),
                "{}",
                x.log[0]
            );
        }
    }
}

/// A body the host cut at its size limit would be cut at the same byte on
/// every retry: the turn fails at once instead of paying for three more.
#[test]
fn a_body_over_the_host_limit_is_not_retried() {
    let limit = || {
        crate::http::HttpError::Other(
            "the response is larger than the host allows (300 bytes)".into(),
        )
    };
    let cut = &OPENAI_STREAM[..40];
    for (stream, first) in [
        (true, Scripted::sse(cut, 9).cut_with(limit())),
        (false, Scripted::json(200, &cut[..20]).cut_with(limit())),
    ] {
        let x = exchange(
            ProviderKind::OpenAi,
            stream,
            vec![Ok(first), Ok(Scripted::sse(OPENAI_STREAM, 9))],
        );
        let e = x.result.unwrap_err().to_string();
        assert!(e.contains("larger than the host allows"), "{e}");
        assert_eq!(x.http.requests.len(), 1, "{e}");
        assert!(x.sleeps.is_empty());
    }
}

/// A reply over the size limit fails the turn at once, streamed or not:
/// the same reply would come again, so it is not asked for again.
#[test]
fn a_reply_over_the_size_limit_fails_without_a_retry() {
    for (kind, stream, body) in [
        (ProviderKind::OpenAi, true, OPENAI_STREAM.to_string()),
        (ProviderKind::Anthropic, true, ANTHROPIC_STREAM.to_string()),
        (ProviderKind::OpenAi, false, replies::openai_text("fine")),
    ] {
        let reply = || {
            if stream {
                Scripted::sse(&body, 7)
            } else {
                Scripted::json(200, &body)
            }
        };
        // Exactly at the limit is fine; one byte more is not.
        let x = super::exchange_limited(kind, stream, vec![Ok(reply())], body.len());
        assert!(x.result.is_ok(), "{kind:?} {stream}");
        let limit = body.len() - 1;
        let x = super::exchange_limited(kind, stream, vec![Ok(reply()), Ok(reply())], limit);
        let e = x.result.unwrap_err().to_string();
        let want = format!("the reply is larger than {limit} bytes");
        assert!(e.starts_with("provider: ") && e.contains(&want), "{e}");
        assert_eq!(x.http.requests.len(), 1, "{e}");
        assert!(x.sleeps.is_empty(), "{e}");
        // What was streamed before the limit is taken back.
        assert_eq!(x.sink.shown(), "", "{e}");
    }
}

#[test]
fn persistent_truncation_gives_up_with_an_http_error() {
    let cut = &OPENAI_STREAM[..OPENAI_STREAM.find("data: [DONE]").unwrap()];
    let x = exchange(
        ProviderKind::OpenAi,
        true,
        (0..6).map(|_| Ok(Scripted::sse(cut, 50))).collect(),
    );
    match x.result {
        Err(AgentError::Http(m)) => {
            assert!(m.contains("truncated") && m.contains("4 attempts"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(x.http.requests.len(), 4);
    assert_eq!(x.sink.shown(), "");
}

#[test]
fn cut_non_stream_bodies_are_retried() {
    let full = replies::openai_text("whole");
    let half = &full[..full.len() / 2];
    let x = exchange(
        ProviderKind::OpenAi,
        false,
        vec![
            Ok(Scripted::json(200, half)),
            Ok(Scripted::json(200, &full).broken()),
            Ok(Scripted::json(200, &full)),
        ],
    );
    assert_eq!(x.result.unwrap().text, "whole");
    assert_eq!(x.http.requests.len(), 3);
    assert!(
        !x.sink.events.iter().any(|e| e.starts_with("text:")),
        "non-streamed text is the loop's to show"
    );
}

#[test]
fn garbage_is_not_retried() {
    for (kind, stream, body) in [
        (ProviderKind::OpenAi, true, "data: {not json\n\n"),
        (ProviderKind::OpenAi, true, "data: [DONE]\n\ndata: {\"choices\":[]}\n\n"),
        (ProviderKind::OpenAi, true, "data: {\"error\":{\"message\":\"boom\"}}\n\n"),
        (ProviderKind::Anthropic, true, "event: error\ndata: {\"type\":\"error\",\"error\":{\"message\":\"Overloaded\"}}\n\n"),
        (ProviderKind::Anthropic, true, "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n"),
        (ProviderKind::OpenAi, false, "{\"id\": \"broken\", \"choices\": [{\"message\": <html>"),
        (ProviderKind::OpenAi, false, "{\"choices\": []}"),
    ] {
        let reply = if stream { Scripted::sse(body, 4) } else { Scripted::json(200, body) };
        let x = exchange(kind, stream, vec![Ok(reply.clone()), Ok(reply)]);
        let m = provider_error(x.result);
        assert!(m.starts_with("malformed"), "{m}");
        assert_eq!(x.http.requests.len(), 1, "{body}");
    }
    // Cut in the middle of an event's JSON, then a clean end: garbage too.
    let cut = OPENAI_STREAM.find(" wörld").unwrap();
    let m = provider_error(stream(ProviderKind::OpenAi, &OPENAI_STREAM[..cut], 9).result);
    assert!(m.contains("malformed stream"), "{m}");
    let mut d = crate::sse::Decoder::new();
    assert!(d.feed(b"data: \xff\xfe\n\n").is_err());
}

#[test]
fn json_answer_to_a_stream_request_is_accepted() {
    let x = exchange(
        ProviderKind::OpenAi,
        true,
        vec![Ok(Scripted::json(200, &replies::openai_text("plain")))],
    );
    assert_eq!(x.result.unwrap().text, "plain");
    assert_eq!(x.sink.shown(), "plain");
}

#[test]
fn error_status_becomes_provider_error_with_message() {
    let x = exchange(
        ProviderKind::OpenAi,
        false,
        vec![Ok(Scripted::json(
            401,
            r#"{"error":{"message":"Incorrect API key"}}"#,
        ))],
    );
    let m = provider_error(x.result);
    assert!(
        m.contains("HTTP 401") && m.contains("Incorrect API key"),
        "{m}"
    );
    assert!(x.sleeps.is_empty(), "4xx is not retried");
}
