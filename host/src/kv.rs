//! `wasi:keyvalue@0.2.0-draft` for `wasiclaw serve --store`, so the
//! key-value build (`dist/wasiclaw-kv.wasm`) keeps its sessions and memory
//! in a store that outlives a request and is shared by every process
//! pointed at it:
//!
//! - `--store memory`: one map in this process (tests, a single instance);
//! - `--store redis://HOST:PORT/DB`: a Redis database, so several
//!   `wasiclaw serve` processes serve one session interchangeably.
//!
//! The guest's only bucket is the default one (`""`). Counters are Redis's
//! own (`INCRBY`, decimal text), so `increment` is atomic across processes;
//! the guest needs nothing more (docs/keyvalue.md). Every Redis call is
//! bounded by [`OP_TIMEOUT`]: a stalled server fails the call, not the host.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => super::KvError,
        },
    });
}

use generated::wasi::keyvalue::{atomics, batch, store as wit};

/// `KEYS[1]` still absent (`ARGV[1]` 0) or equal to `ARGV[2]` (`ARGV[1]`
/// 1): set it to `ARGV[3]` and answer 1; otherwise 0.
const SWAP_SCRIPT: &str = "local v = redis.call('GET', KEYS[1]) \
if (ARGV[1] == '0' and v == false) or (ARGV[1] == '1' and v == ARGV[2]) then \
redis.call('SET', KEYS[1], ARGV[3]) return 1 end return 0";

/// What `open` says on a host started without `--store`.
pub(crate) const NO_STORE: &str =
    "this host has no key-value store: start wasiclaw serve with --store memory or --store redis://HOST:PORT/DB";

/// How long one store operation may take, connecting included.
pub const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys per `list-keys` page.
const PAGE: usize = 1000;

/// A failed store operation, as the guest will see it.
#[derive(Debug)]
pub enum KvError {
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl From<wasmtime::component::ResourceTableError> for KvError {
    fn from(e: wasmtime::component::ResourceTableError) -> Self {
        KvError::Other(e.to_string())
    }
}

impl From<redis::RedisError> for KvError {
    fn from(e: redis::RedisError) -> Self {
        KvError::Other(format!("redis: {e}"))
    }
}

/// Where `--store` keeps the data. Cloning shares it.
#[derive(Clone)]
pub enum Store {
    Memory(Arc<Mutex<BTreeMap<String, Vec<u8>>>>),
    Redis(ConnectionManager),
}

/// Why `--store` could not be used.
#[derive(Debug)]
pub enum StoreError {
    /// Neither `memory` nor a `redis://` URL.
    Spec(String),
    /// Redis did not answer within [`OP_TIMEOUT`] or refused.
    Connect(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Spec(s) => write!(
                f,
                "--store {s:?}: expected `memory` or `redis://HOST:PORT/DB`"
            ),
            StoreError::Connect(e) => write!(f, "--store: cannot reach redis: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl Store {
    /// Opens `memory` or `redis://…` (also `rediss://`, `redis+unix://`),
    /// checking a Redis store with a PING so a wrong URL fails at start.
    pub async fn open(spec: &str) -> Result<Store, StoreError> {
        if spec == "memory" {
            return Ok(Store::Memory(Arc::default()));
        }
        if !(spec.starts_with("redis://")
            || spec.starts_with("rediss://")
            || spec.starts_with("redis+unix://"))
        {
            return Err(StoreError::Spec(spec.to_string()));
        }
        let client =
            redis::Client::open(spec).map_err(|e| StoreError::Spec(format!("{spec}: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(2);
        let connect = ConnectionManager::new_with_config(client, config);
        let mut conn = tokio::time::timeout(OP_TIMEOUT, connect)
            .await
            .map_err(|_| StoreError::Connect("timed out".into()))?
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let pong: String =
            tokio::time::timeout(OP_TIMEOUT, redis::cmd("PING").query_async(&mut conn))
                .await
                .map_err(|_| StoreError::Connect("PING timed out".into()))?
                .map_err(|e| StoreError::Connect(e.to_string()))?;
        if pong != "PONG" {
            return Err(StoreError::Connect(format!("PING answered {pong:?}")));
        }
        Ok(Store::Redis(conn))
    }

    fn memory(
        m: &Mutex<BTreeMap<String, Vec<u8>>>,
    ) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match self {
            Store::Memory(m) => Ok(Self::memory(m).get(key).cloned()),
            Store::Redis(c) => bounded(c.clone().get(key)).await,
        }
    }

    pub(crate) async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        match self {
            Store::Memory(m) => {
                Self::memory(m).insert(key.to_string(), value.to_vec());
                Ok(())
            }
            Store::Redis(c) => bounded(c.clone().set(key, value)).await,
        }
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), KvError> {
        match self {
            Store::Memory(m) => {
                Self::memory(m).remove(key);
                Ok(())
            }
            Store::Redis(c) => bounded(c.clone().del::<_, ()>(key)).await,
        }
    }

    /// `batch.get-many` of both drafts: the keys that exist, in order.
    pub(crate) async fn get_many(
        &self,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let v = self.get(&key).await?;
            out.push(v.map(|v| (key, v)));
        }
        Ok(out)
    }

    /// `batch.set-many` of both drafts (not atomic: neither draft asks it).
    pub(crate) async fn set_many(&self, kvs: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        for (k, v) in kvs {
            self.set(&k, &v).await?;
        }
        Ok(())
    }

    /// `batch.delete-many` of both drafts.
    pub(crate) async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        for k in keys {
            self.delete(&k).await?;
        }
        Ok(())
    }

    pub(crate) async fn exists(&self, key: &str) -> Result<bool, KvError> {
        match self {
            Store::Memory(m) => Ok(Self::memory(m).contains_key(key)),
            Store::Redis(c) => bounded(c.clone().exists(key)).await,
        }
    }

    /// The draft's unsigned increment (see [`Store::increment_signed`]).
    async fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        let delta = i64::try_from(delta)
            .map_err(|_| KvError::Other(format!("increment by {delta}: above {}", i64::MAX)))?;
        let n = self.increment_signed(key, delta).await?;
        u64::try_from(n).map_err(|_| KvError::Other(format!("{key} is negative ({n})")))
    }

