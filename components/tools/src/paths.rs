//! Workspace confinement. Every path a tool touches goes through [`resolve`],
//! which normalises it lexically and then walks it component by component,
//! expanding symlinks itself, so a path is only ever handed to the platform
//! once it is known to stay inside the workspace. The host's preopen sandbox
//! still has the final say; this layer exists so the model gets a clear
//! `denied` message instead of an opaque I/O error.

use crate::prelude::*;

use crate::error::{cat, join, sub, tail, ToolError};
use crate::memory;
use crate::platform::{FsError, Kind, Platform};

/// Symlink expansions allowed while resolving one path (Linux uses 40).
const MAX_SYMLINKS: u32 = 32;

/// Files in the workspace that the host reads as its own: the policy, whose
/// `host` section widens the sandbox, and the usage ledger that token budgets
/// are counted from. A model steered by a fetched page must not be able to
/// rewrite its own limits for the next run, so the write tools refuse them
/// (after symlinks are expanded, so no link reaches them either).
const HOST_FILES: [&str; 2] = ["wasiclaw.json", "usage.jsonl"];

/// The agent's own state, which it writes itself: the sessions (a turn's
/// history is saved there at its end) and the memory store's files (written
/// by memory_save). A tool that rewrote them would destroy the history.
const AGENT_FILES: [&str; 4] = ["sessions", memory::ENTRIES, memory::INDEX, memory::META];

/// [`resolve`] for a tool that writes: the host's files and the agent's own
/// state are refused, and so is anything below them (a directory made in
/// their place would break them as surely). Letter case is ignored, as the
/// workspace may sit on a case-insensitive filesystem.
pub fn resolve_writable<P: Platform>(p: &P, input: &str) -> Result<String, ToolError> {
    let rel = resolve(p, input)?;
    let hit = |owned: &[&str]| owned.iter().any(|o| under(&rel, o));
    let whose = if hit(&HOST_FILES) {
        "the host (its policy and usage ledger)"
    } else if hit(&AGENT_FILES) || rel.eq_ignore_ascii_case(memory::DIR) {
        "the agent (its sessions and memory store, which it saves itself)"
    } else {
        return Ok(rel);
    };
    Err(ToolError::Denied(cat(&[
        "`",
        &rel,
        "` belongs to ",
        whose,
        "; the tools may read it but not change it",
    ])))
}

/// Whether `rel` is `owned` or below it, ignoring ASCII case.
fn under(rel: &str, owned: &str) -> bool {
    let (r, o) = (rel.as_bytes(), owned.as_bytes());
    r.get(..o.len()).is_some_and(|h| h.eq_ignore_ascii_case(o))
        && r.get(o.len()).is_none_or(|&c| c == b'/')
}

