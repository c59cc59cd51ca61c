//! Filesystem helpers shared by the file and memory tools: crash-safe writes
//! and parent-directory creation, built from the platform's primitives so the
//! crash-safety logic itself is unit-tested.

use crate::prelude::*;

use core::sync::atomic::{AtomicU64, Ordering};

use crate::error::{cat, find, num, sub, ToolError};
use crate::paths::{child, display, fs_error, split_parent};
use crate::platform::{FsError, Kind, Platform};

/// Distinguishes temp files made within one clock tick.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `rel` with `data` so that a crash leaves either the old or the new
/// content, never a torn file: write a hidden temp sibling, then rename it over.
pub fn write_atomic<P: Platform>(p: &P, rel: &str, data: &[u8]) -> Result<(), ToolError> {
    let (dir, name) = split_parent(rel);
    if name.is_empty() {
        return Err(ToolError::InvalidArguments(String::from(
            "field `path` names the workspace root, not a file",
        )));
    }
    if let Ok(st) = p.stat(rel) {
        if st.kind == Kind::Dir {
            return Err(fs_error(FsError::IsDirectory, rel));
        }
    }
    let (secs, nanos) = p.now();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = child(
        dir,
        &cat(&[".", name, ".tmp-", &num(secs ^ nanos as u64), "-", &num(n)]),
    );
    if let Err(e) = p.write(&tmp, data) {
        let _ = p.remove(&tmp);
        return Err(fs_error(e, rel));
    }
    if let Err(e) = p.rename(&tmp, rel) {
        let _ = p.remove(&tmp);
        return Err(fs_error(e, rel));
    }
    Ok(())
}

/// Creates `rel` and any missing parents; fine if it already is a directory.
pub fn mkdirs<P: Platform>(p: &P, rel: &str) -> Result<(), ToolError> {
    if rel.is_empty() {
        return Ok(());
    }
    let mut end = 0;
    loop {
        end = find(rel.as_bytes(), b"/", end).unwrap_or(rel.len());
        let prefix = sub(rel, 0, end);
        match p.stat(prefix) {
            Ok(st) if st.kind == Kind::Dir => {}
            Ok(_) => {
                return Err(ToolError::Failed(cat(&[
                    display(prefix),
                    " exists and is not a directory",
                ])))
            }
            Err(FsError::NotFound) => match p.mkdir(prefix) {
                Ok(()) | Err(FsError::AlreadyExists) => {}
                Err(e) => return Err(fs_error(e, prefix)),
            },
            Err(e) => return Err(fs_error(e, prefix)),
        }
        if end == rel.len() {
            return Ok(());
        }
        end += 1;
    }
}

/// Reads a whole file, refusing ones above `cap` bytes with a clear message.
pub fn read_all<P: Platform>(p: &P, rel: &str, cap: u64) -> Result<Vec<u8>, ToolError> {
    let st = p.stat(rel).map_err(|e| fs_error(e, rel))?;
    match st.kind {
        Kind::Dir => return Err(fs_error(FsError::IsDirectory, rel)),
        Kind::File => {}
        _ => {
            return Err(ToolError::Failed(cat(&[
                display(rel),
                " is not a regular file",
            ])))
        }
    }
    if st.size > cap {
        return Err(ToolError::Failed(cat(&[
            display(rel),
            " is ",
            &num(st.size),
            " bytes, more than the ",
            &num(cap),
            "-byte limit for this tool",
        ])));
    }
    let mut out = Vec::with_capacity(st.size as usize);
    loop {
        let chunk = p
            .read_at(rel, out.len() as u64, 64 * 1024)
            .map_err(|e| fs_error(e, rel))?;
        if chunk.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(&chunk);
        if out.len() as u64 > cap {
            return Err(ToolError::Failed(cat(&[
                display(rel),
                " grew past the ",
                &num(cap),
                "-byte limit while being read",
            ])));
        }
    }
}
