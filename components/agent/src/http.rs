//! The HTTP seam and the retry policy on top of it. The wasm shim implements
//! [`Http`] over `wasi:http`; tests implement it with scripted replies.

use crate::prelude::*;
use core::fmt;
use core::time::Duration;

pub struct Request {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Per-request time limits, mapped onto `wasi:http` request options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

impl Timeouts {
    pub fn from_secs(secs: u64) -> Timeouts {
        let t = Duration::from_secs(secs.max(1));
        Timeouts {
            connect: t.min(Duration::from_secs(30)),
            first_byte: t,
            between_bytes: t,
        }
    }
}

/// A response body read chunk by chunk, so streams are handled as they arrive.
pub trait Body {
    /// The next chunk, or `None` at the end of the body.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError>;
}

pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Box<dyn Body>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    pub fn read_all(&mut self, limit: usize) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.body.next_chunk()? {
            if out.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// A reply over `limit` bytes: not transient, so never retried.
pub fn too_large(limit: usize) -> HttpError {
    HttpError::Other(cat!("the reply is larger than ", limit, " bytes"))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The request could not be delivered (DNS, refused, reset, TLS).
    Connect(String),
    /// A connect, first-byte or between-bytes timeout fired.
    Timeout(String),
    /// Anything else: invalid URL, protocol error, oversized body.
    Other(String),
}

impl HttpError {
    /// Connection trouble and timeouts may pass; a bad URL or a refusal
    /// by the host will not.
    pub fn is_transient(&self) -> bool {
        !matches!(self, HttpError::Other(_))
    }
}

impl HttpError {
    pub fn message(&self) -> String {
        match self {
            HttpError::Connect(m) => cat!("connection failed: ", m),
            HttpError::Timeout(m) => cat!("timed out: ", m),
            HttpError::Other(m) => m.clone(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl wasiclaw_json::text::Piece for HttpError {
    fn add_to(&self, out: &mut String) {
        out.push_str(&self.message());
    }
}

pub trait Http {
    fn send(&mut self, req: &Request, timeouts: Timeouts) -> Result<Response, HttpError>;
}

/// Time, behind a seam so retries and the prompt's date are testable.
pub trait Clock {
    /// Seconds since the Unix epoch (wall clock).
    fn now_unix(&self) -> u64;
    fn sleep(&mut self, d: Duration);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    /// Upper bound for any single wait, `Retry-After` included: a server
    /// asking for an hour should fail the turn, not hang it.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): exponential backoff,
    /// or the server's `Retry-After` seconds when it gave one; both capped.
    pub fn delay(&self, retry: u32, retry_after: Option<&str>) -> Duration {
        let d = match retry_after.and_then(|s| wasiclaw_json::parse_u64(s.trim())) {
            Some(secs) => Duration::from_secs(secs),
            None => self.base_delay.saturating_mul(1u32 << retry.min(16)),
        };
        d.min(self.max_delay)
    }
}

pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// Whole milliseconds and nanoseconds without `Duration`'s u128 methods,
/// whose 128-bit division would be linked just for this.
pub fn millis(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()))
}

pub fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

/// The parts of an `http(s)://` URL that `wasi:http` wants separately.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub https: bool,
    pub authority: &'a str,
    pub path_and_query: &'a str,
}

pub fn split_url(url: &str) -> Result<UrlParts<'_>, String> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(cat!("unsupported URL (need http:// or https://): ", url));
    };
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at_checked(cut).unwrap_or((rest, ""));
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(cat!("invalid host in URL: ", url));
    }
    Ok(UrlParts {
        https,
        authority,
        path_and_query: if path.is_empty() { "/" } else { path },
    })
}
