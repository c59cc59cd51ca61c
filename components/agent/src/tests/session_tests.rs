use super::{FakeClock, TempDir};
use crate::files::Files;
use crate::message::{Message, Role, ToolCall};
use crate::session::{self, load, repair, save, validate_name, Base};

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
    let (m, _) = load(&mut ws.files(), name, &mut |w| warnings.push(w.to_string())).unwrap();
    (m, warnings)
}

#[test]
fn save_and_reload_round_trip() {
    let ws = TempDir::new();
    save(
        &mut ws.files(),
        &mut FakeClock::default(),
        "s",
        &[],
        &sample(),
        &Base::default(),
    )
    .unwrap();
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
    assert_eq!(tmp_files(&ws), 0, "temp file renamed away");
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
    // A lost tool result gets an error result; an orphan result is left out;
    // a history starting with the assistant gets a note as its first user
    // message, so the assistant's words still reach the model.
    let msgs = vec![
        Message::tool_result(&call("gone"), "orphan start".into(), false),
        Message::assistant("orphan start", vec![]),
        Message::user("q"),
        Message::assistant("", vec![call("a"), call("b")]),
        Message::tool_result(&call("b"), "ok".into(), false),
        Message::tool_result(&call("zzz"), "orphan".into(), false),
        Message::user("next"),
    ];
    let fixed = repair(&msgs);
    let summary: Vec<(Role, &str, &str)> = fixed
        .iter()
        .map(|m| (m.role, m.content.as_str(), m.tool_call_id.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Role::User, session::LOST_START, ""),
            (Role::Assistant, "orphan start", ""),
            (Role::User, "q", ""),
            (Role::Assistant, "", ""),
            (Role::Tool, "ok", "b"),
            (
                Role::Tool,
                "error: no result was recorded for this call",
                "a"
            ),
            (Role::User, "next", ""),
        ]
    );
    assert!(fixed[5].is_error);
    assert_eq!(repair(&fixed), fixed, "a valid history is left as it is");
    assert_eq!(repair(&sample()), sample());
}

/// `sample()` as a file with line `bad` (0-based) damaged, loaded, checked
/// and saved with one more turn: only the damaged line is gone.
fn damaged_line_is_all_that_is_lost(bad: usize, damage: &str) {
    let ws = TempDir::new();
    let mut lines: Vec<String> = sample().iter().map(Message::to_json).collect();
    lines[bad] = damage.to_string();
    ws.write("sessions/s.jsonl", &(lines.join("\n") + "\n"));
    let mut intact = sample();
    intact.remove(bad);
    let (msgs, warnings) = load_warn(&ws, "s");
    assert_eq!(msgs, intact, "line {bad}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("line {}:", bad + 1)),
        "{warnings:?}"
    );
    super::session_fuzz::assert_sendable(&repair(&msgs), &msgs);
    let (loaded, base) = load(&mut ws.files(), "s", &mut |_| {}).unwrap();
    turn_from(&ws, (loaded, base), "more");
    let text = ws.read("sessions/s.jsonl").unwrap();
    let kept: Vec<&str> = text.lines().collect();
    let mut want: Vec<String> = lines.clone();
    want.remove(bad);
    want.push(Message::user("more").to_json());
    want.push(Message::assistant("re: more", vec![]).to_json());
    assert_eq!(kept, want, "line {bad}");
}

#[test]
fn overlapping_turns_both_land_after_a_damaged_line() {
    // The first save rewrites the file without the damaged line; the second
    // still finds what it loaded at the start and adds its turn after it.
    let ws = TempDir::new();
    let lines: Vec<String> = sample().iter().map(Message::to_json).collect();
    ws.write(
        "sessions/s.jsonl",
        &format!("{{damaged\n{}\n", lines.join("\n")),
    );
    let a = load(&mut ws.files(), "s", &mut |_| {}).unwrap();
    let b = load(&mut ws.files(), "s", &mut |_| {}).unwrap();
    turn_from(&ws, a, "one");
    turn_from(&ws, b, "two");
    let (msgs, warnings) = load_warn(&ws, "s");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(msgs[..4], sample());
    let users: Vec<&str> = msgs[4..].iter().map(|m| m.content.as_str()).collect();
    assert_eq!(users, ["one", "re: one", "two", "re: two"]);
}