    /// Atomic across every process on the store: Redis's `INCRBY`, or the
    /// map under its lock. Counters are decimal text in both.
    pub(crate) async fn increment_signed(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        Ok(match self {
            Store::Memory(m) => {
                let mut map = Self::memory(m);
                let v = map.entry(key.to_string()).or_insert_with(|| b"0".to_vec());
                let now: i64 = std::str::from_utf8(v)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| KvError::Other(format!("{key} is not a counter")))?;
                let n = now
                    .checked_add(delta)
                    .ok_or_else(|| KvError::Other(format!("{key} would overflow")))?;
                *v = n.to_string().into_bytes();
                n
            }
            Store::Redis(c) => bounded(c.clone().incr(key, delta)).await?,
        })
    }

    /// Writes `value` if `key` still holds `seen` (`None`: absent), in one
    /// atomic step; `Ok(false)` if it does not.
    pub(crate) async fn swap(
        &self,
        key: &str,
        seen: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, KvError> {
        match self {
            Store::Memory(m) => {
                let mut map = Self::memory(m);
                if map.get(key).map(Vec::as_slice) != seen {
                    return Ok(false);
                }
                map.insert(key.to_string(), value.to_vec());
                Ok(true)
            }
            Store::Redis(c) => {
                // Compare and set inside Redis: a script runs atomically,
                // and needs no WATCH on a connection of its own.
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(SWAP_SCRIPT)
                    .arg(1)
                    .arg(key)
                    .arg(if seen.is_some() { "1" } else { "0" })
                    .arg(seen.unwrap_or_default())
                    .arg(value);
                let done: i64 = bounded(cmd.query_async(&mut c.clone())).await?;
                Ok(done == 1)
            }
        }
    }

    /// One page of keys; the cursor is an offset (memory) or Redis's SCAN
    /// cursor, `None` when the listing is complete.
    pub(crate) async fn list_keys(
        &self,
        cursor: Option<u64>,
    ) -> Result<(Vec<String>, Option<u64>), KvError> {
        match self {
            Store::Memory(m) => {
                let map = Self::memory(m);
                let from = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
                let keys: Vec<String> = map.keys().skip(from).take(PAGE).cloned().collect();
                let next = from.saturating_add(keys.len());
                let more = next < map.len();
                Ok((keys, more.then_some(next as u64)))
            }
            Store::Redis(c) => {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor.unwrap_or(0)).arg("COUNT").arg(PAGE);
                let (next, keys): (u64, Vec<String>) =
                    bounded(cmd.query_async(&mut c.clone())).await?;
                Ok((keys, (next != 0).then_some(next)))
            }
        }
    }
}

async fn bounded<T>(
    op: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, KvError> {
    match tokio::time::timeout(OP_TIMEOUT, op).await {
        Ok(r) => r.map_err(KvError::from),
        Err(_) => Err(KvError::Other(format!(
            "redis did not answer within {} s",
            OP_TIMEOUT.as_secs()
        ))),
    }
}

/// An open bucket: the store it reads and writes.
pub struct Bucket {
    store: Store,
}

/// The keyvalue imports' view of one request's state.
pub struct KvView<'a> {
    pub table: &'a mut ResourceTable,
    /// `None`: the host was started without `--store`.
    pub store: Option<&'a Store>,
}

