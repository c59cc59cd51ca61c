use std::os::unix::fs::symlink;

use super::*;
use crate::paths::resolve;

fn denied(tb: &mut TestBox, tool: &str, args: &str) -> String {
    match tb.call(tool, args) {
        Err(ToolError::Denied(m)) => m,
        other => panic!("{tool} {args}: expected denied, got {other:?}"),
    }
}

#[test]
fn lexical_resolution() {
    let dir = TempDir::new();
    let p = TestPlatform::new(&dir.ws());
    for (input, want) in [
        ("a/b.md", "a/b.md"),
        ("./a//b.md/", "a/b.md"),
        ("a/../b", "b"),
        ("/workspace", ""),
        ("/workspace/", ""),
        ("/workspace/x/./y", "x/y"),
        (".", ""),
        ("", ""),
    ] {
        assert_eq!(resolve(&p, input).unwrap(), want, "{input}");
    }
    for input in [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "/workspacefoo/a",
        "/",
        "/workspace/../etc",
    ] {
        assert!(
            matches!(resolve(&p, input), Err(ToolError::Denied(_))),
            "{input}"
        );
    }
}

#[test]
fn escapes_are_denied_with_clear_messages() {
    let (dir, mut tb) = setup();
    fs::write(dir.0.join("secret.txt"), "top secret").unwrap();
    let m = denied(&mut tb, "read_file", r#"{"path":"../secret.txt"}"#);
    assert!(m.contains("uses .. to leave the workspace"), "{m}");
    let m = denied(&mut tb, "read_file", r#"{"path":"/etc/passwd"}"#);
    assert!(
        m.contains("outside the workspace") && m.contains("/workspace"),
        "{m}"
    );
    denied(
        &mut tb,
        "write_file",
        r#"{"path":"../evil.txt","content":"x"}"#,
    );
    assert!(!dir.0.join("evil.txt").exists());
    denied(&mut tb, "list_dir", r#"{"path":".."}"#);
    denied(
        &mut tb,
        "search_files",
        r#"{"pattern":"secret","path":"/tmp"}"#,
    );
    denied(
        &mut tb,
        "edit_file",
        r#"{"path":"a/../../secret.txt","old_text":"top","new_text":"x"}"#,
    );
    assert_eq!(
        fs::read_to_string(dir.0.join("secret.txt")).unwrap(),
        "top secret"
    );
}

#[test]
fn symlinks_leading_out_are_denied() {
    let (dir, mut tb) = setup();
    fs::write(dir.0.join("secret.txt"), "top secret").unwrap();
    fs::create_dir(dir.0.join("outside")).unwrap();
    symlink(dir.0.join("secret.txt"), dir.ws().join("abs_link")).unwrap();
    symlink("../secret.txt", dir.ws().join("rel_link")).unwrap();
    symlink("../outside", dir.ws().join("dir_link")).unwrap();
    symlink("/etc", dir.ws().join("etc")).unwrap();
    let m = denied(&mut tb, "read_file", r#"{"path":"abs_link"}"#);
    assert!(m.contains("through the symlink `abs_link`"), "{m}");
    // Only workspace paths are named: a host (WAMR) reads link targets
    // verbatim, and the model must not learn where the workspace lives.
    let host_path = dir.0.to_string_lossy().into_owned();
    for (path, link) in [
        ("abs_link", "abs_link"),
        ("rel_link", "rel_link"),
        ("dir_link/x", "dir_link"),
    ] {
        let m = denied(&mut tb, "read_file", &format!(r#"{{"path":"{path}"}}"#));
        assert_eq!(
            m,
            format!("`{path}` leads out of the workspace through the symlink `{link}`")
        );
        assert!(!m.contains(&host_path) && !m.contains("secret"), "{m}");
    }
    denied(
        &mut tb,
        "write_file",
        r#"{"path":"dir_link/new.txt","content":"x"}"#,
    );
    assert!(!dir.0.join("outside/new.txt").exists());
    // A missing component and `..` do not hide the link after them.
    denied(
        &mut tb,
        "write_file",
        r#"{"path":"nothing/../dir_link/new.txt","content":"x"}"#,
    );
    assert!(!dir.0.join("outside/new.txt").exists());
    denied(&mut tb, "list_dir", r#"{"path":"etc"}"#);
    denied(
        &mut tb,
        "write_file",
        r#"{"path":"rel_link","content":"pwned"}"#,
    );
    assert_eq!(
        fs::read_to_string(dir.0.join("secret.txt")).unwrap(),
        "top secret"
    );
}

#[test]
fn symlinks_inside_the_workspace_work() {
    let (dir, mut tb) = setup();
    write(&dir, "real/a.txt", "inside\n");
    symlink("real", dir.ws().join("alias")).unwrap();
    symlink("/workspace/real/a.txt", dir.ws().join("abs_inside")).unwrap();
    fs::create_dir(dir.ws().join("deep")).unwrap();
    symlink("../real/a.txt", dir.ws().join("deep/up")).unwrap();
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"alias/a.txt"}"#),
        "inside\n"
    );
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"abs_inside"}"#),
        "inside\n"
    );
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"deep/up"}"#),
        "inside\n"
    );
    // Writing through a link replaces the target, and the link stays a link.
    ok(
        &mut tb,
        "write_file",
        r#"{"path":"deep/up","content":"new\n"}"#,
    );
    assert_eq!(read(&dir, "real/a.txt"), "new\n");
    assert!(fs::symlink_metadata(dir.ws().join("deep/up"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn symlink_loops_fail_cleanly() {
    let (dir, mut tb) = setup();
    symlink("b", dir.ws().join("a")).unwrap();
    symlink("a", dir.ws().join("b")).unwrap();
    let e = err(&mut tb, "read_file", r#"{"path":"a"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("too many levels of symlinks")),
        "{e:?}"
    );
}

#[test]
fn host_refusing_readlink_is_reported_as_an_escape() {
    let dir = TempDir::new();
    symlink("/etc/passwd", dir.ws().join("pw")).unwrap();
    let mut p = TestPlatform::new(&dir.ws());
    p.readlink_denied = true;
    let mut tb = toolbox_with(p);
    let m = denied(&mut tb, "read_file", r#"{"path":"pw"}"#);
    assert_eq!(
        m,
        "`pw` leads out of the workspace through the symlink `pw`"
    );
}

#[test]
fn host_files_are_readable_but_not_writable() {
    let (dir, mut tb) = setup();
    let policy = r#"{"host":{"allow_hosts":["example.org"]}}"#;
    fs::write(dir.ws().join("wasiclaw.json"), policy).unwrap();
    fs::write(dir.ws().join("usage.jsonl"), "{}\n").unwrap();
    symlink("wasiclaw.json", dir.ws().join("cfg")).unwrap();
    for args in [
        r#"{"path":"wasiclaw.json","content":"{}"}"#,
        r#"{"path":"/workspace/notes/../usage.jsonl","content":""}"#,
        r#"{"path":"cfg","content":"{}"}"#,
    ] {
        let m = denied(&mut tb, "write_file", args);
        assert!(m.contains("belongs to the host"), "{m}");
    }
    let m = denied(
        &mut tb,
        "edit_file",
        r#"{"path":"wasiclaw.json","old_text":"example.org","new_text":"*"}"#,
    );
    assert!(m.contains("belongs to the host"), "{m}");
    assert_eq!(
        fs::read_to_string(dir.ws().join("wasiclaw.json")).unwrap(),
        policy
    );
    assert!(tb.call("read_file", r#"{"path":"wasiclaw.json"}"#).is_ok());
}

#[test]
fn agent_state_is_readable_but_not_writable() {
    let (dir, mut tb) = setup();
    // What memory_save writes it keeps writing.
    ok(
        &mut tb,
        "memory_save",
        r#"{"text":"the cat is called Tom"}"#,
    );
    let session = "{\"role\":\"user\",\"content\":\"hi\"}\n";
    write(&dir, "sessions/chat.jsonl", session);
    symlink("sessions", dir.ws().join("s")).unwrap();
    symlink("/workspace/memory/entries.jsonl", dir.ws().join("m")).unwrap();
    let state = |dir: &TempDir| {
        [
            "sessions/chat.jsonl",
            "memory/entries.jsonl",
            "memory/index.bin",
            "memory/meta.json",
        ]
        .map(|f| fs::read(dir.ws().join(f)).unwrap())
    };
    let before = state(&dir);
    for path in [
        "sessions/chat.jsonl",
        "./sessions/chat.jsonl",
        "sessions/chat.jsonl/",
        "notes/../sessions//chat.jsonl",
        "/workspace/sessions/chat.jsonl",
        "Sessions/CHAT.jsonl",
        "SESSIONS/new.jsonl",
        "sessions/new.jsonl",
        "sessions/.chat.jsonl.lock",
        "sessions",
        "sessions/",
        "s/chat.jsonl",
        "nothing/../s/chat.jsonl",
        "m",
        "memory",
        "memory/entries.jsonl",
        "MEMORY/index.bin",
        "memory/meta.json",
        "memory/entries.jsonl/x",
        "usage.jsonl/x",
    ] {
        let args = format!(r#"{{"path":"{path}","content":"garbage"}}"#);
        let m = denied(&mut tb, "write_file", &args);
        assert!(
            m.contains("belongs to the") && m.contains("may read it"),
            "{path}: {m}"
        );
    }
    for path in ["sessions/chat.jsonl", "s/chat.jsonl", "no/../m"] {
        let args = format!(r#"{{"path":"{path}","old_text":"t","new_text":"x"}}"#);
        let m = denied(&mut tb, "edit_file", &args);
        assert!(m.contains("belongs to the agent"), "{path}: {m}");
    }
    assert!(state(&dir) == before, "the agent's state changed");
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"s/chat.jsonl"}"#),
        session
    );
    assert!(ok(&mut tb, "read_file", r#"{"path":"m"}"#).contains("Tom"));
    // Names next to the state stay the model's, and memory still works.
    for path in [
        "memory/notes.md",
        "sessions.md",
        "sessionsx/a",
        "my/sessions/a",
    ] {
        ok(
            &mut tb,
            "write_file",
            &format!(r#"{{"path":"{path}","content":"x"}}"#),
        );
    }
    ok(
        &mut tb,
        "memory_save",
        r#"{"text":"the dog is called Rex"}"#,
    );
    assert!(ok(&mut tb, "memory_search", r#"{"query":"dog"}"#).contains("Rex"));
}
