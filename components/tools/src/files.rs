//! read_file, write_file, edit_file and list_dir.

use crate::prelude::*;

use wasiclaw_json::Map;

use crate::args::{opt_uint, req_str};
use crate::error::{cat, find, lossy, num, ToolError};
use crate::fsx::{mkdirs, read_all, write_atomic};
use crate::paths::{display, fs_error, resolve, resolve_writable, split_parent};
use crate::platform::{sort_by_name, FsError, Kind, Platform};

/// Lines returned by read_file when no `limit` is given.
pub const READ_DEFAULT_LINES: u64 = 2000;
/// Most bytes read_file returns in one call; a model context is the scarce
/// resource, so long files are paged with `offset`.
pub const READ_MAX_BYTES: usize = 50_000;
/// Largest file edit_file will load and rewrite.
pub const EDIT_MAX_BYTES: u64 = 4 << 20;
/// Entries list_dir shows before summarising the rest.
pub const LIST_MAX_ENTRIES: usize = 1000;

const CHUNK: usize = 64 * 1024;

pub fn read_file<P: Platform>(p: &P, m: &Map) -> Result<String, ToolError> {
    let path = req_str(m, "path")?;
    let offset = opt_uint(m, "offset", 1, u64::MAX)?.unwrap_or(1);
    let limit = opt_uint(m, "limit", 1, 1_000_000)?.unwrap_or(READ_DEFAULT_LINES);
    let rel = resolve(p, path)?;
    let st = p.stat(&rel).map_err(|e| fs_error(e, &rel))?;
    if st.kind == Kind::Dir {
        return Err(ToolError::Failed(cat(&[
            display(&rel),
            " is a directory; use list_dir to see what it contains",
        ])));
    }

    let mut pos = 0u64;
    let mut line = 1u64; // the line the next byte belongs to
    let mut taken = 0u64; // complete lines copied to `out`
    let mut out: Vec<u8> = Vec::new();
    let mut limit_hit = false;
    let mut cap_hit = false;
    'read: loop {
        let chunk = p.read_at(&rel, pos, CHUNK).map_err(|e| fs_error(e, &rel))?;
        if chunk.is_empty() {
            break;
        }
        if pos == 0 && chunk[..chunk.len().min(8192)].contains(&0) {
            return Err(ToolError::Failed(cat(&[
                display(&rel),
                " looks like a binary file (it contains NUL bytes); read_file only shows text",
            ])));
        }
        pos += chunk.len() as u64;
        for (i, &b) in chunk.iter().enumerate() {
            if line >= offset {
                if taken == limit {
                    limit_hit = true;
                    break 'read;
                }
                if out.len() == READ_MAX_BYTES {
                    cap_hit = true;
                    break 'read;
                }
                out.push(b);
            }
            if b == b'\n' {
                if line >= offset {
                    taken += 1;
                }
                line += 1;
            }
            // Stop as soon as the limit is met and nothing follows in this
            // chunk, without reading further just to find out.
            if taken == limit && i + 1 == chunk.len() {
                limit_hit = !p
                    .read_at(&rel, pos, 1)
                    .map_err(|e| fs_error(e, &rel))?
                    .is_empty();
                break 'read;
            }
        }
    }

    if out.is_empty() {
        if pos == 0 {
            return Ok(String::from("[empty file]"));
        }
        let total = if line > 1 && ends_with_newline(p, &rel, pos) {
            line - 1
        } else {
            line
        };
        return Err(ToolError::InvalidArguments(cat(&[
            "field `offset` is ",
            &num(offset),
            " but ",
            display(&rel),
            " has only ",
            &num(total),
            " lines",
        ])));
    }

    let mut cut_line = false;
    if cap_hit {
        // Prefer whole lines; only a single over-long line is cut mid-way.
        match out.iter().rposition(|&b| b == b'\n') {
            Some(i) => out.truncate(i + 1),
            None => {
                cut_line = true;
                while !out.is_empty() && core::str::from_utf8(&out).is_err() {
                    out.pop();
                }
            }
        }
    }
    let shown = newlines(&out);
    let mut text = lossy(out);
    if cut_line {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&cat(&[
            "[line ",
            &num(offset),
            " is longer than ",
            &num(READ_MAX_BYTES as u64),
            " bytes and was cut; call read_file with offset=",
            &num(offset + 1),
            " to read on]",
        ]));
    } else if limit_hit || cap_hit {
        let last = offset + shown - 1;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&cat(&[
            "[truncated: showing lines ",
            &num(offset),
            "-",
            &num(last),
            if cap_hit {
                " (output limit reached)"
            } else {
                ""
            },
            "; the file continues, call read_file with offset=",
            &num(last + 1),
            " to read more]",
        ]));
    }
    Ok(text)
}

fn ends_with_newline<P: Platform>(p: &P, rel: &str, size: u64) -> bool {
    matches!(p.read_at(rel, size - 1, 1), Ok(b) if b.first() == Some(&b'\n'))
}

