//! Tool plugins under the native host (`wasiclaw run` and `wasiclaw serve`):
//! the example plugin (`examples/weather-plugin`) and the hostile probe
//! plugin (`tests/guests/plugin-probe`, plain std), both built on first use
//! for wasm32-wasip2, plus the refused fixtures `tests/fixtures/plugin-*.wat`.
//! The mock provider scripts the model's tool calls; what each plugin call
//! did is read back from the tool results the agent sent to the model.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};
use wasiclaw_tests::{MockServer, Script};

use crate::harness::{
    cache_dir, cargo_build, fixture, run_command, test_target_dir, usage_lines, wasiclaw_bin,
    with_only_env, Workspace, ALL_TOOLS, OPENAI_KEY,
};
use crate::serve::server::{free_port, Host, Serve};
use crate::serve::{content, user};

mod elsewhere;

/// `cargo build --release --target wasm32-wasip2 -p PACKAGE`, once per package.
fn plugin_wasm(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|p| p == package) {
        cargo_build(&["--release", "--target", "wasm32-wasip2", "-p", package]);
        built.push(package.to_string());
    }
    let file = format!("{}.wasm", package.replace('-', "_"));
    let p = test_target_dir().join("wasm32-wasip2/release").join(file);
    assert!(p.is_file(), "{} missing after build", p.display());
    p
}

pub fn probe_plugin() -> PathBuf {
    plugin_wasm("wasiclaw-plugin-probe")
}

pub fn weather_plugin() -> PathBuf {
    plugin_wasm("wasiclaw-weather-plugin")
}

/// Which host command runs the turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Run,
    Serve,
}

/// What one turn left behind: the reply (empty on failure), whether it
/// succeeded, and the host's log.
struct Turn {
    ok: bool,
    reply: String,
    log: String,
}

/// One turn of `message` under `mode`, with `plugins` as the `plugins`
/// section of wasiclaw.json and `flags` as extra host flags.
fn turn(
    mode: Mode,
    ws: &Workspace,
    server: &MockServer,
    plugins: Value,
    flags: &[&str],
    env: &[(&str, &str)],
    message: &str,
) -> Turn {
    ws.write("wasiclaw.json", &json!({ "plugins": plugins }).to_string());
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("OPENAI_BASE_URL".into(), server.openai_base()));
    env.push(("OPENAI_API_KEY".into(), OPENAI_KEY.into()));
    let mut cmd = Command::new(wasiclaw_bin());
    cmd.arg("--cache-dir").arg(cache_dir());
    match mode {
        Mode::Run => {
            cmd.arg("run")
                .arg("--workspace")
                .arg(ws.path())
                .args(flags)
                .args(["--no-stream", "-m", message]);
            with_only_env(&mut cmd, &env);
            let out = run_command(cmd);
            Turn {
                ok: out.code == Some(0),
                reply: out.reply().to_string(),
                log: out.to_string(),
            }
        }
        Mode::Serve => {
            let port = free_port();
            cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .arg("--workspace")
                .arg(ws.path())
                .args(flags);
            with_only_env(&mut cmd, &env);
            let s = Serve::spawn(Host::Wasiclaw, cmd, port);
            let body = json!({"model": "m", "messages": [user(message)]}).to_string();
            let headers = [("content-type", "application/json")];
            let r = s.request("POST", "/v1/chat/completions", &headers, &body);
            let ok = r.status == 200;
            let reply = if ok {
                content(&r.json()).to_string()
            } else {
                String::new()
            };
            Turn {
                ok,
                reply,
                log: format!("status {}: {}\n{}", r.status, r.body, s.log()),
            }
        }
    }
}

/// The tool results of the last chat request, in call order, as
/// `(content, is_error)`: the agent writes a tool error as `error: KIND: MESSAGE`
/// (OpenAI's wire format has no error flag).
/// A script that makes each tool call in turn, then answers `text`.
fn calls_then(calls: &[(&str, Value)], text: &str) -> Script {
    let mut script = Script::new();
    for (name, args) in calls {
        script = script.tool(name, args.clone());
    }
    script.text(text)
}

