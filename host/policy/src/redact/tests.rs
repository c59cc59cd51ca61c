//! The redactor against whole-text replacement and real base64.

use super::*;
use wasiclaw_tests::Rng;

const KEY: &str = "sk-proj-4f9Qz7TbW2kLmN8xYv3RcD1eHgJ0aUsP";

fn b64(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for g in bytes.chunks(3) {
        let b = [g[0], *g.get(1).unwrap_or(&0), *g.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..=g.len() {
            out.push(STANDARD[((n >> (18 - 6 * k)) & 63) as usize]);
        }
        out.extend(std::iter::repeat_n(b'=', 3 - g.len()));
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn streamed(r: &Redactor, text: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut r = r.clone();
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        out.extend(r.feed(&text[at..c]));
        at = c;
    }
    out.extend(r.feed(&text[at..]));
    out.extend(r.finish());
    out
}

#[test]
fn the_key_is_replaced_wherever_a_chunk_boundary_falls() {
    let r = Redactor::new([KEY]).unwrap();
    let text = format!("{{\"error\":\"bad key Bearer {KEY}\",\"again\":\"{KEY}\"}}");
    let want = text.replace(KEY, "[REDACTED]").into_bytes();
    assert_eq!(r.redact_all(text.as_bytes()), want);
    for cut in 0..=text.len() {
        assert_eq!(streamed(&r, text.as_bytes(), &[cut]), want, "cut at {cut}");
    }
    // One byte at a time.
    let every: Vec<usize> = (1..text.len()).collect();
    assert_eq!(streamed(&r, text.as_bytes(), &every), want);
}

#[test]
fn base64_forms_are_caught_at_every_alignment() {
    let r = Redactor::new([KEY]).unwrap();
    for prefix in ["", "u:", "ab:", "Authorization: Bearer ", "Bearer "] {
        let plain = format!("{prefix}{KEY} and more");
        let enc = b64(plain.as_bytes());
        let out = r.redact_all(&enc);
        assert!(contains(&out, REDACTED), "{prefix:?}");
        // Nothing of the key's own characters is left to decode: every
        // 8-character window of the encoded key is gone.
        let core = base64_core(KEY.as_bytes(), (prefix.len()) % 3, STANDARD);
        for w in core.windows(MIN_NEEDLE) {
            assert!(!contains(&out, w), "{prefix:?}");
        }
    }
}

#[test]
fn streaming_equals_whole_text_on_random_input() {
    let r = Redactor::new([KEY, "another-secret-value"]).unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let pieces: [&[u8]; 6] = [
        KEY.as_bytes(),
        b"another-secret-value",
        b"sk-proj-",
        b"[REDACTED]",
        b"xx\n",
        &KEY.as_bytes()[..20],
    ];
    const CASES: usize = 2_000;
    let started = std::time::Instant::now();
    for _ in 0..CASES {
        let mut text = Vec::new();
        for _ in 0..rng.below(12) {
            if rng.below(3) == 0 {
                text.extend_from_slice(pieces[rng.below(pieces.len())]);
            } else {
                text.push(b'a' + rng.below(26) as u8);
            }
        }
        let mut cuts: Vec<usize> = (0..rng.below(5))
            .map(|_| rng.below(text.len() + 1))
            .collect();
        cuts.sort_unstable();
        let whole = r.redact_all(&text);
        assert_eq!(streamed(&r, &text, &cuts), whole);
        assert!(!contains(&whole, KEY.as_bytes()));
    }
    wasiclaw_tests::report_randomized(&format!(
        "key redaction: {CASES} random bodies, streamed at random splits = whole, in {:?}",
        started.elapsed()
    ));
}

#[test]
fn texts_without_a_secret_pass_unchanged() {
    let r = Redactor::new([KEY]).unwrap();
    let text = b"data: {\"choices\":[{\"delta\":{\"content\":\"sk-proj- is a prefix\"}}]}\n\n";
    assert_eq!(streamed(&r, text, &[7, 30]), text.to_vec());
    assert!(Redactor::new([""]).is_none());
    assert!(Redactor::new(std::iter::empty::<&str>()).is_none());
}
