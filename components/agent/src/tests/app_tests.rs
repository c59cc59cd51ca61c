use std::io::Cursor;

use super::{replies, FakeClock, FakeHttp, FakeTools, Scripted, TempDir};
use crate::app::{self, Io, Platform, EXIT_ERROR, EXIT_OK, EXIT_USAGE};
use crate::cli::{parse_args, Command};
use crate::error::AgentError;
use crate::provider::ProviderKind;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn parses_all_options() {
    let Ok(Command::Run(r)) = parse_args(&args(&[
        "-m",
        "hello",
        "--session",
        "work",
        "--model=gpt-x",
        "--provider",
        "anthropic",
        "--max-iterations",
        "4",
        "--no-stream",
    ])) else {
        panic!("not a run");
    };
    assert_eq!(r.message.as_deref(), Some("hello"));
    assert_eq!(r.session, "work");
    assert_eq!(r.overrides.model.as_deref(), Some("gpt-x"));
    assert_eq!(r.overrides.provider, Some(ProviderKind::Anthropic));
    assert_eq!(r.overrides.max_iterations, Some(4));
    assert!(r.overrides.no_stream);
    let Ok(Command::Run(r)) = parse_args(&args(&["--message=a=b"])) else {
        panic!()
    };
    assert_eq!(
        (r.message.as_deref(), r.session.as_str()),
        (Some("a=b"), "default")
    );
    assert_eq!(parse_args(&args(&["-m", "x", "--help"])), Ok(Command::Help));
    assert_eq!(parse_args(&args(&["-V"])), Ok(Command::Version));
}

#[test]
fn usage_errors() {
    for (a, needle) in [
        (&["-m"][..], "-m needs a value"),
        (&["--bogus"], "unknown option '--bogus'"),
        (&["hello"], "unexpected argument 'hello'"),
        (&["--provider", "x"], "unknown provider 'x'"),
        (&["--max-iterations", "0"], "positive integer"),
        (&["--max-iterations", "many"], "positive integer"),
        (&["--session", "../x"], "invalid session name"),
        (&["--model", ""], "--model"),
        (&["--no-stream=1"], "unknown option"),
    ] {
        let e = parse_args(&args(a)).unwrap_err();
        assert!(e.contains(needle), "{a:?}: {e}");
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    http: FakeHttp,
}

fn main_with(
    ws: &TempDir,
    argv: &[&str],
    stdin: &str,
    terminal: bool,
    stdout_tty: bool,
    http: Vec<Scripted>,
    env: &[(&str, &str)],
) -> Outcome {
    let mut http = FakeHttp::new(http.into_iter().map(Ok).collect());
    let mut clock = FakeClock::default();
    let mut tools = FakeTools::default();
    let mut files = ws.files();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut p = Platform {
        http: &mut http,
        clock: &mut clock,
        tools: &mut tools,
        files: &mut files,
        kv: None,
        workspace: Ok("/workspace"),
        env: &lookup,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = Cursor::new(stdin.as_bytes().to_vec());
    let mut io = Io {
        stdout: &mut out,
        stderr: &mut err,
        stdin: &mut input,
        stdin_is_terminal: terminal,
    };
    let code = app::main_on(&args(argv), &mut p, &mut io, stdout_tty);
    Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
        http,
    }
}

const LOCAL: &[(&str, &str)] = &[("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")];

#[test]
fn help_and_version_exit_zero() {
    let ws = TempDir::new();
    let o = main_with(&ws, &["--help"], "", true, false, vec![], &[]);
    assert_eq!(o.code, EXIT_OK);
    for needle in ["wasmtime run -S http --dir ./ws::/workspace --env OPENAI_API_KEY dist/wasiclaw.wasm -m \"hi\"",
        "--no-stream", "--max-iterations", "maxIterations", "contextTokens", "embeddingModel", "ANTHROPIC_BASE_URL",
        "WASICLAW_PROVIDER", "WASICLAW_EMBEDDING_MODEL", "Exit status"] {
        assert!(o.stdout.contains(needle), "help lacks {needle}");
    }
    let o = main_with(&ws, &["--version"], "", true, false, vec![], &[]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (
            EXIT_OK,
            concat!("wasiclaw ", env!("CARGO_PKG_VERSION"), "\n")
        )
    );
}

#[test]
fn usage_error_exits_two_with_one_line() {
    let ws = TempDir::new();
    let o = main_with(&ws, &["--frobnicate"], "", true, false, vec![], LOCAL);
    assert_eq!(o.code, EXIT_USAGE);
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.stderr,
        "wasiclaw: error: unknown option '--frobnicate' (see --help)\n"
    );
    let o = main_with(&ws, &[], "  \n", false, false, vec![], LOCAL);
    assert_eq!(o.code, EXIT_USAGE);
    assert!(o
        .stderr
        .starts_with("wasiclaw: error: the message is empty"));
}

