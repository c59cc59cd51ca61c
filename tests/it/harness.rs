//! Runs the built `dist/wasiclaw.wasm` exactly as a user does, through the
//! real `wasmtime run` CLI, against a mock provider on 127.0.0.1.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use wasiclaw_tests::{MockServer, Recorded};

pub const OPENAI_KEY: &str = "sk-test-openai";
pub const ANTHROPIC_KEY: &str = "sk-ant-test";
pub const ALL_TOOLS: [&str; 8] = [
    "read_file",
    "write_file",
    "edit_file",
    "list_dir",
    "search_files",
    "web_fetch",
    "memory_save",
    "memory_search",
];
/// The agent's own tools, advertised beside the tools component's.
pub const AGENT_TOOLS: [&str; 1] = ["load_skill"];

/// Generous: wasmtime compiles the component on a first, cold run, and
/// retries with backoff take seconds. A hang still fails the test.
const TIMEOUT: Duration = Duration::from_secs(180);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The artifact under test. Missing is a failure, never a skip: a green
/// suite must mean the component was exercised.
pub fn wasm() -> PathBuf {
    let p = repo_root().join("dist/wasiclaw.wasm");
    assert!(
        p.is_file(),
        "dist/wasiclaw.wasm missing: run scripts/build first"
    );
    p
}

/// `wasmtime` on PATH, else where scripts/setup installs it.
pub fn wasmtime() -> PathBuf {
    cargo_tool("wasmtime")
}

/// A CLI that scripts/setup installs: on PATH (scripts/test puts the pinned
/// versions there), else in $WASICLAW_TOOLS/bin (default
/// ~/.cache/wasiclaw/tools/bin, links to the pinned versions), else in
/// ~/.cargo/bin.
pub fn cargo_tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .collect::<Vec<_>>()
    });
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let tools = std::env::var_os("WASICLAW_TOOLS")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cache/wasiclaw/tools")))
        .map(|t| t.join("bin").join(name));
    let cargo_bin = home.map(|h| h.join(".cargo/bin").join(name));
    on_path
        .chain(tools)
        .chain(cargo_bin)
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found on PATH, in ~/.cache/wasiclaw/tools/bin or in ~/.cargo/bin: run scripts/setup first"))
}

/// The preview-1 core module WAMR runs. Missing is a failure, never a skip.
pub fn p1_module() -> PathBuf {
    let p = repo_root().join("dist/wasiclaw-p1.wasm");
    assert!(
        p.is_file(),
        "dist/wasiclaw-p1.wasm missing: run scripts/build-p1 first"
    );
    p
}

/// `wasiclaw-wamr` from `$WASICLAW_WAMR`, else next to this test binary's
/// profile directory (`<target>/<profile>/deps/it-*` -> `<target>/<profile>/`),
/// else any profile of the same target dir.
pub fn wamr_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WASICLAW_WAMR") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("<target>/<profile>");
    let target = profile_dir.parent().expect("<target>");
    let candidates = [
        profile_dir.join("wasiclaw-wamr"),
        target.join("debug/wasiclaw-wamr"),
        target.join("native/wasiclaw-wamr"),
        target.join("release/wasiclaw-wamr"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!("wasiclaw-wamr not built: run `cargo build -p wasiclaw-wamr` (looked in {candidates:?})")
        })
}

/// `tests/fixtures/NAME.wat` assembled (by `wasm-tools parse`) into a
/// component binary under the target directory (a file per call, so tests
/// running in parallel never share one being written); returns its path.
pub fn fixture(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let src = repo_root()
        .join("tests/fixtures")
        .join(format!("{name}.wat"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fixture-{name}-{}-{n}.wasm", std::process::id()));
    let status = Command::new(cargo_tool("wasm-tools"))
        .arg("parse")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run wasm-tools parse");
    assert!(
        status.success(),
        "wasm-tools parse {} failed",
        src.display()
    );
    out
}

/// The `wasiclaw` binary: `WASICLAW_BIN` if set, else built once from this
/// checkout (debug profile) into the target directory this test runs from.
pub fn wasiclaw_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("WASICLAW_BIN") {
            return PathBuf::from(p);
        }
        cargo_build(&["-p", "wasiclaw-host", "--bin", "wasiclaw"]);
        let bin = test_target_dir().join("debug").join("wasiclaw");
        assert!(bin.is_file(), "{} missing after build", bin.display());
        bin
    })
    .clone()
}

/// The target directory this test binary was built into.
pub(crate) fn test_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .to_path_buf()
}

