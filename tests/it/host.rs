//! The native host: `dist/wasiclaw.wasm` run through the real `wasiclaw`
//! binary (built on first use into this target directory) against mock
//! providers on 127.0.0.1. Checks what the host adds: key injection the guest
//! never sees, the outbound allow list and internal-address refusal, token
//! metering and budgets, memory and time limits.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wasiclaw_tests::{MockServer, Script};

use crate::harness::{
    cache_dir, repo_root, run_command, usage_lines, wasiclaw_bin, wasm, with_only_env, Agent,
    Output, Runner, Stall, Workspace,
};

const HOST_KEY: &str = "sk-host-only-7f3a";

/// Runs `wasiclaw SUBCOMMAND --workspace WS ARGS` with the provider pointed
/// at `base` and the key only in the host's environment.
fn wasiclaw(ws: &Workspace, base: &str, sub: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(wasiclaw_bin());
    cmd.arg("--module")
        .arg(wasm())
        .arg("--cache-dir")
        .arg(cache_dir())
        .arg(sub)
        .arg("--workspace")
        .arg(ws.path())
        .args(args);
    let env = [("OPENAI_API_KEY", HOST_KEY), ("OPENAI_BASE_URL", base)];
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    with_only_env(&mut cmd, &env);
    run_command(cmd)
}

fn run(ws: &Workspace, server: &MockServer, extra: &[&str], message: &str) -> Output {
    let mut args = extra.to_vec();
    args.extend(["--no-stream", "-m", message]);
    wasiclaw(ws, &server.openai_base(), "run", &args)
}

#[test]
fn plain_turn_injects_the_key_and_meters_usage() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("Hello from the mock."));
    let out = run(&ws, &server, &["--session", "s1"], "hi");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "Hello from the mock.", "{out:?}");
    let chats = server.chat_requests();
    assert_eq!(chats.len(), 1);
    // The guest had no key; the host added it on the way to the provider.
    assert_eq!(
        chats[0].header("authorization"),
        Some(format!("Bearer {HOST_KEY}").as_str())
    );
    let usage = usage_lines(&ws);
    assert_eq!(usage.len(), 1, "{usage:?}");
    let u = &usage[0];
    assert_eq!(u["session"], "s1");
    assert_eq!(u["provider"], "openai");
    assert!(u["input_tokens"].as_u64().unwrap_or(0) > 0, "{u}");
    assert!(u["output_tokens"].as_u64().unwrap_or(0) > 0, "{u}");
    assert!(u["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{u}");
}

#[test]
fn streamed_turn_is_metered_too() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("streamed answer"));
    let out = wasiclaw(&ws, &server.openai_base(), "run", &["-m", "hi"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        server.chat_requests()[0].stream(),
        "the agent streams by default"
    );
    let usage = usage_lines(&ws);
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert!(usage[0]["output_tokens"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn write_then_read_a_file_in_the_workspace() {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool(
                "write_file",
                json!({"path": "notes/a.txt", "content": "written through the host"}),
            )
            .tool("read_file", json!({"path": "notes/a.txt"}))
            .text("done"),
    );
    let out = run(&ws, &server, &[], "write and read");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "done");
    assert_eq!(
        ws.read("notes/a.txt").as_deref(),
        Some("written through the host")
    );
    let chats = server.chat_requests();
    assert_eq!(chats.len(), 3);
    let results = chats[2].tool_results();
    assert!(
        results
            .iter()
            .any(|(_, c, _)| c.contains("written through the host")),
        "{results:?}"
    );
    // The preopen is the workspace only: nothing was written beside it.
    assert!(!ws.outside().join("notes").exists());
}

#[test]
fn web_fetch_outside_the_allow_list_is_a_tool_error() {
    let ws = Workspace::new();
    let other = MockServer::start(Script::new());
    let server = MockServer::start(
        Script::new()
            .tool("web_fetch", json!({"url": format!("{}/page", other.url())}))
            .tool(
                "web_fetch",
                json!({"url": "http://169.254.169.254/latest/meta-data/"}),
            )
            .text("could not fetch"),
    );
    let out = run(&ws, &server, &[], "fetch things");
    assert_eq!(out.code, Some(0), "{out:?}");
    let chats = server.chat_requests();
    assert_eq!(chats.len(), 3, "{out:?}");
    for (i, chat) in chats.iter().enumerate().skip(1) {
        let (_, content, _) = chat.tool_results().last().cloned().expect("tool result");
        assert!(content.contains("does not allow"), "request {i}: {content}");
    }
    assert!(
        other.requests().is_empty(),
        "the refused host was contacted"
    );
    assert!(out.stderr.contains("169.254.169.254"), "{out:?}");
}

#[test]
fn wildcard_still_refuses_internal_addresses_after_resolution() {
    let ws = Workspace::new();
    let other = MockServer::start(Script::new());
    let server = MockServer::start(
        Script::new()
            .tool(
                "web_fetch",
                json!({"url": "http://169.254.169.254/latest/meta-data/"}),
            )
            // `localhost` is a name: allowed by `*`, refused once it resolves to loopback.
            .tool(
                "web_fetch",
                json!({"url": format!("http://localhost:{}/x", other.port())}),
            )
            .text("ok"),
    );
    let out = run(&ws, &server, &["--allow-host", "*"], "fetch");
    assert_eq!(out.code, Some(0), "{out:?}");
    let chats = server.chat_requests();
    assert_eq!(chats.len(), 3, "{out:?}");
    for chat in &chats[1..] {
        let (_, content, _) = chat.tool_results().last().cloned().expect("tool result");
        assert!(content.contains("address is not allowed"), "{content}");
    }
    assert!(other.requests().is_empty());
    assert!(out.stderr.contains("loopback"), "{out:?}");
}

#[test]
fn the_guest_never_holds_the_key() {
    let ws = Workspace::new();
    // What the host hands the guest: base URL and config, no key.
    let out = wasiclaw(&ws, "http://127.0.0.1:9/v1", "inspect", &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!out.stdout.contains(HOST_KEY), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).expect("inspect prints JSON");
    let env = v["policy"]["guest_env"].as_object().expect("guest_env");
    assert!(env.keys().all(|k| !k.contains("KEY")), "{env:?}");
    assert!(!env.contains_key("PATH"));
    assert_eq!(env["OPENAI_BASE_URL"], "http://127.0.0.1:9/v1");
    let names: Vec<&str> = v["exports"]
        .as_array()
        .expect("exports")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("wasi:cli/run@0.2")),
        "{names:?}"
    );

    // An allowed non-provider host gets no credentials.
    let other = MockServer::start(Script::new());
    let server = MockServer::start(
        Script::new()
            .tool("web_fetch", json!({"url": format!("{}/page", other.url())}))
            .text("fetched"),
    );
    let allow = format!("127.0.0.1:{}", other.port());
    let out = run(&ws, &server, &["--allow-host", &allow], "fetch");
    assert_eq!(out.code, Some(0), "{out:?}");
    let fetched = other.requests();
    assert_eq!(fetched.len(), 1, "{out:?}");
    assert_eq!(fetched[0].path, "/page");
    assert_eq!(fetched[0].header("authorization"), None);
    assert_eq!(fetched[0].header("x-api-key"), None);
    assert!(server
        .chat_requests()
        .iter()
        .all(|c| c.header("authorization").is_some()));
}

