//! `wasiclaw`: the native host CLI. Thin: argument parsing and dispatch; the
//! capabilities live in the library modules.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use wasiclaw_host::cache::{self, Outcome};
use wasiclaw_host::plugins::{self, Toolbox};
use wasiclaw_host::policy::{HostPolicy, Overrides, ProcessEnv};
use wasiclaw_host::runtime::{self, GuestModule, Runner};
use wasiclaw_host::{embedded, files};
use wasiclaw_policy::policy::MCP_TOKEN_ENV;

#[derive(Parser)]
#[command(
    name = "wasiclaw",
    version,
    about = "Run the wasiclaw agent under a sandboxing wasmtime host"
)]
struct Cli {
    /// Guest component to run instead of the one embedded at build time.
    #[arg(long, global = true, value_name = "PATH")]
    module: Option<PathBuf>,
    /// Compile-cache directory (default: $XDG_CACHE_HOME/wasiclaw or ~/.cache/wasiclaw).
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile on every start instead of using the cache.
    #[arg(long, global = true)]
    no_cache: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one agent turn; stdout is the reply only.
    Run {
        #[command(flatten)]
        host: HostOpts,
        #[command(flatten)]
        agent: AgentOpts,
        /// The message for the model.
        #[arg(short = 'm', long = "message")]
        message: String,
    },
    /// Interactive chat: one turn per line read from stdin, tokens streamed.
    Chat {
        #[command(flatten)]
        host: HostOpts,
        #[command(flatten)]
        agent: AgentOpts,
    },
    /// Compile the guest ahead of time into the compile cache.
    Compile {
        /// Compile the edge build (dist/wasiclaw-http.wasm) instead.
        #[arg(long)]
        http: bool,
    },
    /// Print the module's imports and exports and the effective policy (JSON).
    Inspect {
        #[command(flatten)]
        host: HostOpts,
        /// Inspect the edge build (dist/wasiclaw-http.wasm) instead.
        #[arg(long)]
        http: bool,
    },
    /// Serve the edge build's OpenAI-compatible endpoint over HTTP.
    Serve {
        #[command(flatten)]
        host: HostOpts,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Require `Authorization: Bearer TOKEN` on the MCP endpoint `/mcp`.
        #[arg(long, value_name = "TOKEN")]
        mcp_token: Option<String>,
        /// The key-value build's store behind wasi:keyvalue: `memory` (this
        /// process) or `redis://HOST:PORT/DB` (shared by every instance on it).
        #[arg(long, value_name = "memory|redis://HOST:PORT/DB")]
        store: Option<String>,
    },
}

#[derive(Args, Clone)]
struct HostOpts {
    /// The workspace directory, preopened as /workspace (default: current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Policy file with a `host` section (default: <workspace>/wasiclaw.json).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Also allow outbound requests to HOST[:PORT], `*.suffix` or `*` (repeatable).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_host: Vec<String>,
    /// Connect to ADDR[,ADDR...] for HOST:PORT, as curl's --resolve; TLS still
    /// checks HOST's certificate, and ADDR may be internal (repeatable).
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    resolve: Vec<String>,
    /// Linear-memory limit per guest memory, in MiB (default 64).
    #[arg(long)]
    memory_limit_mib: Option<u64>,
    /// Wall-clock limit per turn, in seconds (default 300).
    #[arg(long)]
    timeout_secs: Option<u64>,
    /// Largest response body the guest may receive, in bytes.
    #[arg(long)]
    max_response_bytes: Option<u64>,
    /// Token budget per session.
    #[arg(long)]
    session_budget: Option<u64>,
    /// Token budget per UTC day.
    #[arg(long)]
    daily_budget: Option<u64>,
    /// Load the tool plugin component at PATH as NAME, with no grants and
    /// default limits (repeatable; `plugins` in wasiclaw.json grants more).
    #[arg(long = "plugin", value_name = "NAME=PATH")]
    plugin: Vec<String>,
}

/// Flags handed through to the guest's own CLI unchanged.
#[derive(Args, Clone)]
struct AgentOpts {
    #[arg(long)]
    session: Option<String>,
    #[arg(long)]
    model: Option<String>,
    #[arg(long)]
    provider: Option<String>,
    #[arg(long)]
    max_iterations: Option<u32>,
    #[arg(long)]
    no_stream: bool,
}

