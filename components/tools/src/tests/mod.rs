//! Native test harness: a [`Platform`] over a real temp directory (so symlinks
//! and renames are the OS's own), a scripted HTTP responder, and the native
//! `wasiclaw-vector` crate behind [`Vectors`].

mod files;
mod memkv;
mod memory;
mod paths;
mod search;
mod util;
mod web;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::platform::*;
use crate::{ToolError, Toolbox};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "wasiclaw-tools-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(p.join("ws")).unwrap();
        TempDir(p)
    }

    /// The workspace directory inside the temp dir; its parent holds files
    /// that must stay out of reach.
    pub fn ws(&self) -> PathBuf {
        self.0.join("ws")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub type Responder = Box<dyn Fn(&RecordedRequest) -> Result<HttpResponse, String>>;

#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub max_body: usize,
}

pub struct TestPlatform {
    root: PathBuf,
    pub env: HashMap<String, String>,
    pub responder: Option<Responder>,
    pub requests: RefCell<Vec<RecordedRequest>>,
    pub now: u64,
    /// Acts like wasmtime, which refuses to read links that leave the preopen.
    pub readlink_denied: bool,
    /// A key-value bucket for memory (the key-value build), shared by the
    /// platforms of instances that stand for separate processes.
    pub kv: Option<std::rc::Rc<memkv::MemKv>>,
}

impl TestPlatform {
    pub fn new(root: &Path) -> TestPlatform {
        TestPlatform {
            root: root.to_path_buf(),
            env: HashMap::new(),
            responder: None,
            requests: RefCell::new(Vec::new()),
            now: 1_700_000_000,
            readlink_denied: false,
            kv: None,
        }
    }