#[test]
fn memory_limit_ends_the_run_with_a_clear_error() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("unreachable"));
    let out = run(&ws, &server, &["--memory-limit-mib", "1"], "hi");
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("memory limit of 1 MiB"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn time_limit_ends_a_hanging_turn() {
    let ws = Workspace::new();
    let server = MockServer::bind(0, Arc::new(Stall { trigger: "" })).expect("bind mock");
    let out = run(&ws, &server, &["--timeout-secs", "2"], "hi");
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("time limit of 2 s"), "{out:?}");
    assert!(out.elapsed < Duration::from_secs(15), "{out:?}");
}

#[test]
fn spent_budget_refuses_the_next_turn() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("first").text("second"));
    let first = run(&ws, &server, &["--session-budget", "5"], "one");
    assert_eq!(first.code, Some(0), "{first:?}");
    let second = run(&ws, &server, &["--session-budget", "5"], "two");
    assert_eq!(second.code, Some(1), "{second:?}");
    assert!(second.stderr.contains("budget"), "{second:?}");
    // Refused once, cleanly: not mistaken for a broken connection and retried.
    assert!(!second.stderr.contains("retrying"), "{second:?}");
    assert_eq!(
        server.chat_requests().len(),
        1,
        "the refused turn reached the provider"
    );
    // Another session has its own budget; a daily budget covers them all.
    let other = run(
        &ws,
        &server,
        &["--session-budget", "5", "--session", "other"],
        "three",
    );
    assert_eq!(other.code, Some(0), "{other:?}");
    let daily = run(
        &ws,
        &server,
        &["--daily-budget", "5", "--session", "third"],
        "four",
    );
    assert_eq!(daily.code, Some(1), "{daily:?}");
    assert!(daily.stderr.contains("daily token budget"), "{daily:?}");
}

/// The WAMR runner, which hands the agent its argv as given, meters (and
/// budgets) the session the agent itself uses, read with the agent's
/// grammar: the last `--session` wins, and `-m --session` is a message. (It
/// used to take the first `--session` word it saw. `wasiclaw run` parses
/// the agent's flags itself and refuses a repeated `--session`.)
#[test]
fn wamr_meters_the_session_the_agent_uses() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("noted"));
    let out = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .no_stream()
        .args(&["--session", "first", "-m", "--session", "--session", "last"])
        .exec();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(ws.read("sessions/last.jsonl").is_some(), "{out:?}");
    assert!(ws.read("sessions/first.jsonl").is_none(), "{out:?}");
    let usage = usage_lines(&ws);
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(usage[0]["session"], "last");
}

