//! [`Kv`] on `wasi:keyvalue@0.2.0-draft` for the key-value build: the
//! bucket named by `WASICLAW_KV_BUCKET` (default: the host's default
//! bucket, `""`), opened once per instance and kept, since a host may hand
//! each `open` its own view (wasmtime's in-memory store copies its data
//! into every bucket it opens).

use super::wasi::keyvalue::{atomics, store};
use crate::memstore::{Kv, KvError};
use crate::prelude::*;
use wasiclaw_contract::kv as keys;

pub struct WasiKv {
    /// The bucket, or why it could not be opened (reported on first use).
    bucket: Result<store::Bucket, KvError>,
}

fn error(e: store::Error) -> KvError {
    match e {
        store::Error::NoSuchStore => KvError::NoSuchStore,
        store::Error::AccessDenied => KvError::AccessDenied,
        store::Error::Other(m) => KvError::Other(m),
    }
}

impl WasiKv {
    pub fn open() -> WasiKv {
        let name = super::wasi::cli::environment::get_environment()
            .into_iter()
            .find(|(k, _)| k == keys::BUCKET_ENV)
            .map_or_else(|| String::from(keys::DEFAULT_BUCKET), |(_, v)| v);
        let bucket = store::open(&name).map_err(|e| match error(e) {
            KvError::NoSuchStore => KvError::Other(crate::error::cat(&[
                "the host has no key-value bucket '",
                &name,
                "'",
            ])),
            other => other,
        });
        WasiKv { bucket }
    }

    fn bucket(&self) -> Result<&store::Bucket, KvError> {
        self.bucket.as_ref().map_err(Clone::clone)
    }
}

impl Kv for WasiKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.bucket()?.get(key).map_err(error)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.bucket()?.set(key, value).map_err(error)
    }

    fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        atomics::increment(self.bucket()?, key, delta).map_err(error)
    }
}
