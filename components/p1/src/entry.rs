//! The command: the agent's CLI (`wasiclaw_agent::app::main`) with every seam
//! served in-process, the same program the `agent-cli` component runs.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasiclaw_agent::app::{self, Io, Platform};
use wasiclaw_agent::files::StdFiles;
use wasiclaw_agent::http::Clock;
use wasiclaw_tools::Toolbox;

use crate::abi::HttpImport;
use crate::agent_http::ImportHttp;
use crate::platform::StdPlatform;
use crate::tools_seam::LinkedTools;
use crate::vectors::LinkedVectors;

/// Where the embedder maps the workspace (WAMR `--workspace`, wasmtime
/// `--dir DIR::/workspace`).
pub const MOUNT: &str = wasiclaw_contract::WORKSPACE_MOUNT;

struct StdClock;

impl Clock for StdClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs the CLI with `args` (after the program name) on the workspace at
/// `root` (`/workspace` in the module); returns the exit code.
pub fn run(args: &[String], root: &Path, http: Rc<dyn HttpImport>) -> i32 {
    let workspace = if root.is_dir() {
        Ok(MOUNT)
    } else {
        Err(format!(
            "no workspace directory at {}: run with `wasiclaw-wamr --workspace DIR` \
             or `wasmtime run --dir DIR::/workspace`",
            root.display()
        ))
    };
    let mut tools = LinkedTools(Toolbox::new(
        StdPlatform::new(root, MOUNT, Rc::clone(&http)),
        LinkedVectors,
    ));
    let mut agent_http = ImportHttp::new(http);
    let mut clock = StdClock;
    let mut files = StdFiles {
        root: root.to_path_buf(),
    };
    let mut p = Platform {
        http: &mut agent_http,
        clock: &mut clock,
        tools: &mut tools,
        files: &mut files,
        workspace,
        env: &env_var,
    };
    let stdin = std::io::stdin();
    let mut io = Io {
        stdout: &mut std::io::stdout(),
        stderr: &mut std::io::stderr(),
        stdin: &mut stdin.lock(),
        stdin_is_terminal: std::io::stdin().is_terminal(),
    };
    let code = app::main(args, &mut p, &mut io);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    code
}
