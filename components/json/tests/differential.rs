//! Differential test of `wasiclaw_json::parse` against `serde_json` on
//! random documents (nested, escapes and surrogates, raw Unicode, numbers of
//! every shape, objects with many and with repeated keys, deep nesting) and
//! on random mutations and truncations of them. Both parsers must agree on
//! accepting or refusing each text and, when both accept, on the value.
//! Seeded and bounded: the same cases every run, a few seconds in debug.
//!
//! Intentional differences, checked as such rather than skipped:
//! - A lone surrogate escape (`"\ud800"`, `"\udc00"`) reads as U+FFFD here;
//!   serde_json refuses the text. serde_json is given the text with each lone
//!   surrogate escape rewritten as `\ufffd`, and ours must read both texts
//!   the same.
//! - Numbers keep their source text here, so one beyond f64's range (`1e400`)
//!   is accepted; serde_json refuses it ("number out of range").
//! - Exactly `MAX_DEPTH` (128) nested arrays/objects are accepted here;
//!   serde_json's recursion limit stops at 127.
//!
//! Numbers are compared as integers when both sides read them as one, else as
//! f64 within a few ULPs (serde_json's float parsing is not always exact).

use std::fmt::Write as _;
use std::time::Instant;

use serde_json::Value as J;
use wasiclaw_json::{parse, Value, MAX_DEPTH};
use wasiclaw_tests::Rng;

/// Random documents; each is also mutated `MUTATIONS` times.
const DOCS: usize = 2500;
const MUTATIONS: usize = 4;
const SEED: u64 = 0x5eed_9a11_c0ff_ee01;

/// Writes random JSON text directly (not through a serializer), so the text
/// has the whitespace, escapes and number spellings a serializer never makes.
struct Gen {
    rng: Rng,
    out: String,
    /// Values still to write: keeps a document to a few KB.
    left: usize,
    /// Whether the document may still get an object of thousands of keys.
    big_object: bool,
}

const KEY_POOL: [&str; 8] = [
    "a",
    "b",
    "id",
    "",
    "é",
    "k\\u0041",
    "\\ud83d\\ude00",
    "a\\n",
];

impl Gen {
    fn ws(&mut self) {
        if self.rng.chance(15) {
            let w = self.rng.pick(&[" ", "\n", "\t", "\r\n", "  \t "]);
            self.out.push_str(w);
        }
    }

    fn value(&mut self, depth: usize) {
        self.ws();
        self.left = self.left.saturating_sub(1);
        let kinds = if depth < 10 && self.left > 0 { 10 } else { 6 };
        match self.rng.below(kinds) {
            0 => self.out.push_str("null"),
            1 => self.out.push_str(self.rng.pick(&["true", "false"])),
            2 | 3 => self.number(),
            4 | 5 => self.string(),
            6 | 7 => self.array(depth),
            _ => self.object(depth),
        }
        self.ws();
    }

    fn array(&mut self, depth: usize) {
        self.out.push('[');
        let n = if self.rng.chance(5) {
            self.rng.below(60)
        } else {
            self.rng.below(5)
        }
        .min(self.left);
        if n == 0 {
            self.ws();
        }
        for i in 0..n {
            if i > 0 {
                self.out.push(',');
            }
            self.value(depth + 1);
        }
        self.out.push(']');
    }

    fn object(&mut self, depth: usize) {
        self.out.push('{');
        // Now and then an object of thousands of keys.
        let n = match self.rng.below(100) {
            0..=9 if self.big_object => {
                self.big_object = false;
                500 + self.rng.below(3000)
            }
            10..=20 => self.rng.below(40).min(self.left),
            _ => self.rng.below(5).min(self.left),
        };
        let repeats = self.rng.chance(30);
        if n == 0 {
            self.ws();
        }
        for i in 0..n {
            if i > 0 {
                self.out.push(',');
            }
            self.ws();
            if repeats && self.rng.chance(40) {
                let k = self.rng.pick(&KEY_POOL);
                write!(self.out, "\"{k}\"").unwrap();
            } else if n > 100 {
                // Big objects: distinct keys in no particular order.
                write!(self.out, "\"k{}\"", self.rng.next_u64() % 1_000_000_007).unwrap();
            } else {
                self.string();
            }
            self.ws();
            self.out.push(':');
            if n > 100 {
                self.out.push_str(&(i % 1000).to_string());
            } else {
                self.value(depth + 1);
            }
        }
        self.out.push('}');
    }

