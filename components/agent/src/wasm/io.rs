//! Workspace files and stdio straight on the WASI bindings. std's versions
//! work too but pull in wasi-libc's descriptor table, path resolution and
//! buffered stdio, which together cost more than this whole module.

use std::io;

use super::wasi::filesystem::types::{
    Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};
use super::wasi::io::streams::OutputStream;
#[cfg(not(feature = "http-edge"))]
use super::wasi::io::streams::{InputStream, StreamError};
use crate::files::Files;

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
}

/// stdout/stderr as `io::Write`: every write goes straight out (the CLI
/// flushes per token anyway, so buffering would buy nothing).
pub struct Out(pub OutputStream);

impl io::Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(4096);
        self.0
            .blocking_write_and_flush(&buf[..n])
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(not(feature = "http-edge"))]
pub struct In(pub InputStream);

#[cfg(not(feature = "http-edge"))]
impl io::Read for In {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.blocking_read(buf.len() as u64) {
                Ok(b) if b.is_empty() && !buf.is_empty() => continue,
                Ok(b) => {
                    let n = b.len().min(buf.len());
                    buf[..n].copy_from_slice(&b[..n]);
                    return Ok(n);
                }
                Err(StreamError::Closed) => return Ok(0),
                Err(StreamError::LastOperationFailed(_)) => {
                    return Err(io::Error::from(io::ErrorKind::Other))
                }
            }
        }
    }
}
