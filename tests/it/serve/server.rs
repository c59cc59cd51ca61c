//! Runs `dist/wasiclaw-http.wasm` under `wasmtime serve` or `wasiclaw serve`
//! on a free loopback port and talks HTTP/1.1 to it with a minimal client
//! (chunked bodies, SSE events).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use wasiclaw_tests::MockServer;

use crate::harness::{
    cache_dir, cargo_tool, repo_root, wasiclaw_bin, wasmtime, Workspace, OPENAI_KEY,
};

/// Cold start compiles the component; a hang still fails.
const STARTUP: Duration = Duration::from_secs(180);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

pub fn edge_wasm() -> PathBuf {
    let p = repo_root().join("dist/wasiclaw-http.wasm");
    assert!(
        p.is_file(),
        "dist/wasiclaw-http.wasm missing: run scripts/build first"
    );
    p
}

/// The key-value build, `dist/wasiclaw-kv.wasm`.
pub fn kv_wasm() -> PathBuf {
    let p = repo_root().join("dist/wasiclaw-kv.wasm");
    assert!(
        p.is_file(),
        "dist/wasiclaw-kv.wasm missing: run scripts/build first"
    );
    p
}

/// The key-value build behind the draft2 adapter, `dist/wasiclaw-kv-draft2.wasm`.
pub fn kv_draft2_wasm() -> PathBuf {
    let p = repo_root().join("dist/wasiclaw-kv-draft2.wasm");
    assert!(
        p.is_file(),
        "dist/wasiclaw-kv-draft2.wasm missing: run scripts/build first"
    );
    p
}

/// Which server runs the edge build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The real `wasmtime serve`, with the API key passed in as guest env.
    Wasmtime,
    /// `wasiclaw serve`: the key stays in the host, which injects it.
    Wasiclaw,
    /// The real `wasmtime serve -Skeyvalue` running the key-value build
    /// (sessions and memory in wasi:keyvalue; a fresh store per request).
    WasmtimeKv,
    /// `wasiclaw serve --store memory` running the key-value build: the
    /// store lives as long as the process.
    WasiclawKv,
    /// `wasiclaw serve --store memory` running the key-value build behind
    /// the draft2 adapter (imports only wasi:keyvalue@0.2.0-draft2, as a
    /// Spin app would).
    WasiclawKvDraft2,
    /// `jco serve` on Node.js (the Bytecode Alliance's JavaScript host),
    /// the workspace preopened by scripts/jco-preopen.mjs from
    /// `WASICLAW_WORKSPACE`; the guest's environment is jco's own.
    Jco,
}

impl Host {
    /// Whether this is the real `wasmtime serve`.
    pub fn is_wasmtime(self) -> bool {
        matches!(self, Host::Wasmtime | Host::WasmtimeKv)
    }

    /// Whether the guest keeps its state in wasi:keyvalue, not the workspace.
    pub fn is_kv(self) -> bool {
        matches!(
            self,
            Host::WasmtimeKv | Host::WasiclawKv | Host::WasiclawKvDraft2
        )
    }

    /// The build this host serves.
    pub fn module(self) -> PathBuf {
        match self {
            Host::WasiclawKvDraft2 => kv_draft2_wasm(),
            _ if self.is_kv() => kv_wasm(),
            _ => edge_wasm(),
        }
    }
}

/// The exact commands the README documents; `extra` goes to `wasiclaw serve`,
/// or before the module to `wasmtime serve` (e.g. `--env K=V`).
pub fn serve_command(
    host: Host,
    module: &Path,
    ws: &Workspace,
    openai_base: &str,
    port: u16,
    extra: &[&str],
) -> Command {
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = match host {
        Host::Wasmtime | Host::WasmtimeKv => {
            let mut cmd = Command::new(wasmtime());
            cmd.arg("serve").args(["-S", "cli", "-S", "http"]);
            if host == Host::WasmtimeKv {
                // `extra` may add `-S keyvalue-in-memory-data=KEY=VALUE` presets.
                cmd.args(["-S", "keyvalue"]);
            }
            cmd.arg("--dir")
                .arg(format!("{}::/workspace", ws.path().display()))
                .arg("--env")
                .arg(format!("OPENAI_BASE_URL={openai_base}"))
                .arg("--env")
                .arg(format!("OPENAI_API_KEY={OPENAI_KEY}"))
                .args(["--addr", &listen])
                .args(extra)
                .arg(module);
            cmd
        }
        Host::Jco => {
            assert!(extra.is_empty(), "extra flags are for wasiclaw serve");
            let mut cmd = Command::new(cargo_tool("jco"));
            cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
                .arg("--jco-import")
                .arg(repo_root().join("scripts/jco-preopen.mjs"))
                .arg(module)
                .env("WASICLAW_WORKSPACE", ws.path())
                .env("OPENAI_BASE_URL", openai_base)
                .env("OPENAI_API_KEY", OPENAI_KEY);
            cmd
        }
        Host::Wasiclaw | Host::WasiclawKv | Host::WasiclawKvDraft2 => {
            let mut cmd = Command::new(wasiclaw_bin());
            cmd.arg("--module")
                .arg(module)
                .arg("--cache-dir")
                .arg(cache_dir())
                .args(["serve", "--listen", &listen, "--workspace"])
                .arg(ws.path())
                .args(extra)
                .env("OPENAI_BASE_URL", openai_base)
                .env("OPENAI_API_KEY", OPENAI_KEY);
            // The key-value build needs a store: this process's own unless
            // the test names one (a Redis).
            if host.is_kv() && !extra.contains(&"--store") {
                cmd.args(["--store", "memory"]);
            }
            cmd
        }
    };
    for k in [
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "WASICLAW_PROVIDER",
        "WASICLAW_MODEL",
    ] {
        cmd.env_remove(k);
    }
    if host.is_wasmtime() {
        cmd.env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL");
    }
    cmd
}

