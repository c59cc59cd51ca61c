//! MCP both ways, through the real runtimes, against the official Python SDK
//! (`tests/mcp/server.py`, `tests/mcp/client.py`): the agent lists and calls
//! an MCP server's tools (2026-07-28, and the older handshake), survives a
//! server that is down, and has a header injected by the host that it never
//! sees (`wasiclaw run`, `wasiclaw-wamr`); the edge build serves its tools at `/mcp` to the SDK's client.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use wasiclaw_tests::{MockServer, Script};

use crate::harness::*;
use crate::serve::server::{Host, Serve};

under_each!(
    [
        wasmtime_run = crate::harness::Runner::Wasmtime,
        wasiclaw_run = crate::harness::Runner::Wasiclaw,
        wamr_run = crate::harness::Runner::Wamr,
    ];
    mcp_tools_are_listed_and_called,
    a_handshake_only_server_is_used_through_the_fallback,
    a_server_that_is_down_never_fails_the_turn,
);

// The host fills in `${ENV_NAME}` headers; `wasmtime run` has no host policy.
under_each!(
    [
        wasiclaw_run_host = crate::harness::Runner::Wasiclaw,
        wamr_run_host = crate::harness::Runner::Wamr,
    ];
    a_header_injected_by_the_host_is_never_seen_by_the_guest,
);

under_each!(
    [
        wasmtime_serve = crate::serve::server::Host::Wasmtime,
        wasiclaw_serve = crate::serve::server::Host::Wasiclaw,
    ];
    the_python_sdk_client_uses_the_served_tools,
    a_foreign_origin_is_refused_and_a_token_is_required,
    a_served_chat_turn_uses_an_mcp_server,
);

/// `tests/mcp/server.py` on a free loopback port; killed on drop.
pub struct PyServer {
    child: Child,
    pub port: u16,
    _dir: tempfile_dir::Dir,
}

mod tempfile_dir {
    use std::path::PathBuf;

