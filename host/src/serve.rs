//! `wasiclaw serve`: the edge build (`wasi:http/proxy`, world `agent-http`)
//! behind a local HTTP/1.1 server. The component is pre-instantiated once
//! (`ProxyPre`, pooling allocator) and instantiated afresh per request;
//! requests naming the same session are served one at a time, because turns
//! of one session read and rewrite the same session file. With `--store`
//! the guest also gets `wasi:keyvalue` on that store (crate::kv), which the
//! key-value build keeps its sessions and memory in, so processes on one
//! Redis serve a session interchangeably.
//!
//! Every response the guest produces carries a W3C `Server-Timing` header,
//! e.g. `server-timing: instantiate;dur=0.412, guest;dur=3.100` (milliseconds),
//! so clients and `scripts/bench-host` see the per-request instantiation
//! cost without a profiler: `instantiate` is `ProxyPre::instantiate_async`,
//! `guest` is the handler from its call until it hands over the response
//! head (for a streamed body, the rest of the stream is not included).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use tokio::net::TcpListener;
use wasmtime::component::Component;
use wasmtime::Engine;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use crate::kv;
use crate::limits;
use crate::plugins::Toolbox;
use crate::policy::HostPolicy;
use crate::runtime::{self, HostState};

/// Request header naming the session a request belongs to.
pub use wasiclaw_contract::SESSION_HEADER;

/// How long a client may take to send its request body. The body is read
/// before the session's turn is queued, so a slow upload holds up only
/// itself; this bounds how long it holds a connection.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Response header with the host's timings of the request (see the module docs).
pub const SERVER_TIMING_HEADER: &str = "server-timing";

/// The `Server-Timing` value: durations in milliseconds, microsecond precision.
pub fn server_timing(instantiate: Duration, guest: Duration) -> hyper::header::HeaderValue {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let value = format!(
        "instantiate;dur={:.3}, guest;dur={:.3}",
        ms(instantiate),
        ms(guest)
    );
    // Only ASCII digits, letters and punctuation: always a valid header value.
    hyper::header::HeaderValue::from_str(&value)
        .unwrap_or_else(|_| hyper::header::HeaderValue::from_static("instantiate, guest"))
}

pub struct Server {
    engine: Engine,
    pre: ProxyPre<HostState>,
    policy: Arc<HostPolicy>,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Plugin mode: the uncomposed edge agent, its tools answered by the host.
    toolbox: Option<Arc<Toolbox>>,
    /// `--store`: the key-value store every request's guest shares.
    kv: Option<kv::Store>,
}

impl Server {
    pub fn new(
        engine: Engine,
        component: &Component,
        policy: Arc<HostPolicy>,
    ) -> anyhow::Result<Arc<Server>> {
        Server::with_toolbox(engine, component, policy, None)
    }

    /// With a toolbox, `component` is the uncomposed edge agent
    /// (dist/components/agent-http.wasm) and the host answers its tools.
    pub fn with_toolbox(
        engine: Engine,
        component: &Component,
        policy: Arc<HostPolicy>,
        toolbox: Option<Arc<Toolbox>>,
    ) -> anyhow::Result<Arc<Server>> {
        let linker = match toolbox {
            Some(_) => runtime::linker_with_tools(&engine)?,
            None => runtime::linker(&engine)?,
        };
        let pre = ProxyPre::new(linker.instantiate_pre(component)?).map_err(|e| {
            anyhow::anyhow!("the module is not a wasi:http/proxy component (build dist/wasiclaw-http.wasm): {e}")
        })?;
        Ok(Arc::new(Server {
            engine,
            pre,
            policy,
            sessions: Mutex::new(HashMap::new()),
            toolbox,
            kv: None,
        }))
    }

