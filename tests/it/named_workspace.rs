//! `WASICLAW_WORKSPACE`: a host that cannot mount the workspace at
//! /workspace (jco on Node.js), or that preopens a parent directory, names
//! the workspace by its guest path, and the agent and its tools confine
//! themselves to it. Here under `wasmtime run` with the workspace's parent
//! preopened at /srv.

use std::process::Command;

use serde_json::json;
use wasiclaw_tests::{MockServer, Script, Turn};

use crate::harness::*;

fn run_named(ws: &Workspace, server: &MockServer, named: &str, message: &str) -> Output {
    let mut cmd = Command::new(wasmtime());
    cmd.args(["run", "-S", "http", "--dir"])
        .arg(format!("{}::/srv", ws.outside().display()))
        .arg("--env")
        .arg(format!("WASICLAW_WORKSPACE={named}"))
        .arg("--env")
        .arg(format!("OPENAI_BASE_URL={}", server.openai_base()))
        .arg("--env")
        .arg(format!("OPENAI_API_KEY={OPENAI_KEY}"))
        .arg(wasm())
        .args(["-m", message, "--no-stream"]);
    with_only_env(&mut cmd, &[]);
    run_command(cmd)
}

/// The workspace is the named directory inside the preopen: files land
/// there, the model is told its path, and the rest of the preopen (the
/// parent) stays out of reach.
#[test]
fn a_named_workspace_inside_a_preopened_parent_confines_the_agent() {
    let ws = Workspace::new();
    std::fs::write(ws.outside().join("secret.txt"), "outside\n").expect("write");
    let server = MockServer::start(
        Script::new()
            .tool(
                "write_file",
                json!({"path": "note.txt", "content": "inside\n"}),
            )
            .tool("read_file", json!({"path": "/srv/secret.txt"}))
            .text("Done."),
    );
    let name = format!(
        "/srv/{}",
        ws.path()
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
    );
    let out = run_named(&ws, &server, &name, "write a note");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Done.");
    assert_eq!(ws.read("note.txt").as_deref(), Some("inside\n"));
    assert!(
        ws.read("sessions/default.jsonl").is_some(),
        "the session is in the workspace"
    );
    let reqs = chats(&server);
    let (escape, err) = result_for(&reqs[2], &reqs[1].tool_call_ids[0]);
    assert!(
        is_tool_error(&escape, err) && !escape.contains("outside\n"),
        "{escape}"
    );
    let system: String = reqs[0]
        .conversation()
        .iter()
        .filter_map(|t| match t {
            Turn::System(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert!(
        system.contains(&name),
        "the model is told its workspace: {system}"
    );
}

/// A name outside every preopen, or one with `..`, is a clear error before
/// anything reaches the provider.
#[test]
fn a_workspace_name_outside_the_preopens_is_refused() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("unused"));
    for named in ["/elsewhere/ws", "/srv/x/../.."] {
        let out = run_named(&ws, &server, named, "hi");
        out.assert_runtime_error();
        assert!(
            out.stderr.contains(&format!(
                "WASICLAW_WORKSPACE={named}: not inside any preopened directory"
            )),
            "{out:?}"
        );
    }
    assert!(server.requests().is_empty());
}
