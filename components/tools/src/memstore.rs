//! Where long-term memory persists: the workspace files of `memory/` (the
//! default), or a `wasi:keyvalue` bucket when the platform offers one (the
//! key-value build, `dist/wasiclaw-kv.wasm`).
//!
//! In the bucket the draft interface has `increment` and no compare-and-
//! swap, so the texts are not one value that every save rewrites (two
//! instances saving at once would drop one memory) but one key per entry,
//! written once, whose id came from `increment` on `memory/seq`. The vector
//! snapshot and its description are derived: whoever saves last writes
//! them, and a snapshot that does not hold exactly the entries found is
//! rebuilt on load, as with the files. Key names: [`wasiclaw_contract::kv`].

use crate::prelude::*;

use wasiclaw_contract::kv as keys;

use crate::error::{cat, lossy, num, ToolError};
use crate::fsx::{mkdirs, read_all, write_atomic};
use crate::memory::{parse_entries, write_entry, Entry, DIR, ENTRIES, INDEX, META};
use crate::platform::{FsError, Platform};

/// Largest memory file loaded; far above any realistic note collection.
const MAX_FILE: u64 = 256 << 20;

/// A `wasi:keyvalue` error, as the interface reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The host knows no bucket of that name.
    NoSuchStore,
    /// The component may not use the bucket.
    AccessDenied,
    /// Anything else (I/O, a broken connection), in the host's words.
    Other(String),
}

/// One open bucket: the operations of `wasi:keyvalue/store` and `atomics`
/// the memory uses.
pub trait Kv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Adds `delta` to the counter at `key` (absent: 0) and returns the new
    /// value; `delta` 0 reads it, whatever way the host stores counters.
    fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError>;
}

fn kv_failed(key: &str, e: KvError) -> ToolError {
    let why = match e {
        KvError::NoSuchStore => String::from("no such key-value store"),
        KvError::AccessDenied => String::from("access to the key-value store denied"),
        KvError::Other(m) => m,
    };
    ToolError::Failed(cat(&["memory store ", key, ": ", &why]))
}

/// What a load saw, to tell later whether another writer saved since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    /// Files: the size of `entries.jsonl`. Bucket: the `memory/seq` counter.
    pub mark: u64,
    /// Bucket: ids numbered but not written when loaded (a save in flight,
    /// or one that died): when one appears, the memory is stale.
    pub holes: Vec<u64>,
}

/// The derived values next to the texts.
#[derive(Clone, Copy)]
pub enum Blob {
    /// The vector index snapshot.
    Index,
    /// Which embedder, how many dimensions and entries the snapshot holds.
    Meta,
}

/// The memory's backend, chosen by the platform.
pub enum Store<'a> {
    Files,
    Kv(&'a dyn Kv),
}

fn entry_key(id: u64) -> String {
    cat(&[keys::MEMORY_ENTRY_PREFIX, &num(id)])
}

