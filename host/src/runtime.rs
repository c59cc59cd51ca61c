//! The engine, the per-store state and one guest run: everything the `run`
//! and `chat` commands share.

use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::files;
use crate::http::HostHttp;
use crate::kv;
use crate::limits::{self, Limiter};
use crate::plugins::{self, Router, Toolbox};
use crate::policy::HostPolicy;

/// Everything one store owns.
pub struct HostState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub hooks: HostHttp,
    pub limiter: Limiter,
    /// The agent's `tools` import when the host answers it (plugin mode);
    /// `None` for the composed module, whose tools are inside it.
    pub tools: Option<Box<Router>>,
    /// The `wasi:keyvalue` store (`serve --store`); `None`: `open` fails
    /// saying how to give one.
    pub kv: Option<kv::Store>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The guest module's bytes and where they came from.
pub struct GuestModule {
    pub bytes: Cow<'static, [u8]>,
    pub origin: String,
}

impl GuestModule {
    /// `--module PATH` if given, else the build's embedded copy.
    pub fn load(
        path: Option<&Path>,
        embedded: &'static [u8],
        name: &str,
    ) -> anyhow::Result<GuestModule> {
        if let Some(p) = path {
            let bytes = std::fs::read(p)
                .map_err(|e| anyhow::anyhow!("cannot read module {}: {e}", p.display()))?;
            return Ok(GuestModule {
                bytes: Cow::Owned(bytes),
                origin: p.display().to_string(),
            });
        }
        if embedded.is_empty() {
            anyhow::bail!(
                "this wasiclaw binary was built without dist/{name} embedded; pass --module PATH \
                 (or run scripts/build, then rebuild the host)"
            );
        }
        Ok(GuestModule {
            bytes: Cow::Borrowed(embedded),
            origin: format!("embedded dist/{name}"),
        })
    }
}

/// One engine configuration for every command, so the compile cache is
/// shared; `pooling` (for `serve`) changes only how instances are allocated.
pub fn engine(pooling: bool) -> anyhow::Result<Engine> {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    if pooling {
        let mut p = PoolingAllocationConfig::default();
        p.total_component_instances(64)
            .total_core_instances(64 * 8)
            .total_memories(64 * 4)
            .total_tables(64 * 8)
            .max_memory_size(1 << 30);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    let engine = Engine::new(&c)?;
    limits::start_ticker(&engine);
    Ok(engine)
}

pub fn linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut l = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut l)?;
    kv::add_to_linker(&mut l, |s: &mut HostState| kv::KvView {
        table: &mut s.table,
        store: s.kv.as_ref(),
    })?;
    crate::kv_draft2::add_to_linker(&mut l, |s: &mut HostState| crate::kv_draft2::View {
        table: &mut s.table,
        store: s.kv.as_ref(),
    })?;
    Ok(l)
}

/// A store for one guest run: workspace preopen, the guest env from the
/// policy (nothing inherited), the given args, memory limit and deadline.
pub fn store(
    engine: &Engine,
    policy: &Arc<HostPolicy>,
    args: &[String],
    session: &str,
    stdin: bool,
) -> anyhow::Result<Store<HostState>> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdout().inherit_stderr();
    if stdin {
        b.inherit_stdin();
    }
    b.arg("wasiclaw");
    b.args(args);
    for (k, v) in &policy.guest_env {
        b.env(k, v);
    }
    files::preopen_workspace(&mut b, &policy.workspace)?;
    b.initial_cwd(files::GUEST_WORKSPACE);
    let state = HostState {
        wasi: b.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        hooks: HostHttp::new(policy.clone(), session),
        limiter: Limiter::new(policy.memory_limit_bytes),
        tools: None,
        kv: None,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(limits::ticks(policy.turn_timeout_secs));
    store.epoch_deadline_trap();
    Ok(store)
}

pub use wasiclaw_policy::model_calls::session_of;

/// The linker for a guest whose `wasiclaw:core/tools` import the host
/// answers: WASI plus the router's `list` and `call`.
pub fn linker_with_tools(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut l = linker(engine)?;
    plugins::link_tools(&mut l)?;
    Ok(l)
}

/// A pre-linked command component, instantiated afresh for every run.
pub struct Runner {
    pub engine: Engine,
    pre: CommandPre<HostState>,
    pub policy: Arc<HostPolicy>,
    /// Plugin mode: the uncomposed agent, its tools answered by the host.
    toolbox: Option<Arc<Toolbox>>,
}

impl Runner {
    pub fn new(
        engine: Engine,
        component: &Component,
        policy: Arc<HostPolicy>,
    ) -> anyhow::Result<Runner> {
        let linker = linker(&engine)?;
        let pre = CommandPre::new(linker.instantiate_pre(component)?)?;
        Ok(Runner {
            engine,
            pre,
            policy,
            toolbox: None,
        })
    }

    /// Plugin mode: `agent` is the uncomposed agent component, whose tools
    /// import `toolbox` answers with the built-in tools and the plugins'.
    pub fn with_toolbox(
        engine: Engine,
        agent: &Component,
        policy: Arc<HostPolicy>,
        toolbox: Arc<Toolbox>,
    ) -> anyhow::Result<Runner> {
        let linker = linker_with_tools(&engine)?;
        let pre = CommandPre::new(linker.instantiate_pre(agent)?)?;
        Ok(Runner {
            engine,
            pre,
            policy,
            toolbox: Some(toolbox),
        })
    }

    /// Runs `wasi:cli/run` once; returns the guest's exit code, or an error
    /// that names a broken limit when one was the cause.
    pub async fn run(&self, args: &[String], stdin: bool) -> anyhow::Result<i32> {
        let session = session_of(args);
        let mut store = store(&self.engine, &self.policy, args, &session, stdin)?;
        if let Some(tb) = &self.toolbox {
            store.data_mut().tools = Some(Box::new(tb.router(args, &session)));
        }
        let hit = store.data().limiter.hit_flag();
        let secs = self.policy.turn_timeout_secs;
        let max_memory = self.policy.memory_limit_bytes;
        let call = async {
            let cmd = self.pre.instantiate_async(&mut store).await?;
            cmd.wasi_cli_run().call_run(&mut store).await
        };
        let result = match tokio::time::timeout(Duration::from_secs(secs), call).await {
            Ok(r) => r,
            Err(_) => anyhow::bail!(limits::time_limit(secs)),
        };
        match result {
            Ok(Ok(())) => Ok(0),
            Ok(Err(())) => Ok(1),
            Err(e) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    return Ok(exit.0);
                }
                if let Some(why) = limits::explain(&e, hit.load(Ordering::SeqCst), max_memory, secs)
                {
                    anyhow::bail!(why);
                }
                Err(anyhow::anyhow!("the guest failed: {e:?}"))
            }
        }
    }
}
