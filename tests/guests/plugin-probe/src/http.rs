//! A blocking GET over the generated `wasi:http` bindings: the whole of an
//! HTTP client a plugin needs when it only fetches small documents.

use crate::wasi::http::outgoing_handler;
use crate::wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
use crate::wasi::io::streams::StreamError;

/// Largest body read, so a huge answer cannot exhaust the plugin's memory.
const MAX_BODY: usize = 1 << 20;

/// `GET url`: the status and the body as text, or why it failed (a host
/// the plugin was not granted reaches it as an error code here).
pub fn get(url: &str) -> Result<(u16, String), String> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(format!("{url}: only http:// and https:// URLs")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let req = OutgoingRequest::new(Fields::new());
    req.set_method(&Method::Get).map_err(|()| "bad method")?;
    req.set_scheme(Some(&scheme)).map_err(|()| "bad scheme")?;
    req.set_authority(Some(authority))
        .map_err(|()| format!("bad host {authority:?}"))?;
    req.set_path_with_query(Some(path))
        .map_err(|()| format!("bad path {path:?}"))?;
    let pending = outgoing_handler::handle(req, None).map_err(|e| format!("{url}: {e:?}"))?;
    pending.subscribe().block();
    let resp = match pending.get() {
        Some(Ok(Ok(resp))) => resp,
        Some(Ok(Err(code))) => return Err(format!("{url}: {code:?}")),
        Some(Err(())) | None => return Err(format!("{url}: no response")),
    };
    let status = resp.status();
    let body = resp.consume().map_err(|()| "response body already taken")?;
    let stream = body
        .stream()
        .map_err(|()| "response body stream already taken")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_BODY {
                    return Err(format!("{url}: body larger than {MAX_BODY} bytes"));
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!("{url}: {}", e.to_debug_string()))
            }
        }
    }
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}
