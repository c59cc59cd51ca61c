use super::*;
use crate::search::{Matcher, MAX_MATCHES};

#[test]
fn matcher_literal_glob_and_smart_case() {
    let m = Matcher::new("todo");
    assert!(m.is_match(b"// TODO: x"));
    assert!(!m.is_match(b"to do"));
    let m = Matcher::new("TODO");
    assert!(m.is_match(b"TODO"));
    assert!(!m.is_match(b"todo"));
    let m = Matcher::new("fn *_test(");
    assert!(m.is_match(b"  fn parse_test() {"));
    assert!(!m.is_match(b"fn parse_test)"));
    let m = Matcher::new("a?c");
    assert!(m.is_match(b"xxabcxx"));
    assert!(!m.is_match(b"ac"));
    let m = Matcher::new("*");
    assert!(m.is_match(b""));
    let m = Matcher::new("a*b*c");
    assert!(m.is_match(b"zzaxxbyyczz"));
    assert!(!m.is_match(b"zzaxxcyybzz"));
}

#[test]
fn search_files_recurses_and_skips_hidden_and_binary() {
    let (dir, mut tb) = setup();
    write(&dir, "a.md", "alpha\nneedle one\n");
    write(&dir, "sub/b.md", "no\nno\nNeedle two\r\n");
    write(&dir, ".git/c", "needle hidden\n");
    fs::write(dir.ws().join("sub/bin.dat"), b"needle\0binary").unwrap();
    assert_eq!(
        ok(&mut tb, "search_files", r#"{"pattern":"needle"}"#),
        "a.md:2: needle one\nsub/b.md:3: Needle two"
    );
    assert_eq!(
        ok(
            &mut tb,
            "search_files",
            r#"{"pattern":"Needle","path":"sub"}"#
        ),
        "sub/b.md:3: Needle two"
    );
    assert_eq!(
        ok(
            &mut tb,
            "search_files",
            r#"{"pattern":"need*one","path":"/workspace/a.md"}"#
        ),
        "a.md:2: needle one"
    );
    assert_eq!(
        ok(&mut tb, "search_files", r#"{"pattern":"absent"}"#),
        "No matches for `absent` in . (2 text files searched)"
    );
    assert!(matches!(
        err(&mut tb, "search_files", r#"{"pattern":"x","path":"nope"}"#),
        ToolError::NotFound(_)
    ));
}

#[test]
fn search_files_caps_output() {
    let (dir, mut tb) = setup();
    let body: String = (0..MAX_MATCHES + 50)
        .map(|i| format!("hit {i}\n"))
        .collect();
    write(&dir, "big.txt", &body);
    write(&dir, "long.txt", &format!("hit {}\n", "é".repeat(400)));
    let out = ok(&mut tb, "search_files", r#"{"pattern":"hit"}"#);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), MAX_MATCHES + 1);
    assert_eq!(lines[0], "big.txt:1: hit 0");
    assert!(lines[MAX_MATCHES].starts_with("[stopped after 200 matches"));
    let out = ok(
        &mut tb,
        "search_files",
        r#"{"pattern":"hit","path":"long.txt"}"#,
    );
    assert!(out.ends_with(" [...]") && out.len() < 330, "{out}");
}