#[test]
fn second_start_uses_the_compile_cache() {
    let compile = || {
        let out = Command::new(wasiclaw_bin())
            .arg("--module")
            .arg(wasm())
            .arg("--cache-dir")
            .arg(cache_dir())
            .arg("compile")
            .output()
            .expect("spawn wasiclaw compile");
        assert!(out.status.success(), "{out:?}");
        (
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (path, _) = compile();
    assert!(Path::new(&path).is_file(), "{path}");
    assert!(path.ends_with(".cwasm"), "{path}");
    let (again, stderr) = compile();
    assert_eq!(again, path);
    assert!(stderr.contains("already cached"), "{stderr}");
}

/// A raw HTTP/1.1 exchange (one request per connection); returns status and body.
fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to wasiclaw serve");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_string(), body.to_string())
}

/// Kills the child on drop, so a failing assertion leaves no server behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_chat_completions_with_the_host_key() {
    let http_wasm = repo_root().join("dist/wasiclaw-http.wasm");
    assert!(
        http_wasm.is_file(),
        "dist/wasiclaw-http.wasm missing: run scripts/build first"
    );
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("served reply"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(wasiclaw_bin())
        .arg("--module")
        .arg(&http_wasm)
        .arg("--cache-dir")
        .arg(cache_dir())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--workspace",
        ])
        .arg(ws.path())
        .env_clear()
        .env("OPENAI_API_KEY", HOST_KEY)
        .env("OPENAI_BASE_URL", server.openai_base())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn wasiclaw serve");
    let _child = Child(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "serve never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _, _) = http_request(port, "GET", "/healthz", &[], "");
    assert_eq!(status, 200);
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let (status, head, reply) = http_request(
        port,
        "POST",
        "/v1/chat/completions",
        &[
            ("content-type", "application/json"),
            ("x-wasiclaw-session", "web"),
        ],
        body,
    );
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("served reply"), "{reply}");
    // The host's Server-Timing header: `instantiate;dur=MS, guest;dur=MS`.
    let timing = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("server-timing"))
        })
        .map(|(_, v)| v.trim())
        .unwrap_or_else(|| panic!("no server-timing header in {head}"));
    let dur = |metric: &str| -> f64 {
        timing
            .split(',')
            .find_map(|m| m.trim().strip_prefix(metric)?.strip_prefix(";dur="))
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("no {metric} duration in {timing:?}"))
    };
    assert!(dur("instantiate") > 0.0, "{timing}");
    assert!(dur("guest") > 0.0, "{timing}");
    let chats = server.chat_requests();
    assert_eq!(chats.len(), 1);
    assert_eq!(
        chats[0].header("authorization"),
        Some(format!("Bearer {HOST_KEY}").as_str())
    );
    let usage = usage_lines(&ws);
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(usage[0]["session"], "web");
}

#[test]
fn chat_runs_one_streamed_turn_per_line_in_one_session() {
    use std::io::Write;
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .text("Hello, first line.")
            .text("Second reply."),
    );
    let mut child = Command::new(wasiclaw_bin())
        .arg("--module")
        .arg(wasm())
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["chat", "--session", "talk", "--workspace"])
        .arg(ws.path())
        .env_clear()
        .env("OPENAI_API_KEY", HOST_KEY)
        .env("OPENAI_BASE_URL", server.openai_base())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wasiclaw chat");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(b"hi there\nand again\n")
        .expect("write to chat");
    let out = child.wait_with_output().expect("wait for wasiclaw chat");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let first = stdout.find("Hello, first line.");
    let second = stdout.find("Second reply.");
    assert!(
        first.is_some() && second.is_some() && first < second,
        "{stdout}\n{stderr}"
    );
    let chats = server.chat_requests();
    assert_eq!(chats.len(), 2, "{stderr}");
    assert!(chats.iter().all(|c| c.stream()), "chat streams tokens");
    assert!(
        chats[1]
            .conversation()
            .iter()
            .any(|t| matches!(t, wasiclaw_tests::Turn::User(u) if u == "hi there")),
        "the second line continues the session"
    );
    assert_eq!(
        crate::harness::assert_jsonl(&ws, "sessions/talk.jsonl").len(),
        4
    );
}

#[test]
fn oversized_provider_response_is_cut_with_a_clear_error() {
    let big = "lorem ipsum ".repeat(1000);
    for stream in [false, true] {
        let ws = Workspace::new();
        let server = MockServer::start(Script::new().text(&big).text(&big));
        let mut args = vec!["--max-response-bytes", "2000", "-m", "hi"];
        if !stream {
            args.push("--no-stream");
        }
        let out = wasiclaw(&ws, &server.openai_base(), "run", &args);
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(
            out.stderr.contains("larger than the host allows"),
            "{out:?}"
        );
        assert!(out.stdout.is_empty() || stream, "{out:?}");
        assert!(ws.read("sessions/default.jsonl").is_none(), "{out:?}");
        // Cut at the same byte every time: not retried, not paid for again.
        assert_eq!(server.chat_requests().len(), 1, "{out:?}");
        assert!(!out.stderr.contains("retrying"), "{out:?}");
    }
}
