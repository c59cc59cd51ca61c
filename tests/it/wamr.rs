//! The WAMR compatibility layer end to end: `dist/wasiclaw-p1.wasm` (one
//! preview-1 core module, scripts/build-p1) run by `wasiclaw-wamr` on WAMR's
//! fast interpreter against mock providers, and the same module under
//! `wasmtime run` as an independent preview-1 cross-check. Missing artifacts
//! fail the suite: build with `scripts/build-p1` and
//! `cargo build -p wasiclaw-wamr` first.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use wasiclaw_tests::{MockServer, Script, Turn};

use crate::harness::*;

mod limits;

const TIMEOUT: Duration = Duration::from_secs(120);

fn p1_module() -> PathBuf {
    let p = repo_root().join("dist/wasiclaw-p1.wasm");
    assert!(
        p.is_file(),
        "dist/wasiclaw-p1.wasm missing: run scripts/build-p1 first"
    );
    p
}

/// `wasiclaw-wamr` from `$WASICLAW_WAMR`, else next to this test binary's
/// profile directory (`<target>/<profile>/deps/it-*` -> `<target>/<profile>/`),
/// else any profile of the same target dir.
fn runner() -> PathBuf {
    if let Some(p) = std::env::var_os("WASICLAW_WAMR") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("<target>/<profile>");
    let target = profile_dir.parent().expect("<target>");
    let candidates = [
        profile_dir.join("wasiclaw-wamr"),
        target.join("debug/wasiclaw-wamr"),
        target.join("native/wasiclaw-wamr"),
        target.join("release/wasiclaw-wamr"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!("wasiclaw-wamr not built: run `cargo build -p wasiclaw-wamr` (looked in {candidates:?})")
        })
}

/// One invocation of `program args...` with a host environment of exactly
/// `env` (plus PATH), bounded by [`TIMEOUT`].
fn exec(program: PathBuf, args: &[String], env: &[(String, String)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let command = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {command}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("timed out: {command}\n{}", err.join().unwrap_or_default());
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {command}: {e}"),
        }
    };
    Output {
        command,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        code: status.code(),
        elapsed: start.elapsed(),
    }
}

/// `wasiclaw-wamr --workspace WS --module dist/wasiclaw-p1.wasm ...`, keys
/// in the runner's environment (never the guest's).
struct Wamr {
    ws: PathBuf,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

impl Wamr {
    fn new(ws: &Workspace) -> Self {
        Wamr {
            ws: ws.path().to_path_buf(),
            env: Vec::new(),
            args: Vec::new(),
        }
    }

    fn env(mut self, k: &str, v: &str) -> Self {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.into(), v.into()));
        self
    }

    fn arg(mut self, a: &str) -> Self {
        self.args.push(a.into());
        self
    }

    fn openai(self, server: &MockServer) -> Self {
        self.env("OPENAI_BASE_URL", &server.openai_base())
            .env("OPENAI_API_KEY", OPENAI_KEY)
    }

    fn anthropic(self, server: &MockServer) -> Self {
        self.env("ANTHROPIC_BASE_URL", &server.anthropic_base())
            .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
            .env("WASICLAW_PROVIDER", "anthropic")
    }

    fn run(self, message: &str) -> Output {
        let mut args = vec![
            "--workspace".to_string(),
            self.ws.display().to_string(),
            "--module".to_string(),
            p1_module().display().to_string(),
        ];
        args.extend(self.args);
        args.extend(["-m".to_string(), message.to_string()]);
        exec(runner(), &args, &self.env)
    }
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
    let out = Wamr::new(&ws).openai(&server).run("Say hello");
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
    assert_eq!(tools.len(), ALL_TOOLS.len(), "{tools:?}");
    for t in ALL_TOOLS {
        assert!(
            tools.iter().any(|n| n == t),
            "tool {t} not advertised: {tools:?}"
        );
    }
    assert_no_key_in_bodies(&server);
    assert_jsonl(&ws, "sessions/default.jsonl");
}

#[test]
fn wamr_write_read_and_edit_change_the_workspace() {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool(
                "write_file",
                json!({"path": "notes/todo.md", "content": "- milk\n- port = 1\n"}),
            )
            .tool("read_file", json!({"path": "notes/todo.md"}))
            .tool(
                "edit_file",
                json!({"path": "notes/todo.md", "old_text": "absent", "new_text": "x"}),
            )
            .tool(
                "edit_file",
                json!({"path": "notes/todo.md", "old_text": "port = 1", "new_text": "port = 2"}),
            )
            .text("Done."),
    );
    let out = Wamr::new(&ws).openai(&server).run("Make and fix a list");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Done.");
    assert_eq!(
        ws.read("notes/todo.md").as_deref(),
        Some("- milk\n- port = 2\n")
    );
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 5, "{}", dump(&server));
    let result = |i: usize| result_for(&reqs[i + 1], &reqs[i].tool_call_ids[0]);
    let (read, err) = result(1);
    assert!(!err && read.contains("- milk"), "read_file: {read}");
    let (miss, err) = result(2);
    assert!(
        is_tool_error(&miss, err),
        "an absent old_text must fail: {miss}"
    );
    let (hit, err) = result(3);
    assert!(!is_tool_error(&hit, err), "edit failed: {hit}");
    assert!(
        out.stderr.contains("write_file") && !out.stdout.contains("write_file"),
        "{out}"
    );
}

