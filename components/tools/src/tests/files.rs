use super::*;
use crate::files::{READ_DEFAULT_LINES, READ_MAX_BYTES};

#[test]
fn read_file_whole_and_paged() {
    let (dir, mut tb) = setup();
    write(&dir, "notes/a.md", "one\ntwo\nthree\nfour\n");
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"notes/a.md"}"#),
        "one\ntwo\nthree\nfour\n"
    );
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"/workspace/notes/a.md","offset":2,"limit":2}"#),
        "two\nthree\n[truncated: showing lines 2-3; the file continues, call read_file with offset=4 to read more]"
    );
    // Limit reached exactly at the end of the file: no note.
    assert_eq!(
        ok(
            &mut tb,
            "read_file",
            r#"{"path":"notes/a.md","offset":3,"limit":2}"#
        ),
        "three\nfour\n"
    );
    let e = err(&mut tb, "read_file", r#"{"path":"notes/a.md","offset":9}"#);
    assert_eq!(
        e,
        ToolError::InvalidArguments("field `offset` is 9 but notes/a.md has only 4 lines".into())
    );
}

#[test]
fn read_file_without_trailing_newline_and_empty() {
    let (dir, mut tb) = setup();
    write(&dir, "a.txt", "x\ny");
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"a.txt","offset":2}"#),
        "y"
    );
    let e = err(&mut tb, "read_file", r#"{"path":"a.txt","offset":3}"#);
    assert!(e.message().contains("has only 2 lines"), "{e:?}");
    write(&dir, "empty.txt", "");
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"empty.txt"}"#),
        "[empty file]"
    );
}

