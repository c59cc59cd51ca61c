//! Workspace files and stdio straight on the WASI bindings. std's versions
//! work too but pull in wasi-libc's descriptor table, path resolution and
//! buffered stdio, which together cost more than this whole module.

use super::wasi::filesystem::types::{
    Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};
use crate::files::Files;
use crate::prelude::*;
#[cfg(not(feature = "http-edge"))]
use crate::stdio::Input;
use crate::stdio::Output;
use wasiclaw_guest::wasi::io::streams::OutputStream;
#[cfg(not(feature = "http-edge"))]
use wasiclaw_guest::wasi::io::streams::{InputStream, StreamError};

/// The preopened workspace directory, if there is one.
pub struct WasiFiles {
    pub dir: Option<Descriptor>,
}

const CHUNK: usize = 64 << 10;

fn describe(e: ErrorCode) -> String {
    use ErrorCode as E;
    match e {
        E::NoEntry => "not found",
        E::Access | E::NotPermitted => "permission denied",
        E::Exist => "already exists",
        E::IsDirectory => "is a directory",
        E::NotDirectory => "not a directory",
        E::InsufficientSpace | E::Quota => "no space left",
        E::ReadOnly => "read-only file system",
        E::NameTooLong => "name too long",
        E::Busy | E::WouldBlock => "busy",
        _ => "I/O error",
    }
    .to_string()
}

impl WasiFiles {
    fn dir(&self) -> Result<&Descriptor, String> {
        self.dir
            .as_ref()
            .ok_or_else(|| "no workspace directory".to_string())
    }

    fn open(
        &self,
        path: &str,
        open: OpenFlags,
        flags: DescriptorFlags,
    ) -> Result<Descriptor, ErrorCode> {
        match self.dir.as_ref() {
            Some(d) => d.open_at(PathFlags::empty(), path, open, flags),
            None => Err(ErrorCode::NoEntry),
        }
    }
}

impl Files for WasiFiles {
    fn read(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
        self.dir()?;
        let fd = match self.open(path, OpenFlags::empty(), DescriptorFlags::READ) {
            Ok(fd) => fd,
            Err(ErrorCode::NoEntry) => return Ok(None),
            Err(e) => return Err(describe(e)),
        };
        let mut out = Vec::new();
        loop {
            let (bytes, eof) = fd.read(CHUNK as u64, out.len() as u64).map_err(describe)?;
            out.extend_from_slice(&bytes);
            if eof || bytes.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    fn create_dir(&mut self, path: &str) -> Result<(), String> {
        match self.dir()?.create_directory_at(path) {
            Ok(()) | Err(ErrorCode::Exist) => Ok(()),
            Err(e) => Err(describe(e)),
        }
    }

    fn write(&mut self, path: &str, data: &[u8]) -> Result<(), String> {
        self.dir()?;
        let fd = self
            .open(
                path,
                OpenFlags::CREATE | OpenFlags::TRUNCATE,
                DescriptorFlags::WRITE,
            )
            .map_err(describe)?;
        let mut done = 0;
        while done < data.len() {
            let end = (done + CHUNK).min(data.len());
            let n = fd.write(&data[done..end], done as u64).map_err(describe)?;
            if n == 0 {
                return Err("write made no progress".into());
            }
            done += n as usize;
        }
        match fd.sync() {
            Ok(()) | Err(ErrorCode::Unsupported) => Ok(()),
            Err(e) => Err(describe(e)),
        }
    }

    fn create_new(&mut self, path: &str) -> Result<bool, String> {
        self.dir()?;
        match self.open(
            path,
            OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
            DescriptorFlags::WRITE,
        ) {
            Ok(_) => Ok(true),
            Err(ErrorCode::Exist) => Ok(false),
            Err(e) => Err(describe(e)),
        }
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        let d = self.dir()?;
        d.rename_at(from, d, to).map_err(describe)
    }

    fn remove(&mut self, path: &str) -> Result<(), String> {
        self.dir()?.unlink_file_at(path).map_err(describe)
    }

    fn list(&mut self, path: &str) -> Result<Vec<String>, String> {
        self.dir()?;
        let dir = match self.open(path, OpenFlags::DIRECTORY, DescriptorFlags::READ) {
            Ok(d) => d,
            Err(ErrorCode::NoEntry) => return Ok(Vec::new()),
            Err(e) => return Err(describe(e)),
        };
        let stream = dir.read_directory().map_err(describe)?;
        let mut names = Vec::new();
        while let Some(entry) = stream.read_directory_entry().map_err(describe)? {
            names.push(entry.name);
        }
        Ok(names)
    }
}

/// stdout/stderr: every write goes straight out (the CLI shows tokens as
/// they stream, so buffering would buy nothing).
pub struct Out(pub OutputStream);

impl Output for Out {
    fn put(&mut self, text: &str) {
        // `blocking-write-and-flush` takes at most 4096 bytes per call. A
        // closed stream ends the writing; there is nobody left to tell.
        for chunk in text.as_bytes().chunks(4096) {
            if self.0.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
    }
}

#[cfg(not(feature = "http-edge"))]
pub struct In(pub InputStream);

#[cfg(not(feature = "http-edge"))]
impl Input for In {
    fn read_some(&mut self) -> Result<Vec<u8>, String> {
        loop {
            match self.0.blocking_read(16 << 10) {
                Ok(b) if b.is_empty() => continue,
                Ok(b) => return Ok(b),
                Err(StreamError::Closed) => return Ok(Vec::new()),
                Err(StreamError::LastOperationFailed(_)) => return Err("I/O error".to_string()),
            }
        }
    }
}
