//! Whole turns through `wasmtime run dist/wasiclaw.wasm`: answers, tools that
//! change the workspace, memory and sessions across invocations, and both
//! providers, streaming and not.

use serde_json::json;
use wasiclaw_tests::{MockServer, Script, Turn};

use crate::harness::*;

under_each!(
    [
        wasmtime_run = crate::harness::Runner::Wasmtime,
        wasiclaw_run = crate::harness::Runner::Wasiclaw,
        wamr_run = crate::harness::Runner::Wamr,
    ];
    plain_answer_is_exactly_stdout,
    workspace_files_form_the_system_prompt,
    write_then_read_leaves_the_file_on_disk,
    edit_file_replaces_text_and_reports_a_missing_match,
    memory_saved_in_one_run_is_found_in_the_next,
    memory_with_provider_embeddings,
    session_continues_across_invocations,
    path_escapes_are_refused_and_the_turn_completes,
    host_files_cannot_be_rewritten_by_the_model,
    openai_streaming,
    openai_no_stream,
    anthropic_streaming,
    anthropic_no_stream,
    flags_override_environment,
    demo_model_drives_real_tools_across_turns,
);

fn plain_answer_is_exactly_stdout(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("Hello! I am wasiclaw."));
    let out = Agent::on(host, &ws).openai(&server).run("Say hello");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Hello! I am wasiclaw.", "{out}");
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(&*format!("Bearer {OPENAI_KEY}"))
    );
    assert_eq!(r.last_user_text().as_deref(), Some("Say hello"));
    let tools = r.tool_names();
    for t in ALL_TOOLS {
        assert!(
            tools.iter().any(|n| n == t),
            "tool {t} not advertised: {tools:?}"
        );
    }
    assert_eq!(server.remaining(), 0);
    // An unnamed session is `default`.
    assert_jsonl(&ws, "sessions/default.jsonl");
}

