use wasiclaw_json::{parse, Value};

use super::{replies, FakeClock, FakeHttp, FakeTools, Scripted, TempDir};
use crate::agent::TurnOutput;
use crate::app::Platform;
use crate::edge::{self, BadRequest, Delta, Meta, Route, StreamSink};
use crate::error::AgentError;
use crate::message::Usage;

fn req(body: &str, header: Option<&str>) -> Result<edge::ChatRequest, BadRequest> {
    edge::parse_request(body.as_bytes(), header)
}

#[test]
fn routes_by_method_and_path() {
    assert_eq!(edge::route("GET", "/healthz"), Route::Health);
    assert_eq!(edge::route("POST", "/v1/chat/completions"), Route::Chat);
    assert_eq!(
        edge::route("POST", "/v1/chat/completions/?x=1"),
        Route::Chat
    );
    assert_eq!(
        edge::route("GET", "/v1/chat/completions"),
        Route::MethodNotAllowed
    );
    assert_eq!(edge::route("POST", "/v1/completions"), Route::NotFound);
    assert_eq!(edge::route("GET", "/"), Route::NotFound);
}

#[test]
fn takes_the_last_user_message_and_the_session() {
    let r = req(
        r#"{"model":"m","user":"alice","stream":true,"messages":[
            {"role":"system","content":"s"},{"role":"user","content":"first"},
            {"role":"assistant","content":"a"},{"role":"user","content":" second "}]}"#,
        None,
    )
    .unwrap();
    assert_eq!(r.message, "second");
    assert_eq!(r.session, "alice");
    assert!(r.stream);
    let r = req(
        r#"{"messages":[{"role":"user","content":"x"}],"user":"a"}"#,
        Some("bob"),
    )
    .unwrap();
    assert_eq!((r.session.as_str(), r.stream), ("bob", false));
    let r = req(r#"{"messages":[{"role":"user","content":"x"}]}"#, None).unwrap();
    assert_eq!(r.session, "default");
}

#[test]
fn content_parts_are_joined() {
    let r = req(
        r#"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}},{"type":"text","text":"b"}]}]}"#,
        None,
    )
    .unwrap();
    assert_eq!(r.message, "ab");
}

