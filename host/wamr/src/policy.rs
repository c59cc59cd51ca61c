//! The capability policy for `wasiclaw_http`: which origins the guest may
//! reach, which addresses are off limits, and where credentials are injected.
//!
//! Keys never enter the guest. The guest's environment carries a placeholder
//! per provider key (see [`placeholder`]); on requests to that provider's
//! origin the host replaces the placeholder in header values with the real
//! key, and toward any other origin a header carrying a placeholder is
//! dropped. That works whatever header the provider wants (`authorization`,
//! `x-api-key`), and for any code in the guest that sends the key (the agent,
//! the embedding client in the tools).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use crate::errors::{code, Fail};

/// Responses larger than this fail with `TOO_LARGE` (LLM replies and fetched
/// pages are far smaller; the tools cut pages much earlier anyway).
pub const DEFAULT_BODY_LIMIT: u64 = 32 << 20;

/// The value the guest sees instead of the key in `var`.
pub fn placeholder(var: &str) -> String {
    format!("wasiclaw-host-injects-{}", var.to_ascii_lowercase())
}

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

/// One `--allow-host` entry: `host` (any port) or `host:port`; `*` is any
/// host whose addresses are public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowEntry {
    host: String,
    port: Option<u16>,
}

impl AllowEntry {
    pub fn parse(s: &str) -> Result<AllowEntry, String> {
        let s = s.trim().to_ascii_lowercase();
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
                let port = p.parse::<u16>().map_err(|_| format!("bad port in {s:?}"))?;
                (h.trim_matches(['[', ']']).to_string(), Some(port))
            }
            _ => (s.trim_matches(['[', ']']).to_string(), None),
        };
        if host.is_empty() {
            return Err("empty --allow-host".into());
        }
        Ok(AllowEntry { host, port })
    }

    fn matches(&self, o: &Origin) -> bool {
        (self.host == "*" || self.host == o.host) && self.port.is_none_or(|p| p == o.port)
    }
}

/// A provider origin and the key the host injects toward it.
#[derive(Clone, Debug)]
pub struct Credential {
    pub placeholder: String,
    pub key: String,
}

pub struct Policy {
    /// Provider origins (always reachable) with their keys, if any.
    providers: Vec<(Origin, Option<Credential>)>,
    allow: Vec<AllowEntry>,
    body_limit: u64,
}

/// A request the policy let through: where to connect and what to send.
pub struct Approved {
    pub addr: SocketAddr,
    pub authority: String,
    pub path_query: String,
    pub headers: Vec<(String, String)>,
}

impl Policy {
    pub fn new(
        providers: Vec<(Origin, Option<Credential>)>,
        allow: Vec<AllowEntry>,
        body_limit: u64,
    ) -> Policy {
        Policy {
            providers,
            allow,
            body_limit,
        }
    }

    pub fn body_limit(&self) -> u64 {
        self.body_limit
    }

    /// Checks `url`, resolves it, checks every address, and rewrites the
    /// headers (placeholders to keys toward the provider, dropped elsewhere).
    pub fn approve(&self, url: &str, headers: Vec<(String, String)>) -> Result<Approved, Fail> {
        let (origin, path_query) = parse_url(url)?;
        let provider = self.providers.iter().find(|(o, _)| *o == origin);
        let allowed = provider.is_some() || self.allow.iter().any(|a| a.matches(&origin));
        if !allowed {
            return Err(Fail::new(
                code::DENIED,
                format!(
                    "denied: {} is not an allowed host (the runner allows the provider and --allow-host entries)",
                    origin.authority()
                ),
            ));
        }
        let addr = resolve_checked(&origin, self.named_literally(&origin))?;
        if origin.https {
            return Err(Fail::new(
                code::UNSUPPORTED,
                "https:// is not supported by this build of wasiclaw-wamr (plain http only)",
            ));
        }
        let cred = provider.and_then(|(_, c)| c.as_ref());
        let mut out = Vec::with_capacity(headers.len());
        for (k, v) in headers {
            if matches!(
                k.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection"
            ) {
                continue;
            }
            match cred {
                Some(c) if v.contains(&c.placeholder) => {
                    out.push((k, v.replace(&c.placeholder, &c.key)));
                }
                // A placeholder (of any provider) toward a non-provider origin
                // means nothing there and is not sent.
                _ if self.carries_placeholder(&v) => {}
                _ => out.push((k, v)),
            }
        }
        Ok(Approved {
            addr,
            authority: origin.authority(),
            path_query,
            headers: out,
        })
    }

    fn carries_placeholder(&self, v: &str) -> bool {
        self.providers
            .iter()
            .filter_map(|(_, c)| c.as_ref())
            .any(|c| v.contains(&c.placeholder))
            || v.contains("wasiclaw-host-injects-")
    }

