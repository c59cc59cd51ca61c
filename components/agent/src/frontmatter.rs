//! The YAML front matter of a `SKILL.md`: the block between a first line
//! `---` and the next `---`. A YAML subset, the one skills are written in:
//! `key: value` mappings (nested by indentation), plain, single- and
//! double-quoted scalars (which may run over several lines), `|` and `>`
//! block scalars with `-`/`+` chomping, `- item` lists and `[a, b]` flow
//! lists, and `#` comments. Anything else (anchors, tags, flow mappings,
//! multi-document streams) is refused with the line it is on, never
//! guessed at. Bounded: input over [`MAX_LEN`] bytes or nested deeper than
//! [`MAX_DEPTH`] is refused; work is linear in the input.

use crate::prelude::*;

/// Front matter larger than this is refused: it is a short header.
pub const MAX_LEN: usize = 16 << 10;
/// Mappings and lists nested deeper than this are refused.
pub const MAX_DEPTH: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Yaml {
    Str(String),
    List(Vec<Yaml>),
    /// Keys in document order; a repeated key is refused.
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Splits a document into its front matter (parsed) and its body. A
/// document without front matter, or whose front matter is malformed, is an
/// error that says why, with the line number in the document.
pub fn split(doc: &str) -> Result<(Yaml, &str), String> {
    let doc = doc.strip_prefix('\u{feff}').unwrap_or(doc);
    let first_end = doc.bytes().position(|b| b == b'\n').unwrap_or(doc.len());
    if doc.get(..first_end).map(str::trim_end) != Some("---") {
        return Err("no front matter: the file must start with a line ---".to_string());
    }
    // The closing `---` (or `...`) on a line of its own.
    let mut at = first_end + 1;
    let mut end = None;
    while at < doc.len() {
        let line_end = doc.as_bytes()[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(doc.len(), |i| at + i);
        let line = doc.get(at..line_end).unwrap_or("").trim_end();
        if line == "---" || line == "..." {
            end = Some((at, line_end));
            break;
        }
        at = line_end + 1;
    }
    let Some((close, close_end)) = end else {
        return Err("the front matter is not closed by a line ---".to_string());
    };
    let block = doc.get(first_end + 1..close).unwrap_or("");
    if block.len() > MAX_LEN {
        return Err(cat!("the front matter is larger than ", MAX_LEN, " bytes"));
    }
    // Block line 0 is the document's line 2 (after the opening `---`).
    let value = parse(block).map_err(|(line, why)| cat!("line ", line + 2, ": ", why))?;
    let body = doc.get(close_end + 1..).unwrap_or("");
    Ok((value, body))
}

/// A line of the block, with what the parser needs of it.
struct Line<'a> {
    /// 0-based line number within the block (the document line is +1).
    no: usize,
    indent: usize,
    /// The text after the indentation, trailing whitespace removed.
    text: &'a str,
}

/// Parses a front matter block (without its `---` lines) into a mapping.
/// Errors carry the 0-based line number within the block.
pub fn parse(block: &str) -> Result<Yaml, (usize, String)> {
    let mut lines = Vec::new();
    // A final newline ends the last line; it does not start another.
    let block = block.strip_suffix('\n').unwrap_or(block);
    for (no, raw) in block.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let text = raw.trim_start_matches(' ');
        if text.starts_with('\t') {
            return Err((no, "tabs are not allowed for indentation".to_string()));
        }
        lines.push(Line {
            no,
            indent: raw.len() - text.len(),
            text: text.trim_end(),
        });
    }
    let mut p = Parser { lines, at: 0 };
    p.skip_blank();
    if p.at == p.lines.len() {
        return Ok(Yaml::Map(Vec::new()));
    }
    let indent = p.lines[p.at].indent;
    let value = p.mapping(indent, 0)?;
    p.skip_blank();
    if let Some(l) = p.lines.get(p.at) {
        return Err((l.no, "unexpected indentation".to_string()));
    }
    Ok(value)
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    at: usize,
}