#[test]
fn bad_requests_are_400_with_a_reason() {
    for (body, why) in [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        (r#"{"model":"m"}"#, "'messages'"),
        (
            r#"{"messages":[{"role":"system","content":"x"}]}"#,
            "no user message",
        ),
        (r#"{"messages":[{"role":"user","content":"  "}]}"#, "empty"),
        (r#"{"messages":[{"role":"user","content":5}]}"#, "no text"),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
            "'stream'",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"user":"../etc"}"#,
            "session name",
        ),
    ] {
        let e = req(body, None).unwrap_err();
        assert_eq!(e.status, 400, "{body}");
        assert!(e.message.contains(why), "{body}: {}", e.message);
    }
    assert_eq!(req("x", Some("a/b")).unwrap_err().status, 400);
    let big = vec![b' '; edge::MAX_BODY + 1];
    assert_eq!(edge::parse_request(&big, None).unwrap_err().status, 413);
    assert_eq!(
        edge::parse_request(&[0xff, 0xfe], None).unwrap_err().status,
        400
    );
}

#[test]
fn error_body_is_openai_shaped() {
    let v = parse(&edge::invalid_request("bad \"x\"")).unwrap();
    let e = v.get("error").unwrap();
    assert_eq!(e.get("message").and_then(Value::as_str), Some("bad \"x\""));
    assert_eq!(
        e.get("type").and_then(Value::as_str),
        Some("invalid_request_error")
    );
    assert_eq!(edge::error_status(&AgentError::Http("x".into())).0, 502);
    assert_eq!(edge::error_status(&AgentError::Provider("x".into())).0, 502);
    assert_eq!(edge::error_status(&AgentError::Config("x".into())).0, 500);
}

fn output(text: &str) -> TurnOutput {
    TurnOutput {
        text: text.into(),
        usage: Usage {
            input_tokens: 7,
            output_tokens: 3,
        },
        tool_calls: 0,
    }
}

const META: Meta = Meta {
    id: "chatcmpl-1",
    created: 42,
    model: "gpt-x",
};

#[test]
fn completion_has_the_openai_schema() {
    let v = parse(&edge::completion_body(&META, &output("hi \"there\"\n"))).unwrap();
    assert_eq!(v.get("id").and_then(Value::as_str), Some("chatcmpl-1"));
    assert_eq!(
        v.get("object").and_then(Value::as_str),
        Some("chat.completion")
    );
    assert_eq!(v.get("created").and_then(Value::as_u64), Some(42));
    assert_eq!(v.get("model").and_then(Value::as_str), Some("gpt-x"));
    let c = &v.get("choices").and_then(Value::as_array).unwrap()[0];
    let m = c.get("message").unwrap();
    assert_eq!(m.get("role").and_then(Value::as_str), Some("assistant"));
    assert_eq!(
        m.get("content").and_then(Value::as_str),
        Some("hi \"there\"\n")
    );
    assert_eq!(c.get("finish_reason").and_then(Value::as_str), Some("stop"));
    let u = v.get("usage").unwrap();
    assert_eq!(u.get("prompt_tokens").and_then(Value::as_u64), Some(7));
    assert_eq!(u.get("completion_tokens").and_then(Value::as_u64), Some(3));
    assert_eq!(u.get("total_tokens").and_then(Value::as_u64), Some(10));
}

fn event_json(ev: &str) -> Value {
    let body = ev
        .strip_prefix("data: ")
        .unwrap()
        .strip_suffix("\n\n")
        .unwrap();
    parse(body).unwrap()
}

#[test]
fn chunks_are_sse_events() {
    let first = event_json(&edge::chunk_event(&META, Delta::Role));
    assert_eq!(
        first.get("object").and_then(Value::as_str),
        Some("chat.completion.chunk")
    );
    let d = first.get("choices").and_then(Value::as_array).unwrap()[0]
        .get("delta")
        .unwrap();
    assert_eq!(d.get("role").and_then(Value::as_str), Some("assistant"));
    let stop = event_json(&edge::chunk_event(&META, Delta::Stop(&output("x"))));
    let c = &stop.get("choices").and_then(Value::as_array).unwrap()[0];
    assert_eq!(c.get("finish_reason").and_then(Value::as_str), Some("stop"));
    assert_eq!(
        stop.get("usage")
            .and_then(|u| u.get("total_tokens"))
            .and_then(Value::as_u64),
        Some(10)
    );
}

#[test]
fn edge_turn_streams_deltas_and_keeps_the_session() {
    let ws = TempDir::new();
    let mut http = FakeHttp::new(vec![
        Ok(Scripted::sse(&replies::openai_sse_text("hello edge"), 3)),
        Ok(Scripted::sse(&replies::openai_sse_text("again"), 5)),
    ]);
    let (mut clock, mut tools, mut files) =
        (FakeClock::default(), FakeTools::default(), ws.files());
    let env = |k: &str| (k == "OPENAI_BASE_URL").then(|| "http://127.0.0.1:9/v1".to_string());
    let mut p = Platform {
        http: &mut http,
        clock: &mut clock,
        tools: &mut tools,
        files: &mut files,
        kv: None,
        workspace: Ok("/w"),
        env: &env,
    };
    let r = req(
        r#"{"messages":[{"role":"user","content":"one"}],"user":"s1"}"#,
        None,
    )
    .unwrap();
    let mut events = Vec::new();
    let mut send = |e: &str| events.push(e.to_string());
    let mut sink = StreamSink::new(&META, &mut send);
    let out = edge::turn(&mut p, &mut |_| {}, &r, &mut sink).unwrap();
    assert_eq!(out.text, "hello edge");
    let streamed: String = events
        .iter()
        .map(|e| {
            let v = event_json(e);
            let d = v.get("choices").and_then(Value::as_array).unwrap()[0]
                .get("delta")
                .unwrap();
            d.get("content")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(streamed, "hello edge");
    assert!(events.len() > 1, "deltas arrive as they stream");
    let r = req(
        r#"{"messages":[{"role":"user","content":"two"}],"user":"s1"}"#,
        None,
    )
    .unwrap();
    edge::turn(&mut p, &mut |_| {}, &r, &mut crate::agent::NoSink).unwrap();
    assert_eq!(
        edge::model_name(&mut p).unwrap(),
        crate::config::DEFAULT_OPENAI_MODEL
    );
    let second = &http.requests[1].body;
    assert!(second.contains("one") && second.contains("hello edge") && second.contains("two"));
}
