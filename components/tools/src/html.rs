//! HTML reduced to readable text for the model: scripts, styles and comments
//! dropped, tags stripped (block tags become line breaks), entities decoded,
//! whitespace collapsed. A tolerant scanner rather than a parser: web pages
//! are routinely malformed and all we need is the prose.

use crate::error::{find, sub, tail};
use crate::prelude::*;

/// Elements whose content is never prose.
const SKIP: &[&str] = &["script", "style", "noscript", "template", "svg", "head"];
/// Elements that start a new line of text.
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "title",
    "tr",
    "ul",
];

pub fn html_to_text(html: &str) -> String {
    let b = html.as_bytes();
    let mut raw = Text::default();
    let mut title = Text::default();
    let mut i = 0;
    let mut text_start = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        decode_into(sub(html, text_start, i), &mut raw);
        if b[i..].starts_with(b"<!--") {
            i = find(b, b"-->", i + 4).map_or(b.len(), |j| j + 3);
            text_start = i;
            continue;
        }
        let (name, closing, end) = tag_at(b, i);
        if name.is_empty() {
            // A lone `<` (e.g. "a < b") is text.
            raw.push('<');
            i += 1;
            text_start = i;
            continue;
        }
        i = end;
        if !closing && SKIP.contains(&name.as_str()) {
            let close = find_close(b, i, &name);
            if name == "head" {
                // Keep the page title, which head otherwise hides.
                if let Some(t) = find_ci(b, i, close, b"<title") {
                    let (_, _, t_end) = tag_at(b, t);
                    let t_close = find_close(b, t_end, "title").min(close);
                    decode_into(sub(html, t_end, t_close), &mut title);
                }
            }
            i = match close {
                c if c >= b.len() => b.len(),
                c => tag_at(b, c).2,
            };
        } else if BLOCK.contains(&name.as_str()) {
            match name.as_str() {
                "li" if closing => raw.brk(1),
                "li" => {
                    raw.brk(1);
                    raw.push('-');
                    raw.push(' ');
                }
                "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table" | "pre" | "blockquote" => {
                    raw.brk(2)
                }
                _ => raw.brk(1),
            }
        } else if name == "td" || name == "th" {
            raw.push(' ');
        }
        text_start = i;
    }
    if text_start < b.len() {
        decode_into(tail(html, text_start), &mut raw);
    }
    let body = raw.out;
    let title = title.out;
    if title.is_empty() || body.starts_with(&title) {
        body
    } else {
        let mut s = title;
        s.push_str("\n\n");
        s.push_str(&body);
        s
    }
}

/// The lower-cased tag name at `b[i] == '<'`, whether it is a closing tag, and
/// the index just past its `>` (quotes in attributes may contain `>`). An
/// empty name means this `<` does not open a tag.
fn tag_at(b: &[u8], i: usize) -> (String, bool, usize) {
    let mut j = i + 1;
    let closing = b.get(j) == Some(&b'/');
    if closing {
        j += 1;
    }
    let start = j;
    if matches!(b.get(j), Some(b'!' | b'?')) {
        j += 1; // <!doctype>, <?xml?>
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b':') {
        j += 1;
    }
    let starts_ok = b
        .get(start)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'!' || *c == b'?');
    if !starts_ok {
        return (String::new(), false, i + 1);
    }
    // Only ASCII bytes were accepted into the name.
    let name = core::str::from_utf8(&b[start..j])
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut quote = 0u8;
    while j < b.len() {
        let c = b[j];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if c == b'>' {
            return (name, closing, j + 1);
        }
        j += 1;
    }
    (name, closing, b.len())
}

/// Index of the `</name` that closes an element whose content starts at `from`,
/// or `b.len()` when it is never closed.
fn find_close(b: &[u8], from: usize, name: &str) -> usize {
    let mut at = from;
    while let Some(j) = find(b, b"</", at) {
        let n = name.len();
        if b.len() >= j + 2 + n
            && b[j + 2..j + 2 + n].eq_ignore_ascii_case(name.as_bytes())
            && !b.get(j + 2 + n).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return j;
        }
        at = j + 2;
    }
    b.len()
}

fn find_ci(b: &[u8], from: usize, to: usize, needle: &[u8]) -> Option<usize> {
    let to = to.min(b.len());
    if from >= to {
        return None;
    }
    b[from..to]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

/// Appends `text` with entities decoded.
fn decode_into(text: &str, out: &mut Text) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        push_spaced(sub(rest, 0, amp), out);
        rest = tail(rest, amp);
        match decode_entity(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = tail(rest, len);
            }
            None => {
                out.push('&');
                rest = tail(rest, 1);
            }
        }
    }
    push_spaced(rest, out);
}

fn push_spaced(s: &str, out: &mut Text) {
    for c in s.chars() {
        out.push(c);
    }
}

/// Decodes the entity at the start of `s` (which starts with `&`): the decoded
/// character and the length consumed.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let end = find(s.as_bytes(), b";", 1).filter(|&i| i <= 12)?;
    let body = sub(s, 1, end);
    let c = if let Some(n) = body.strip_prefix('#') {
        let (digits, radix) = match n.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (n, 10),
        };
        let mut code = 0u32;
        for c in digits.chars() {
            code = code.checked_mul(radix)?.checked_add(c.to_digit(radix)?)?;
        }
        if digits.is_empty() {
            return None;
        }
        char::from_u32(code).unwrap_or('\u{FFFD}')
    } else {
        NAMED.iter().find(|(k, _)| *k == body)?.1
    };
    Some((c, end + 1))
}

const NAMED: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", ' '),
    ("copy", '©'),
    ("reg", '®'),
    ("trade", '™'),
    ("mdash", '—'),
    ("ndash", '–'),
    ("hellip", '…'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("bull", '•'),
    ("middot", '·'),
    ("deg", '°'),
    ("times", '×'),
    ("euro", '€'),
    ("pound", '£'),
    ("yen", '¥'),
    ("cent", '¢'),
    ("sect", '§'),
    ("para", '¶'),
    ("shy", '\u{AD}'),
    ("zwj", '\u{200D}'),
    ("zwnj", '\u{200C}'),
];

/// Text under construction with whitespace collapsed on the fly: runs of
/// source whitespace become one space (only tags break lines in rendered
/// HTML), and line breaks requested by block tags merge, keeping at most one
/// blank line between paragraphs and none at the start or end.
#[derive(Default)]
struct Text {
    out: String,
    /// 0 = none, 1 = line break, 2 = paragraph break, owed before the next word.
    pending: u8,
    space: bool,
}

impl Text {
    fn brk(&mut self, level: u8) {
        self.pending = self.pending.max(level);
    }

    fn push(&mut self, c: char) {
        if c == '\u{AD}' {
            return; // soft hyphen: invisible unless a word is broken
        }
        if c.is_ascii_whitespace() || c == '\u{A0}' {
            self.space = true;
            return;
        }
        if !self.out.is_empty() {
            if self.pending > 0 {
                self.out
                    .push_str(if self.pending > 1 { "\n\n" } else { "\n" });
            } else if self.space {
                self.out.push(' ');
            }
        }
        self.pending = 0;
        self.space = false;
        self.out.push(c);
    }
}
