//! The component shim: implements the platform seam with the generated
//! wasi:filesystem, wasi:http, wasi:cli/environment and wasi:clocks bindings
//! and the imported vector kernel, and exports `wasiclaw:core/tools`.
//! Deliberately thin: all behaviour lives in the natively tested modules.

use core::cell::UnsafeCell;

use crate::prelude::*;

use crate::platform::{
    DirEntry, FsError, HttpRequest, HttpResponse, Kind, Method, Platform, Stat, VectorIndex,
    Vectors,
};
use crate::{ToolError, Toolbox};

#[cfg(not(feature = "kv"))]
wasiclaw_guest::bindings!({
    path: "../../wit",
    world: "wasiclaw:core/toolbox",
});

// The key-value build (feature `kv`): memory in wasi:keyvalue (world
// toolbox-kv, wit/kv.wit).
#[cfg(feature = "kv")]
wasiclaw_guest::bindings!({
    path: "../../wit",
    world: "wasiclaw:core/toolbox-kv",
});

#[cfg(feature = "kv")]
#[path = "shim_kv.rs"]
mod kv;

use exports::wasiclaw::core::tools::{Guest, ToolError as WitError, ToolSpec};
use wasi::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};
use wasiclaw::core::vector as kernel;
use wasiclaw_guest::http::{self as client, Failure};

/// A wasi:http `error-code` case in words the model can act on.
fn describe(case: u8) -> String {
    String::from(match case {
        0 | 1 => "the host name could not be resolved",
        2 => "the host was not found",
        3 | 6 => "the connection was refused",
        4 | 5 => "the destination address is not allowed",
        7 | 11 => "the connection was closed",
        8 => "the connection timed out",
        9 | 10 | 33 => "the server stopped responding",
        12..=14 => "the TLS handshake failed",
        15 => "the host does not allow this request",
        19 | 20 => "the URL is invalid",
        25 => "the response was incomplete",
        26..=30 => "the response was too large",
        36 => "the server redirected in a loop",
        _ => "the HTTP exchange failed",
    })
}

/// Timeouts for every HTTP exchange, in nanoseconds.
const CONNECT_TIMEOUT: u64 = 15_000_000_000;
const FIRST_BYTE_TIMEOUT: u64 = 60_000_000_000;
const BETWEEN_BYTES_TIMEOUT: u64 = 30_000_000_000;

struct Wasi {
    /// The workspace preopen and the guest path it is mounted at.
    ws: Option<(Descriptor, String)>,
    #[cfg(feature = "kv")]
    kv: kv::WasiKv,
}

impl Wasi {
    fn new() -> Wasi {
        let mut dirs = wasi::filesystem::preopens::get_directories();
        let named = wasi::cli::environment::get_environment()
            .into_iter()
            .find(|(k, v)| k == wasiclaw_contract::env::WORKSPACE && !v.is_empty())
            .map(|(_, v)| v);
        let ws = match named {
            // As the agent resolves it (agent/src/wasm/mod.rs, `workspace`):
            // the directory WASICLAW_WORKSPACE names, inside its preopen;
            // none (every file tool then says so) when it is not there.
            Some(named) => {
                wasiclaw_contract::find_workspace(&dirs, &named).and_then(|(at, inside)| {
                    let (dir, _) = dirs.swap_remove(at);
                    let dir = if inside.is_empty() {
                        dir
                    } else {
                        dir.open_at(
                            PathFlags::empty(),
                            inside,
                            OpenFlags::DIRECTORY,
                            DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY,
                        )
                        .ok()?
                    };
                    let name = named.trim_end_matches('/');
                    Some((dir, String::from(if name.is_empty() { "/" } else { name })))
                })
            }
            None => wasiclaw_contract::pick_workspace(&dirs).map(|at| dirs.swap_remove(at)),
        };
        Wasi {
            ws,
            #[cfg(feature = "kv")]
            kv: kv::WasiKv::open(),
        }
    }

    fn dir(&self) -> Result<&Descriptor, FsError> {
        self.ws
            .as_ref()
            .map(|(d, _)| d)
            .ok_or(FsError::Other(String::from(
                "no workspace directory is mounted (preopen one at /workspace)",
            )))
    }

    fn open(
        &self,
        path: &str,
        open: OpenFlags,
        flags: DescriptorFlags,
    ) -> Result<Descriptor, FsError> {
        // No SYMLINK_FOLLOW: the core has already expanded every symlink, so a
        // link appearing here now is a race and is refused by the host.
        self.dir()?
            .open_at(PathFlags::empty(), wasi_path(path), open, flags)
            .map_err(fs_err)
    }
}

