//! Randomized session repair: random valid sessions with random lines damaged.
//!
//! Each case writes a session of random turns (tool rounds included), damages
//! some lines (cut short, a byte changed or inserted, replaced by junk, not
//! UTF-8) and checks that loading never fails, that exactly the lines that
//! still parse come back, that a turn's save (alone, or after an overlapping
//! turn's) keeps every one of them byte for byte, and that what is sent to
//! the provider is a history both APIs accept. Seeded, so a failure repeats.

use std::collections::HashMap;

use super::FakeClock;
use crate::context::trim;
use crate::files::Files;
use crate::message::{Message, Role, ToolCall};
use crate::session::{load, repair, save, LOST_START};
use wasiclaw_tests::Rng;

/// A short random text of awkward pieces (quotes, escapes, UTF-8, JSON).
fn text(r: &mut Rng) -> String {
    const PARTS: [&str; 8] = ["a", "word ", "\"q\"", "\\", "\n", "é", "✓", "{\"x\":1}"];
    (0..r.below(6)).map(|_| PARTS[r.below(8)]).collect()
}

const CASES: u64 = 2000;

/// Files in memory: the cases need no disk (nor a sync per save); the
/// named tests in `session_tests` run on real files.
#[derive(Default)]
struct MemFiles(HashMap<String, Vec<u8>>);

impl Files for MemFiles {
    fn read(&mut self, p: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.get(p).cloned())
    }
    fn create_dir(&mut self, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn write(&mut self, p: &str, data: &[u8]) -> Result<(), String> {
        self.0.insert(p.into(), data.to_vec());
        Ok(())
    }
    fn list(&mut self, _: &str) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }
    fn create_new(&mut self, p: &str) -> Result<bool, String> {
        let free = !self.0.contains_key(p);
        self.0.entry(p.into()).or_default();
        Ok(free)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        let data = self.0.remove(from).ok_or("no such file")?;
        self.0.insert(to.into(), data);
        Ok(())
    }
    fn remove(&mut self, p: &str) -> Result<(), String> {
        self.0
            .remove(p)
            .map(drop)
            .ok_or_else(|| "no such file".into())
    }
}

/// A session as the agent writes it: turns of a user message, tool rounds
/// (each call answered, in any order) and a final answer.
fn random_session(r: &mut Rng) -> Vec<Message> {
    let mut out = Vec::new();
    let mut id = 0;
    for _ in 0..1 + r.below(4) {
        out.push(Message::user(text(r)));
        for _ in 0..r.below(3) {
            let calls: Vec<ToolCall> = (0..1 + r.below(3))
                .map(|_| {
                    id += 1;
                    ToolCall {
                        id: format!("call_{id}"),
                        name: "read_file".into(),
                        arguments: text(r),
                    }
                })
                .collect();
            out.push(Message::assistant(text(r), calls.clone()));
            let mut calls = calls;
            while !calls.is_empty() {
                let c = calls.remove(r.below(calls.len()));
                out.push(Message::tool_result(&c, text(r), r.below(2) == 0));
            }
        }
        out.push(Message::assistant(text(r), vec![]));
    }
    out
}

fn damage(r: &mut Rng, line: &mut Vec<u8>) {
    match r.below(5) {
        0 => line.truncate(r.below(line.len())),
        1 => {
            let at = r.below(line.len());
            line[at] = r.next_u64() as u8;
        }
        2 => line.insert(r.below(line.len() + 1), r.next_u64() as u8),
        3 => *line = b"\xff\xfe not utf-8".to_vec(),
        _ => *line = text(r).into_bytes(),
    }
}

/// Asserts that `view` is what both APIs accept: it starts with a user
/// message, every tool result answers a call of the assistant message
/// before it, and every call is answered before the next message.
pub fn assert_valid(view: &[Message]) {
    if let Some(first) = view.first() {
        assert_eq!(first.role, Role::User, "{view:#?}");
    }
    let mut pending: Vec<&str> = Vec::new();
    for m in view {
        if m.role == Role::Tool {
            let at = pending.iter().position(|id| *id == m.tool_call_id);
            let at = at.unwrap_or_else(|| panic!("unmatched result {m:?} in {view:#?}"));
            pending.remove(at);
        } else {
            assert!(pending.is_empty(), "unanswered {pending:?} in {view:#?}");
            pending = m.tool_calls.iter().map(|c| c.id.as_str()).collect();
        }
    }
    assert!(pending.is_empty(), "unanswered {pending:?} in {view:#?}");
}