fn results(server: &MockServer) -> Vec<(String, bool)> {
    let chats = server.chat_requests();
    let last = chats.last().expect("at least one chat request");
    last.tool_results()
        .into_iter()
        .map(|(_, content, _)| {
            let err = content.starts_with("error: ");
            (content, err)
        })
        .collect()
}

fn plugin_lines(ws: &Workspace) -> Vec<Value> {
    usage_lines(ws)
        .into_iter()
        .filter(|l| l.get("plugin").is_some())
        .collect()
}

under_each!([wasiclaw_run = super::Mode::Run, wasiclaw_serve = super::Mode::Serve];
    example_plugin_round_trip,
    http_only_to_granted_public_hosts,
    files_only_inside_grants,
    limits_and_traps_are_tool_errors,
    bad_plugins_are_refused_at_start_and_the_rest_works,
);

/// The example plugin: its tools are offered as `weather_*` beside the
/// built-in ones, `forecast` reaches its granted host (pinned to the local
/// web server by the operator) with its granted variable, `log` writes
/// inside its grant, and both calls are metered.
fn example_plugin_round_trip(mode: Mode) {
    let ws = Workspace::new();
    let web = MockServer::start(Script::new());
    let host = format!("weather.test:{}", web.port());
    let server = MockServer::start(
        Script::new()
            .tool("weather_forecast", json!({"city": "Paris"}))
            .tool("weather_log", json!({"line": "sunny"}))
            .text("It is sunny."),
    );
    let plugins = json!({"weather": {
        "path": weather_plugin(),
        "allow": ["http:weather.test", "env:WEATHER_URL", "files:write:out/"],
    }});
    let pin = format!("{host}:127.0.0.1");
    let url = format!("http://{host}/echo");
    let t = turn(
        mode,
        &ws,
        &server,
        plugins,
        &["--resolve", &pin],
        &[("WEATHER_URL", &url)],
        "weather?",
    );
    assert!(t.ok, "{}", t.log);
    assert_eq!(t.reply, "It is sunny.", "{}", t.log);
    let names = server.chat_requests()[0].tool_names();
    for n in ALL_TOOLS
        .iter()
        .copied()
        .chain(["weather_forecast", "weather_log"])
    {
        assert!(names.iter().any(|x| x == n), "{n} not offered: {names:?}");
    }
    let r = results(&server);
    assert_eq!(r.len(), 2, "{r:?}\n{}", t.log);
    assert!(
        !r[0].1 && r[0].0.contains(&format!("host: {host}")),
        "{r:?}"
    );
    assert_eq!(r[1], ("sunny\n".to_string(), false));
    assert_eq!(ws.read("out/weather.log").as_deref(), Some("sunny\n"));
    let hits = web.requests();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, "/echo?city=Paris");
    // The plugin's request carries no provider key.
    assert!(hits[0].header("authorization").is_none());
    let lines = plugin_lines(&ws);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (l, tool) in lines.iter().zip(["forecast", "log"]) {
        assert_eq!(
            (l["plugin"].as_str(), l["tool"].as_str()),
            (Some("weather"), Some(tool))
        );
        assert_eq!(l["outcome"], "ok", "{l}");
        assert!(l["fuel_used"].as_u64().unwrap_or(0) > 0, "{l}");
        assert!(l["duration_us"].as_u64().is_some(), "{l}");
    }
}

