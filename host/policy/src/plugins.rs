//! Tool plugins as the policy names them: the `plugins` section of
//! `wasiclaw.json` (and `--plugin NAME=PATH`), each plugin's grants parsed
//! into what its per-call sandbox may reach, its limits, and the narrowed
//! [`Policy`] its outgoing HTTP is decided by. No runtime here: the
//! wasmtime host builds the sandbox from these values.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::origin::{split_url, HostPattern};
use crate::policy::{Env, Policy};

pub const DEFAULT_FUEL: u64 = 1_000_000_000;
pub const DEFAULT_MEMORY_MIB: u64 = 64;
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// Workspace directories a plugin may never be granted write access to:
/// the agent's own state (its sessions and memory store), which the
/// built-in write tools refuse as well.
const AGENT_STATE: [&str; 2] = ["sessions", "memory"];

/// What is wrong with one plugin's configuration: the host does not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfigError {
    pub plugin: String,
    pub why: String,
}

impl fmt::Display for PluginConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin {:?}: {}", self.plugin, self.why)
    }
}

impl std::error::Error for PluginConfigError {}

/// One entry of `plugins` as written in `wasiclaw.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    pub path: PathBuf,
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub limits: LimitsEntry,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsEntry {
    pub fuel: Option<u64>,
    pub memory_mib: Option<u64>,
    pub timeout_ms: Option<u64>,
}

/// One capability a plugin is granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// `http:HOST[:PORT]` (also `*.suffix`): outgoing requests to it.
    Http(HostPattern),
    /// `files:read:DIR/` or `files:write:DIR/`: the workspace directory
    /// `DIR` (relative, `.` for the whole workspace when reading), mounted
    /// at `/workspace/DIR`.
    Files { dir: String, write: bool },
    /// `env:NAME`: the host's value of `NAME`, if it has one.
    Env(String),
    /// `secret:NAME@SCHEME://HOST[:PORT]`: the host's value of `NAME`, which
    /// the plugin never sees, sent as `Authorization: Bearer VALUE` on its
    /// requests to that origin, and redacted from what they return.
    Secret {
        var: String,
        scheme: String,
        host: String,
        port: u16,
    },
}

/// A secret's value: kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(pub String);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A host-held secret the plugin's requests to one origin carry.
#[derive(Clone, Debug)]
pub struct OriginSecret {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub value: SecretValue,
}

impl OriginSecret {
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.scheme == scheme && self.port == port && self.host.eq_ignore_ascii_case(host)
    }
}

impl Grant {
    pub fn parse(s: &str) -> Result<Grant, String> {
        if let Some(host) = s.strip_prefix("http:") {
            return HostPattern::parse(host)
                .map(Grant::Http)
                .map_err(|e| format!("grant {s:?}: {e}"));
        }
        if let Some(name) = s.strip_prefix("env:") {
            let ok =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            return if ok {
                Ok(Grant::Env(name.to_string()))
            } else {
                Err(format!("grant {s:?}: not a variable name"))
            };
        }
        if let Some(rest) = s.strip_prefix("secret:") {
            let bad = |why: String| format!("grant {s:?}: {why}");
            let (var, origin) = rest
                .split_once('@')
                .ok_or_else(|| bad("expected secret:NAME@SCHEME://HOST[:PORT]".into()))?;
            if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(bad("not a variable name".into()));
            }
            let (scheme, host, port) = split_url(origin).map_err(|e| bad(e.to_string()))?;
            return Ok(Grant::Secret {
                var: var.to_string(),
                scheme,
                host,
                port,
            });
        }
        let (write, dir) = if let Some(d) = s.strip_prefix("files:read:") {
            (false, d)
        } else if let Some(d) = s.strip_prefix("files:write:") {
            (true, d)
        } else {
            return Err(format!(
                "grant {s:?} is none of http:HOST, files:read:DIR/, files:write:DIR/, env:NAME"
            ));
        };
        let dir = normalize_dir(dir).map_err(|why| format!("grant {s:?}: {why}"))?;
        if write && dir == "." {
            return Err(format!(
                "grant {s:?}: the whole workspace cannot be granted for writing; name a directory"
            ));
        }
        let top = dir.split('/').next().unwrap_or("");
        if write && AGENT_STATE.contains(&top) {
            return Err(format!(
                "grant {s:?}: {top}/ holds the agent's own state and cannot be granted for writing"
            ));
        }
        Ok(Grant::Files { dir, write })
    }
}