    /// A private directory for the port file, removed on drop.
    pub struct Dir(pub PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn script(name: &str) -> PathBuf {
    repo_root().join("tests/mcp").join(name)
}

impl PyServer {
    pub fn start(args: &[&str]) -> PyServer {
        let ws = Workspace::new();
        let dir = tempfile_dir::Dir(ws.outside().join("mcp-port"));
        std::fs::create_dir_all(&dir.0).expect("port dir");
        let port_file = dir.0.join("port");
        // Its log (tracebacks of the deliberately failing tool) stays out of
        // the test output unless it fails to start.
        let log = dir.0.join("server.log");
        let child = Command::new("python3")
            .arg(script("server.py"))
            .arg(&port_file)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("server log"))
            .spawn()
            .expect("python3 is required (scripts/setup installs it and the mcp SDK)");
        let mut s = PyServer {
            child,
            port: 0,
            _dir: dir,
        };
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                s.port = text.trim().parse().expect("port number");
                return s;
            }
            if let Ok(Some(status)) = s.child.try_wait() {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("tests/mcp/server.py exited with {status} (is the mcp package installed?)\n{log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the MCP server did not start"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A workspace whose `wasiclaw.json` names one MCP server `py`.
fn workspace_with(server: serde_json::Value) -> Workspace {
    let ws = Workspace::new();
    ws.write(
        "wasiclaw.json",
        &json!({ "mcpServers": { "py": server } }).to_string(),
    );
    ws
}

/// The agent on `host`, with the MCP server's origin allowed by the native
/// hosts' policy (loopback is refused unless listed).
fn agent(host: Runner, ws: &Workspace, model: &MockServer, port: u16) -> Agent {
    Agent::on(host, ws)
        .openai(model)
        .host_args(&["--allow-host", &format!("127.0.0.1:{port}")])
}

fn mcp_tools_are_listed_and_called(host: Runner) {
    let py = PyServer::start(&[]);
    let ws = workspace_with(json!({ "url": py.url(), "enabledTools": ["add", "fail", "shout"] }));
    let model = MockServer::start(
        Script::new()
            .tool("mcp_py_add", json!({"a": 2, "b": 40}))
            .tool("mcp_py_fail", json!({"reason": "testing"}))
            .tool("mcp_py_shout", json!({"text": "quiet"}))
            .text("Done with MCP."),
    );
    let out = agent(host, &ws, &model, py.port).run("Use the MCP tools");
    out.assert_success(&model);
    assert_eq!(out.reply(), "Done with MCP.");
    let reqs = chats(&model);
    let tools = reqs[0].tool_names();
    for t in ["mcp_py_add", "mcp_py_fail", "mcp_py_shout", "read_file"] {
        assert!(
            tools.iter().any(|n| n == t),
            "{t} not advertised: {tools:?}"
        );
    }
    // enabledTools left echo_header out.
    assert!(
        !tools.iter().any(|n| n == "mcp_py_echo_header"),
        "{tools:?}"
    );
    let body = reqs[0].json.as_ref().expect("JSON body");
    let add = body["tools"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["function"]["name"] == "mcp_py_add"))
        .expect("add spec");
    assert_eq!(add["function"]["description"], "Adds two integers.");
    assert_eq!(add["function"]["parameters"]["required"], json!(["a", "b"]));
    let (sum, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(!err && sum.contains("\"sum\": 42"), "{sum}");
    let (failed, err) = result_for(&reqs[2], &reqs[1].tool_call_ids[0]);
    assert!(
        is_tool_error(&failed, err) && failed.contains("fail"),
        "{failed}"
    );
    let (loud, err) = result_for(&reqs[3], &reqs[2].tool_call_ids[0]);
    assert!(!err && loud == "QUIET", "{loud}");
}

fn a_handshake_only_server_is_used_through_the_fallback(host: Runner) {
    let py = PyServer::start(&["--legacy-only", "--sse"]);
    let ws = workspace_with(json!({ "url": py.url() }));
    let model = MockServer::start(
        Script::new()
            .tool("mcp_py_shout", json!({"text": "old but gold"}))
            .text("ok"),
    );
    let out = agent(host, &ws, &model, py.port).run("Shout");
    out.assert_success(&model);
    let reqs = chats(&model);
    let (loud, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(!err && loud == "OLD BUT GOLD", "{loud}\n{out}");
}

fn a_server_that_is_down_never_fails_the_turn(host: Runner) {
    let dead = wasiclaw_tests::dead_base_url();
    let port: u16 = dead
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let ws = workspace_with(json!({ "url": format!("{dead}/mcp") }));
    let model = MockServer::start(
        Script::new()
            .tool("mcp_py_add", json!({"a": 1, "b": 1}))
            .text("Carried on."),
    );
    let out = agent(host, &ws, &model, port).run("Add");
    out.assert_success(&model);
    assert_eq!(out.reply(), "Carried on.");
    assert!(out.stderr.contains("[mcp] py: cannot list tools"), "{out}");
    let reqs = chats(&model);
    let (msg, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(
        is_tool_error(&msg, err) && msg.contains("MCP server 'py'"),
        "{msg}"
    );
}

const SECRET: &str = "mcp-secret-0123456789";

fn a_header_injected_by_the_host_is_never_seen_by_the_guest(host: Runner) {
    let py = PyServer::start(&["--require-header", &format!("x-secret={SECRET}")]);
    let ws = workspace_with(json!({
        "url": py.url(),
        "headers": { "X-Secret": "${MCP_TEST_SECRET}" },
    }));
    let model = MockServer::start(
        Script::new()
            .tool("mcp_py_echo_header", json!({"name": "x-secret"}))
            .text("Header checked."),
    );
    let out = agent(host, &ws, &model, py.port)
        .env("MCP_TEST_SECRET", SECRET)
        .run("Which secret did the server get?");
    out.assert_success(&model);
    let reqs = chats(&model);
    // The server got the value (it answers 401 otherwise, and the tool
    // would be missing); what came back was redacted before the guest.
    assert!(
        reqs[0]
            .tool_names()
            .iter()
            .any(|n| n == "mcp_py_echo_header"),
        "{out}"
    );
    let (echo, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(!err && echo == "[REDACTED]", "{echo}");
    for r in &reqs {
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(SECRET),
            "the secret reached the model: {body}"
        );
    }
    let session = ws.read("sessions/default.jsonl").unwrap_or_default();
    assert!(
        !session.contains(SECRET) && !out.stdout.contains(SECRET) && !out.stderr.contains(SECRET)
    );
}

/// Runs `tests/mcp/client.py URL MODE [TOKEN]`; returns its KEY=value lines.
fn py_client(url: &str, mode: &str, token: Option<&str>) -> Vec<(String, String)> {
    let mut cmd = Command::new("python3");
    cmd.arg(script("client.py")).args([url, mode]);
    cmd.args(token);
    for k in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(k);
    }
    let out = cmd
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "client.py {mode} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn value<'a>(lines: &'a [(String, String)], key: &str) -> &'a str {
    lines
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

fn the_python_sdk_client_uses_the_served_tools(host: Host) {
    let ws = Workspace::new();
    let s = Serve::start_at(host, &ws, "http://127.0.0.1:9/v1", &[]);
    let url = format!("{}/mcp", s.base());
    for mode in ["auto", "legacy"] {
        let lines = py_client(&url, mode, None);
        let tools = value(&lines, "TOOLS");
        for t in ALL_TOOLS {
            assert!(
                tools.split(',').any(|n| n == t),
                "{t} missing: {tools}\n{}",
                s.log()
            );
        }
        assert!(value(&lines, "SCHEMA").contains("path"), "{lines:?}");
        assert!(value(&lines, "WRITE").starts_with("False:"), "{lines:?}");
        assert_eq!(
            value(&lines, "READ"),
            format!("False:written over MCP ({mode})")
        );
        assert!(value(&lines, "ESCAPE").starts_with("True:"), "{lines:?}");
        assert_eq!(
            ws.read("from-mcp.txt").as_deref(),
            Some(&*format!("written over MCP ({mode})"))
        );
    }
}

fn a_foreign_origin_is_refused_and_a_token_is_required(host: Host) {
    let ws = Workspace::new();
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let json = ("content-type", "application/json");
    let token_flags: &[&str] = if host.is_wasmtime() {
        &["--env", "WASICLAW_MCP_TOKEN=t0ken"]
    } else {
        &["--mcp-token", "t0ken"]
    };
    let s = Serve::start_at(host, &ws, "http://127.0.0.1:9/v1", token_flags);
    let origin = ("origin", "http://evil.example");
    let r = s.request(
        "POST",
        "/mcp",
        &[json, origin, ("authorization", "Bearer t0ken")],
        list,
    );
    assert_eq!(r.status, 403, "{}", s.log());
    let r = s.request("POST", "/mcp", &[json], list);
    assert_eq!(r.status, 401, "{}", s.log());
    let r = s.request(
        "POST",
        "/mcp",
        &[json, ("authorization", "Bearer nope")],
        list,
    );
    assert_eq!(r.status, 401);
    let lines = py_client(&format!("{}/mcp", s.base()), "auto", Some("t0ken"));
    assert_eq!(value(&lines, "READ"), "False:written over MCP (auto)");
    let r = s.request("GET", "/mcp", &[], "");
    assert_eq!(r.status, 405);
}

fn a_served_chat_turn_uses_an_mcp_server(host: Host) {
    let py = PyServer::start(&[]);
    let ws = workspace_with(json!({ "url": py.url() }));
    let model = MockServer::start(
        Script::new()
            .tool("mcp_py_add", json!({"a": 20, "b": 22}))
            .text("It is 42."),
    );
    let allow = format!("127.0.0.1:{}", py.port);
    let extra: &[&str] = if host.is_wasmtime() {
        &[]
    } else {
        &["--allow-host", &allow]
    };
    let s = Serve::start_at(host, &ws, &model.openai_base(), extra);
    let r = s.chat(
        &json!({"messages": [{"role": "user", "content": "add"}]}),
        &[],
    );
    assert_eq!(r.status, 200, "{}\n{}", r.body, s.log());
    let reqs = chats(&model);
    let (sum, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(!err && sum.contains("\"sum\": 42"), "{sum}");
}