/// Granted by name and pinned by the operator: reached. Not granted:
/// refused. Internal addresses are refused even when granted literally
/// (metadata, loopback) or by a name resolving inside (`localhost`).
fn http_only_to_granted_public_hosts(mode: Mode) {
    let ws = Workspace::new();
    let web = MockServer::start(Script::new());
    let port = web.port();
    let fetch = |url: String| ("probe_fetch", json!({ "url": url }));
    let calls = [
        fetch(format!("http://granted.test:{port}/echo")),
        fetch(format!("http://other.test:{port}/echo")),
        fetch("http://169.254.169.254/latest/meta-data/".into()),
        fetch(format!("http://127.0.0.1:{port}/echo")),
        fetch(format!("http://localhost:{port}/echo")),
    ];
    let server = MockServer::start(calls_then(&calls, "done"));
    let plugins = json!({"probe": {
        "path": probe_plugin(),
        "allow": ["http:granted.test", "http:169.254.169.254", "http:127.0.0.1", "http:localhost"],
    }});
    let pins = [
        format!("granted.test:{port}:127.0.0.1"),
        format!("other.test:{port}:127.0.0.1"),
    ];
    let flags = ["--resolve", &pins[0], "--resolve", &pins[1]];
    let t = turn(mode, &ws, &server, plugins, &flags, &[], "fetch");
    assert!(t.ok && t.reply == "done", "{}", t.log);
    let r = results(&server);
    assert_eq!(r.len(), calls.len(), "{r:?}");
    assert!(!r[0].1 && r[0].0.starts_with("status 200"), "{r:?}");
    for (i, (text, err)) in r.iter().enumerate().skip(1) {
        assert!(
            *err && text.contains("fetch refused"),
            "call {i}: {text}\n{}",
            t.log
        );
    }
    assert!(r[1].0.contains("HttpRequestDenied"), "{}", r[1].0);
    for (i, (text, _)) in r.iter().enumerate().skip(2) {
        assert!(text.contains("DestinationIpProhibited"), "call {i}: {text}");
    }
    assert_eq!(web.requests().len(), 1, "only the granted host was reached");
}

/// `files:read:notes/` and `files:write:out/`: reads inside notes, writes
/// inside out (created for the grant); the rest of the workspace, the
/// outside, and writes to the read-only grant are refused. (wasi-libc
/// resolves a relative path against `/`, not the initial cwd, so a plugin
/// names its files by their `/workspace/...` paths.)
fn files_only_inside_grants(mode: Mode) {
    let ws = Workspace::new();
    ws.write("notes/a.md", "hello");
    ws.write("secret.txt", "workspace secret");
    std::fs::write(ws.outside().join("outside.txt"), "outside").expect("write outside");
    let read = |p: &str| ("probe_read", json!({ "path": p }));
    let write = |p: &str| ("probe_write", json!({ "path": p, "content": "x" }));
    let calls = [
        read("/workspace/notes/a.md"),
        write("/workspace/out/new.txt"),
        read("/workspace/secret.txt"),
        read("secret.txt"),
        read("/workspace/notes/../secret.txt"),
        read("../outside.txt"),
        read("/workspace/notes/../../outside.txt"),
        write("notes/b.md"),
        write("/workspace/c.txt"),
    ];
    let server = MockServer::start(calls_then(&calls, "done"));
    let plugins = json!({"probe": {
        "path": probe_plugin(),
        "allow": ["files:read:notes/", "files:write:out/"],
    }});
    let t = turn(mode, &ws, &server, plugins, &[], &[], "files");
    assert!(t.ok && t.reply == "done", "{}", t.log);
    let r = results(&server);
    assert_eq!(r.len(), calls.len(), "{r:?}");
    assert_eq!(r[0], ("hello".to_string(), false));
    assert_eq!(r[1], ("written".to_string(), false));
    assert_eq!(ws.read("out/new.txt").as_deref(), Some("x"));
    for (i, (text, err)) in r.iter().enumerate().skip(2) {
        assert!(*err, "call {i} should be refused: {text}");
        assert!(
            !text.contains("secret") && !text.contains("outside"),
            "{text}"
        );
    }
    assert!(ws.read("notes/b.md").is_none() && ws.read("c.txt").is_none());
}