/// Resolves a path as given by the model to a workspace-relative path (`""` is
/// the workspace root) with every existing symlink expanded.
pub fn resolve<P: Platform>(p: &P, input: &str) -> Result<String, ToolError> {
    if input.contains('\0') {
        return Err(ToolError::InvalidArguments(String::from(
            "field `path` contains a NUL character",
        )));
    }
    let rel = strip_mount(p.workspace_mount(), input).ok_or_else(|| {
        ToolError::Denied(cat(&[
            "`",
            input,
            "` is outside the workspace. Use a path relative to the workspace (e.g. notes/a.md) or one under ",
            mount_hint(p.workspace_mount()),
        ]))
    })?;
    // Pending components, innermost last so `pop` yields them in order.
    let mut todo: Vec<String> = Vec::new();
    push_reversed(&mut todo, rel);
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    // Once a component is missing nothing below it can be a symlink.
    let mut missing = false;
    while let Some(c) = todo.pop() {
        if c.is_empty() || c == "." {
            continue;
        }
        if c == ".." {
            if done.pop().is_none() {
                return Err(ToolError::Denied(cat(&[
                    "`",
                    input,
                    "` uses .. to leave the workspace; paths must stay inside it",
                ])));
            }
            // Back above the missing component, links count again.
            missing = false;
            continue;
        }
        done.push(c);
        if missing {
            continue;
        }
        let here = join(&done, "/");
        match p.stat(&here) {
            Ok(st) if st.kind == Kind::Symlink => {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(ToolError::Failed(cat(&[
                        "too many levels of symlinks while resolving `",
                        input,
                        "`",
                    ])));
                }
                // The target is never shown: outside the workspace it is a
                // host path (WAMR reads links verbatim), not the model's.
                let out_of_bounds = || {
                    ToolError::Denied(cat(&[
                        "`",
                        input,
                        "` leads out of the workspace through the symlink `",
                        &here,
                        "`",
                    ]))
                };
                let target = match p.readlink(&here) {
                    Ok(t) => t,
                    // Sandboxing hosts refuse to read links that point out of
                    // the preopen; that is exactly the case to report.
                    Err(FsError::Denied) => return Err(out_of_bounds()),
                    Err(e) => return Err(fs_error(e, &here)),
                };
                done.pop();
                let target_rel = if target.starts_with('/') {
                    done.clear();
                    strip_mount(p.workspace_mount(), &target).ok_or_else(out_of_bounds)?
                } else {
                    target.as_str()
                };
                // A `..` in the target is checked against the real parent,
                // which `done` holds since every symlink in it was expanded.
                let mut depth = done.len();
                for part in target_rel.split('/') {
                    match part {
                        "" | "." => {}
                        ".." if depth == 0 => return Err(out_of_bounds()),
                        ".." => depth -= 1,
                        _ => depth += 1,
                    }
                }
                push_reversed(&mut todo, target_rel);
            }
            Ok(_) => {}
            Err(FsError::NotFound) | Err(FsError::NotDirectory) => missing = true,
            Err(e) => return Err(fs_error(e, &here)),
        }
    }
    Ok(join(&done, "/"))
}

/// Pushes the components of `path` so that popping yields them in order.
fn push_reversed(todo: &mut Vec<String>, path: &str) {
    let start = todo.len();
    for part in path.split('/') {
        todo.push(String::from(part));
    }
    todo[start..].reverse();
}

/// The part of an absolute path below the workspace mount, or the path itself
/// when it is relative; `None` when it is absolute and outside.
fn strip_mount<'a>(mount: &str, path: &'a str) -> Option<&'a str> {
    if !path.starts_with('/') {
        return Some(path);
    }
    let mount = mount.trim_end_matches('/');
    if !mount.starts_with('/') {
        // The workspace has no absolute name (e.g. preopened as "."), so no
        // absolute path can name anything inside it.
        return if mount.is_empty() && path.starts_with('/') {
            Some(path)
        } else {
            None
        };
    }
    let rest = path.strip_prefix(mount)?;
    if rest.is_empty() || rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

fn mount_hint(mount: &str) -> &str {
    if mount.starts_with('/') {
        mount
    } else {
        "the workspace"
    }
}

/// The path as shown to the model: the workspace root is `.`.
pub fn display(rel: &str) -> &str {
    if rel.is_empty() {
        "."
    } else {
        rel
    }
}

/// Maps a platform error on `rel` to a message for the model.
pub fn fs_error(e: FsError, rel: &str) -> ToolError {
    let path = display(rel);
    match e {
        FsError::NotFound => ToolError::NotFound(cat(&["no such file or directory: ", path])),
        FsError::NotDirectory => ToolError::Failed(cat(&[
            path,
            ": a component of this path is a file, not a directory",
        ])),
        FsError::IsDirectory => ToolError::Failed(cat(&[path, " is a directory, not a file"])),
        FsError::AlreadyExists => ToolError::Failed(cat(&[path, " already exists"])),
        FsError::Denied => ToolError::Denied(cat(&["the host denied access to ", path])),
        FsError::Other(s) => ToolError::Failed(cat(&["I/O error on ", path, ": ", &s])),
    }
}

/// Splits `a/b/c` into (`a/b`, `c`); a top-level name has parent `""`.
pub fn split_parent(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (sub(rel, 0, i), tail(rel, i + 1)),
        None => ("", rel),
    }
}

pub fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        String::from(name)
    } else {
        cat(&[dir, "/", name])
    }
}
