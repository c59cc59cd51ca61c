//! Origins as the policy names them: `allow_hosts` entries and the provider
//! endpoints the host injects keys into.

use std::fmt;

use crate::policy::PolicyError;

/// Which wire format an endpoint speaks (the contract's): decides the auth
/// header and which paths are model calls.
pub use wasiclaw_contract::{ProviderCall, ProviderKind};

/// A provider endpoint the host injects a key into.
#[derive(Clone)]
pub struct Endpoint {
    pub kind: ProviderKind,
    /// The base URL exactly as configured; handed to the guest.
    pub base: String,
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// The base URL's path (`/v1`), which model-call paths extend.
    pub path: String,
    pub key: Option<String>,
}

impl Endpoint {
    /// The model call a request to `path` (with query) is, if any: only
    /// those get the key and are metered; the rest of the provider's origin
    /// is reached without it.
    pub fn call(&self, path: &str) -> Option<ProviderCall> {
        self.kind.call_at(&self.path, path)
    }

    /// The auth header (name, value) for a model call, when a key is set.
    pub fn auth(&self) -> Option<(&'static str, String)> {
        let key = self.key.as_ref()?;
        let (name, prefix) = self.kind.auth_header();
        Some((name, format!("{prefix}{key}")))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("kind", &self.kind)
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One `allow_hosts` entry: `host`, `host:port`, `*.suffix` or `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    pub host: String,
    pub port: Option<u16>,
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let s = s.trim().to_ascii_lowercase();
        let bad = || PolicyError::BadHost(s.clone());
        if s.is_empty() || s.contains('/') || s.contains('@') {
            return Err(bad());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, tail) = rest.split_once(']').ok_or_else(bad)?;
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p.parse().map_err(|_| bad())?),
                None if tail.is_empty() => None,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else if s.matches(':').count() == 1 {
            let (h, p) = s.split_once(':').ok_or_else(bad)?;
            (h.to_string(), Some(p.parse().map_err(|_| bad())?))
        } else {
            (s.clone(), None)
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(HostPattern { host, port })
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = host.to_ascii_lowercase();
        if self.host == "*" {
            return true;
        }
        match self.host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => self.host == host,
        }
    }

    /// A literal address or `localhost` names its destination exactly, so
    /// listing it is an explicit permission to reach that (possibly private)
    /// address. Names and wildcards are not: they could resolve anywhere.
    pub fn is_explicit_address(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok()
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bracket = self.host.contains(':');
        match (bracket, self.port) {
            (true, Some(p)) => write!(f, "[{}]:{p}", self.host),
            (false, Some(p)) => write!(f, "{}:{p}", self.host),
            _ => write!(f, "{}", self.host),
        }
    }
}

/// Splits `scheme://host[:port]/...` into its parts.
pub fn split_url(url: &str) -> Result<(String, String, u16), PolicyError> {
    let bad = |why: &str| PolicyError::BadUrl(url.to_string(), why.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(bad("scheme must be http or https")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("no usable host"));
    }
    let pat = HostPattern::parse(authority).map_err(|_| bad("no usable host"))?;
    Ok((scheme, pat.host, pat.port.unwrap_or(default_port)))
}

pub(crate) fn endpoint(
    kind: ProviderKind,
    base: String,
    key: Option<String>,
) -> Result<Endpoint, PolicyError> {
    let (scheme, host, port) = split_url(&base)?;
    let path = wasiclaw_contract::url_path(&base).to_string();
    Ok(Endpoint {
        kind,
        base,
        scheme,
        host,
        port,
        path,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = HostPattern::parse("*.Example.com").unwrap();
        assert!(p.matches("api.example.com", 443));
        assert!(!p.matches("example.com", 443));
        assert!(!p.matches("evilexample.com", 443));
        let p = HostPattern::parse("127.0.0.1:8080").unwrap();
        assert!(p.matches("127.0.0.1", 8080) && !p.matches("127.0.0.1", 8081));
        assert!(p.is_explicit_address());
        let p = HostPattern::parse("[::1]:9").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", Some(9)));
        assert!(HostPattern::parse("a/b").is_err());
        assert!(HostPattern::parse("a:b").is_err());
        assert!(!HostPattern::parse("*").unwrap().is_explicit_address());
    }
}
