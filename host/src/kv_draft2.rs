//! `wasi:keyvalue@0.2.0-draft2` on the same `--store` as crate::kv's
//! `0.2.0-draft`, so `wasiclaw serve` can run a module that imports only
//! draft2: the key-value build behind its draft2 adapter
//! (`dist/wasiclaw-kv-draft2.wasm`), as on Spin. draft2 adds compare-and-
//! swap: a `cas` handle remembers the value it saw, and `swap` writes only
//! if the key still holds it (a Lua script on Redis, atomic there; the
//! map's lock in memory). The WIT is `components/kv-draft2/wit/keyvalue-draft2`.

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use crate::kv::{KvError, Store};

mod generated {
    wasmtime::component::bindgen!({
        path: "../components/kv-draft2/wit/keyvalue-draft2",
        world: "wasi:keyvalue/imports@0.2.0-draft2",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
            "wasi:keyvalue/atomics.cas": super::Cas,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => crate::kv::KvError,
        },
    });
}

use generated::wasi::keyvalue::{atomics, batch, store as wit};

/// An open draft2 bucket.
pub struct Bucket {
    store: Store,
}

/// A compare-and-swap handle: the key and the value it held when the
/// handle was made (`None`: absent).
pub struct Cas {
    store: Store,
    key: String,
    seen: Option<Vec<u8>>,
}

/// The draft2 imports' view of one request's state.
pub struct View<'a> {
    pub table: &'a mut ResourceTable,
    pub store: Option<&'a Store>,
}

struct HasView;

impl HasData for HasView {
    type Data<'a> = View<'a>;
}

impl View<'_> {
    fn bucket(&self, b: &Resource<Bucket>) -> Result<Store, KvError> {
        Ok(self.table.get(b)?.store.clone())
    }
}

impl wit::Host for View<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, KvError> {
        let Some(store) = self.store else {
            return Err(KvError::Other(crate::kv::NO_STORE.into()));
        };
        // Spin's name for its default store, and the draft's "".
        if !(identifier.is_empty() || identifier == "default") {
            return Err(KvError::NoSuchStore);
        }
        let store = store.clone();
        Ok(self.table.push(Bucket { store })?)
    }

    fn convert_error(&mut self, err: KvError) -> wasmtime::Result<wit::Error> {
        Ok(match err {
            KvError::NoSuchStore => wit::Error::NoSuchStore,
            KvError::AccessDenied => wit::Error::AccessDenied,
            KvError::Other(m) => wit::Error::Other(m),
        })
    }
}

impl wit::HostBucket for View<'_> {
    async fn get(&mut self, b: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, KvError> {
        self.bucket(&b)?.get(&key).await
    }

    async fn set(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        self.bucket(&b)?.set(&key, &value).await
    }

    async fn delete(&mut self, b: Resource<Bucket>, key: String) -> Result<(), KvError> {
        self.bucket(&b)?.delete(&key).await
    }

    async fn exists(&mut self, b: Resource<Bucket>, key: String) -> Result<bool, KvError> {
        self.bucket(&b)?.exists(&key).await
    }

    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        cursor: Option<String>,
    ) -> Result<wit::KeyResponse, KvError> {
        let cursor = match cursor {
            None => None,
            Some(c) => Some(
                c.parse::<u64>()
                    .map_err(|_| KvError::Other(format!("not a cursor of this store: {c:?}")))?,
            ),
        };
        let (keys, next) = self.bucket(&b)?.list_keys(cursor).await?;
        Ok(wit::KeyResponse {
            keys,
            cursor: next.map(|n| n.to_string()),
        })
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for View<'_> {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, KvError> {
        self.bucket(&b)?.increment_signed(&key, delta).await
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let c = self.table.delete(cas)?;
        match c.store.swap(&c.key, c.seen.as_deref(), &value).await {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // The value moved on: a fresh handle on the current value
                // lets the caller retry.
                let seen = match c.store.get(&c.key).await {
                    Ok(v) => v,
                    Err(e) => return Ok(Err(atomics::CasError::StoreError(self.convert(e)?))),
                };
                let fresh = self.table.push(Cas { seen, ..c })?;
                Ok(Err(atomics::CasError::CasFailed(fresh)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(self.convert(e)?))),
        }
    }
}

impl View<'_> {
    fn convert(&mut self, e: KvError) -> wasmtime::Result<wit::Error> {
        wit::Host::convert_error(self, e)
    }
}

impl atomics::HostCas for View<'_> {
    async fn new(&mut self, b: Resource<Bucket>, key: String) -> Result<Resource<Cas>, KvError> {
        let store = self.bucket(&b)?;
        let seen = store.get(&key).await?;
        Ok(self.table.push(Cas { store, key, seen })?)
    }

    async fn current(&mut self, cas: Resource<Cas>) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.table.get(&cas)?.seen.clone())
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for View<'_> {
    async fn get_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        self.bucket(&b)?.get_many(keys).await
    }

    async fn set_many(
        &mut self,
        b: Resource<Bucket>,
        kvs: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        self.bucket(&b)?.set_many(kvs).await
    }

    async fn delete_many(&mut self, b: Resource<Bucket>, keys: Vec<String>) -> Result<(), KvError> {
        self.bucket(&b)?.delete_many(keys).await
    }
}

/// Adds `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> View<'_>,
) -> anyhow::Result<()> {
    wit::add_to_linker::<T, HasView>(linker, view)?;
    atomics::add_to_linker::<T, HasView>(linker, view)?;
    batch::add_to_linker::<T, HasView>(linker, view)?;
    Ok(())
}
