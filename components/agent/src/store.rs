//! The key-value storage seam: sessions in a `wasi:keyvalue` bucket instead
//! of workspace files, for hosts that give a component a key-value store and
//! no shared disk (the key-value build, `dist/wasiclaw-kv.wasm`).
//!
//! `wasi:keyvalue@0.2.0-draft` has `increment` and no compare-and-swap, so
//! a session is not one value rewritten by every turn (two instances would
//! overwrite each other) but an append-only log: a turn that ends takes the
//! next sequence number from `increment` and writes its messages, once,
//! under that number. Concurrent turns get different numbers and both
//! land, in the order they finished, as with the file backend's lock; there
//! is no lock to leave behind when an instance dies. A number whose record
//! is missing belongs to a turn still writing, or one that died between the
//! two calls (it was never acknowledged); loading skips it. The key names
//! are the contract's ([`wasiclaw_contract::kv`]).

use crate::prelude::*;

use wasiclaw_contract::kv as keys;

use crate::error::AgentError;
use crate::message::Message;
use crate::session;

/// Whether a build consults its [`Kv`] at all: only the key-value build
/// (feature `kv`) and native tests; the other components then carry none
/// of this module.
pub const ENABLED: bool = cfg!(any(feature = "kv", not(target_arch = "wasm32")));

/// A `wasi:keyvalue` error, as the interface reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvError {
    /// The host knows no bucket of that name.
    NoSuchStore,
    /// The component may not use the bucket.
    AccessDenied,
    /// Anything else (I/O, a broken connection), in the host's words.
    Other(String),
}

impl KvError {
    pub fn message(&self) -> String {
        match self {
            KvError::NoSuchStore => "no such key-value store".to_string(),
            KvError::AccessDenied => "access to the key-value store denied".to_string(),
            KvError::Other(m) => m.clone(),
        }
    }
}

/// One open bucket: the operations of `wasi:keyvalue/store` and `atomics`
/// the agent uses.
pub trait Kv {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Adds `delta` to the counter at `key` (absent: 0) and returns the new
    /// value; `delta` 0 reads it, whatever way the host stores counters.
    fn increment(&mut self, key: &str, delta: u64) -> Result<u64, KvError>;
}

/// `session/NAME/seq`.
pub fn seq_key(name: &str) -> String {
    cat!(keys::SESSION_PREFIX, name, "/", keys::SEQ)
}

/// `session/NAME/N`.
pub fn record_key(name: &str, n: u64) -> String {
    cat!(keys::SESSION_PREFIX, name, "/", n)
}

fn failed(what: &str, key: &str, e: &KvError) -> AgentError {
    AgentError::Session(cat!("cannot ", what, " ", key, ": ", e.message()))
}

/// Every message of the session, record by record in sequence order.
/// Missing records are skipped silently (a turn still saving, or one that
/// died before it was acknowledged), damaged lines with a warning, as in
/// the session file.
pub fn load(
    kv: &mut dyn Kv,
    name: &str,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Message>, AgentError> {
    let seq = seq_key(name);
    let n = kv
        .increment(&seq, 0)
        .map_err(|e| failed("read", &seq, &e))?;
    if n > keys::MAX_RECORDS {
        return Err(AgentError::Session(cat!(
            seq,
            " says ",
            n,
            " records, more than the ",
            keys::MAX_RECORDS,
            " a session may hold; the store is damaged"
        )));
    }
    let mut out = Vec::new();
    for i in 1..=n {
        let key = record_key(name, i);
        if let Some(bytes) = kv.get(&key).map_err(|e| failed("read", &key, &e))? {
            session::parse_lines(&bytes, &key, warn, &mut out);
        }
    }
    Ok(out)
}

/// Appends what this turn added as the session's next record. Nothing is
/// written for an empty turn. The number is taken first: if writing the
/// record then fails, the number stays unused and loading skips it.
pub fn append(kv: &mut dyn Kv, name: &str, new: &[Message]) -> Result<(), AgentError> {
    if new.is_empty() {
        return Ok(());
    }
    let seq = seq_key(name);
    let n = kv
        .increment(&seq, 1)
        .map_err(|e| failed("number a record in", &seq, &e))?;
    let key = record_key(name, n);
    kv.set(&key, &session::lines(new))
        .map_err(|e| failed("write", &key, &e))
}