type Res<T> = Result<T, (usize, String)>;

fn err<T>(no: usize, why: &str) -> Res<T> {
    Err((no, why.to_string()))
}

/// Blank or a whole-line comment.
fn is_blank(text: &str) -> bool {
    text.is_empty() || text.starts_with('#')
}

impl<'a> Parser<'a> {
    fn skip_blank(&mut self) {
        while self.lines.get(self.at).is_some_and(|l| is_blank(l.text)) {
            self.at += 1;
        }
    }

    /// The next non-blank line at exactly `indent`, if any.
    fn next_at(&mut self, indent: usize) -> Option<usize> {
        self.skip_blank();
        let l = self.lines.get(self.at)?;
        (l.indent == indent).then_some(self.at)
    }

    fn mapping(&mut self, indent: usize, depth: usize) -> Res<Yaml> {
        if depth > MAX_DEPTH {
            return err(self.lines[self.at].no, "nested too deeply");
        }
        let mut out: Vec<(String, Yaml)> = Vec::new();
        while let Some(i) = self.next_at(indent) {
            let (no, text) = (self.lines[i].no, self.lines[i].text);
            if text.starts_with("- ") || text == "-" {
                return err(no, "a list item where a key was expected");
            }
            let (key, rest) = split_key(text).ok_or((no, "expected `key: value`".to_string()))?;
            let key = unquote_key(key).ok_or((no, "invalid key".to_string()))?;
            if out.iter().any(|(k, _)| *k == key) {
                return Err((no, cat!("duplicate key `", key, "`")));
            }
            self.at = i + 1;
            let value = self.value(rest, indent, no, depth)?;
            out.push((key, value));
        }
        Ok(Yaml::Map(out))
    }

    /// The value after `key:` (`rest`, possibly empty) of a line at `indent`.
    fn value(&mut self, rest: &str, indent: usize, no: usize, depth: usize) -> Res<Yaml> {
        // Quoted scalars and flow lists find their own end (a `#` inside
        // quotes is text, not a comment).
        if rest.starts_with(['"', '\'']) {
            return self.scalar(rest, indent, no).map(Yaml::Str);
        }
        if rest.starts_with('[') {
            return self.flow_list(rest, indent, no);
        }
        let plain = strip_comment(rest);
        if plain.is_empty() {
            // A nested block, a list, a value on the next lines, or empty.
            self.skip_blank();
            let Some(l) = self.lines.get(self.at) else {
                return Ok(Yaml::Str(String::new()));
            };
            let item = l.text.starts_with("- ") || l.text == "-";
            return if item && l.indent >= indent {
                // (`key:` then `- item` at the key's own indentation is YAML too.)
                let child = l.indent;
                self.list(child, depth + 1)
            } else if l.indent > indent && split_key(l.text).is_some() {
                let child = l.indent;
                self.mapping(child, depth + 1)
            } else if l.indent > indent {
                let (text, line_no) = (l.text, l.no);
                self.at += 1;
                self.value(text, indent, line_no, depth)
            } else {
                Ok(Yaml::Str(String::new()))
            };
        }
        if let Some(header) = plain.strip_prefix(['|', '>']) {
            let folded = plain.starts_with('>');
            return self.block_scalar(folded, header, indent, no);
        }
        if plain.starts_with(['{', '&', '*', '!', '%', '@', '`']) {
            return err(no, "anchors, tags and flow mappings are not supported");
        }
        self.scalar(plain, indent, no).map(Yaml::Str)
    }

    fn list(&mut self, indent: usize, depth: usize) -> Res<Yaml> {
        if depth > MAX_DEPTH {
            return err(self.lines[self.at].no, "nested too deeply");
        }
        let mut items = Vec::new();
        while let Some(i) = self.next_at(indent) {
            let (no, text) = (self.lines[i].no, self.lines[i].text);
            let Some(rest) = text.strip_prefix('-') else {
                break;
            };
            if !(rest.is_empty() || rest.starts_with(' ')) {
                break;
            }
            let rest = rest.trim_start_matches(' ');
            self.at = i + 1;
            if split_key(rest).is_some() && !rest.starts_with(['"', '\'']) {
                return err(no, "mappings inside lists are not supported");
            }
            // The item's own indentation is that of its text.
            let item_indent = indent + (text.len() - rest.len());
            items.push(self.value(rest, item_indent.saturating_sub(1), no, depth)?);
        }
        Ok(Yaml::List(items))
    }

