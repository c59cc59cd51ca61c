//! A fleet: two `wasiclaw serve` processes running the key-value build on
//! one Redis (started by the test), each with a workspace of its own, so
//! whatever they share goes through `wasi:keyvalue`. One session served by
//! both, alternately and concurrently, over raw HTTP and the official
//! openai client; an instance killed mid-turn; memory across instances.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use wasiclaw_tests::{ChatRequest, MockServer, Reply, Responder, Script, Turn};

use super::server::{kv_wasm, Host, Serve};
use super::{content, ensure_openai_package, reassemble, user};
use crate::harness::*;
use crate::redis::Redis;

/// Answers `ack: MESSAGE`; a message starting with `slow` waits 3 s first
/// (and says so in `slow_started` as soon as it arrives).
#[derive(Default)]
struct Echo {
    slow_started: AtomicBool,
}

impl Responder for Echo {
    fn respond(&self, request: &ChatRequest) -> Option<Reply> {
        let last = request
            .conversation()
            .into_iter()
            .rev()
            .find_map(|t| match t {
                Turn::User(u) => Some(u),
                _ => None,
            })
            .unwrap_or_default();
        if last.starts_with("slow") {
            self.slow_started.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(3));
        }
        Some(Reply::text(&format!("ack: {last}")))
    }
}

fn instance(redis: &Redis, ws: &Workspace, base: &str) -> Serve {
    let url = redis.url();
    Serve::launch(Host::WasiclawKv, &kv_wasm(), ws, base, &["--store", &url])
}

/// Every user message of the conversation the provider was sent.
fn users(conv: &[Turn]) -> Vec<String> {
    conv.iter()
        .filter_map(|t| match t {
            Turn::User(u) => Some(u.clone()),
            _ => None,
        })
        .collect()
}

fn turn(s: &Serve, text: &str, stream: bool) {
    let body = json!({"messages": [user(text)], "user": "fleet", "stream": stream});
    let r = s.chat(&body, &[]);
    let said = if stream {
        reassemble(&r)
    } else {
        assert_eq!(r.status, 200, "{}\n{}", r.body, s.log());
        content(&r.json()).to_string()
    };
    assert_eq!(said, format!("ack: {text}"), "{}", s.log());
}

const PY_FLEET: &str = r#"
import sys, openai
bases, n = sys.argv[1:3], int(sys.argv[3])
clients = [openai.OpenAI(base_url=b + "/v1", api_key="unused", max_retries=0) for b in bases]
for i in range(n):
    text = "p%02d" % i
    c = clients[i % 2]
    if i % 2:
        s = c.chat.completions.create(model="m", user="fleet", stream=True,
            messages=[{"role": "user", "content": text}])
        said = "".join(x.choices[0].delta.content or "" for x in s if x.choices)
    else:
        said = c.chat.completions.create(model="m", user="fleet",
            messages=[{"role": "user", "content": text}]).choices[0].message.content
    assert said == "ack: " + text, (text, said)
print("ok", n)
"#;

/// 200 turns of one session over two instances: 100 alternating over raw
/// HTTP (JSON and SSE), 60 from six concurrent clients each alternating,
/// 40 alternating through the official openai client. The 201st turn's
/// request carries every one of them exactly once, in order (each client's
/// own order for the concurrent ones), each answered by its own reply; the
/// Redis counter numbered exactly 201 records.
#[test]
fn two_instances_on_one_redis_serve_one_session() {
    ensure_openai_package();
    let redis = Redis::start();
    let server = MockServer::bind(0, Arc::new(Echo::default())).expect("bind mock");
    let base = server.openai_base();
    let (ws_a, ws_b) = (Workspace::new(), Workspace::new());
    let fleet = [
        instance(&redis, &ws_a, &base),
        instance(&redis, &ws_b, &base),
    ];
    for i in 0..100 {
        turn(&fleet[i % 2], &format!("m{i:03}"), i % 3 == 0);
    }
    std::thread::scope(|scope| {
        for t in 0..6 {
            let fleet = &fleet;
            scope.spawn(move || {
                for i in 0..10 {
                    turn(&fleet[(t + i) % 2], &format!("c{t}-{i}"), i % 2 == 0);
                }
            });
        }
    });
    let out = Command::new("python3")
        .args(["-c", PY_FLEET, &fleet[0].base(), &fleet[1].base(), "40"])
        .env("NO_PROXY", "127.0.0.1")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    turn(&fleet[0], "final", false);

    let last = chats(&server).pop().expect("requests");
    let conv = last.conversation();
    let said = users(&conv);
    assert_eq!(said.len(), 201, "every turn once: {said:?}");
    let seq: Vec<&String> = said.iter().filter(|u| u.starts_with('m')).collect();
    let want: Vec<String> = (0..100).map(|i| format!("m{i:03}")).collect();
    assert_eq!(
        seq,
        want.iter().collect::<Vec<_>>(),
        "sequential turns in order"
    );
    assert!(said[..100].iter().all(|u| u.starts_with('m')));
    for t in 0..6 {
        let mine: Vec<&String> = said
            .iter()
            .filter(|u| u.starts_with(&format!("c{t}-")))
            .collect();
        let want: Vec<String> = (0..10).map(|i| format!("c{t}-{i}")).collect();
        assert_eq!(
            mine,
            want.iter().collect::<Vec<_>>(),
            "client {t}'s turns in its order"
        );
    }
    assert!(
        said[100..160].iter().all(|u| u.starts_with('c')),
        "{said:?}"
    );
    let py: Vec<String> = (0..40).map(|i| format!("p{i:02}")).collect();
    assert_eq!(said[160..200], py[..]);
    assert_eq!(said[200], "final");
    // Each question directly followed by its own answer: no turn split.
    let mut it = conv.iter().skip_while(|t| !matches!(t, Turn::User(_)));
    while let Some(Turn::User(u)) = it.next() {
        if u == "final" {
            break;
        }
        match it.next() {
            Some(Turn::Assistant { text, .. }) => assert_eq!(text, &format!("ack: {u}")),
            other => panic!("after {u}: {other:?}"),
        }
    }
    assert_eq!(redis.get("session/fleet/seq").as_deref(), Some(&b"201"[..]));
    assert!(!ws_a.path().join("sessions").exists() && !ws_b.path().join("sessions").exists());
}

