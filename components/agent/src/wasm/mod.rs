//! The component shim: WIT bindings and the seams implemented over WASI.

#[cfg(feature = "http-edge")]
mod edge;
mod http;
mod io;
#[cfg(feature = "kv")]
mod kv;

use core::time::Duration;

#[cfg(not(feature = "http-edge"))]
use crate::app::Io;
use crate::app::{self, Platform};
use crate::error::AgentError;
use crate::prelude::*;
use crate::stdio::Output as _;
use crate::tools::{ToolError, ToolSpec, Tools};

#[cfg(not(feature = "http-edge"))]
wasiclaw_guest::bindings!({
    // The contract world plus the CLI interfaces the command uses directly
    // (std would import most of them too, at a higher size cost):
    // terminal-stdin tells chat from piped input, terminal-stdout live
    // streaming from a pipe, exit gives status 2.
    inline: "package wasiclaw:agent-shim;
        world agent-cli-shim {
            include wasiclaw:core/agent-cli@0.1.0;
            import wasi:cli/environment@0.2.12;
            import wasi:cli/stdin@0.2.12;
            import wasi:cli/stdout@0.2.12;
            import wasi:cli/stderr@0.2.12;
            import wasi:cli/terminal-stdin@0.2.12;
            import wasi:cli/terminal-stdout@0.2.12;
            import wasi:cli/exit@0.2.12;
        }",
    path: "../../wit",
});

// The edge build (feature `http-edge`): the same agent behind
// `wasi:http/incoming-handler` instead of `wasi:cli/run`. Only the
// environment (configuration) and stderr (logs) come from wasi:cli.
#[cfg(all(feature = "http-edge", not(feature = "kv")))]
wasiclaw_guest::bindings!({
    inline: "package wasiclaw:agent-shim;
        world agent-http-shim {
            include wasiclaw:core/agent-http@0.1.0;
            import wasi:cli/environment@0.2.12;
            import wasi:cli/stderr@0.2.12;
        }",
    path: "../../wit",
});

// The key-value build (feature `kv`): the edge agent with its sessions in
// wasi:keyvalue (world agent-http-kv, wit/kv.wit).
#[cfg(feature = "kv")]
wasiclaw_guest::bindings!({
    inline: "package wasiclaw:agent-shim;
        world agent-http-kv-shim {
            include wasiclaw:core/agent-http-kv@0.1.0;
            import wasi:cli/environment@0.2.12;
            import wasi:cli/stderr@0.2.12;
        }",
    path: "../../wit",
});

use exports::wasiclaw::core::agent as wit_agent;
use wasiclaw::core::tools as wit_tools;

struct Component;

struct WasiTools;

impl Tools for WasiTools {
    fn list(&mut self) -> Vec<ToolSpec> {
        wit_tools::list()
            .into_iter()
            .map(|t| ToolSpec {
                name: t.name,
                description: t.description,
                parameters: t.parameters,
            })
            .collect()
    }

    fn call(&mut self, name: &str, arguments: &str) -> Result<String, ToolError> {
        use wit_tools::ToolError as E;
        wit_tools::call(name, arguments).map_err(|e| match e {
            E::UnknownTool(m) => ToolError::UnknownTool(m),
            E::InvalidArguments(m) => ToolError::InvalidArguments(m),
            E::Denied(m) => ToolError::Denied(m),
            E::NotFound(m) => ToolError::NotFound(m),
            E::Failed(m) => ToolError::Failed(m),
        })
    }
}

struct WasiClock;

impl crate::http::Clock for WasiClock {
    fn now_unix(&self) -> u64 {
        wasi::clocks::wall_clock::now().seconds
    }

    fn sleep(&mut self, d: Duration) {
        wasiclaw_guest::wasi::clocks::monotonic_clock::subscribe_duration(crate::http::nanos(d))
            .block();
    }
}

