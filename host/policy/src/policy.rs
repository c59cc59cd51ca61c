//! The host policy: what the guest may reach, how much it may use, and which
//! provider endpoints the host talks to on its behalf.
//!
//! Sources, later wins: built-in defaults, the `host` section of
//! `<workspace>/wasiclaw.json` (or `--policy FILE`), command-line flags.
//! API keys are deliberately NOT read from any file: the workspace is
//! readable by the guest, so a key stored there would leak to it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::origin::endpoint;
pub use crate::origin::{split_url, Endpoint, HostPattern, ProviderKind};
pub use crate::plugins::{OriginSecret, PluginConfigError, PluginEntry, PluginSpec};
pub use crate::resolve::Pin;
use wasiclaw_contract::env as var;

pub const DEFAULT_MEMORY_MIB: u64 = 64;
pub const DEFAULT_TURN_SECS: u64 = 300;
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug)]
pub enum PolicyError {
    Read(PathBuf, std::io::Error),
    Parse(PathBuf, String),
    BadUrl(String, String),
    BadHost(String),
    /// A `host.resolve` / `--resolve` entry, and what is wrong with it.
    BadResolve(String, String),
    /// A `plugins` entry or `--plugin` flag.
    Plugin(PluginConfigError),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            PolicyError::Parse(p, e) => write!(f, "invalid host policy in {}: {e}", p.display()),
            PolicyError::BadUrl(u, e) => write!(f, "invalid provider URL {u:?}: {e}"),
            PolicyError::BadHost(h) => write!(f, "invalid allowed host {h:?}"),
            PolicyError::BadResolve(e, why) => write!(
                f,
                "invalid resolve entry {e:?}: {why} (expected HOST:PORT:ADDR[,ADDR...], \
                 e.g. api.openai.com:443:127.0.0.1)"
            ),
            PolicyError::Plugin(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PolicyError {}

/// The `host` section as written in `wasiclaw.json`; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    pub allow_hosts: Option<Vec<String>>,
    /// `HOST:PORT:ADDR[,ADDR...]` pins, as curl's `--resolve` (see `resolve`).
    pub resolve: Option<Vec<String>>,
    pub memory_limit_mib: Option<u64>,
    pub turn_timeout_secs: Option<u64>,
    pub max_response_bytes: Option<u64>,
    pub budget: Option<BudgetSection>,
    /// PEM certificates trusted for HTTPS besides the webpki roots; a
    /// relative path is relative to the policy file. Only a host that speaks
    /// TLS reads it (the native host, at startup).
    pub extra_ca_file: Option<PathBuf>,
    /// The bearer token the edge build's MCP endpoint (`/mcp`) requires;
    /// `wasiclaw serve --mcp-token` overrides it. The guest's MCP server
    /// checks it, so it is the one secret handed to the guest.
    pub mcp_token: Option<String>,
}

/// The guest environment variable carrying `mcp_token` to the MCP server.
pub const MCP_TOKEN_ENV: &str = "WASICLAW_MCP_TOKEN";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    pub session_tokens: Option<u64>,
    pub daily_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    host: Option<HostSection>,
    /// Tool plugins by name (see `plugins::PluginEntry`).
    plugins: Option<BTreeMap<String, PluginEntry>>,
}