    /// The same server with `store` behind the guest's `wasi:keyvalue`.
    /// A component that imports `wasi:keyvalue` cannot be served without
    /// one: it is refused here, at start, rather than on every request.
    pub fn with_store(
        server: Arc<Server>,
        component: &Component,
        store: Option<kv::Store>,
    ) -> anyhow::Result<Arc<Server>> {
        if store.is_none() && kv::imports_keyvalue(&server.engine, component) {
            anyhow::bail!(
                "the module imports wasi:keyvalue (the key-value build): pass --store memory or --store redis://HOST:PORT/DB"
            );
        }
        let mut server =
            Arc::try_unwrap(server).map_err(|_| anyhow::anyhow!("the server is already shared"))?;
        server.kv = store;
        Ok(Arc::new(server))
    }

    fn session_lock(&self, session: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        // Drop locks nobody holds, so the map does not grow without bound.
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(session.to_string()).or_default().clone()
    }

    /// Serves one request; failures become a 500 with the reason as text.
    pub async fn handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, std::convert::Infallible> {
        Ok(match self.try_handle(req).await {
            Ok(resp) => resp,
            Err(e) => {
                eprintln!("wasiclaw: serve: {e:#}");
                error_response(&format!("{e:#}"))
            }
        })
    }

    async fn try_handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> anyhow::Result<hyper::Response<HyperOutgoingBody>> {
        // The whole body first (bounded in size and time), then the session
        // it names, then the session's lock: a stalled upload waits alone.
        let (parts, body) = req.into_parts();
        let body = match read_body(body).await {
            Ok(b) => b,
            Err(resp) => return Ok(resp),
        };
        let session = session_of(&parts.headers, &body);
        let req = hyper::Request::from_parts(
            parts,
            Full::new(body).map_err(|never| -> wasmtime_wasi_http::Error { match never {} }),
        );
        let guard = self.session_lock(&session).lock_owned().await;
        let mut store = runtime::store(&self.engine, &self.policy, &[], &session, false)?;
        if let Some(tb) = &self.toolbox {
            store.data_mut().tools = Some(Box::new(tb.router(&[], &session)));
        }
        store.data_mut().kv = self.kv.clone();
        let hit = store.data().limiter.hit_flag();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        let secs = self.policy.turn_timeout_secs;
        let max_memory = self.policy.memory_limit_bytes;
        // Set once instantiation is done: how long it took, and when the
        // handler was called. The guest can only answer after that, so the
        // value is there whenever a response arrives.
        let timing: Arc<OnceLock<(Duration, Instant)>> = Arc::default();
        let timing_in_task = timing.clone();
        let task = tokio::spawn(async move {
            // Held until the guest is done, streaming included.
            let _guard = guard;
            let call = async {
                let started = Instant::now();
                let proxy = pre.instantiate_async(&mut store).await?;
                let called = Instant::now();
                let _ = timing_in_task.set((called - started, called));
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            };
            match tokio::time::timeout(Duration::from_secs(secs), call).await {
                Err(_) => Err(anyhow::anyhow!(limits::time_limit(secs))),
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => {
                    let hit = hit.load(std::sync::atomic::Ordering::SeqCst);
                    Err(match limits::explain(&e, hit, max_memory, secs) {
                        Some(why) => anyhow::anyhow!(why),
                        None => anyhow::anyhow!("the guest failed: {e:?}"),
                    })
                }
            }
        });
        match receiver.await {
            Ok(Ok(mut resp)) => {
                if let Some((instantiate, called)) = timing.get() {
                    // Appended, so a header the guest set itself is kept.
                    resp.headers_mut().append(
                        SERVER_TIMING_HEADER,
                        server_timing(*instantiate, called.elapsed()),
                    );
                }
                Ok(resp)
            }
            Ok(Err(code)) => Err(anyhow::anyhow!("the guest answered with error {code:?}")),
            Err(_) => {
                let e = match task.await {
                    Ok(Ok(())) => anyhow::anyhow!("the guest never set a response"),
                    Ok(Err(e)) => e,
                    Err(e) => e.into(),
                };
                Err(e)
            }
        }
    }
}

