//! The agent's [`Http`] seam over the `wasiclaw_http` import. The body is
//! streamed: each `read` hands over what the host has, so SSE events reach
//! the agent as they arrive.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;

use wasiclaw_agent::http::{Body, Http, HttpError, Request, Response, Timeouts};

use crate::abi::{code, HttpImport};
use crate::client::{self, Exchange, Failure};

/// Bytes asked for per `read`; the host returns less when less has arrived.
const CHUNK: usize = 16 * 1024;

pub struct ImportHttp {
    imp: Rc<dyn HttpImport>,
}

impl ImportHttp {
    pub fn new(imp: Rc<dyn HttpImport>) -> ImportHttp {
        ImportHttp { imp }
    }
}

impl Http for ImportHttp {
    fn send(&mut self, req: &Request, timeouts: Timeouts) -> Result<Response, HttpError> {
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // The ABI has one timeout for every wait; the longest of the agent's
        // keeps slow first tokens from failing a turn.
        let wait = timeouts
            .connect
            .max(timeouts.first_byte)
            .max(timeouts.between_bytes);
        let timeout_ms = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX);
        let method = if req.body.is_empty() { "GET" } else { "POST" };
        let ex = client::send(&self.imp, method, &req.url, &headers, &req.body, timeout_ms)
            .map_err(to_http_error)?;
        Ok(Response {
            status: ex.status,
            headers: ex.headers.clone(),
            body: Box::new(ImportBody { ex }),
        })
    }
}

struct ImportBody {
    ex: Exchange,
}

impl Body for ImportBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        let mut buf = vec![0u8; CHUNK];
        let n = self.ex.read(&mut buf).map_err(to_http_error)?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(buf))
    }
}

fn to_http_error(f: Failure) -> HttpError {
    match f.code {
        code::CONNECT => HttpError::Connect(f.message),
        code::TIMEOUT => HttpError::Timeout(f.message),
        _ => HttpError::Other(f.message),
    }
}