/// The effective policy for one host process.
#[derive(Clone, Debug)]
pub struct Policy {
    pub workspace: PathBuf,
    pub endpoints: Vec<Endpoint>,
    pub allow_hosts: Vec<HostPattern>,
    /// Names pinned to addresses for the run (file entries, then flags).
    pub resolve: Vec<Pin>,
    pub memory_limit_bytes: u64,
    pub turn_timeout_secs: u64,
    pub max_response_bytes: u64,
    pub session_budget: Option<u64>,
    pub daily_budget: Option<u64>,
    /// Extra PEM roots for outgoing HTTPS, resolved against the policy
    /// file's directory; read by the host that does TLS, not here.
    pub extra_ca_file: Option<PathBuf>,
    /// Exactly what the guest's environment will contain.
    pub guest_env: BTreeMap<String, String>,
    /// `${ENV_NAME}` header values of the workspace's `mcpServers` that the
    /// host fills in (see `mcp_headers`).
    pub mcp_secrets: Vec<crate::mcp_headers::HeaderSecret>,
    /// Where the policy file came from, if any.
    pub source: Option<PathBuf>,
    /// Whether an `allow_hosts` entry that is a literal address (or
    /// `localhost`) may reach a private address. True for the operator's
    /// list; false in a plugin's narrowed policy (`PluginSpec::policy`).
    pub literal_addresses_may_be_internal: bool,
    /// Tool plugins: the file's `plugins`, then `--plugin` flags.
    pub plugins: Vec<PluginSpec>,
    /// Host-held secrets added to requests to one origin each: empty for
    /// the operator's policy, a plugin's `secret:` grants in its own.
    pub origin_secrets: Vec<OriginSecret>,
}

/// Command-line overrides; `None` keeps the file's or the default value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub policy_file: Option<PathBuf>,
    pub allow_hosts: Vec<String>,
    /// `--resolve` entries; they follow (and so override) the file's.
    pub resolve: Vec<String>,
    pub memory_limit_mib: Option<u64>,
    pub turn_timeout_secs: Option<u64>,
    pub max_response_bytes: Option<u64>,
    pub session_budget: Option<u64>,
    pub daily_budget: Option<u64>,
    /// `--plugin NAME=PATH` flags (paths relative to the current directory).
    pub plugins: Vec<String>,
}

/// Reads the host's own environment; a seam so tests can pass a map.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

impl Policy {
    pub fn load(workspace: &Path, ov: &Overrides, env: &dyn Env) -> Result<Policy, PolicyError> {
        let (file, source) = read_section(workspace, ov.policy_file.as_deref())?;
        let section = file.host.unwrap_or_default();
        let base = source
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(workspace)
            .to_path_buf();
        let mut plugins = Vec::new();
        for (name, entry) in file.plugins.iter().flatten() {
            plugins.push(
                PluginSpec::from_entry(name, entry, &base, env).map_err(PolicyError::Plugin)?,
            );
        }
        for flag in &ov.plugins {
            plugins.push(PluginSpec::from_flag(flag, env).map_err(PolicyError::Plugin)?);
        }
        let mut endpoints = Vec::new();
        for kind in ProviderKind::ALL {
            let key = env.get(kind.key_env());
            let base = env.get(kind.base_url_env());
            if key.is_some() || base.is_some() {
                let base = base.unwrap_or_else(|| kind.default_base_url().to_string());
                endpoints.push(endpoint(kind, base, key)?);
            }
        }

        let mut allow_hosts = Vec::new();
        for h in section.allow_hosts.iter().flatten().chain(&ov.allow_hosts) {
            allow_hosts.push(HostPattern::parse(h)?);
        }
        let mut resolve = Vec::new();
        for r in section.resolve.iter().flatten().chain(&ov.resolve) {
            resolve.push(Pin::parse(r)?);
        }
        let budget = section.budget.unwrap_or_default();
        let extra_ca_file = match (&section.extra_ca_file, &source) {
            (Some(f), Some(src)) => Some(src.parent().unwrap_or(Path::new("")).join(f)),
            (f, _) => f.clone(),
        };

        // The guest gets base URLs and, for the providers whose key the
        // host holds, word that the host adds it (never the key itself).
        let mut guest_env = BTreeMap::new();
        for e in &endpoints {
            guest_env.insert(e.kind.base_url_env().to_string(), e.base.clone());
        }
        let keyed: Vec<&str> = endpoints
            .iter()
            .filter(|e| e.key.is_some())
            .map(|e| e.kind.name())
            .collect();
        if !keyed.is_empty() {
            guest_env.insert(var::HOST_AUTH.to_string(), keyed.join(","));
        }
        for name in var::PASSED_THROUGH {
            if let Some(v) = env.get(name) {
                guest_env.insert(name.to_string(), v);
            }
        }
        if let Some(t) = section.mcp_token.as_ref().filter(|t| !t.is_empty()) {
            guest_env.insert(MCP_TOKEN_ENV.into(), t.clone());
        }
        // With only Anthropic configured the agent must not default to OpenAI.
        if !guest_env.contains_key(var::PROVIDER)
            && endpoints.len() == 1
            && endpoints[0].kind == ProviderKind::Anthropic
        {
            guest_env.insert(var::PROVIDER.into(), "anthropic".into());
        }

        let mib = ov
            .memory_limit_mib
            .or(section.memory_limit_mib)
            .unwrap_or(DEFAULT_MEMORY_MIB);
        Ok(Policy {
            workspace: workspace.to_path_buf(),
            endpoints,
            allow_hosts,
            resolve,
            memory_limit_bytes: mib.saturating_mul(1024 * 1024),
            turn_timeout_secs: ov
                .turn_timeout_secs
                .or(section.turn_timeout_secs)
                .unwrap_or(DEFAULT_TURN_SECS),
            max_response_bytes: ov
                .max_response_bytes
                .or(section.max_response_bytes)
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            session_budget: ov.session_budget.or(budget.session_tokens),
            daily_budget: ov.daily_budget.or(budget.daily_tokens),
            extra_ca_file,
            guest_env,
            mcp_secrets: crate::mcp_headers::load(workspace, env),
            source,
            literal_addresses_may_be_internal: true,
            plugins,
            origin_secrets: Vec::new(),
        })
    }

