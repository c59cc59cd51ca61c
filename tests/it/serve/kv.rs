//! The key-value build, `dist/wasiclaw-kv.wasm`, under the real
//! `wasmtime serve -Skeyvalue`: the edge scenarios that hold within one
//! request, the session read from the store under the documented keys
//! (preset with `-S keyvalue-in-memory-data`), memory kept in the store
//! and not in the workspace, and wasmtime's fresh store per request.

use serde_json::json;
use wasiclaw_tests::{MockServer, Script, Turn};

use super::server::{Host, Serve};
use super::{content, user};
// The scenarios of the edge suite that do not carry state across requests
// (wasmtime serve gives every request a fresh in-memory store).
use super::{
    concurrent_turns_of_one_session_both_land, healthz_routes_and_bad_requests,
    non_streaming_completion_has_the_openai_schema, official_openai_python_client,
    provider_failure_is_a_502_with_an_openai_error,
    session_persists_across_requests_by_user_and_header,
    streaming_completion_reassembles_to_the_reply, the_model_cannot_overwrite_its_session,
    tool_calling_turn_writes_the_workspace,
};
use crate::harness::*;

under_each!(
    [wasmtime_serve_kv = super::Host::WasmtimeKv];
    healthz_routes_and_bad_requests,
    non_streaming_completion_has_the_openai_schema,
    streaming_completion_reassembles_to_the_reply,
    tool_calling_turn_writes_the_workspace,
    provider_failure_is_a_502_with_an_openai_error,
);

// The whole edge suite on the key-value build under `wasiclaw serve
// --store memory`, whose store outlives the request: history carries.
under_each!(
    [wasiclaw_serve_kv = super::Host::WasiclawKv];
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

// The key-value build behind the draft2 adapter (only draft2 imported)
// under `wasiclaw serve`, which implements draft2 too: the scenarios that
// need the store to carry history across requests.
under_each!(
    [wasiclaw_serve_kv_draft2 = super::Host::WasiclawKvDraft2];
    non_streaming_completion_has_the_openai_schema,
    session_persists_across_requests_by_user_and_header,
    tool_calling_turn_writes_the_workspace,
    official_openai_python_client,
    concurrent_turns_of_one_session_both_land,
);

/// The adapted build imports wasi:keyvalue@0.2.0-draft2 and nothing of
/// the draft: it links where only draft2 exists.
#[test]
fn the_draft2_build_imports_only_draft2() {
    let out = std::process::Command::new(cargo_tool("wasm-tools"))
        .args(["component", "wit"])
        .arg(super::server::kv_draft2_wasm())
        .output()
        .expect("run wasm-tools");
    let wit = String::from_utf8_lossy(&out.stdout);
    let kv: Vec<&str> = wit
        .lines()
        .map(str::trim)
        .filter(|l| {
            (l.starts_with("import ") || l.starts_with("export ")) && l.contains("wasi:keyvalue")
        })
        .collect();
    assert_eq!(
        kv,
        [
            "import wasi:keyvalue/store@0.2.0-draft2;",
            "import wasi:keyvalue/atomics@0.2.0-draft2;"
        ],
        "{wit}"
    );
}

/// The session `name` was saved where this host's build keeps sessions: a
/// JSONL file in the workspace, or (key-value build) not in the workspace.
pub fn assert_session_saved(host: Host, ws: &Workspace, name: &str) {
    let file = format!("sessions/{name}.jsonl");
    if host.is_kv() {
        assert!(
            ws.read(&file).is_none() && !ws.path().join("sessions").exists(),
            "the key-value build writes no session files"
        );
    } else {
        assert_jsonl(ws, &file);
    }
}

/// `-S keyvalue-in-memory-data=KEY=VALUE` for each preset.
fn presets(kv: &[(&str, String)]) -> Vec<String> {
    kv.iter()
        .flat_map(|(k, v)| ["-S".to_string(), format!("keyvalue-in-memory-data={k}={v}")])
        .collect()
}

fn start(ws: &Workspace, server: &MockServer, kv: &[(&str, String)]) -> Serve {
    let extra = presets(kv);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    Serve::start_at(Host::WasmtimeKv, ws, &server.openai_base(), &extra)
}

fn users(conv: &[Turn]) -> Vec<&str> {
    conv.iter()
        .filter_map(|t| match t {
            Turn::User(u) => Some(u.as_str()),
            _ => None,
        })
        .collect()
}

/// The turn reads `session/alice/…`: a history preset there (wasmtime's
/// `-S keyvalue-in-memory-data` splits its values at commas, so the preset
/// messages are one-field JSON: a user and an assistant message without
/// text) is what the model is sent before the new message; a number
/// without a record (a turn that died before writing) is skipped silently,
/// a damaged record with a warning naming its key; bob's keys stay apart.
#[test]
fn the_session_is_read_from_the_store_by_its_documented_keys() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("Read from the store."));
    let s = start(
        &ws,
        &server,
        &[
            ("session/alice/seq", "3".into()),
            (
                "session/alice/1",
                "{\"role\":\"user\"}\n{\"role\":\"assistant\"}\n".into(),
            ),
            ("session/alice/3", "not a message".into()),
            ("session/bob/seq", "1".into()),
            ("session/bob/1", "{\"role\":\"user\"}".into()),
        ],
    );
    let r = s.chat(
        &json!({"messages": [user("What did we say?")], "user": "alice"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}\n{}\n{}", r.body, s.log(), dump(&server));
    assert_eq!(content(&r.json()), "Read from the store.");
    let conv = chats(&server)[0].conversation();
    assert_eq!(users(&conv), ["", "What did we say?"], "{conv:#?}");
    assert!(
        conv.iter()
            .any(|t| matches!(t, Turn::Assistant { text, .. } if text.is_empty())),
        "{conv:#?}"
    );
    // The guest's stderr reaches the log on its own thread: wait for it.
    let t0 = std::time::Instant::now();
    while !s.log().contains("warning: session/alice/3 line 1") && t0.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = s.log();
    assert!(
        log.contains("warning: session/alice/3 line 1") && !log.contains("session/alice/2"),
        "{log}"
    );
    assert!(!ws.path().join("sessions").exists());
}

/// A damaged store is a clear 500, not a hang: a counter no session
/// reaches is refused before any record is read.
#[test]
fn a_damaged_session_counter_is_a_500_in_bounded_time() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("unused"));
    let s = start(
        &ws,
        &server,
        &[("session/alice/seq", "18446744073709551615".into())],
    );
    let t0 = std::time::Instant::now();
    let r = s.chat(&json!({"messages": [user("hi")], "user": "alice"}), &[]);
    assert_error_shape_500(&r);
    assert!(t0.elapsed().as_secs() < 10);
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        msg.contains("session/alice/seq") && msg.contains("damaged"),
        "{msg}"
    );
    assert!(chats(&server).is_empty(), "nothing reached the provider");
}

