//! The capability policy for `wasiclaw_http`: the native host's own policy
//! (`wasiclaw_policy::policy` + `wasiclaw_policy::decide`), applied to the
//! requests of the import so both hosts decide every request the same way:
//! the provider endpoints and `allow_hosts` are reachable, names must resolve
//! to public addresses (literal addresses the operator listed, and names the
//! operator pinned with `host.resolve`, excepted), the connection goes to the
//! address that was checked (or pinned), HTTPS trusts the webpki roots plus
//! `host.extra_ca_file`, the provider's key is injected only on that
//! provider's model calls and redacted from whatever comes back (the guest
//! has none), responses are capped at `max_response_bytes`, and model calls
//! are metered and budgeted.

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use rustls::ClientConfig;
use wasiclaw_policy::decide::{decide_all, Decision};
use wasiclaw_policy::mcp_headers::for_request;
use wasiclaw_policy::policy::{Policy as HostPolicy, ProviderKind};
use wasiclaw_policy::tls::{Trust, TrustError};

use crate::errors::{code, Fail};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    /// Lower-case host, without brackets for IPv6.
    pub host: String,
    pub port: u16,
}

impl Origin {
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// An absolute `http(s)://` URL split into its origin and path+query.
pub fn parse_url(url: &str) -> Result<(Origin, String), Fail> {
    let bad = |why: &str| Fail::new(code::INVALID, format!("invalid URL {url:?}: {why}"));
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad("only http:// and https:// are supported"));
    };
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(cut);
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("missing host, or credentials in the URL"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || "-._:".contains(c);
    if host.is_empty() || !host.chars().all(ok) {
        return Err(bad("bad host"));
    }
    // Fragments never go on the wire; control characters and spaces must not.
    let tail = tail.split('#').next().unwrap_or("");
    if tail.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("spaces or control characters in the path"));
    }
    let path = match tail {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    Ok((
        Origin {
            https,
            host: host.to_ascii_lowercase(),
            port,
        },
        path,
    ))
}

pub struct Policy {
    inner: HostPolicy,
    trust: Trust,
}

/// A request the policy let through: where to connect and what to send.
pub struct Approved {
    pub addr: SocketAddr,
    /// For `https://`: the name the certificate must be valid for (SNI).
    pub tls_name: Option<String>,
    pub authority: String,
    pub path_query: String,
    pub headers: Vec<(String, String)>,
    /// A model call to a provider endpoint (metered, budgeted): its API.
    pub model_call: Option<ProviderKind>,
    /// What the host added that the answer must not show the guest: the key
    /// of the provider origin the request goes to, or the values of an MCP
    /// server's `${ENV_NAME}` headers.
    pub secrets: Vec<String>,
}

impl Policy {
    /// The rules plus the roots HTTPS trusts; a missing or malformed
    /// `host.extra_ca_file` fails here, before the guest runs.
    pub fn new(inner: HostPolicy) -> Result<Policy, TrustError> {
        let trust = Trust::new(inner.extra_ca_file.as_deref())?;
        Ok(Policy { inner, trust })
    }

    pub fn tls_config(&self) -> &Arc<ClientConfig> {
        self.trust.config()
    }

    pub fn body_limit(&self) -> u64 {
        self.inner.max_response_bytes
    }

    pub fn rules(&self) -> &HostPolicy {
        &self.inner
    }

