//! JavaScript hosts: the Bytecode Alliance's `jco` (npm, pinned in
//! scripts/versions) runs the edge build on Node.js with `jco serve` and a
//! CLI turn with `jco run`. jco 1.35.0 gives a component no preopened
//! directory and has no flag for one, so the workspace is named by
//! `WASICLAW_WORKSPACE` and preopened by `--jco-import
//! scripts/jco-preopen.mjs` (README "JavaScript hosts").

use std::process::Command;

use serde_json::json;
use wasiclaw_tests::{MockServer, Script};

use crate::harness::*;
// The whole edge suite, the official openai client (JSON and SSE) included.
use super::{
    concurrent_turns_of_one_session_both_land, healthz_routes_and_bad_requests,
    non_streaming_completion_has_the_openai_schema, official_openai_python_client,
    provider_failure_is_a_502_with_an_openai_error,
    session_persists_across_requests_by_user_and_header,
    streaming_completion_reassembles_to_the_reply, the_model_cannot_overwrite_its_session,
    tool_calling_turn_writes_the_workspace,
};

under_each!(
    [jco_serve = super::super::Host::Jco];
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

/// `jco run dist/wasiclaw.wasm -m …`: a tool turn against the mock
/// provider writes the workspace named by WASICLAW_WORKSPACE, reads it back
/// and saves the session there; stdout is the reply only.
#[test]
fn jco_run_completes_a_tool_turn() {
    let ws = Workspace::new();
    ws.write("notes/in.txt", "the ferry leaves at 7\n");
    let server = MockServer::start(
        Script::new()
            .tool("read_file", json!({"path": "notes/in.txt"}))
            .tool(
                "write_file",
                json!({"path": "notes/out.txt", "content": "ferry: 7\n"}),
            )
            .text("Copied the ferry time."),
    );
    let mut cmd = Command::new(cargo_tool("jco"));
    cmd.arg("run")
        .arg("--jco-import")
        .arg(repo_root().join("scripts/jco-preopen.mjs"))
        .arg(wasm())
        .args(["-m", "copy the ferry time", "--session", "js"]);
    with_only_env(
        &mut cmd,
        &[
            ("WASICLAW_WORKSPACE".into(), ws.path().display().to_string()),
            ("OPENAI_BASE_URL".into(), server.openai_base()),
            ("OPENAI_API_KEY".into(), OPENAI_KEY.into()),
        ],
    );
    let out = run_command(cmd);
    out.assert_success(&server);
    assert_eq!(out.reply(), "Copied the ferry time.", "{out:?}");
    assert_eq!(ws.read("notes/out.txt").as_deref(), Some("ferry: 7\n"));
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 3, "{}", dump(&server));
    let (read, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(!err && read.contains("the ferry leaves at 7"), "{read}");
    assert_eq!(assert_jsonl(&ws, "sessions/js.jsonl").len(), 6);
}
