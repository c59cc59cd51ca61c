//! `wasiclaw-wamr`: runs the wasiclaw preview-1 core module on WAMR's fast
//! interpreter, the way a device would, with `wasiclaw_http` served natively
//! under the capability policy.
//!
//! ```text
//! wasiclaw-wamr [--workspace DIR] [--policy FILE] [--allow-host HOST[:PORT]]...
//!               [--resolve HOST:PORT:ADDR[,ADDR...]]...
//!               [--max-response-bytes N] [--session-budget N] [--daily-budget N]
//!               [--timeout-secs N] [--memory-limit-mib N]
//!               [--module PATH] [--stack-size BYTES]
//!               [agent flags: -m MESSAGE, --session NAME, --no-stream, ...]
//! ```
//!
//! Every flag the runner does not know goes to the agent unchanged, so the
//! agent's command line is the same as under `wasmtime run` / `wasiclaw run`.

mod cli;
mod errors;
mod http_host;
mod limits;
mod natives;
mod net;
mod policy;
mod response;
mod runtime;

use std::process::ExitCode;
use std::time::Duration;

/// `dist/wasiclaw-p1.wasm` when it existed at build time (build.rs), else empty.
static EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasiclaw-p1.wasm"));

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = match cli::plan(&args, &wasiclaw_policy::policy::ProcessEnv) {
        Ok(cli::Parsed::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Parsed::Run(p)) => p,
        Err(e) => {
            eprintln!("wasiclaw-wamr: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let wasm = match &plan.module {
        Some(path) => match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("wasiclaw-wamr: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None if EMBEDDED.is_empty() => {
            eprintln!(
                "wasiclaw-wamr: no module embedded (dist/wasiclaw-p1.wasm was missing at build time): \
                 run scripts/build-p1 and rebuild, or pass --module PATH"
            );
            return ExitCode::from(2);
        }
        None => EMBEDDED.to_vec(),
    };
    let session = wasiclaw_policy::model_calls::session_of(&plan.args);
    let rules = plan.policy.rules();
    let memory_limit = rules.memory_limit_bytes;
    let deadline = limits::Deadline::new(Duration::from_secs(rules.turn_timeout_secs));
    natives::install(http_host::HttpHost::new(
        plan.policy,
        &session,
        deadline.clone(),
    ));
    let result = runtime::run(&runtime::Guest {
        wasm: &wasm,
        workspace: &plan.workspace,
        env: &plan.env,
        args: &plan.args,
        stack_size: plan.stack_size,
        memory_limit,
        deadline: &deadline,
    });
    natives::uninstall();
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("wasiclaw-wamr: {e}");
            ExitCode::from(1)
        }
    }
}