/// Fuel, time, memory, a trap, `exit` and a malformed result (the fixture
/// `plugin-malformed.wat`) each end one call with a tool error naming the
/// reason; the turn goes on to the model's answer, and the environment
/// holds only the granted variable.
fn limits_and_traps_are_tool_errors(mode: Mode) {
    let ws = Workspace::new();
    let calls = [
        ("lean_spin", "ran out of fuel"),
        ("slow_spin", "time limit of 1000 ms"),
        ("lean_grow", "memory limit of 16 MiB"),
        ("lean_trap", "trapped"),
        ("lean_exit", "exited with code 1"),
        ("lean_shout", ""),
        ("lean_env", ""),
        ("mal_bad", "plugin mal: failed"),
    ];
    let no_args: Vec<(&str, Value)> = calls.iter().map(|(name, _)| (*name, json!({}))).collect();
    let server = MockServer::start(calls_then(&no_args, "still here"));
    let plugins = json!({
        "lean": {"path": probe_plugin(), "allow": ["env:UNITS"],
                 "limits": {"fuel": 200_000_000u64, "memory_mib": 16, "timeout_ms": 20_000}},
        "slow": {"path": probe_plugin(), "limits": {"fuel": 1_000_000_000_000_000u64, "timeout_ms": 1000}},
        "mal": {"path": fixture("plugin-malformed")},
    });
    let env = [("UNITS", "metric"), ("NOT_GRANTED", "nope")];
    let t = turn(mode, &ws, &server, plugins, &[], &env, "limits");
    assert!(t.ok && t.reply == "still here", "{}", t.log);
    let r = results(&server);
    assert_eq!(r.len(), calls.len(), "{r:?}");
    for ((name, why), (text, err)) in calls.iter().zip(&r).take(5) {
        assert!(*err && text.contains(why), "{name}: {text}\n{}", t.log);
    }
    assert_eq!(r[5], ("shouted".to_string(), false));
    assert!(
        t.log
            .contains("wasiclaw: plugin lean (stdout): shout line 0"),
        "{}",
        t.log
    );
    assert!(t.log.contains("more bytes dropped"), "{}", t.log);
    assert!(!t.log.contains("shout line 9999"));
    assert_eq!(r[6], ("vars: UNITS=metric; args: ".to_string(), false));
    // A result that does not lift (a string out of bounds) is a tool error.
    assert!(
        r[7].1 && r[7].0.contains(calls[7].1),
        "{}\n{}",
        r[7].0,
        t.log
    );
    let outcomes: Vec<String> = plugin_lines(&ws)
        .iter()
        .map(|l| l["outcome"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        outcomes,
        ["fuel", "timeout", "memory", "trap", "exit", "ok", "ok", "trap"]
    );
}

/// A core module, a text file and a component importing wasi:sockets are
/// refused at start, each with its reason; the good plugin beside them
/// works, and the refused ones' tools are never offered.
fn bad_plugins_are_refused_at_start_and_the_rest_works(mode: Mode) {
    let ws = Workspace::new();
    ws.write("plugins/readme.txt", "not wasm");
    let server = MockServer::start(
        Script::new()
            .tool("probe_echo", json!({"text": "hi"}))
            .text("done"),
    );
    let plugins = json!({
        "core": {"path": fixture("plugin-core-module")},
        "text": {"path": "plugins/readme.txt"},
        "sock": {"path": fixture("plugin-sockets")},
        "probe": {"path": probe_plugin()},
    });
    let t = turn(mode, &ws, &server, plugins, &[], &[], "echo");
    assert!(t.ok && t.reply == "done", "{}", t.log);
    assert_eq!(results(&server), [("echo: hi".to_string(), false)]);
    for refusal in [
        "plugin core refused: it is a core WebAssembly module, not a component",
        "plugin text refused: it is not a WebAssembly binary",
        "plugin sock refused: it imports wasi:sockets/tcp@0.2.0, which the tool-plugin world does not allow",
    ] {
        assert!(t.log.contains(refusal), "{refusal}\n{}", t.log);
    }
    let names = server.chat_requests()[0].tool_names();
    assert!(names
        .iter()
        .all(|n| !n.starts_with("core_") && !n.starts_with("sock_")));
    assert!(names.iter().any(|n| n == "probe_echo"), "{names:?}");
}

/// Two plugins whose tools would share a name (the same name in the file
/// and on the command line) stop `wasiclaw run` before any turn and
/// `wasiclaw serve` before it listens; so does a plugin tool named like a
/// built-in one.
#[test]
fn clashing_plugin_names_are_refused_at_start() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("never"));
    let plugins = json!({"probe": {"path": probe_plugin()}});
    let flag = format!("probe={}", probe_plugin().display());
    let t = turn(
        Mode::Run,
        &ws,
        &server,
        plugins,
        &["--plugin", &flag],
        &[],
        "hi",
    );
    assert!(!t.ok, "{}", t.log);
    assert!(t.log.contains("tool name \"probe_echo\""), "{}", t.log);
    assert!(
        t.log.contains("clashes with tool echo of plugin probe"),
        "{}",
        t.log
    );
    assert!(server.chat_requests().is_empty());
    // `wasiclaw serve` stops at the same check, before it listens.
    let mut cmd = Command::new(wasiclaw_bin());
    cmd.arg("--cache-dir")
        .arg(cache_dir())
        .args(["serve", "--listen", "127.0.0.1:0", "--workspace"])
        .arg(ws.path())
        .args(["--plugin", &flag]);
    with_only_env(&mut cmd, &[]);
    let out = run_command(cmd);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains("clashes with tool echo of plugin probe"),
        "{out}"
    );
    // A plugin named `web` would offer `web_fetch`, the built-in tool's name.
    let web = format!("web={}", probe_plugin().display());
    let t = turn(
        Mode::Run,
        &ws,
        &server,
        json!({}),
        &["--plugin", &web],
        &[],
        "hi",
    );
    assert!(!t.ok, "{}", t.log);
    let want = "tool name \"web_fetch\" of tool fetch of plugin web clashes with the built-in tool web_fetch";
    assert!(t.log.contains(want), "{}", t.log);
    assert!(server.chat_requests().is_empty());
}