struct HasKv;

impl HasData for HasKv {
    type Data<'a> = KvView<'a>;
}

impl KvView<'_> {
    fn bucket(&self, b: &Resource<Bucket>) -> Result<Store, KvError> {
        Ok(self.table.get(b)?.store.clone())
    }
}

impl wit::Host for KvView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, KvError> {
        let Some(store) = self.store else {
            return Err(KvError::Other(NO_STORE.into()));
        };
        if !identifier.is_empty() {
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

impl wit::HostBucket for KvView<'_> {
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
        cursor: Option<u64>,
    ) -> Result<wit::KeyResponse, KvError> {
        let (keys, cursor) = self.bucket(&b)?.list_keys(cursor).await?;
        Ok(wit::KeyResponse { keys, cursor })
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, KvError> {
        self.bucket(&b)?.increment(&key, delta).await
    }
}

impl batch::Host for KvView<'_> {
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

/// Adds `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> anyhow::Result<()> {
    wit::add_to_linker::<T, HasKv>(linker, view)?;
    atomics::add_to_linker::<T, HasKv>(linker, view)?;
    batch::add_to_linker::<T, HasKv>(linker, view)?;
    Ok(())
}

/// Whether `component` imports any `wasi:keyvalue` interface (the host then
/// needs `--store`).
pub fn imports_keyvalue(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> bool {
    component
        .component_type()
        .imports(engine)
        .any(|(name, _)| name.starts_with("wasi:keyvalue/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_counters_pages_and_errors() {
        let s = Store::open("memory").await.expect("memory store");
        assert_eq!(s.increment("c", 0).await.ok(), Some(0));
        assert_eq!(s.increment("c", 5).await.ok(), Some(5));
        assert_eq!(s.get("c").await.ok().flatten(), Some(b"5".to_vec()));
        assert!(s.increment("c", u64::MAX).await.is_err(), "above i64");
        s.set("text", b"hello").await.expect("set");
        assert!(
            matches!(s.increment("text", 1).await, Err(KvError::Other(m)) if m.contains("not a counter"))
        );
        for i in 0..2500 {
            s.set(&format!("k{i:04}"), b"").await.expect("set");
        }
        let mut seen = 0;
        let mut cursor = None;
        loop {
            let (keys, next) = s.list_keys(cursor).await.expect("list");
            seen += keys.len();
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, 2502);
        s.delete("text").await.expect("delete");
        assert!(!s.exists("text").await.expect("exists"));
    }

    /// draft2's compare-and-swap on both stores: a swap writes only over
    /// the value it expects (absence included), on Redis through the script.
    #[tokio::test]
    async fn swap_compares_then_sets_on_memory_and_redis() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir =
            std::env::temp_dir().join(format!("wasiclaw-kv-swap-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut redis = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is required (scripts/setup installs it)");
        let url = format!("redis://127.0.0.1:{port}/0");
        let mut on_redis = None;
        for _ in 0..100 {
            if let Ok(s) = Store::open(&url).await {
                on_redis = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stores = [
            Store::open("memory").await.expect("memory"),
            on_redis.expect("redis-server did not start"),
        ];
        for s in &stores {
            assert!(
                s.swap("k", None, b"one").await.expect("swap"),
                "absent as expected"
            );
            assert!(
                !s.swap("k", None, b"two").await.expect("swap"),
                "no longer absent"
            );
            assert!(!s.swap("k", Some(b"zero"), b"two").await.expect("swap"));
            assert!(s.swap("k", Some(b"one"), b"two").await.expect("swap"));
            assert_eq!(s.get("k").await.ok().flatten(), Some(b"two".to_vec()));
            assert_eq!(s.increment_signed("n", -3).await.ok(), Some(-3));
            assert!(
                s.increment("n", 1).await.is_err(),
                "a negative counter is no u64"
            );
        }
        let _ = redis.kill();
        let _ = redis.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_bad_store_spec_is_refused_with_the_forms_it_takes() {
        let e = Store::open("postgres://x")
            .await
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("redis://HOST:PORT/DB")));
        // Nothing listens on port 9 (discard): refused or timed out, bounded.
        let t0 = std::time::Instant::now();
        let e = Store::open("redis://127.0.0.1:9/0")
            .await
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("cannot reach redis")));
        assert!(t0.elapsed() < OP_TIMEOUT * 3);
    }
}
