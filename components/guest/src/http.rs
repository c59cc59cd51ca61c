//! One blocking `wasi:http` exchange: a request with a method, headers and a
//! body of known length, the response's status and headers, and its body read
//! chunk by chunk. The agent streams model replies through it; the tools read
//! web pages and embeddings through it.

use alloc::string::String;
use alloc::vec::Vec;

use crate::raw::{self, ErrorCode};
use crate::wasi::http::types::{
    Fields, IncomingBody, IncomingResponse, Method as WasiMethod, OutgoingRequest, RequestOptions,
    Scheme,
};
use crate::wasi::io::error::Error as IoError;
use crate::wasi::io::streams::{InputStream, StreamError};

/// `blocking-write-and-flush` takes at most 4096 bytes per call.
const WRITE_SIZE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Per-request time limits in nanoseconds, as `wasi:http` request options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: u64,
    pub first_byte: u64,
    pub between_bytes: u64,
}

pub struct Request<'a> {
    pub method: Method,
    pub https: bool,
    /// `host[:port]`.
    pub authority: &'a str,
    /// The path with its query, starting with `/`.
    pub path_query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    /// Sent as is; the caller adds `content-length` when it wants one.
    pub body: &'a [u8],
    pub timeouts: Timeouts,
}

/// Why an exchange failed before a response arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The host refused the request header at this index of `headers`.
    Header(usize),
    /// The host refused this part of the request line: "method", "scheme",
    /// "host" or "path".
    RequestLine(&'static str),
    /// The host gave no handle for this: "request body", "request body
    /// stream", "response", "response body" or "response body stream".
    Unavailable(&'static str),
    /// The connection failed while the request body was being sent.
    Send,
    /// The exchange failed with this `error-code`.
    Code(ErrorCode),
}

pub struct Response {
    pub status: u16,
    /// Names lower-cased; values as the server sent them.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Body,
}

/// The response body as a stream. Fields drop in declaration order: the
/// stream before the body before the response, as `wasi:http` requires of
/// child resources.
pub struct Body {
    stream: InputStream,
    _body: IncomingBody,
    _response: IncomingResponse,
}

impl Body {
    /// The next bytes (at most `max`, at least one), or `None` at the end.
    /// A failed read gives the host's I/O error: [`error_code`] says whether
    /// an HTTP `error-code` is behind it, `to-debug-string` describes it.
    pub fn read(&mut self, max: u64) -> Result<Option<Vec<u8>>, IoError> {
        loop {
            match self.stream.blocking_read(max) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Ok(Some(bytes)),
                Err(StreamError::Closed) => return Ok(None),
                Err(StreamError::LastOperationFailed(e)) => return Err(e),
            }
        }
    }
}

/// `http-error-code(err)`: the `error-code` behind a body stream's error,
/// when the failure was an HTTP one.
pub fn error_code(err: &IoError) -> Option<ErrorCode> {
    raw::http_error_code(err)
}

/// Sends `req` and waits for the response head.
pub fn send(req: &Request) -> Result<Response, Failure> {
    // Appended one by one: borrowed arguments, no list to build and lower.
    let headers = Fields::new();
    for (i, (k, v)) in req.headers.iter().enumerate() {
        headers
            .append(k, v.as_bytes())
            .map_err(|_| Failure::Header(i))?;
    }
    let request = OutgoingRequest::new(headers);
    let method = match req.method {
        Method::Get => WasiMethod::Get,
        Method::Post => WasiMethod::Post,
    };
    let scheme = if req.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let line = Failure::RequestLine;
    request.set_method(&method).map_err(|_| line("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|_| line("scheme"))?;
    request
        .set_authority(Some(req.authority))
        .map_err(|_| line("host"))?;
    request
        .set_path_with_query(Some(req.path_query))
        .map_err(|_| line("path"))?;
    let body = request
        .body()
        .map_err(|_| Failure::Unavailable("request body"))?;

    let options = RequestOptions::new();
    // A host that does not support an option keeps its own default.
    let _ = options.set_connect_timeout(Some(req.timeouts.connect));
    let _ = options.set_first_byte_timeout(Some(req.timeouts.first_byte));
    let _ = options.set_between_bytes_timeout(Some(req.timeouts.between_bytes));
    let pending = raw::handle(request, options).map_err(Failure::Code)?;

    if !req.body.is_empty() {
        let out = body
            .write()
            .map_err(|_| Failure::Unavailable("request body stream"))?;
        for chunk in req.body.chunks(WRITE_SIZE) {
            out.blocking_write_and_flush(chunk)
                .map_err(|_| Failure::Send)?;
        }
    }
    raw::finish(body).map_err(Failure::Code)?;

    pending.subscribe().block();
    // Ready once the pollable is: `None` now would mean already taken.
    let response = match raw::get(&pending) {
        Some(r) => r.map_err(Failure::Code)?,
        None => return Err(Failure::Unavailable("response")),
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let incoming = response
        .consume()
        .map_err(|_| Failure::Unavailable("response body"))?;
    let stream = incoming
        .stream()
        .map_err(|_| Failure::Unavailable("response body stream"))?;
    Ok(Response {
        status,
        headers,
        body: Body {
            stream,
            _body: incoming,
            _response: response,
        },
    })
}