/// `cargo build --quiet ARGS` of this checkout into [`test_target_dir`].
pub(crate) fn cargo_build(args: &[&str]) {
    // Cargo tells the compiler where it lives; the test process may not
    // have it on PATH.
    let cargo =
        std::env::var_os("CARGO").unwrap_or_else(|| option_env!("CARGO").unwrap_or("cargo").into());
    let status = Command::new(cargo)
        .args(["build", "--quiet"])
        .args(args)
        .env("CARGO_TARGET_DIR", test_target_dir())
        .current_dir(repo_root())
        .status()
        .unwrap_or_else(|e| panic!("run cargo build {args:?}: {e}"));
    assert!(status.success(), "cargo build {args:?} failed");
}

/// The probe guest (`tests/guests/probe`: prints its environment,
/// arguments and workspace files) built for `runner`: a component for
/// wasmtime and wasiclaw, a preview-1 core module for WAMR. Built once per
/// target into this test's target directory.
pub fn probe(runner: Runner) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<&'static str>>> = OnceLock::new();
    let triple = match runner {
        Runner::Wamr => "wasm32-wasip1",
        Runner::Wasmtime | Runner::Wasiclaw => "wasm32-wasip2",
    };
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if !built.contains(&triple) {
        cargo_build(&["--release", "-p", "wasiclaw-probe", "--target", triple]);
        built.push(triple);
    }
    let module = test_target_dir()
        .join(triple)
        .join("release/wasiclaw-probe.wasm");
    assert!(module.is_file(), "{} missing after build", module.display());
    module
}

/// One compile cache for the whole suite: only the first run compiles.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasiclaw-host-cache")
}

/// A fresh directory tree: `<root>/ws` is the workspace; `<root>` itself is
/// "outside", where escape attempts would land. Removed on drop.
pub struct Workspace {
    root: PathBuf,
    ws: PathBuf,
}

impl Workspace {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let root = std::env::temp_dir().join(format!(
            "wasiclaw-it-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let ws = root.join("ws");
        std::fs::create_dir_all(&ws).expect("create temp workspace");
        Workspace { root, ws }
    }

    pub fn path(&self) -> &Path {
        &self.ws
    }

    /// The directory that contains the workspace (outside of it).
    pub fn outside(&self) -> &Path {
        &self.root
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.ws.join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.file(rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("create parent dir");
        }
        std::fs::write(p, content).expect("write workspace file");
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.file(rel)).ok()
    }

