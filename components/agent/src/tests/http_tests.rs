use std::time::Duration;

use super::{replies, FakeClock, FakeHttp, Scripted};
use crate::error::AgentError;
use crate::http::{self, split_url, HttpError, Request, RetryPolicy, Timeouts, UrlParts};
use crate::message::Message;
use crate::provider::{self, ChatRequest, Endpoint, ProviderKind, Transport};
use crate::sse::{Decoder, Event};

fn req() -> Request {
    Request {
        url: "http://127.0.0.1:9/x".into(),
        headers: vec![],
        body: b"{}".to_vec(),
    }
}

fn run(
    replies: Vec<Result<Scripted, HttpError>>,
) -> (Result<u16, AgentError>, FakeClock, Vec<String>, usize) {
    let mut http = FakeHttp::new(replies);
    let mut clock = FakeClock::default();
    let mut log = Vec::new();
    let r = http::send_with_retry(
        &mut http,
        &mut clock,
        &RetryPolicy::default(),
        &req(),
        Timeouts::from_secs(60),
        &mut |l| log.push(l.to_string()),
    )
    .map(|r| r.status);
    (r, clock, log, http.requests.len())
}

#[test]
fn backoff_doubles_and_is_capped() {
    let p = RetryPolicy::default();
    assert_eq!(p.delay(0, None), Duration::from_millis(500));
    assert_eq!(p.delay(1, None), Duration::from_millis(1000));
    assert_eq!(p.delay(2, None), Duration::from_millis(2000));
    assert_eq!(p.delay(10, None), Duration::from_secs(30));
    assert_eq!(p.delay(0, Some(" 7 ")), Duration::from_secs(7));
    assert_eq!(p.delay(0, Some("0")), Duration::ZERO);
    assert_eq!(p.delay(0, Some("3600")), Duration::from_secs(30));
    // An HTTP-date is not parsed; backoff applies.
    assert_eq!(
        p.delay(1, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
        Duration::from_millis(1000)
    );
}

#[test]
fn retries_5xx_and_429_then_succeeds() {
    let (r, clock, log, n) = run(vec![
        Ok(Scripted::json(503, "{}")),
        Ok(Scripted::json(429, "{}").header("Retry-After", "2")),
        Ok(Scripted::json(200, "{}")),
    ]);
    assert_eq!(r, Ok(200));
    assert_eq!(n, 3);
    assert_eq!(
        clock.sleeps,
        vec![Duration::from_millis(500), Duration::from_secs(2)]
    );
    assert_eq!(log.len(), 2);
    assert!(
        log[0].contains("HTTP 503") && log[0].contains("retry 1 of 3"),
        "{}",
        log[0]
    );
}

#[test]
fn connection_errors_are_retried_at_most_three_times() {
    let refused = || Err(HttpError::Connect("refused".into()));
    let (r, clock, _, n) = run(vec![refused(), refused(), refused(), refused(), refused()]);
    assert_eq!(n, 4, "one try plus three retries");
    assert_eq!(clock.sleeps.len(), 3);
    match r {
        Err(AgentError::Http(m)) => {
            assert!(m.contains("refused") && m.contains("4 attempts"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let (r, _, _, n) = run(vec![
        Err(HttpError::Timeout("slow".into())),
        Ok(Scripted::json(200, "{}")),
    ]);
    assert_eq!((r, n), (Ok(200), 2));
}

#[test]
fn non_retryable_status_is_returned_at_once() {
    let (r, clock, _, n) = run(vec![
        Ok(Scripted::json(400, "{}")),
        Ok(Scripted::json(200, "{}")),
    ]);
    assert_eq!((r, n), (Ok(400), 1));
    assert!(clock.sleeps.is_empty());
}

#[test]
fn persistent_5xx_becomes_http_error() {
    let mut http = FakeHttp::new(vec![
        Ok(Scripted::json(500, "{}")),
        Ok(Scripted::json(502, "{}")),
        Ok(Scripted::json(503, "{}")),
        Ok(Scripted::json(500, r#"{"error":{"message":"down"}}"#)),
        Ok(Scripted::json(200, &replies::openai_text("late"))),
    ]);
    let mut clock = FakeClock::default();
    let mut t = Transport {
        http: &mut http,
        clock: &mut clock,
        policy: RetryPolicy::default(),
        timeouts: Timeouts::from_secs(42),
    };
    let msgs = [Message::user("x")];
    let req = ChatRequest {
        model: "m",
        system: "",
        messages: &msgs,
        tools: &[],
        stream: false,
        max_tokens: 1,
    };
    let ep = Endpoint {
        kind: ProviderKind::OpenAi,
        base_url: "http://h/v1".into(),
        api_key: None,
    };
    match provider::complete(&mut t, &ep, &req, &mut |_| {}, &mut |_| {}) {
        Err(AgentError::Http(m)) => assert!(m.contains("HTTP 500") && m.contains("down"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(http.requests.len(), 4);
    assert_eq!(
        http.requests[0].timeouts.first_byte,
        Duration::from_secs(42)
    );
    assert_eq!(http.requests[0].timeouts.connect, Duration::from_secs(30));
}

#[test]
fn urls_split_for_wasi_http() {
    assert_eq!(
        split_url("https://api.openai.com/v1/chat/completions").unwrap(),
        UrlParts {
            https: true,
            authority: "api.openai.com",
            path_and_query: "/v1/chat/completions"
        }
    );
    assert_eq!(
        split_url("http://127.0.0.1:8080").unwrap(),
        UrlParts {
            https: false,
            authority: "127.0.0.1:8080",
            path_and_query: "/"
        }
    );
    for bad in [
        "ftp://x/",
        "api.openai.com/v1",
        "http:///v1",
        "http://user@host/",
        "http://a b/",
    ] {
        assert!(split_url(bad).is_err(), "{bad}");
    }
}

fn ev(event: &str, data: &str) -> Event {
    Event {
        event: event.into(),
        data: data.into(),
    }
}

#[test]
fn sse_decoder_handles_fields_comments_and_multiline_data() {
    let mut d = Decoder::new();
    let mut got = d
        .feed(b": hello\nevent: a\ndata: one\ndata:two\nid: 5\n\n")
        .unwrap();
    got.extend(
        d.feed(b"data: x\r\n\r\nevent: ignored-without-data\n\n")
            .unwrap(),
    );
    assert_eq!(got, vec![ev("a", "one\ntwo"), ev("", "x")]);
    assert_eq!(d.feed(b"data: tail").unwrap(), vec![]);
    assert_eq!(d.finish().unwrap(), Some(ev("", "tail")));
    assert_eq!(d.finish().unwrap(), None);
}
