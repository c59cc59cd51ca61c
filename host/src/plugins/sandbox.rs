//! One plugin call in a fresh instance: a store of its own whose WASI
//! context is built from the plugin's grants only (preopens per `files:`
//! grant, the granted variables, empty stdin, stdout/stderr to the capped
//! log, HTTP through the plugin's narrowed policy), under its fuel, memory
//! and time limits. Whatever happens inside becomes a tool result or a tool
//! error with the reason; nothing reaches the host as a failure.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use super::log::LogPipe;
use super::{ToolError, ToolSpec, ToolsPre};
use crate::files::GUEST_WORKSPACE;
use crate::http::HostHttp;
use crate::limits::{Limiter, TICK};
use crate::policy::{HostPolicy, PluginSpec};
use crate::runtime::HostState;

/// How a plugin call ended, as `usage.jsonl` records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The plugin answered with a `tool-error` of its own.
    ToolError,
    Trap,
    Fuel,
    Memory,
    Timeout,
    Exit,
    /// The host could not set the call up (no instance slot, say).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Trap => "trap",
            Outcome::Fuel => "fuel",
            Outcome::Memory => "memory",
            Outcome::Timeout => "timeout",
            Outcome::Exit => "exit",
            Outcome::Refused => "refused",
        }
    }
}

/// The result of one call and what it cost.
pub struct CallReport {
    pub result: Result<String, ToolError>,
    pub outcome: Outcome,
    pub fuel_used: u64,
    /// Instantiation included.
    pub duration: Duration,
    /// Of which instantiating the component (`InstancePre::instantiate_async`).
    pub instantiate: Duration,
}

/// A plugin, compiled and linked once at start.
pub struct Plugin {
    pub spec: PluginSpec,
    pub engine: Engine,
    pub pre: ToolsPre<HostState>,
    /// The host policy narrowed to the plugin's `http:` grants.
    pub policy: Arc<HostPolicy>,
    /// Its tools under their own names, as `list` returned them at start.
    pub tools: Vec<ToolSpec>,
}