    pub fn bytes(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.file(rel)).ok()
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Which runtime runs `dist/wasiclaw.wasm` for an [`Agent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// `wasmtime run -S http --dir WS::/workspace --env K=V ...`: the guest
    /// gets the environment, API key included.
    Wasmtime,
    /// `wasiclaw run --workspace WS ...` with the environment given to the
    /// host, which passes the guest only what its policy allows and injects
    /// the key itself.
    Wasiclaw,
    /// `wasiclaw-wamr --workspace WS --module dist/wasiclaw-p1.wasm ...`: the
    /// preview-1 core module on WAMR, environment given to the runner, which
    /// keys the requests itself as `wasiclaw` does.
    Wamr,
}

/// Generates the `#[test]`s for scenarios written as `fn name(x: T)`: one
/// submodule per value, each with a test per scenario, e.g.
/// `under_each!([wasmtime_run = Runner::Wasmtime, wamr_run = Runner::Wamr]; a, b);`
/// (the values are spliced into the submodules: `super::` reaches the file).
macro_rules! under_each {
    ([$($m:ident = $v:expr),+ $(,)?]; $($name:ident),* $(,)?) => {
        under_each!(@mods [$($m = $v),+] [$($name),*]);
    };
    (@mods [] [$($name:ident),*]) => {};
    (@mods [$m:ident = $v:expr $(, $rm:ident = $rv:expr)*] [$($name:ident),*]) => {
        mod $m {
            $(#[test] fn $name() { super::$name($v) })*
        }
        under_each!(@mods [$($rm = $rv),*] [$($name),*]);
    };
}

/// One run of `dist/wasiclaw.wasm ARGS` under a [`Runner`], being configured.
pub struct Agent {
    runner: Runner,
    ws: PathBuf,
    env: Vec<(String, String)>,
    args: Vec<String>,
    /// Runs this module instead of the agent's artifact for the runner.
    module: Option<PathBuf>,
    time_limit: Option<u64>,
    host_args: Vec<String>,
}

impl Agent {
    pub fn on(runner: Runner, ws: &Workspace) -> Self {
        Agent {
            runner,
            ws: ws.path().to_path_buf(),
            env: Vec::new(),
            args: Vec::new(),
            module: None,
            time_limit: None,
            host_args: Vec::new(),
        }
    }

    /// Runs `module` (built for the runner's kind) in place of the agent.
    pub fn module(mut self, module: PathBuf) -> Self {
        self.module = Some(module);
        self
    }

    /// A wall-clock limit for the run, enforced by the runtime itself:
    /// `-W timeout=Ns` under `wasmtime run`, `--timeout-secs N` under
    /// `wasiclaw run` and `wasiclaw-wamr`. A run that hits it fails.
    pub fn time_limit(mut self, secs: u64) -> Self {
        self.time_limit = Some(secs);
        self
    }

    /// Policy flags for `wasiclaw run` and `wasiclaw-wamr` (e.g.
    /// `--max-response-bytes`); `wasmtime run` has no such policy and
    /// ignores them.
    pub fn host_args(mut self, args: &[&str]) -> Self {
        self.host_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Sets (or replaces) one environment variable: the guest's under
    /// `wasmtime run`, the host's under `wasiclaw run`.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Talks OpenAI to `server` (the default provider).
    pub fn openai(self, server: &MockServer) -> Self {
        self.openai_at(&server.openai_base())
    }

    pub fn openai_at(self, base: &str) -> Self {
        self.env("OPENAI_BASE_URL", base)
            .env("OPENAI_API_KEY", OPENAI_KEY)
    }

    /// Talks Anthropic to `server`, selected by `WASICLAW_PROVIDER`.
    pub fn anthropic(self, server: &MockServer) -> Self {
        self.env("ANTHROPIC_BASE_URL", &server.anthropic_base())
            .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
            .env("WASICLAW_PROVIDER", "anthropic")
    }

    pub fn session(self, name: &str) -> Self {
        self.arg("--session").arg(name)
    }

    pub fn no_stream(self) -> Self {
        self.arg("--no-stream")
    }

    /// Runs one turn: `-m message` after the configured flags.
    pub fn run(self, message: &str) -> Output {
        self.arg("-m").arg(message).exec()
    }

    /// Runs with exactly the configured arguments.
    pub fn exec(self) -> Output {
        let cmd = match self.runner {
            Runner::Wasmtime => {
                let mut cmd = Command::new(wasmtime());
                cmd.arg("run").arg("-S").arg("http");
                cmd.arg("--dir")
                    .arg(format!("{}::/workspace", self.ws.display()));
                for (k, v) in &self.env {
                    cmd.arg("--env").arg(format!("{k}={v}"));
                }
                if let Some(secs) = self.time_limit {
                    cmd.arg("-W").arg(format!("timeout={secs}s"));
                }
                cmd.arg(self.module.clone().unwrap_or_else(wasm))
                    .args(&self.args);
                // The guest sees only the --env above; scrub the host anyway
                // so a developer's real key can never reach a test.
                for k in [
                    "OPENAI_API_KEY",
                    "ANTHROPIC_API_KEY",
                    "OPENAI_BASE_URL",
                    "ANTHROPIC_BASE_URL",
                ] {
                    cmd.env_remove(k);
                }
                cmd
            }
            Runner::Wasiclaw => {
                let mut cmd = Command::new(wasiclaw_bin());
                cmd.arg("--module")
                    .arg(self.module.clone().unwrap_or_else(wasm))
                    .arg("--cache-dir")
                    .arg(cache_dir())
                    .arg("run")
                    .arg("--workspace")
                    .arg(&self.ws)
                    .args(self.host_flags())
                    .args(&self.args);
                with_only_env(&mut cmd, &self.env);
                cmd
            }
            Runner::Wamr => {
                let mut cmd = Command::new(wamr_bin());
                cmd.arg("--workspace")
                    .arg(&self.ws)
                    .arg("--module")
                    .arg(self.module.clone().unwrap_or_else(p1_module))
                    .args(self.host_flags())
                    .args(&self.args);
                with_only_env(&mut cmd, &self.env);
                cmd
            }
        };
        run_command(cmd)
    }
}

impl Agent {
    /// `--timeout-secs` and the other host flags, for the hosts with a policy.
    fn host_flags(&self) -> Vec<String> {
        let mut flags = self.host_args.clone();
        if let Some(secs) = self.time_limit {
            flags.extend(["--timeout-secs".to_string(), secs.to_string()]);
        }
        flags
    }
}

/// Gives `cmd` exactly `env` (plus PATH) as its environment.
pub fn with_only_env(cmd: &mut Command, env: &[(String, String)]) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)));
}

/// Runs `cmd` to the end with stdin closed, output captured and a
/// [`TIMEOUT`] (a hang fails the test with what it printed so far).
pub fn run_command(mut cmd: Command) -> Output {
    // Pinned, so results do not depend on the developer's shell: with it,
    // wasmtime puts host backtraces into wasi:http error strings, and the
    // agent must still print its error as one line.
    cmd.env("RUST_BACKTRACE", "1");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let command = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {command}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "timed out after {TIMEOUT:?}: {command}\nstdout:\n{}\nstderr:\n{}",
                    out.join().unwrap_or_default(),
                    err.join().unwrap_or_default()
                );
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {command}: {e}"),
        }
    };
    Output {
        command,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        code: status.code(),
        elapsed: start.elapsed(),
    }
}

