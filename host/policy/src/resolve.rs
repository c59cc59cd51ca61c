//! Resolve pins (`host.resolve`, `--resolve HOST:PORT:ADDR[,ADDR...]`), in
//! the spirit of curl's `--resolve`: the operator pins a name and port to
//! addresses for the run. Connections to that name and port go to those
//! addresses without a DNS lookup, TLS still verifies the certificate for the
//! name (SNI is the name), and because the operator chose the addresses they
//! may be internal: a pin is the only way a loopback or private address can
//! stand in for a public name. A pin grants no permission by itself: the
//! request must still be to a provider endpoint or an allowed host.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::policy::PolicyError;

/// One `HOST:PORT:ADDR[,ADDR...]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// Lower-case DNS name.
    pub host: String,
    pub port: u16,
    /// Tried in order, as the answers of a lookup would be.
    pub addrs: Vec<SocketAddr>,
}

impl Pin {
    pub fn parse(entry: &str) -> Result<Pin, PolicyError> {
        let bad = |why: &str| PolicyError::BadResolve(entry.to_string(), why.to_string());
        let mut parts = entry.trim().splitn(3, ':');
        let host = parts.next().unwrap_or("").to_ascii_lowercase();
        let (Some(port), Some(addrs)) = (parts.next(), parts.next()) else {
            return Err(bad("expected HOST:PORT:ADDR"));
        };
        if host.is_empty() {
            return Err(bad("no host name"));
        }
        if host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
            return Err(bad("HOST must be a name; an address needs no pin"));
        }
        if host.contains('*') {
            return Err(bad("wildcards are not supported; pin each name"));
        }
        let label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        };
        let name = host.strip_suffix('.').unwrap_or(&host);
        if name.len() > 253 || !name.split('.').all(label) {
            return Err(bad("HOST is not a valid DNS name"));
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => return Err(bad("PORT must be a number from 1 to 65535")),
        };
        let mut out = Vec::new();
        for a in addrs.split(',') {
            let a = a.trim();
            let literal = a
                .strip_prefix('[')
                .and_then(|v6| v6.strip_suffix(']'))
                .unwrap_or(a);
            let ip = literal.parse::<IpAddr>().map_err(|_| {
                bad(&format!(
                    "{a:?} is not an IP address (names are not resolved here)"
                ))
            })?;
            out.push(SocketAddr::new(ip, port));
        }
        Ok(Pin {
            host: name.to_string(),
            port,
            addrs: out,
        })
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.port == port && self.host.eq_ignore_ascii_case(host)
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.host, self.port)?;
        for (i, a) in self.addrs.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            match a.ip() {
                IpAddr::V4(ip) => write!(f, "{sep}{ip}")?,
                IpAddr::V6(ip) => write!(f, "{sep}[{ip}]")?,
            }
        }
        Ok(())
    }
}

/// The addresses pinned for `host:port`; the last matching entry wins, so a
/// `--resolve` flag overrides the policy file's entry for the same name.
pub fn pinned<'a>(pins: &'a [Pin], host: &str, port: u16) -> Option<&'a [SocketAddr]> {
    pins.iter()
        .rev()
        .find(|p| p.matches(host, port))
        .map(|p| p.addrs.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(entry: &str) -> String {
        Pin::parse(entry).unwrap_err().to_string()
    }

    #[test]
    fn entries_parse_like_curls() {
        let p = Pin::parse("API.OpenAI.com:443:127.0.0.1").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("api.openai.com", 443));
        assert_eq!(p.addrs, vec!["127.0.0.1:443".parse().unwrap()]);
        assert_eq!(p.to_string(), "api.openai.com:443:127.0.0.1");
        let p = Pin::parse("api.anthropic.com.:8443:[::1],127.0.0.2,::2").unwrap();
        assert_eq!(p.host, "api.anthropic.com");
        let want: Vec<SocketAddr> = ["[::1]:8443", "127.0.0.2:8443", "[::2]:8443"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(p.addrs, want);
        assert_eq!(
            p.to_string(),
            "api.anthropic.com:8443:[::1],127.0.0.2,[::2]"
        );
        assert!(p.matches("API.anthropic.com", 8443));
        assert!(p.matches("api.anthropic.com.", 8443));
        assert!(!p.matches("api.anthropic.com", 443));
        assert!(!p.matches("anthropic.com", 8443));
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (entry, why) in [
            ("api.openai.com", "expected HOST:PORT:ADDR"),
            ("api.openai.com:443", "expected HOST:PORT:ADDR"),
            (":443:127.0.0.1", "no host name"),
            ("127.0.0.1:443:127.0.0.2", "HOST must be a name"),
            ("[::1]:443:127.0.0.2", "HOST must be a name"),
            ("*.openai.com:443:127.0.0.1", "wildcards are not supported"),
            ("api_openai.com:443:127.0.0.1", "not a valid DNS name"),
            ("a..b:443:127.0.0.1", "not a valid DNS name"),
            ("api.openai.com:0:127.0.0.1", "PORT must be a number"),
            ("api.openai.com:https:127.0.0.1", "PORT must be a number"),
            ("api.openai.com:70000:127.0.0.1", "PORT must be a number"),
            ("api.openai.com:443:", "\"\" is not an IP address"),
            ("api.openai.com:443:localhost", "\"localhost\" is not an IP"),
            ("api.openai.com:443:127.0.0.1,", "\"\" is not an IP address"),
            ("api.openai.com:443:127.0.0.1:80", "is not an IP address"),
        ] {
            let e = err(entry);
            assert!(e.contains(why), "{entry}: {e}");
            assert!(e.contains(&format!("{entry:?}")), "{entry}: {e}");
            assert!(e.contains("HOST:PORT:ADDR"), "{entry}: {e}");
        }
    }

    #[test]
    fn the_last_pin_for_a_name_wins() {
        let pins: Vec<Pin> = [
            "api.openai.com:443:10.0.0.1",
            "other.test:443:10.0.0.3",
            "api.openai.com:443:127.0.0.1",
        ]
        .iter()
        .map(|e| Pin::parse(e).unwrap())
        .collect();
        let got = pinned(&pins, "api.openai.com", 443).unwrap();
        assert_eq!(got, &["127.0.0.1:443".parse().unwrap()]);
        assert!(pinned(&pins, "api.openai.com", 8443).is_none());
        assert!(pinned(&[], "api.openai.com", 443).is_none());
    }
}
