//! The agent's [`Http`] seam on the shared blocking `wasi:http` client
//! (`wasiclaw_guest::http`): a POST with a Content-Length body, the response
//! body read as a chunk stream, and every failure put in the agent's words.

use wasiclaw_guest::http::{self as client, Failure, Method};
use wasiclaw_guest::wasi::io::error::Error as IoError;
use wasiclaw_guest::ErrorCode;

use crate::http::{nanos, split_url, Body, Http, HttpError, Request, Response, Timeouts};
use crate::prelude::*;

pub struct WasiHttp;

struct WasiBody(client::Body);

const READ_SIZE: u64 = 64 << 10;

impl Body for WasiBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        self.0.read(READ_SIZE).map_err(body_error)
    }
}

fn body_error(e: IoError) -> HttpError {
    // A host's size limit cuts every retry at the same byte: final, not a
    // broken connection worth another try.
    let code = client::error_code(&e);
    if let Some(code) = code.filter(|c| c.case == ErrorCode::HTTP_RESPONSE_BODY_SIZE) {
        return classify(code);
    }
    // The host's text may carry a multi-line backtrace.
    let text = e.to_debug_string();
    let first = text.lines().next().unwrap_or("I/O error");
    // wasmtime-wasi-http 48 keeps body errors in its own error type, which
    // `http-error-code` does not map, so its size-limit error is recognised
    // by its text too.
    if first.starts_with("HTTP response body size exceeds limit") {
        return HttpError::Other(cat!(
            "the response is larger than the host allows (",
            first,
            ")"
        ));
    }
    HttpError::Connect(cat!("reading the body failed: ", first))
}

fn classify(e: ErrorCode) -> HttpError {
    use ErrorCode as E;
    let text = |s: &str| s.to_string();
    match e.case {
        E::DNS_TIMEOUT => HttpError::Timeout(text("DNS lookup timed out")),
        E::CONNECTION_TIMEOUT => HttpError::Timeout(text("connect timeout")),
        E::CONNECTION_READ_TIMEOUT | E::HTTP_RESPONSE_TIMEOUT => {
            HttpError::Timeout(text("no response in time"))
        }
        E::CONNECTION_WRITE_TIMEOUT => HttpError::Timeout(text("sending the request timed out")),
        E::DNS_ERROR => HttpError::Connect(cat!("DNS error ", e.text.unwrap_or_default())),
        E::CONNECTION_REFUSED => HttpError::Connect(text("connection refused")),
        E::CONNECTION_TERMINATED => HttpError::Connect(text("connection closed")),
        E::DESTINATION_NOT_FOUND => HttpError::Connect(text("host not found")),
        E::DESTINATION_UNAVAILABLE => HttpError::Connect(text("host unavailable")),
        E::HTTP_RESPONSE_INCOMPLETE => HttpError::Connect(text("incomplete response")),
        E::TLS_PROTOCOL_ERROR | E::TLS_CERTIFICATE_ERROR | E::TLS_ALERT_RECEIVED => {
            HttpError::Connect(text("TLS error"))
        }
        E::HTTP_REQUEST_DENIED => HttpError::Other(text(
            "the host denied the request (run wasmtime with -S http)",
        )),
        E::INTERNAL_ERROR => HttpError::Connect(e.text.unwrap_or_else(|| text("internal error"))),
        E::HTTP_REQUEST_URI_INVALID => HttpError::Other(text("invalid request URL")),
        E::HTTP_PROTOCOL_ERROR => HttpError::Connect(text("HTTP protocol error")),
        E::CONFIGURATION_ERROR => HttpError::Other(text("host HTTP configuration error")),
        E::HTTP_RESPONSE_BODY_SIZE => HttpError::Other(match e.size {
            Some(n) => cat!(
                "the response is larger than the host allows (",
                n,
                " bytes)"
            ),
            None => text("the response is larger than the host allows"),
        }),
        // The remaining codes are rare.
        _ => HttpError::Other(text("the request failed")),
    }
}

impl Http for WasiHttp {
    fn send(&mut self, req: &Request, t: Timeouts) -> Result<Response, HttpError> {
        let url = split_url(&req.url).map_err(HttpError::Other)?;
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let sent = client::send(&client::Request {
            method: Method::Post,
            https: url.https,
            authority: url.authority,
            path_query: url.path_and_query,
            headers: &headers,
            body: &req.body,
            timeouts: client::Timeouts {
                connect: nanos(t.connect),
                first_byte: nanos(t.first_byte),
                between_bytes: nanos(t.between_bytes),
            },
        });
        let response = sent.map_err(|f| match f {
            Failure::Header(i) => HttpError::Other(cat!(
                "invalid request header '",
                headers.get(i).map_or("", |h| h.0),
                "'"
            )),
            Failure::RequestLine(what) => {
                HttpError::Other(cat!("invalid URL ", what, ": ", req.url))
            }
            Failure::Unavailable(what) => HttpError::Other(cat!(what, " unavailable")),
            Failure::Send => HttpError::Connect("sending the request body failed".into()),
            Failure::Code(code) => classify(code),
        })?;
        Ok(Response {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8(v).unwrap_or_default()))
                .collect(),
            body: Box::new(WasiBody(response.body)),
        })
    }
}
