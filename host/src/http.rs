//! Outgoing HTTP for the guest, through wasmtime-wasi-http's send-request
//! hook: the allow list and the internal-address check (on the resolved
//! address, which is then the one connected to), API-key injection on the
//! provider endpoints' model calls only, the key redacted from whatever
//! comes back, the response-size limit, token metering and budgets. A
//! refused request reaches the guest as `HttpRequestDenied`, so a tool call
//! fails with an error the model sees.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::connect;
use crate::guarded::GuardedBody;
use crate::metering::UsageMeter;
use crate::policy::HostPolicy;
use wasiclaw_policy::decide::decide_all;
pub use wasiclaw_policy::decide::{decide, Decision};
use wasiclaw_policy::mcp_headers::for_request;
use wasiclaw_policy::model_calls::{admit, refusal_body, REFUSAL_STATUS};
use wasiclaw_policy::redact::Redactor;

pub type SendResult = Result<(Response<WasiBody>, connect::IoFuture), Error>;

/// Per-store hook state: the shared policy plus the session being metered.
pub struct HostHttp {
    pub policy: Arc<HostPolicy>,
    pub session: String,
}

impl HostHttp {
    pub fn new(policy: Arc<HostPolicy>, session: &str) -> Self {
        HostHttp {
            policy,
            session: session.to_string(),
        }
    }
}

impl WasiHttpHooks for HostHttp {
    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let policy = self.policy.clone();
        let session = self.session.clone();
        Box::new(async move { send(policy, session, request, options).await })
    }
}

async fn lookup(host: String, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    Ok(tokio::net::lookup_host((host.as_str(), port))
        .await?
        .collect())
}

fn deny(method: &http::Method, uri: &http::Uri, why: &str, code: Error) -> Error {
    eprintln!("wasiclaw: host refused {method} {uri}: {why}");
    code
}

async fn send(
    policy: Arc<HostPolicy>,
    session: String,
    req: Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    send_with(policy, session, req, options, lookup).await
}

/// `send`, resolving names with `resolve` (tests answer with chosen addresses).
pub async fn send_with<F, Fut>(
    policy: Arc<HostPolicy>,
    session: String,
    mut req: Request<WasiBody>,
    options: Option<RequestOptions>,
    resolve: F,
) -> SendResult
where
    F: FnOnce(String, u16) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    let uri = req.uri().clone();
    let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
    let host = uri
        .host()
        .ok_or(Error::HttpRequestUriInvalid)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 443 });

    let mut meter_for = None;
    let redactor: Option<Redactor>;
    let (decision, checked) = decide_all(&policy, &scheme, &host, port, resolve).await;
    match decision {
        Decision::Denied(why) => {
            return Err(deny(req.method(), &uri, &why, Error::HttpRequestDenied))
        }
        Decision::Prohibited(why) => {
            return Err(deny(
                req.method(),
                &uri,
                &why,
                Error::DestinationIpProhibited,
            ))
        }
        Decision::Unresolvable(why) => {
            let code = Error::DnsError {
                rcode: Some(why.clone()),
                info_code: None,
            };
            return Err(deny(req.method(), &uri, &why, code));
        }
        // Connect to the checked addresses (below), never to a second DNS
        // answer. A plugin granted a secret for this origin sends it, an MCP
        // server's `${ENV_NAME}` headers get their values here, and neither
        // reads back anything that contains them.
        Decision::Allowed(_) => {
            let mut hidden: Vec<&str> = Vec::new();
            if let Some(s) = policy
                .origin_secrets
                .iter()
                .find(|s| s.matches(&scheme, &host, port))
            {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {}", s.value.0)).map_err(|_| {
                        Error::InternalError(Some(
                            "a granted secret is not a valid header value".into(),
                        ))
                    })?;
                value.set_sensitive(true);
                req.headers_mut().insert(http::header::AUTHORIZATION, value);
                hidden.push(s.value.0.as_str());
            }
            let headers = req.headers_mut();
            let sent = |name: &str| {
                let v = headers.get(name)?;
                v.to_str().ok().map(str::to_string)
            };
            let secrets = for_request(&policy.mcp_secrets, &scheme, &host, port, &sent);
            for s in &secrets {
                let mut value = HeaderValue::from_str(&s.value).map_err(|_| {
                    Error::InternalError(Some(format!(
                        "the value of {} is not a valid header value",
                        s.placeholder
                    )))
                })?;
                value.set_sensitive(true);
                if let Ok(name) = http::HeaderName::from_bytes(s.header.as_bytes()) {
                    headers.insert(name, value);
                }
                hidden.push(s.value.as_str());
            }
            redactor = Redactor::new(hidden);
        }
        Decision::Provider(ep) => {
            // Its `checked` addresses are its pin (host.resolve), if any;
            // otherwise the operator's own configured name is resolved when
            // connecting.
            let ep = policy.endpoint_speaking(ep, req.headers().contains_key("anthropic-version"));
            let headers = req.headers_mut();
            headers.remove(http::header::AUTHORIZATION);
            headers.remove("x-api-key");
            // The key goes on model calls only: any other path of the
            // provider's origin (one a `web_fetch` names, say) is reached
            // without it, and every keyed request is metered.
            let call = ep.call(uri.path_and_query().map_or("/", |p| p.as_str()));
            if let (Some(_), Some((name, value))) = (call, ep.auth()) {
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    Error::InternalError(Some(
                        "the configured API key is not a valid header value".into(),
                    ))
                })?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
            redactor = Redactor::new(ep.key.as_deref());
            if call.is_some() {
                match admit(&policy, &session, ep.kind) {
                    Ok(recorder) => meter_for = Some(recorder),
                    Err(why) => {
                        eprintln!("wasiclaw: host refused model request: {why}");
                        // Take the guest's request body first: a refusal that
                        // drops it mid-write looks like a broken connection,
                        // which the agent would retry.
                        let _ = req.into_body().collect().await;
                        return Ok(refusal(&why));
                    }
                }
            }
        }
    }

    let (mut resp, io) = connect::send(req, &checked, &policy.trust, options).await?;
    if let Some(r) = &redactor {
        redact_headers(r, resp.headers_mut());
    }
    let ctype = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let limit = policy.max_response_bytes;
    let resp = resp.map(move |body| {
        let meter = meter_for.map(|r| (UsageMeter::new(&ctype), r));
        GuardedBody::new(body, limit, meter, redactor).boxed_unsync()
    });
    Ok((resp, io))
}

/// Redacts the key from a keyed origin's response headers. The body's length
/// may change with redaction, so its `Content-Length` goes: the body then
/// ends where the stream ends.
fn redact_headers(r: &Redactor, headers: &mut http::HeaderMap) {
    headers.remove(http::header::CONTENT_LENGTH);
    for value in headers.values_mut() {
        let clean = r.redact_all(value.as_bytes());
        if clean != value.as_bytes() {
            *value = HeaderValue::from_bytes(&clean)
                .unwrap_or_else(|_| HeaderValue::from_static("[REDACTED]"));
        }
    }
}

/// A provider-shaped error answer (see `model_calls::refusal_body`).
fn refusal(why: &str) -> (Response<WasiBody>, connect::IoFuture) {
    let body = Full::new(Bytes::from(refusal_body(why)))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(REFUSAL_STATUS).unwrap_or(StatusCode::FORBIDDEN);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (resp, Box::new(async { Ok(()) }))
}