impl Plugin {
    /// A store for one call: nothing in it but what the grants name.
    fn store(&self, session: &str, out: &LogPipe, err: &LogPipe) -> Store<HostState> {
        let mut b = WasiCtxBuilder::new();
        b.stdout(out.clone()).stderr(err.clone());
        for (k, v) in &self.spec.env {
            b.env(k, v);
        }
        for (dir, write) in self.spec.dirs() {
            preopen(&mut b, &self.policy.workspace, dir, write, &self.spec.name);
        }
        b.initial_cwd(GUEST_WORKSPACE);
        let state = HostState {
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: HostHttp::new(self.policy.clone(), session),
            limiter: Limiter::new(self.spec.memory_bytes),
            tools: None,
            kv: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Epoch interruption stops code that spins; the tokio timeout in
        // `call` stops one waiting on the host (a slow HTTP answer).
        let ticks = (self.spec.timeout_ms / TICK.as_millis() as u64).max(1) + 1;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }

    /// `list` on a fresh instance (at start: the specs are then fixed).
    pub async fn list(&self) -> Result<Vec<ToolSpec>, String> {
        let (out, err) = (LogPipe::default(), LogPipe::default());
        let mut store = self.store("plugin-load", &out, &err);
        store
            .set_fuel(self.spec.fuel)
            .map_err(|e| format!("cannot set fuel: {e}"))?;
        let call = async {
            let inst = self.pre.instantiate_async(&mut store).await?;
            inst.wasiclaw_core_tools().call_list(&mut store).await
        };
        let limit = Duration::from_millis(self.spec.timeout_ms);
        let r = tokio::time::timeout(limit, call).await;
        out.flush_to_log(&self.spec.name, "stdout");
        err.flush_to_log(&self.spec.name, "stderr");
        match r {
            Ok(Ok(specs)) => Ok(specs),
            Ok(Err(e)) => Err(self.explain(&e, false).1),
            Err(_) => Err(format!(
                "list did not answer within {} ms",
                self.spec.timeout_ms
            )),
        }
    }

    /// Runs `tool` once in a fresh instance.
    pub async fn call(&self, tool: &str, arguments: &str, session: &str) -> CallReport {
        let started = Instant::now();
        let (out, err) = (LogPipe::default(), LogPipe::default());
        let mut store = self.store(session, &out, &err);
        let hit = store.data().limiter.hit_flag();
        let name = &self.spec.name;
        if let Err(e) = store.set_fuel(self.spec.fuel) {
            return self.report(
                started,
                0,
                Outcome::Refused,
                format!("cannot set fuel: {e}"),
            );
        }
        let mut instantiate = Duration::ZERO;
        let call = async {
            let inst = self.pre.instantiate_async(&mut store).await?;
            instantiate = started.elapsed();
            inst.wasiclaw_core_tools()
                .call_call(&mut store, tool, arguments)
                .await
        };
        let limit = Duration::from_millis(self.spec.timeout_ms);
        let r = tokio::time::timeout(limit, call).await;
        let fuel_used = self.spec.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        out.flush_to_log(name, "stdout");
        err.flush_to_log(name, "stderr");
        let (outcome, result) = match r {
            Ok(Ok(Ok(text))) => (Outcome::Ok, Ok(text)),
            Ok(Ok(Err(e))) => (Outcome::ToolError, Err(e)),
            Ok(Err(e)) => {
                let (outcome, why) = self.explain(&e, hit.load(Ordering::SeqCst));
                (
                    outcome,
                    Err(ToolError::Failed(format!("plugin {name}: {why}"))),
                )
            }
            Err(_) => (
                Outcome::Timeout,
                Err(ToolError::Failed(format!(
                    "plugin {name}: stopped at its time limit of {} ms",
                    self.spec.timeout_ms
                ))),
            ),
        };
        CallReport {
            result,
            outcome,
            fuel_used,
            duration: started.elapsed(),
            instantiate,
        }
    }

    fn report(&self, started: Instant, fuel: u64, outcome: Outcome, why: String) -> CallReport {
        CallReport {
            result: Err(ToolError::Failed(format!(
                "plugin {}: {why}",
                self.spec.name
            ))),
            outcome,
            fuel_used: fuel,
            duration: started.elapsed(),
            instantiate: Duration::ZERO,
        }
    }

    /// Why a call failed, in words for the model.
    fn explain(&self, e: &wasmtime::Error, memory_hit: bool) -> (Outcome, String) {
        let s = &self.spec;
        if let Some(exit) = e.downcast_ref::<I32Exit>() {
            return (
                Outcome::Exit,
                format!(
                    "exited with code {} (wasi:cli/exit) instead of returning a result",
                    exit.0
                ),
            );
        }
        if memory_hit {
            return (
                Outcome::Memory,
                format!(
                    "stopped at its memory limit of {} MiB",
                    s.memory_bytes / (1024 * 1024)
                ),
            );
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => (
                Outcome::Fuel,
                format!("stopped when it ran out of fuel ({} units)", s.fuel),
            ),
            Some(Trap::Interrupt) => (
                Outcome::Timeout,
                format!("stopped at its time limit of {} ms", s.timeout_ms),
            ),
            Some(trap) => (Outcome::Trap, format!("trapped: {trap}")),
            None => {
                // Not a trap: a malformed result (bad UTF-8, a pointer out
                // of bounds) or a host-side failure. One line of it.
                let text = format!("{e:#}");
                let line = text.lines().next().unwrap_or("failed").to_string();
                (Outcome::Trap, format!("failed: {line}"))
            }
        }
    }
}

/// Preopens the workspace's `dir` at `/workspace/DIR` (read-only unless
/// `write`), if it exists (a write grant's directory is created) and is
/// inside the workspace: a symlink that leads out of it is not followed,
/// the grant then gives nothing.
fn preopen(b: &mut WasiCtxBuilder, workspace: &Path, dir: &str, write: bool, plugin: &str) {
    let (host, guest) = if dir == "." {
        (workspace.to_path_buf(), GUEST_WORKSPACE.to_string())
    } else {
        (workspace.join(dir), format!("{GUEST_WORKSPACE}/{dir}"))
    };
    if write && !host.exists() {
        if let Err(e) = std::fs::create_dir_all(&host) {
            eprintln!("wasiclaw: plugin {plugin}: cannot create {dir}/ for its grant: {e}");
        }
    }
    let Ok(real) = host.canonicalize() else {
        return;
    };
    if !real.starts_with(workspace) || !real.is_dir() {
        eprintln!(
            "wasiclaw: plugin {plugin}: files grant {dir}/ is not a directory inside the workspace; not mounted"
        );
        return;
    }
    let perms = if write {
        FsPerms::ReadWrite
    } else {
        FsPerms::ReadOnly
    };
    if let Err(e) = b.preopened_dir(&real, &guest, perms) {
        eprintln!("wasiclaw: plugin {plugin}: cannot mount {dir}/: {e}");
    }
}
