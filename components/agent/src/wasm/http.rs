//! A minimal blocking HTTP client on the raw `wasi:http` bindings: one POST
//! with a Content-Length body, the response body read as a chunk stream.

use super::wasi::http::outgoing_handler;
use super::wasi::http::types::{
    http_error_code, ErrorCode, Fields, IncomingBody, IncomingResponse, Method, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme,
};
use super::wasi::io::streams::{InputStream, StreamError};
use crate::http::{nanos, split_url, Body, Http, HttpError, Request, Response, Timeouts};
use crate::prelude::*;

pub struct WasiHttp;

/// Fields drop in declaration order: the stream before the body before the
/// response, as `wasi:http` requires of child resources.
struct WasiBody {
    stream: InputStream,
    _body: IncomingBody,
    _response: IncomingResponse,
}

const READ_SIZE: u64 = 64 << 10;
const WRITE_SIZE: usize = 4096;

impl Body for WasiBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        loop {
            match self.stream.blocking_read(READ_SIZE) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Ok(Some(bytes)),
                Err(StreamError::Closed) => return Ok(None),
                Err(StreamError::LastOperationFailed(e)) => {
                    // A host's size limit cuts every retry at the same byte:
                    // final, not a broken connection worth another try.
                    if let Some(code @ ErrorCode::HttpResponseBodySize(_)) = http_error_code(&e) {
                        return Err(classify(code));
                    }
                    // The host's text may carry a multi-line backtrace.
                    let text = e.to_debug_string();
                    let first = text.lines().next().unwrap_or("I/O error");
                    // wasmtime-wasi-http 48 keeps body errors in its own
                    // error type, which `http-error-code` does not map, so
                    // its size-limit error is recognised by its text too.
                    if first.starts_with("HTTP response body size exceeds limit") {
                        return Err(HttpError::Other(cat!(
                            "the response is larger than the host allows (",
                            first,
                            ")"
                        )));
                    }
                    return Err(HttpError::Connect(cat!("reading the body failed: ", first)));
                }
            }
        }
    }
}

fn classify(e: ErrorCode) -> HttpError {
    use ErrorCode as E;
    let text = |s: &str| s.to_string();
    match e {
        E::DnsTimeout => HttpError::Timeout(text("DNS lookup timed out")),
        E::ConnectionTimeout => HttpError::Timeout(text("connect timeout")),
        E::ConnectionReadTimeout | E::HttpResponseTimeout => {
            HttpError::Timeout(text("no response in time"))
        }
        E::ConnectionWriteTimeout => HttpError::Timeout(text("sending the request timed out")),
        E::DnsError(p) => HttpError::Connect(cat!("DNS error ", p.rcode.unwrap_or_default())),
        E::ConnectionRefused => HttpError::Connect(text("connection refused")),
        E::ConnectionTerminated => HttpError::Connect(text("connection closed")),
        E::DestinationNotFound => HttpError::Connect(text("host not found")),
        E::DestinationUnavailable => HttpError::Connect(text("host unavailable")),
        E::HttpResponseIncomplete => HttpError::Connect(text("incomplete response")),
        E::TlsProtocolError | E::TlsCertificateError | E::TlsAlertReceived(_) => {
            HttpError::Connect(text("TLS error"))
        }
        E::HttpRequestDenied => HttpError::Other(text(
            "the host denied the request (run wasmtime with -S http)",
        )),
        E::InternalError(m) => HttpError::Connect(m.unwrap_or_else(|| text("internal error"))),
        E::HttpRequestUriInvalid => HttpError::Other(text("invalid request URL")),
        E::HttpProtocolError => HttpError::Connect(text("HTTP protocol error")),
        E::ConfigurationError => HttpError::Other(text("host HTTP configuration error")),
        E::HttpResponseBodySize(limit) => HttpError::Other(match limit {
            Some(n) => cat!(
                "the response is larger than the host allows (",
                n,
                " bytes)"
            ),
            None => text("the response is larger than the host allows"),
        }),
        // The remaining codes are rare; their Debug text would cost ~4 KB.
        _ => HttpError::Other(text("the request failed")),
    }
}

fn header_error(name: &str) -> HttpError {
    HttpError::Other(cat!("invalid request header '", name, "'"))
}

impl Http for WasiHttp {
    fn send(&mut self, req: &Request, t: Timeouts) -> Result<Response, HttpError> {
        let url = split_url(&req.url).map_err(HttpError::Other)?;
        let headers = Fields::new();
        for (k, v) in &req.headers {
            headers
                .append(k, v.as_bytes())
                .map_err(|_| header_error(k))?;
        }
        let request = OutgoingRequest::new(headers);
        let bad = |what: &str| HttpError::Other(cat!("invalid URL ", what, ": ", req.url));
        request
            .set_method(&Method::Post)
            .map_err(|_| bad("method"))?;
        let scheme = if url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        request
            .set_scheme(Some(&scheme))
            .map_err(|_| bad("scheme"))?;
        request
            .set_authority(Some(url.authority))
            .map_err(|_| bad("host"))?;
        request
            .set_path_with_query(Some(url.path_and_query))
            .map_err(|_| bad("path"))?;
        let body = request
            .body()
            .map_err(|_| HttpError::Other("request body unavailable".into()))?;

        let options = RequestOptions::new();
        // A host that does not support an option keeps its own default.
        let _ = options.set_connect_timeout(Some(nanos(t.connect)));
        let _ = options.set_first_byte_timeout(Some(nanos(t.first_byte)));
        let _ = options.set_between_bytes_timeout(Some(nanos(t.between_bytes)));

        let future = outgoing_handler::handle(request, Some(options)).map_err(classify)?;
        {
            let out = body
                .write()
                .map_err(|_| HttpError::Other("request body stream unavailable".into()))?;
            for chunk in req.body.chunks(WRITE_SIZE) {
                out.blocking_write_and_flush(chunk)
                    .map_err(|_| HttpError::Connect("sending the request body failed".into()))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(classify)?;

        let response = loop {
            match future.get() {
                Some(r) => break r,
                None => future.subscribe().block(),
            }
        };
        let response = response
            .map_err(|_| HttpError::Other("response already taken".into()))?
            .map_err(classify)?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8(v).unwrap_or_default(),
                )
            })
            .collect();
        let incoming = response
            .consume()
            .map_err(|_| HttpError::Other("response body unavailable".into()))?;
        let stream = incoming
            .stream()
            .map_err(|_| HttpError::Other("response body stream unavailable".into()))?;
        Ok(Response {
            status,
            headers,
            body: Box::new(WasiBody {
                stream,
                _body: incoming,
                _response: response,
            }),
        })
    }
}