    /// A plain or quoted scalar starting on line `no`, continued on lines
    /// indented deeper than `indent`.
    fn scalar(&mut self, first: &str, indent: usize, no: usize) -> Res<String> {
        match first.as_bytes()[0] {
            q @ (b'"' | b'\'') => {
                let mut text = String::from(first);
                // A quoted scalar ends at its closing quote, maybe lines later;
                // each line is scanned once (`from`), never the text again.
                let mut from = 1;
                loop {
                    match quoted_scan(text.as_bytes(), q, from) {
                        Ok(_) => {
                            let s = unquote(&text, q).unwrap_or(Err("unterminated quoted string"));
                            return s.map_err(|why| (no, why.to_string()));
                        }
                        Err(at) => from = at,
                    }
                    match self.lines.get(self.at) {
                        Some(l) if l.indent > indent || l.text.is_empty() => {
                            text.push('\n');
                            text.push_str(l.text);
                            self.at += 1;
                        }
                        _ => return err(no, "unterminated quoted string"),
                    }
                }
            }
            _ => {
                let mut out = String::from(first);
                // Continuation lines fold into one line; blank lines are
                // newlines.
                let mut pending_newlines = 0;
                while let Some(l) = self.lines.get(self.at) {
                    if l.text.is_empty() {
                        pending_newlines += 1;
                        self.at += 1;
                        continue;
                    }
                    if l.indent <= indent || l.text.starts_with('#') {
                        break;
                    }
                    if split_key(l.text).is_some() {
                        return err(l.no, "a key inside a plain value (quote the value)");
                    }
                    if pending_newlines == 0 {
                        out.push(' ');
                    }
                    for _ in 0..pending_newlines {
                        out.push('\n');
                    }
                    pending_newlines = 0;
                    out.push_str(strip_comment(l.text));
                    self.at += 1;
                }
                if pending_newlines > 0 {
                    // Blank lines before something less indented end the value.
                    self.at -= pending_newlines;
                }
                Ok(out)
            }
        }
    }