/// The preopen itself is addressed as `.`.
fn wasi_path(rel: &str) -> &str {
    if rel.is_empty() {
        "."
    } else {
        rel
    }
}

fn fs_err(e: ErrorCode) -> FsError {
    match e {
        ErrorCode::NoEntry => FsError::NotFound,
        ErrorCode::Exist => FsError::AlreadyExists,
        ErrorCode::NotDirectory => FsError::NotDirectory,
        ErrorCode::IsDirectory => FsError::IsDirectory,
        ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::ReadOnly => FsError::Denied,
        ErrorCode::Loop => FsError::Other(String::from("symlink loop or symlink not followed")),
        ErrorCode::InsufficientSpace => FsError::Other(String::from("no space left on device")),
        ErrorCode::NameTooLong => FsError::Other(String::from("name too long")),
        ErrorCode::NotEmpty => FsError::Other(String::from("directory not empty")),
        ErrorCode::InvalidSeek | ErrorCode::Invalid => {
            FsError::Other(String::from("invalid argument"))
        }
        _ => FsError::Other(String::from("host filesystem error")),
    }
}

fn kind(t: DescriptorType) -> Kind {
    match t {
        DescriptorType::RegularFile => Kind::File,
        DescriptorType::Directory => Kind::Dir,
        DescriptorType::SymbolicLink => Kind::Symlink,
        _ => Kind::Other,
    }
}

