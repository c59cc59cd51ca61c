//! The native host's limits on guests that misbehave: guest code spinning
//! with no host call (only epoch interruption can stop it), memory grown
//! mid-run, and, under `wasiclaw serve`, a turn that breaks a limit ending
//! with a clear error while the server goes on serving the next request.
//! The misbehaving guests are tiny components in `tests/fixtures/*.wat`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::json;
use wasiclaw_tests::{MockServer, Script};

use crate::harness::*;
use crate::serve::server::{Host, Serve};
use crate::serve::{assert_error_shape, content, user};

/// `wasiclaw run` of `module` (no provider is needed: these guests make no
/// request); returns the exit code and stderr.
fn run_module(module: &Path, args: &[&str]) -> (Option<i32>, String) {
    let ws = Workspace::new();
    let mut cmd = Command::new(wasiclaw_bin());
    cmd.arg("--module")
        .arg(module)
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["run", "--workspace"])
        .arg(ws.path())
        .args(args)
        .args(["-m", "hi"]);
    with_only_env(&mut cmd, &[]);
    let out = run_command(cmd);
    (out.code, out.stderr)
}

#[test]
fn spinning_guest_code_is_stopped_at_the_time_limit() {
    let (code, stderr) = run_module(&fixture("spin-command"), &["--timeout-secs", "1"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("time limit of 1 s"), "{stderr}");
}

#[test]
fn memory_grown_mid_run_is_refused_with_a_clear_error() {
    let (code, stderr) = run_module(&fixture("grow-command"), &["--memory-limit-mib", "8"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("memory limit of 8 MiB"), "{stderr}");
}

#[test]
fn serve_ends_a_spinning_handler_at_the_time_limit_and_lives_on() {
    let ws = Workspace::new();
    let dead = wasiclaw_tests::dead_base_url();
    let mut s = Serve::launch(
        Host::Wasiclaw,
        &fixture("spin-proxy"),
        &ws,
        &dead,
        &["--timeout-secs", "1"],
    );
    for _ in 0..2 {
        let r = s.request("GET", "/healthz", &[], "");
        assert_error_shape(&r, 500, "host_error");
        assert!(r.body.contains("time limit of 1 s"), "{}", r.body);
    }
    assert!(s.alive(), "{}", s.log());
}

#[test]
fn serve_keeps_serving_after_a_turn_over_the_time_limit() {
    let ws = Workspace::new();
    let server = MockServer::bind(0, Arc::new(Stall { trigger: "stall" })).expect("bind mock");
    let mut s = Serve::start_at(
        Host::Wasiclaw,
        &ws,
        &server.openai_base(),
        &["--timeout-secs", "2"],
    );
    let chat = |text: &str| s.chat(&json!({"messages": [user(text)], "user": "t"}), &[]);
    let r = chat("stall, please");
    assert_error_shape(&r, 500, "host_error");
    assert!(r.body.contains("time limit of 2 s"), "{}", r.body);
    // The same session: its lock went with the abandoned turn.
    let r = chat("and now?");
    assert_eq!(r.status, 200, "{}\n{}", r.body, s.log());
    assert_eq!(content(&r.json()), "prompt answer");
    let lines = assert_jsonl(&ws, "sessions/t.jsonl");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.to_string().contains("prompt answer")),
        "{lines:?}"
    );
    assert!(s.alive(), "{}", s.log());
}

#[test]
fn serve_keeps_serving_after_a_turn_over_the_memory_limit() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("small enough").text("still here"));
    let mut s = Serve::start_at(
        Host::Wasiclaw,
        &ws,
        &server.openai_base(),
        &["--memory-limit-mib", "4"],
    );
    // Under the 1 MiB request cap, but the guest's copies of it (body,
    // parsed message, session, provider request) do not fit in 4 MiB.
    let big = "x".repeat(900_000);
    let r = s.chat(&json!({"messages": [user(&big)], "user": "m"}), &[]);
    assert_error_shape(&r, 500, "host_error");
    assert!(r.body.contains("memory limit of 4 MiB"), "{}", r.body);
    for want in ["small enough", "still here"] {
        let r = s.chat(&json!({"messages": [user("hello")], "user": "m"}), &[]);
        assert_eq!(r.status, 200, "{}\n{}", r.body, s.log());
        assert_eq!(content(&r.json()), want);
    }
    assert!(s.alive(), "{}", s.log());
}
