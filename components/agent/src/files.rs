//! The workspace file seam. Paths are relative to the workspace and use `/`.
//! The component implements it on the preopened `wasi:filesystem`
//! descriptor directly (std's file layer costs ~10 KB of the size budget);
//! [`StdFiles`] implements it on a native directory for tests and hosts.

use crate::prelude::*;

pub trait Files {
    /// The file's bytes, or `None` when it does not exist.
    fn read(&mut self, path: &str) -> Result<Option<Vec<u8>>, String>;
    /// Creates a directory; an existing one is fine.
    fn create_dir(&mut self, path: &str) -> Result<(), String>;
    /// Creates or truncates `path`, writes `data` and syncs it to storage.
    fn write(&mut self, path: &str, data: &[u8]) -> Result<(), String>;
    /// Creates `path` empty if nothing is there; `Ok(false)` if something
    /// is. Atomic, so it can serve as a lock between processes.
    fn create_new(&mut self, path: &str) -> Result<bool, String>;
    /// Replaces `to` with `from` atomically.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), String>;
    fn remove(&mut self, path: &str) -> Result<(), String>;
    /// The names in directory `path`, in no particular order; a missing
    /// directory is empty.
    /// Skills are discovered with it (`skills/*/SKILL.md`).
    fn list(&mut self, path: &str) -> Result<Vec<String>, String>;
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::StdFiles;

/// Natively (std is there); the WAMR module has its own on preview 1.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::io::{ErrorKind, Write};
    use std::path::PathBuf;

    use super::Files;

    /// [`Files`] on a native directory.
    pub struct StdFiles {
        pub root: PathBuf,
    }

    impl Files for StdFiles {
        fn read(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
            match std::fs::read(self.root.join(path)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        }

        fn create_dir(&mut self, path: &str) -> Result<(), String> {
            std::fs::create_dir_all(self.root.join(path)).map_err(|e| e.to_string())
        }

        fn write(&mut self, path: &str, data: &[u8]) -> Result<(), String> {
            let mut f = std::fs::File::create(self.root.join(path)).map_err(|e| e.to_string())?;
            f.write_all(data).map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| e.to_string())
        }

        fn create_new(&mut self, path: &str) -> Result<bool, String> {
            let open = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.root.join(path));
            match open {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        }

        fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
            std::fs::rename(self.root.join(from), self.root.join(to)).map_err(|e| e.to_string())
        }

        fn remove(&mut self, path: &str) -> Result<(), String> {
            std::fs::remove_file(self.root.join(path)).map_err(|e| e.to_string())
        }

        fn list(&mut self, path: &str) -> Result<Vec<String>, String> {
            let dir = match std::fs::read_dir(self.root.join(path)) {
                Ok(d) => d,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e.to_string()),
            };
            let mut names = Vec::new();
            for entry in dir {
                let entry = entry.map_err(|e| e.to_string())?;
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
            Ok(names)
        }
    }
}