/// The directory `WASICLAW_WORKSPACE` names, inside the preopen that holds
/// it (hosts that cannot mount it at `/workspace`: jco); else `/workspace`
/// when preopened, else the first preopen.
fn workspace() -> (Result<String, String>, io::WasiFiles) {
    let mut dirs = wasi::filesystem::preopens::get_directories();
    if let Some(named) = env_var(wasiclaw_contract::env::WORKSPACE).filter(|w| !w.is_empty()) {
        let none = |why: &str| {
            (
                Err(cat!(
                    wasiclaw_contract::env::WORKSPACE,
                    "=",
                    named,
                    ": ",
                    why
                )),
                io::WasiFiles { dir: None },
            )
        };
        let Some((at, inside)) = wasiclaw_contract::find_workspace(&dirs, &named) else {
            return none("not inside any preopened directory");
        };
        let (dir, _) = dirs.swap_remove(at);
        let dir = if inside.is_empty() {
            dir
        } else {
            use wasi::filesystem::types::{DescriptorFlags as D, OpenFlags, PathFlags};
            match dir.open_at(
                PathFlags::empty(),
                inside,
                OpenFlags::DIRECTORY,
                D::READ | D::MUTATE_DIRECTORY,
            ) {
                Ok(d) => d,
                Err(_) => return none("cannot be opened as a directory"),
            }
        };
        let name = named.trim_end_matches('/');
        let name = if name.is_empty() { "/" } else { name };
        return (Ok(name.to_string()), io::WasiFiles { dir: Some(dir) });
    }
    let Some(at) = wasiclaw_contract::pick_workspace(&dirs) else {
        let why = "no workspace directory: run with --dir <dir>::/workspace".to_string();
        return (Err(why), io::WasiFiles { dir: None });
    };
    let (dir, name) = dirs.swap_remove(at);
    (Ok(name), io::WasiFiles { dir: Some(dir) })
}

fn env_var(name: &str) -> Option<String> {
    wasi::cli::environment::get_environment()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn stderr() -> io::Out {
    io::Out(wasi::cli::stderr::get_stderr())
}

fn with_platform<R>(f: impl FnOnce(&mut Platform) -> R) -> R {
    let (ws, mut files) = workspace();
    let mut http = http::WasiHttp;
    let mut clock = WasiClock;
    let mut tools = WasiTools;
    #[cfg(feature = "kv")]
    let mut bucket = kv::WasiKv::open(&env_var);
    let mut p = Platform {
        http: &mut http,
        clock: &mut clock,
        tools: &mut tools,
        files: &mut files,
        #[cfg(feature = "kv")]
        kv: Some(&mut bucket),
        #[cfg(not(feature = "kv"))]
        kv: None,
        workspace: ws.as_deref().map_err(Clone::clone),
        env: &env_var,
    };
    f(&mut p)
}

#[cfg(not(feature = "http-edge"))]
impl exports::wasi::cli::run::Guest for Component {
    fn run() -> Result<(), ()> {
        let args: Vec<String> = wasi::cli::environment::get_arguments()
            .into_iter()
            .skip(1)
            .collect();
        let code = with_platform(|p| {
            let mut io = Io {
                stdout: &mut io::Out(wasi::cli::stdout::get_stdout()),
                stderr: &mut stderr(),
                stdin: &mut io::In(wasi::cli::stdin::get_stdin()),
                stdin_is_terminal: wasi::cli::terminal_stdin::get_terminal_stdin().is_some(),
            };
            let live = wasi::cli::terminal_stdout::get_terminal_stdout().is_some();
            app::main_on(&args, p, &mut io, live)
        });
        match code {
            app::EXIT_OK => Ok(()),
            app::EXIT_ERROR => Err(()),
            other => {
                wasi::cli::exit::exit_with_code(other as u8);
                Err(())
            }
        }
    }
}

impl wit_agent::Guest for Component {
    fn turn(session: String, message: String) -> Result<wit_agent::Reply, wit_agent::Error> {
        let mut err = stderr();
        let mut log = |line: &str| {
            err.put(&cat!(line, "\n"));
        };
        let out = with_platform(|p| {
            app::export_turn(p, &mut log, &session, &message, &mut crate::agent::NoSink)
        });
        match out {
            Ok(o) => Ok(wit_agent::Reply {
                text: o.text,
                usage: wit_agent::Usage {
                    input_tokens: o.usage.input_tokens,
                    output_tokens: o.usage.output_tokens,
                },
                tool_calls: o.tool_calls,
            }),
            Err(e) => Err(match e {
                AgentError::Config(m) => wit_agent::Error::Config(m),
                AgentError::Http(m) => wit_agent::Error::Http(m),
                AgentError::Provider(m) => wit_agent::Error::Provider(m),
                AgentError::Session(m) => wit_agent::Error::Session(m),
                AgentError::MaxIterations(n) => wit_agent::Error::MaxIterations(n),
            }),
        }
    }
}

export!(Component);