impl AgentOpts {
    fn guest_args(&self, message: &str) -> Vec<String> {
        let mut a = Vec::new();
        let mut opt = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                a.push(k.to_string());
                a.push(v.clone());
            }
        };
        opt("--session", &self.session);
        opt("--model", &self.model);
        opt("--provider", &self.provider);
        opt(
            "--max-iterations",
            &self.max_iterations.map(|n| n.to_string()),
        );
        if self.no_stream {
            a.push("--no-stream".into());
        }
        a.push("-m".into());
        a.push(message.to_string());
        a
    }
}

impl HostOpts {
    fn policy(&self) -> anyhow::Result<Arc<HostPolicy>> {
        let ws = files::resolve_workspace(self.workspace.as_deref())?;
        let ov = Overrides {
            policy_file: self.policy.clone(),
            allow_hosts: self.allow_host.clone(),
            resolve: self.resolve.clone(),
            memory_limit_mib: self.memory_limit_mib,
            turn_timeout_secs: self.timeout_secs,
            max_response_bytes: self.max_response_bytes,
            session_budget: self.session_budget,
            daily_budget: self.daily_budget,
            plugins: self.plugin.clone(),
        };
        Ok(Arc::new(HostPolicy::load(&ws, &ov, &ProcessEnv)?))
    }
}

struct Ctx {
    module: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
}

impl Ctx {
    fn component(
        &self,
        engine: &wasmtime::Engine,
        http: bool,
    ) -> anyhow::Result<(wasmtime::component::Component, GuestModule, Outcome)> {
        let (embedded, name) = if http {
            (embedded::HTTP, "wasiclaw-http.wasm")
        } else {
            (embedded::CLI, "wasiclaw.wasm")
        };
        let m = GuestModule::load(self.module.as_deref(), embedded, name)?;
        let (c, outcome) = cache::load(engine, &m.bytes, self.cache_dir.as_deref())?;
        Ok((c, m, outcome))
    }

    /// The runner for `run` and `chat`, in plugin mode when plugins are configured.
    async fn runner(
        &self,
        engine: wasmtime::Engine,
        policy: &Arc<HostPolicy>,
    ) -> anyhow::Result<Runner> {
        let (component, _, toolbox) = self.guest(&engine, policy, false).await?;
        match toolbox {
            Some(tb) => Runner::with_toolbox(engine, &component, policy.clone(), tb),
            None => Runner::new(engine, &component, policy.clone()),
        }
    }