    /// `|` or `>` with optional chomping (`-` strip, `+` keep) and an
    /// optional indentation digit (ignored: the first line sets it).
    fn block_scalar(&mut self, folded: bool, header: &str, indent: usize, no: usize) -> Res<Yaml> {
        let header = strip_comment(header);
        if !header
            .bytes()
            .all(|b| matches!(b, b'-' | b'+' | b'1'..=b'9'))
        {
            return err(no, "invalid block scalar header");
        }
        let (strip, keep) = (header.contains('-'), header.contains('+'));
        let mut lines: Vec<String> = Vec::new();
        let mut block_indent = None;
        while let Some(l) = self.lines.get(self.at) {
            if l.text.is_empty() {
                lines.push(String::new());
                self.at += 1;
                continue;
            }
            let bi = *block_indent.get_or_insert(l.indent);
            if l.indent <= indent || l.indent < bi {
                break;
            }
            // Indentation deeper than the block's own is content.
            let mut line = String::new();
            for _ in bi..l.indent {
                line.push(' ');
            }
            line.push_str(l.text);
            lines.push(line);
            self.at += 1;
        }
        // Blank lines at the end: dropped unless kept (`+`).
        let mut trailing = 0;
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
            trailing += 1;
        }
        let mut out = String::new();
        // Folding: a line break between two ordinary lines becomes a space;
        // blank lines and more-indented lines keep their breaks.
        let mut prev: Option<&str> = None;
        for line in &lines {
            match prev {
                None => {}
                Some(p) if !folded || p.starts_with(' ') || line.starts_with(' ') => out.push('\n'),
                Some("") => {}
                Some(_) if line.is_empty() => {}
                Some(_) => out.push(' '),
            }
            if folded && line.is_empty() {
                out.push('\n');
            }
            out.push_str(line);
            prev = Some(line);
        }
        if !out.is_empty() && !strip {
            out.push('\n');
        }
        if keep {
            for _ in 0..trailing {
                out.push('\n');
            }
        }
        Ok(Yaml::Str(out))
    }

    /// `[a, "b", c]` on one line or several.
    fn flow_list(&mut self, first: &str, indent: usize, no: usize) -> Res<Yaml> {
        let mut text = String::from(first);
        // Continued until the closing bracket, on lines indented deeper;
        // each line is scanned once.
        let mut from = (1, None);
        while let Err(at) = flow_scan(text.as_bytes(), from) {
            from = at;
            match self.lines.get(self.at) {
                Some(l) if l.indent > indent || l.text.is_empty() => {
                    text.push(' ');
                    text.push_str(l.text);
                    self.at += 1;
                }
                _ => return err(no, "unterminated flow list"),
            }
        }
        let inner = text.get(1..).unwrap_or("");
        let mut items = Vec::new();
        let mut rest = inner.trim_start();
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                if !strip_comment(after).is_empty() {
                    return err(no, "text after the flow list");
                }
                return Ok(Yaml::List(items));
            }
            let (item, after) = if rest.starts_with(['"', '\'']) {
                let q = rest.as_bytes()[0];
                let end =
                    quoted_end(rest, q).ok_or((no, "unterminated quoted string".to_string()))?;
                let lit = rest.get(..end).unwrap_or("");
                let value = unquote(lit, q)
                    .unwrap_or(Err("unterminated quoted string"))
                    .map_err(|why| (no, why.to_string()))?;
                (value, rest.get(end..).unwrap_or(""))
            } else {
                let end = rest
                    .bytes()
                    .position(|b| b == b',' || b == b']')
                    .unwrap_or(rest.len());
                let item = rest.get(..end).unwrap_or("").trim();
                if item.starts_with(['[', '{', '&', '*', '!']) {
                    return err(no, "nested flow collections are not supported");
                }
                (item.to_string(), rest.get(end..).unwrap_or(""))
            };
            let after = after.trim_start();
            if item.is_empty() && after.starts_with(']') && items.is_empty() {
                rest = after;
                continue;
            }
            items.push(Yaml::Str(item));
            rest = match after.strip_prefix(',') {
                Some(r) => r.trim_start(),
                None if after.starts_with(']') => after,
                None => return err(no, "expected , or ] in a flow list"),
            };
        }
    }
}

/// Whether a flow list's text has reached its closing bracket (outside
/// quotes), scanning from `at` (an index, and the quote open there if any):
/// `Err` gives where to go on once more text is appended.
fn flow_scan(b: &[u8], at: (usize, Option<u8>)) -> Result<(), (usize, Option<u8>)> {
    let (mut i, mut open) = at;
    loop {
        #[cfg(test)]
        SCANNED.with(|n| n.set(n.get() + 1));
        if let Some(q) = open {
            i = quoted_scan(b, q, i).map_err(|at| (at, open))?;
            open = None;
        }
        match b.get(i) {
            None => return Err((i, None)),
            Some(&q @ (b'"' | b'\'')) => open = Some(q),
            Some(b']') => return Ok(()),
            Some(_) => {}
        }
        i += 1;
    }
}

/// Byte length of the quoted scalar at the start of `s` (quotes included).
fn quoted_end(s: &str, q: u8) -> Option<usize> {
    quoted_scan(s.as_bytes(), q, 1).ok()
}

/// Scans a scalar quoted by `q` from byte `i` (after the opening quote):
/// `Ok` with the index after the closing quote, or `Err` with the index to
/// go on from once more text is appended (text is appended after a line
/// break, so a quote at the very end cannot become a doubled `''`).
fn quoted_scan(b: &[u8], q: u8, from: usize) -> Result<usize, usize> {
    let r = quoted_scan_unmetered(b, q, from);
    #[cfg(test)]
    SCANNED.with(|n| n.set(n.get() + r.unwrap_or_else(|at| at).saturating_sub(from)));
    r
}

