//! Configuration, lowest to highest precedence: built-in defaults,
//! `wasiclaw.json` in the workspace, environment variables, command-line flags.

use crate::prelude::*;
use wasiclaw_contract::env as var;
use wasiclaw_json::Value;

use crate::error::AgentError;
use crate::provider::{Endpoint, ProviderKind};

pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-3-5-haiku-latest";
pub const DEFAULT_MAX_ITERATIONS: u32 = 20;
pub const DEFAULT_CONTEXT_TOKENS: u32 = 32_000;
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;
/// Consolidation starts when the session's unconsolidated history costs
/// more than this share (percent) of `context_tokens`.
pub const DEFAULT_CONSOLIDATE_PERCENT: u32 = 50;
pub const CONFIG_FILE: &str = "wasiclaw.json";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub endpoint: Endpoint,
    pub model: String,
    pub max_iterations: u32,
    pub stream: bool,
    pub context_tokens: u32,
    pub max_tokens: u32,
    pub timeout_secs: u64,
    /// `mcpServers`: MCP servers whose tools the model may use.
    pub mcp: Vec<crate::mcp::config::ServerConfig>,
    /// Percent of `context_tokens`; 0 turns consolidation off.
    pub consolidate_percent: u32,
}

/// What the command line may override.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub provider: Option<ProviderKind>,
    pub model: Option<String>,
    pub max_iterations: Option<u32>,
    pub no_stream: bool,
}

/// `wasiclaw.json`, every key optional.
#[derive(Default)]
struct FileConfig {
    provider: Option<String>,
    model: Option<String>,
    max_iterations: Option<u32>,
    stream: Option<bool>,
    context_tokens: Option<u32>,
    max_tokens: Option<u32>,
    timeout_secs: Option<u64>,
    consolidate_percent: Option<u32>,
    openai: ProviderSection,
    anthropic: ProviderSection,
    mcp: Vec<crate::mcp::config::ServerConfig>,
}

#[derive(Default)]
struct ProviderSection {
    base_url: Option<String>,
    api_key: Option<String>,
}

fn bad(msg: String) -> AgentError {
    AgentError::Config(cat!(CONFIG_FILE, ": ", msg))
}

fn file_str(v: &Value, key: &str) -> Result<Option<String>, AgentError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(cat!("\"", key, "\" must be a string"))),
    }
}

fn file_num(v: &Value, key: &str, min: u64) -> Result<Option<u64>, AgentError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => match n.as_u64() {
            Some(n) if n >= min && n <= u64::from(u32::MAX) => Ok(Some(n)),
            _ => Err(bad(cat!("\"", key, "\" must be an integer >= ", min))),
        },
    }
}

fn section(v: &Value, key: &str) -> Result<ProviderSection, AgentError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(ProviderSection::default()),
        Some(s @ Value::Obj(_)) => Ok(ProviderSection {
            base_url: file_str(s, "baseUrl")?,
            api_key: file_str(s, "apiKey")?,
        }),
        Some(_) => Err(bad(cat!("\"", key, "\" must be an object"))),
    }
}

fn parse_file(text: &str) -> Result<FileConfig, AgentError> {
    let v = wasiclaw_json::parse(text).map_err(|e| bad(e.message()))?;
    if v.as_object().is_none() {
        return Err(bad("the top level must be an object".into()));
    }
    let stream = match v.get("stream") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad("\"stream\" must be true or false".into())),
    };
    // Read by the tools component; validated here so a typo fails early.
    file_str(&v, "embeddingModel")?;
    Ok(FileConfig {
        provider: file_str(&v, "provider")?,
        model: file_str(&v, "model")?,
        max_iterations: file_num(&v, "maxIterations", 1)?.map(|n| n as u32),
        stream,
        context_tokens: file_num(&v, "contextTokens", 1)?.map(|n| n as u32),
        max_tokens: file_num(&v, "maxTokens", 1)?.map(|n| n as u32),
        timeout_secs: file_num(&v, "timeoutSecs", 1)?,
        consolidate_percent: match file_num(&v, "consolidatePercent", 0)? {
            Some(n) if n > 100 => {
                return Err(bad("\"consolidatePercent\" must be 0 to 100".into()))
            }
            n => n.map(|n| n as u32),
        },
        openai: section(&v, "openai")?,
        anthropic: section(&v, "anthropic")?,
        mcp: crate::mcp::config::parse(&v).map_err(bad)?,
    })
}