    /// A chain of `n` containers around a scalar.
    fn deep(&mut self, n: usize) {
        let opens: Vec<bool> = (0..n).map(|_| self.rng.chance(50)).collect();
        for &arr in &opens {
            self.out.push_str(if arr { "[" } else { "{\"d\":" });
        }
        self.out.push('0');
        for &arr in opens.iter().rev() {
            self.out.push(if arr { ']' } else { '}' });
        }
    }

    fn digits(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push((b'0' + self.rng.below(10) as u8) as char);
        }
    }

    fn number(&mut self) {
        if self.rng.chance(30) {
            self.out.push('-');
        }
        if self.rng.chance(20) {
            self.out.push('0');
        } else {
            self.out.push((b'1' + self.rng.below(9) as u8) as char);
            let n = if self.rng.chance(10) {
                self.rng.below(30)
            } else {
                self.rng.below(4)
            };
            self.digits(n);
        }
        if self.rng.chance(30) {
            self.out.push('.');
            let n = 1 + self.rng.below(12);
            self.digits(n);
        }
        if self.rng.chance(20) {
            self.out.push(self.rng.pick(&['e', 'E']));
            if self.rng.chance(50) {
                self.out.push(self.rng.pick(&['+', '-']));
            }
            // Mostly in f64's range; a three-digit exponent may not be.
            let n = if self.rng.chance(5) {
                3
            } else {
                1 + self.rng.below(2)
            };
            self.digits(n);
        }
    }

    fn hex_escape(&mut self, code: u32) {
        let upper = self.rng.chance(30);
        if upper {
            write!(self.out, "\\u{code:04X}").unwrap();
        } else {
            write!(self.out, "\\u{code:04x}").unwrap();
        }
    }

    /// A random surrogate half: high from 0xD800, low from 0xDC00.
    fn half(&mut self, base: u32) {
        let c = base + self.rng.below(0x400) as u32;
        self.hex_escape(c);
    }

    fn string(&mut self) {
        self.out.push('"');
        let n = if self.rng.chance(5) {
            self.rng.below(200)
        } else {
            self.rng.below(8)
        };
        for _ in 0..n {
            match self.rng.below(14) {
                0..=4 => {
                    let c = self.rng.pick(b"abcxyz019 _-/'~{}[]:,");
                    self.out.push(c as char);
                }
                5 => {
                    let c = self.rng.pick(&[
                        'é',
                        '😀',
                        '中',
                        '\u{2028}',
                        '\u{7f}',
                        '\u{fffd}',
                        '\u{10ffff}',
                    ]);
                    self.out.push(c);
                }
                6 | 7 => {
                    let e = self
                        .rng
                        .pick(&["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"]);
                    self.out.push_str(e);
                }
                8 => {
                    // Any BMP character that is not a surrogate, controls included.
                    let mut c = self.rng.below(0x1_0000) as u32;
                    if (0xD800..0xE000).contains(&c) {
                        c = self.rng.below(0x20) as u32;
                    }
                    self.hex_escape(c);
                }
                9 | 10 => {
                    // A valid pair.
                    let c = 0x10000 + self.rng.below(0x10_0000) as u32;
                    self.hex_escape(0xD800 + ((c - 0x10000) >> 10));
                    self.hex_escape(0xDC00 + ((c - 0x10000) & 0x3ff));
                }
                11 => {
                    // A lone high half, then something else that is escaped.
                    self.half(0xD800);
                    match self.rng.below(4) {
                        0 => self.hex_escape(0x41),
                        1 => self.out.push_str("\\n"),
                        2 => self.half(0xD800),
                        _ => {}
                    }
                }
                12 => self.half(0xDC00),
                _ => self.out.push(' '),
            }
        }
        self.out.push('"');
    }
}

/// One random document.
fn document(rng: &mut Rng) -> String {
    let mut g = Gen {
        rng: Rng(rng.next_u64()),
        out: String::new(),
        left: 1 + rng.below(100),
        big_object: rng.chance(10),
    };
    if g.rng.chance(3) {
        // Deep, but within both parsers' limits.
        let n = 100 + g.rng.below(28);
        g.deep(n);
    } else {
        g.value(0);
    }
    g.out
}