#[test]
fn read_file_caps_lines_and_bytes() {
    let (dir, mut tb) = setup();
    let many: String = (1..=READ_DEFAULT_LINES + 10)
        .map(|i| format!("line {i}\n"))
        .collect();
    write(&dir, "many.txt", &many);
    let out = ok(&mut tb, "read_file", r#"{"path":"many.txt"}"#);
    assert!(out.starts_with("line 1\n"));
    assert!(out.ends_with("[truncated: showing lines 1-2000; the file continues, call read_file with offset=2001 to read more]"), "{}", &out[out.len() - 200..]);

    let wide: String = (0..2000).map(|i| format!("{i:0>99}\n")).collect(); // 100 bytes a line
    write(&dir, "wide.txt", &wide);
    let out = ok(&mut tb, "read_file", r#"{"path":"wide.txt"}"#);
    let shown = READ_MAX_BYTES / 100;
    assert!(
        out.contains(&format!("showing lines 1-{shown} (output limit reached)")),
        "{}",
        &out[out.len() - 200..]
    );
    assert!(out.len() < READ_MAX_BYTES + 200);

    write(
        &dir,
        "long.txt",
        &format!("{}\nnext\n", "é".repeat(READ_MAX_BYTES)),
    );
    let out = ok(&mut tb, "read_file", r#"{"path":"long.txt"}"#);
    assert!(out
        .contains("[line 1 is longer than 50000 bytes and was cut; call read_file with offset=2"));
    assert_eq!(
        ok(&mut tb, "read_file", r#"{"path":"long.txt","offset":2}"#),
        "next\n"
    );
}

#[test]
fn read_file_refuses_binary_dirs_and_missing() {
    let (dir, mut tb) = setup();
    fs::write(dir.ws().join("b.bin"), [1u8, 0, 2, 3]).unwrap();
    let e = err(&mut tb, "read_file", r#"{"path":"b.bin"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("binary")),
        "{e:?}"
    );
    write(&dir, "d/x", "");
    let e = err(&mut tb, "read_file", r#"{"path":"d"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("list_dir")),
        "{e:?}"
    );
    let e = err(&mut tb, "read_file", r#"{"path":"nope.md"}"#);
    assert_eq!(
        e,
        ToolError::NotFound("no such file or directory: nope.md".into())
    );
}

#[test]
fn write_file_creates_parents_and_overwrites_atomically() {
    let (dir, mut tb) = setup();
    assert_eq!(
        ok(
            &mut tb,
            "write_file",
            r#"{"path":"a/b/c.txt","content":"hi\n"}"#
        ),
        "Created a/b/c.txt (3 bytes)"
    );
    assert_eq!(read(&dir, "a/b/c.txt"), "hi\n");
    assert_eq!(
        ok(
            &mut tb,
            "write_file",
            r#"{"path":"/workspace/a/b/c.txt","content":"héllo"}"#
        ),
        "Overwrote a/b/c.txt (6 bytes)"
    );
    assert_eq!(read(&dir, "a/b/c.txt"), "héllo");
    // No temp files are left behind.
    let names: Vec<_> = fs::read_dir(dir.ws().join("a/b"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["c.txt"]);
    let e = err(&mut tb, "write_file", r#"{"path":"a/b","content":"x"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("is a directory")),
        "{e:?}"
    );
    let e = err(
        &mut tb,
        "write_file",
        r#"{"path":"a/b/c.txt/d","content":"x"}"#,
    );
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("not a directory")),
        "{e:?}"
    );
    assert_eq!(read(&dir, "a/b/c.txt"), "héllo");
}

#[test]
fn edit_file_exactly_once() {
    let (dir, mut tb) = setup();
    write(&dir, "f.rs", "fn a() {}\nfn b() {}\nfn a() {}\n");
    let e = err(
        &mut tb,
        "edit_file",
        r#"{"path":"f.rs","old_text":"fn c","new_text":"x"}"#,
    );
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("not found") && m.contains("0 matches")),
        "{e:?}"
    );
    let e = err(
        &mut tb,
        "edit_file",
        r#"{"path":"f.rs","old_text":"fn a() {}","new_text":"x"}"#,
    );
    assert_eq!(
        e,
        ToolError::Failed("old_text matches 2 times in f.rs; it must match exactly once. Include more surrounding lines to make it unique".into())
    );
    assert_eq!(read(&dir, "f.rs"), "fn a() {}\nfn b() {}\nfn a() {}\n");
    let out = ok(
        &mut tb,
        "edit_file",
        r#"{"path":"f.rs","old_text":"fn b() {}\n","new_text":"fn b() {\n    1\n}\n"}"#,
    );
    assert_eq!(
        out,
        "Edited f.rs: replaced 1 line(s) at line 2 with 3 line(s)"
    );
    assert_eq!(
        read(&dir, "f.rs"),
        "fn a() {}\nfn b() {\n    1\n}\nfn a() {}\n"
    );
    let e = err(
        &mut tb,
        "edit_file",
        r#"{"path":"f.rs","old_text":"","new_text":"x"}"#,
    );
    assert!(matches!(e, ToolError::InvalidArguments(m) if m.contains("old_text")));
    let e = err(
        &mut tb,
        "edit_file",
        r#"{"path":"g.rs","old_text":"a","new_text":"b"}"#,
    );
    assert!(matches!(e, ToolError::NotFound(_)));
}

#[test]
fn edit_file_matches_lf_text_in_crlf_files() {
    let (dir, mut tb) = setup();
    write(&dir, "w.txt", "a\r\nb\r\nc\r\n");
    let out = ok(
        &mut tb,
        "edit_file",
        r#"{"path":"w.txt","old_text":"a\nb\n","new_text":"x\ny\nz\n"}"#,
    );
    assert_eq!(
        out,
        "Edited w.txt: replaced 2 line(s) at line 1 with 3 line(s)"
    );
    assert_eq!(read(&dir, "w.txt"), "x\r\ny\r\nz\r\nc\r\n");
    // Still exact otherwise: no match in an LF file.
    write(&dir, "l.txt", "a\nb\n");
    let e = err(
        &mut tb,
        "edit_file",
        r#"{"path":"l.txt","old_text":"a\r\nb","new_text":"x"}"#,
    );
    assert!(e.message().contains("0 matches"), "{e:?}");
}

#[test]
fn list_dir_sorted_with_dir_slashes() {
    let (dir, mut tb) = setup();
    write(&dir, "b.txt", "");
    write(&dir, "a/x.txt", "");
    write(&dir, ".hidden", "");
    fs::create_dir(dir.ws().join("c")).unwrap();
    assert_eq!(
        ok(&mut tb, "list_dir", r#"{"path":"."}"#),
        ".hidden\na/\nb.txt\nc/"
    );
    assert_eq!(
        ok(&mut tb, "list_dir", r#"{"path":"/workspace"}"#),
        ".hidden\na/\nb.txt\nc/"
    );
    assert_eq!(ok(&mut tb, "list_dir", r#"{"path":"a"}"#), "x.txt");
    assert_eq!(
        ok(&mut tb, "list_dir", r#"{"path":"c"}"#),
        "[empty directory]"
    );
    let e = err(&mut tb, "list_dir", r#"{"path":"b.txt"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("read_file")),
        "{e:?}"
    );
    assert!(matches!(
        err(&mut tb, "list_dir", r#"{"path":"zzz"}"#),
        ToolError::NotFound(_)
    ));
}

#[test]
fn bad_arguments_name_the_field() {
    let (_dir, mut tb) = setup();
    let cases = [
        ("read_file", "not json", "not valid JSON"),
        ("read_file", "[1]", "must be a JSON object, got array"),
        ("read_file", "{}", "missing required field `path`"),
        (
            "read_file",
            r#"{"path":3}"#,
            "field `path` must be a string, got number",
        ),
        (
            "read_file",
            r#"{"path":"a","offset":0}"#,
            "field `offset` must be between 1",
        ),
        (
            "read_file",
            r#"{"path":"a","limit":1.5}"#,
            "field `limit` must be a whole number",
        ),
        (
            "read_file",
            r#"{"path":"a","offset":"2"}"#,
            "field `offset` must be a whole number, got string",
        ),
        (
            "write_file",
            r#"{"path":"a"}"#,
            "missing required field `content`",
        ),
        (
            "edit_file",
            r#"{"path":"a","old_text":"x"}"#,
            "missing required field `new_text`",
        ),
        (
            "search_files",
            r#"{"pattern":""}"#,
            "field `pattern` must not be empty",
        ),
        ("web_fetch", r#"{"url":"ftp://x"}"#, "field `url`"),
        (
            "web_fetch",
            r#"{"url":"http://x","max_chars":0}"#,
            "field `max_chars`",
        ),
        (
            "memory_save",
            r#"{"text":"x","tags":"a"}"#,
            "field `tags` must be an array of strings",
        ),
        ("memory_save", r#"{"text":"x","tags":[1]}"#, "field `tags`"),
        (
            "memory_search",
            r#"{"query":"x","k":51}"#,
            "field `k` must be between 1 and 50",
        ),
        ("memory_search", r#"{}"#, "missing required field `query`"),
    ];
    for (tool, args, want) in cases {
        match tb.call(tool, args) {
            Err(ToolError::InvalidArguments(m)) => assert!(m.contains(want), "{tool} {args}: {m}"),
            other => panic!("{tool} {args}: expected invalid-arguments, got {other:?}"),
        }
    }
}

#[test]
fn unknown_tool_lists_the_valid_names() {
    let (_dir, mut tb) = setup();
    let e = err(&mut tb, "delete_everything", "{}");
    assert_eq!(
        e,
        ToolError::UnknownTool("there is no tool named `delete_everything`; the tools are: read_file, write_file, edit_file, list_dir, search_files, web_fetch, memory_save, memory_search".into())
    );
}

#[test]
fn specs_are_valid_json_schemas() {
    let (_dir, tb) = setup();
    let names: Vec<_> = tb.specs().iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 8);
    for s in tb.specs() {
        let v = wasiclaw_json::parse(s.parameters).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(v.get("type").and_then(|t| t.as_str()), Some("object"));
        let props = v.get("properties").and_then(|p| p.as_object()).unwrap();
        for r in v.get("required").and_then(|r| r.as_array()).unwrap() {
            assert!(
                props.get(r.as_str().unwrap()).is_some(),
                "{}: required {r:?} not in properties",
                s.name
            );
        }
        assert!(!s.description.is_empty());
    }
}