    /// The configured endpoint serving `scheme://host:port`, if any.
    pub fn endpoint_for(&self, scheme: &str, host: &str, port: u16) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.scheme == scheme && e.port == port && e.host.eq_ignore_ascii_case(host))
    }

    /// The addresses the operator pinned `host:port` to, if any.
    pub fn pinned(&self, host: &str, port: u16) -> Option<&[SocketAddr]> {
        crate::resolve::pinned(&self.resolve, host, port)
    }

    /// The endpoint on `matched`'s origin that speaks the request's API.
    /// One origin may serve both APIs (a local gateway, or one mock), and the
    /// key header and the usage format must follow the API the request
    /// speaks; Anthropic's required `anthropic-version` header tells which.
    pub fn endpoint_speaking<'a>(
        &'a self,
        matched: &'a Endpoint,
        anthropic_request: bool,
    ) -> &'a Endpoint {
        let kind = if anthropic_request {
            ProviderKind::Anthropic
        } else {
            ProviderKind::OpenAi
        };
        self.endpoints
            .iter()
            .find(|e| {
                e.kind == kind
                    && e.scheme == matched.scheme
                    && e.port == matched.port
                    && e.host.eq_ignore_ascii_case(&matched.host)
            })
            .unwrap_or(matched)
    }

    /// The policy as JSON for `wasiclaw inspect`; keys only as set/unset.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let endpoints: Vec<_> = self
            .endpoints
            .iter()
            .map(|e| {
                json!({
                    "provider": e.kind.name(),
                    "base_url": e.base,
                    "api_key": if e.key.is_some() { "set in host env (injected by host, never given to guest)" } else { "none" },
                })
            })
            .collect();
        // The MCP token is shown as set, not printed.
        let mut guest_env = self.guest_env.clone();
        if let Some(t) = guest_env.get_mut(MCP_TOKEN_ENV) {
            *t = "[set]".into();
        }
        json!({
            "source": self.source.as_ref().map(|p| p.display().to_string()),
            "workspace": self.workspace.display().to_string(),
            "preopens": [{"host": self.workspace.display().to_string(), "guest": wasiclaw_contract::WORKSPACE_MOUNT}],
            "provider_endpoints": endpoints,
            "allow_hosts": self.allow_hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            "resolve": self.resolve.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "private_addresses": "refused unless a provider endpoint, a literal address in allow_hosts, or a name pinned by resolve",
            "guest_env": guest_env,
            "mcp_headers_set_by_host": self.mcp_secrets.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>(),
            "memory_limit_bytes": self.memory_limit_bytes,
            "turn_timeout_secs": self.turn_timeout_secs,
            "max_response_bytes": self.max_response_bytes,
            "budget": {"session_tokens": self.session_budget, "daily_tokens": self.daily_budget},
            "extra_ca_file": self.extra_ca_file.as_ref().map(|p| p.display().to_string()),
            "plugins": self.plugins.iter().map(PluginSpec::to_json).collect::<Vec<_>>(),
        })
    }
}