#[test]
fn a_damaged_first_middle_or_last_line_loses_only_itself() {
    for bad in 0..sample().len() {
        damaged_line_is_all_that_is_lost(bad, "{\"role\":\"user\",\"cont");
        damaged_line_is_all_that_is_lost(bad, "\u{0}garbage\u{7f}");
    }
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
    fn create_new(&mut self, p: &str) -> Result<bool, String> {
        self.0.create_new(p)
    }
    fn list(&mut self, p: &str) -> Result<Vec<String>, String> {
        self.0.list(p)
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
    save(
        &mut ws.files(),
        &mut FakeClock::default(),
        "s",
        &[],
        &sample()[..1],
        &Base::default(),
    )
    .unwrap();
    let before = ws.read("sessions/s.jsonl").unwrap();
    let (msgs, base) = load(&mut ws.files(), "s", &mut |_| {}).unwrap();
    let err = save(
        &mut FailingWrites(ws.files()),
        &mut FakeClock::default(),
        "s",
        &msgs,
        &sample()[1..],
        &base,
    )
    .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(ws.read("sessions/s.jsonl").unwrap(), before);
    assert_eq!(tmp_files(&ws), 0);
}

fn tmp_files(ws: &TempDir) -> usize {
    std::fs::read_dir(ws.0.join("sessions"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .count()
        })
        .unwrap_or(0)
}

/// A turn of the session: load, add a user message and a reply, save.
fn turn_from(ws: &TempDir, loaded: (Vec<Message>, Base), user: &str) {
    let (msgs, base) = loaded;
    let new = [
        Message::user(user),
        Message::assistant(format!("re: {user}"), vec![]),
    ];
    save(
        &mut ws.files(),
        &mut FakeClock::default(),
        "s",
        &msgs,
        &new,
        &base,
    )
    .unwrap();
}

#[test]
fn overlapping_turns_of_one_session_both_land() {
    let ws = TempDir::new();
    turn_from(&ws, (vec![], Base::default()), "zero");
    // Two turns load the same file, then save one after the other.
    let a = load(&mut ws.files(), "s", &mut |_| {}).unwrap();
    let b = load(&mut ws.files(), "s", &mut |_| {}).unwrap();
    turn_from(&ws, a, "one");
    turn_from(&ws, b, "two");
    let users: Vec<String> = load(&mut ws.files(), "s", &mut |_| {})
        .unwrap()
        .0
        .into_iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content)
        .collect();
    assert_eq!(users, ["zero", "one", "two"]);
    assert_eq!(ws.read("sessions/s.jsonl").unwrap().lines().count(), 6);
    // The same when the session did not exist before either turn.
    let fresh = TempDir::new();
    turn_from(&fresh, (vec![], Base::default()), "a");
    turn_from(&fresh, (vec![], Base::default()), "b");
    assert_eq!(fresh.read("sessions/s.jsonl").unwrap().lines().count(), 4);
    assert_eq!(tmp_files(&fresh), 0);
}

#[test]
fn a_session_replaced_during_the_turn_is_not_overwritten() {
    let ws = TempDir::new();
    turn_from(&ws, (vec![], Base::default()), "zero");
    let loaded = load(&mut ws.files(), "s", &mut |_| {}).unwrap();
    let replaced = format!("{}\n", Message::user("someone else").to_json());
    std::fs::write(ws.0.join("sessions/s.jsonl"), &replaced).unwrap();
    let (msgs, base) = loaded;
    let err = save(
        &mut ws.files(),
        &mut FakeClock::default(),
        "s",
        &msgs,
        &[Message::user("mine")],
        &base,
    )
    .unwrap_err();
    assert!(err.to_string().contains("was replaced"), "{err}");
    assert_eq!(ws.read("sessions/s.jsonl").unwrap(), replaced);
}

#[test]
fn a_held_lock_is_waited_for_then_taken_over_as_stale() {
    let ws = TempDir::new();
    std::fs::create_dir_all(ws.0.join("sessions")).unwrap();
    std::fs::write(ws.0.join("sessions/.s.jsonl.lock"), "").unwrap();
    let mut clock = FakeClock::default();
    save(
        &mut ws.files(),
        &mut clock,
        "s",
        &[],
        &sample(),
        &Base::default(),
    )
    .unwrap();
    let waited: std::time::Duration = clock.sleeps.iter().sum();
    assert_eq!(
        waited,
        std::time::Duration::from_secs(3),
        "{:?}",
        clock.sleeps.len()
    );
    assert_eq!(load(&mut ws.files(), "s", &mut |_| {}).unwrap().0, sample());
    assert!(ws.read("sessions/.s.jsonl.lock").is_none(), "lock released");
}
