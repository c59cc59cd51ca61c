//! The workspace on the preopened directory, straight on preview 1: the
//! agent's [`Files`] and the file half of the tools' `Platform`
//! (`wasi_platform.rs`). The calls, flags and rights are the ones std made
//! through wasi-libc before, so every host sees the same requests: opens
//! follow a final symlink (std's `File::open`), `stat`, `readlink`, `rename`
//! and removal do not. Paths come confined by the tools and the agent
//! (relative, no `..`), and the host refuses anything that escapes the
//! preopen on its side.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use wasiclaw_agent::files::Files;
use wasiclaw_tools::platform::{DirEntry, FsError, Kind, Stat};

use crate::dirent;
use crate::wasi::{self, Errno, Fd, FOLLOW};

/// Bytes per read and per directory listing call.
const CHUNK: usize = 64 << 10;

/// The workspace preopen: its descriptor and the rights files under it may
/// have. `None` inside [`WasiFiles`] when the host preopened nothing, so
/// every call fails as a missing file would.
#[derive(Clone, Copy)]
pub struct Workspace {
    fd: u32,
    inheriting: u64,
}

/// The preopen itself is addressed as `.`.
fn rel(path: &str) -> &str {
    if path.is_empty() {
        "."
    } else {
        path
    }
}

impl Workspace {
    /// The preopen [`wasiclaw_contract::pick_workspace`] chooses, and the
    /// guest path it is mounted at.
    pub fn find() -> Option<(Workspace, String)> {
        let mut dirs = wasi::preopens();
        let at = wasiclaw_contract::pick_workspace(&dirs)?;
        let (fd, mount) = dirs.swap_remove(at);
        let inheriting = wasi::inheriting_rights(fd);
        Some((Workspace { fd, inheriting }, mount))
    }

    fn open(&self, path: &str, oflags: u16, rights: u64) -> Result<Fd, Errno> {
        wasi::open(
            (self.fd, self.inheriting),
            FOLLOW,
            rel(path),
            oflags,
            rights,
        )
    }

