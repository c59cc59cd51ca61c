//! The key layout of the key-value build (`dist/wasiclaw-kv.wasm`) in its
//! `wasi:keyvalue` bucket, written once: the agent writes sessions, the tools
//! write memory, and an operator (or a test) reads them with these names.
//!
//! `wasi:keyvalue@0.2.0-draft` has `increment` but no compare-and-swap, so
//! nothing here is ever read, changed and written back by two writers:
//! every record is written once under a key whose number came from
//! `increment`, and counters are only ever incremented. Two processes that
//! save at the same moment get different numbers and both records stay.
//!
//! | key | value |
//! | --- | --- |
//! | `session/NAME/seq` | counter: how many records were numbered |
//! | `session/NAME/N` | record N (1-based): the JSONL messages one turn added |
//! | `memory/seq` | counter: the highest memory id handed out |
//! | `memory/entry/ID` | one memory, the JSON line `memory/entries.jsonl` holds |
//! | `memory/index` | snapshot of the vector index (derived, rebuildable) |
//! | `memory/meta` | which embedder, dimensions and entry count it holds |
//!
//! NAME is a valid session name ([`crate::validate_session`]: no `/`), so
//! one session's keys never reach into another's.

/// The environment variable naming the bucket to open; the default is
/// [`DEFAULT_BUCKET`] (the only one `wasmtime serve -Skeyvalue` knows).
pub const BUCKET_ENV: &str = "WASICLAW_KV_BUCKET";
pub const DEFAULT_BUCKET: &str = "";

/// Session keys are `SESSION_PREFIX` + name + `/` + `seq` or a number.
pub const SESSION_PREFIX: &str = "session/";
pub const SEQ: &str = "seq";

pub const MEMORY_SEQ: &str = "memory/seq";
/// Memory entries are `MEMORY_ENTRY_PREFIX` + id.
pub const MEMORY_ENTRY_PREFIX: &str = "memory/entry/";
pub const MEMORY_INDEX: &str = "memory/index";
pub const MEMORY_META: &str = "memory/meta";

/// A counter above this is not believed: loading would read that many keys.
/// A session of 100,000 turns or as many memories is far past what one
/// prompt can hold, and a store that claims more is damaged or hostile.
pub const MAX_RECORDS: u64 = 100_000;
