use wasiclaw_json::Value;

use super::{replies, FakeClock, FakeHttp, FakeTools, Recorder, Scripted, TempDir};
use crate::agent::{run_turn, Env, TurnOutput};
use crate::config::Config;
use crate::error::AgentError;
use crate::message::{Message, Role, Usage};
use crate::provider::{Endpoint, ProviderKind};
use crate::session;

fn config(kind: ProviderKind, stream: bool) -> Config {
    Config {
        endpoint: Endpoint {
            kind,
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: None,
        },
        model: "test-model".into(),
        max_iterations: 5,
        stream,
        context_tokens: 32_000,
        max_tokens: 100,
        timeout_secs: 10,
        mcp: Vec::new(),
        consolidate_percent: 50,
    }
}

struct Run {
    result: Result<TurnOutput, AgentError>,
    http: FakeHttp,
    tools: FakeTools,
    log: Vec<String>,
    sink: Recorder,
}

fn run(cfg: &Config, ws: &TempDir, replies: Vec<Scripted>, session: &str, msg: &str) -> Run {
    let mut http = FakeHttp::new(replies.into_iter().map(Ok).collect());
    let mut clock = FakeClock {
        now: 1_700_000_000,
        sleeps: vec![],
    };
    let mut tools = FakeTools::default();
    let mut files = ws.files();
    let mut log = Vec::new();
    let mut push = |l: &str| log.push(l.to_string());
    let mut sink = Recorder::default();
    let mut env = Env {
        http: &mut http,
        clock: &mut clock,
        tools: &mut tools,
        files: &mut files,
        kv: None,
        workspace: "/workspace",
        log: &mut push,
    };
    let result = run_turn(cfg, &mut env, session, msg, &mut sink);
    Run {
        result,
        http,
        tools,
        log,
        sink,
    }
}

fn json(s: String) -> Scripted {
    Scripted::json(200, &s)
}

fn saved(ws: &TempDir, name: &str) -> Vec<Message> {
    session::load(&mut ws.files(), name, &mut |w| {
        panic!("unexpected warning {w}")
    })
    .unwrap()
    .0
}

