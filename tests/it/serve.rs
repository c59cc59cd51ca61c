//! The edge build, `dist/wasiclaw-http.wasm`, under the real `wasmtime serve`
//! and under `wasiclaw serve`, against the mock provider: health,
//! OpenAI-compatible chat completions (JSON and SSE), sessions, tools, bad
//! requests, and the official `openai` Python client.

mod fleet;
mod jco;
mod kv;
pub mod server;
mod sessions;

use std::process::{Command, Stdio};

use serde_json::{json, Value};
use wasiclaw_tests::{MockServer, Script, Turn};

use crate::harness::*;
use kv::assert_session_saved;
use server::{Host, Resp, Serve};

// Every scenario runs under both servers: the real `wasmtime serve` and
// `wasiclaw serve` (pooling allocator, key injection, per-session locks).
under_each!(
    [
        wasmtime_serve = super::Host::Wasmtime,
        wasiclaw_serve = super::Host::Wasiclaw,
    ];
    healthz_routes_and_bad_requests,
    non_streaming_completion_has_the_openai_schema,
    streaming_completion_reassembles_to_the_reply,
    session_persists_across_requests_by_user_and_header,
    tool_calling_turn_writes_the_workspace,
    the_model_cannot_overwrite_its_session,
    provider_failure_is_a_502_with_an_openai_error,
    official_openai_python_client,
    concurrent_turns_of_one_session_both_land,
);

pub fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

pub fn content(v: &Value) -> &str {
    v.pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no choices[0].message.content: {v}"))
}

pub fn assert_error_shape(r: &Resp, status: u16, kind: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert_eq!(
        v.pointer("/error/type").and_then(Value::as_str),
        Some(kind),
        "{v}"
    );
    let msg = v.pointer("/error/message").and_then(Value::as_str);
    assert!(msg.is_some_and(|m| m.len() > 5), "{v}");
}

fn healthz_routes_and_bad_requests(host: Host) {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new());
    let s = Serve::start(host, &ws, &server);
    let r = s.request("GET", "/healthz", &[], "");
    assert_eq!((r.status, r.body.as_str()), (200, "ok"), "{}", s.log());
    assert_error_shape(
        &s.request("GET", "/v1/models", &[], ""),
        404,
        "invalid_request_error",
    );
    assert_error_shape(
        &s.request("GET", "/v1/chat/completions", &[], ""),
        405,
        "invalid_request_error",
    );
    let bad = s.request(
        "POST",
        "/v1/chat/completions",
        &[("content-type", "application/json")],
        "{\"messages\": [",
    );
    assert_error_shape(&bad, 400, "invalid_request_error");
    assert_eq!(bad.header("content-type"), Some("application/json"));
    assert_error_shape(
        &s.chat(
            &json!({"messages": [{"role": "system", "content": "x"}]}),
            &[],
        ),
        400,
        "invalid_request_error",
    );
    assert_error_shape(
        &s.chat(&json!({"messages": [user("x")], "user": "../escape"}), &[]),
        400,
        "invalid_request_error",
    );
    let huge = format!("{{\"messages\":[],\"pad\":\"{}\"}}", "x".repeat(1 << 20));
    assert_error_shape(
        &s.request("POST", "/v1/chat/completions", &[], &huge),
        413,
        "invalid_request_error",
    );
    assert!(server.requests().is_empty(), "nothing reached the provider");
}

