//! Outgoing HTTP for the guest, through wasmtime-wasi-http's send-request
//! hook: the allow list and the internal-address check (on the resolved
//! address), API-key injection on provider endpoints only, the response-size
//! limit, token metering and budgets. A refused request reaches the guest as
//! `HttpRequestDenied`, so a tool call fails with an error the model sees.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::addr::restricted;
use crate::metering::{now_rfc3339, Budget, Ledger, UsageMeter, UsageRecord};
use crate::policy::{Endpoint, Policy, ProviderKind};

type SendResult = Result<
    (
        Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

/// Per-store hook state: the shared policy plus the session being metered.
pub struct HostHttp {
    pub policy: Arc<Policy>,
    pub session: String,
}

impl HostHttp {
    pub fn new(policy: Arc<Policy>, session: &str) -> Self {
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

/// What the policy decided for one request.
#[derive(Debug)]
pub enum Decision<'a> {
    /// A configured provider endpoint: inject its key, meter it.
    Provider(&'a Endpoint),
    /// Allowed; connect to exactly this address when the scheme lets us pin it.
    Allowed(Option<SocketAddr>),
    /// Not on the allow list: `HttpRequestDenied` for the guest.
    Denied(String),
    /// Allowed by name but resolving to an internal address:
    /// `DestinationIpProhibited` for the guest.
    Prohibited(String),
    /// The name did not resolve: a DNS error for the guest.
    Unresolvable(String),
}

/// Decides on `scheme://host:port`, resolving names with `resolve`.
pub async fn decide<'a, F, Fut>(
    policy: &'a Policy,
    scheme: &str,
    host: &str,
    port: u16,
    resolve: F,
) -> Decision<'a>
where
    F: FnOnce(String, u16) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    if let Some(e) = policy.endpoint_for(scheme, host, port) {
        return Decision::Provider(e);
    }
    let matched = policy.allow_hosts.iter().any(|p| p.matches(host, port));
    let explicit = policy
        .allow_hosts
        .iter()
        .any(|p| p.matches(host, port) && p.is_explicit_address());
    if !matched {
        return Decision::Denied(format!(
            "host {host}:{port} is not allowed by the host policy (allow it with host.allow_hosts in wasiclaw.json or --allow-host)"
        ));
    }
    if explicit {
        return Decision::Allowed(None);
    }
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match resolve(host.to_string(), port).await {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                return Decision::Unresolvable(format!("{host} did not resolve to any address"))
            }
            Err(e) => return Decision::Unresolvable(format!("cannot resolve {host}: {e}")),
        },
    };
    for a in &addrs {
        if let Some(kind) = restricted(a.ip()) {
            return Decision::Prohibited(format!(
                "{host} resolves to {} ({kind} address), which the host policy refuses; \
                 list the literal address in host.allow_hosts to allow it",
                a.ip()
            ));
        }
    }
    Decision::Allowed(addrs.first().copied())
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
    policy: Arc<Policy>,
    session: String,
    mut req: Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
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
    match decide(&policy, &scheme, &host, port, lookup).await {
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
        Decision::Allowed(pin) => {
            // Pin plain HTTP to the address that was checked, so a second DNS
            // answer cannot swap in an internal one. (TLS needs the name for
            // SNI and certificate checks; HTTPS keeps a rebinding window.)
            if let (Some(addr), "http") = (pin, scheme.as_str()) {
                let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                *req.uri_mut() = http::Uri::builder()
                    .scheme("http")
                    .authority(addr.to_string())
                    .path_and_query(pq)
                    .build()
                    .map_err(|_| Error::HttpRequestUriInvalid)?;
            }
        }
        Decision::Provider(ep) => {
            let headers = req.headers_mut();
            headers.remove(http::header::AUTHORIZATION);
            headers.remove("x-api-key");
            if let Some(key) = &ep.key {
                let (name, value) = match ep.kind {
                    ProviderKind::OpenAi => ("authorization", format!("Bearer {key}")),
                    ProviderKind::Anthropic => ("x-api-key", key.clone()),
                };
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    Error::InternalError(Some(
                        "the configured API key is not a valid header value".into(),
                    ))
                })?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
            let path = uri.path();
            if path.ends_with("/chat/completions")
                || path.ends_with("/messages")
                || path.ends_with("/embeddings")
            {
                let budget = Budget {
                    session: policy.session_budget,
                    daily: policy.daily_budget,
                };
                let ledger = Ledger::new(&policy.workspace);
                if budget.session.is_some() || budget.daily.is_some() {
                    let today = &now_rfc3339()[..10];
                    if let Some(why) = budget.exhausted(ledger.spent(&session, today), &session) {
                        eprintln!("wasiclaw: host refused model request: {why}");
                        // Take the guest's request body first: a refusal that
                        // drops it mid-write looks like a broken connection,
                        // which the agent would retry.
                        let _ = req.into_body().collect().await;
                        return Ok(refusal(&why));
                    }
                }
                meter_for = Some(Recorder {
                    ledger,
                    session: session.clone(),
                    provider: ep.kind.name(),
                });
            }
        }
    }

    let (resp, io) = wasmtime_wasi_http::default_send_request(req, options).await?;
    let ctype = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let limit = policy.max_response_bytes;
    let resp = resp.map(move |body| {
        GuardedBody {
            inner: body.boxed_unsync(),
            seen: 0,
            limit,
            meter: meter_for.map(|r| (UsageMeter::new(&ctype), r)),
        }
        .boxed_unsync()
    });
    Ok((resp, Box::new(io)))
}