    /// Up to `len` bytes from `offset`; fewer only at the end of the file.
    pub fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let f = self.open(path, 0, wasi::RIGHTS_READ)?;
        if wasi::fd_stat(&f)?.0 == wasi::FILETYPE_DIRECTORY {
            return Err(wasi::EISDIR);
        }
        if offset > 0 {
            wasi::seek(&f, offset)?;
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; CHUNK.min(len)];
        while out.len() < len {
            let want = (len - out.len()).min(buf.len());
            match wasi::read(f.0, &mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(wasi::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Creates or truncates `path`, writes `data` and syncs it to storage.
    pub fn write(&self, path: &str, data: &[u8]) -> Result<(), Errno> {
        let f = self.open(path, wasi::O_CREAT | wasi::O_TRUNC, wasi::RIGHTS_WRITE)?;
        wasi::write_all(f.0, data)?;
        wasi::sync(&f)
    }

    /// Creates `path` empty unless something is there (`Ok(false)`).
    pub fn create_new(&self, path: &str) -> Result<bool, Errno> {
        match self.open(path, wasi::O_CREAT | wasi::O_EXCL, wasi::RIGHTS_WRITE) {
            Ok(_) => Ok(true),
            Err(wasi::EEXIST) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The entries of a directory except `.` and `..`, in the host's order.
    pub fn list(&self, path: &str) -> Result<Vec<DirEntry>, Errno> {
        let dir = self.open(path, wasi::O_DIRECTORY, wasi::RIGHTS_READ)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; CHUNK];
        let mut cookie = 0u64;
        loop {
            let used = wasi::readdir(&dir, &mut buf, cookie)?;
            let next = dirent::parse(&buf[..used], &mut out);
            // A buffer the host did not fill holds the end of the directory.
            if used < buf.len() {
                return Ok(out);
            }
            match next {
                Some(next) => cookie = next,
                // One entry larger than the buffer: make room for it.
                None => buf.resize(buf.len() * 2, 0),
            }
        }
    }

    /// `(kind, size)` of `path`; `follow` decides whether a final symlink
    /// is looked through.
    pub fn stat(&self, path: &str, follow: bool) -> Result<Stat, Errno> {
        let (t, size) = wasi::path_stat(self.fd, if follow { FOLLOW } else { 0 }, rel(path))?;
        Ok(Stat {
            kind: dirent::kind(t),
            size,
        })
    }

    pub fn mkdir(&self, path: &str) -> Result<(), Errno> {
        wasi::mkdir(self.fd, rel(path))
    }

    /// `mkdir -p`: an existing directory on the way is fine.
    pub fn mkdir_all(&self, path: &str) -> Result<(), Errno> {
        let mut end = 0;
        while end < path.len() {
            end = path[end + 1..]
                .find('/')
                .map_or(path.len(), |i| end + 1 + i);
            let part = &path[..end];
            match self.mkdir(part) {
                Ok(()) => {}
                Err(e) if self.stat(part, true).map(|s| s.kind) != Ok(Kind::Dir) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(())
    }

    pub fn rename(&self, from: &str, to: &str) -> Result<(), Errno> {
        wasi::rename(self.fd, rel(from), rel(to))
    }

    pub fn unlink(&self, path: &str) -> Result<(), Errno> {
        wasi::unlink(self.fd, rel(path))
    }

    /// Removes a file, a symlink, or an empty directory.
    pub fn remove(&self, path: &str) -> Result<(), Errno> {
        match self.stat(path, false)?.kind {
            Kind::Dir => wasi::rmdir(self.fd, rel(path)),
            _ => self.unlink(path),
        }
    }

    pub fn readlink(&self, path: &str) -> Result<String, Errno> {
        let target = wasi::readlink(self.fd, rel(path))?;
        Ok(String::from_utf8_lossy(&target).into_owned())
    }
}

/// A short reason for the model and the error line.
pub fn describe(e: Errno) -> &'static str {
    match e {
        wasi::ENOENT => "no such file or directory",
        wasi::EEXIST => "already exists",
        wasi::ENOTDIR => "not a directory",
        wasi::EISDIR => "is a directory",
        wasi::EACCES | wasi::EPERM | wasi::ENOTCAPABLE => "permission denied",
        wasi::EROFS => "read-only file system",
        wasi::ELOOP => "symlink loop or symlink not followed",
        wasi::ENOSPC => "no space left on device",
        wasi::ENAMETOOLONG => "name too long",
        wasi::ENOTEMPTY => "directory not empty",
        wasi::EINVAL | wasi::ESPIPE => "invalid argument",
        wasi::EBADF => "bad file descriptor",
        _ => "host filesystem error",
    }
}

/// The tools' error kinds. `ENOTCAPABLE` is the sandbox refusing a path
/// (one that escapes the preopen), which the tools report as denied.
pub fn fs_err(e: Errno) -> FsError {
    match e {
        wasi::ENOENT => FsError::NotFound,
        wasi::EEXIST => FsError::AlreadyExists,
        wasi::ENOTDIR => FsError::NotDirectory,
        wasi::EISDIR => FsError::IsDirectory,
        wasi::EACCES | wasi::EPERM | wasi::ENOTCAPABLE => FsError::Denied,
        e => FsError::Other(describe(e).to_string()),
    }
}

/// The agent's [`Files`] on the workspace preopen.
pub struct WasiFiles(pub Option<Workspace>);

impl WasiFiles {
    fn ws(&self) -> Result<&Workspace, String> {
        self.0
            .as_ref()
            .ok_or_else(|| describe(wasi::ENOENT).to_string())
    }
}

fn err(e: Errno) -> String {
    describe(e).to_string()
}

impl Files for WasiFiles {
    fn read(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(ws) = self.0.as_ref() else {
            return Ok(None);
        };
        match ws.read_at(path, 0, usize::MAX) {
            Ok(b) => Ok(Some(b)),
            Err(wasi::ENOENT) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    fn create_dir(&mut self, path: &str) -> Result<(), String> {
        self.ws()?.mkdir_all(path).map_err(err)
    }

    fn write(&mut self, path: &str, data: &[u8]) -> Result<(), String> {
        self.ws()?.write(path, data).map_err(err)
    }

    fn create_new(&mut self, path: &str) -> Result<bool, String> {
        self.ws()?.create_new(path).map_err(err)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        self.ws()?.rename(from, to).map_err(err)
    }

    fn remove(&mut self, path: &str) -> Result<(), String> {
        self.ws()?.unlink(path).map_err(err)
    }

    fn list(&mut self, path: &str) -> Result<Vec<String>, String> {
        let Some(ws) = self.0.as_ref() else {
            return Ok(Vec::new());
        };
        match ws.list(path) {
            Ok(entries) => Ok(entries.into_iter().map(|e| e.name).collect()),
            Err(wasi::ENOENT) => Ok(Vec::new()),
            Err(e) => Err(err(e)),
        }
    }
}