impl Platform for Wasi {
    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>, FsError> {
        let f = self.open(path, OpenFlags::empty(), DescriptorFlags::READ)?;
        let mut out = Vec::new();
        // `read` may return short; loop until `len` or end of file.
        while out.len() < len {
            let (chunk, eof) = f
                .read((len - out.len()) as u64, offset + out.len() as u64)
                .map_err(fs_err)?;
            out.extend_from_slice(&chunk);
            if eof || chunk.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<(), FsError> {
        let f = self.open(
            path,
            OpenFlags::CREATE | OpenFlags::TRUNCATE,
            DescriptorFlags::WRITE,
        )?;
        let mut done = 0;
        while done < data.len() {
            let n = f.write(&data[done..], done as u64).map_err(fs_err)?;
            if n == 0 {
                return Err(FsError::Other(String::from("write made no progress")));
            }
            done += n as usize;
        }
        // Durability before the rename that publishes the file; hosts that
        // cannot sync still give the rename's atomicity.
        let _ = f.sync_data();
        Ok(())
    }

    fn list(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let d = self.open(path, OpenFlags::DIRECTORY, DescriptorFlags::READ)?;
        let stream = d.read_directory().map_err(fs_err)?;
        let mut out = Vec::new();
        while let Some(e) = stream.read_directory_entry().map_err(fs_err)? {
            out.push(DirEntry {
                name: e.name,
                kind: kind(e.type_),
            });
        }
        Ok(out)
    }

    fn stat(&self, path: &str) -> Result<Stat, FsError> {
        let s = self
            .dir()?
            .stat_at(PathFlags::empty(), wasi_path(path))
            .map_err(fs_err)?;
        Ok(Stat {
            kind: kind(s.type_),
            size: s.size,
        })
    }

    fn mkdir(&self, path: &str) -> Result<(), FsError> {
        self.dir()?.create_directory_at(path).map_err(fs_err)
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        let d = self.dir()?;
        d.rename_at(from, d, to).map_err(fs_err)
    }

    fn remove(&self, path: &str) -> Result<(), FsError> {
        self.dir()?.unlink_file_at(path).map_err(fs_err)
    }

    fn readlink(&self, path: &str) -> Result<String, FsError> {
        self.dir()?.readlink_at(path).map_err(fs_err)
    }

    fn workspace_mount(&self) -> &str {
        self.ws
            .as_ref()
            .map_or(wasiclaw_contract::WORKSPACE_MOUNT, |(_, name)| {
                name.as_str()
            })
    }

    fn http(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        let len = crate::error::num(req.body.len() as u64);
        let mut headers = Vec::with_capacity(req.headers.len() + 1);
        headers.extend_from_slice(req.headers);
        if req.method == Method::Post {
            headers.push(("content-length", len.as_str()));
        }
        let sent = client::send(&client::Request {
            method: match req.method {
                Method::Post => client::Method::Post,
                Method::Get => client::Method::Get,
            },
            https: req.url.https,
            authority: &req.url.authority,
            path_query: &req.url.path_query,
            headers: &headers,
            body: req.body,
            timeouts: client::Timeouts {
                connect: CONNECT_TIMEOUT,
                first_byte: FIRST_BYTE_TIMEOUT,
                between_bytes: BETWEEN_BYTES_TIMEOUT,
            },
        });
        let mut resp = sent.map_err(|f| match f {
            Failure::Header(_) => String::from("invalid request header"),
            Failure::RequestLine(_) => String::from("the host rejected the request line"),
            Failure::Unavailable(what) => crate::error::cat(&[what, " unavailable"]),
            Failure::Send => String::from("the connection closed while sending the request"),
            Failure::Code(code) => describe(code.case),
        })?;
        let headers = resp
            .headers
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            if body.len() >= req.max_body {
                // Anything beyond the cap is left unread and dropped.
                truncated = matches!(resp.body.read(1), Ok(Some(_)));
                break;
            }
            let want = (req.max_body - body.len()).min(64 * 1024) as u64;
            match resp.body.read(want) {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(_) => {
                    return Err(String::from(
                        "the connection failed while reading the response body",
                    ))
                }
            }
        }
        Ok(HttpResponse {
            status: resp.status,
            headers,
            body,
            truncated,
        })
    }

    fn env(&self, name: &str) -> Option<String> {
        wasi::cli::environment::get_environment()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    fn now(&self) -> (u64, u32) {
        let t = wasi::clocks::wall_clock::now();
        (t.seconds, t.nanoseconds)
    }

    #[cfg(feature = "kv")]
    fn kv(&self) -> Option<&dyn crate::memstore::Kv> {
        Some(&self.kv)
    }
}

struct Kernel;

impl VectorIndex for kernel::Index {
    fn insert(&mut self, id: u64, vector: &[f32]) -> Result<(), String> {
        kernel::Index::insert(self, id, vector).map_err(vec_err)
    }
    fn search(&mut self, query: &[f32], k: u32, ef: u32) -> Result<Vec<(u64, f32)>, String> {
        kernel::Index::search(self, query, k, ef)
            .map(|hits| hits.into_iter().map(|h| (h.id, h.distance)).collect())
            .map_err(vec_err)
    }
    fn count(&self) -> u64 {
        kernel::Index::len(self)
    }
    fn save(&mut self) -> Vec<u8> {
        kernel::Index::save(self)
    }
}

impl Vectors for Kernel {
    type Index = kernel::Index;
    fn create(&self, dims: u32) -> kernel::Index {
        let params = kernel::Params {
            m: 16,
            ef_construction: 200,
            storage: kernel::Storage::Full,
        };
        kernel::Index::new(dims, kernel::Metric::Cosine, params)
    }
    fn load(&self, bytes: &[u8]) -> Result<kernel::Index, String> {
        kernel::Index::load(bytes).map_err(vec_err)
    }
}

fn vec_err(e: kernel::Error) -> String {
    match e {
        kernel::Error::DimensionMismatch(_) => String::from("vector dimension mismatch"),
        kernel::Error::DuplicateId(_) => String::from("duplicate id"),
        kernel::Error::CorruptData(m)
        | kernel::Error::Capacity(m)
        | kernel::Error::InvalidArgument(m) => m,
    }
}

/// The one tools instance: its memory (and vector index) lives as long as
/// the component instance does. A component instance is single-threaded and
/// the exports are not re-entrant, so at most one `&mut` exists at a time.
struct Instance(UnsafeCell<Option<Toolbox<Wasi, Kernel>>>);

// SAFETY: wasm32-unknown-unknown without the atomics feature has one thread.
unsafe impl Sync for Instance {}

static INSTANCE: Instance = Instance(UnsafeCell::new(None));

struct Component;

impl Guest for Component {
    fn list() -> Vec<ToolSpec> {
        crate::SPECS
            .iter()
            .map(|s| ToolSpec {
                name: String::from(s.name),
                description: String::from(s.description),
                parameters: String::from(s.parameters),
            })
            .collect()
    }

    fn call(name: String, arguments: String) -> Result<String, WitError> {
        // SAFETY: see `Instance`; `call` never re-enters itself.
        let slot = unsafe { &mut *INSTANCE.0.get() };
        let tb = slot.get_or_insert_with(|| Toolbox::new(Wasi::new(), Kernel));
        tb.call(&name, &arguments).map_err(|e| match e {
            ToolError::UnknownTool(m) => WitError::UnknownTool(m),
            ToolError::InvalidArguments(m) => WitError::InvalidArguments(m),
            ToolError::Denied(m) => WitError::Denied(m),
            ToolError::NotFound(m) => WitError::NotFound(m),
            ToolError::Failed(m) => WitError::Failed(m),
        })
    }
}

export!(Component);