#[test]
fn wamr_memory_saved_in_one_run_is_found_in_the_next() {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool(
                "memory_save",
                json!({"text": "The user's favourite colour is teal", "tags": ["prefs"]}),
            )
            .tool(
                "memory_save",
                json!({"text": "The dentist appointment is on Friday at noon"}),
            )
            .text("Noted.")
            .tool(
                "memory_search",
                json!({"query": "favourite colour", "k": 1}),
            )
            .text("Teal."),
    );
    let first = Wamr::new(&ws)
        .openai(&server)
        .run("Remember: teal; dentist Friday");
    first.assert_success(&server);
    assert!(
        ws.file("memory/index.bin").is_file(),
        "no HNSW index saved\n{first}"
    );
    let second = Wamr::new(&ws)
        .openai(&server)
        .run("What is my favourite colour?");
    second.assert_success(&server);
    assert_eq!(second.reply(), "Teal.");
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 5, "{}", dump(&server));
    let (found, err) = result_for(&reqs[4], &reqs[3].tool_call_ids[0]);
    assert!(
        !err && found.to_lowercase().contains("teal"),
        "memory_search: {found}"
    );
    assert!(
        !found.contains("dentist"),
        "k=1 must return only the closest: {found}"
    );
    assert!(
        server.embedding_requests().is_empty(),
        "local embedder went to the network"
    );
}

#[test]
fn wamr_session_continues_across_invocations() {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .text("Nice to meet you, Ada.")
            .text("Your name is Ada."),
    );
    let run = |m: &str| {
        Wamr::new(&ws)
            .openai(&server)
            .arg("--session")
            .arg("chat")
            .run(m)
    };
    run("My name is Ada.").assert_success(&server);
    let b = run("What is my name?");
    b.assert_success(&server);
    assert_eq!(b.reply(), "Your name is Ada.");
    let conv = chats(&server)[1].conversation();
    let pos = |want: &Turn| conv.iter().position(|t| t == want);
    let first = pos(&Turn::User("My name is Ada.".into()));
    let second = pos(&Turn::User("What is my name?".into()));
    assert!(
        matches!((first, second), (Some(x), Some(y)) if x < y),
        "the second turn must carry the first: {conv:#?}"
    );
    let all: String = assert_jsonl(&ws, "sessions/chat.jsonl")
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert!(all.contains("Your name is Ada."), "{all}");
}

#[test]
fn wamr_refuses_path_escapes_and_unlisted_hosts() {
    let ws = Workspace::new();
    std::fs::write(ws.outside().join("outside.txt"), "TOP SECRET").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(ws.outside(), ws.file("up")).unwrap();
    let server = MockServer::start(
        Script::new()
            .tool("read_file", json!({"path": "../outside.txt"}))
            .tool(
                "write_file",
                json!({"path": "../escaped.txt", "content": "pwned"}),
            )
            .tool("read_file", json!({"path": "up/outside.txt"}))
            // Private address not in the allowlist: refused by the runner's policy.
            .tool("web_fetch", json!({"url": "http://10.255.255.1/"}))
            .tool(
                "web_fetch",
                json!({"url": "http://169.254.169.254/latest/meta-data/"}),
            )
            .text("Refused."),
    );
    let out = Wamr::new(&ws).openai(&server).run("Show me the secrets");
    out.assert_success(&server);
    assert!(
        !ws.outside().join("escaped.txt").exists(),
        "write_file escaped"
    );
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 6, "{}", dump(&server));
    for (i, pair) in reqs.windows(2).enumerate() {
        let (content, err) = result_for(&pair[1], &pair[0].tool_call_ids[0]);
        assert!(
            is_tool_error(&content, err),
            "call #{i} was not refused: {content}"
        );
        assert!(!content.contains("TOP SECRET"), "leaked: {content}");
    }
    let (fetch, _) = result_for(&reqs[4], &reqs[3].tool_call_ids[0]);
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
    let out = Wamr::new(&ws)
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

fn provider_round_trip(anthropic: bool, stream: bool) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool(
                "write_file",
                json!({"path": "p.txt", "content": "via the provider"}),
            )
            .text("Wrote it. ✓"),
    );
    let w = Wamr::new(&ws);
    let w = if anthropic {
        w.anthropic(&server)
    } else {
        w.openai(&server)
    };
    let w = if stream { w } else { w.arg("--no-stream") };
    let out = w.run("Write p.txt");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Wrote it. ✓", "{out}");
    assert_eq!(ws.read("p.txt").as_deref(), Some("via the provider"));
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 2, "{}", dump(&server));
    for r in &reqs {
        assert_eq!(r.stream(), stream, "stream flag in request #{}", r.seq);
        if anthropic {
            assert_eq!(r.path, "/v1/messages");
            assert_eq!(r.header("x-api-key"), Some(ANTHROPIC_KEY));
            assert!(
                r.header("authorization").is_none(),
                "OpenAI auth sent to Anthropic"
            );
        } else {
            assert_eq!(r.path, "/v1/chat/completions");
            assert_eq!(
                r.header("authorization"),
                Some(&*format!("Bearer {OPENAI_KEY}"))
            );
        }
    }
    assert_no_key_in_bodies(&server);
}

#[test]
fn wamr_openai_streaming() {
    provider_round_trip(false, true);
}

#[test]
fn wamr_openai_no_stream() {
    provider_round_trip(false, false);
}

#[test]
fn wamr_anthropic_streaming() {
    provider_round_trip(true, true);
}

#[test]
fn wamr_anthropic_no_stream() {
    provider_round_trip(true, false);
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
