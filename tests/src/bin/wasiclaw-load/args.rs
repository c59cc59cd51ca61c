//! Command line and request bytes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

pub struct Config {
    pub addr: SocketAddr,
    /// `Host` header: the URL's authority as written.
    pub authority: String,
    pub path: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub connections: usize,
    pub requests: usize,
    pub max: Duration,
}

/// Splits `http://host[:port]/path` and refuses anything but loopback.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    if authority.contains('@') {
        return Err(format!("{url:?}: credentials in the URL are not supported"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url:?}: unclosed '[' in the host"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{url:?}: bad host"))?,
            ),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port: u16 = match port {
        None => 80,
        Some(p) => p.parse().map_err(|_| format!("{url:?}: bad port {p:?}"))?,
    };
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| format!("{url:?}: the host must be an IP address or localhost"))?
    };
    if !ip.is_loopback() {
        return Err(format!(
            "{url:?}: {ip} is not a loopback address; wasiclaw-load only sends to 127.0.0.0/8, ::1 and localhost"
        ));
    }
    Ok((SocketAddr::new(ip, port), authority.to_string(), path))
}

pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
    let mut url = None;
    let mut method = "GET".to_string();
    let mut headers = Vec::new();
    let mut body = Vec::new();
    let (mut connections, mut requests, mut max_secs) = (1usize, 1000usize, 60u64);
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--url" => url = Some(value()?),
            "--method" => method = value()?,
            "--body-file" => {
                let f = value()?;
                body = std::fs::read(&f).map_err(|e| format!("cannot read {f}: {e}"))?;
            }
            "--header" => {
                let h = value()?;
                let (k, v) = h
                    .split_once(':')
                    .ok_or_else(|| format!("--header {h:?}: expected 'name: value'"))?;
                let (k, v) = (k.trim(), v.trim());
                if k.is_empty()
                    || !k.bytes().all(|b| b.is_ascii_graphic())
                    || v.contains(['\r', '\n'])
                {
                    return Err(format!("--header {h:?}: not a valid header"));
                }
                if ["host", "content-length", "transfer-encoding", "connection"]
                    .iter()
                    .any(|n| k.eq_ignore_ascii_case(n))
                {
                    return Err(format!("--header {k}: set by wasiclaw-load itself"));
                }
                headers.push((k.to_string(), v.to_string()));
            }
            "--connections" => {
                connections = value()?
                    .parse()
                    .ok()
                    .filter(|c| (1..=256).contains(c))
                    .ok_or("--connections needs a number 1..=256")?
            }
            "--requests" => {
                requests = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=10_000_000).contains(n))
                    .ok_or("--requests needs a number 1..=10000000")?
            }
            "--max-secs" => {
                max_secs = value()?
                    .parse()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or("--max-secs needs a number 1..=3600")?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let (addr, authority, path) = parse_url(&url)?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("--method {method:?}: expected e.g. GET or POST"));
    }
    Ok(Config {
        addr,
        authority,
        path,
        method,
        headers,
        body,
        connections,
        requests,
        max: Duration::from_secs(max_secs),
    })
}

pub fn request_bytes(cfg: &Config, conn: usize, req: usize) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\n",
        cfg.method, cfg.path, cfg.authority
    );
    for (k, v) in &cfg.headers {
        let v = v
            .replace("{conn}", &conn.to_string())
            .replace("{req}", &req.to_string());
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !cfg.body.is_empty() || cfg.method == "POST" || cfg.method == "PUT" {
        head.push_str(&format!("content-length: {}\r\n", cfg.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&cfg.body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Result<Config, String> {
        parse_args(s.iter().map(|a| a.to_string()))
    }

    #[test]
    fn only_loopback_urls() {
        let (addr, authority, path) =
            parse_url("http://127.0.0.1:8080/v1/chat/completions").expect("ok");
        assert_eq!(addr.to_string(), "127.0.0.1:8080");
        assert_eq!(
            (authority.as_str(), path.as_str()),
            ("127.0.0.1:8080", "/v1/chat/completions")
        );
        assert_eq!(parse_url("http://localhost?x=1").expect("ok").2, "/?x=1");
        assert_eq!(
            parse_url("http://[::1]:9/").expect("ok").0.to_string(),
            "[::1]:9"
        );
        assert_eq!(parse_url("http://127.1.2.3").expect("ok").0.port(), 80);
        for bad in [
            "http://10.0.0.1/",
            "http://example.com/",
            "https://127.0.0.1/",
            "http://[::2]:1/",
            "http://u@127.0.0.1/",
            "http://127.0.0.1:x/",
            "http://[::1]x/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let e = parse_url("http://192.168.1.1:80/")
            .err()
            .unwrap_or_default();
        assert!(e.contains("not a loopback address"), "{e}");
    }

    #[test]
    fn arguments_and_request_bytes() {
        let cfg = args(&[
            "--url",
            "http://127.0.0.1:1/p",
            "--method",
            "POST",
            "--header",
            "x-s: s-{conn}-{req}",
            "--connections",
            "2",
        ])
        .expect("ok");
        let text = String::from_utf8(request_bytes(&cfg, 1, 42)).expect("utf8");
        assert_eq!(
            text,
            "POST /p HTTP/1.1\r\nhost: 127.0.0.1:1\r\nx-s: s-1-42\r\ncontent-length: 0\r\n\r\n"
        );
        assert_eq!(cfg.connections, 2);
        for bad in [
            &["--url", "http://127.0.0.1:1/", "--connections", "0"][..],
            &["--url", "http://127.0.0.1:1/", "--header", "nocolon"],
            &["--url", "http://127.0.0.1:1/", "--header", "host: x"],
            &["--url", "http://127.0.0.1:1/", "--method", "get me"],
            &[
                "--url",
                "http://127.0.0.1:1/",
                "--body-file",
                "/nonexistent/wasiclaw-load",
            ],
            &["--requests", "5"],
            &["--url"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }
}