fn non_streaming_completion_has_the_openai_schema(host: Host) {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("Hello from the edge."));
    let s = Serve::start(host, &ws, &server);
    let r = s.chat(
        &json!({"model": "anything", "messages": [
            {"role": "system", "content": "ignored: the workspace prompt is used"},
            user("Say hello")]}),
        &[],
    );
    assert_eq!(r.status, 200, "{}\n{}\n{}", r.body, s.log(), dump(&server));
    let v = r.json();
    assert_eq!(content(&v), "Hello from the edge.");
    assert_eq!(v["object"], "chat.completion");
    assert!(
        v["id"].as_str().is_some_and(|i| i.starts_with("chatcmpl-")),
        "{v}"
    );
    assert!(
        v["created"].as_u64().is_some_and(|c| c > 1_600_000_000),
        "{v}"
    );
    assert!(v["model"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(
        v.pointer("/choices/0/message/role"),
        Some(&json!("assistant"))
    );
    assert_eq!(v.pointer("/choices/0/finish_reason"), Some(&json!("stop")));
    let u = &v["usage"];
    let (p, c, t) = (
        u["prompt_tokens"].as_u64(),
        u["completion_tokens"].as_u64(),
        u["total_tokens"].as_u64(),
    );
    assert!(p.is_some() && c.is_some(), "{v}");
    assert_eq!(t, Some(p.unwrap_or(0) + c.unwrap_or(0)));
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].last_user_text().as_deref(), Some("Say hello"));
    assert!(
        reqs[0].header("authorization") == Some(&*format!("Bearer {OPENAI_KEY}")),
        "the key comes from --env (wasmtime) or is injected (wasiclaw)"
    );
    // No user field and no header: the default session.
    assert_session_saved(host, &ws, "default");
}

/// Concatenated `delta.content` of a streamed answer, checking the event
/// sequence: role first, a stop chunk, then `[DONE]` last.
fn reassemble(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/event-stream")),
        "{:?}",
        r.headers
    );
    let events = r.events();
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{}",
        r.body
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap_or_else(|err| panic!("{err}: {e}")))
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"),
        "{}",
        r.body
    );
    assert_eq!(
        chunks[0].pointer("/choices/0/delta/role"),
        Some(&json!("assistant"))
    );
    let last = chunks.last().expect("chunks");
    assert_eq!(
        last.pointer("/choices/0/finish_reason"),
        Some(&json!("stop")),
        "{}",
        r.body
    );
    let ids: Vec<&Value> = chunks.iter().map(|c| &c["id"]).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one id for the stream");
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect()
}

fn streaming_completion_reassembles_to_the_reply(host: Host) {
    let ws = Workspace::new();
    let reply = "Streaming, token by token, through wasi:http.";
    let server = MockServer::start(Script::new().text(reply));
    let s = Serve::start(host, &ws, &server);
    let r = s.chat(
        &json!({"messages": [user("stream please")], "stream": true}),
        &[],
    );
    assert_eq!(reassemble(&r), reply, "{}\n{}", s.log(), dump(&server));
    let content_chunks = r
        .events()
        .iter()
        .filter(|e| e.contains("\"content\":\"") && !e.contains("\"role\""))
        .count();
    assert!(
        content_chunks > 1,
        "the reply arrives in several deltas: {}",
        r.body
    );
}