/// Bytes that break JSON in interesting places.
const INSERTS: [&str; 24] = [
    "{", "}", "[", "]", ":", ",", "\"", "\\", "\\u", "\\ud800", "\\udc00", "0", "-", ".", "e",
    "1e400", "t", "n", " ", "\u{1}", "\u{7f}", "é", "😀", "\"k\":1,",
];

/// A random edit of `text`: cut, delete, insert, replace, duplicate or swap,
/// on char boundaries (the parser's input is a `&str`).
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let len = chars.len();
        let at = rng.below(len + 1);
        match rng.below(6) {
            0 => chars.truncate(at),
            1 => {
                let end = (at + 1 + rng.below(3)).min(len);
                chars.drain(at.min(end)..end);
            }
            2 | 3 => {
                let ins = rng.pick(&INSERTS);
                chars.splice(at..at, ins.chars());
            }
            4 if at < len => chars[at] = rng.pick(&INSERTS).chars().next().unwrap_or('x'),
            _ => {
                let end = (at + rng.below(20)).min(len);
                let span: Vec<char> = chars[at..end].to_vec();
                let to = rng.below(len + 1);
                chars.splice(to..to, span);
            }
        }
    }
    chars.into_iter().collect()
}

fn hex4(b: Option<&[u8]>) -> Option<u32> {
    let h = std::str::from_utf8(b?.get(..4)?).ok()?;
    if h.bytes().all(|c| c.is_ascii_hexdigit()) {
        u32::from_str_radix(h, 16).ok()
    } else {
        None
    }
}

/// `text` with every lone surrogate escape rewritten as `\ufffd`, pairing
/// escapes the way a JSON string does (a high half pairs only with a low half
/// right after it); pairs and everything else are kept.
fn lone_surrogates_as_fffd(text: &str) -> String {
    let b = text.as_bytes();
    let (mut out, mut i, mut last) = (String::new(), 0, 0);
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        let Some(n) = hex4(b.get(i + 2..)) else {
            i += 2;
            continue;
        };
        let low_next = b.get(i + 6..i + 8) == Some(b"\\u")
            && hex4(b.get(i + 8..)).is_some_and(|m| (0xDC00..0xE000).contains(&m));
        if (0xD800..0xDC00).contains(&n) && low_next {
            i += 12;
        } else if (0xD800..0xE000).contains(&n) {
            out.push_str(&text[last..i]);
            out.push_str("\\ufffd");
            i += 6;
            last = i;
        } else {
            i += 6;
        }
    }
    out.push_str(&text[last..]);
    out
}

fn same_number(ours: &wasiclaw_json::Number, theirs: &serde_json::Number) -> bool {
    if let (Some(a), Some(b)) = (ours.as_u64(), theirs.as_u64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (ours.as_i64(), theirs.as_i64()) {
        return a == b;
    }
    let (Some(a), Some(b)) = (ours.as_f64(), theirs.as_f64()) else {
        return false;
    };
    a == b || (a - b).abs() <= a.abs().max(b.abs()) * 4.0 * f64::EPSILON
}

fn same(ours: &Value, theirs: &J) -> bool {
    match (ours, theirs) {
        (Value::Null, J::Null) => true,
        (Value::Bool(a), J::Bool(b)) => a == b,
        (Value::Num(a), J::Number(b)) => same_number(a, b),
        (Value::Str(a), J::String(b)) => a == b,
        (Value::Arr(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Obj(a), J::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)) && a.get(k) == Some(v))
        }
        _ => false,
    }
}

