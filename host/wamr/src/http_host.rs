//! The `wasiclaw_http` functions in safe Rust, over slices: validation, the
//! policy gate, the handle table and `last_error`. The FFI layer (natives.rs)
//! only turns WAMR's arguments into these slices.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use wasiclaw_policy::model_calls::admit;

use crate::errors::{code, Fail};
use crate::limits::Deadline;
use crate::net::{self, Outgoing};
use crate::policy::Policy;
use crate::response::Response;

/// Per the ABI: at most this many responses open at once.
pub const MAX_HANDLES: usize = 16;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Guests cannot hold a socket longer than this per wait.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

pub struct HttpHost {
    policy: Policy,
    /// The session model calls are metered and budgeted under.
    session: String,
    deadline: Arc<Deadline>,
    open: BTreeMap<i32, Response>,
    next: i32,
    last_error: String,
}

impl HttpHost {
    pub fn new(policy: Policy, session: &str, deadline: Arc<Deadline>) -> HttpHost {
        HttpHost {
            policy,
            session: session.to_string(),
            deadline,
            open: BTreeMap::new(),
            next: 1,
            last_error: String::new(),
        }
    }

    /// Records a failure for `last_error` and returns its code. Past the
    /// deadline every failure is the time limit (the watchdog closed the
    /// socket; the instance stops as this native returns).
    fn fail(&mut self, f: Fail) -> i32 {
        let f = if self.deadline.expired() {
            self.deadline.fail()
        } else {
            f
        };
        self.last_error = f.message;
        f.code
    }

    pub fn request(
        &mut self,
        method: &[u8],
        url: &[u8],
        headers: &[u8],
        body: &[u8],
        timeout_ms: u32,
    ) -> i32 {
        match self.try_request(method, url, headers, body, timeout_ms) {
            Ok(h) => h,
            Err(f) => self.fail(f),
        }
    }

    fn try_request(
        &mut self,
        method: &[u8],
        url: &[u8],
        headers: &[u8],
        body: &[u8],
        timeout_ms: u32,
    ) -> Result<i32, Fail> {
        if self.open.len() >= MAX_HANDLES {
            return Err(Fail::new(code::LIMIT, "too many open HTTP responses"));
        }
        let method = text(method, "the method")?;
        if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
            return Err(Fail::new(
                code::INVALID,
                format!("invalid method {method:?}"),
            ));
        }
        let url = text(url, "the URL")?;
        let headers = parse_header_lines(text(headers, "the headers")?)?;
        if body.len() as u64 > self.policy.body_limit() {
            return Err(Fail::new(
                code::TOO_LARGE,
                "the request body is larger than the host's limit",
            ));
        }
        let approved = self.policy.approve(url, headers)?;
        let recorder = match approved.model_call {
            None => None,
            Some(kind) => match admit(self.policy.rules(), &self.session, kind) {
                Ok(r) => Some(r),
                Err(why) => {
                    eprintln!("wasiclaw-wamr: host refused model request: {why}");
                    return Ok(self.keep(Response::refusal(&why)));
                }
            },
        };
        let timeout = match timeout_ms {
            0 => DEFAULT_TIMEOUT,
            ms => Duration::from_millis(ms.into()).min(MAX_TIMEOUT),
        };
        let out = Outgoing {
            method,
            authority: &approved.authority,
            path_query: &approved.path_query,
            headers: &approved.headers,
            body,
        };
        let limit = self.policy.body_limit();
        let tls = approved.tls_name.as_deref().map(|name| net::Tls {
            config: self.policy.tls_config(),
            name,
        });
        let resp = net::exchange(
            approved.addr,
            tls.as_ref(),
            &out,
            timeout,
            limit,
            &self.deadline,
        )?;
        Ok(self.keep(Response::net(resp, recorder, &approved.secrets)))
    }

    /// Stores an open response under a new handle.
    fn keep(&mut self, resp: Response) -> i32 {
        // Handles stay positive and are not reused soon after close.
        let handle = self.next;
        self.next = if self.next == i32::MAX {
            1
        } else {
            self.next + 1
        };
        self.open.insert(handle, resp);
        handle
    }

    pub fn status(&mut self, handle: i32) -> i32 {
        match self.open.get(&handle) {
            Some(r) => r.status.into(),
            None => self.fail(bad_handle()),
        }
    }

    pub fn headers(&mut self, handle: i32, buf: &mut [u8]) -> i32 {
        let Some(r) = self.open.get(&handle) else {
            return self.fail(bad_handle());
        };
        let mut text = String::new();
        for (k, v) in &r.headers {
            text.push_str(k);
            text.push_str(": ");
            text.push_str(v);
            text.push('\n');
        }
        copy_if_fits(text.as_bytes(), buf)
    }

    pub fn read(&mut self, handle: i32, buf: &mut [u8]) -> i32 {
        if buf.is_empty() {
            return self.fail(Fail::new(code::INVALID, "read into an empty buffer"));
        }
        // The ABI returns an i32 count.
        let cap = buf.len().min(i32::MAX as usize);
        let Some(r) = self.open.get_mut(&handle) else {
            return self.fail(bad_handle());
        };
        match r.read(&mut buf[..cap]) {
            // A socket shut at the deadline reads as its end: not a body.
            Ok(_) if self.deadline.expired() => self.fail(self.deadline.fail()),
            Ok(n) => n as i32,
            Err(f) => self.fail(f),
        }
    }

    pub fn close(&mut self, handle: i32) {
        self.open.remove(&handle);
    }

    pub fn last_error(&self, buf: &mut [u8]) -> i32 {
        copy_if_fits(self.last_error.as_bytes(), buf)
    }
}

