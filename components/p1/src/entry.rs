//! The command: the agent's CLI (`wasiclaw_agent::app::main`) with every seam
//! served in-process, the same program the `agent-cli` component runs, on
//! preview 1 without std (`wasi.rs`).

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use wasiclaw_agent::app::{self, Io, Platform};
use wasiclaw_agent::http::Clock;
use wasiclaw_agent::stdio::{Input, Output};
use wasiclaw_tools::Toolbox;

use crate::abi::HttpImport;
use crate::agent_http::ImportHttp;
use crate::env::Env;
use crate::fs::{describe, WasiFiles, Workspace};
use crate::tools_seam::LinkedTools;
use crate::vectors::LinkedVectors;
use crate::wasi;
use crate::wasi_platform::WasiPlatform;

/// Where the embedder maps the workspace (WAMR `--workspace`, wasmtime
/// `--dir DIR::/workspace`).
pub const MOUNT: &str = wasiclaw_contract::WORKSPACE_MOUNT;

struct WasiClock;

impl Clock for WasiClock {
    fn now_unix(&self) -> u64 {
        wasi::clock_ns(0) / 1_000_000_000
    }

    fn sleep(&mut self, d: Duration) {
        wasi::sleep_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }
}

/// stdin (0), stdout (1) or stderr (2), unbuffered.
struct Stream(u32);

impl Output for Stream {
    fn put(&mut self, text: &str) {
        // A closed stdout or stderr is not an error the agent can report.
        let _ = wasi::write_all(self.0, text.as_bytes());
    }
}

impl Input for Stream {
    fn read_some(&mut self) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; 16 << 10];
        loop {
            match wasi::read(self.0, &mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(wasi::EINTR) => continue,
                Err(e) => return Err(String::from(describe(e))),
            }
        }
    }
}

/// Runs the CLI with `args` (after the program name) on the preopened
/// workspace; returns the exit code.
pub fn run(args: &[String], http: Rc<dyn HttpImport>) -> i32 {
    let env = Rc::new(Env::new(wasi::environ()));
    let (ws, mount) = match Workspace::find() {
        Some((ws, mount)) => (Some(ws), mount),
        None => (None, String::from(MOUNT)),
    };
    let workspace = match ws {
        Some(_) => Ok(mount.as_str()),
        None => Err([
            "no workspace directory at ",
            MOUNT,
            ": run with `wasiclaw-wamr --workspace DIR` or `wasmtime run --dir DIR::/workspace`",
        ]
        .concat()),
    };
    let mut tools = LinkedTools(Toolbox::new(
        WasiPlatform::new(ws, &mount, Rc::clone(&http), Rc::clone(&env)),
        LinkedVectors,
    ));
    let mut agent_http = ImportHttp::new(http);
    let mut clock = WasiClock;
    let mut files = WasiFiles(ws);
    let env_var = |name: &str| env.get(name);
    let mut p = Platform {
        http: &mut agent_http,
        clock: &mut clock,
        tools: &mut tools,
        files: &mut files,
        kv: None,
        workspace,
        env: &env_var,
    };
    let mut io = Io {
        stdout: &mut Stream(1),
        stderr: &mut Stream(2),
        stdin: &mut Stream(0),
        stdin_is_terminal: wasi::is_terminal(0),
    };
    app::main(args, &mut p, &mut io)
}
