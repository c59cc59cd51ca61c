//! Hostile input for the guest's parsers, through the real runtimes: tool
//! arguments with a hundred thousand keys, nested past the depth limit or
//! holding lone surrogates, and a streamed reply larger than the agent reads.

use std::fmt::Write as _;
use std::time::Duration;

use wasiclaw_tests::{MockServer, Script, ToolCall};

use crate::harness::*;

under_each!(
    [
        wasmtime_run = crate::harness::Runner::Wasmtime,
        wasiclaw_run = crate::harness::Runner::Wasiclaw,
        wamr_run = crate::harness::Runner::Wamr,
    ];
    tool_arguments_with_100k_keys_finish_the_turn_promptly,
    tool_arguments_nested_past_the_limit_are_a_clear_tool_error,
    streamed_reply_over_the_size_limit_fails_the_turn_without_a_retry,
    a_lone_surrogate_keeps_the_escape_after_it,
);

/// `"\ud800\u0041"` is a lone high surrogate, then `A`: U+FFFD and `A`.
/// (The parser used to take `\u0041` as the pair's second half and lose it.)
fn a_lone_surrogate_keeps_the_escape_after_it(host: Runner) {
    let ws = Workspace::new();
    let args = r#"{"path": "s.txt", "content": "x\ud800\u0041y\udc00z"}"#;
    let server = MockServer::start(Script::new().tool_raw("write_file", args).text("Done."));
    let out = Agent::on(host, &ws)
        .openai(&server)
        .no_stream()
        .run("write it");
    out.assert_success(&server);
    assert_eq!(
        ws.read("s.txt").as_deref(),
        Some("x\u{FFFD}Ay\u{FFFD}z"),
        "{out}"
    );
}

/// Seconds a turn may take in these tests, enforced by the runtime. The
/// parsers need a few (WAMR interprets); with the search per inserted key
/// they replaced, the 100k keys below ran past this limit under every runtime.
const TURN_SECS: u64 = 60;

/// `--no-stream`: the model's arguments arrive in one body, so the time is
/// the parsers' and not the decoding of a thousand stream events.
fn tool_arguments_with_100k_keys_finish_the_turn_promptly(host: Runner) {
    let ws = Workspace::new();
    ws.write("notes.txt", "found it");
    // {"k00000":0,"k00001":1,...,"path":"notes.txt"}: 1.5 MB, 100k keys.
    let mut args = String::from("{");
    for i in 0..100_000 {
        write!(args, "\"k{i:05}\":{i},").unwrap();
    }
    args.push_str("\"path\":\"notes.txt\"}");
    let server = MockServer::start(Script::new().tool_raw("read_file", &args).text("Done."));
    let out = Agent::on(host, &ws)
        .openai(&server)
        .no_stream()
        .time_limit(TURN_SECS)
        .run("read the notes");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Done.");
    assert!(out.elapsed < Duration::from_secs(TURN_SECS), "{out}");
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 2, "{}", dump(&server));
    let (content, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(
        !err && content.contains("found it"),
        "the tool did not get its `path`: {content}"
    );
}

/// `{"path": .., "content": .., "x": [[..]]}` with `depth` nested containers
/// in all (the object included).
fn nested_write(path: &str, depth: usize) -> String {
    format!(
        "{{\"path\":\"{path}\",\"content\":\"deep\",\"x\":{}{}}}",
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    )
}

/// The parser's deepest recursion is its limit (128 nested arrays/objects):
/// that much parses, also on WAMR's 64 KiB stack, and one level more, or a
/// hundred thousand, is a tool error naming the limit instead of a crash.
fn tool_arguments_nested_past_the_limit_are_a_clear_tool_error(host: Runner) {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tools(
                "",
                vec![
                    ToolCall::raw("write_file", &nested_write("at-limit.txt", 128)),
                    ToolCall::raw("write_file", &nested_write("over-limit.txt", 129)),
                    ToolCall::raw("write_file", &"[".repeat(100_000)),
                ],
            )
            .text("Done."),
    );
    let out = Agent::on(host, &ws)
        .openai(&server)
        .time_limit(TURN_SECS)
        .run("write deep things");
    out.assert_success(&server);
    assert_eq!(out.reply(), "Done.");
    assert_eq!(ws.read("at-limit.txt").as_deref(), Some("deep"), "{out}");
    assert!(!ws.file("over-limit.txt").exists(), "{out}");
    let reqs = chats(&server);
    let ids = &reqs[0].tool_call_ids;
    let (ok, err) = result_for(&reqs[1], &ids[0]);
    assert!(!err && !is_tool_error(&ok, err), "{ok}");
    for id in &ids[1..] {
        let (content, err) = result_for(&reqs[1], id);
        assert!(is_tool_error(&content, err), "{content}");
        assert!(
            content.contains("nested deeper than 128 arrays/objects"),
            "{content}"
        );
    }
}

/// 17 MiB of streamed text: over the 16 MiB the agent reads of a reply. The
/// hosts' own response limit (also 16 MiB by default) is raised so that the
/// guest's limit is the one tested under every runtime.
fn streamed_reply_over_the_size_limit_fails_the_turn_without_a_retry(host: Runner) {
    let ws = Workspace::new();
    let big = "x".repeat(17 << 20);
    let server = MockServer::start(Script::new().text(&big).text("a second try"));
    let out = Agent::on(host, &ws)
        .openai(&server)
        .host_args(&[
            "--max-response-bytes",
            "134217728",
            "--memory-limit-mib",
            "512",
        ])
        .time_limit(120)
        .run("say a lot");
    // Checked before anything prints `out`, whose stdout may be 17 MB.
    assert_eq!(
        out.code,
        Some(1),
        "stdout: {} bytes; stderr:\n{}",
        out.stdout.len(),
        out.stderr
    );
    out.assert_runtime_error();
    assert!(
        out.stderr
            .contains("the reply is larger than 16777216 bytes"),
        "{out}"
    );
    // The same reply would come again: not retried, not paid for twice.
    assert!(!out.stderr.contains("retrying"), "{out}");
    assert_eq!(chats(&server).len(), 1, "{}", dump(&server));
    assert!(ws.read("sessions/default.jsonl").is_none(), "{out}");
}
