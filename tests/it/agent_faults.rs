//! Things going wrong: bad tool calls the model must hear about, transient
//! provider failures the agent retries through, and hard failures that end
//! the turn with one clear line and an untouched session.

use std::time::Duration;

use serde_json::json;
use wasiclaw_tests::{dead_base_url, Fault, MockServer, Script, ToolCall};

use crate::harness::*;

under_each!(
    [
        wasmtime_run = crate::harness::Runner::Wasmtime,
        wasiclaw_run = crate::harness::Runner::Wasiclaw,
        wamr_run = crate::harness::Runner::Wamr,
    ];
    invalid_tool_arguments_go_back_to_the_model,
    invalid_tool_arguments_on_anthropic_stream,
    unknown_tool_goes_back_to_the_model,
    truncated_stream_is_retried,
    truncated_body_is_retried,
    server_error_is_retried,
    closed_connection_is_retried,
    rate_limit_honours_retry_after,
    rate_limit_on_anthropic_is_retried,
    persistent_server_errors_fail_cleanly,
    persistent_malformed_bodies_fail_cleanly,
    dead_server_fails_cleanly,
    max_iterations_stops_a_looping_model,
    no_provider_configured_is_a_clear_error,
    missing_key_against_a_keyed_server_fails_once_and_clearly,
    persistent_truncation_fails_with_one_line,
    help_exits_zero_and_bad_flags_exit_two,
);

fn invalid_tool_arguments_go_back_to_the_model(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool_raw("write_file", "{\"path\": \"x.txt\", \"content\": ")
            .text("Sorry, my arguments were broken."),
    );
    let out = Agent::on(host, &ws).openai(&server).run("write x");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Sorry, my arguments were broken.");
    assert!(!ws.file("x.txt").exists());
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 2, "{}", dump(&server));
    let (content, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(
        is_tool_error(&content, err),
        "invalid JSON arguments were not reported: {content}"
    );
}

fn invalid_tool_arguments_on_anthropic_stream(host: Runner) {
    // Streamed input_json_delta fragments that never form JSON: the history
    // sent back must still be a valid Anthropic request (tool_use input is an
    // object) and carry the error as the tool_result.
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool_raw("read_file", "{\"path\": \"a.txt\"")
            .text("Recovered."),
    );
    let out = Agent::on(host, &ws).anthropic(&server).run("read a");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Recovered.");
    let reqs = chats(&server);
    let (content, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(is_tool_error(&content, err), "{content}");
}

fn unknown_tool_goes_back_to_the_model(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tools(
                "",
                vec![
                    ToolCall::new("launch_rockets", json!({"target": "moon"})),
                    ToolCall::new("list_dir", json!({"path": "."})),
                ],
            )
            .text("No rockets today."),
    );
    let out = Agent::on(host, &ws).openai(&server).run("launch");
    out.assert_success(&server);
    assert_eq!(out.reply(), "No rockets today.");
    let reqs = chats(&server);
    let ids = &reqs[0].tool_call_ids;
    let (unknown, err) = result_for(&reqs[1], &ids[0]);
    assert!(
        is_tool_error(&unknown, err) && unknown.contains("launch_rockets"),
        "{unknown}"
    );
    // The valid call of the same message still ran.
    let (listed, err) = result_for(&reqs[1], &ids[1]);
    assert!(!is_tool_error(&listed, err), "{listed}");
}

/// A transient fault, then an answer: the turn succeeds with exactly that
/// answer (nothing of the failed attempt leaks to stdout).
fn recovers_from(host: Runner, fault: Fault, stream: bool) -> (Output, MockServer) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .fault(fault.clone())
            .text("Recovered after a fault."),
    );
    let agent = Agent::on(host, &ws).openai(&server);
    let out = if stream { agent } else { agent.no_stream() }.run("hi");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Recovered after a fault.", "{fault:?}\n{out}");
    assert_eq!(chats(&server).len(), 2, "{}", dump(&server));
    (out, server)
}

fn truncated_stream_is_retried(host: Runner) {
    recovers_from(host, Fault::TruncatedStream, true);
}

fn truncated_body_is_retried(host: Runner) {
    recovers_from(host, Fault::TruncatedStream, false);
}

fn server_error_is_retried(host: Runner) {
    recovers_from(host, Fault::Status(500), true);
}

fn closed_connection_is_retried(host: Runner) {
    recovers_from(host, Fault::Close, true);
}

fn rate_limit_honours_retry_after(host: Runner) {
    let (_, server) = recovers_from(
        host,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        true,
    );
    let reqs = server.chat_requests();
    let waited = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}, Retry-After said 1s"
    );
}

fn rate_limit_on_anthropic_is_retried(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .fault(Fault::RateLimited {
                retry_after_secs: 0,
            })
            .fault(Fault::Status(529))
            .text("Fine now."),
    );
    let out = Agent::on(host, &ws).anthropic(&server).run("hi");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Fine now.");
}