    /// The guest and, when plugins are configured, the toolbox answering
    /// its tools import: the uncomposed agent (edge agent with `http`) and
    /// dist/toolbox.wasm, built into the binary, with every plugin loaded.
    async fn guest(
        &self,
        engine: &wasmtime::Engine,
        policy: &Arc<HostPolicy>,
        http: bool,
    ) -> anyhow::Result<(wasmtime::component::Component, String, Option<Arc<Toolbox>>)> {
        if policy.plugins.is_empty() {
            let (c, m, _) = self.component(engine, http)?;
            return Ok((c, m.origin, None));
        }
        if self.module.is_some() {
            anyhow::bail!(
                "--module runs a composed module with its tools inside; with plugins the host \
                 links the agent and its tools itself (drop --module, or the plugins)"
            );
        }
        let (agent, name) = if http {
            (embedded::AGENT_HTTP, "components/agent-http.wasm")
        } else {
            (embedded::AGENT, "components/agent.wasm")
        };
        if agent.is_empty() || embedded::TOOLBOX.is_empty() {
            anyhow::bail!(
                "this wasiclaw binary was built without dist/{name} and dist/toolbox.wasm \
                 embedded, which plugins need: run scripts/build, then rebuild the host"
            );
        }
        let agent = GuestModule::load(None, agent, name)?;
        let toolbox = GuestModule::load(None, embedded::TOOLBOX, "toolbox.wasm")?;
        let dir = self.cache_dir.as_deref();
        let (agent_c, _) = cache::load(engine, &agent.bytes, dir)?;
        let (toolbox_c, _) = cache::load(engine, &toolbox.bytes, dir)?;
        let tb = Toolbox::new(engine, &toolbox_c, policy.clone())?;
        let builtin = tb.builtin_specs().await?;
        let loaded = plugins::load_all(policy, &builtin, dir).await?;
        let origin = format!("{} with {} and plugins", agent.origin, toolbox.origin);
        Ok((agent_c, origin, Some(Arc::new(tb.with_plugins(loaded)))))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Ctx {
        module: cli.module,
        cache_dir: if cli.no_cache {
            None
        } else {
            cli.cache_dir.or_else(cache::default_dir)
        },
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wasiclaw: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(dispatch(&ctx, cli.cmd)) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("wasiclaw: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<i32> {
    match cmd {
        Cmd::Run {
            host,
            agent,
            message,
        } => {
            let policy = host.policy()?;
            let engine = runtime::engine(false)?;
            let runner = ctx.runner(engine, &policy).await?;
            runner.run(&agent.guest_args(&message), true).await
        }
        Cmd::Chat { host, agent } => chat(ctx, host, agent).await,
        Cmd::Compile { http } => {
            let engine = runtime::engine(false)?;
            let (_, m, outcome) = ctx.component(&engine, http)?;
            match &ctx.cache_dir {
                Some(dir) => {
                    let path = cache::path_for(dir, &engine, &m.bytes);
                    let what = if outcome == Outcome::Hit {
                        "already cached"
                    } else {
                        "compiled"
                    };
                    print_line(&path.display().to_string());
                    eprintln!("wasiclaw: {} ({what})", m.origin);
                }
                None => eprintln!(
                    "wasiclaw: {} compiled (cache disabled, nothing stored)",
                    m.origin
                ),
            }
            Ok(0)
        }
        Cmd::Inspect { host, http } => {
            let policy = host.policy()?;
            let engine = runtime::engine(false)?;
            let (component, m, _) = ctx.component(&engine, http)?;
            let out = wasiclaw_host::inspect::describe(&engine, &component, &m, &policy);
            print_line(&serde_json::to_string_pretty(&out)?);
            Ok(0)
        }
        Cmd::Serve {
            host,
            listen,
            mcp_token,
            store,
        } => {
            let mut policy = host.policy()?;
            // The guest's MCP server checks it (crate::mcp::server in the
            // agent); the flag overrides `host.mcp_token`. The policy was just
            // made, so it has no other owner yet.
            if let Some(t) = mcp_token.filter(|t| !t.is_empty()) {
                if let Some(p) = Arc::get_mut(&mut policy) {
                    p.rules.guest_env.insert(MCP_TOKEN_ENV.into(), t);
                }
            }
            let engine = runtime::engine(true)?;
            let store = match store {
                Some(spec) => Some(wasiclaw_host::kv::Store::open(&spec).await?),
                None => None,
            };
            let (component, origin, toolbox) = ctx.guest(&engine, &policy, true).await?;
            eprintln!("wasiclaw: serving {origin} on http://{listen}");
            wasiclaw_host::serve::serve(engine, &component, policy, &listen, toolbox, store)
                .await?;
            Ok(0)
        }
    }
}

/// Prints a result line; a closed stdout (`| head`) is not an error worth a panic.
fn print_line(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{text}").and_then(|_| o.flush());
}

async fn chat(ctx: &Ctx, host: HostOpts, agent: AgentOpts) -> anyhow::Result<i32> {
    let policy = host.policy()?;
    let engine = runtime::engine(false)?;
    let runner = ctx.runner(engine, &policy).await?;
    let session = agent.session.clone().unwrap_or_else(|| "default".into());
    let agent = AgentOpts {
        session: Some(session.clone()),
        ..agent
    };
    eprintln!("wasiclaw chat (session {session:?}); an empty line or Ctrl-D ends it");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut last = 0;
    loop {
        eprint!("> ");
        let _ = std::io::stderr().flush();
        let Some(line) = rx.recv().await else { break };
        let line = line.trim();
        if line.is_empty() || line == "/exit" {
            break;
        }
        match runner.run(&agent.guest_args(line), false).await {
            Ok(code) => last = code,
            Err(e) => {
                eprintln!("wasiclaw: error: {e:#}");
                last = 1;
            }
        }
        println!();
    }
    Ok(last)
}