fn request_messages(http: &FakeHttp, i: usize) -> Vec<Value> {
    http.requests[i]
        .json()
        .get("messages")
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn tool_call_result_then_answer() {
    let ws = TempDir::new();
    let cfg = config(ProviderKind::OpenAi, false);
    let r = run(
        &cfg,
        &ws,
        vec![
            json(replies::openai_calls(&[
                ("c1", "echo", r#"{"text": "hi"}"#),
                ("c2", "deny", "{}"),
            ])),
            json(replies::openai_text("All done.")),
        ],
        "",
        "please echo",
    );
    let out = r.result.unwrap();
    assert_eq!(out.text, "All done.");
    assert_eq!(out.tool_calls, 2);
    assert_eq!(
        out.usage,
        Usage {
            input_tokens: 31,
            output_tokens: 10
        }
    );
    assert_eq!(
        r.tools.calls,
        vec![
            ("echo".to_string(), r#"{"text":"hi"}"#.to_string()),
            ("deny".into(), "{}".into())
        ]
    );
    assert_eq!(
        r.log,
        vec![r#"[tool] echo {"text":"hi"}"#, "[tool] deny {}"]
    );
    // The second request carries both results, the denial as an error text.
    let msgs = request_messages(&r.http, 1);
    let tail: Vec<String> = msgs[msgs.len() - 2..].iter().map(Value::to_json).collect();
    assert_eq!(
        tail,
        vec![
            r#"{"role":"tool","tool_call_id":"c1","content":"echo {\"text\":\"hi\"}"}"#,
            r#"{"role":"tool","tool_call_id":"c2","content":"error: denied: outside the workspace"}"#,
        ]
    );
    assert_eq!(
        r.sink.events,
        vec!["done:false", "text:All done.", "done:true"]
    );
    let s = saved(&ws, "default");
    assert_eq!(s.len(), 5);
    assert_eq!(s[0], Message::user("please echo"));
    assert_eq!(s[1].tool_calls.len(), 2);
    assert!(s[3].is_error && s[3].content.starts_with("error: denied"));
    assert_eq!(s[4].content, "All done.");
}

#[test]
fn bad_arguments_and_unknown_tools_go_back_to_the_model() {
    let ws = TempDir::new();
    let cfg = config(ProviderKind::OpenAi, false);
    let r = run(
        &cfg,
        &ws,
        vec![
            json(replies::openai_calls(&[
                ("c1", "echo", r#"{"text": "#),
                ("c2", "nope", ""),
            ])),
            json(replies::openai_text("Sorry.")),
        ],
        "s1",
        "go",
    );
    assert_eq!(r.result.unwrap().text, "Sorry.");
    // Malformed JSON never reaches the tool; the unknown tool gets `{}`.
    assert_eq!(r.tools.calls, vec![("nope".to_string(), "{}".to_string())]);
    let msgs = request_messages(&r.http, 1);
    let c1 = msgs[msgs.len() - 2]
        .get("content")
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        c1.starts_with("error: invalid arguments: invalid JSON at byte 9: unexpected end"),
        "{c1}"
    );
    let c2 = msgs[msgs.len() - 1]
        .get("content")
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(c2, "error: unknown tool: nope");
    assert_eq!(r.log[0], r#"[tool] echo {"text": "#);
}

#[test]
fn max_iterations_is_an_error_and_the_session_is_saved() {
    let ws = TempDir::new();
    let mut cfg = config(ProviderKind::OpenAi, false);
    cfg.max_iterations = 2;
    let call = || json(replies::openai_calls(&[("c", "echo", "{}")]));
    let r = run(&cfg, &ws, vec![call(), call(), call()], "loop", "spin");
    assert_eq!(r.result, Err(AgentError::MaxIterations(2)));
    assert_eq!(r.http.requests.len(), 2);
    let s = saved(&ws, "loop");
    let roles: Vec<Role> = s.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        vec![
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::Assistant,
            Role::Tool
        ]
    );
}

#[test]
fn failed_turn_leaves_the_previous_session_intact() {
    let ws = TempDir::new();
    let cfg = config(ProviderKind::OpenAi, false);
    let first = run(
        &cfg,
        &ws,
        vec![json(replies::openai_text("one"))],
        "keep",
        "first",
    );
    assert!(first.result.is_ok());
    let before = ws.read("sessions/keep.jsonl").unwrap();
    let r = run(
        &cfg,
        &ws,
        vec![
            json(replies::openai_calls(&[("c", "echo", "{}")])),
            Scripted::json(400, r#"{"error":{"message":"context too long"}}"#),
        ],
        "keep",
        "second",
    );
    match r.result {
        Err(AgentError::Provider(m)) => assert!(m.contains("context too long"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ws.read("sessions/keep.jsonl").unwrap(), before);
    // And the history was sent on the failed turn: first turn + new message.
    let msgs = request_messages(&r.http, 0);
    assert_eq!(msgs[1].get("content").unwrap().as_str(), Some("first"));
    assert_eq!(msgs[2].get("content").unwrap().as_str(), Some("one"));
    assert_eq!(msgs[3].get("content").unwrap().as_str(), Some("second"));
}

#[test]
fn anthropic_streaming_loop() {
    let ws = TempDir::new();
    let cfg = config(ProviderKind::Anthropic, true);
    let sse = |blocks: &str, text: &str| {
        format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"usage\":{{\"input_tokens\":10,\"output_tokens\":1}}}}}}\n\n\
             event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\n\n\
             event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}}\n\n\
             {blocks}\
             event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{}},\"usage\":{{\"output_tokens\":4}}}}\n\n\
             event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
        )
    };
    let tool = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu\",\"name\":\"echo\",\"input\":{}}}\n\n\
                event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":1}\"}}\n\n";
    let r = run(
        &cfg,
        &ws,
        vec![
            Scripted::sse(&sse(tool, "Looking."), 5),
            Scripted::sse(&sse("", "Found it."), 3),
        ],
        "c",
        "find",
    );
    let out = r.result.unwrap();
    assert_eq!(out.text, "Found it.");
    assert_eq!(
        out.usage,
        Usage {
            input_tokens: 20,
            output_tokens: 8
        }
    );
    let shown: String = r
        .sink
        .events
        .iter()
        .filter_map(|e| e.strip_prefix("text:"))
        .collect();
    assert_eq!(shown, "Looking.Found it.");
    assert_eq!(r.sink.events.last().map(String::as_str), Some("done:true"));
    assert!(r.sink.events.contains(&"done:false".to_string()));
    assert_eq!(
        r.tools.calls,
        vec![("echo".to_string(), r#"{"a":1}"#.to_string())]
    );
    let second = r.http.requests[1].json();
    let msgs = second.get("messages").unwrap().as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(
        msgs[2].to_json(),
        r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu","content":"echo {\"a\":1}"}]}"#
    );
}

#[test]
fn system_prompt_has_preamble_and_bootstrap_files() {
    let ws = TempDir::new();
    ws.write("AGENTS.md", "Always answer in French.");
    ws.write("MEMORY.md", "User's cat is called Tom.\n");
    let r = run(
        &config(ProviderKind::OpenAi, false),
        &ws,
        vec![json(replies::openai_text("ok"))],
        "",
        "hi",
    );
    assert!(r.result.is_ok());
    let msgs = request_messages(&r.http, 0);
    let sys = msgs[0].get("content").unwrap().as_str().unwrap();
    assert!(sys.contains("2023-11-14 22:13 UTC"), "{sys}");
    assert!(sys.contains("Workspace: /workspace"));
    assert!(sys.contains("## AGENTS.md\n\nAlways answer in French."));
    assert!(sys.contains("## MEMORY.md\n\nUser's cat is called Tom."));
    assert!(!sys.contains("SOUL.md"));
    assert!(sys.find("AGENTS.md").unwrap() < sys.find("MEMORY.md").unwrap());
}

#[test]
fn invalid_session_name_is_a_session_error() {
    let ws = TempDir::new();
    let r = run(
        &config(ProviderKind::OpenAi, false),
        &ws,
        vec![],
        "../etc",
        "hi",
    );
    assert!(matches!(r.result, Err(AgentError::Session(_))));
    assert!(r.http.requests.is_empty());
}

#[test]
fn a_damaged_first_line_costs_only_itself() {
    // Line 1 (the user's question) is damaged; the assistant's answer after
    // it is sent behind a note standing in for the lost start, and stays in
    // the file, now and after the next turn.
    let ws = TempDir::new();
    let answer = Message::assistant("The capital is Paris.", vec![]);
    ws.write(
        "sessions/s.jsonl",
        &format!("{{\"role\":\"user\",\"con\n{}\n", answer.to_json()),
    );
    let cfg = config(ProviderKind::OpenAi, false);
    let r = run(
        &cfg,
        &ws,
        vec![json(replies::openai_text("Yes."))],
        "s",
        "Sure?",
    );
    r.result.unwrap();
    assert!(r.log.iter().any(|l| l.contains("line 1")), "{:?}", r.log);
    let sent: Vec<(String, String)> = request_messages(&r.http, 0)
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) != Some("system"))
        .map(|m| {
            let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (field("role"), field("content"))
        })
        .collect();
    let pair = |r: &str, c: &str| (r.to_string(), c.to_string());
    assert_eq!(
        sent,
        [
            pair("user", session::LOST_START),
            pair("assistant", "The capital is Paris."),
            pair("user", "Sure?"),
        ]
    );
    assert_eq!(
        saved(&ws, "s"),
        [
            answer,
            Message::user("Sure?"),
            Message::assistant("Yes.", vec![])
        ]
    );
}