fn session_persists_across_requests_by_user_and_header(host: Host) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .text("First answer: 42.")
            .text("Second answer.")
            .text("Other session."),
    );
    let s = Serve::start(host, &ws, &server);
    let r1 = s.chat(
        &json!({"messages": [user("remember 42")], "user": "alice"}),
        &[],
    );
    assert_eq!(content(&r1.json()), "First answer: 42.", "{}", s.log());
    // The client may resend the conversation: only the last user message is new.
    let r2 = s.chat(
        &json!({"messages": [user("remember 42"),
            {"role": "assistant", "content": "First answer: 42."},
            user("what did I say?")], "stream": true}),
        &[("x-wasiclaw-session", "alice")],
    );
    assert_eq!(reassemble(&r2), "Second answer.");
    let r3 = s.chat(&json!({"messages": [user("fresh")], "user": "bob"}), &[]);
    assert_eq!(content(&r3.json()), "Other session.");
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 3);
    let conv = reqs[1].conversation();
    let users: Vec<&str> = conv
        .iter()
        .filter_map(|t| match t {
            Turn::User(u) => Some(u.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(users, ["remember 42", "what did I say?"], "{conv:#?}");
    assert!(
        conv.iter()
            .any(|t| matches!(t, Turn::Assistant { text, .. } if text == "First answer: 42.")),
        "{conv:#?}"
    );
    let bob = reqs[2].conversation();
    assert!(
        !bob.iter()
            .any(|t| matches!(t, Turn::User(u) if u.contains("42"))),
        "sessions are separate: {bob:#?}"
    );
    if !host.is_kv() {
        assert_eq!(assert_jsonl(&ws, "sessions/alice.jsonl").len(), 4);
        assert_jsonl(&ws, "sessions/bob.jsonl");
    }
}

fn tool_calling_turn_writes_the_workspace(host: Host) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool(
                "write_file",
                json!({"path": "edge/hello.txt", "content": "written over wasi:http\n"}),
            )
            .text("Saved edge/hello.txt."),
    );
    let s = Serve::start(host, &ws, &server);
    let r = s.chat(
        &json!({"messages": [user("save a file")], "user": "tools"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}\n{}\n{}", r.body, s.log(), dump(&server));
    assert_eq!(content(&r.json()), "Saved edge/hello.txt.");
    assert_eq!(
        ws.read("edge/hello.txt").as_deref(),
        Some("written over wasi:http\n")
    );
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 2);
    let results = reqs[1].tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(!is_tool_error(&results[0].1, results[0].2), "{results:?}");
    assert!(s.log().contains("[tool] write_file"), "{}", s.log());
}

/// The edge's tools refuse the session file as the CLI's do: the second
/// turn is told so, and is saved after the first.
fn the_model_cannot_overwrite_its_session(host: Host) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .text("Noted: heron.")
            .tool(
                "write_file",
                json!({"path": "sessions/alice.jsonl", "content": "garbage"}),
            )
            .text("I cannot."),
    );
    let s = Serve::start(host, &ws, &server);
    for (ask, said) in [
        ("The code word is heron.", "Noted: heron."),
        ("Wipe it", "I cannot."),
    ] {
        let r = s.chat(&json!({"messages": [user(ask)], "user": "alice"}), &[]);
        assert_eq!(r.status, 200, "{}\n{}\n{}", r.body, s.log(), dump(&server));
        assert_eq!(content(&r.json()), said);
    }
    let reqs = chats(&server);
    let (result, err) = result_for(&reqs[2], &reqs[1].tool_call_ids[0]);
    assert!(
        is_tool_error(&result, err) && result.contains("belongs to the agent"),
        "{result}"
    );
    if host.is_kv() {
        // The history is in the store: the refused turn's request carried it.
        let users: Vec<String> = reqs[2]
            .conversation()
            .into_iter()
            .filter_map(|t| match t {
                Turn::User(u) => Some(u),
                _ => None,
            })
            .collect();
        assert_eq!(users, ["The code word is heron.", "Wipe it"]);
        return;
    }
    let said: Vec<Value> = assert_jsonl(&ws, "sessions/alice.jsonl");
    let said: Vec<&str> = said.iter().filter_map(|l| l["content"].as_str()).collect();
    assert_eq!(said.len(), 6, "{said:?}");
    assert_eq!(
        said[..3],
        ["The code word is heron.", "Noted: heron.", "Wipe it"]
    );
    assert_eq!(said[5], "I cannot.");
}

fn provider_failure_is_a_502_with_an_openai_error(host: Host) {
    let ws = Workspace::new();
    let dead = format!("{}/v1", wasiclaw_tests::dead_base_url());
    let s = Serve::start_at(host, &ws, &dead, &[]);
    let r = s.chat(&json!({"messages": [user("hi")]}), &[]);
    assert_error_shape(&r, 502, "upstream_error");
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(msg.starts_with("http:"), "{msg}");
    // The server survives the failed turn.
    assert_eq!(s.request("GET", "/healthz", &[], "").status, 200);
    assert!(s.log().contains("wasiclaw: error: http:"), "{}", s.log());
}