fn read_section(
    workspace: &Path,
    explicit: Option<&Path>,
) -> Result<(ConfigFile, Option<PathBuf>), PolicyError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = workspace.join("wasiclaw.json");
            if !p.is_file() {
                return Ok((ConfigFile::default(), None));
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| PolicyError::Read(path.clone(), e))?;
    let file: ConfigFile =
        serde_json::from_str(&text).map_err(|e| PolicyError::Parse(path.clone(), e.to_string()))?;
    Ok((file, Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn one_origin_serving_both_apis_keys_each_by_the_api_spoken() {
        let e = env(&[
            ("OPENAI_API_KEY", "sk-o"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:7000/v1"),
            ("ANTHROPIC_API_KEY", "sk-a"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:7000"),
        ]);
        let dir = std::env::temp_dir().join("no-such-ws");
        let p = Policy::load(&dir, &Overrides::default(), &e).unwrap();
        let matched = p.endpoint_for("http", "127.0.0.1", 7000).unwrap();
        let pick = |anthropic| p.endpoint_speaking(matched, anthropic);
        assert_eq!(pick(true).kind, ProviderKind::Anthropic);
        assert_eq!(pick(true).key.as_deref(), Some("sk-a"));
        assert_eq!(pick(false).kind, ProviderKind::OpenAi);
        assert_eq!(pick(false).key.as_deref(), Some("sk-o"));
    }

    #[test]
    fn keys_stay_out_of_guest_env() {
        let dir = std::env::temp_dir();
        let e = env(&[
            ("OPENAI_API_KEY", "sk-secret"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("WASICLAW_MODEL", "m"),
            ("HOME", "/root"),
        ]);
        let p = Policy::load(&dir.join("no-such-ws"), &Overrides::default(), &e).unwrap();
        assert_eq!(
            p.guest_env.get("OPENAI_BASE_URL").unwrap(),
            ProviderKind::OpenAi.default_base_url()
        );
        assert_eq!(p.guest_env.get("WASICLAW_MODEL").unwrap(), "m");
        assert_eq!(
            p.guest_env.get("WASICLAW_HOST_AUTH").map(String::as_str),
            Some("openai,anthropic")
        );
        assert!(p
            .guest_env
            .keys()
            .all(|k| !k.ends_with("_API_KEY") && k != "HOME"));
        assert!(p.guest_env.values().all(|v| !v.contains("sk-")));
        let shown = p.to_json().to_string();
        assert!(!shown.contains("sk-secret") && !shown.contains("sk-ant"));
        assert!(!format!("{p:?}").contains("sk-secret"));
    }

    #[test]
    fn section_and_overrides() {
        let dir = std::env::temp_dir().join(format!("wasiclaw-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("wasiclaw.json"),
            r#"{"model":"x","host":{"allow_hosts":["example.com"],"memory_limit_mib":8,"budget":{"daily_tokens":5}}}"#,
        )
        .unwrap();
        let ov = Overrides {
            memory_limit_mib: Some(16),
            ..Default::default()
        };
        let p = Policy::load(
            &dir,
            &ov,
            &env(&[("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")]),
        )
        .unwrap();
        assert_eq!(p.memory_limit_bytes, 16 << 20);
        assert_eq!(p.daily_budget, Some(5));
        assert_eq!(p.allow_hosts[0].host, "example.com");
        assert_eq!(p.guest_env.get("WASICLAW_PROVIDER").unwrap(), "anthropic");
        assert!(p.endpoint_for("http", "127.0.0.1", 9).is_some());
        assert!(!p.guest_env.contains_key(MCP_TOKEN_ENV));
        std::fs::write(dir.join("wasiclaw.json"), r#"{"host":{"mcp_token":"t0k"}}"#).unwrap();
        let p = Policy::load(&dir, &Overrides::default(), &env(&[])).unwrap();
        assert_eq!(
            p.guest_env.get(MCP_TOKEN_ENV).map(String::as_str),
            Some("t0k")
        );
        std::fs::write(dir.join("wasiclaw.json"), r#"{"host":{"bogus":1}}"#).unwrap();
        assert!(Policy::load(&dir, &Overrides::default(), &env(&[])).is_err());
        // The CA file is only located here (the host doing TLS reads it),
        // relative to the policy file wherever that is.
        std::fs::write(
            dir.join("wasiclaw.json"),
            r#"{"host":{"extra_ca_file":"ca.pem"}}"#,
        )
        .unwrap();
        let p = Policy::load(&dir, &Overrides::default(), &env(&[])).unwrap();
        assert_eq!(p.extra_ca_file, Some(dir.join("ca.pem")));
        let shown = p.to_json()["extra_ca_file"].clone();
        assert_eq!(shown, dir.join("ca.pem").display().to_string());
        let elsewhere = dir.join("etc");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(
            elsewhere.join("p.json"),
            r#"{"host":{"extra_ca_file":"/abs/ca.pem"}}"#,
        )
        .unwrap();
        let ov = Overrides {
            policy_file: Some(elsewhere.join("p.json")),
            ..Default::default()
        };
        let p = Policy::load(&dir, &ov, &env(&[])).unwrap();
        assert_eq!(p.extra_ca_file, Some(PathBuf::from("/abs/ca.pem")));
        assert_eq!(p.source, Some(elsewhere.join("p.json")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolve_pins_come_from_the_file_then_the_flags() {
        let dir = std::env::temp_dir().join(format!("wasiclaw-resolve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("wasiclaw.json"),
            r#"{"host":{"resolve":["api.openai.com:443:10.0.0.1","api.anthropic.com:443:[::1]"]}}"#,
        )
        .unwrap();
        let ov = Overrides {
            resolve: vec!["api.openai.com:443:127.0.0.1".into()],
            ..Default::default()
        };
        let p = Policy::load(&dir, &ov, &env(&[])).unwrap();
        assert_eq!(p.resolve.len(), 3);
        // The flag, later, overrides the file's pin for the same name.
        let openai = p.pinned("api.openai.com", 443).unwrap();
        assert_eq!(openai, &["127.0.0.1:443".parse().unwrap()]);
        let anthropic = p.pinned("API.Anthropic.com", 443).unwrap();
        assert_eq!(anthropic, &["[::1]:443".parse().unwrap()]);
        assert!(p.pinned("api.openai.com", 80).is_none());
        assert_eq!(
            p.to_json()["resolve"],
            serde_json::json!([
                "api.openai.com:443:10.0.0.1",
                "api.anthropic.com:443:[::1]",
                "api.openai.com:443:127.0.0.1"
            ])
        );
        // A bad entry, in the file or on the command line, stops the load.
        let bad = Overrides {
            resolve: vec!["api.openai.com:443".into()],
            ..Default::default()
        };
        let e = Policy::load(&dir, &bad, &env(&[])).unwrap_err();
        assert!(matches!(e, PolicyError::BadResolve(..)), "{e:?}");
        std::fs::write(
            dir.join("wasiclaw.json"),
            r#"{"host":{"resolve":["api.openai.com:443:nowhere"]}}"#,
        )
        .unwrap();
        let e = Policy::load(&dir, &Overrides::default(), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nowhere\" is not an IP address"), "{e}");
        std::fs::write(dir.join("wasiclaw.json"), r#"{"host":{"resolve":"x"}}"#).unwrap();
        let e = Policy::load(&dir, &Overrides::default(), &env(&[])).unwrap_err();
        assert!(matches!(e, PolicyError::Parse(..)), "{e:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
