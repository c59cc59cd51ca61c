//! A small JSON value type, parser and serializer.
//!
//! The components are composed into one module with a hard size budget, and
//! components share no code after composition: every copy of `serde_json`
//! (about 40 KB) would be paid once per component. This crate is the few
//! kilobytes the agent and tools actually need. Numbers keep their source text,
//! so integers round-trip exactly and float parsing is only linked where a
//! caller asks for `as_f64`.
#![no_std]
extern crate alloc;

mod parse;
pub mod text;
mod value;
mod write;

pub use parse::{parse, Error, MAX_DEPTH};
pub use value::{parse_u64, Map, Number, Value};
pub use write::{quote, write_escaped};

/// For [`cat!`]: the expansion names `String` through the crate, so callers
/// need no import of their own.
#[doc(hidden)]
pub use alloc::string::String as __String;

#[cfg(test)]
mod tests;
