//! What `wasiclaw run` counts and caps, under `wasiclaw-wamr`: token usage
//! read from the provider's responses into `usage.jsonl`, budgets refusing
//! the next model call, and the turn's time and memory limits. Mirrors the
//! native host's tests in host.rs and limits.rs; the misbehaving guests are
//! core modules in `tests/fixtures/*-p1.wat`.

use std::sync::Arc;
use std::time::Duration;

use wasiclaw_tests::{MockServer, Script};

use super::exec;
use crate::harness::*;

#[test]
fn wamr_meters_each_model_call_as_the_native_host_does() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("plain").text("streamed"));
    let plain = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .arg("--session")
        .arg("s1")
        .arg("--no-stream")
        .run("hi");
    plain.assert_success(&server);
    let streamed = Agent::on(Runner::Wamr, &ws)
        .anthropic(&server)
        .run("hi again");
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
            .fold(Agent::on(Runner::Wamr, &ws).openai(&server), |w, a| {
                w.arg(a)
            })
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

/// `wasiclaw-wamr --module FIXTURE` with runner flags; no provider needed.
fn run_fixture(name: &str, flags: &[&str]) -> Output {
    let ws = Workspace::new();
    let mut args = vec![
        "--workspace".to_string(),
        ws.path().display().to_string(),
        "--module".to_string(),
        fixture(name).display().to_string(),
    ];
    args.extend(flags.iter().map(|s| s.to_string()));
    exec(wamr_bin(), &args, &[])
}

#[test]
fn wamr_stops_spinning_guest_code_at_the_time_limit() {
    let out = run_fixture("spin-p1", &["--timeout-secs", "1"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains("the turn exceeded the time limit of 1 s"),
        "{out}"
    );
}

#[test]
fn wamr_time_limit_ends_a_turn_waiting_on_a_stalled_provider() {
    let ws = Workspace::new();
    let server = MockServer::bind(0, Arc::new(Stall { trigger: "" })).expect("bind mock");
    let out = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .arg("--timeout-secs")
        .arg("2")
        .run("hi");
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("time limit of 2 s"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    // Released by the watchdog, not by the agent's own read timeout.
    assert!(out.elapsed < Duration::from_secs(15), "{out}");
}

#[test]
fn wamr_memory_grown_past_the_limit_is_refused_with_a_clear_error() {
    let out = run_fixture("grow-p1", &["--memory-limit-mib", "8"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("memory limit of 8 MiB"), "{out}");
    // A cap under the module's initial memory refuses it before it runs.
    let out = run_fixture("grow-p1", &["--memory-limit-mib", "0"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("memory limit of 0 MiB"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn wamr_memory_limit_ends_a_turn_whose_reply_does_not_fit() {
    let ws = Workspace::new();
    // 3 MB of reply: the agent's copies of it outgrow a 2 MiB cap (the
    // module starts with 128 KiB), not the default 64 MiB.
    let big = "x".repeat(3_000_000);
    let server = MockServer::start(Script::new().text(&big).text(&big));
    let capped = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .arg("--memory-limit-mib")
        .arg("2")
        .arg("--no-stream")
        .run("hi");
    assert_eq!(capped.code, Some(1), "{capped}");
    assert!(capped.stderr.contains("memory limit of 2 MiB"), "{capped}");
    assert!(capped.stdout.is_empty(), "{capped}");
    let roomy = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .arg("--no-stream")
        .run("hi");
    roomy.assert_success(&server);
    assert_eq!(roomy.reply().len(), big.len());
}
