//! `wasiclaw serve` resolves a request's session as the guest does (header,
//! then `user`, then `default`) for its locks, metering and budgets, and
//! reads a request's body before queueing it behind its session: one client
//! that stalls mid-upload holds up nobody else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;
use wasiclaw_tests::{MockServer, Script};

use super::server::{Host, Serve};
use super::{content, user};
use crate::harness::*;

/// A client that names its session only by `user` is metered under it.
#[test]
fn a_user_field_session_is_metered_as_that_session() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("hello alice").text("hello again"));
    let s = Serve::start(Host::Wasiclaw, &ws, &server);
    let r = s.chat(&json!({"messages": [user("hi")], "user": "alice"}), &[]);
    assert_eq!(content(&r.json()), "hello alice", "{}", s.log());
    let r = s.chat(
        &json!({"messages": [user("hi")]}),
        &[("x-wasiclaw-session", "bob")],
    );
    assert_eq!(content(&r.json()), "hello again", "{}", s.log());
    let sessions: Vec<String> = usage_lines(&ws)
        .iter()
        .map(|u| u["session"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(sessions, ["alice", "bob"], "{}", s.log());
    assert!(ws.read("sessions/alice.jsonl").is_some());
}

/// Opens a request that announces a body and sends only half of it, then
/// stalls (the connection stays open until the returned stream drops).
fn stalled_upload(s: &Serve, headers: &str) -> TcpStream {
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    let body = json!({"messages": [user("slow")]}).to_string();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).expect("send head");
    c.write_all(&body.as_bytes()[..body.len() / 2])
        .expect("send half");
    c
}

/// With an upload stalled for each session naming (no session at all, and
/// an explicit header), requests of those same sessions are still answered
/// at once; the stalled ones are answered with a timeout only when their
/// clients give up. Today's reading: each stalled request held its
/// session's lock while the guest waited for the body.
#[test]
fn a_stalled_upload_delays_no_other_request() {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("not stalled").text("also not"));
    let s = Serve::start(Host::Wasiclaw, &ws, &server);
    let _no_header = stalled_upload(&s, "");
    let _with_header = stalled_upload(&s, "x-wasiclaw-session: default\r\n");
    // Give the server time to take both in (and, before the fix, to lock).
    std::thread::sleep(Duration::from_millis(300));
    let answered = std::sync::mpsc::channel();
    let port = s.port;
    let tx = answered.0.clone();
    std::thread::spawn(move || {
        let body = json!({"messages": [user("hi")]}).to_string();
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        c.write_all(req.as_bytes()).expect("send");
        let mut raw = String::new();
        let _ = c.read_to_string(&mut raw);
        let _ = tx.send(raw);
    });
    // Far more than a mock turn takes; far less than any body timeout.
    let raw = answered
        .1
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("a request waited behind a stalled upload\n{}", s.log()));
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}\n{}", s.log());
    assert!(raw.contains("not stalled"), "{raw}");
    let r = s.chat(
        &json!({"messages": [user("hi")]}),
        &[("x-wasiclaw-session", "default")],
    );
    assert_eq!(content(&r.json()), "also not", "{}", s.log());
}