/// Resolves the configuration. `file` is the text of `wasiclaw.json` if the
/// workspace has one; `env` looks up environment variables (empty = unset).
pub fn resolve(
    file: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<Config, AgentError> {
    let f = match file {
        Some(text) => parse_file(text)?,
        None => FileConfig::default(),
    };
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let host_auth = env(var::HOST_AUTH);
    // A key the host adds on the guest's behalf counts as configured.
    let keyed = |kind: ProviderKind, own: Option<String>| {
        own.is_some() || wasiclaw_contract::host_adds_key(host_auth.as_deref(), kind)
    };
    let openai_key = env(var::OPENAI_API_KEY).or(f.openai.api_key.clone());
    let openai_url = env(var::OPENAI_BASE_URL).or(f.openai.base_url.clone());
    let anthropic_key = env(var::ANTHROPIC_API_KEY).or(f.anthropic.api_key.clone());
    let anthropic_url = env(var::ANTHROPIC_BASE_URL).or(f.anthropic.base_url.clone());

    let named = match (env(var::PROVIDER), &f.provider) {
        (Some(p), _) => Some((p, var::PROVIDER)),
        (None, Some(p)) => Some((p.clone(), "\"provider\" in wasiclaw.json")),
        (None, None) => None,
    };
    let kind = match (flags.provider, named) {
        (Some(k), _) => k,
        (None, Some((p, from))) => ProviderKind::parse(p.trim()).ok_or_else(|| {
            AgentError::Config(cat!(
                from,
                ": unknown provider '",
                p,
                "' (use openai or anthropic)"
            ))
        })?,
        (None, None) => {
            if keyed(ProviderKind::OpenAi, openai_key.clone()) {
                ProviderKind::OpenAi
            } else if keyed(ProviderKind::Anthropic, anthropic_key.clone()) {
                ProviderKind::Anthropic
            } else if openai_url.is_some() {
                ProviderKind::OpenAi
            } else if anthropic_url.is_some() {
                ProviderKind::Anthropic
            } else {
                return Err(AgentError::Config(
                    "no provider configured: set OPENAI_API_KEY or ANTHROPIC_API_KEY \
                     (or OPENAI_BASE_URL for a local server)"
                        .into(),
                ));
            }
        }
    };
    let (key, url, default_model) = match kind {
        ProviderKind::OpenAi => (openai_key, openai_url, DEFAULT_OPENAI_MODEL),
        ProviderKind::Anthropic => (anthropic_key, anthropic_url, DEFAULT_ANTHROPIC_MODEL),
    };
    let default_url = kind.default_base_url();
    let base_url = url.unwrap_or_else(|| default_url.to_string());
    // The hosted APIs always need a key, the guest's own or one the host
    // adds; local servers (Ollama, mocks) do not.
    if !keyed(kind, key.clone()) && base_url.trim_end_matches('/') == default_url {
        return Err(AgentError::Config(cat!(
            kind.key_env(),
            " is not set (needed for ",
            default_url,
            ")"
        )));
    }
    crate::http::split_url(&base_url).map_err(AgentError::Config)?;
    let model = flags
        .model
        .clone()
        .or(env(var::MODEL))
        .or(f.model)
        .unwrap_or_else(|| default_model.to_string());
    Ok(Config {
        endpoint: Endpoint {
            kind,
            base_url,
            api_key: key,
        },
        model,
        max_iterations: flags
            .max_iterations
            .or(f.max_iterations)
            .unwrap_or(DEFAULT_MAX_ITERATIONS),
        stream: !flags.no_stream && f.stream.unwrap_or(true),
        context_tokens: f.context_tokens.unwrap_or(DEFAULT_CONTEXT_TOKENS),
        max_tokens: f.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        timeout_secs: f.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
        mcp: crate::mcp::config::with_env(f.mcp, &env),
        consolidate_percent: f.consolidate_percent.unwrap_or(DEFAULT_CONSOLIDATE_PERCENT),
    })
}