pub fn write_file<P: Platform>(p: &P, m: &Map) -> Result<String, ToolError> {
    let path = req_str(m, "path")?;
    let content = req_str(m, "content")?;
    let rel = resolve_writable(p, path)?;
    let (parent, _) = split_parent(&rel);
    mkdirs(p, parent)?;
    let existed = match p.stat(&rel) {
        Ok(_) => true,
        Err(FsError::NotFound) => false,
        Err(e) => return Err(fs_error(e, &rel)),
    };
    write_atomic(p, &rel, content.as_bytes())?;
    Ok(cat(&[
        if existed { "Overwrote " } else { "Created " },
        display(&rel),
        " (",
        &num(content.len() as u64),
        " bytes)",
    ]))
}

pub fn edit_file<P: Platform>(p: &P, m: &Map) -> Result<String, ToolError> {
    let path = req_str(m, "path")?;
    let old = req_str(m, "old_text")?;
    let new = req_str(m, "new_text")?;
    if old.is_empty() {
        return Err(ToolError::InvalidArguments(String::from(
            "field `old_text` must not be empty; to create or replace a whole file use write_file",
        )));
    }
    let rel = resolve_writable(p, path)?;
    let bytes = read_all(p, &rel, EDIT_MAX_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        ToolError::Failed(cat(&[
            display(&rel),
            " is not UTF-8 text, so it cannot be edited",
        ]))
    })?;
    let tb = text.as_bytes();
    let (mut old_b, mut new_b) = (old.as_bytes().to_vec(), new.as_bytes().to_vec());
    let (mut at, mut count) = matches(tb, &old_b);
    // Models write `\n`; a file with CRLF line ends would never match. Retry
    // with CRLF (and write the replacement with CRLF too) before giving up.
    if count == 0
        && old_b.contains(&b'\n')
        && !old_b.contains(&b'\r')
        && find(tb, b"\r\n", 0).is_some()
    {
        old_b = crlf(&old_b);
        new_b = crlf(&new_b);
        (at, count) = matches(tb, &old_b);
    }
    if count != 1 {
        let msg = if count == 0 {
            cat(&[
                "old_text was not found in ",
                display(&rel),
                " (0 matches). It must match the file exactly, including whitespace and indentation; read the file and copy the text",
            ])
        } else {
            cat(&[
                "old_text matches ",
                &num(count as u64),
                " times in ",
                display(&rel),
                "; it must match exactly once. Include more surrounding lines to make it unique",
            ])
        };
        return Err(ToolError::Failed(msg));
    }
    let line = newlines(&tb[..at]) + 1;
    let mut edited = Vec::with_capacity(tb.len() - old_b.len() + new_b.len());
    edited.extend_from_slice(&tb[..at]);
    edited.extend_from_slice(&new_b);
    edited.extend_from_slice(&tb[at + old_b.len()..]);
    write_atomic(p, &rel, &edited)?;
    Ok(cat(&[
        "Edited ",
        display(&rel),
        ": replaced ",
        &num(line_count(old)),
        " line(s) at line ",
        &num(line),
        " with ",
        &num(line_count(new)),
        " line(s)",
    ]))
}

/// The first match of `needle` in `hay` and the number of (non-overlapping)
/// matches.
fn matches(hay: &[u8], needle: &[u8]) -> (usize, usize) {
    let first = find(hay, needle, 0);
    let (mut count, mut next) = (0, first);
    while let Some(i) = next {
        count += 1;
        next = find(hay, needle, i + needle.len());
    }
    (first.unwrap_or(0), count)
}

fn crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + 8);
    for &c in b {
        if c == b'\n' {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

fn newlines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

fn line_count(s: &str) -> u64 {
    if s.is_empty() {
        return 0;
    }
    let b = s.as_bytes();
    newlines(b) + (b.last() != Some(&b'\n')) as u64
}

pub fn list_dir<P: Platform>(p: &P, m: &Map) -> Result<String, ToolError> {
    let path = req_str(m, "path")?;
    let rel = resolve(p, path)?;
    let mut entries = match p.list(&rel) {
        Ok(e) => e,
        Err(FsError::NotDirectory) => {
            return Err(ToolError::Failed(cat(&[
                display(&rel),
                " is a file, not a directory; use read_file to read it",
            ])))
        }
        Err(e) => return Err(fs_error(e, &rel)),
    };
    if entries.is_empty() {
        return Ok(String::from("[empty directory]"));
    }
    sort_by_name(&mut entries);
    let mut out = String::new();
    for e in entries.iter().take(LIST_MAX_ENTRIES) {
        out.push_str(&e.name);
        if e.kind == Kind::Dir {
            out.push('/');
        }
        out.push('\n');
    }
    if entries.len() > LIST_MAX_ENTRIES {
        out.push_str(&cat(&[
            "[",
            &num((entries.len() - LIST_MAX_ENTRIES) as u64),
            " more entries not shown]\n",
        ]));
    }
    out.pop();
    Ok(out)
}
