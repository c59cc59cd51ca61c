//! The tools' [`Platform`] natively: `std::fs` under a directory, `std::env`,
//! `std::time`, and HTTP through an [`HttpImport`] (the HTTP half is the
//! module's own, `client::fetch`). The unit tests run the tools and the
//! client on it; the module itself uses `wasi_platform.rs` on preview 1.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use wasiclaw_tools::platform::{
    DirEntry, FsError, HttpRequest, HttpResponse, Kind, Platform, Stat,
};

use crate::abi::HttpImport;
use crate::client;

pub struct StdPlatform {
    /// The directory the workspace is at, as this process sees it.
    root: PathBuf,
    /// The guest path the tools show the model (`/workspace`).
    mount: String,
    http: Rc<dyn HttpImport>,
}

impl StdPlatform {
    pub fn new(root: impl Into<PathBuf>, mount: &str, http: Rc<dyn HttpImport>) -> StdPlatform {
        StdPlatform {
            root: root.into(),
            mount: mount.to_string(),
            http,
        }
    }

    /// `rel` is already confined by the tools (no `..`, no leading `/`).
    fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

fn fs_err(e: io::Error) -> FsError {
    match e.kind() {
        io::ErrorKind::NotFound => FsError::NotFound,
        io::ErrorKind::AlreadyExists => FsError::AlreadyExists,
        io::ErrorKind::NotADirectory => FsError::NotDirectory,
        io::ErrorKind::IsADirectory => FsError::IsDirectory,
        io::ErrorKind::PermissionDenied => FsError::Denied,
        _ => FsError::Other(e.to_string()),
    }
}

fn kind_of(t: fs::FileType) -> Kind {
    if t.is_symlink() {
        Kind::Symlink
    } else if t.is_dir() {
        Kind::Dir
    } else if t.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

impl Platform for StdPlatform {
    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>, FsError> {
        let mut f = fs::File::open(self.path(path)).map_err(fs_err)?;
        if f.metadata().map_err(fs_err)?.is_dir() {
            return Err(FsError::IsDirectory);
        }
        f.seek(SeekFrom::Start(offset)).map_err(fs_err)?;
        let mut out = Vec::new();
        f.take(len as u64).read_to_end(&mut out).map_err(fs_err)?;
        Ok(out)
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<(), FsError> {
        let mut f = fs::File::create(self.path(path)).map_err(fs_err)?;
        f.write_all(data).map_err(fs_err)?;
        f.sync_all().map_err(fs_err)
    }

    fn list(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.path(path)).map_err(fs_err)? {
            let entry = entry.map_err(fs_err)?;
            let kind = entry.file_type().map(kind_of).unwrap_or(Kind::Other);
            out.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
            });
        }
        Ok(out)
    }

    fn stat(&self, path: &str) -> Result<Stat, FsError> {
        let m = fs::symlink_metadata(self.path(path)).map_err(fs_err)?;
        Ok(Stat {
            kind: kind_of(m.file_type()),
            size: m.len(),
        })
    }

    fn mkdir(&self, path: &str) -> Result<(), FsError> {
        fs::create_dir(self.path(path)).map_err(fs_err)
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        fs::rename(self.path(from), self.path(to)).map_err(fs_err)
    }

    fn remove(&self, path: &str) -> Result<(), FsError> {
        let p = self.path(path);
        match fs::symlink_metadata(&p).map_err(fs_err)?.is_dir() {
            true => fs::remove_dir(p),
            false => fs::remove_file(p),
        }
        .map_err(fs_err)
    }

    fn readlink(&self, path: &str) -> Result<String, FsError> {
        let target = fs::read_link(self.path(path)).map_err(fs_err)?;
        Ok(target.to_string_lossy().into_owned())
    }

    fn workspace_mount(&self) -> &str {
        &self.mount
    }

    fn http(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        client::fetch(&self.http, req)
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn now(&self) -> (u64, u32) {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (d.as_secs(), d.subsec_nanos())
    }
}
