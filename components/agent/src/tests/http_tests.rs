use std::time::Duration;

use super::{exchange, replies, Exchange, Scripted};
use crate::error::AgentError;
use crate::http::{split_url, HttpError, RetryPolicy, UrlParts};
use crate::provider::ProviderKind;
use crate::sse::{Decoder, Event};

fn run(replies: Vec<Result<Scripted, HttpError>>) -> Exchange {
    exchange(ProviderKind::OpenAi, false, replies)
}

fn ok() -> Result<Scripted, HttpError> {
    Ok(Scripted::json(200, &replies::openai_text("fine")))
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
    let x = run(vec![
        Ok(Scripted::json(503, "{}")),
        Ok(Scripted::json(429, "{}").header("Retry-After", "2")),
        ok(),
    ]);
    assert_eq!(x.result.unwrap().text, "fine");
    assert_eq!(x.http.requests.len(), 3);
    assert_eq!(
        x.sleeps,
        vec![Duration::from_millis(500), Duration::from_secs(2)]
    );
    assert_eq!(x.log.len(), 2);
    assert!(
        x.log[0].contains("HTTP 503") && x.log[0].contains("retry 1 of 3"),
        "{}",
        x.log[0]
    );
}

#[test]
fn connection_errors_are_retried_at_most_three_times() {
    let refused = || Err(HttpError::Connect("refused".into()));
    let x = run(vec![refused(), refused(), refused(), refused(), ok()]);
    assert_eq!(x.http.requests.len(), 4, "one try plus three retries");
    assert_eq!(x.sleeps.len(), 3);
    match x.result {
        Err(AgentError::Http(m)) => {
            assert!(m.contains("refused") && m.contains("4 attempts"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let x = run(vec![Err(HttpError::Timeout("slow".into())), ok()]);
    assert_eq!((x.result.is_ok(), x.http.requests.len()), (true, 2));
    // A refusal by the host is not transient.
    let x = run(vec![Err(HttpError::Other("denied".into())), ok()]);
    assert!(matches!(x.result, Err(AgentError::Http(_))));
    assert_eq!(x.http.requests.len(), 1);
}

#[test]
fn non_retryable_status_is_final() {
    let x = run(vec![Ok(Scripted::json(400, "{}")), ok()]);
    assert!(matches!(x.result, Err(AgentError::Provider(_))));
    assert_eq!(x.http.requests.len(), 1);
    assert!(x.sleeps.is_empty());
}

#[test]
fn persistent_5xx_becomes_http_error() {
    let x = run(vec![
        Ok(Scripted::json(500, "{}")),
        Ok(Scripted::json(502, "{}")),
        Ok(Scripted::json(503, "{}")),
        Ok(Scripted::json(500, r#"{"error":{"message":"down"}}"#)),
        ok(),
    ]);
    match x.result {
        Err(AgentError::Http(m)) => assert!(m.contains("HTTP 500") && m.contains("down"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(x.http.requests.len(), 4);
    assert_eq!(
        x.http.requests[0].timeouts.first_byte,
        Duration::from_secs(42)
    );
    assert_eq!(x.http.requests[0].timeouts.connect, Duration::from_secs(30));
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
