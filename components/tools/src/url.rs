//! Just enough URL handling for web_fetch and the embeddings endpoint: parse
//! absolute http(s) URLs and resolve redirect `Location`s against them.

use crate::prelude::*;

use crate::error::{cat, sub, tail};
use crate::platform::Url;

impl Url {
    pub fn to_text(&self) -> String {
        cat(&[
            if self.https { "https://" } else { "http://" },
            &self.authority,
            &self.path_query,
        ])
    }
}

/// Parses an absolute `http://` or `https://` URL; the fragment is dropped
/// because it never goes on the wire. Errors are phrased for the model.
pub fn parse_url(s: &str) -> Result<Url, String> {
    let s = s.trim();
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(String::from(
            "the URL contains spaces or control characters; percent-encode them",
        ));
    }
    let (https, rest) = if let Some(r) = strip_prefix_ci(s, "https://") {
        (true, r)
    } else if let Some(r) = strip_prefix_ci(s, "http://") {
        (false, r)
    } else {
        return Err(String::from(
            "only absolute http:// and https:// URLs can be fetched",
        ));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = sub(rest, 0, end);
    if authority.is_empty() {
        return Err(String::from("the URL has no host"));
    }
    if authority.contains('@') {
        return Err(String::from(
            "URLs with credentials (user:password@host) are not supported",
        ));
    }
    let pq = tail(rest, end);
    let pq = sub(pq, 0, pq.find('#').unwrap_or(pq.len()));
    let path_query = if pq.is_empty() {
        String::from("/")
    } else if pq.starts_with('?') {
        cat(&["/", pq])
    } else {
        String::from(pq)
    };
    Ok(Url {
        https,
        authority: authority.to_ascii_lowercase(),
        path_query,
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| tail(s, prefix.len()))
}

/// Resolves a `Location` header value against the URL that sent it
/// (RFC 3986 section 5.2, minus the parts http redirects never use).
pub fn resolve_url(base: &Url, loc: &str) -> Result<Url, String> {
    let loc = loc.trim();
    let loc = sub(loc, 0, loc.find('#').unwrap_or(loc.len()));
    let scheme_end = loc.find(':');
    if let Some(i) = scheme_end {
        if i > 0
            && sub(loc, 0, i)
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        {
            return parse_url(loc);
        }
    }
    if loc.starts_with("//") {
        return parse_url(&cat(&[if base.https { "https:" } else { "http:" }, loc]));
    }
    let pq = &base.path_query;
    let base_path = sub(pq, 0, pq.find('?').unwrap_or(pq.len()));
    let joined = if loc.is_empty() {
        base.path_query.clone()
    } else if loc.starts_with('/') {
        String::from(loc)
    } else if loc.starts_with('?') {
        cat(&[base_path, loc])
    } else {
        let dir = sub(base_path, 0, base_path.rfind('/').map_or(0, |i| i + 1));
        cat(&[dir, loc])
    };
    Ok(Url {
        https: base.https,
        authority: base.authority.clone(),
        path_query: remove_dots(&joined),
    })
}

/// Removes `.` and `..` segments from the path part of `pq`.
fn remove_dots(pq: &str) -> String {
    let q = pq.find('?').unwrap_or(pq.len());
    let (path, query) = (sub(pq, 0, q), tail(pq, q));
    // Segments after the leading `/`; a trailing `.` or `..` leaves a
    // trailing slash, as a browser would.
    let mut out = String::with_capacity(pq.len());
    let mut parts = path.split('/').skip(1).peekable();
    while let Some(seg) = parts.next() {
        let last = parts.peek().is_none();
        match seg {
            "." | ".." => {
                if seg == ".." {
                    out.truncate(out.rfind('/').unwrap_or(0));
                }
                if last {
                    out.push('/');
                }
            }
            s => {
                out.push('/');
                out.push_str(s);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out.push_str(query);
    out
}