/// [`assert_valid`], and every user and assistant message of `loaded` is
/// in `view`, in order: repair hides nothing the model said or was told.
pub fn assert_sendable(view: &[Message], loaded: &[Message]) {
    assert_valid(view);
    let said = |ms: &[Message]| -> Vec<Message> {
        ms.iter()
            .filter(|m| m.role != Role::Tool && m.content != LOST_START)
            .cloned()
            .collect()
    };
    assert_eq!(said(view), said(loaded));
}

/// The lines of `bytes` that parse, as `load` must return them, and how
/// many other lines are not blank (damaged, to be reported).
fn parsing_lines(bytes: &[u8]) -> (Vec<Message>, usize) {
    let lines = bytes.split(|&b| b == b'\n');
    let lines: Vec<&[u8]> = lines
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    let msgs: Vec<Message> = lines
        .iter()
        .filter_map(|l| Message::from_json(std::str::from_utf8(l).ok()?).ok())
        .collect();
    let damaged = lines.len() - msgs.len();
    (msgs, damaged)
}

fn turn(user: &str) -> [Message; 2] {
    [
        Message::user(user),
        Message::assistant(format!("re: {user}"), vec![]),
    ]
}

#[test]
fn damaged_sessions_keep_every_line_that_parses() {
    let started = std::time::Instant::now();
    let mut r = Rng(0x5e55_10f1_2026);
    let mut fs = MemFiles::default();
    let (mut damaged, mut dropped) = (0, 0);
    for case in 0..CASES {
        let session = random_session(&mut r);
        let mut lines: Vec<Vec<u8>> = session.iter().map(|m| m.to_json().into_bytes()).collect();
        let mut intact = Vec::new();
        for (i, line) in lines.iter_mut().enumerate() {
            if r.below(4) == 0 {
                damage(&mut r, line);
                damaged += 1;
            } else {
                intact.push(i);
            }
        }
        let bytes = lines.join(&b'\n');
        let name = format!("f{case}");
        let path = format!("sessions/{name}.jsonl");
        fs.write(&path, &bytes).unwrap();

        let mut warnings = 0;
        let (msgs, base) = load(&mut fs, &name, &mut |_| warnings += 1)
            .unwrap_or_else(|e| panic!("case {case}: load failed: {e}"));
        let (want, bad) = parsing_lines(&bytes);
        assert_eq!(msgs, want, "case {case}");
        assert_eq!(warnings, bad, "case {case}");
        dropped += bad;

        // What is sent, also once trimmed to a random budget.
        let mut view = repair(&msgs);
        assert_sendable(&view, &msgs);
        let current = view.len();
        view.push(Message::user("now"));
        assert_valid(&trim(&view, current, r.below(200)));

        // Two overlapping turns save: every intact line survives verbatim,
        // and both turns land after them.
        let other = load(&mut fs, &name, &mut |_| {}).unwrap();
        for (mine, (loaded, base)) in [("one", (msgs, base)), ("two", other)] {
            save(
                &mut fs,
                &mut FakeClock::default(),
                &name,
                &loaded,
                &turn(mine),
                &base,
            )
            .unwrap_or_else(|e| panic!("case {case}: save {mine} failed: {e}"));
        }
        let text = fs.0.remove(&path).unwrap_or_default();
        assert_eq!(fs.0.len(), 0, "case {case}: {:?} left behind", fs.0.keys());
        let saved: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        for &i in &intact {
            assert!(saved.contains(&&lines[i][..]), "case {case}: line {i} lost");
        }
        let (back, bad) = parsing_lines(&text);
        assert_eq!(bad, 0, "case {case}: a damaged line was saved");
        let ends = [want, turn("one").to_vec(), turn("two").to_vec()].concat();
        assert_eq!(back, ends, "case {case}");
    }
    wasiclaw_tests::report_randomized(&format!(
        "session repair: {CASES} sessions, {damaged} lines damaged ({dropped} no longer parsed) in {:?}",
        started.elapsed()
    ));
    assert!(dropped > CASES as usize / 2, "the damage must drop lines");
}