/// An instance killed while its turn waits for the model: that turn was
/// never acknowledged and is not in the session; every acknowledged one
/// is, once and in order, and the other instance carries on.
#[test]
fn an_instance_killed_mid_turn_loses_nothing_acknowledged() {
    let redis = Redis::start();
    let echo = Arc::new(Echo::default());
    let server = MockServer::bind(0, echo.clone()).expect("bind mock");
    let base = server.openai_base();
    let (ws_a, ws_b) = (Workspace::new(), Workspace::new());
    let mut a = instance(&redis, &ws_a, &base);
    let b = instance(&redis, &ws_b, &base);
    for i in 0..10 {
        turn(
            if i % 2 == 0 { &a } else { &b },
            &format!("k{i}"),
            i % 2 == 1,
        );
    }
    let port = a.port;
    let pending = std::thread::spawn(move || {
        let body = json!({"messages": [user("slow one")], "user": "fleet"}).to_string();
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        use std::io::{Read, Write};
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes())
            .and_then(|()| c.write_all(body.as_bytes()))
            .expect("send");
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        out
    });
    let t0 = Instant::now();
    while !echo.slow_started.load(Ordering::SeqCst) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the slow turn never reached the model"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill();
    let answer = pending.join().expect("client thread");
    assert!(
        !String::from_utf8_lossy(&answer).contains("ack: slow one"),
        "the killed turn was not acknowledged"
    );
    turn(&b, "after", false);
    let said = users(&chats(&server).pop().expect("requests").conversation());
    let want: Vec<String> = (0..10)
        .map(|i| format!("k{i}"))
        .chain(["after".into()])
        .collect();
    assert_eq!(said, want);
}

/// Memory saved through one instance is found through the other.
#[test]
fn memory_saved_through_one_instance_is_found_through_the_other() {
    let redis = Redis::start();
    let server = MockServer::start(
        Script::new()
            .tool(
                "memory_save",
                json!({"text": "The fleet's password hint is blue heron", "tags": ["hint"]}),
            )
            .text("Saved.")
            .tool(
                "memory_search",
                json!({"query": "what is the password hint?"}),
            )
            .text("Found it."),
    );
    let base = server.openai_base();
    let (ws_a, ws_b) = (Workspace::new(), Workspace::new());
    let a = instance(&redis, &ws_a, &base);
    let b = instance(&redis, &ws_b, &base);
    let r = a.chat(
        &json!({"messages": [user("remember the hint")], "user": "one"}),
        &[],
    );
    assert_eq!(content(&r.json()), "Saved.", "{}", a.log());
    let r = b.chat(
        &json!({"messages": [user("what was the hint?")], "user": "two"}),
        &[],
    );
    assert_eq!(content(&r.json()), "Found it.", "{}", b.log());
    let reqs = chats(&server);
    let (found, err) = result_for(&reqs[3], &reqs[2].tool_call_ids[0]);
    assert!(!err && found.contains("blue heron"), "{found}");
    assert!(redis
        .get("memory/entry/1")
        .is_some_and(|e| e.starts_with(b"{\"id\":1,")));
    assert!(!ws_a.path().join("memory").exists() && !ws_b.path().join("memory").exists());
}
