//! The bindings and the bridge (wasm only).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

// The allocator and panic handler come from the guest crate.
use wasiclaw_guest as _;

wit_bindgen::generate!({
    inline: "package wasiclaw:kv-draft2;
        world adapter {
            import wasi:keyvalue/store@0.2.0-draft2;
            import wasi:keyvalue/atomics@0.2.0-draft2;
            export wasi:keyvalue/store@0.2.0-draft;
            export wasi:keyvalue/atomics@0.2.0-draft;
        }",
    path: ["../../wit/deps/keyvalue", "wit/keyvalue-draft2"],
    generate_all,
});

use exports::wasi::keyvalue0_2_0_draft::atomics as out_atomics;
use exports::wasi::keyvalue0_2_0_draft::store as out;
use wasi::keyvalue0_2_0_draft2::atomics as inner_atomics;
use wasi::keyvalue0_2_0_draft2::store as inner;

/// The bucket name draft2 hosts (Spin) give their default store.
const DEFAULT_STORE: &str = "default";

struct Component;

/// A draft bucket: the draft2 bucket it stands for, and the draft2
/// cursors handed out so far (the draft's cursor is an index into them).
struct Bucket {
    inner: inner::Bucket,
    cursors: RefCell<Vec<String>>,
}

fn error(e: inner::Error) -> out::Error {
    match e {
        inner::Error::NoSuchStore => out::Error::NoSuchStore,
        inner::Error::AccessDenied => out::Error::AccessDenied,
        inner::Error::Other(m) => out::Error::Other(m),
    }
}

impl out::Guest for Component {
    type Bucket = Bucket;

    fn open(identifier: String) -> Result<out::Bucket, out::Error> {
        let name = if identifier.is_empty() {
            DEFAULT_STORE
        } else {
            identifier.as_str()
        };
        let inner = inner::open(name).map_err(error)?;
        Ok(out::Bucket::new(Bucket {
            inner,
            cursors: RefCell::new(Vec::new()),
        }))
    }
}

impl out::GuestBucket for Bucket {
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, out::Error> {
        self.inner.get(&key).map_err(error)
    }

    fn set(&self, key: String, value: Vec<u8>) -> Result<(), out::Error> {
        self.inner.set(&key, &value).map_err(error)
    }

    fn delete(&self, key: String) -> Result<(), out::Error> {
        self.inner.delete(&key).map_err(error)
    }

    fn exists(&self, key: String) -> Result<bool, out::Error> {
        self.inner.exists(&key).map_err(error)
    }

    fn list_keys(&self, cursor: Option<u64>) -> Result<out::KeyResponse, out::Error> {
        let inner_cursor = match cursor {
            None => None,
            Some(n) => {
                let cursors = self.cursors.borrow();
                let at = usize::try_from(n).ok().and_then(|i| cursors.get(i));
                Some(
                    at.cloned()
                        .ok_or_else(|| out::Error::Other("unknown list-keys cursor".to_string()))?,
                )
            }
        };
        let r = self
            .inner
            .list_keys(inner_cursor.as_deref())
            .map_err(error)?;
        let cursor = r.cursor.map(|c| {
            let mut cursors = self.cursors.borrow_mut();
            cursors.push(c);
            (cursors.len() - 1) as u64
        });
        Ok(out::KeyResponse {
            keys: r.keys,
            cursor,
        })
    }
}

impl out_atomics::Guest for Component {
    fn increment(
        bucket: out::BucketBorrow<'_>,
        key: String,
        delta: u64,
    ) -> Result<u64, out::Error> {
        let b: &Bucket = bucket.get();
        let delta = i64::try_from(delta)
            .map_err(|_| out::Error::Other("increment: delta above 2^63-1".to_string()))?;
        let n = inner_atomics::increment(&b.inner, &key, delta).map_err(error)?;
        u64::try_from(n)
            .map_err(|_| out::Error::Other("increment: the counter is negative".to_string()))
    }
}

export!(Component);
