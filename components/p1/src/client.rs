//! One HTTP exchange over the `wasiclaw_http` import: encode the request,
//! decode status and headers, and own the response handle until dropped.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use wasiclaw_tools::platform::{HttpRequest, HttpResponse, Method};

use crate::abi::{self, code, HttpImport};

/// What the tools wait for each network read; the host may cap it lower.
const TOOL_TIMEOUT_MS: u32 = 60_000;

/// A failed call: the ABI error code and the host's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

/// An open response. The handle is closed when this is dropped, so an early
/// return never leaks one of the host's few handles.
pub struct Exchange {
    imp: Rc<dyn HttpImport>,
    handle: i32,
    pub status: u16,
    /// Lower-cased names, in the order received.
    pub headers: Vec<(String, String)>,
}

pub fn send(
    imp: &Rc<dyn HttpImport>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout_ms: u32,
) -> Result<Exchange, Failure> {
    let mut lines = String::new();
    for (name, value) in headers {
        // A CR or LF would let a value smuggle in a header of its own.
        if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
            return Err(Failure {
                code: code::INVALID,
                message: quoted("invalid header ", name),
            });
        }
        lines.push_str(name);
        lines.push_str(": ");
        lines.push_str(value);
        lines.push('\n');
    }
    let handle = imp.request(method, url, &lines, body, timeout_ms);
    if handle <= 0 {
        return Err(failure(
            &**imp,
            if handle == 0 { code::PROTOCOL } else { handle },
        ));
    }
    let mut ex = Exchange {
        imp: Rc::clone(imp),
        handle,
        status: 0,
        headers: Vec::new(),
    };
    let status = imp.status(handle);
    if !(100..=599).contains(&status) {
        return Err(failure(&**imp, status.min(code::PROTOCOL)));
    }
    ex.status = status as u16;
    let raw = abi::read_sized(|b| imp.headers(handle, b)).map_err(|c| failure(&**imp, c))?;
    ex.headers = parse_headers(&String::from_utf8_lossy(&raw));
    Ok(ex)
}

impl Exchange {
    /// The next piece of the body into `buf`: `Ok(0)` at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Failure> {
        let n = self.imp.read(self.handle, buf);
        if n < 0 {
            return Err(failure(&*self.imp, n));
        }
        // A host claiming more than it was given is broken; don't index past.
        Ok((n as usize).min(buf.len()))
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.imp.close(self.handle);
    }
}

/// `prefix"name"` with the control characters a header can smuggle written
/// as escapes, like `{name:?}` without pulling in `core::fmt`'s escaper.
fn quoted(prefix: &str, name: &str) -> String {
    let mut m = String::from(prefix);
    m.push('"');
    for c in name.chars() {
        match c {
            '\r' => m.push_str("\\r"),
            '\n' => m.push_str("\\n"),
            '"' | '\\' => {
                m.push('\\');
                m.push(c);
            }
            c => m.push(c),
        }
    }
    m.push('"');
    m
}

fn failure(imp: &dyn HttpImport, code: i32) -> Failure {
    Failure {
        code,
        message: abi::error_message(imp, code),
    }
}

/// `name: value` lines into pairs; lines without a colon are skipped.
pub fn parse_headers(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect()
}

/// The tools' HTTP call: one exchange with the body read whole, cut at
/// `max_body` (and marked so) rather than failing.
pub fn fetch(imp: &Rc<dyn HttpImport>, req: &HttpRequest) -> Result<HttpResponse, String> {
    let method = match req.method {
        Method::Get => "GET",
        Method::Post => "POST",
    };
    let scheme = if req.url.https { "https://" } else { "http://" };
    let url = [scheme, &req.url.authority, &req.url.path_query].concat();
    let mut ex =
        send(imp, method, &url, req.headers, req.body, TOOL_TIMEOUT_MS).map_err(|f| f.message)?;
    let mut body = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut truncated = false;
    loop {
        let n = ex.read(&mut buf).map_err(|f| f.message)?;
        if n == 0 {
            break;
        }
        let room = req.max_body - body.len();
        if n > room {
            body.extend_from_slice(&buf[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Ok(HttpResponse {
        status: ex.status,
        headers: core::mem::take(&mut ex.headers),
        body,
        truncated,
    })
}
