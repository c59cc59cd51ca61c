//! The draft2 adapter: a tiny component that exports the
//! `wasi:keyvalue@0.2.0-draft` interfaces the key-value build imports
//! (`store`, `atomics`) on top of an imported `wasi:keyvalue@0.2.0-draft2`,
//! so that the same build runs on hosts that only offer draft2 (Spin's
//! key-value stores). Composed in front of the build with
//! `components/wasiclaw-kv-draft2.wac`.
//!
//! What differs between the drafts, and how it is bridged:
//! - `atomics.increment` takes and returns `s64` in draft2 (`u64` in the
//!   draft): a delta above `i64::MAX` or a negative result is an error.
//! - `list-keys` cursors are strings in draft2 (`u64` in the draft): the
//!   bucket keeps the strings it was handed and gives out their positions.
//! - The draft's default bucket `""` is opened as draft2's `default`, the
//!   name Spin gives its default store; any other name passes unchanged.
//! - draft2's compare-and-swap is not needed: the build never reads,
//!   changes and writes back a value (docs/keyvalue.md).

#![no_std]

extern crate alloc;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod adapter;
