//! The tools' [`Platform`] in the module: files on the workspace preopen
//! (`fs.rs`), the environment and wall clock from preview 1, and HTTP
//! through the `wasiclaw_http` import (`client::fetch`, shared with the
//! native platform the unit tests run).

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use wasiclaw_tools::platform::{DirEntry, FsError, HttpRequest, HttpResponse, Platform, Stat};

use crate::abi::HttpImport;
use crate::client;
use crate::env::Env;
use crate::fs::{fs_err, Workspace};
use crate::wasi;

pub struct WasiPlatform {
    /// `None` when the host preopened no directory: every file call is then
    /// "not found", as it was for a missing `/workspace`.
    ws: Option<Workspace>,
    /// The guest path the tools show the model (`/workspace`).
    mount: String,
    http: Rc<dyn HttpImport>,
    env: Rc<Env>,
}

impl WasiPlatform {
    pub fn new(
        ws: Option<Workspace>,
        mount: &str,
        http: Rc<dyn HttpImport>,
        env: Rc<Env>,
    ) -> WasiPlatform {
        WasiPlatform {
            ws,
            mount: String::from(mount),
            http,
            env,
        }
    }

    fn ws(&self) -> Result<&Workspace, FsError> {
        self.ws.as_ref().ok_or(FsError::NotFound)
    }
}

impl Platform for WasiPlatform {
    fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>, FsError> {
        self.ws()?.read_at(path, offset, len).map_err(fs_err)
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<(), FsError> {
        self.ws()?.write(path, data).map_err(fs_err)
    }

    fn list(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        self.ws()?.list(path).map_err(fs_err)
    }

    fn stat(&self, path: &str) -> Result<Stat, FsError> {
        self.ws()?.stat(path, false).map_err(fs_err)
    }

    fn mkdir(&self, path: &str) -> Result<(), FsError> {
        self.ws()?.mkdir(path).map_err(fs_err)
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        self.ws()?.rename(from, to).map_err(fs_err)
    }

    fn remove(&self, path: &str) -> Result<(), FsError> {
        self.ws()?.remove(path).map_err(fs_err)
    }

    fn readlink(&self, path: &str) -> Result<String, FsError> {
        self.ws()?.readlink(path).map_err(fs_err)
    }

    fn workspace_mount(&self) -> &str {
        &self.mount
    }

    fn http(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        client::fetch(&self.http, req)
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name)
    }

    fn now(&self) -> (u64, u32) {
        let ns = wasi::clock_ns(0);
        (ns / 1_000_000_000, (ns % 1_000_000_000) as u32)
    }
}
