//! Secrets for MCP servers, added by the host: in `wasiclaw.json`'s
//! `mcpServers`, a header value written `"${ENV_NAME}"` stays a placeholder in
//! the guest (which reads that file but not the host's environment); the host
//! swaps in the variable's value on requests to that server's origin only, and
//! redacts it from the answers, as it does with provider keys.

use std::fmt;
use std::path::Path;

use crate::origin::split_url;
use crate::policy::Env;

/// One header the host fills in.
#[derive(Clone)]
pub struct HeaderSecret {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// Lower-cased header name.
    pub header: String,
    /// The text the guest sends, e.g. `${DOCS_TOKEN}`.
    pub placeholder: String,
    pub value: String,
}

/// Never prints the value: the policy is printed by `inspect` and in errors.
impl fmt::Debug for HeaderSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{} {}: {} (set by the host)",
            self.scheme, self.host, self.port, self.header, self.placeholder
        )
    }
}

/// `${NAME}` -> `NAME`, the guest's spelling of a host-held value.
pub fn placeholder_name(value: &str) -> Option<&str> {
    let name = value.strip_prefix("${")?.strip_suffix('}')?;
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(name)
}

/// Reads the placeholders of `<workspace>/wasiclaw.json` whose variables the
/// host's environment has. A file the guest will reject (bad JSON, a bad
/// URL) yields nothing here: the agent reports the error itself.
pub fn load(workspace: &Path, env: &dyn Env) -> Vec<HeaderSecret> {
    let Ok(text) = std::fs::read_to_string(workspace.join("wasiclaw.json")) else {
        return Vec::new();
    };
    from_config(&text, env)
}

pub fn from_config(text: &str, env: &dyn Env) -> Vec<HeaderSecret> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let servers = v.get("mcpServers").and_then(|s| s.as_object());
    for server in servers.into_iter().flat_map(|m| m.values()) {
        let Some(url) = server.get("url").and_then(|u| u.as_str()) else {
            continue;
        };
        let Ok((scheme, host, port)) = split_url(url) else {
            continue;
        };
        let headers = server.get("headers").and_then(|h| h.as_object());
        for (name, value) in headers.into_iter().flatten() {
            let Some(placeholder) = value.as_str() else {
                continue;
            };
            let Some(value) = placeholder_name(placeholder).and_then(|n| env.get(n)) else {
                continue;
            };
            out.push(HeaderSecret {
                scheme: scheme.clone(),
                host: host.clone(),
                port,
                header: name.to_ascii_lowercase(),
                placeholder: placeholder.to_string(),
                value,
            });
        }
    }
    out
}

/// The secrets to add for a request to `scheme://host:port`: a header the
/// guest sent with exactly the placeholder as its value gets the secret.
/// Returns `(header, value)` pairs; the values are also what to redact.
pub fn for_request<'a>(
    secrets: &'a [HeaderSecret],
    scheme: &str,
    host: &str,
    port: u16,
    sent: &dyn Fn(&str) -> Option<String>,
) -> Vec<&'a HeaderSecret> {
    secrets
        .iter()
        .filter(|s| s.scheme == scheme && s.host == host && s.port == port)
        .filter(|s| sent(&s.header).as_deref() == Some(s.placeholder.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn placeholders_resolve_only_for_their_origin_and_header() {
        let env: BTreeMap<String, String> =
            [("DOCS_TOKEN".to_string(), "s3cret-value".to_string())].into();
        let cfg = r#"{"mcpServers":{
            "docs":{"url":"http://Docs.example:8000/mcp","headers":{"X-Api-Key":"${DOCS_TOKEN}","Other":"${UNSET}","Plain":"v"}},
            "bad":{"url":"ftp://x","headers":{"K":"${DOCS_TOKEN}"}}}}"#;
        let s = from_config(cfg, &env);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].host.as_str(), s[0].port, s[0].header.as_str()),
            ("docs.example", 8000, "x-api-key")
        );
        assert!(!format!("{:?}", s[0]).contains("s3cret"));
        let sent = |h: &str| (h == "x-api-key").then(|| "${DOCS_TOKEN}".to_string());
        assert_eq!(
            for_request(&s, "http", "docs.example", 8000, &sent).len(),
            1
        );
        // Another origin, or a header that is not the placeholder, gets nothing.
        assert!(for_request(&s, "http", "evil.example", 8000, &sent).is_empty());
        assert!(for_request(&s, "https", "docs.example", 8000, &sent).is_empty());
        assert!(for_request(&s, "http", "docs.example", 8000, &|_| Some("x".into())).is_empty());
        assert!(from_config("not json", &env).is_empty());
        assert_eq!(placeholder_name("${A_1}"), Some("A_1"));
        assert_eq!(placeholder_name("${A-1}"), None);
        assert_eq!(placeholder_name("x${A}"), None);
    }
}