/// `notes/` -> `notes`, `a/./b` -> `a/b`, `` or `./` -> `.`; refuses
/// absolute paths and `..`, which would reach outside the workspace.
fn normalize_dir(dir: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in Path::new(dir).components() {
        match c {
            Component::Normal(p) => match p.to_str() {
                Some(p) => parts.push(p),
                None => return Err("not UTF-8".into()),
            },
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` would leave the workspace".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("must be relative to the workspace".into())
            }
        }
    }
    Ok(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// A plugin as the host loads it.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    pub name: String,
    pub path: PathBuf,
    pub grants: Vec<Grant>,
    pub fuel: u64,
    pub memory_bytes: u64,
    pub timeout_ms: u64,
    /// The granted variables with the host's values (unset ones left out).
    pub env: BTreeMap<String, String>,
    /// The `secret:` grants with the host's values.
    pub secrets: Vec<OriginSecret>,
}

/// A plugin name becomes the prefix of its tools' names, which providers
/// restrict to `[A-Za-z0-9_-]`; keep it short so `NAME_TOOL` fits in 64.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("a plugin name is 1 to 32 of A-Z a-z 0-9 _ -".into())
    }
}

impl PluginSpec {
    /// From a `wasiclaw.json` entry; a relative `path` is relative to `base`
    /// (the policy file's directory).
    pub fn from_entry(
        name: &str,
        entry: &PluginEntry,
        base: &Path,
        env: &dyn Env,
    ) -> Result<PluginSpec, PluginConfigError> {
        let err = |why: String| PluginConfigError {
            plugin: name.to_string(),
            why,
        };
        validate_name(name).map_err(err)?;
        let grants = entry
            .allow
            .iter()
            .map(|g| Grant::parse(g))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let positive = |v: Option<u64>, default: u64, what: &str| match v {
            Some(0) => Err(err(format!("limits.{what} must be positive"))),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let limits = &entry.limits;
        let mib = positive(limits.memory_mib, DEFAULT_MEMORY_MIB, "memory_mib")?;
        let vars = grants
            .iter()
            .filter_map(|g| match g {
                Grant::Env(n) => env.get(n).map(|v| (n.clone(), v)),
                _ => None,
            })
            .collect();
        let mut secrets = Vec::new();
        for g in &grants {
            if let Grant::Secret {
                var,
                scheme,
                host,
                port,
            } = g
            {
                let value = env.get(var).ok_or_else(|| {
                    err(format!("secret {var} is not set in the host's environment"))
                })?;
                secrets.push(OriginSecret {
                    scheme: scheme.clone(),
                    host: host.clone(),
                    port: *port,
                    value: SecretValue(value),
                });
            }
        }
        Ok(PluginSpec {
            name: name.to_string(),
            path: base.join(&entry.path),
            secrets,
            grants,
            fuel: positive(limits.fuel, DEFAULT_FUEL, "fuel")?,
            memory_bytes: mib.saturating_mul(1024 * 1024),
            timeout_ms: positive(limits.timeout_ms, DEFAULT_TIMEOUT_MS, "timeout_ms")?,
            env: vars,
        })
    }

    /// `--plugin NAME=PATH`: no grants, default limits.
    pub fn from_flag(flag: &str, env: &dyn Env) -> Result<PluginSpec, PluginConfigError> {
        let Some((name, path)) = flag.split_once('=') else {
            return Err(PluginConfigError {
                plugin: flag.to_string(),
                why: "expected --plugin NAME=PATH".into(),
            });
        };
        let entry = PluginEntry {
            path: PathBuf::from(path),
            ..Default::default()
        };
        PluginSpec::from_entry(name, &entry, Path::new(""), env)
    }

    /// The host's policy narrowed to this plugin: its `http:` grants are
    /// the whole allow list, no provider endpoint (so no key is ever added
    /// to its requests and nothing it sends is metered as a model call),
    /// and a literally granted private address is refused like a name
    /// resolving to one; only the operator's `host.resolve` pins, kept
    /// from the host policy, may send it inside.
    pub fn policy(&self, host: &Policy) -> Policy {
        let mut p = host.clone();
        p.endpoints.clear();
        // Nothing of the other plugins (their secrets included).
        p.plugins.clear();
        p.allow_hosts = self
            .grants
            .iter()
            .filter_map(|g| match g {
                Grant::Http(h) => Some(h.clone()),
                _ => None,
            })
            .collect();
        p.literal_addresses_may_be_internal = false;
        p.origin_secrets = self.secrets.clone();
        p.guest_env = self.env.clone();
        p.memory_limit_bytes = self.memory_bytes;
        p
    }

    /// The plugin as `wasiclaw inspect` shows it: grants as written (a
    /// secret by its variable's name), limits, the variables it will see
    /// by name only.
    pub fn to_json(&self) -> serde_json::Value {
        let grants: Vec<String> = self
            .grants
            .iter()
            .map(|g| match g {
                Grant::Http(h) => format!("http:{h}"),
                Grant::Files { dir, write } => {
                    let mode = if *write { "write" } else { "read" };
                    format!("files:{mode}:{dir}/")
                }
                Grant::Env(n) => format!("env:{n}"),
                Grant::Secret {
                    var,
                    scheme,
                    host,
                    port,
                } => format!("secret:{var}@{scheme}://{host}:{port}"),
            })
            .collect();
        serde_json::json!({
            "name": self.name,
            "path": self.path.display().to_string(),
            "allow": grants,
            "env": self.env.keys().collect::<Vec<_>>(),
            "limits": {
                "fuel": self.fuel,
                "memory_bytes": self.memory_bytes,
                "timeout_ms": self.timeout_ms,
            },
        })
    }

    /// `(dir, write)` of each `files:` grant.
    pub fn dirs(&self) -> impl Iterator<Item = (&str, bool)> {
        self.grants.iter().filter_map(|g| match g {
            Grant::Files { dir, write } => Some((dir.as_str(), *write)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_and_refuse_escapes() {
        assert_eq!(
            Grant::parse("files:read:notes/"),
            Ok(Grant::Files {
                dir: "notes".into(),
                write: false
            })
        );
        assert_eq!(
            Grant::parse("files:write:./out//x/"),
            Ok(Grant::Files {
                dir: "out/x".into(),
                write: true
            })
        );
        assert_eq!(
            Grant::parse("files:read:"),
            Ok(Grant::Files {
                dir: ".".into(),
                write: false
            })
        );
        assert_eq!(Grant::parse("env:UNITS"), Ok(Grant::Env("UNITS".into())));
        assert!(
            matches!(Grant::parse("http:api.example.com:8443"), Ok(Grant::Http(h)) if h.port == Some(8443))
        );
        for bad in [
            "files:read:../x",
            "files:read:/etc",
            "files:write:",
            "files:write:sessions/",
            "files:write:memory",
            "env:A=B",
            "env:",
            "net:x",
            "http:",
            "secret:K",
            "secret:K@ftp://x",
        ] {
            assert!(Grant::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn entries_resolve_paths_env_and_limits() {
        let env: BTreeMap<String, String> = [("UNITS", "metric"), ("SECRET", "s")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into_iter()
            .collect();
        let entry: PluginEntry = serde_json::from_str(
            r#"{"path":"plugins/w.wasm","allow":["env:UNITS","env:MISSING","http:x.test"],"limits":{"fuel":5}}"#,
        )
        .unwrap();
        let s = PluginSpec::from_entry("weather", &entry, Path::new("/ws"), &env).unwrap();
        assert_eq!(s.path, PathBuf::from("/ws/plugins/w.wasm"));
        assert_eq!(s.env.len(), 1);
        assert_eq!(s.env["UNITS"], "metric");
        assert_eq!((s.fuel, s.timeout_ms), (5, DEFAULT_TIMEOUT_MS));
        assert!(PluginSpec::from_entry("bad name", &entry, Path::new("/"), &env).is_err());
        let zero: PluginEntry =
            serde_json::from_str(r#"{"path":"p","limits":{"memory_mib":0}}"#).unwrap();
        let e = PluginSpec::from_entry("z", &zero, Path::new("/"), &env).unwrap_err();
        assert!(e.to_string().contains("memory_mib"), "{e}");
        let f = PluginSpec::from_flag("quick=/tmp/q.wasm", &env).unwrap();
        assert_eq!((f.name.as_str(), f.grants.len()), ("quick", 0));
        assert!(PluginSpec::from_flag("nopath", &env).is_err());
        let keyed: PluginEntry =
            serde_json::from_str(r#"{"path":"p","allow":["secret:SECRET@http://X.test:81"]}"#)
                .unwrap();
        let k = PluginSpec::from_entry("k", &keyed, Path::new("/"), &env).unwrap();
        assert!(k.env.is_empty(), "a secret is not an environment variable");
        assert!(k.secrets[0].matches("http", "x.TEST", 81));
        assert!(!format!("{k:?}").contains("\"s\""), "{k:?}");
        let shown = k.to_json();
        assert_eq!(shown["allow"][0], "secret:SECRET@http://x.test:81");
        assert!(!shown.to_string().contains("\"s\""), "{shown}");
        let missing: PluginEntry =
            serde_json::from_str(r#"{"path":"p","allow":["secret:NOPE@http://x.test"]}"#).unwrap();
        assert!(PluginSpec::from_entry("m", &missing, Path::new("/"), &env).is_err());
    }
}