/// A session with one good exchange, and its bytes.
fn assert_session_unchanged(ws: &Workspace, before: Vec<u8>) {
    assert_eq!(
        ws.bytes("sessions/s.jsonl"),
        Some(before),
        "a failed turn changed the session"
    );
}

fn seeded_session(host: Runner, ws: &Workspace) -> Vec<u8> {
    let server = MockServer::start(Script::new().text("First answer."));
    let out = Agent::on(host, ws)
        .openai(&server)
        .session("s")
        .run("first");
    out.assert_success(&server);
    ws.bytes("sessions/s.jsonl").expect("session written")
}

fn persistent_server_errors_fail_cleanly(host: Runner) {
    let ws = Workspace::new();
    let before = seeded_session(host, &ws);
    let server = MockServer::start(Script::new().faults(Fault::Status(500), 20));
    let out = Agent::on(host, &ws)
        .openai(&server)
        .session("s")
        .run("second");
    out.assert_runtime_error();
    let n = server.chat_requests().len();
    assert!(
        (2..20).contains(&n),
        "expected a few retries then giving up, got {n} requests"
    );
    assert_session_unchanged(&ws, before);
}

fn persistent_malformed_bodies_fail_cleanly(host: Runner) {
    let ws = Workspace::new();
    let before = seeded_session(host, &ws);
    let server = MockServer::start(Script::new().faults(Fault::MalformedBody, 20));
    let out = Agent::on(host, &ws)
        .openai(&server)
        .session("s")
        .no_stream()
        .run("second");
    out.assert_runtime_error();
    assert_session_unchanged(&ws, before);
}

fn dead_server_fails_cleanly(host: Runner) {
    let ws = Workspace::new();
    let before = seeded_session(host, &ws);
    let out = Agent::on(host, &ws)
        .openai_at(&format!("{}/v1", dead_base_url()))
        .session("s")
        .run("second");
    out.assert_runtime_error();
    assert_session_unchanged(&ws, before);
}

fn max_iterations_stops_a_looping_model(host: Runner) {
    let ws = Workspace::new();
    let mut script = Script::new();
    for _ in 0..10 {
        script = script.tool("list_dir", json!({"path": "."}));
    }
    let server = MockServer::start(script);
    let out = Agent::on(host, &ws)
        .openai(&server)
        .arg("--max-iterations")
        .arg("2")
        .run("loop");
    out.assert_runtime_error();
    let n = chats(&server).len();
    assert!((2..=3).contains(&n), "--max-iterations 2 made {n} requests");
}

fn no_provider_configured_is_a_clear_error(host: Runner) {
    let ws = Workspace::new();
    let out = Agent::on(host, &ws).run("hi");
    out.assert_runtime_error();
}

/// Local OpenAI-compatible servers need no key, so the agent may try without
/// one; it must then send no made-up credentials, take the 401 as final (no
/// retry) and say so in one line.
fn missing_key_against_a_keyed_server_fails_once_and_clearly(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("unreachable"));
    let out = Agent::on(host, &ws)
        .env("OPENAI_BASE_URL", &server.openai_base())
        .run("hi");
    out.assert_runtime_error();
    let reqs = server.requests();
    assert_eq!(
        reqs.len(),
        1,
        "a 401 is not worth retrying\n{}",
        dump(&server)
    );
    assert!(
        reqs[0].header("authorization").is_none(),
        "made-up credentials sent"
    );
    assert!(
        out.stderr.contains("401"),
        "the error should name the status\n{out}"
    );
}

fn persistent_truncation_fails_with_one_line(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().faults(Fault::TruncatedStream, 20));
    let out = Agent::on(host, &ws).openai(&server).no_stream().run("hi");
    out.assert_runtime_error();
}

fn help_exits_zero_and_bad_flags_exit_two(host: Runner) {
    let ws = Workspace::new();
    let help = Agent::on(host, &ws).arg("--help").exec();
    assert_eq!(help.code, Some(0), "{help}");
    for flag in [
        "-m",
        "--session",
        "--model",
        "--provider",
        "--max-iterations",
        "--no-stream",
    ] {
        assert!(
            help.stdout.contains(flag),
            "--help does not mention {flag}\n{help}"
        );
    }
    for args in [
        &["--bogus"][..],
        &["-m", "hi", "--max-iterations", "many"],
        &["-m"],
    ] {
        let mut agent = Agent::on(host, &ws);
        for a in args {
            agent = agent.arg(a);
        }
        let out = agent.exec();
        assert_eq!(out.code, Some(2), "{args:?} is a usage error\n{out}");
        assert!(
            out.stdout.is_empty() && !out.stderr.trim().is_empty(),
            "{out}"
        );
    }
}
