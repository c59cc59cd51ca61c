//! `wasi:http/incoming-handler` for the edge build: reads the request,
//! hands it to [`crate::edge`], and writes the JSON or SSE answer.

use super::{exports, stderr, wasi, with_platform, Component};
use crate::agent::NoSink;
use crate::edge::{self, Delta, Meta, Route, StreamSink};
use crate::mcp::server;
use crate::prelude::*;
use crate::stdio::Output as _;
use wasiclaw_guest::wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasiclaw_guest::wasi::io::streams::{OutputStream, StreamError};
use wasiclaw_json::text::hex;

const JSON: &str = "application/json";
const WRITE_SIZE: usize = 4096;

/// A response whose headers are sent; the body is written as it comes.
/// The stream is dropped before the body is finished, as `wasi:http` asks.
struct Writer {
    stream: Option<OutputStream>,
    body: OutgoingBody,
}

impl Writer {
    fn start(out: ResponseOutparam, status: u16, content_type: &str) -> Option<Writer> {
        let headers = Fields::new();
        let _ = headers.append("content-type", content_type.as_bytes());
        let _ = headers.append("cache-control", b"no-cache");
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(status);
        let body = response.body().ok()?;
        ResponseOutparam::set(out, Ok(response));
        let stream = body.write().ok();
        Some(Writer { stream, body })
    }

    /// False once the client has gone away; later writes are skipped.
    fn send(&mut self, bytes: &[u8]) -> bool {
        let Some(s) = &self.stream else { return false };
        for chunk in bytes.chunks(WRITE_SIZE) {
            if s.blocking_write_and_flush(chunk).is_err() {
                self.stream = None;
                return false;
            }
        }
        true
    }

    fn finish(mut self) {
        self.stream = None;
        let _ = OutgoingBody::finish(self.body, None);
    }
}

fn respond(out: ResponseOutparam, status: u16, content_type: &str, body: &str) {
    if let Some(mut w) = Writer::start(out, status, content_type) {
        w.send(body.as_bytes());
        w.finish();
    }
}

fn log_line(line: &str) {
    stderr().put(&cat!(line, "\n"));
}

/// The body, read up to one byte past the limit so oversize is detected
/// without buffering it all.
fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, String> {
    let body = request
        .consume()
        .map_err(|_| "request body unavailable".to_string())?;
    let mut data = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|_| "request body unavailable".to_string())?;
        while data.len() <= edge::MAX_BODY {
            match stream.blocking_read(64 << 10) {
                Ok(b) => data.extend_from_slice(&b),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(_)) => {
                    return Err("reading the request body failed".into())
                }
            }
        }
    }
    Ok(data)
}

fn header(request: &IncomingRequest, name: &str) -> Option<String> {
    let values = request.headers().get(name);
    values
        .into_iter()
        .next()
        .and_then(|v| String::from_utf8(v).ok())
}

fn chat(request: IncomingRequest, out: ResponseOutparam) {
    let session = header(&request, edge::SESSION_HEADER);
    let body = match read_body(&request) {
        Ok(b) => b,
        Err(e) => return respond(out, 400, JSON, &edge::invalid_request(&e)),
    };
    drop(request);
    let req = match edge::parse_request(&body, session.as_deref()) {
        Ok(r) => r,
        Err(b) => return respond(out, b.status, JSON, &edge::invalid_request(&b.message)),
    };
    let now = wasi::clocks::wall_clock::now();
    let id = cat!(
        "chatcmpl-",
        hex(now.seconds, 1),
        hex(u64::from(now.nanoseconds), 8)
    );
    with_platform(|p| {
        let model = match edge::model_name(p) {
            Ok(m) => m,
            Err(e) => {
                let (status, kind) = edge::error_status(&e);
                return respond(out, status, JSON, &edge::error_body(&e.message(), kind));
            }
        };
        let meta = Meta {
            id: &id,
            created: now.seconds,
            model: &model,
        };
        let mut log = log_line;
        if !req.stream {
            let body = match edge::turn(p, &mut log, &req, &mut NoSink) {
                Ok(reply) => edge::completion_body(&meta, &reply),
                Err(e) => {
                    log_line(&cat!("wasiclaw: error: ", e));
                    let (status, kind) = edge::error_status(&e);
                    return respond(out, status, JSON, &edge::error_body(&e.message(), kind));
                }
            };
            return respond(out, 200, JSON, &body);
        }
        let Some(mut w) = Writer::start(out, 200, "text/event-stream") else {
            return;
        };
        w.send(edge::chunk_event(&meta, Delta::Role).as_bytes());
        let result = {
            let mut send = |event: &str| {
                w.send(event.as_bytes());
            };
            let mut sink = StreamSink::new(&meta, &mut send);
            edge::turn(p, &mut log, &req, &mut sink)
        };
        match result {
            Ok(reply) => w.send(edge::chunk_event(&meta, Delta::Stop(&reply)).as_bytes()),
            Err(e) => {
                log_line(&cat!("wasiclaw: error: ", e));
                let (_, kind) = edge::error_status(&e);
                w.send(edge::error_event(&e.message(), kind).as_bytes())
            }
        };
        w.send(edge::DONE_EVENT.as_bytes());
        w.finish();
    })
}

/// `POST /mcp`: the tools over MCP (see [`crate::mcp::server`]).
fn mcp(request: IncomingRequest, out: ResponseOutparam) {
    let h = |name: &str| header(&request, name);
    let (origin, auth) = (h("origin"), h("authorization"));
    let (version, method, name) = (h("mcp-protocol-version"), h("mcp-method"), h("mcp-name"));
    let host = request.authority();
    let body = match read_body(&request) {
        Ok(b) if b.len() > edge::MAX_BODY => {
            return respond(
                out,
                413,
                JSON,
                &edge::invalid_request("request body too large"),
            )
        }
        Ok(b) => b,
        Err(e) => return respond(out, 400, JSON, &edge::invalid_request(&e)),
    };
    drop(request);
    with_platform(|p| {
        let token = (p.env)(server::TOKEN_ENV).filter(|t| !t.is_empty());
        let req = server::Incoming {
            host: host.as_deref(),
            origin: origin.as_deref(),
            authorization: auth.as_deref(),
            protocol_version: version.as_deref(),
            method_header: method.as_deref(),
            name_header: name.as_deref(),
            body: &body,
        };
        let r = server::handle(&req, token.as_deref(), &mut *p.tools);
        respond(out, r.status, JSON, &r.body);
    })
}

impl exports::wasi::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let method = match request.method() {
            Method::Get => "GET",
            Method::Post => "POST",
            _ => "OTHER",
        };
        let path = request.path_with_query().unwrap_or_default();
        match edge::route(method, &path) {
            Route::Health => respond(out, 200, "text/plain; charset=utf-8", "ok"),
            Route::Chat => chat(request, out),
            Route::Mcp => mcp(request, out),
            Route::MethodNotAllowed => respond(
                out,
                405,
                JSON,
                &edge::invalid_request("method not allowed on this path"),
            ),
            Route::NotFound => respond(
                out,
                404,
                JSON,
                &edge::invalid_request(&cat!("no such endpoint: ", path)),
            ),
        }
    }
}