/// A provider-shaped error answer: status 403 is not retried by the agent,
/// and both wire formats carry the reason in `error.message`.
fn refusal(
    why: &str,
) -> (
    Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
) {
    let body = serde_json::json!({
        "type": "error",
        "error": {"type": "budget_exhausted", "message": format!("wasiclaw host: {why}")},
    })
    .to_string();
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (resp, Box::new(async { Ok(()) }))
}

struct Recorder {
    ledger: Ledger,
    session: String,
    provider: &'static str,
}

/// The response body as the guest reads it: capped at the policy's size and,
/// for model calls, teed into a usage meter that records once at the end (or
/// when the guest stops reading early).
struct GuardedBody {
    inner: WasiBody,
    seen: u64,
    limit: u64,
    meter: Option<(UsageMeter, Recorder)>,
}

impl GuardedBody {
    fn record(&mut self) {
        let Some((mut meter, rec)) = self.meter.take() else {
            return;
        };
        meter.finish();
        if !meter.seen {
            return;
        }
        let r = UsageRecord {
            ts: now_rfc3339(),
            session: rec.session,
            provider: rec.provider.to_string(),
            model: meter.model.unwrap_or_default(),
            input_tokens: meter.input,
            output_tokens: meter.output,
        };
        if let Err(e) = rec.ledger.append(&r) {
            eprintln!("wasiclaw: cannot record token usage: {e}");
        }
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.limit {
                        eprintln!(
                            "wasiclaw: host cut a response body at the {}-byte limit (host.max_response_bytes)",
                            this.limit
                        );
                        this.meter = None;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            this.limit,
                        )))));
                    }
                    if let Some((m, _)) = this.meter.as_mut() {
                        m.feed(data);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.record();
                Poll::Ready(None)
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        self.record();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{HostPattern, Overrides};
    use std::collections::BTreeMap;

    fn policy(allow: &[&str]) -> Policy {
        let env: BTreeMap<String, String> = [(
            "OPENAI_BASE_URL".to_string(),
            "http://127.0.0.1:5000/v1".to_string(),
        )]
        .into_iter()
        .collect();
        let mut p = Policy::load(
            &std::env::temp_dir().join("none"),
            &Overrides::default(),
            &env,
        )
        .unwrap();
        p.allow_hosts = allow
            .iter()
            .map(|h| HostPattern::parse(h).unwrap())
            .collect();
        p
    }

    async fn to(ip: &str) -> std::io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(ip.parse().unwrap(), 80)])
    }

    fn run<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn decisions() {
        let p = policy(&["*", "127.0.0.1:7000"]);
        assert!(matches!(
            run(decide(&p, "http", "127.0.0.1", 5000, |_, _| to("1.1.1.1"))),
            Decision::Provider(_)
        ));
        assert!(matches!(
            run(decide(&p, "http", "127.0.0.1", 7000, |_, _| to("1.1.1.1"))),
            Decision::Allowed(None)
        ));
        assert!(matches!(
            run(decide(&p, "http", "169.254.169.254", 80, |_, _| to(
                "1.1.1.1"
            ))),
            Decision::Prohibited(_)
        ));
        // A public-looking name that resolves inside is refused.
        match run(decide(&p, "http", "rebind.example", 80, |_, _| {
            to("10.0.0.5")
        })) {
            Decision::Prohibited(why) => assert!(why.contains("10.0.0.5"), "{why}"),
            d => panic!("{d:?}"),
        }
        match run(decide(&p, "http", "example.com", 80, |_, _| {
            to("93.184.216.34")
        })) {
            Decision::Allowed(Some(a)) => assert_eq!(a.ip().to_string(), "93.184.216.34"),
            d => panic!("{d:?}"),
        }
        let p = policy(&[]);
        assert!(matches!(
            run(decide(&p, "https", "example.com", 443, |_, _| to(
                "93.184.216.34"
            ))),
            Decision::Denied(_)
        ));
        // Scheme and port are part of the endpoint's identity.
        assert!(matches!(
            run(decide(&p, "https", "127.0.0.1", 5000, |_, _| to("1.1.1.1"))),
            Decision::Denied(_)
        ));
    }
}