/// The session a request belongs to, as the guest will choose it (the
/// contract's rule: header, else the body's `user`, else `default`), so
/// that turns are serialised, metered and budgeted under the same name.
pub fn session_of(headers: &hyper::HeaderMap, body: &[u8]) -> String {
    let header = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok());
    let parsed: Option<serde_json::Value> = match header {
        Some(h) if !h.is_empty() => None,
        _ => serde_json::from_slice(body).ok(),
    };
    let user = parsed.as_ref().and_then(|v| v.get("user")?.as_str());
    let chosen = wasiclaw_contract::session_for_request(header, user);
    // An invalid name is the guest's 400 to give; the lock needs a name.
    wasiclaw_contract::validate_session(chosen)
        .unwrap_or(wasiclaw_contract::DEFAULT_SESSION)
        .to_string()
}

/// Reads a request body of at most the guest's limit within
/// [`BODY_READ_TIMEOUT`]; otherwise the OpenAI-shaped error to answer with.
async fn read_body(
    mut body: hyper::body::Incoming,
) -> Result<Bytes, hyper::Response<HyperOutgoingBody>> {
    use hyper::StatusCode;
    let limit = wasiclaw_contract::MAX_EDGE_REQUEST_BYTES;
    let read = async {
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {e}"),
                )
            })?;
            if let Some(data) = frame.data_ref() {
                if buf.len() + data.len() > limit {
                    let why = format!("request body larger than {limit} bytes");
                    return Err((StatusCode::PAYLOAD_TOO_LARGE, why));
                }
                buf.extend_from_slice(data);
            }
        }
        Ok(Bytes::from(buf))
    };
    let failed = match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(Ok(b)) => return Ok(b),
        Ok(Err(e)) => e,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                BODY_READ_TIMEOUT.as_secs()
            ),
        ),
    };
    eprintln!("wasiclaw: serve: {}", failed.1);
    Err(json_error(failed.0, "invalid_request_error", &failed.1))
}

fn error_response(msg: &str) -> hyper::Response<HyperOutgoingBody> {
    json_error(hyper::StatusCode::INTERNAL_SERVER_ERROR, "host_error", msg)
}

/// An error in the OpenAI shape `{"error":{"message","type"}}`.
fn json_error(
    status: hyper::StatusCode,
    kind: &str,
    msg: &str,
) -> hyper::Response<HyperOutgoingBody> {
    let body = serde_json::json!({"error": {"type": kind, "message": msg}}).to_string();
    let mut resp = hyper::Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Accepts connections on `listen` until the process ends.
pub async fn serve(
    engine: Engine,
    component: &Component,
    policy: Arc<HostPolicy>,
    listen: &str,
    toolbox: Option<Arc<Toolbox>>,
    store: Option<kv::Store>,
) -> anyhow::Result<()> {
    let server = Server::with_toolbox(engine, component, policy, toolbox)?;
    let server = Server::with_store(server, component, store)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    eprintln!("wasiclaw: listening on http://{}", listener.local_addr()?);
    loop {
        let (conn, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("wasiclaw: serve: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Without it a body sent in several writes (chunked, streamed) can
        // wait for the client's delayed ACK: ~40 ms stalls on keep-alive.
        if let Err(e) = conn.set_nodelay(true) {
            eprintln!("wasiclaw: serve: TCP_NODELAY for {peer}: {e}");
        }
        let server = server.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| server.clone().handle(req));
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(conn), svc)
                .await
            {
                eprintln!("wasiclaw: serve: connection from {peer}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_is_milliseconds_in_w3c_syntax() {
        let v = server_timing(Duration::from_micros(412), Duration::from_micros(3_100_250));
        assert_eq!(
            v.to_str().ok(),
            Some("instantiate;dur=0.412, guest;dur=3100.250")
        );
        let v = server_timing(Duration::ZERO, Duration::from_nanos(1_600));
        assert_eq!(
            v.to_str().ok(),
            Some("instantiate;dur=0.000, guest;dur=0.002")
        );
    }
}