#[test]
fn one_turn_streams_the_reply_to_stdout() {
    let ws = TempDir::new();
    let o = main_with(
        &ws,
        &["-m", "hi"],
        "",
        true,
        false,
        vec![Scripted::sse(&replies::openai_sse_text("Hello there"), 7)],
        LOCAL,
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    assert_eq!(o.stdout, "Hello there\n");
    assert_eq!(o.stderr, "");
    let req = &o.http.requests[0];
    assert_eq!(req.url, "http://127.0.0.1:9/v1/chat/completions");
    assert_eq!(
        req.header("content-length"),
        Some(req.body.len().to_string().as_str())
    );
    assert_eq!(req.header("accept"), Some("text/event-stream"));
    assert!(req.header("authorization").is_none());
    assert!(ws
        .read("sessions/default.jsonl")
        .unwrap()
        .contains("Hello there"));
}

#[test]
fn tool_activity_goes_to_stderr_and_stdout_has_only_replies() {
    let ws = TempDir::new();
    let o = main_with(
        &ws,
        &["-m", "do it", "--no-stream", "--session", "t"],
        "",
        true,
        false,
        vec![
            Scripted::json(
                200,
                &replies::openai_calls(&[("c", "echo", r#"{"text":"x"}"#)]),
            ),
            Scripted::json(200, &replies::openai_text("Done.")),
        ],
        LOCAL,
    );
    assert_eq!(o.code, EXIT_OK);
    assert_eq!(o.stdout, "Done.\n");
    assert_eq!(o.stderr, "[tool] echo {\"text\":\"x\"}\n");
    assert!(o.http.requests[0].json().get("stream").is_none());
    assert!(ws.read("sessions/t.jsonl").is_some());
}

#[test]
fn message_from_piped_stdin() {
    let ws = TempDir::new();
    let o = main_with(
        &ws,
        &["--no-stream"],
        "summarise this\n",
        false,
        false,
        vec![Scripted::json(200, &replies::openai_text("ok"))],
        LOCAL,
    );
    assert_eq!((o.code, o.stdout.as_str()), (EXIT_OK, "ok\n"));
    let msgs = o.http.requests[0].json();
    let msgs = msgs.get("messages").unwrap().as_array().unwrap();
    assert_eq!(
        msgs.last().unwrap().get("content").unwrap().as_str(),
        Some("summarise this")
    );
}

#[test]
fn interactive_chat_on_a_terminal() {
    let ws = TempDir::new();
    let o = main_with(
        &ws,
        &["--no-stream"],
        "first\n\nsecond\n/exit\nnever sent\n",
        true,
        false,
        vec![
            Scripted::json(200, &replies::openai_text("one")),
            Scripted::json(200, &replies::openai_text("two")),
        ],
        LOCAL,
    );
    assert_eq!(o.code, EXIT_OK);
    assert_eq!(o.stdout, "one\ntwo\n");
    assert_eq!(o.stderr.matches("you> ").count(), 4);
    assert_eq!(o.http.requests.len(), 2);
    // The second turn continues the first.
    let second = o.http.requests[1].json();
    assert_eq!(second.get("messages").unwrap().as_array().unwrap().len(), 4);
}

#[test]
fn runtime_errors_exit_one_with_one_line() {
    let ws = TempDir::new();
    let o = main_with(&ws, &["-m", "x"], "", true, false, vec![], &[]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o
        .stderr
        .starts_with("wasiclaw: error: config: no provider configured"));
    assert_eq!(o.stderr.lines().count(), 1);

    ws.write("wasiclaw.json", "{oops");
    let o = main_with(&ws, &["-m", "x"], "", true, false, vec![], LOCAL);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(
        o.stderr
            .starts_with("wasiclaw: error: config: wasiclaw.json: invalid JSON"),
        "{}",
        o.stderr
    );
    std::fs::remove_file(ws.0.join("wasiclaw.json")).unwrap();

    // A stream that keeps breaking off: retried, then one error line last;
    // nothing of the partial replies reaches stdout.
    let cut = replies::openai_sse_text("partial reply");
    let cut = &cut[..cut.find("data: [DONE]").unwrap()];
    let o = main_with(
        &ws,
        &["-m", "x"],
        "",
        true,
        false,
        vec![Scripted::sse(cut, 10); 4],
        LOCAL,
    );
    assert_eq!(o.code, EXIT_ERROR);
    assert_eq!(o.stdout, "");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{}", o.stderr);
    assert!(lines[..3].iter().all(|l| l.contains("retrying")));
    assert!(
        lines[3].starts_with("wasiclaw: error: http: ") && lines[3].contains("truncated"),
        "{}",
        o.stderr
    );
    assert!(
        ws.read("sessions/default.jsonl").is_none(),
        "a failed turn saves nothing"
    );

    let o = main_with(
        &ws,
        &["-m", "x", "--max-iterations", "1", "--no-stream"],
        "",
        true,
        false,
        vec![Scripted::json(
            200,
            &replies::openai_calls(&[("c", "echo", "{}")]),
        )],
        LOCAL,
    );
    assert_eq!(o.code, EXIT_ERROR);
    assert_eq!(
        o.stderr.lines().last().unwrap(),
        format!("wasiclaw: error: {}", AgentError::MaxIterations(1))
    );
}

#[test]
fn export_turn_returns_the_reply_without_printing() {
    let ws = TempDir::new();
    let mut http = FakeHttp::new(vec![Ok(Scripted::sse(
        &replies::openai_sse_text("quiet"),
        4,
    ))]);
    let (mut clock, mut tools, mut files) =
        (FakeClock::default(), FakeTools::default(), ws.files());
    let env = |k: &str| (k == "OPENAI_BASE_URL").then(|| "http://127.0.0.1:9/v1".to_string());
    let mut p = Platform {
        http: &mut http,
        clock: &mut clock,
        tools: &mut tools,
        files: &mut files,
        kv: None,
        workspace: Ok("/w"),
        env: &env,
    };
    let out = app::export_turn(&mut p, &mut |_| {}, "", "hi", &mut crate::agent::NoSink).unwrap();
    assert_eq!(out.text, "quiet");
    assert_eq!(out.usage.output_tokens, 2);
    p.workspace = Err("no workspace".into());
    assert_eq!(
        app::export_turn(&mut p, &mut |_| {}, "", "hi", &mut crate::agent::NoSink),
        Err(AgentError::Config("no workspace".into()))
    );
}

const NARRATED: [&str; 2] = [
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Let me look.\",\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"echo\",\"arguments\":\"{}\"}}]}}]}\n\ndata: [DONE]\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Found.\"}}]}\n\ndata: [DONE]\n\n",
];

#[test]
fn piped_stdout_gets_exactly_the_final_answer() {
    let ws = TempDir::new();
    let cut = replies::openai_sse_text("broken reply");
    let cut = &cut[..cut.find("data: [DONE]").unwrap()];
    let o = main_with(
        &ws,
        &["-m", "x"],
        "",
        true,
        false,
        vec![
            Scripted::sse(NARRATED[0], 3),
            Scripted::sse(cut, 4),
            Scripted::sse(NARRATED[1], 5),
        ],
        LOCAL,
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    assert_eq!(o.stdout, "Found.\n");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(
        lines[0], "Let me look.",
        "narration goes to stderr: {}",
        o.stderr
    );
    assert_eq!(lines[1], "[tool] echo {}");
    assert!(lines[2].contains("retrying"), "{}", o.stderr);
}

#[test]
fn terminal_stdout_streams_everything_live() {
    let ws = TempDir::new();
    let cut = replies::openai_sse_text("broken reply");
    let cut = &cut[..cut.find("data: [DONE]").unwrap()];
    let o = main_with(
        &ws,
        &["-m", "x"],
        "",
        true,
        true,
        vec![
            Scripted::sse(NARRATED[0], 3),
            Scripted::sse(cut, 4),
            Scripted::sse(NARRATED[1], 5),
        ],
        LOCAL,
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    // The broken-off attempt stays visible, ended by a newline.
    assert_eq!(o.stdout, "Let me look.\nbroken reply\nFound.\n");
}
