//! Plugins built or run outside the Rust/native-host path: the JavaScript
//! example (componentize-js) under `wasiclaw run`, and the `wac` recipe
//! that composes a plugin into the agent for `wasmtime run`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::json;
use wasiclaw_tests::{MockServer, Script};

use super::{probe_plugin, results, turn, Mode};
use crate::harness::{run_command, Workspace};

/// `examples/js-plugin` built with componentize-js (installed by
/// scripts/setup), once per test run, into this target directory.
fn js_plugin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("js-plugin-{}.wasm", std::process::id()));
            let mut cmd = Command::new(crate::harness::cargo_tool("componentize-js"));
            // The WIT path is relative: componentize-js reads it from the cwd.
            cmd.current_dir(crate::harness::repo_root())
                .args(["examples/js-plugin/plugin.js", "--wit", "wit"])
                .args(["--world-name", "wasiclaw:core/tool-plugin", "-o"])
                .arg(&out);
            let built = run_command(cmd);
            assert!(built.code == Some(0) && out.is_file(), "{built}");
            out
        })
        .clone()
}

/// The JavaScript example plugin (a StarlingMonkey component, all of its
/// imports within the tool-plugin world) loads and answers, and a thrown
/// `tool-error` value reaches the model as the tool's error.
#[test]
fn the_javascript_plugin_builds_and_runs() {
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool("js_wordcount", json!({"text": "one two  three"}))
            .tool("js_slug", json!({"title": "Hello, Plugin World!"}))
            .tool_raw("js_slug", "{not json")
            .text("counted"),
    );
    let plugins = json!({"js": {"path": js_plugin()}});
    let t = turn(Mode::Run, &ws, &server, plugins, &[], &[], "count");
    assert!(t.ok && t.reply == "counted", "{}", t.log);
    let r = results(&server);
    assert_eq!(
        r[0],
        ("3 words, 14 characters".to_string(), false),
        "{}",
        t.log
    );
    assert_eq!(r[1], ("hello-plugin-world".to_string(), false));
    assert!(r[2].1, "{r:?}");
}

/// The `wasmtime run` recipe (components/with-plugin.wac): the probe plugin
/// composed with the agent by `wac`, run by the real wasmtime CLI with no
/// native host. The plugin's tools are the agent's, under their own names.
#[test]
fn the_wac_recipe_runs_a_plugin_under_wasmtime_run() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("with-plugin-{}.wasm", std::process::id()));
    let agent = crate::harness::repo_root().join("dist/components/agent.wasm");
    assert!(
        agent.is_file(),
        "{} missing: run scripts/build",
        agent.display()
    );
    let mut wac = Command::new(crate::harness::cargo_tool("wac"));
    wac.current_dir(crate::harness::repo_root())
        .args(["compose", "components/with-plugin.wac", "--dep"])
        .arg(format!("wasiclaw:plugin={}", probe_plugin().display()))
        .arg("--dep")
        .arg(format!("wasiclaw:agent={}", agent.display()))
        .arg("-o")
        .arg(&out);
    let composed = run_command(wac);
    assert_eq!(composed.code, Some(0), "{composed}");
    let ws = Workspace::new();
    let server = MockServer::start(
        Script::new()
            .tool("echo", json!({"text": "composed"}))
            .text("done"),
    );
    let run = crate::harness::Agent::on(crate::harness::Runner::Wasmtime, &ws)
        .module(out.clone())
        .openai(&server)
        .no_stream()
        .run("echo");
    run.assert_success(&server);
    assert_eq!(run.reply(), "done");
    assert_eq!(results(&server), [("echo: composed".to_string(), false)]);
    let names = server.chat_requests()[0].tool_names();
    assert!(names.contains(&"echo".to_string()) && !names.contains(&"read_file".to_string()));
    let _ = std::fs::remove_file(out);
}
