//! Command-line parsing (hand-rolled: clap would cost more than the agent).

use crate::config::Overrides;
use crate::prelude::*;
use crate::provider::ProviderKind;
use crate::session;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub const HELP: &str = "\
wasiclaw - a personal AI agent in a WebAssembly component

USAGE:
    wasmtime run -S http --dir ./ws::/workspace --env OPENAI_API_KEY dist/wasiclaw.wasm -m \"hi\"
    wasiclaw [OPTIONS]

    With -m, runs one turn and prints the reply. Without -m, reads the message
    from stdin when stdin is not a terminal, else starts an interactive chat
    (prompt on stderr; /exit or end-of-input quits).

OPTIONS:
    -m, --message <TEXT>      The message to send
        --session <NAME>      Session to continue, [A-Za-z0-9._-] (default: default)
        --model <MODEL>       Model name (overrides WASICLAW_MODEL and wasiclaw.json)
        --provider <P>        openai or anthropic
        --max-iterations <N>  Model requests allowed per turn (default: 20)
        --no-stream           Wait for whole replies instead of streaming tokens
    -h, --help                Print this help
    -V, --version             Print the version

OUTPUT:
    stdout carries only the assistant's reply, then a newline. On a terminal
    the reply streams in token by token (with any text the model writes
    before calling tools). Otherwise stdout gets exactly the final answer once
    it is complete, so a reply that broke off and was retried leaves no
    trace; text written alongside tool calls then goes to stderr.
    stderr carries tool activity, one line per call, such as
    `[tool] read_file {\"path\":\"notes.md\"}`, warnings and retries, and on
    failure one last line `wasiclaw: error: <kind>: <message>`
    (kind: config, http, provider, session, max iterations).
    Exit status: 0 success, 1 runtime error, 2 usage error.

WORKSPACE:
    The preopened directory /workspace (else the first preopened directory).
    The system prompt includes AGENTS.md, SOUL.md, USER.md, TOOLS.md and
    MEMORY.md from it when present. Sessions are kept in sessions/<NAME>.jsonl.

CONFIGURATION (lowest to highest: defaults, wasiclaw.json, environment, flags):
    wasiclaw.json in the workspace, every key optional:
      provider         \"openai\" or \"anthropic\"
      model            model name
      maxIterations    model requests per turn (default 20)
      stream           stream replies (default true)
      contextTokens    context budget in tokens, ~4 chars each (default 32000);
                       the oldest turns are left out of requests beyond it
      maxTokens        reply token limit sent to Anthropic (default 4096)
      timeoutSecs      connect/first-byte/between-bytes timeout (default 300)
      openai           {\"baseUrl\": ..., \"apiKey\": ...}
      anthropic        {\"baseUrl\": ..., \"apiKey\": ...}
      embeddingModel   embedding model for memory search (used by the tools)
    Environment:
      OPENAI_API_KEY, OPENAI_BASE_URL (default https://api.openai.com/v1)
      ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL (default https://api.anthropic.com)
      WASICLAW_PROVIDER   openai|anthropic; when unset, inferred from which API
                          key is set, or openai when only a base URL is set
                          (local servers such as Ollama need no key)
      WASICLAW_MODEL      default gpt-4o-mini / claude-3-5-haiku-latest
      WASICLAW_EMBEDDING_MODEL
    Failed requests (connection errors, timeouts, HTTP 429 and 5xx, replies
    cut short) are retried up to 3 times with exponential backoff from 0.5s,
    honouring Retry-After (capped at 30s).
";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Run(RunArgs),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunArgs {
    pub message: Option<String>,
    pub session: String,
    pub overrides: Overrides,
}

/// Parses the arguments after the program name. `Err` is a usage error.
pub fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut run = RunArgs {
        session: session::DEFAULT_SESSION.to_string(),
        ..RunArgs::default()
    };
    // The grammar (which flags take a value) is the contract's, so a host
    // reading `--session` from the same argv finds what this parser finds.
    for item in wasiclaw_contract::args::items(args) {
        let (arg, flag, inline) = (item.arg, item.flag, item.inline);
        let value = |name: &str| -> Result<String, String> {
            item.value
                .map(str::to_string)
                .ok_or_else(|| cat!(name, " needs a value"))
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "-m" | "--message" => run.message = Some(value(flag)?),
            "--session" => {
                let v = value(flag)?;
                run.session = session::validate_name(&v)?.to_string();
            }
            "--model" => {
                let v = value(flag)?;
                if v.trim().is_empty() {
                    return Err("--model needs a non-empty value".into());
                }
                run.overrides.model = Some(v);
            }
            "--provider" => {
                let v = value(flag)?;
                run.overrides.provider =
                    Some(ProviderKind::parse(&v).ok_or_else(|| {
                        cat!("unknown provider '", v, "' (use openai or anthropic)")
                    })?);
            }
            "--max-iterations" => {
                let v = value(flag)?;
                match wasiclaw_json::parse_u64(&v).map(u32::try_from) {
                    Some(Ok(n)) if n >= 1 => run.overrides.max_iterations = Some(n),
                    _ => {
                        return Err(cat!(
                            "--max-iterations needs a positive integer, got '",
                            v,
                            "'"
                        ))
                    }
                }
            }
            "--no-stream" if !inline => run.overrides.no_stream = true,
            _ if flag.starts_with('-') && flag.len() > 1 => {
                return Err(cat!("unknown option '", flag, "'"))
            }
            _ => return Err(cat!("unexpected argument '", arg, "' (did you mean -m?)")),
        }
    }
    Ok(Command::Run(run))
}
