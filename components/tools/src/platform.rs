//! The platform seam: everything the tools need from the outside world.
//!
//! The tool logic only ever talks to a [`Platform`] and a [`Vectors`] backend,
//! so it runs natively in unit tests (temp dir, fake HTTP, the native vector
//! crate) and in the component (wasi:filesystem, wasi:http, the imported
//! vector kernel) unchanged. Paths handed to the platform are already
//! confined: workspace-relative, `/`-separated, no `.`/`..`, `""` for the root.

use crate::prelude::*;

/// Why a filesystem operation failed, reduced to what the tools act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsError {
    NotFound,
    AlreadyExists,
    NotDirectory,
    IsDirectory,
    /// The host refused (its own sandbox or permissions).
    Denied,
    /// Anything else, with the host's name for it.
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub kind: Kind,
}

/// Sorts entries by name. A plain heapsort: core's sort costs about 3.5 KB per
/// instantiation, and a directory listing is never hot.
pub fn sort_by_name(v: &mut [DirEntry]) {
    fn sift(v: &mut [DirEntry], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && v[child].name < v[child + 1].name {
                child += 1;
            }
            if v[root].name >= v[child].name {
                return;
            }
            v.swap(root, child);
            root = child;
        }
    }
    let n = v.len();
    for i in (0..n / 2).rev() {
        sift(v, i, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A parsed absolute http(s) URL, split the way wasi:http wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// `host[:port]`.
    pub authority: String,
    /// Path plus query, always starting with `/`.
    pub path_query: String,
}

pub struct HttpRequest<'a> {
    pub method: Method,
    pub url: &'a Url,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Stop reading the response body after this many bytes.
    pub max_body: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names are lower-cased by the platform.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was longer than `max_body` and was cut there.
    pub truncated: bool,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub trait Platform {
    /// Up to `len` bytes of a file starting at byte `offset`; fewer only at EOF.
    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>, FsError>;
    /// Creates or truncates a file and writes all of `data`, flushed to storage.
    fn write(&self, path: &str, data: &[u8]) -> Result<(), FsError>;
    fn list(&self, path: &str) -> Result<Vec<DirEntry>, FsError>;
    /// Metadata of the path itself: a symlink is reported as `Kind::Symlink`.
    fn stat(&self, path: &str) -> Result<Stat, FsError>;
    /// Creates one directory (its parent must exist).
    fn mkdir(&self, path: &str) -> Result<(), FsError>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &str, to: &str) -> Result<(), FsError>;
    fn remove(&self, path: &str) -> Result<(), FsError>;
    /// The raw target text of a symlink.
    fn readlink(&self, path: &str) -> Result<String, FsError>;
    /// The absolute guest path the workspace is mounted at, e.g. `/workspace`.
    fn workspace_mount(&self) -> &str;
    /// One HTTP exchange, no redirect handling. `Err` is a transport failure
    /// described for the model (DNS, refused connection, timeout, ...).
    fn http(&self, req: &HttpRequest) -> Result<HttpResponse, String>;
    fn env(&self, name: &str) -> Option<String>;
    /// Wall-clock time as (seconds, nanoseconds) since the Unix epoch.
    fn now(&self) -> (u64, u32);
    /// The key-value bucket memory persists in instead of `memory/` files
    /// (the key-value build); `None`, the default, keeps it in the files.
    fn kv(&self) -> Option<&dyn crate::memstore::Kv> {
        None
    }
}

/// A vector index as the memory tools use it (cosine metric, caller ids).
pub trait VectorIndex {
    fn insert(&mut self, id: u64, vector: &[f32]) -> Result<(), String>;
    /// `(id, distance)` pairs, closest first; distance is `1 - cosine`.
    fn search(&mut self, query: &[f32], k: u32, ef: u32) -> Result<Vec<(u64, f32)>, String>;
    fn count(&self) -> u64;
    fn save(&mut self) -> Vec<u8>;
}

/// Creates and loads [`VectorIndex`]es: the imported kernel in the component,
/// the native `wasiclaw-vector` crate in tests.
pub trait Vectors {
    type Index: VectorIndex;
    /// An empty cosine index of `dims` dimensions.
    fn create(&self, dims: u32) -> Self::Index;
    fn load(&self, bytes: &[u8]) -> Result<Self::Index, String>;
}