impl<'a> Store<'a> {
    pub fn of<P: Platform>(p: &'a P) -> Store<'a> {
        match p.kv() {
            Some(kv) => Store::Kv(kv),
            None => Store::Files,
        }
    }

    /// Every saved entry, in id order for the bucket, file order otherwise.
    pub fn load_entries<P: Platform>(&self, p: &P) -> Result<(Vec<Entry>, Version), ToolError> {
        let kv = match self {
            Store::Files => {
                let Some(bytes) = read_opt(p, ENTRIES)? else {
                    return Ok((Vec::new(), Version::default()));
                };
                let mark = bytes.len() as u64;
                let entries = parse_entries(&lossy(bytes))?;
                return Ok((
                    entries,
                    Version {
                        mark,
                        holes: Vec::new(),
                    },
                ));
            }
            Store::Kv(kv) => *kv,
        };
        let n = counter(kv)?;
        let mut entries = Vec::new();
        let mut holes = Vec::new();
        for id in 1..=n {
            let key = entry_key(id);
            let Some(bytes) = kv.get(&key).map_err(|e| kv_failed(&key, e))? else {
                holes.push(id);
                continue;
            };
            let damaged = |why: &str| {
                ToolError::Failed(cat(&[
                    "memory store ",
                    &key,
                    " is damaged (",
                    why,
                    "); memory was left untouched",
                ]))
            };
            let mut one = parse_entries(&lossy(bytes)).map_err(|e| damaged(e.message()))?;
            match one.pop() {
                Some(e) if one.is_empty() && e.id == id => entries.push(e),
                _ => return Err(damaged("not exactly the entry of that id")),
            }
        }
        Ok((entries, Version { mark: n, holes }))
    }

    /// Whether another writer saved since `v` was seen. Errors count as
    /// stale: the reload then reports them.
    pub fn is_stale<P: Platform>(&self, p: &P, v: &Version) -> bool {
        match self {
            Store::Files => p.stat(ENTRIES).map_or(0, |s| s.size) != v.mark,
            Store::Kv(kv) => {
                !matches!(counter(*kv), Ok(n) if n == v.mark)
                    || v.holes
                        .iter()
                        .any(|&id| !matches!(kv.get(&entry_key(id)), Ok(None)))
            }
        }
    }

    /// The id of a new entry: one past the highest for the files (one
    /// writer at a time rewrites them), the next number of `memory/seq` in
    /// the bucket (unique even when instances save at the same moment).
    pub fn next_id(&self, entries: &[Entry]) -> Result<u64, ToolError> {
        match self {
            Store::Files => Ok(entries.iter().map(|e| e.id).max().unwrap_or(0) + 1),
            Store::Kv(kv) => kv
                .increment(keys::MEMORY_SEQ, 1)
                .map_err(|e| kv_failed(keys::MEMORY_SEQ, e)),
        }
    }

    /// Persists the texts after `all`'s last entry was added: the files
    /// are rewritten whole (write-temp-then-rename); the bucket gets the one
    /// new key. Returns the new version.
    pub fn save_entries<P: Platform>(
        &self,
        p: &P,
        all: &[Entry],
        seen: &Version,
    ) -> Result<Version, ToolError> {
        match self {
            Store::Files => {
                mkdirs(p, DIR)?;
                let mut jsonl = String::new();
                for e in all {
                    write_entry(e, &mut jsonl);
                    jsonl.push('\n');
                }
                write_atomic(p, ENTRIES, jsonl.as_bytes())?;
                Ok(Version {
                    mark: jsonl.len() as u64,
                    holes: Vec::new(),
                })
            }
            Store::Kv(kv) => {
                let Some(e) = all.last() else {
                    return Ok(seen.clone());
                };
                let mut line = String::new();
                write_entry(e, &mut line);
                let key = entry_key(e.id);
                kv.set(&key, line.as_bytes())
                    .map_err(|err| kv_failed(&key, err))?;
                // Ids between the last load and this one are other
                // instances' saves: the next call reloads to see them.
                let mut holes = seen.holes.clone();
                holes.extend(seen.mark + 1..e.id);
                Ok(Version {
                    mark: e.id.max(seen.mark),
                    holes,
                })
            }
        }
    }

    pub fn read<P: Platform>(&self, p: &P, which: Blob) -> Result<Option<Vec<u8>>, ToolError> {
        match (self, which) {
            (Store::Files, Blob::Index) => read_opt(p, INDEX),
            (Store::Files, Blob::Meta) => read_opt(p, META),
            (Store::Kv(kv), _) => {
                let key = blob_key(which);
                kv.get(key).map_err(|e| kv_failed(key, e))
            }
        }
    }

    pub fn write<P: Platform>(&self, p: &P, which: Blob, data: &[u8]) -> Result<(), ToolError> {
        match (self, which) {
            (Store::Files, Blob::Index) => {
                mkdirs(p, DIR).and_then(|()| write_atomic(p, INDEX, data))
            }
            (Store::Files, Blob::Meta) => mkdirs(p, DIR).and_then(|()| write_atomic(p, META, data)),
            (Store::Kv(kv), _) => {
                let key = blob_key(which);
                kv.set(key, data).map_err(|e| kv_failed(key, e))
            }
        }
    }
}

fn blob_key(which: Blob) -> &'static str {
    match which {
        Blob::Index => keys::MEMORY_INDEX,
        Blob::Meta => keys::MEMORY_META,
    }
}

/// `memory/seq`, refused above [`keys::MAX_RECORDS`] so that a damaged or
/// hostile store cannot make a load read billions of keys.
fn counter(kv: &dyn Kv) -> Result<u64, ToolError> {
    let n = kv
        .increment(keys::MEMORY_SEQ, 0)
        .map_err(|e| kv_failed(keys::MEMORY_SEQ, e))?;
    if n > keys::MAX_RECORDS {
        return Err(ToolError::Failed(cat(&[
            "memory store ",
            keys::MEMORY_SEQ,
            " says ",
            &num(n),
            " entries, more than the ",
            &num(keys::MAX_RECORDS),
            " memory may hold; the store is damaged",
        ])));
    }
    Ok(n)
}

fn read_opt<P: Platform>(p: &P, rel: &str) -> Result<Option<Vec<u8>>, ToolError> {
    match p.stat(rel) {
        Err(FsError::NotFound) => Ok(None),
        _ => read_all(p, rel, MAX_FILE).map(Some),
    }
}
