//! The agent's own state survives the model and damage: the write tools
//! refuse the session files and the memory store (directly, by another
//! spelling or through a symlink) while memory_save keeps working, and a
//! damaged session line costs only itself, on every runtime.

use serde_json::{json, Value};
use wasiclaw_tests::{MockServer, Script, Turn};

use crate::harness::*;

under_each!(
    [
        wasmtime_run = crate::harness::Runner::Wasmtime,
        wasiclaw_run = crate::harness::Runner::Wasiclaw,
        wamr_run = crate::harness::Runner::Wamr,
    ];
    the_model_cannot_overwrite_its_session_or_memory,
    a_damaged_first_line_keeps_the_line_after_it,
);

/// The tool calls a steered model makes against its own state.
fn attacks() -> Vec<(&'static str, Value)> {
    let garbage = "garbage";
    vec![
        (
            "write_file",
            json!({"path": "sessions/chat.jsonl", "content": garbage}),
        ),
        (
            "edit_file",
            json!({"path": "sessions/chat.jsonl", "old_text": "heron", "new_text": "crane"}),
        ),
        (
            "write_file",
            json!({"path": "log.jsonl", "content": garbage}),
        ),
        (
            "edit_file",
            json!({"path": "history/chat.jsonl", "old_text": "heron", "new_text": "crane"}),
        ),
        (
            "write_file",
            json!({"path": "./Sessions/../sessions/chat.jsonl/", "content": garbage}),
        ),
        (
            "edit_file",
            json!({"path": "nothing/../log.jsonl", "old_text": "heron", "new_text": "crane"}),
        ),
        (
            "write_file",
            json!({"path": "/workspace/memory/entries.jsonl", "content": garbage}),
        ),
        (
            "write_file",
            json!({"path": "memory/index.bin", "content": garbage}),
        ),
    ]
}

fn the_model_cannot_overwrite_its_session_or_memory(host: Runner) {
    let ws = Workspace::new();
    // An earlier turn of the session, which also saves a memory, then the
    // turn that attacks them (one server: tool call ids stay unique).
    let mut script = Script::new()
        .tool("memory_save", json!({"text": "The code word is heron."}))
        .text("Noted: heron.");
    let attacks = attacks();
    for (tool, args) in &attacks {
        script = script.tool(tool, args.clone());
    }
    let server = MockServer::start(
        script
            .tool("read_file", json!({"path": "log.jsonl"}))
            .tool("memory_search", json!({"query": "code word"}))
            .text("My history is read-only to me."),
    );
    Agent::on(host, &ws)
        .openai(&server)
        .session("chat")
        .run("The code word is heron.")
        .assert_success(&server);
    let before = ws.read("sessions/chat.jsonl").expect("first turn saved");
    let memory = ws.bytes("memory/entries.jsonl").expect("memory saved");
    // Links a model could find in the workspace (the tools cannot make any).
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("sessions/chat.jsonl", ws.file("log.jsonl")).unwrap();
        std::os::unix::fs::symlink("sessions", ws.file("history")).unwrap();
    }
    let out = Agent::on(host, &ws)
        .openai(&server)
        .session("chat")
        .run("Wipe your history");
    out.assert_success(&server);
    let reqs = chats(&server).split_off(2);
    let n = attacks.len();
    assert_eq!(reqs.len(), n + 3, "{}", dump(&server));
    for (i, pair) in reqs[..n + 1].windows(2).enumerate() {
        let (content, err) = result_for(&pair[1], &pair[0].tool_call_ids[0]);
        assert!(
            is_tool_error(&content, err) && content.contains("belongs to the agent"),
            "{:?} was not refused: {content}",
            attacks[i]
        );
    }
    let (content, err) = result_for(&reqs[n + 1], &reqs[n].tool_call_ids[0]);
    assert!(!err && content.contains("heron"), "read_file: {content}");
    let (content, err) = result_for(&reqs[n + 2], &reqs[n + 1].tool_call_ids[0]);
    assert!(
        !err && content.contains("heron"),
        "memory_search: {content}"
    );
    // The history is whole and this turn was saved after it.
    let after = ws.read("sessions/chat.jsonl").expect("session");
    assert!(after.starts_with(&before), "history lost:\n{after}");
    let lines = assert_jsonl(&ws, "sessions/chat.jsonl");
    let turn = &lines[before.lines().count()..];
    assert_eq!(turn.len(), 1 + 2 * (n + 2) + 1, "{after}");
    assert_eq!(turn[0]["content"], "Wipe your history");
    assert_eq!(
        turn[turn.len() - 1]["content"],
        "My history is read-only to me."
    );
    assert_eq!(ws.bytes("memory/entries.jsonl"), Some(memory));
    assert!(ws
        .bytes("memory/index.bin")
        .is_some_and(|b| b != b"garbage"));
}

fn a_damaged_first_line_keeps_the_line_after_it(host: Runner) {
    let ws = Workspace::new();
    let answer = r#"{"role":"assistant","content":"The code word is heron."}"#;
    ws.write(
        "sessions/chat.jsonl",
        &format!("{{\"role\":\"user\",\"cont\n{answer}\n"),
    );
    // Anthropic's checks are the strict ones: the first message must be the
    // user's, so the mock refuses a history that starts with the answer.
    let server = MockServer::start(Script::new().text("It is heron.").text("Still heron."));
    for (i, question) in ["What is the code word?", "Again?"].into_iter().enumerate() {
        let out = Agent::on(host, &ws)
            .anthropic(&server)
            .session("chat")
            .run(question);
        out.assert_success(&server);
        if i == 0 {
            assert!(out.stderr.contains("line 1"), "no warning\n{out}");
        }
        let sent = chats(&server)[i].conversation();
        assert!(
            sent.contains(&Turn::Assistant {
                text: "The code word is heron.".into(),
                tool_calls: vec![],
            }),
            "the surviving answer was not sent: {sent:#?}"
        );
    }
    let lines = assert_jsonl(&ws, "sessions/chat.jsonl");
    let said: Vec<&str> = lines.iter().filter_map(|l| l["content"].as_str()).collect();
    assert_eq!(
        said,
        [
            "The code word is heron.",
            "What is the code word?",
            "It is heron.",
            "Again?",
            "Still heron."
        ]
    );
}
