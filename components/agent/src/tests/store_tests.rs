//! The key-value session log: order, concurrent turns, holes, damage and
//! hostile counters, on an in-memory bucket that behaves like a host's
//! (wasmtime's counters are decimal text; so are Redis's).

use std::collections::HashMap;

use super::{replies, FakeClock, FakeHttp, FakeTools, Recorder, Scripted, TempDir};
use crate::agent::{run_turn, Env};
use crate::config::Config;
use crate::error::AgentError;
use crate::message::{Message, Role};
use crate::provider::{Endpoint, ProviderKind};
use crate::store::{self, Kv, KvError};

#[derive(Default)]
pub struct MemKv {
    pub data: HashMap<String, Vec<u8>>,
    /// `set` fails for keys with this prefix (a host dying mid-save).
    pub fail_set: Option<String>,
}

impl Kv for MemKv {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.data.get(key).cloned())
    }

    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), KvError> {
        if self.fail_set.as_deref().is_some_and(|p| key.starts_with(p)) {
            return Err(KvError::Other("connection reset".into()));
        }
        self.data.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn increment(&mut self, key: &str, delta: u64) -> Result<u64, KvError> {
        let v = self.data.entry(key.to_string()).or_insert(b"0".to_vec());
        let n: u64 = std::str::from_utf8(v)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| KvError::Other("not a counter".into()))?;
        let n = n + delta;
        *v = n.to_string().into_bytes();
        Ok(n)
    }
}

fn load(kv: &mut MemKv, name: &str) -> (Vec<Message>, Vec<String>) {
    let mut warnings = Vec::new();
    let msgs = store::load(kv, name, &mut |w| warnings.push(w.to_string())).unwrap();
    (msgs, warnings)
}

fn texts(msgs: &[Message]) -> Vec<&str> {
    msgs.iter().map(|m| m.content.as_str()).collect()
}

#[test]
fn records_load_in_sequence_order_and_sessions_are_apart() {
    let mut kv = MemKv::default();
    store::append(
        &mut kv,
        "a",
        &[Message::user("one"), Message::assistant("1", vec![])],
    )
    .unwrap();
    store::append(&mut kv, "b", &[Message::user("other")]).unwrap();
    store::append(&mut kv, "a", &[Message::user("two")]).unwrap();
    store::append(&mut kv, "a", &[]).unwrap();
    let (a, w) = load(&mut kv, "a");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(texts(&a), ["one", "1", "two"]);
    assert_eq!(texts(&load(&mut kv, "b").0), ["other"]);
    assert_eq!(
        kv.data.get("session/a/seq").map(Vec::as_slice),
        Some(&b"2"[..]),
        "an empty turn takes no number"
    );
    assert!(kv.data.contains_key("session/a/1") && kv.data.contains_key("session/a/2"));
    assert!(load(&mut kv, "nobody").0.is_empty());
}

/// Two turns that loaded the same history both land, the one that finished
/// second after the other: neither overwrites anything.
#[test]
fn concurrent_turns_both_land() {
    let mut kv = MemKv::default();
    store::append(&mut kv, "s", &[Message::user("base")]).unwrap();
    let before_x = load(&mut kv, "s").0;
    let before_y = load(&mut kv, "s").0;
    assert_eq!(before_x.len(), 1);
    assert_eq!(before_y.len(), 1);
    store::append(&mut kv, "s", &[Message::user("y")]).unwrap();
    store::append(&mut kv, "s", &[Message::user("x")]).unwrap();
    assert_eq!(texts(&load(&mut kv, "s").0), ["base", "y", "x"]);
}

/// A turn that took its number and died before writing was never
/// acknowledged: the hole is skipped and later turns still load.
#[test]
fn a_numbered_but_unwritten_record_is_skipped() {
    let mut kv = MemKv::default();
    store::append(&mut kv, "s", &[Message::user("kept")]).unwrap();
    kv.fail_set = Some("session/s/".into());
    let e = store::append(&mut kv, "s", &[Message::user("lost")]).unwrap_err();
    assert!(
        matches!(&e, AgentError::Session(m) if m.contains("session/s/2") && m.contains("connection reset")),
        "{e:?}"
    );
    kv.fail_set = None;
    store::append(&mut kv, "s", &[Message::user("after")]).unwrap();
    assert_eq!(texts(&load(&mut kv, "s").0), ["kept", "after"]);
}

