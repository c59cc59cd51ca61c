//! What `wasiclaw run` counts and caps, under `wasiclaw-wamr`: token usage
//! read from the provider's responses into `usage.jsonl`, budgets refusing
//! the next model call, and the turn's time and memory limits. Mirrors the
//! native host's tests in host.rs.

use serde_json::Value;
use wasiclaw_tests::{MockServer, Script};

use super::Wamr;
use crate::harness::*;

fn usage_lines(ws: &Workspace) -> Vec<Value> {
    ws.read("usage.jsonl")
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("usage.jsonl line is JSON"))
        .collect()
}

#[test]
fn wamr_meters_each_model_call_as_the_native_host_does() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("plain").text("streamed"));
    let plain = Wamr::new(&ws)
        .openai(&server)
        .arg("--session")
        .arg("s1")
        .arg("--no-stream")
        .run("hi");
    plain.assert_success(&server);
    let streamed = Wamr::new(&ws).anthropic(&server).run("hi again");
    streamed.assert_success(&server);
    let usage = usage_lines(&ws);
    assert_eq!(usage.len(), 2, "{usage:?}");
    let (u, v) = (&usage[0], &usage[1]);
    assert_eq!(
        (&u["session"], &u["provider"]),
        (&"s1".into(), &"openai".into())
    );
    assert_eq!(
        (&v["session"], &v["provider"]),
        (&"default".into(), &"anthropic".into())
    );
    for u in &usage {
        assert!(u["input_tokens"].as_u64().unwrap_or(0) > 0, "{u}");
        assert!(u["output_tokens"].as_u64().unwrap_or(0) > 0, "{u}");
        assert!(u["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{u}");
    }
}

#[test]
fn wamr_spent_budget_refuses_the_next_turn() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("first").text("second"));
    let run = |extra: &[&str], message: &str| {
        extra
            .iter()
            .fold(Wamr::new(&ws).openai(&server), |w, a| w.arg(a))
            .arg("--no-stream")
            .run(message)
    };
    run(&["--session-budget", "5"], "one").assert_success(&server);
    let second = run(&["--session-budget", "5"], "two");
    assert_eq!(second.code, Some(1), "{second}");
    assert!(second.stderr.contains("budget"), "{second}");
    // Refused once, cleanly: not mistaken for a broken connection and retried.
    assert!(!second.stderr.contains("retrying"), "{second}");
    assert_eq!(
        server.chat_requests().len(),
        1,
        "the refused turn reached the provider"
    );
    // Another session has its own budget; a daily budget covers them all.
    let other = run(&["--session-budget", "5", "--session", "other"], "three");
    other.assert_success(&server);
    let daily = run(&["--daily-budget", "5", "--session", "third"], "four");
    assert_eq!(daily.code, Some(1), "{daily}");
    assert!(daily.stderr.contains("daily token budget"), "{daily}");
    assert_eq!(usage_lines(&ws).len(), 2);
}