    /// Checks `url` with the host's decision procedure and rewrites the
    /// headers: hop-by-hop ones dropped, credentials replaced toward a
    /// provider endpoint.
    pub fn approve(&self, url: &str, headers: Vec<(String, String)>) -> Result<Approved, Fail> {
        let (origin, path_query) = parse_url(url)?;
        let scheme = if origin.https { "https" } else { "http" };
        let (decision, addrs) = block_on(decide_all(
            &self.inner,
            scheme,
            &origin.host,
            origin.port,
            |h, p| std::future::ready((h.as_str(), p).to_socket_addrs().map(|a| a.collect())),
        ));
        let (addr, provider) = match decision {
            Decision::Denied(why) | Decision::Prohibited(why) => {
                return Err(Fail::new(code::DENIED, format!("denied: {why}")))
            }
            // As the native host does: a DNS failure, not a policy refusal.
            Decision::Unresolvable(why) => return Err(Fail::new(code::CONNECT, why)),
            // A name, resolved and checked: connect to exactly that address.
            Decision::Allowed(Some(addr)) => (addr, None),
            // A literal address (or localhost) the operator listed.
            Decision::Allowed(None) => (resolve_first(&origin)?, None),
            // Pinned by the operator (`host.resolve`), else one lookup now.
            Decision::Provider(ep) => match addrs.first() {
                Some(pin) => (*pin, Some(ep)),
                None => (resolve_first(&origin)?, Some(ep)),
            },
        };
        let mut out: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "host" | "content-length" | "transfer-encoding" | "connection"
                )
            })
            .collect();
        let mut model_call = None;
        let mut secrets = Vec::new();
        if let Some(ep) = provider {
            let anthropic = out.iter().any(|(k, _)| k == "anthropic-version");
            let ep = self.inner.endpoint_speaking(ep, anthropic);
            out.retain(|(k, _)| k != "authorization" && k != "x-api-key");
            // The key goes on model calls only (metered); other paths of the
            // provider's origin are reached without it.
            if ep.call(&path_query).is_some() {
                model_call = Some(ep.kind);
                if let Some((name, value)) = ep.auth() {
                    if value.contains(['\r', '\n']) {
                        return Err(Fail::new(
                            code::INVALID,
                            "the configured API key is not a valid header value",
                        ));
                    }
                    out.push((name.into(), value));
                }
            }
            secrets.extend(ep.key.clone());
        } else {
            // An MCP server's `${ENV_NAME}` headers, filled in on its own
            // origin only (as the native host does).
            let sent = |name: &str| {
                out.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            let found = for_request(
                &self.inner.mcp_secrets,
                scheme,
                &origin.host,
                origin.port,
                &sent,
            );
            for s in found {
                if s.value.contains(['\r', '\n']) {
                    return Err(Fail::new(
                        code::INVALID,
                        format!("the value of {} is not a valid header value", s.placeholder),
                    ));
                }
                for (k, v) in out.iter_mut() {
                    if k.eq_ignore_ascii_case(&s.header) {
                        *v = s.value.clone();
                    }
                }
                secrets.push(s.value.clone());
            }
        }
        Ok(Approved {
            addr,
            tls_name: origin.https.then(|| origin.host.clone()),
            authority: origin.authority(),
            path_query,
            headers: out,
            model_call,
            secrets,
        })
    }
}

fn resolve_first(o: &Origin) -> Result<SocketAddr, Fail> {
    (o.host.as_str(), o.port)
        .to_socket_addrs()
        .map_err(|e| Fail::new(code::CONNECT, format!("cannot resolve {}: {e}", o.host)))?
        .next()
        .ok_or_else(|| Fail::new(code::CONNECT, format!("{} has no addresses", o.host)))
}