/// A running server; killed on drop. Its output is collected for
/// failure messages.
pub struct Serve {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl Serve {
    pub fn start(host: Host, ws: &Workspace, server: &MockServer) -> Serve {
        Self::start_at(host, ws, &server.openai_base(), &[])
    }

    pub fn start_at(host: Host, ws: &Workspace, openai_base: &str, extra: &[&str]) -> Serve {
        Self::launch(host, &host.module(), ws, openai_base, extra)
    }

    /// Serves `module` (any `wasi:http/proxy` component) instead of the edge build.
    pub fn launch(
        host: Host,
        module: &Path,
        ws: &Workspace,
        openai_base: &str,
        extra: &[&str],
    ) -> Serve {
        let port = free_port();
        let cmd = serve_command(host, module, ws, openai_base, port, extra);
        Self::spawn(host, cmd, port)
    }

    /// Runs `cmd`, a server that will listen on 127.0.0.1:`port`, until it listens.
    pub fn spawn(host: Host, mut cmd: Command, port: u16) -> Serve {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {host:?} serve: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        for r in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let log = log.clone();
            thread::spawn(move || {
                let mut r = r;
                let mut buf = [0u8; 4096];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    log.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_str(&text);
                }
            });
        }
        let mut s = Serve { child, port, log };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("{host:?} serve exited with {status}\n{}", s.log());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return s;
            }
            assert!(
                start.elapsed() < STARTUP,
                "{host:?} serve did not listen\n{}",
                s.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server process now (SIGKILL), as a crash or an operator
    /// would: whatever it was doing stops mid-way.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One HTTP/1.1 request on a fresh connection.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut c = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        c.set_read_timeout(Some(REQUEST_TIMEOUT)).expect("timeout");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        c.write_all(head.as_bytes()).expect("send head");
        c.write_all(body.as_bytes()).expect("send body");
        let mut raw = Vec::new();
        if let Err(e) = c.read_to_end(&mut raw) {
            panic!("reading the response: {e}\n{}", self.log());
        }
        Resp::parse(&raw).unwrap_or_else(|| {
            panic!(
                "unparseable response: {:?}\n{}",
                String::from_utf8_lossy(&raw),
                self.log()
            )
        })
    }

    pub fn chat(&self, body: &Value, headers: &[(&str, &str)]) -> Resp {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        self.request("POST", "/v1/chat/completions", &h, &body.to_string())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    fn parse(raw: &[u8]) -> Option<Resp> {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut rest = &raw[end + 4..];
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            let mut out = Vec::new();
            loop {
                let nl = rest.windows(2).position(|w| w == b"\r\n")?;
                let size_text = std::str::from_utf8(&rest[..nl]).ok()?;
                let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
                rest = &rest[nl + 2..];
                if size == 0 {
                    break;
                }
                out.extend_from_slice(rest.get(..size)?);
                rest = rest.get(size + 2..)?;
            }
            out
        } else {
            rest.to_vec()
        };
        Some(Resp {
            status,
            headers,
            body: String::from_utf8(body).ok()?,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `data:` payloads of an SSE body, in order.
    pub fn events(&self) -> Vec<String> {
        self.body
            .split("\n\n")
            .filter_map(|e| e.trim().strip_prefix("data:"))
            .map(|d| d.trim().to_string())
            .collect()
    }
}