fn quoted_scan_unmetered(b: &[u8], q: u8, mut i: usize) -> Result<usize, usize> {
    while i < b.len() {
        if b[i] == b'\\' && q == b'"' {
            i += 2;
            continue;
        }
        if b[i] == q {
            // '' inside single quotes is an escaped quote.
            if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Ok(i + 1);
        }
        i += 1;
    }
    Err(i)
}

#[cfg(test)]
std::thread_local! {
    /// Bytes the quote and flow-list scanners stepped over (tests show that
    /// a value over many lines is scanned once, not once a line).
    pub static SCANNED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// `key: rest` (the colon followed by a space or the end), key not empty.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'"' | b'\'')) {
        i = quoted_end(text, b[0])?;
    }
    while i < b.len() {
        if b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ') {
            let key = text.get(..i)?.trim_end();
            return (!key.is_empty()).then(|| (key, text.get(i + 1..).unwrap_or("").trim_start()));
        }
        if b[i] == b'#' && i > 0 && b[i - 1] == b' ' {
            return None;
        }
        i += 1;
    }
    None
}

fn unquote_key(key: &str) -> Option<String> {
    match key.as_bytes()[0] {
        q @ (b'"' | b'\'') => unquote(key, q)?.ok(),
        _ => Some(key.to_string()),
    }
}

/// A plain value without its trailing ` # comment`.
fn strip_comment(text: &str) -> &str {
    let b = text.as_bytes();
    if b.first() == Some(&b'#') {
        return "";
    }
    for i in 1..b.len() {
        if b[i] == b'#' && b[i - 1] == b' ' {
            return text.get(..i).unwrap_or(text).trim_end();
        }
    }
    text
}

/// The value of the quoted scalar `lit` (which starts with quote `q`):
/// `None` when it is not closed yet, `Some(Err)` when something follows the
/// closing quote or an escape is invalid. Line breaks fold to spaces, blank
/// lines to newlines, as YAML's flow scalars do.
fn unquote(lit: &str, q: u8) -> Option<Result<String, &'static str>> {
    let end = quoted_end(lit, q)?;
    if !strip_comment(lit.get(end..).unwrap_or(""))
        .trim()
        .is_empty()
    {
        return Some(Err("text after a quoted string"));
    }
    let inner = lit.get(1..end - 1).unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    let mut newlines = 0;
    while let Some(c) = chars.next() {
        if c == '\n' {
            // Trailing spaces before the break and leading ones after it go.
            while out.ends_with(' ') {
                out.pop();
            }
            newlines += 1;
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            continue;
        }
        if newlines > 0 {
            if newlines == 1 {
                out.push(' ');
            }
            for _ in 1..newlines {
                out.push('\n');
            }
            newlines = 0;
        }
        match c {
            '\'' if q == b'\'' => {
                chars.next(); // the second quote of ''
                out.push('\'');
            }
            '\\' if q == b'"' => {
                let Some(e) = chars.next() else {
                    return Some(Err("a string ends with a lone backslash"));
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    '"' | '\\' | '/' | ' ' => out.push(e),
                    'u' | 'x' => {
                        let digits = if e == 'u' { 4 } else { 2 };
                        let mut n = 0u32;
                        for _ in 0..digits {
                            let Some(d) = chars.next().and_then(|d| d.to_digit(16)) else {
                                return Some(Err("invalid \\u or \\x escape"));
                            };
                            n = n * 16 + d;
                        }
                        let Some(ch) = char::from_u32(n) else {
                            return Some(Err("invalid \\u escape (a surrogate)"));
                        };
                        out.push(ch);
                    }
                    _ => return Some(Err("unknown escape in a double-quoted string")),
                }
            }
            c => out.push(c),
        }
    }
    Some(Ok(out))
}
