//! Compiled-code cache: `Engine::precompile_component` output stored under
//! `$XDG_CACHE_HOME/wasiclaw` (or `~/.cache/wasiclaw`), keyed by a hash of the
//! module bytes, the wasmtime version and the engine's compilation settings,
//! so a second start deserializes instead of compiling.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// How the component was obtained, for diagnostics and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    /// Compiled and stored.
    Stored,
    /// Compiled; no cache directory was usable.
    Uncached,
}

pub fn default_dir() -> Option<PathBuf> {
    let from = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    from("XDG_CACHE_HOME")
        .or_else(|| from("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("wasiclaw"))
}

/// Feeds `Hash` output into SHA-256, making the engine's compatibility hash
/// stable across processes (std's `DefaultHasher` makes no such promise).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        0
    }
}

pub fn key(engine: &Engine, bytes: &[u8]) -> String {
    let mut h = ShaHasher(Sha256::new());
    h.0.update(b"wasiclaw-cache-v1\0");
    h.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.0.update(b"\0wasmtime-48.0.8\0");
    engine.precompile_compatibility_hash().hash(&mut h);
    h.0.update(Sha256::digest(bytes));
    h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn path_for(dir: &Path, engine: &Engine, bytes: &[u8]) -> PathBuf {
    dir.join(format!("{}.cwasm", key(engine, bytes)))
}

/// Loads the component from the cache, or compiles and stores it. A cache
/// entry that does not deserialize (truncated, other build) is replaced.
pub fn load(
    engine: &Engine,
    bytes: &[u8],
    dir: Option<&Path>,
) -> anyhow::Result<(Component, Outcome)> {
    let Some(dir) = dir else {
        return Ok((Component::new(engine, bytes)?, Outcome::Uncached));
    };
    let path = path_for(dir, engine, bytes);
    if path.is_file() {
        // SAFETY: the file is named by the hash of exactly these inputs and
        // was written by `store` below into the user's own cache directory;
        // wasmtime still checks its header for engine compatibility.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok((c, Outcome::Hit)),
            Err(e) => eprintln!(
                "wasiclaw: ignoring unusable cache entry {}: {e}",
                path.display()
            ),
        }
    }
    let compiled = engine.precompile_component(bytes)?;
    match store(&path, &compiled) {
        Ok(()) => {
            // SAFETY: as above; these bytes come from `precompile_component`.
            let c = unsafe { Component::deserialize(engine, &compiled)? };
            Ok((c, Outcome::Stored))
        }
        Err(e) => {
            eprintln!(
                "wasiclaw: cannot write compile cache {}: {e}",
                path.display()
            );
            // SAFETY: as above.
            let c = unsafe { Component::deserialize(engine, &compiled)? };
            Ok((c, Outcome::Uncached))
        }
    }
}

/// Temp file + rename: a crash never leaves a half-written entry in place.
fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
