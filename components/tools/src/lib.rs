//! wasiclaw tools component: workspace file tools, `web_fetch` and long-term
//! memory, exported as the `wasiclaw:core/tools` interface.
//!
//! All logic is plain Rust over the [`Platform`] and [`Vectors`] seams so it is
//! unit-tested natively; `shim` (wasm32-unknown-unknown only) implements those
//! seams with wasi:filesystem, wasi:http, wasi:cli/environment,
//! wasi:clocks/wall-clock and the imported vector kernel.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

/// `alloc` names for modules that must also build without std (the component).
mod prelude {
    pub use alloc::string::String;
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

mod args;
mod embed;
pub mod error;
mod files;
mod fsx;
pub mod html;
mod memory;
pub mod memstore;
pub mod paths;
pub mod platform;
mod search;
pub mod specs;
mod time;
mod url;
mod web;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod shim;

#[cfg(test)]
mod tests;

pub use embed::{local_embed, Embedder, LOCAL_DIMS, LOCAL_ID};
pub use error::ToolError;
pub use memstore::{Kv, KvError};
pub use platform::{Platform, VectorIndex, Vectors};
pub use specs::{Spec, SPECS};

use error::cat;
use memory::Memory;
use prelude::*;

/// One tools instance: the platform, the vector backend and the memory it
/// loads lazily on the first memory call and keeps for its lifetime.
pub struct Toolbox<P: Platform, V: Vectors> {
    platform: P,
    vectors: V,
    memory: Option<Memory<V::Index>>,
}

impl<P: Platform, V: Vectors> Toolbox<P, V> {
    pub fn new(platform: P, vectors: V) -> Self {
        Toolbox {
            platform,
            vectors,
            memory: None,
        }
    }

    pub fn specs(&self) -> &'static [Spec] {
        SPECS
    }

    /// Runs the tool `name` with its JSON `arguments`.
    pub fn call(&mut self, name: &str, arguments: &str) -> Result<String, ToolError> {
        let p = &self.platform;
        let run = match name {
            "read_file" => files::read_file,
            "write_file" => files::write_file,
            "edit_file" => files::edit_file,
            "list_dir" => files::list_dir,
            "search_files" => search::search_files,
            "web_fetch" => web::web_fetch,
            "memory_save" | "memory_search" => return self.memory_call(name, arguments),
            _ => return Err(unknown(name)),
        };
        run(p, &args::parse_object(arguments)?)
    }

    fn memory_call(&mut self, name: &str, arguments: &str) -> Result<String, ToolError> {
        let m = args::parse_object(arguments)?;
        let (p, v) = (&self.platform, &self.vectors);
        let mem = match &mut self.memory {
            Some(mem) if !mem.is_stale(p) => mem,
            slot => slot.insert(Memory::load(p, v)?),
        };
        if name == "memory_search" {
            return mem.search(p, &m);
        }
        let r = mem.save(p, v, &m);
        if r.is_err() {
            // A failed save may have got part-way; the files on disk are
            // consistent, so reload from them on the next call.
            self.memory = None;
        }
        r
    }
}

fn unknown(name: &str) -> ToolError {
    let mut names = String::new();
    for (i, s) in SPECS.iter().enumerate() {
        if i > 0 {
            names.push_str(", ");
        }
        names.push_str(s.name);
    }
    ToolError::UnknownTool(cat(&[
        "there is no tool named `",
        name,
        "`; the tools are: ",
        &names,
    ]))
}
