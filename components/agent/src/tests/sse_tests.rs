//! The SSE decoder on hostile and randomly split input: the events must not
//! depend on where the stream is cut, and the work must stay linear.

use std::time::Instant;

use crate::sse::{Decoder, Event};
use wasiclaw_tests::Rng;

/// Field values: multi-byte UTF-8 (split by the cuts), colons, spaces.
const PIECES: [&str; 12] = [
    "a",
    "hello",
    " ",
    ":",
    "é",
    "😀",
    "中文",
    "{\"x\": 1}",
    "data:",
    "\u{7f}",
    "\t",
    "ß",
];

fn text(rng: &mut Rng) -> String {
    (0..rng.below(6)).map(|_| rng.pick(&PIECES)).collect()
}

/// A random event stream and the events it holds. Lines end in LF or CRLF;
/// there are comments, unknown fields, `event:` names (the last one of an
/// event counts), multi-line data, events without data (not dispatched) and
/// sometimes a last event without its blank line, or without even the
/// newline of its last line.
fn stream(rng: &mut Rng) -> (Vec<u8>, Vec<Event>) {
    let mut out = String::new();
    let mut events = Vec::new();
    let line = |out: &mut String, rng: &mut Rng, l: &str| {
        out.push_str(l);
        out.push_str(if rng.chance(30) { "\r\n" } else { "\n" });
    };
    // One space after the colon is dropped, and only one.
    let field = |rng: &mut Rng, name: &str, value: &str| -> (String, String) {
        if rng.chance(50) {
            (format!("{name}: {value}"), value.to_string())
        } else {
            let kept = value.strip_prefix(' ').unwrap_or(value).to_string();
            (format!("{name}:{value}"), kept)
        }
    };
    let n = rng.below(8);
    for i in 0..n {
        let mut name = String::new();
        let mut data: Option<String> = None;
        for _ in 0..rng.below(6) + 1 {
            match rng.below(10) {
                0 => {
                    let l = format!(":{}", text(rng));
                    line(&mut out, rng, &l);
                }
                1 => {
                    let l = rng.pick(&["id: 7", "retry: 10", "unknown", "eventx: y"]);
                    line(&mut out, rng, l);
                }
                2 | 3 => {
                    let v = text(rng);
                    let (l, kept) = field(rng, "event", &v);
                    line(&mut out, rng, &l);
                    name = kept;
                }
                4 => {
                    // `data` without a colon is an empty line of data.
                    line(&mut out, rng, "data");
                    data = Some(data.map_or(String::new(), |d| d + "\n"));
                }
                _ => {
                    let v = text(rng);
                    let (l, kept) = field(rng, "data", &v);
                    line(&mut out, rng, &l);
                    data = Some(data.map_or(kept.clone(), |d| d + "\n" + &kept));
                }
            }
        }
        let last = i + 1 == n;
        if last && rng.chance(30) {
            // No blank line: `finish` still dispatches it.
            if rng.chance(50) {
                while out.ends_with('\n') || out.ends_with('\r') {
                    out.pop();
                }
                // Without its newline a line that ended in CRLF keeps no \r;
                // a comment or field line stays what it was.
            }
        } else {
            line(&mut out, rng, "");
        }
        if let Some(data) = data {
            events.push(Event { event: name, data });
        }
    }
    (out.into_bytes(), events)
}

/// Feeds `bytes` cut at `cuts` and returns every event, `finish` included.
fn decode(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Event>, String> {
    let mut d = Decoder::new();
    let mut got = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain([bytes.len()].iter()) {
        got.extend(d.feed(&bytes[at..c])?);
        at = c;
    }
    got.extend(d.finish()?);
    Ok(got)
}

#[test]
fn random_streams_decode_the_same_however_they_are_split() {
    const STREAMS: usize = 3000;
    const SPLITS: usize = 4;
    let start = Instant::now();
    let mut rng = Rng(0x55e_c0de_d15c_0001);
    let (mut cases, mut events) = (0, 0);
    for _ in 0..STREAMS {
        let (bytes, want) = stream(&mut rng);
        let whole = decode(&bytes, &[]).unwrap();
        assert_eq!(whole, want, "{:?}", String::from_utf8_lossy(&bytes));
        events += want.len();
        for s in 0..SPLITS {
            // Cuts anywhere: inside UTF-8 sequences, between \r and \n, and
            // for one split of each stream after every byte.
            let mut cuts: Vec<usize> = if s == 0 {
                (0..bytes.len()).collect()
            } else {
                (0..rng.below(12))
                    .map(|_| rng.below(bytes.len() + 1))
                    .collect()
            };
            cuts.sort_unstable();
            let got = decode(&bytes, &cuts).unwrap();
            assert_eq!(
                got,
                want,
                "{:?} cut at {cuts:?}",
                String::from_utf8_lossy(&bytes)
            );
            cases += 1;
        }
    }
    wasiclaw_tests::report_randomized(&format!(
        "sse split-anywhere: {cases} splits of {STREAMS} random streams ({events} events) in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
}

#[test]
fn invalid_utf8_is_refused_however_it_is_split() {
    let bytes = "data: é\n\n".as_bytes();
    let bad: Vec<u8> = [&bytes[..7], &bytes[8..]].concat();
    for cut in 0..bad.len() {
        assert!(decode(&bad, &[cut]).is_err(), "cut at {cut}");
    }
}

/// One 8 MiB line in 1 KiB chunks: searching the whole buffer again for
/// each chunk took about 10 s natively (and minutes in a debug build). The
/// work is counted, not timed: every byte is searched once.
#[test]
fn a_long_line_in_small_chunks_is_decoded_in_linear_time() {
    let mut d = Decoder::new();
    assert_eq!(d.feed(b"data: ").unwrap(), vec![]);
    let chunk = [b'x'; 1024];
    let n = (8 << 20) / chunk.len() - 1;
    for _ in 0..n {
        assert_eq!(d.feed(&chunk).unwrap(), vec![]);
    }
    let got = d.feed(b"\n\n").unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data.len(), n * chunk.len());
    let fed = b"data: ".len() + n * chunk.len() + 2;
    assert_eq!(d.scanned, fed, "each byte searched once");
    // Past the line limit it is still refused.
    let mut d = Decoder::new();
    let e = (0..=n + 1).find_map(|_| d.feed(&chunk).err()).unwrap();
    assert!(e.contains("longer than"), "{e}");
}