/// The official client, installed on demand (scripts/setup installs it too).
fn ensure_openai_package() {
    let importable = |()| {
        Command::new("python3")
            .args(["-c", "import openai"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if importable(()) {
        return;
    }
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "openai"])
        .output()
        .expect("python3 is required (scripts/setup installs it)");
    assert!(
        out.status.success() && importable(()),
        "pip install openai failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const PY_CLIENT: &str = r#"
import sys, openai
client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused-by-wasiclaw", max_retries=0)
r = client.chat.completions.create(model="any", user="py",
    messages=[{"role": "user", "content": "python one"}])
assert r.object == "chat.completion", r
assert r.choices[0].finish_reason == "stop", r
assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens, r
print("A=" + r.choices[0].message.content)
stream = client.chat.completions.create(model="any", user="py", stream=True,
    messages=[{"role": "user", "content": "python two"}])
text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
print("B=" + text)
try:
    client.chat.completions.create(model="any", messages=[])
    print("C=no error")
except openai.BadRequestError as e:
    print("C=400 " + e.body["message"][:40] if isinstance(e.body, dict) else "C=400")
"#;

fn official_openai_python_client(host: Host) {
    ensure_openai_package();
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .text("Hi from wasiclaw, Python.")
            .text("Streamed to Python."),
    );
    let s = Serve::start(host, &ws, &server);
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PY_CLIENT, &s.base()]);
    for k in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        cmd.env_remove(k).env_remove(k.to_lowercase());
    }
    cmd.env("NO_PROXY", "127.0.0.1");
    let out = cmd.output().expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!(
        "{stdout}\n{}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log(),
        dump(&server)
    );
    assert!(out.status.success(), "{report}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"A=Hi from wasiclaw, Python."),
        "{report}"
    );
    assert_eq!(lines.get(1), Some(&"B=Streamed to Python."), "{report}");
    assert!(
        lines.get(2).is_some_and(|l| l.starts_with("C=400")),
        "{report}"
    );
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].stream(), "the agent streams from the provider");
    let conv = reqs[1].conversation();
    assert!(
        conv.iter()
            .any(|t| matches!(t, Turn::User(u) if u == "python one"))
            && conv.iter().any(
                |t| matches!(t, Turn::Assistant { text, .. } if text == "Hi from wasiclaw, Python.")
            ),
        "session 'py' carries the first exchange: {conv:#?}"
    );
}

/// Answers every chat after a pause, so two turns of one session overlap
/// unless the server serialises them.
struct Unhurried;

impl wasiclaw_tests::Responder for Unhurried {
    fn respond(&self, request: &wasiclaw_tests::ChatRequest) -> Option<wasiclaw_tests::Reply> {
        std::thread::sleep(std::time::Duration::from_millis(400));
        Some(wasiclaw_tests::Reply::text(&format!(
            "reply {}",
            request.index
        )))
    }
}

/// Two concurrent requests of one session both land in the session file.
/// `wasiclaw serve` runs them one at a time, so the later turn sees the
/// earlier one; `wasmtime serve` runs them at once, and the agent's save
/// keeps the other turn's messages and adds its own after them.
fn concurrent_turns_of_one_session_both_land(host: Host) {
    let ws = Workspace::new();
    let server = MockServer::bind(0, std::sync::Arc::new(Unhurried)).expect("bind mock");
    let s = Serve::start(host, &ws, &server);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let turns: Vec<_> = ["one", "two"]
            .into_iter()
            .map(|text| {
                let s = &s;
                scope.spawn(move || {
                    s.chat(&json!({"messages": [user(text)], "user": "shared"}), &[])
                        .status
                })
            })
            .collect();
        turns
            .into_iter()
            .map(|t| t.join().expect("request thread"))
            .collect()
    });
    assert_eq!(statuses, [200, 200], "{}", s.log());
    if !host.is_kv() {
        let lines = assert_jsonl(&ws, "sessions/shared.jsonl");
        assert_eq!(lines.len(), 4, "{lines:?}");
        let text: String = lines.iter().map(|l| l.to_string()).collect();
        assert!(
            text.contains("\"one\"") && text.contains("\"two\""),
            "{text}"
        );
    }
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 2);
    if matches!(host, Host::Wasiclaw | Host::WasiclawKv) {
        let users_seen = reqs[1]
            .conversation()
            .iter()
            .filter(|t| matches!(t, Turn::User(_)))
            .count();
        assert_eq!(users_seen, 2, "the later turn carries the earlier one");
    }
}
