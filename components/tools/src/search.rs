//! search_files: a recursive grep over the workspace's text files. The matcher
//! is a literal substring or a `*`/`?` wildcard, not a regex: the `regex`
//! crate alone would cost more than this whole component's budget.

use crate::prelude::*;

use wasiclaw_json::Map;

use crate::args::{opt_str, req_str};
use crate::error::{cat, num, ToolError};
use crate::paths::{child, display, fs_error, resolve};
use crate::platform::{sort_by_name, Kind, Platform};

pub const MAX_MATCHES: usize = 200;
pub const MAX_OUTPUT: usize = 30_000;
/// Files larger than this are skipped: they are logs or data, not notes.
pub const MAX_FILE_BYTES: u64 = 2 << 20;
pub const MAX_FILES: usize = 10_000;
/// Matched lines are shown up to this many bytes.
const LINE_SHOWN: usize = 300;

/// A compiled pattern. Lower-case patterns match case-insensitively ("smart
/// case"), as in ripgrep, so `todo` finds `TODO` but `TODO` does not find `todo`.
pub struct Matcher {
    pat: Vec<u8>,
    glob: bool,
    fold: bool,
}

impl Matcher {
    pub fn new(pattern: &str) -> Matcher {
        let pat = pattern.as_bytes().to_vec();
        Matcher {
            glob: pat.iter().any(|&b| b == b'*' || b == b'?'),
            fold: !pat.iter().any(u8::is_ascii_uppercase),
            pat,
        }
    }

    fn eq(&self, p: u8, t: u8) -> bool {
        if self.fold {
            p.eq_ignore_ascii_case(&t)
        } else {
            p == t
        }
    }

    /// Whether the pattern occurs anywhere in `line`.
    pub fn is_match(&self, line: &[u8]) -> bool {
        if !self.glob {
            let n = self.pat.len();
            return n == 0
                || line
                    .windows(n)
                    .any(|w| w.iter().zip(&self.pat).all(|(&t, &p)| self.eq(p, t)));
        }
        // Classic wildcard matching with single-star backtracking, with an
        // implicit `*` on both ends so the pattern may start and end anywhere.
        let (pat, text) = (&self.pat, line);
        let (mut pi, mut ti) = (0usize, 0usize);
        let (mut star_p, mut star_t) = (0usize, 0usize);
        let mut starred = true; // the implicit leading `*`
        loop {
            if pi == pat.len() {
                return true; // the implicit trailing `*` takes the rest
            }
            if pat[pi] == b'*' {
                pi += 1;
                star_p = pi;
                star_t = ti;
                starred = true;
                continue;
            }
            if ti < text.len() && (pat[pi] == b'?' || self.eq(pat[pi], text[ti])) {
                pi += 1;
                ti += 1;
                continue;
            }
            if starred && star_t < text.len() {
                star_t += 1;
                pi = star_p;
                ti = star_t;
                continue;
            }
            return false;
        }
    }
}

pub fn search_files<P: Platform>(p: &P, m: &Map) -> Result<String, ToolError> {
    let pattern = req_str(m, "pattern")?;
    if pattern.is_empty() {
        return Err(ToolError::InvalidArguments(String::from(
            "field `pattern` must not be empty",
        )));
    }
    if pattern.contains('\n') {
        return Err(ToolError::InvalidArguments(String::from(
            "field `pattern` must be a single line: matching is line by line",
        )));
    }
    let root = resolve(p, opt_str(m, "path")?.unwrap_or("."))?;
    let matcher = Matcher::new(pattern);
    let st = p.stat(&root).map_err(|e| fs_error(e, &root))?;

    let mut s = Search {
        out: String::new(),
        matches: 0,
        files: 0,
        full: false,
    };
    if st.kind == Kind::File {
        s.file(p, &root, &matcher, st.size);
    } else {
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            if s.full {
                break;
            }
            let mut entries = p.list(&dir).map_err(|e| fs_error(e, &dir))?;
            sort_by_name(&mut entries);
            let mut subdirs = Vec::new();
            let mut files = Vec::new();
            for e in entries {
                let path = child(&dir, &e.name);
                match e.kind {
                    Kind::Dir if !e.name.starts_with('.') => subdirs.push(path),
                    Kind::File => files.push(path),
                    // Symlinks are not followed: no loops, no escapes.
                    _ => {}
                }
            }
            for f in &files {
                if s.full || s.files >= MAX_FILES {
                    s.full = true;
                    break;
                }
                if let Ok(fst) = p.stat(f) {
                    s.file(p, f, &matcher, fst.size);
                }
            }
            // Reversed onto the stack so subdirectories are visited in order.
            dirs.extend(subdirs.into_iter().rev());
        }
    }

    if s.matches == 0 {
        return Ok(cat(&[
            "No matches for `",
            pattern,
            "` in ",
            display(&root),
            " (",
            &num(s.files as u64),
            " text files searched)",
        ]));
    }
    if s.full {
        s.out.push_str(&cat(&[
            "[stopped after ",
            &num(s.matches as u64),
            " matches; narrow the pattern or the path to see the rest]",
        ]));
    } else {
        s.out.pop();
    }
    Ok(s.out)
}

struct Search {
    out: String,
    matches: usize,
    files: usize,
    /// A cap was reached; stop walking.
    full: bool,
}

impl Search {
    fn file<P: Platform>(&mut self, p: &P, rel: &str, m: &Matcher, size: u64) {
        if size > MAX_FILE_BYTES {
            return;
        }
        let data = match p.read_at(rel, 0, size as usize + 1) {
            Ok(d) => d,
            Err(_) => return,
        };
        if data[..data.len().min(8192)].contains(&0) {
            return; // binary
        }
        self.files += 1;
        for (i, line) in data.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !m.is_match(line) {
                continue;
            }
            if self.matches == MAX_MATCHES || self.out.len() >= MAX_OUTPUT {
                self.full = true;
                return;
            }
            self.matches += 1;
            // Cut long lines on a character boundary.
            let mut end = line.len().min(LINE_SHOWN);
            while end > 0 && end < line.len() && line[end] & 0xC0 == 0x80 {
                end -= 1;
            }
            let shown = &line[..end];
            self.out.push_str(rel);
            self.out.push(':');
            self.out.push_str(&num(i as u64 + 1));
            self.out.push_str(": ");
            self.out.push_str(String::from_utf8_lossy(shown).trim());
            if shown.len() < line.len() {
                self.out.push_str(" [...]");
            }
            self.out.push('\n');
        }
    }
}