    /// Maps a confined path to the host. The core must only ever hand over
    /// normalised relative paths; anything else is a confinement bug.
    fn full(&self, rel: &str) -> PathBuf {
        assert!(
            !rel.starts_with('/') && !rel.split('/').any(|c| c == ".." || c == "."),
            "unconfined path reached the platform: {rel:?}"
        );
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

fn io_err(e: std::io::Error) -> FsError {
    match e.kind() {
        ErrorKind::NotFound => FsError::NotFound,
        ErrorKind::AlreadyExists => FsError::AlreadyExists,
        ErrorKind::PermissionDenied => FsError::Denied,
        ErrorKind::NotADirectory => FsError::NotDirectory,
        ErrorKind::IsADirectory => FsError::IsDirectory,
        _ => FsError::Other(e.to_string()),
    }
}

fn kind(ft: fs::FileType) -> Kind {
    if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

impl Platform for TestPlatform {
    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>, FsError> {
        let mut f = fs::File::open(self.full(path)).map_err(io_err)?;
        if f.metadata().map_err(io_err)?.is_dir() {
            return Err(FsError::IsDirectory);
        }
        f.seek(SeekFrom::Start(offset)).map_err(io_err)?;
        let mut out = Vec::new();
        f.take(len as u64).read_to_end(&mut out).map_err(io_err)?;
        Ok(out)
    }
    fn write(&self, path: &str, data: &[u8]) -> Result<(), FsError> {
        let mut f = fs::File::create(self.full(path)).map_err(io_err)?;
        f.write_all(data).map_err(io_err)?;
        f.sync_data().map_err(io_err)
    }
    fn list(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.full(path)).map_err(io_err)? {
            let e = e.map_err(io_err)?;
            out.push(DirEntry {
                name: e.file_name().to_string_lossy().into_owned(),
                kind: kind(e.file_type().map_err(io_err)?),
            });
        }
        Ok(out)
    }
    fn stat(&self, path: &str) -> Result<Stat, FsError> {
        let m = fs::symlink_metadata(self.full(path)).map_err(io_err)?;
        Ok(Stat {
            kind: kind(m.file_type()),
            size: m.len(),
        })
    }
    fn mkdir(&self, path: &str) -> Result<(), FsError> {
        fs::create_dir(self.full(path)).map_err(io_err)
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        fs::rename(self.full(from), self.full(to)).map_err(io_err)
    }
    fn remove(&self, path: &str) -> Result<(), FsError> {
        fs::remove_file(self.full(path)).map_err(io_err)
    }
    fn readlink(&self, path: &str) -> Result<String, FsError> {
        if self.readlink_denied {
            return Err(FsError::Denied);
        }
        let t = fs::read_link(self.full(path)).map_err(io_err)?;
        Ok(t.to_string_lossy().into_owned())
    }
    fn workspace_mount(&self) -> &str {
        "/workspace"
    }
    fn http(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        let rec = RecordedRequest {
            method: req.method,
            url: req.url.to_text(),
            headers: req
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: String::from_utf8_lossy(req.body).into_owned(),
            max_body: req.max_body,
        };
        self.requests.borrow_mut().push(rec.clone());
        match &self.responder {
            Some(r) => {
                let mut resp = r(&rec)?;
                // Same cap the component applies while streaming.
                if resp.body.len() > req.max_body {
                    resp.body.truncate(req.max_body);
                    resp.truncated = true;
                }
                Ok(resp)
            }
            None => Err(String::from("connection refused")),
        }
    }
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
    fn kv(&self) -> Option<&dyn crate::memstore::Kv> {
        self.kv.as_deref().map(|k| k as &dyn crate::memstore::Kv)
    }

    fn now(&self) -> (u64, u32) {
        (self.now, 0)
    }
}

pub struct NativeVectors;

impl Vectors for NativeVectors {
    type Index = wasiclaw_vector::Index;
    fn create(&self, dims: u32) -> Self::Index {
        wasiclaw_vector::Index::new(dims, wasiclaw_vector::Metric::Cosine, Default::default())
    }
    fn load(&self, bytes: &[u8]) -> Result<Self::Index, String> {
        wasiclaw_vector::Index::load(bytes).map_err(|e| e.to_string())
    }
}

impl VectorIndex for wasiclaw_vector::Index {
    fn insert(&mut self, id: u64, vector: &[f32]) -> Result<(), String> {
        wasiclaw_vector::Index::insert(self, id, vector).map_err(|e| e.to_string())
    }
    fn search(&mut self, query: &[f32], k: u32, ef: u32) -> Result<Vec<(u64, f32)>, String> {
        wasiclaw_vector::Index::search(self, query, k, ef)
            .map(|hits| hits.into_iter().map(|h| (h.id, h.distance)).collect())
            .map_err(|e| e.to_string())
    }
    fn count(&self) -> u64 {
        wasiclaw_vector::Index::len(self)
    }
    fn save(&mut self) -> Vec<u8> {
        wasiclaw_vector::Index::save(self)
    }
}

pub type TestBox = Toolbox<TestPlatform, NativeVectors>;

/// A toolbox over a fresh temp workspace.
pub fn setup() -> (TempDir, TestBox) {
    let dir = TempDir::new();
    let tb = Toolbox::new(TestPlatform::new(&dir.ws()), NativeVectors);
    (dir, tb)
}

pub fn toolbox_with(p: TestPlatform) -> TestBox {
    Toolbox::new(p, NativeVectors)
}

pub fn ok(tb: &mut TestBox, name: &str, args: &str) -> String {
    match tb.call(name, args) {
        Ok(s) => s,
        Err(e) => panic!("{name} {args} failed: {e:?}"),
    }
}

pub fn err(tb: &mut TestBox, name: &str, args: &str) -> ToolError {
    match tb.call(name, args) {
        Ok(s) => panic!("{name} {args} unexpectedly succeeded: {s}"),
        Err(e) => e,
    }
}

pub fn write(dir: &TempDir, rel: &str, content: &str) {
    let p = dir.ws().join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

pub fn read(dir: &TempDir, rel: &str) -> String {
    fs::read_to_string(dir.ws().join(rel)).unwrap()
}
