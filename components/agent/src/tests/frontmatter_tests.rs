//! The SKILL.md front matter parser: named cases, hostile input, and a
//! differential test against yaml-rust2 on random documents of the subset.

use std::time::Instant;

use wasiclaw_tests::Rng;
use yaml_rust2::{Yaml as Ref, YamlLoader};

use crate::frontmatter::{parse, split, Yaml, MAX_LEN};

fn s(v: &str) -> Yaml {
    Yaml::Str(v.to_string())
}

fn map(pairs: &[(&str, Yaml)]) -> Yaml {
    Yaml::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

#[test]
fn skill_front_matter_as_written_in_the_wild() {
    let doc = [
        "---",
        "name: pdf-tools",
        "description: \"Extract text: tables, forms #1\"   # a comment",
        "license: 'Apache-2.0 ''or'' MIT'",
        "allowed-tools: [Read, \"Bash(git:*)\"]",
        "metadata:",
        "  author: someone",
        "  version: 1.0",
        "tags:",
        "  - pdf",
        "  - documents",
        "---",
        "# PDF tools",
        "",
        "Body.",
        "",
    ]
    .join("\n");
    let doc = doc.as_str();
    let (fm, body) = split(doc).unwrap();
    assert_eq!(
        fm,
        map(&[
            ("name", s("pdf-tools")),
            ("description", s("Extract text: tables, forms #1")),
            ("license", s("Apache-2.0 'or' MIT")),
            (
                "allowed-tools",
                Yaml::List(vec![s("Read"), s("Bash(git:*)")])
            ),
            (
                "metadata",
                map(&[("author", s("someone")), ("version", s("1.0"))])
            ),
            ("tags", Yaml::List(vec![s("pdf"), s("documents")])),
        ])
    );
    assert_eq!(body, "# PDF tools\n\nBody.\n");
}

#[test]
fn multi_line_values() {
    let block = "a: |\n  one\n    two\n\n  three\nb: >-\n  folded\n  text\n\n  para\nc: plain\n  continued\n  lines\nd:\n  next line value\ne: \"quoted\n  over lines\"\nf: |+\n  kept\n\n";
    let v = parse(block).unwrap();
    assert_eq!(v.get("a"), Some(&s("one\n  two\n\nthree\n")));
    assert_eq!(v.get("b"), Some(&s("folded text\npara")));
    assert_eq!(v.get("c"), Some(&s("plain continued lines")));
    assert_eq!(v.get("d"), Some(&s("next line value")));
    assert_eq!(v.get("e"), Some(&s("quoted over lines")));
    assert_eq!(v.get("f"), Some(&s("kept\n\n")));
}

#[test]
fn malformed_front_matter_is_refused_with_its_line() {
    let cases = [
        ("no header\n", "no front matter"),
        ("---\nname: x\n", "not closed"),
        (
            "---\nname: x\nname: y\n---\n",
            "line 3: duplicate key `name`",
        ),
        ("---\nname: \"open\n---\n", "unterminated quoted string"),
        ("---\nname: &anchor x\n---\n", "anchors"),
        ("---\n\tname: x\n---\n", "tabs"),
        ("---\njust text\n---\n", "expected `key: value`"),
        ("---\nname: \"bad \\q escape\"\n---\n", "unknown escape"),
        ("---\nlist: [a, b\n---\n", "unterminated flow list"),
        ("---\na: x\n    b: y\n---\n", "line 3"),
    ];
    for (doc, want) in cases {
        let e = split(doc).unwrap_err();
        assert!(e.contains(want), "{doc:?}: {e}");
    }
}

#[test]
fn hostile_sizes_are_bounded() {
    let big = format!("---\nname: {}\n---\n", "x".repeat(MAX_LEN + 1));
    assert!(split(&big).unwrap_err().contains("larger than"));
    // Deep nesting is refused, not recursed into.
    let mut deep = String::from("---\n");
    for i in 0..64 {
        deep.push_str(&" ".repeat(i));
        deep.push_str("k:\n");
    }
    deep.push_str("---\n");
    assert!(split(&deep).unwrap_err().contains("nested too deeply"));
    // Many keys: linear work, all kept.
    let mut many = String::from("---\n");
    for i in 0..1000 {
        many.push_str(&format!("k{i}: v{i}\n"));
    }
    many.push_str("---\n");
    let t = Instant::now();
    let (v, _) = split(&many).unwrap_or_else(|e| panic!("{e}"));
    assert!(t.elapsed().as_secs() < 5);
    let Yaml::Map(m) = v else { panic!() };
    assert_eq!(m.len(), 1000);
}

/// Words that every YAML 1.2 reader takes as plain strings.
const WORDS: &[&str] = &[
    "alpha",
    "beta",
    "pdf",
    "Extract",
    "text-tools",
    "a_b",
    "x1",
    "hello world",
    "a:b",
    "c#d",
    "résumé",
    "v2 notes",
    "don't",
    "path/to/file.md",
];

fn gen_scalar(rng: &mut Rng, indent: usize, out: &mut String) -> String {
    let word = rng.pick(WORDS).to_string();
    match rng.below(6) {
        0 => {
            out.push_str(&format!(
                "\"{}\"",
                word.replace('\\', "\\\\").replace('"', "\\\"")
            ));
            word
        }
        1 => {
            out.push_str(&format!("'{}'", word.replace('\'', "''")));
            word
        }
        2 => {
            // A literal block scalar.
            let lines = 1 + rng.below(3);
            let mut v = String::new();
            out.push_str("|\n");
            for i in 0..lines {
                let w = rng.pick(WORDS);
                out.push_str(&format!("{}{w}\n", " ".repeat(indent + 2)));
                v.push_str(w);
                v.push('\n');
                let _ = i;
            }
            v
        }
        3 => {
            // A folded block scalar, stripped.
            let lines = 1 + rng.below(3);
            let mut words = Vec::new();
            out.push_str(">-\n");
            for _ in 0..lines {
                let w = rng.pick(WORDS);
                out.push_str(&format!("{}{w}\n", " ".repeat(indent + 2)));
                words.push(w);
            }
            words.join(" ")
        }
        _ => {
            // Plain; starts with a letter so no reader sees another type.
            let w = if word.starts_with(|c: char| c.is_ascii_alphabetic()) && !word.contains(": ") {
                word
            } else {
                "plain".to_string()
            };
            out.push_str(&w);
            w
        }
    }
}

fn gen_map(rng: &mut Rng, indent: usize, depth: usize, out: &mut String) -> Yaml {
    let n = 1 + rng.below(4);
    let mut pairs = Vec::new();
    for i in 0..n {
        let key = format!("k{depth}_{i}");
        out.push_str(&" ".repeat(indent));
        out.push_str(&key);
        out.push(':');
        let value = match rng.below(if depth < 3 { 5 } else { 3 }) {
            0..=2 => {
                out.push(' ');
                let v = gen_scalar(rng, indent, out);
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                Yaml::Str(v)
            }
            3 => {
                out.push('\n');
                let items = 1 + rng.below(3);
                let mut list = Vec::new();
                for _ in 0..items {
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str("- ");
                    let w = rng.pick(WORDS);
                    out.push_str(&format!("\"{w}\"\n"));
                    list.push(Yaml::Str(w.to_string()));
                }
                Yaml::List(list)
            }
            _ => {
                out.push('\n');
                gen_map(rng, indent + 2, depth + 1, out)
            }
        };
        pairs.push((key, value));
    }
    Yaml::Map(pairs)
}

fn from_ref(y: &Ref) -> Yaml {
    match y {
        Ref::String(s) => Yaml::Str(s.clone()),
        Ref::Real(s) => Yaml::Str(s.clone()),
        Ref::Integer(i) => Yaml::Str(i.to_string()),
        Ref::Array(a) => Yaml::List(a.iter().map(from_ref).collect()),
        Ref::Hash(h) => Yaml::Map(
            h.iter()
                .map(|(k, v)| (k.as_str().unwrap_or("?").to_string(), from_ref(v)))
                .collect(),
        ),
        other => panic!("unexpected YAML value {other:?}"),
    }
}

#[test]
fn differential_against_yaml_rust2() {
    const CASES: u64 = 3000;
    let started = Instant::now();
    let mut rng = Rng(0x5eed_f00d);
    for case in 0..CASES {
        let mut text = String::new();
        let want = gen_map(&mut rng, 0, 0, &mut text);
        let ours = parse(&text).unwrap_or_else(|e| panic!("case {case}: {e:?}\n{text}"));
        assert_eq!(ours, want, "case {case} (generator)\n{text}");
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(ours, from_ref(&docs[0]), "case {case} (yaml-rust2)\n{text}");
    }
    // Mutated documents: refused or parsed, never a panic or a hang.
    let mut refused = 0;
    for case in 0..CASES {
        let mut text = String::new();
        gen_map(&mut rng, 0, 0, &mut text);
        let mut bytes = text.into_bytes();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len().max(1));
            let b = rng.pick(b"\"':-#|>[] \n\tx\\");
            if bytes.is_empty() || rng.chance(50) {
                bytes.insert(at.min(bytes.len()), b);
            } else {
                bytes[at] = b;
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if parse(&text).is_err() {
            refused += 1;
        }
        let _ = case;
    }
    wasiclaw_tests::report_randomized(&format!(
        "front matter: {CASES} documents against yaml-rust2, {CASES} mutated ({refused} refused) in {:?}",
        started.elapsed()
    ));
}

/// A quoted value or flow list left open over every line of the largest
/// front matter is scanned once, not once a line (which was quadratic: a
/// turn reads up to 64 skills).
#[test]
fn open_quotes_and_lists_are_scanned_in_linear_work() {
    use crate::frontmatter::SCANNED;
    let body = MAX_LEN - 20;
    for doc in [
        format!("---\nname: \"{}\n---\n", "\n".repeat(body)),
        format!("---\nname: '{}\n---\n", " a\n".repeat(body / 3)),
        format!("---\nname: [{}\n---\n", " a,\n".repeat(body / 4)),
        format!("---\nname: [\"{}\n---\n", " a\\\n".repeat(body / 4)),
    ] {
        SCANNED.with(|n| n.set(0));
        let e = split(&doc).unwrap_err();
        assert!(e.contains("unterminated"), "{e}");
        let scanned = SCANNED.with(|n| n.get());
        assert!(
            scanned <= 2 * doc.len(),
            "{scanned} bytes scanned for {}",
            doc.len()
        );
    }
    // ...and the values that do close still read the same.
    let (v, _) = split("---\nname: \"a\n  b\"\nlist: [x,\n  'y''s']\n---\n").unwrap();
    assert_eq!(v.get("name").and_then(Yaml::as_str), Some("a b"));
    assert_eq!(
        v.get("list"),
        Some(&Yaml::List(vec![
            Yaml::Str("x".into()),
            Yaml::Str("y's".into())
        ]))
    );
}
