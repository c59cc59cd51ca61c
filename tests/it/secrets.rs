//! The hosts' key promise, checked where it could break: a guest that looks
//! for the key (the probe guest prints everything it can see), a provider
//! origin that reflects request headers (to `web_fetch` and on the model
//! path), and a provider error that quotes the key back, under `wasiclaw
//! run`, `wasiclaw-wamr` and `wasiclaw serve`. `wasmtime run` has no host
//! between guest and provider (the guest holds the key there by design), so
//! these scenarios run under the two hosts that hold keys.

use std::sync::Arc;

use serde_json::json;
use wasiclaw_tests::{Fault, MockServer, Script, REQUEST_HEADERS};

use crate::harness::*;
use crate::serve::server::{free_port, Host, Serve};

under_each!(
    [wasiclaw_run = super::Runner::Wasiclaw, wamr_run = super::Runner::Wamr];
    the_guest_sees_no_key_from_inside,
    a_reflected_key_reaches_neither_the_model_nor_the_session,
);

/// The probe guest runs where the agent would, with both keys in the host's
/// environment: it sees the default base URLs and word that the host adds
/// the keys, and no key in its environment, arguments or workspace.
fn the_guest_sees_no_key_from_inside(runner: Runner) {
    let ws = Workspace::new();
    ws.write("notes/today.md", "a note");
    let out = Agent::on(runner, &ws)
        .module(probe(runner))
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .run("hi");
    assert_eq!(out.code, Some(0), "{out:?}");
    let seen = &out.stdout;
    assert!(seen.contains("probe done"), "{out:?}");
    assert!(
        seen.contains("file /workspace/notes/today.md\na note"),
        "{out:?}"
    );
    assert!(
        seen.contains("env OPENAI_BASE_URL=https://api.openai.com/v1\n")
            && seen.contains("env ANTHROPIC_BASE_URL=https://api.anthropic.com\n")
            && seen.contains("env WASICLAW_HOST_AUTH=openai,anthropic\n"),
        "{out:?}"
    );
    for key in [OPENAI_KEY, ANTHROPIC_KEY] {
        assert!(!seen.contains(key), "the guest saw {key}: {out:?}");
    }
    assert!(!seen.contains("_API_KEY="), "{out:?}");
}

/// The provider's origin reflects request headers: a `web_fetch` of its
/// `/echo` gets no key (only model calls carry one, so nothing is there to
/// reflect), and a model that reflects its request headers into its answer
/// has the key redacted before the guest reads it. Neither the reply, the
/// tool result sent back to the model nor the session file holds the key,
/// and both model calls are metered.
fn a_reflected_key_reaches_neither_the_model_nor_the_session(runner: Runner) {
    let ws = Workspace::new();
    // The same origin serves the model and the reflector, so the script
    // needs the server's address before it starts.
    let port = free_port();
    let echo = format!("http://127.0.0.1:{port}/v1/echo");
    let script = Script::new()
        .tool("web_fetch", json!({ "url": echo }))
        .text(&format!("I was sent:\n{REQUEST_HEADERS}"));
    let server = MockServer::bind(port, Arc::new(script)).expect("bind the mock provider");
    let out = Agent::on(runner, &ws)
        .openai(&server)
        .session("s1")
        .no_stream()
        .run("fetch the echo");
    assert_eq!(out.code, Some(0), "{out:?}");
    let reply = out.reply();
    assert!(reply.contains("I was sent:"), "{out:?}");
    assert!(reply.contains("Bearer [REDACTED]"), "{out:?}");
    assert!(!reply.contains(OPENAI_KEY), "{out:?}");

    let requests = server.requests();
    let fetched: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/echo"))
        .collect();
    assert_eq!(fetched.len(), 1, "{}", dump(&server));
    assert_eq!(fetched[0].header("authorization"), None);
    let chats = server.chat_requests();
    assert_eq!(chats.len(), 2, "{}", dump(&server));
    assert!(chats
        .iter()
        .all(|c| c.header("authorization") == Some(&format!("Bearer {OPENAI_KEY}"))));
    // What the model got back from the tool, and what the session keeps.
    let second = String::from_utf8_lossy(&chats[1].body);
    assert!(!second.contains(OPENAI_KEY), "{second}");
    let session = ws.read("sessions/s1.jsonl").expect("the session was saved");
    assert!(!session.contains(OPENAI_KEY), "{session}");
    assert!(session.contains("[REDACTED]"), "{session}");
    assert_eq!(usage_lines(&ws).len(), 2);
}

/// A provider error that quotes the key back (a 401 naming the credentials
/// it refused) reaches a `wasiclaw serve` client redacted, in the 502 the
/// guest makes of it.
#[test]
fn serve_passes_no_quoted_key_to_its_client() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().fault(Fault::EchoCredentials(401)));
    let s = Serve::start(Host::Wasiclaw, &ws, &server);
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let r = s.chat(&body, &[]);
    assert_eq!(r.status, 502, "{} / {}", r.body, s.log());
    assert!(r.body.contains("Incorrect API key provided"), "{}", r.body);
    assert!(r.body.contains("[REDACTED]"), "{}", r.body);
    assert!(!r.body.contains(OPENAI_KEY), "{}", r.body);
    assert!(!s.log().contains(OPENAI_KEY), "{}", s.log());
}

/// A guest that opens a path continuing past a symlink out of the workspace
/// gets an error, and the runner lives on. (WAMR's debug build asserted
/// there and aborted the whole runner; see `[profile.dev.package.wamrx-sys]`.)
#[test]
fn wamr_refuses_a_path_through_an_escaping_symlink_without_dying() {
    let ws = Workspace::new();
    std::fs::write(ws.outside().join("outside.txt"), "not for the guest").unwrap();
    std::os::unix::fs::symlink(ws.outside(), ws.file("up")).unwrap();
    let out = Agent::on(Runner::Wamr, &ws)
        .module(probe(Runner::Wamr))
        .args(&["--open", "/workspace/up/outside.txt"])
        .exec();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .contains("open /workspace/up/outside.txt: refused"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("not for the guest"), "{out:?}");
}
