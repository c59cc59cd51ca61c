//! One HTTP exchange over the `wasiclaw_http` import: encode the request,
//! decode status and headers, and own the response handle until dropped.

use std::rc::Rc;

use crate::abi::{self, code, HttpImport};

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
                message: format!("invalid header {name:?}"),
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
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()
}
