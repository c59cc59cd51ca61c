//! Memory in a key-value bucket: one key per entry numbered by `increment`,
//! instances that save at once both kept, a stale snapshot rebuilt, holes
//! and damage, and nothing written to the workspace.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::*;
use crate::memstore::{Kv, KvError};

/// An in-memory bucket whose counters are decimal text, as wasmtime's and
/// Redis's are.
#[derive(Default)]
pub struct MemKv {
    pub data: RefCell<HashMap<String, Vec<u8>>>,
}

impl Kv for MemKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.data.borrow().get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.data.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }

    fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        let mut d = self.data.borrow_mut();
        let v = d.entry(key.into()).or_insert(b"0".to_vec());
        let n: u64 = std::str::from_utf8(v)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| KvError::Other("not a counter".into()))?;
        *v = (n + delta).to_string().into_bytes();
        Ok(n + delta)
    }
}

fn on(dir: &TempDir, kv: &Rc<MemKv>) -> TestBox {
    let mut p = TestPlatform::new(&dir.ws());
    p.kv = Some(kv.clone());
    toolbox_with(p)
}

fn keys(kv: &MemKv) -> Vec<String> {
    let mut k: Vec<String> = kv.data.borrow().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn entries_go_to_their_own_keys_and_not_to_the_workspace() {
    let dir = TempDir::new();
    let kv = Rc::new(MemKv::default());
    let mut tb = on(&dir, &kv);
    assert_eq!(
        ok(
            &mut tb,
            "memory_save",
            r#"{"text":"The user drinks dark roast coffee","tags":["pref"]}"#
        ),
        "Saved memory #1 (tags: pref)"
    );
    ok(
        &mut tb,
        "memory_save",
        r#"{"text":"Falcon ships on Friday"}"#,
    );
    assert_eq!(
        keys(&kv),
        [
            "memory/entry/1",
            "memory/entry/2",
            "memory/index",
            "memory/meta",
            "memory/seq"
        ]
    );
    assert!(!dir.ws().join("memory").exists());
    let one = String::from_utf8(kv.get("memory/entry/1").unwrap().unwrap()).unwrap();
    assert!(
        one.starts_with("{\"id\":1,\"text\":\"The user drinks dark roast coffee\""),
        "{one}"
    );
    // A fresh instance (another process) finds them through the snapshot.
    let mut other = on(&dir, &kv);
    let found = ok(
        &mut other,
        "memory_search",
        r#"{"query":"what coffee?","k":1}"#,
    );
    assert!(
        found.contains("dark roast") && !found.contains("rebuilt"),
        "{found}"
    );
}

/// Two instances that loaded the same memory save at once: both entries
/// stay (distinct ids from `increment`), each instance sees the other's on
/// its next call, and the snapshot written last, which lacks one of them,
/// is rebuilt by the next loader.
#[test]
fn instances_saving_at_once_keep_both_entries() {
    let dir = TempDir::new();
    let kv = Rc::new(MemKv::default());
    let mut a = on(&dir, &kv);
    let mut b = on(&dir, &kv);
    ok(&mut a, "memory_search", r#"{"query":"x"}"#);
    ok(&mut b, "memory_search", r#"{"query":"x"}"#);
    assert_eq!(
        ok(&mut a, "memory_save", r#"{"text":"Anna likes tulips"}"#),
        "Saved memory #1"
    );
    assert_eq!(
        ok(&mut b, "memory_save", r#"{"text":"Ben plays the cello"}"#),
        "Saved memory #2"
    );
    let from_a = ok(&mut a, "memory_search", r#"{"query":"cello"}"#);
    assert!(from_a.contains("Ben plays the cello"), "{from_a}");
    let mut c = on(&dir, &kv);
    let from_c = ok(&mut c, "memory_search", r#"{"query":"tulips","k":2}"#);
    assert!(
        from_c.contains("Anna likes tulips") && from_c.contains("Ben plays"),
        "{from_c}"
    );
}

/// An id numbered whose entry never came (a save that died) is skipped; if
/// the entry turns up later (a save still in flight), loaders see it.
#[test]
fn a_hole_is_skipped_until_its_entry_arrives() {
    let dir = TempDir::new();
    let kv = Rc::new(MemKv::default());
    let mut a = on(&dir, &kv);
    ok(
        &mut a,
        "memory_save",
        r#"{"text":"first note about herons"}"#,
    );
    kv.increment("memory/seq", 1).unwrap();
    let mut b = on(&dir, &kv);
    let before = ok(&mut b, "memory_search", r#"{"query":"herons"}"#);
    assert!(before.contains("first note"), "{before}");
    let late = "{\"id\":2,\"text\":\"late note about herons\",\"tags\":[],\"saved_at\":\"2026-01-01T00:00:00Z\"}";
    kv.set("memory/entry/2", late.as_bytes()).unwrap();
    let after = ok(&mut b, "memory_search", r#"{"query":"herons","k":5}"#);
    assert!(after.contains("late note"), "{after}");
    assert_eq!(
        ok(&mut b, "memory_save", r#"{"text":"third"}"#),
        "Saved memory #3"
    );
}

#[test]
fn damage_and_hostile_counters_are_clear_errors() {
    let dir = TempDir::new();
    let kv = Rc::new(MemKv::default());
    kv.set("memory/seq", b"1").unwrap();
    kv.set("memory/entry/1", b"{\"id\":7,\"text\":\"wrong id\"}")
        .unwrap();
    let e = err(&mut on(&dir, &kv), "memory_search", r#"{"query":"x"}"#);
    assert!(e.message().contains("memory/entry/1 is damaged"), "{e:?}");
    kv.set("memory/entry/1", b"{not json").unwrap();
    let e = err(&mut on(&dir, &kv), "memory_search", r#"{"query":"x"}"#);
    assert!(e.message().contains("memory/entry/1 is damaged"), "{e:?}");
    kv.set("memory/seq", b"18446744073709551615").unwrap();
    let e = err(&mut on(&dir, &kv), "memory_save", r#"{"text":"x y"}"#);
    assert!(e.message().contains("the store is damaged"), "{e:?}");
}