fn text<'a>(b: &'a [u8], what: &str) -> Result<&'a str, Fail> {
    std::str::from_utf8(b).map_err(|_| Fail::new(code::INVALID, format!("{what} is not UTF-8")))
}

fn bad_handle() -> Fail {
    Fail::new(code::BAD_HANDLE, "not an open HTTP response handle")
}

/// "Returns the needed length, writes only when it fits."
fn copy_if_fits(src: &[u8], buf: &mut [u8]) -> i32 {
    if src.len() <= buf.len() {
        buf[..src.len()].copy_from_slice(src);
    }
    i32::try_from(src.len()).unwrap_or(i32::MAX)
}

/// `name: value\n` lines; the final newline is optional.
fn parse_header_lines(text: &str) -> Result<Vec<(String, String)>, Fail> {
    let mut out = Vec::new();
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let bad = || Fail::new(code::INVALID, format!("invalid header line {line:?}"));
        let (k, v) = line.split_once(':').ok_or_else(bad)?;
        let k = k.trim();
        let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
        if k.is_empty() || !k.bytes().all(token) || v.contains('\r') {
            return Err(bad());
        }
        out.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_parse_and_reject_garbage() {
        let h = parse_header_lines("Content-Type: a/b\nx-k:  v \n").unwrap();
        assert_eq!(
            h,
            vec![
                ("content-type".into(), "a/b".into()),
                ("x-k".into(), "v".into())
            ]
        );
        assert!(parse_header_lines("no colon").is_err());
        assert!(parse_header_lines("bad name: v").is_err());
        assert!(parse_header_lines("x: a\rb").is_err());
        assert_eq!(parse_header_lines("").unwrap(), vec![]);
    }

    #[test]
    fn sized_copy_only_writes_what_fits() {
        let mut small = [0u8; 2];
        assert_eq!(copy_if_fits(b"abc", &mut small), 3);
        assert_eq!(small, [0, 0]);
        let mut big = [0u8; 4];
        assert_eq!(copy_if_fits(b"abc", &mut big), 3);
        assert_eq!(&big[..3], b"abc");
    }
}