/// What one invocation did.
pub struct Output {
    pub command: String,
    pub stdout: String,
    pub stderr: String,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub elapsed: Duration,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit: {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// The reply: stdout without its one trailing newline.
    pub fn reply(&self) -> &str {
        self.stdout.strip_suffix('\n').unwrap_or(&self.stdout)
    }

    /// Exit 0 and no request refused by the mock; dumps everything otherwise.
    pub fn assert_success(&self, server: &MockServer) {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\n{self}\n{}",
            dump(server)
        );
        assert_no_rejections(server, self);
    }

    /// Exit 1 with exactly one `wasiclaw: error:` line, the last on stderr,
    /// and nothing on stdout.
    pub fn assert_runtime_error(&self) {
        assert_eq!(self.code, Some(1), "expected exit 1\n{self}");
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("wasiclaw: error:"))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "expected exactly one `wasiclaw: error:` line\n{self}"
        );
        let last = self.stderr.lines().rev().find(|l| !l.trim().is_empty());
        assert_eq!(
            last,
            Some(errors[0]),
            "the error line must be the last line of stderr\n{self}"
        );
        assert!(
            errors[0].len() > "wasiclaw: error: ".len() + 5,
            "error line says nothing\n{self}"
        );
        assert!(
            self.stdout.is_empty(),
            "stdout must stay empty on error\n{self}"
        );
    }
}

/// Requests the mock refused the way the real API would are agent bugs.
pub fn assert_no_rejections(server: &MockServer, out: &Output) {
    let rej = server.rejections();
    assert!(
        rej.is_empty(),
        "the provider would have rejected requests: {rej:#?}\n{out}"
    );
}

/// Chat requests, asserting none was refused.
pub fn chats(server: &MockServer) -> Vec<Recorded> {
    let rej = server.rejections();
    assert!(
        rej.is_empty(),
        "the provider would have rejected requests: {rej:#?}"
    );
    server.chat_requests()
}

/// Every request the server saw, for failure messages.
pub fn dump(server: &MockServer) -> String {
    let mut s = String::from("--- requests ---\n");
    for r in server.requests() {
        let body = r
            .json
            .as_ref()
            .map(|j| serde_json::to_string_pretty(j).unwrap_or_default())
            .unwrap_or_else(|| String::from_utf8_lossy(&r.body).into_owned());
        s.push_str(&format!(
            "#{} {} {} -> {} {:?}\n{body}\n",
            r.seq, r.method, r.path, r.status, r.rejected
        ));
    }
    s
}

/// Whether a tool result tells the model its call failed. Anthropic has a
/// flag for it; otherwise the text must say so.
pub fn is_tool_error(content: &str, is_error: bool) -> bool {
    let c = content.to_lowercase();
    is_error
        || [
            "error",
            "denied",
            "not found",
            "outside",
            "invalid",
            "unknown",
            "refused",
            "not allowed",
            "escape",
            "no such",
        ]
        .iter()
        .any(|w| c.contains(w))
}

/// The tool result answering `id`, as `(content, is_error)`.
pub fn result_for(req: &Recorded, id: &str) -> (String, bool) {
    req.tool_results()
        .into_iter()
        .find(|(rid, _, _)| rid == id)
        .map(|(_, c, e)| (c, e))
        .unwrap_or_else(|| {
            panic!(
                "no tool result for {id} in request #{}: {:#?}",
                req.seq,
                req.conversation()
            )
        })
}

/// Every line of a session file parses as JSON.
pub fn assert_jsonl(ws: &Workspace, rel: &str) -> Vec<serde_json::Value> {
    let text = ws.read(rel).unwrap_or_else(|| panic!("{rel} missing"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{rel} line {}: {e}: {l}", i + 1))
        })
        .collect()
}

/// The usage ledger the hosts append to, one JSON object per model call.
pub fn usage_lines(ws: &Workspace) -> Vec<serde_json::Value> {
    ws.read("usage.jsonl")
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("usage.jsonl line is JSON"))
        .collect()
}

/// A provider that hangs: answers after 20 s (far past any test's time
/// limit) when the newest user message contains `trigger`, at once
/// otherwise; an empty trigger stalls every request.
pub struct Stall {
    pub trigger: &'static str,
}

impl wasiclaw_tests::Responder for Stall {
    fn respond(&self, request: &wasiclaw_tests::ChatRequest) -> Option<wasiclaw_tests::Reply> {
        let conv = request.conversation();
        let last_user = conv.iter().rev().find_map(|t| match t {
            wasiclaw_tests::Turn::User(u) => Some(u.as_str()),
            _ => None,
        });
        if last_user.is_some_and(|u| u.contains(self.trigger)) {
            thread::sleep(Duration::from_secs(20));
        }
        Some(wasiclaw_tests::Reply::text("prompt answer"))
    }
}