fn assert_error_shape_500(r: &super::server::Resp) {
    super::assert_error_shape(r, 500, "server_error");
}

/// memory_save then memory_search in one turn: the search finds the text
/// through the store (the tools' one bucket for the request), and nothing
/// lands in the workspace's memory/ files.
#[test]
fn memory_lives_in_the_store() {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool(
                "memory_save",
                json!({"text": "The user's cat is called Miso", "tags": ["pets"]}),
            )
            .tool("memory_search", json!({"query": "what is the cat called?"}))
            .text("Your cat is Miso."),
    );
    let s = start(&ws, &server, &[]);
    let r = s.chat(
        &json!({"messages": [user("remember my cat")], "user": "m"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}\n{}\n{}", r.body, s.log(), dump(&server));
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 3, "{}", dump(&server));
    let (saved, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(!err && saved.starts_with("Saved memory #1"), "{saved}");
    let (found, err) = result_for(&reqs[2], &reqs[1].tool_call_ids[0]);
    assert!(
        !err && found.contains("The user's cat is called Miso"),
        "{found}"
    );
    assert!(
        !ws.path().join("memory").exists(),
        "no memory/ in the workspace"
    );
}

/// wasmtime 48 gives each request a fresh in-memory store (its
/// `-Skeyvalue` copies the presets into every bucket it opens), so history
/// does not carry from one request to the next there; the README says so.
/// `wasiclaw serve --store` is the host whose store persists.
#[test]
fn wasmtime_serve_starts_every_request_from_the_presets() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("one").text("two"));
    let s = start(&ws, &server, &[]);
    for ask in ["first", "second"] {
        let r = s.chat(&json!({"messages": [user(ask)], "user": "a"}), &[]);
        assert_eq!(r.status, 200, "{}\n{}", r.body, s.log());
    }
    let second = chats(&server)[1].conversation();
    assert_eq!(users(&second), ["second"], "{second:#?}");
}

/// `wasiclaw serve` refuses, at start and saying what to pass, the
/// key-value build without `--store`, and a `--store` it cannot use.
#[test]
fn wasiclaw_serve_needs_a_usable_store_for_the_key_value_build() {
    let ws = Workspace::new();
    for (extra, says) in [
        (&[][..], "pass --store memory or --store redis://"),
        (
            &["--store", "mysql://db"][..],
            "expected `memory` or `redis://HOST:PORT/DB`",
        ),
        (
            &["--store", "redis://127.0.0.1:9/0"][..],
            "cannot reach redis",
        ),
    ] {
        let mut cmd = std::process::Command::new(wasiclaw_bin());
        cmd.arg("--module")
            .arg(super::server::kv_wasm())
            .arg("--cache-dir")
            .arg(cache_dir())
            .args(["serve", "--listen", "127.0.0.1:0", "--workspace"])
            .arg(ws.path())
            .args(extra);
        let out = run_command(cmd);
        assert_ne!(out.code, Some(0), "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{extra:?}: {}", out.stderr);
    }
}