/// `--plugin NAME=PATH` alone loads a plain-std plugin (its wasi:cli
/// imports included) with no grants: it runs, and sees no environment.
#[test]
fn a_plain_std_plugin_loads_from_the_command_line() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().tool("p_env", json!({})).text("ok"));
    let flag = format!("p={}", probe_plugin().display());
    let t = turn(
        Mode::Run,
        &ws,
        &server,
        json!({}),
        &["--plugin", &flag],
        &[("UNITS", "x")],
        "env",
    );
    assert!(t.ok && t.reply == "ok", "{}", t.log);
    assert_eq!(results(&server), [("vars: ; args: ".to_string(), false)]);
}

/// A `secret:NAME@ORIGIN` grant: the host adds the secret to the plugin's
/// requests to that origin (only), the plugin never sees it (not in its
/// environment), and an origin that echoes it back hands the plugin, the
/// model and the session only `[REDACTED]`.
#[test]
fn a_granted_secret_is_sent_to_its_origin_and_redacted() {
    const SECRET: &str = "wk-plugin-secret-4242";
    let ws = Workspace::new();
    let web = MockServer::start(Script::new());
    let port = web.port();
    let server = MockServer::start(
        Script::new()
            .tool(
                "p_fetch",
                json!({ "url": format!("http://keyed.test:{port}/echo") }),
            )
            .tool(
                "p_fetch",
                json!({ "url": format!("http://plain.test:{port}/echo") }),
            )
            .tool("p_env", json!({}))
            .text("done"),
    );
    let plugins = json!({"p": {
        "path": probe_plugin(),
        "allow": ["http:keyed.test", "http:plain.test", format!("secret:W_KEY@http://keyed.test:{port}")],
    }});
    let pins = [
        format!("keyed.test:{port}:127.0.0.1"),
        format!("plain.test:{port}:127.0.0.1"),
    ];
    let flags = ["--resolve", &pins[0], "--resolve", &pins[1]];
    let t = turn(
        Mode::Run,
        &ws,
        &server,
        plugins,
        &flags,
        &[("W_KEY", SECRET)],
        "fetch",
    );
    assert!(t.ok && t.reply == "done", "{}", t.log);
    let hits = web.requests();
    assert_eq!(hits.len(), 2);
    assert_eq!(
        hits[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(hits[1].header("authorization"), None, "only to its origin");
    let r = results(&server);
    assert!(r[0].0.contains("authorization: Bearer [REDACTED]"), "{r:?}");
    assert_eq!(r[2], ("vars: ; args: ".to_string(), false));
    // The host's output, after the command line (whose environment names it).
    let output = t.log.split("--- stdout ---").nth(1).unwrap_or_default();
    let everything = format!(
        "{r:?}{output}{}",
        ws.read("sessions/default.jsonl").unwrap_or_default()
    );
    assert!(!everything.contains(SECRET), "{everything}");
}