    /// An origin whose host was given to the runner as an IP literal (or
    /// `localhost`) was chosen by the user, private or not; a DNS name must
    /// resolve to public addresses only, so a name cannot be pointed inward.
    fn named_literally(&self, o: &Origin) -> bool {
        let literal = o.host == "localhost" || o.host.parse::<IpAddr>().is_ok();
        literal
            && (self.providers.iter().any(|(p, _)| p == o)
                || self.allow.iter().any(|a| a.host == o.host && a.matches(o)))
    }
}

fn resolve_checked(o: &Origin, literal_ok: bool) -> Result<SocketAddr, Fail> {
    let addrs: Vec<SocketAddr> = (o.host.as_str(), o.port)
        .to_socket_addrs()
        .map_err(|e| Fail::new(code::CONNECT, format!("cannot resolve {}: {e}", o.host)))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| Fail::new(code::CONNECT, format!("{} has no addresses", o.host)))?;
    for a in &addrs {
        let ip = a.ip();
        if is_metadata(ip) {
            return Err(Fail::new(
                code::DENIED,
                format!("denied: {ip} is a cloud metadata address"),
            ));
        }
        if !literal_ok && !is_public(ip) {
            return Err(Fail::new(
                code::DENIED,
                format!(
                    "denied: {} resolves to {ip}, a private or local address",
                    o.host
                ),
            ));
        }
    }
    Ok(first)
}

fn is_metadata(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => return v6.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
        },
    };
    v4 == Ipv4Addr::new(169, 254, 169, 254) || v4 == Ipv4Addr::new(100, 100, 100, 200)
}

/// Globally routable: not loopback, private, link-local, shared (CGNAT),
/// unspecified, broadcast, multicast, unique-local or documentation space.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (18..20).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0xdb8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        parse_url(url).unwrap().0
    }

    fn policy(allow: &[&str]) -> Policy {
        let o = origin("http://127.0.0.1:9");
        let cred = Credential {
            placeholder: placeholder("OPENAI_API_KEY"),
            key: "sk-real".into(),
        };
        Policy::new(
            vec![(o, Some(cred))],
            allow
                .iter()
                .map(|a| AllowEntry::parse(a).unwrap())
                .collect(),
            1000,
        )
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
    fn key_replaces_placeholder_only_toward_the_provider() {
        let p = policy(&["127.0.0.1:10"]);
        let ph = placeholder("OPENAI_API_KEY");
        let hdrs = || {
            vec![
                ("authorization".to_string(), format!("Bearer {ph}")),
                ("x".into(), "1".into()),
            ]
        };
        let a = p.approve("http://127.0.0.1:9/v1/chat", hdrs()).unwrap();
        assert_eq!(
            a.headers[0],
            ("authorization".into(), "Bearer sk-real".into())
        );
        let b = p.approve("http://127.0.0.1:10/x", hdrs()).unwrap();
        assert_eq!(
            b.headers,
            vec![("x".to_string(), "1".to_string())],
            "placeholder not forwarded"
        );
        assert!(!format!("{:?}", b.headers).contains("sk-real"));
    }

    #[test]
    fn unlisted_hosts_and_metadata_are_denied() {
        let p = policy(&["169.254.169.254", "*"]);
        assert_eq!(
            p.approve("http://127.0.0.1:11/", vec![])
                .err()
                .unwrap()
                .code,
            code::DENIED,
            "a literal private address needs its own entry, * is public only"
        );
        assert_eq!(
            p.approve("http://169.254.169.254/latest", vec![])
                .err()
                .unwrap()
                .code,
            code::DENIED
        );
        let strict = policy(&[]);
        let e = strict.approve("http://10.0.0.5/", vec![]).err().unwrap();
        assert_eq!(e.code, code::DENIED);
        assert!(e.message.contains("not an allowed host"), "{}", e.message);
        assert_eq!(
            p.approve("https://127.0.0.1:9/", vec![])
                .err()
                .unwrap()
                .code,
            code::DENIED
        );
    }

    #[test]
    fn names_resolving_inward_are_denied() {
        // `localhost` by name through `*` is a DNS name pointing inward.
        let p = policy(&["*"]);
        let e = p.approve("http://localhost:9/", vec![]).err().unwrap();
        assert_eq!(e.code, code::DENIED, "{}", e.message);
    }

    #[test]
    fn address_classes() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn allow_entries_parse() {
        assert_eq!(
            AllowEntry::parse("Example.com").unwrap(),
            AllowEntry {
                host: "example.com".into(),
                port: None
            }
        );
        assert_eq!(AllowEntry::parse("h:80").unwrap().port, Some(80));
        assert_eq!(AllowEntry::parse("[::1]:80").unwrap().host, "::1");
        assert!(AllowEntry::parse("h:x").is_err());
    }
}