/// How many containers deep the value goes.
fn depth(v: &Value) -> usize {
    match v {
        Value::Arr(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Obj(m) => 1 + m.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether serde_json's error points at a number beyond f64's range (it may
/// be one a repeated key replaced, so it is looked for in the text).
fn infinite_number_at(text: &str, e: &serde_json::Error) -> bool {
    let Some(line) = text.split('\n').nth(e.line().saturating_sub(1)) else {
        return false;
    };
    let is_num = |c: u8| c.is_ascii_digit() || b"+-.eE".contains(&c);
    let b = line.as_bytes();
    let mut start = e.column().min(b.len());
    while start > 0 && !is_num(b[start - 1]) {
        start -= 1;
    }
    let end = start;
    while start > 0 && is_num(b[start - 1]) {
        start -= 1;
    }
    line[start..end].parse::<f64>().is_ok_and(f64::is_infinite)
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    both_accept: usize,
    both_refuse: usize,
    with_lone_surrogates: usize,
    out_of_f64_range: usize,
    at_depth_limit: usize,
}

/// The start of a failing text (whole ones can be megabytes); the whole text
/// is written to the temp directory.
fn shown(text: &str) -> String {
    let path = std::env::temp_dir().join("wasiclaw-json-differential-failure.json");
    let _ = std::fs::write(&path, text);
    let cut: String = text.chars().take(400).collect();
    format!(
        "{} bytes, whole text in {}: {cut:?}",
        text.len(),
        path.display()
    )
}

fn check(text: &str, t: &mut Tally) {
    t.cases += 1;
    let ours = parse(text);
    let fixed = lone_surrogates_as_fffd(text);
    if fixed != text {
        t.with_lone_surrogates += 1;
        assert!(
            ours == parse(&fixed),
            "lone surrogates must read as \\ufffd: {}",
            shown(text)
        );
    }
    let theirs = serde_json::from_str::<J>(&fixed);
    match (ours, theirs) {
        (Ok(o), Ok(j)) => {
            assert!(same(&o, &j), "different values: {}", shown(text));
            // What we write reads back the same, in both parsers.
            let written = o.to_json();
            assert!(parse(&written).as_ref() == Ok(&o), "{}", shown(text));
            assert!(
                serde_json::from_str::<J>(&written).ok().as_ref() == Some(&j),
                "{}",
                shown(text)
            );
            t.both_accept += 1;
        }
        (Err(e), Err(_)) => {
            assert!(e.pos <= text.len(), "{e}: {}", shown(text));
            t.both_refuse += 1;
        }
        (Ok(_), Err(e)) if e.to_string().contains("number out of range") => {
            assert!(infinite_number_at(&fixed, &e), "{e}: {}", shown(text));
            t.out_of_f64_range += 1;
        }
        (Ok(o), Err(e)) if e.to_string().contains("recursion limit exceeded") => {
            assert!(depth(&o) == MAX_DEPTH, "{e}: {}", shown(text));
            t.at_depth_limit += 1;
        }
        (o, j) => panic!(
            "parsers disagree: ours {:?}, serde_json {:?}: {}",
            o.map(|_| "accepts"),
            j.map(|_| "accepts"),
            shown(text)
        ),
    }
}

#[test]
fn agrees_with_serde_json_on_random_and_mutated_documents() {
    let start = Instant::now();
    let mut rng = Rng(SEED);
    let mut t = Tally::default();
    // The known boundaries first.
    for n in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1] {
        check(&("[".repeat(n) + &"]".repeat(n)), &mut t);
    }
    for text in [
        r#""\ud800\u0041""#,
        r#""\udc00""#,
        "1e400",
        "-1E+999",
        "[1e-400]",
    ] {
        check(text, &mut t);
    }
    for _ in 0..DOCS {
        let doc = document(&mut rng);
        check(&doc, &mut t);
        for _ in 0..MUTATIONS {
            check(&mutate(&mut rng, &doc), &mut t);
        }
    }
    let took = start.elapsed();
    wasiclaw_tests::report_randomized(&format!(
        "json differential vs serde_json: {} cases in {:.1} s ({} both accept, {} both refuse; \
         intentional differences: {} with lone surrogates, {} beyond f64, {} at depth {MAX_DEPTH})",
        t.cases,
        took.as_secs_f64(),
        t.both_accept,
        t.both_refuse,
        t.with_lone_surrogates,
        t.out_of_f64_range,
        t.at_depth_limit
    ));
    // Every kind of outcome was exercised.
    assert!(t.both_accept > DOCS / 2 && t.both_refuse > DOCS, "{t:?}");
    assert!(
        t.with_lone_surrogates > 50 && t.out_of_f64_range > 5,
        "{t:?}"
    );
    assert_eq!(t.at_depth_limit, 1, "{t:?}");
}
