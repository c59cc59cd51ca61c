use super::TempDir;
use crate::files::Files;
use crate::message::{Message, Role, ToolCall};
use crate::session::{self, load, repair, save, validate_name};

fn call(id: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: "echo".into(),
        arguments: r#"{"a":"b\nc"}"#.into(),
    }
}

fn sample() -> Vec<Message> {
    vec![
        Message::user("hi \"there\"\nnew line ünïcode"),
        Message::assistant("", vec![call("c1")]),
        Message::tool_result(&call("c1"), "error: failed: x".into(), true),
        Message::assistant("bye", vec![]),
    ]
}

fn load_warn(ws: &TempDir, name: &str) -> (Vec<Message>, Vec<String>) {
    let mut warnings = Vec::new();
    let m = load(&mut ws.files(), name, &mut |w| warnings.push(w.to_string())).unwrap();
    (m, warnings)
}

#[test]
fn save_and_reload_round_trip() {
    let ws = TempDir::new();
    save(&mut ws.files(), "s", &sample()).unwrap();
    let text = ws.read("sessions/s.jsonl").unwrap();
    assert_eq!(text.lines().count(), 4, "one message per line");
    assert!(text
        .lines()
        .nth(1)
        .unwrap()
        .contains(r#""tool_calls":[{"id":"c1","name":"echo""#));
    let (back, warnings) = load_warn(&ws, "s");
    assert_eq!(back, sample());
    assert!(warnings.is_empty());
    assert!(
        ws.read("sessions/.s.jsonl.tmp").is_none(),
        "temp file renamed away"
    );
}

#[test]
fn missing_session_is_empty() {
    let ws = TempDir::new();
    assert_eq!(load_warn(&ws, "nothing"), (vec![], vec![]));
}

#[test]
fn corrupt_lines_are_skipped_with_a_warning() {
    let ws = TempDir::new();
    let lines: Vec<String> = sample().iter().map(Message::to_json).collect();
    let text = format!(
        "{}\n{{\"role\":\"user\",\"content\":\n{}\n{}\n\n{}\n{{\"role\":\"assistant\",\"cont",
        lines[0], lines[1], lines[2], lines[3]
    );
    ws.write("sessions/c.jsonl", &text);
    let (back, warnings) = load_warn(&ws, "c");
    assert_eq!(back, sample());
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("wasiclaw: warning: sessions/c.jsonl line 2:"),
        "{}",
        warnings[0]
    );
    assert!(warnings[1].contains("line 7"), "{}", warnings[1]);
}

#[test]
fn repair_fixes_lost_lines() {
    // A lost tool result gets an error result; an orphan result and a
    // leading assistant message are dropped.
    let msgs = vec![
        Message::assistant("orphan start", vec![]),
        Message::user("q"),
        Message::assistant("", vec![call("a"), call("b")]),
        Message::tool_result(&call("b"), "ok".into(), false),
        Message::tool_result(&call("zzz"), "orphan".into(), false),
        Message::user("next"),
    ];
    let fixed = repair(msgs);
    let summary: Vec<(Role, String)> = fixed
        .iter()
        .map(|m| (m.role, m.tool_call_id.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Role::User, String::new()),
            (Role::Assistant, String::new()),
            (Role::Tool, "b".into()),
            (Role::Tool, "a".into()),
            (Role::User, String::new()),
        ]
    );
    assert!(fixed[3].is_error);
}

#[test]
fn session_names_are_validated() {
    assert_eq!(validate_name(""), Ok("default"));
    for ok in ["default", "a.b_c-D9", "x"] {
        assert_eq!(validate_name(ok), Ok(ok));
    }
    for bad in [
        "../x",
        "a/b",
        ".hidden",
        "..",
        "sp ace",
        "é",
        &"x".repeat(65),
    ] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
    assert_eq!(session::path("x"), "sessions/x.jsonl");
}

/// Files whose writes fail after a number of bytes: a crash mid-save.
struct FailingWrites(crate::files::StdFiles);

impl Files for FailingWrites {
    fn read(&mut self, p: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.read(p)
    }
    fn create_dir(&mut self, p: &str) -> Result<(), String> {
        self.0.create_dir(p)
    }
    fn write(&mut self, p: &str, data: &[u8]) -> Result<(), String> {
        self.0.write(p, &data[..data.len() / 2])?;
        Err("disk full".into())
    }
    fn rename(&mut self, a: &str, b: &str) -> Result<(), String> {
        self.0.rename(a, b)
    }
    fn remove(&mut self, p: &str) -> Result<(), String> {
        self.0.remove(p)
    }
}

#[test]
fn failed_save_keeps_the_old_file() {
    let ws = TempDir::new();
    save(&mut ws.files(), "s", &sample()[..1]).unwrap();
    let before = ws.read("sessions/s.jsonl").unwrap();
    let err = save(&mut FailingWrites(ws.files()), "s", &sample()).unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(ws.read("sessions/s.jsonl").unwrap(), before);
    assert!(ws.read("sessions/.s.jsonl.tmp").is_none());
}