#[test]
fn damaged_lines_are_skipped_with_a_warning() {
    let mut kv = MemKv::default();
    store::append(&mut kv, "s", &[Message::user("good")]).unwrap();
    kv.increment("session/s/seq", 1).unwrap();
    let good = Message::user("also good").to_json();
    kv.set(
        "session/s/2",
        format!("not json\n\u{0}\n{good}\n").as_bytes(),
    )
    .unwrap();
    kv.set("session/s/3", &[0xff, 0xfe, b'\n']).unwrap();
    kv.increment("session/s/seq", 1).unwrap();
    let (msgs, w) = load(&mut kv, "s");
    assert_eq!(texts(&msgs), ["good", "also good"]);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].contains("session/s/2 line 1"), "{w:?}");
    assert!(w[2].contains("not UTF-8"), "{w:?}");
}

/// A counter no real session reaches is refused before anything is read,
/// so a damaged store cannot make a turn read a billion keys.
#[test]
fn an_implausible_counter_is_an_error_in_bounded_time() {
    let mut kv = MemKv::default();
    kv.set("session/s/seq", b"18446744073709551615").unwrap();
    let e = store::load(&mut kv, "s", &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, AgentError::Session(m) if m.contains("damaged")),
        "{e:?}"
    );
    kv.set("session/t/seq", b"not a number").unwrap();
    let e = store::load(&mut kv, "t", &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, AgentError::Session(m) if m.contains("not a counter")),
        "{e:?}"
    );
}

fn config() -> Config {
    Config {
        endpoint: Endpoint {
            kind: ProviderKind::OpenAi,
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: None,
        },
        model: "test-model".into(),
        max_iterations: 5,
        stream: false,
        context_tokens: 32_000,
        max_tokens: 100,
        timeout_secs: 10,
        consolidate_percent: 0,
        mcp: Vec::new(),
    }
}

/// The loop with a bucket: the history comes from it and goes to it, and
/// no session file is written.
#[test]
fn a_turn_with_a_bucket_reads_and_appends_there() {
    let ws = TempDir::new();
    let mut kv = MemKv::default();
    store::append(
        &mut kv,
        "k",
        &[
            Message::user("earlier"),
            Message::assistant("noted", vec![]),
        ],
    )
    .unwrap();
    let mut http = FakeHttp::new(vec![Ok(Scripted::json(
        200,
        &replies::openai_text("Again."),
    ))]);
    let mut clock = FakeClock {
        now: 1_700_000_000,
        sleeps: vec![],
    };
    let mut tools = FakeTools::default();
    let mut files = ws.files();
    let mut log = |_: &str| {};
    let mut env = Env {
        http: &mut http,
        clock: &mut clock,
        tools: &mut tools,
        files: &mut files,
        kv: Some(&mut kv),
        workspace: "/workspace",
        log: &mut log,
    };
    let out = run_turn(
        &config(),
        &mut env,
        "k",
        "and now?",
        &mut Recorder::default(),
    )
    .unwrap();
    assert_eq!(out.text, "Again.");
    let sent = http.requests[0].json();
    let sent = sent
        .get("messages")
        .and_then(|m| m.as_array())
        .unwrap()
        .clone();
    let contents: Vec<&str> = sent
        .iter()
        .filter_map(|m| m.get("content").and_then(|c| c.as_str()))
        .collect();
    assert!(
        contents.ends_with(&["earlier", "noted", "and now?"]),
        "{contents:?}"
    );
    let (msgs, _) = load(&mut kv, "k");
    assert_eq!(texts(&msgs), ["earlier", "noted", "and now?", "Again."]);
    assert_eq!(msgs[3].role, Role::Assistant);
    assert!(
        !ws.0.join("sessions").exists(),
        "nothing written to the workspace"
    );
}
