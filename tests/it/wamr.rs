//! The WAMR compatibility layer end to end: `dist/wasiclaw-p1.wasm` (one
//! preview-1 core module, scripts/build-p1) run by `wasiclaw-wamr` on WAMR's
//! fast interpreter against mock providers: what the runner's policy adds
//! (every agent scenario also runs under WAMR, as `agent_*::wamr_run::*`),
//! and the same module under `wasmtime run` as an independent preview-1
//! cross-check. Missing artifacts
//! fail the suite: build with `scripts/build-p1` and
//! `cargo build -p wasiclaw-wamr` first.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use wasiclaw_tests::{MockServer, Script};

use crate::harness::*;

mod limits;

/// One invocation of `program args...` with a host environment of exactly
/// `env` (plus PATH).
fn exec(program: PathBuf, args: &[String], env: &[(String, String)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    with_only_env(&mut cmd, env);
    run_command(cmd)
}

/// No request body the provider saw may contain a key: keys live in the
/// runner, so the guest can never echo one into a conversation.
fn assert_no_key_in_bodies(server: &MockServer) {
    for r in server.requests() {
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(OPENAI_KEY) && !body.contains(ANTHROPIC_KEY),
            "a key reached request #{} body",
            r.seq
        );
    }
}

#[test]
fn wamr_plain_answer_with_the_key_injected_by_the_runner() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("Hello from WAMR."));
    let out = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .run("Say hello");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Hello from WAMR.", "{out}");
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].header("authorization"),
        Some(&*format!("Bearer {OPENAI_KEY}"))
    );
    assert_eq!(reqs[0].last_user_text().as_deref(), Some("Say hello"));
    let tools = reqs[0].tool_names();
    assert_eq!(
        tools.len(),
        ALL_TOOLS.len() + AGENT_TOOLS.len(),
        "{tools:?}"
    );
    for t in ALL_TOOLS.iter().chain(&AGENT_TOOLS) {
        assert!(
            tools.iter().any(|n| n == t),
            "tool {t} not advertised: {tools:?}"
        );
    }
    assert_no_key_in_bodies(&server);
    assert_jsonl(&ws, "sessions/default.jsonl");
}

/// Path escapes under WAMR are `agent_run::wamr_run::path_escapes_*`; what
/// the runner's own policy adds is the refusal of addresses it was not told
/// to allow.
#[test]
fn wamr_refuses_unlisted_and_internal_hosts() {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            // Private address not in the allowlist: refused by the runner's policy.
            .tool("web_fetch", json!({"url": "http://10.255.255.1/"}))
            .tool(
                "web_fetch",
                json!({"url": "http://169.254.169.254/latest/meta-data/"}),
            )
            .text("Refused."),
    );
    let out = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .run("Fetch the metadata");
    out.assert_success(&server);
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 3, "{}", dump(&server));
    for (i, pair) in reqs.windows(2).enumerate() {
        let (content, err) = result_for(&pair[1], &pair[0].tool_call_ids[0]);
        assert!(
            is_tool_error(&content, err),
            "call #{i} was not refused: {content}"
        );
    }
    let (fetch, _) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(
        fetch.contains("denied") || fetch.contains("not allowed"),
        "{fetch}"
    );
}

#[test]
fn wamr_web_fetch_reaches_an_allowed_host_without_the_key() {
    let ws = Workspace::new();
    let page = MockServer::start(Script::new());
    let server = MockServer::start(
        Script::new()
            .tool(
                "web_fetch",
                json!({"url": format!("{}/no-such-page", page.url())}),
            )
            .text("Fetched."),
    );
    let out = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .arg("--allow-host")
        .arg(&format!("127.0.0.1:{}", page.port()))
        .run("Fetch it");
    out.assert_success(&server);
    let fetched = page.requests();
    assert_eq!(
        fetched.len(),
        1,
        "web_fetch did not reach the allowed host\n{out}"
    );
    assert_eq!(fetched[0].method, "GET");
    assert!(
        fetched[0].header("authorization").is_none() && fetched[0].header("x-api-key").is_none(),
        "a credential went to a non-provider host"
    );
}

/// `wasmtime run` has no way to serve `wasiclaw_http`, so the cross-check
/// preloads a shim whose every request answers UNSUPPORTED: the same module
/// must start under a second preview-1 implementation, print its version,
/// and run a turn up to the provider call, failing cleanly with the error
/// line and an intact workspace.
#[test]
fn same_module_runs_under_wasmtime_run() {
    let ws = Workspace::new();
    let shim = repo_root().join("host/wamr/shim/wasiclaw_http_unavailable.wat");
    let base = |extra: &[&str]| {
        let mut a: Vec<String> = vec![
            "run".into(),
            "--preload".into(),
            format!("wasiclaw_http={}", shim.display()),
            "--dir".into(),
            format!("{}::/workspace", ws.path().display()),
            "--env".into(),
            "OPENAI_BASE_URL=http://127.0.0.1:9/v1".into(),
            p1_module().display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let version = exec(wasmtime(), &base(&["--version"]), &[]);
    assert_eq!(version.code, Some(0), "{version}");
    assert!(version.stdout.starts_with("wasiclaw "), "{version}");

    let turn = exec(wasmtime(), &base(&["--no-stream", "-m", "hello"]), &[]);
    turn.assert_runtime_error();
    assert!(turn.stderr.contains("not supported"), "{turn}");
}