fn workspace_files_form_the_system_prompt(host: Runner) {
    let ws = Workspace::new();
    ws.write(
        "AGENTS.md",
        "Always answer like a pirate. marker-agents-7f3a\n",
    );
    ws.write("SOUL.md", "You are calm. marker-soul-91c2\n");
    let server = MockServer::start(Script::new().text("Arr."));
    let out = Agent::on(host, &ws).openai(&server).run("hi");
    out.assert_success(&server);
    let system: String = chats(&server)[0]
        .conversation()
        .into_iter()
        .filter_map(|t| match t {
            Turn::System(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(
        system.contains("marker-agents-7f3a"),
        "AGENTS.md not in system prompt: {system}"
    );
    assert!(
        system.contains("marker-soul-91c2"),
        "SOUL.md not in system prompt: {system}"
    );
}

fn write_then_read_leaves_the_file_on_disk(host: Runner) {
    let ws = Workspace::new();
    let content = "- buy milk\n- ship wasiclaw\n";
    let server = MockServer::start(
        Script::new()
            .tool(
                "write_file",
                json!({"path": "notes/todo.md", "content": content}),
            )
            .tool("read_file", json!({"path": "notes/todo.md"}))
            .text("Your list has 2 items."),
    );
    let out = Agent::on(host, &ws).openai(&server).run("Make a todo list");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Your list has 2 items.", "{out}");
    assert_eq!(ws.read("notes/todo.md").as_deref(), Some(content));
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 3, "{}", dump(&server));
    let (written, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(
        !is_tool_error(&written, err),
        "write_file failed: {written}"
    );
    let (read, err) = result_for(&reqs[2], &reqs[1].tool_call_ids[0]);
    assert!(
        !err && read.contains("ship wasiclaw"),
        "read_file result: {read}"
    );
    // Tool activity is reported on stderr, never mixed into the reply.
    assert!(
        out.stderr.contains("write_file"),
        "no tool activity on stderr\n{out}"
    );
    assert!(!out.stdout.contains("write_file"), "{out}");
}

fn edit_file_replaces_text_and_reports_a_missing_match(host: Runner) {
    let ws = Workspace::new();
    ws.write("config.toml", "name = \"old\"\nport = 8080\n");
    let server = MockServer::start(
        Script::new()
            .tool(
                "edit_file",
                json!({"path": "config.toml", "old_text": "port = 9999", "new_text": "port = 1"}),
            )
            .tool(
                "edit_file",
                json!({"path": "config.toml", "old_text": "\"old\"", "new_text": "\"new\""}),
            )
            .text("Renamed."),
    );
    let out = Agent::on(host, &ws).openai(&server).run("Rename it to new");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Renamed.");
    assert_eq!(
        ws.read("config.toml").as_deref(),
        Some("name = \"new\"\nport = 8080\n")
    );
    let reqs = chats(&server);
    let (miss, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(
        is_tool_error(&miss, err),
        "an edit whose old_text is absent must fail: {miss}"
    );
    let (hit, err) = result_for(&reqs[2], &reqs[1].tool_call_ids[0]);
    assert!(!is_tool_error(&hit, err), "edit failed: {hit}");
}

/// Saves two memories in one invocation and finds the right one in the next.
fn memory_round_trip(host: Runner, embedding_model: Option<&str>) -> (Workspace, MockServer) {
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
    let agent = |ws: &Workspace| {
        let a = Agent::on(host, ws).openai(&server);
        match embedding_model {
            Some(m) => a.env("WASICLAW_EMBEDDING_MODEL", m),
            None => a,
        }
    };
    let first = agent(&ws).run("Remember my favourite colour is teal, and the dentist on Friday");
    first.assert_success(&server);
    assert_eq!(first.reply(), "Noted.");
    let memory = std::fs::read_dir(ws.file("memory"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(memory > 0, "memory/ is empty after memory_save\n{first}");

    let second = agent(&ws).run("What is my favourite colour?");
    second.assert_success(&server);
    assert_eq!(second.reply(), "Teal.");
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 5, "{}", dump(&server));
    let (found, err) = result_for(&reqs[4], &reqs[3].tool_call_ids[0]);
    assert!(
        !err && found.to_lowercase().contains("teal"),
        "memory_search did not return the saved memory: {found}"
    );
    assert!(
        !found.contains("dentist"),
        "k=1 must return only the closest memory: {found}"
    );
    (ws, server)
}

fn memory_saved_in_one_run_is_found_in_the_next(host: Runner) {
    let (_ws, server) = memory_round_trip(host, None);
    assert!(
        server.embedding_requests().is_empty(),
        "the local embedder must not call the network"
    );
}

fn memory_with_provider_embeddings(host: Runner) {
    let (_ws, server) = memory_round_trip(host, Some("mock-embed-1"));
    let emb = server.embedding_requests();
    assert!(
        emb.len() >= 3,
        "expected embeddings for two saves and one search: {}",
        dump(&server)
    );
    for r in &emb {
        assert_eq!(r.path, "/v1/embeddings");
        assert_eq!(
            r.json.as_ref().and_then(|j| j["model"].as_str()),
            Some("mock-embed-1")
        );
    }
}

fn session_continues_across_invocations(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool("write_file", json!({"path": "name.txt", "content": "Ada"}))
            .text("Nice to meet you, Ada.")
            .text("Your name is Ada.")
            .text("I don't know yet."),
    );
    let a = Agent::on(host, &ws)
        .openai(&server)
        .session("chat")
        .run("My name is Ada.");
    a.assert_success(&server);
    let b = Agent::on(host, &ws)
        .openai(&server)
        .session("chat")
        .run("What is my name?");
    b.assert_success(&server);
    assert_eq!(b.reply(), "Your name is Ada.");
    let reqs = chats(&server);
    let conv = reqs[2].conversation();
    let pos = |want: &Turn| conv.iter().position(|t| t == want);
    let user1 = pos(&Turn::User("My name is Ada.".into()));
    let answer1 = conv.iter().position(
        |t| matches!(t, Turn::Assistant { text, .. } if text == "Nice to meet you, Ada."),
    );
    let user2 = pos(&Turn::User("What is my name?".into()));
    assert!(
        matches!((user1, answer1, user2), (Some(x), Some(y), Some(z)) if x < y && y < z),
        "the second turn must carry the first exchange: {conv:#?}"
    );
    let lines = assert_jsonl(&ws, "sessions/chat.jsonl");
    let all = lines.iter().map(|l| l.to_string()).collect::<String>();
    assert!(
        all.contains("My name is Ada.") && all.contains("What is my name?"),
        "{all}"
    );
    assert!(
        all.contains("Your name is Ada."),
        "the final answer is not in the session: {all}"
    );

    // Another session starts empty.
    let c = Agent::on(host, &ws)
        .openai(&server)
        .session("other")
        .run("Who am I?");
    c.assert_success(&server);
    let conv = chats(&server)[3].conversation();
    assert!(
        !conv.contains(&Turn::User("My name is Ada.".into())),
        "sessions leaked: {conv:#?}"
    );
    assert_jsonl(&ws, "sessions/other.jsonl");
}

fn path_escapes_are_refused_and_the_turn_completes(host: Runner) {
    let ws = Workspace::new();
    std::fs::write(
        ws.outside().join("outside.txt"),
        "TOP SECRET outside the workspace",
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(ws.outside(), ws.file("up")).unwrap();
    let server = MockServer::start(
        Script::new()
            .tool("read_file", json!({"path": "../outside.txt"}))
            .tool("read_file", json!({"path": "/etc/passwd"}))
            .tool(
                "write_file",
                json!({"path": "../escaped.txt", "content": "pwned"}),
            )
            .tool("read_file", json!({"path": "up/outside.txt"}))
            .tool("read_file", json!({"path": "nothing/../up/outside.txt"}))
            .tool("list_dir", json!({"path": ".."}))
            .text("I cannot access files outside the workspace."),
    );
    let out = Agent::on(host, &ws)
        .openai(&server)
        .run("Show me the secrets");
    out.assert_success(&server);
    assert_eq!(out.reply(), "I cannot access files outside the workspace.");
    assert!(
        !ws.outside().join("escaped.txt").exists(),
        "write_file escaped the workspace"
    );
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 7, "{}", dump(&server));
    // Messages name workspace paths only, never where the workspace is.
    let host_path = ws.outside().to_string_lossy().into_owned();
    for (i, pair) in reqs.windows(2).enumerate() {
        let (content, err) = result_for(&pair[1], &pair[0].tool_call_ids[0]);
        assert!(
            is_tool_error(&content, err),
            "call #{i} was not refused: {content}"
        );
        assert!(
            !content.contains("TOP SECRET") && !content.contains("root:"),
            "leaked: {content}"
        );
        assert!(!content.contains(&host_path), "host path shown: {content}");
    }
}

/// One tool round trip on a provider, checking its wire format end to end.
fn provider_round_trip(host: Runner, anthropic: bool, stream: bool) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool(
                "write_file",
                json!({"path": "p.txt", "content": "written through the provider"}),
            )
            .text("Wrote it. ✓"),
    );
    let agent = Agent::on(host, &ws);
    let agent = if anthropic {
        agent.anthropic(&server)
    } else {
        agent.openai(&server)
    };
    let agent = if stream { agent } else { agent.no_stream() };
    let out = agent.run("Write p.txt");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Wrote it. ✓", "{out}");
    assert_eq!(
        ws.read("p.txt").as_deref(),
        Some("written through the provider")
    );
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
    let (result, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(!is_tool_error(&result, err), "{result}");
}

fn openai_streaming(host: Runner) {
    provider_round_trip(host, false, true);
}

fn openai_no_stream(host: Runner) {
    provider_round_trip(host, false, false);
}

fn anthropic_streaming(host: Runner) {
    provider_round_trip(host, true, true);
}

fn anthropic_no_stream(host: Runner) {
    provider_round_trip(host, true, false);
}

fn flags_override_environment(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("one").text("two"));
    let out = Agent::on(host, &ws)
        .openai(&server)
        .env("WASICLAW_MODEL", "env-model")
        .run("hi");
    out.assert_success(&server);
    let out = Agent::on(host, &ws)
        .openai(&server)
        .env("ANTHROPIC_BASE_URL", &server.anthropic_base())
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .env("WASICLAW_PROVIDER", "openai")
        .env("WASICLAW_MODEL", "env-model")
        .arg("--provider")
        .arg("anthropic")
        .arg("--model")
        .arg("flag-model")
        .run("hi");
    out.assert_success(&server);
    assert_eq!(out.reply(), "two");
    let reqs = chats(&server);
    assert_eq!(
        reqs[0].json.as_ref().and_then(|j| j["model"].as_str()),
        Some("env-model")
    );
    assert_eq!(
        reqs[1].path, "/v1/messages",
        "--provider must win over WASICLAW_PROVIDER"
    );
    assert_eq!(
        reqs[1].json.as_ref().and_then(|j| j["model"].as_str()),
        Some("flag-model")
    );
}

/// What `scripts/demo` does, twice in one session: the demo model must drive
/// the real tools from the conversation state on every turn.
fn demo_model_drives_real_tools_across_turns(host: Runner) {
    use std::sync::Arc;
    use wasiclaw_tests::demo::{DemoModel, DEMO_LABEL};

    let ws = Workspace::new();
    let server = MockServer::bind(0, Arc::new(DemoModel::default())).expect("bind demo model");
    for message in ["Hello from wasiclaw", "Second turn works too"] {
        let out = Agent::on(host, &ws)
            .openai(&server)
            .session("demo")
            .run(message);
        out.assert_success(&server);
        let reply = out.reply();
        assert!(reply.starts_with(DEMO_LABEL), "{out}");
        assert!(
            reply.contains("really ran"),
            "the note did not read back\n{out}"
        );
        let note = wasiclaw_tests::demo::note_path(message);
        assert!(
            ws.read(&note).is_some_and(|n| n.contains(message)),
            "{note} not written"
        );
    }
    // 4 requests per turn: write, read, save, answer.
    assert_eq!(chats(&server).len(), 8, "{}", dump(&server));
    assert_jsonl(&ws, "sessions/demo.jsonl");
}

/// The policy (`wasiclaw.json`, whose `host` section the native host reads)
/// and the usage ledger are the host's: a model cannot widen its own sandbox
/// or reset its budget for the next run, directly or through a symlink.
fn host_files_cannot_be_rewritten_by_the_model(host: Runner) {
    let ws = Workspace::new();
    let policy = r#"{"host": {"memory_limit_mib": 64}}"#;
    ws.write("wasiclaw.json", policy);
    #[cfg(unix)]
    std::os::unix::fs::symlink("usage.jsonl", ws.file("ledger")).unwrap();
    let server = MockServer::start(
        Script::new()
            .tool(
                "write_file",
                json!({"path": "wasiclaw.json", "content": "{\"host\": {\"allow_hosts\": [\"*\"]}}"}),
            )
            .tool(
                "edit_file",
                json!({"path": "./wasiclaw.json", "old_text": "64", "new_text": "4096"}),
            )
            .tool("write_file", json!({"path": "ledger", "content": ""}))
            .tool("read_file", json!({"path": "wasiclaw.json"}))
            .text("The host's files are read-only to me."),
    );
    let out = Agent::on(host, &ws).openai(&server).run("Lift your limits");
    out.assert_success(&server);
    assert_eq!(ws.read("wasiclaw.json").as_deref(), Some(policy));
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 5, "{}", dump(&server));
    for (i, pair) in reqs[..4].windows(2).enumerate() {
        let (content, err) = result_for(&pair[1], &pair[0].tool_call_ids[0]);
        assert!(
            is_tool_error(&content, err),
            "call #{i} was allowed: {content}"
        );
        assert!(content.contains("belongs to the host"), "{content}");
    }
    let (content, err) = result_for(&reqs[4], &reqs[3].tool_call_ids[0]);
    assert!(!err && content.contains("memory_limit_mib"), "{content}");
}