/// `decide` is async for the native host's resolver; ours answers at once,
/// so the future completes on its first poll.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use wasiclaw_policy::policy::Overrides;

    use super::*;

    fn policy(env: &[(&str, &str)], allow: &[&str]) -> Policy {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ov = Overrides {
            allow_hosts: allow.iter().map(|s| s.to_string()).collect(),
            max_response_bytes: Some(1000),
            ..Overrides::default()
        };
        let ws = std::env::temp_dir().join("wasiclaw-wamr-no-such-ws");
        Policy::new(HostPolicy::load(&ws, &ov, &env).unwrap()).unwrap()
    }

    #[test]
    fn urls_split_into_origin_and_path() {
        let (o, p) = parse_url("http://Example.com:8080/a?b#frag").unwrap();
        assert_eq!(
            (o.host.as_str(), o.port, p.as_str()),
            ("example.com", 8080, "/a?b")
        );
        assert_eq!(parse_url("https://h").unwrap().1, "/");
        assert_eq!(parse_url("http://h?x=1").unwrap().1, "/?x=1");
        assert_eq!(parse_url("http://[::1]:5/").unwrap().0.host, "::1");
        for bad in [
            "ftp://h/",
            "http://",
            "http://u@h/",
            "http://h:99999/",
            "http://h/a b",
        ] {
            assert_eq!(parse_url(bad).unwrap_err().code, code::INVALID, "{bad}");
        }
    }

    #[test]
    fn key_is_injected_only_toward_its_provider() {
        let p = policy(
            &[
                ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
                ("OPENAI_API_KEY", "sk-real"),
            ],
            &["127.0.0.1:10"],
        );
        assert_eq!(p.body_limit(), 1000);
        let guest = || {
            vec![
                ("authorization".to_string(), "Bearer guest".to_string()),
                ("x".into(), "1".into()),
            ]
        };
        let a = p
            .approve("http://127.0.0.1:9/v1/chat/completions", guest())
            .unwrap();
        assert_eq!(
            a.headers,
            vec![
                ("x".into(), "1".into()),
                ("authorization".into(), "Bearer sk-real".into())
            ]
        );
        assert_eq!(a.addr, "127.0.0.1:9".parse().unwrap());
        assert_eq!(a.model_call, Some(ProviderKind::OpenAi));
        let models = p.approve("http://127.0.0.1:9/v1/models", guest()).unwrap();
        assert_eq!(models.model_call, None);
        // Only model calls carry the key; the origin's other paths do not,
        // and their answers are still redacted.
        assert_eq!(models.headers, vec![("x".to_string(), "1".to_string())]);
        assert_eq!(models.secrets, ["sk-real"]);
        let b = p.approve("http://127.0.0.1:10/x", guest()).unwrap();
        assert!(!format!("{:?}", b.headers).contains("sk-real"));
        assert_eq!(b.model_call, None);
    }

    #[test]
    fn unlisted_internal_and_metadata_destinations_are_denied() {
        let p = policy(&[("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")], &["*"]);
        for url in [
            "http://127.0.0.1:11/",
            "http://169.254.169.254/latest",
            "http://localhost:9/",
        ] {
            let e = p.approve(url, vec![]).err().unwrap();
            assert_eq!(e.code, code::DENIED, "{url}: {}", e.message);
            assert!(e.message.starts_with("denied: "), "{}", e.message);
        }
        let strict = policy(&[], &[]);
        let e = strict
            .approve("http://93.184.216.34/", vec![])
            .err()
            .unwrap();
        assert_eq!(e.code, code::DENIED);
        assert!(e.message.contains("not allowed"), "{}", e.message);
    }

    #[test]
    fn pinned_https_providers_connect_to_the_pin_and_verify_their_name() {
        let mut p = policy(
            &[
                ("OPENAI_BASE_URL", "https://api.openai.com:8443/v1"),
                ("OPENAI_API_KEY", "sk-real"),
            ],
            &["pinned.test", "10.9.9.9"],
        );
        p.inner.resolve = ["api.openai.com:8443:127.0.0.2", "pinned.test:443:10.1.2.3"]
            .iter()
            .map(|e| wasiclaw_policy::resolve::Pin::parse(e).unwrap())
            .collect();
        let a = p
            .approve("https://api.openai.com:8443/v1/chat/completions", vec![])
            .unwrap();
        assert_eq!(a.addr, "127.0.0.2:8443".parse().unwrap());
        assert_eq!(a.tls_name.as_deref(), Some("api.openai.com"));
        assert_eq!(a.authority, "api.openai.com:8443");
        assert_eq!(a.model_call, Some(ProviderKind::OpenAi));
        // An allowed name pinned to a private address: the operator's choice.
        let b = p.approve("https://pinned.test/x", vec![]).unwrap();
        assert_eq!(b.addr, "10.1.2.3:443".parse().unwrap());
        assert_eq!(b.tls_name.as_deref(), Some("pinned.test"));
        assert!(!format!("{:?}", b.headers).contains("sk-real"));
        // Plain http carries no TLS name.
        let c = p.approve("http://10.9.9.9/", vec![]).unwrap();
        assert_eq!(c.tls_name, None);
    }

    #[test]
    fn a_bad_extra_ca_file_fails_at_startup() {
        let ov = Overrides::default();
        let ws = std::env::temp_dir().join("wasiclaw-wamr-no-such-ws");
        let mut rules = HostPolicy::load(&ws, &ov, &BTreeMap::new()).unwrap();
        rules.extra_ca_file = Some(ws.join("missing-ca.pem"));
        let e = Policy::new(rules).err().unwrap().to_string();
        assert!(e.contains("cannot read CA file"), "{e}");
    }
}
