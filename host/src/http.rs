//! Outgoing HTTP for the guest, through wasmtime-wasi-http's send-request
//! hook: the allow list and the internal-address check (on the resolved
//! address, which is then the one connected to), API-key injection on
//! provider endpoints only, the response-size limit, token metering and
//! budgets. A refused request reaches the guest as `HttpRequestDenied`, so a
//! tool call fails with an error the model sees.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::addr::restricted;
use crate::connect;
use crate::guarded::{GuardedBody, Recorder};
use crate::metering::{now_rfc3339, Budget, Ledger, UsageMeter};
use crate::policy::{Endpoint, Policy, ProviderKind};

pub type SendResult = Result<(Response<WasiBody>, connect::IoFuture), Error>;

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
    /// Allowed; connect to exactly this address, the first that was checked
    /// (`decide` always names one; `None` would mean: resolve at connect time).
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
    decide_all(policy, scheme, host, port, resolve).await.0
}

/// `decide`, plus every checked address when allowed: connecting tries them
/// in order, as a connect by name would (`::1`, then `127.0.0.1`).
async fn decide_all<'a, F, Fut>(
    policy: &'a Policy,
    scheme: &str,
    host: &str,
    port: u16,
    resolve: F,
) -> (Decision<'a>, Vec<SocketAddr>)
where
    F: FnOnce(String, u16) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    let refuse = |d| (d, Vec::new());
    if let Some(e) = policy.endpoint_for(scheme, host, port) {
        return refuse(Decision::Provider(e));
    }
    let matched = policy.allow_hosts.iter().any(|p| p.matches(host, port));
    let explicit = policy
        .allow_hosts
        .iter()
        .any(|p| p.matches(host, port) && p.is_explicit_address());
    if !matched {
        return refuse(Decision::Denied(format!(
            "host {host}:{port} is not allowed by the host policy (allow it with host.allow_hosts in wasiclaw.json or --allow-host)"
        )));
    }
    // An explicitly listed address (or localhost) may be internal, but is
    // still resolved here so the connection goes where this answer says.
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match resolve(host.to_string(), port).await {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                let why = format!("{host} did not resolve to any address");
                return refuse(Decision::Unresolvable(why));
            }
            Err(e) => {
                let why = format!("cannot resolve {host}: {e}");
                return refuse(Decision::Unresolvable(why));
            }
        },
    };
    if !explicit {
        for a in &addrs {
            if let Some(kind) = restricted(a.ip()) {
                return refuse(Decision::Prohibited(format!(
                    "{host} resolves to {} ({kind} address), which the host policy refuses; \
                     list the literal address in host.allow_hosts to allow it",
                    a.ip()
                )));
            }
        }
    }
    (Decision::Allowed(addrs.first().copied()), addrs)
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
    req: Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    send_with(policy, session, req, options, lookup).await
}

/// `send`, resolving names with `resolve` (tests answer with chosen addresses).
pub async fn send_with<F, Fut>(
    policy: Arc<Policy>,
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
    let (decision, checked) = decide_all(&policy, &scheme, &host, port, resolve).await;
    let mut to: &[SocketAddr] = &[];
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
        // Connect to the checked addresses, never to a second DNS answer.
        Decision::Allowed(_) => to = &checked,
        Decision::Provider(ep) => {
            let ep = policy.endpoint_speaking(ep, req.headers().contains_key("anthropic-version"));
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

    let (resp, io) = connect::send(req, to, &policy.trust, options).await?;
    let ctype = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let limit = policy.max_response_bytes;
    let resp = resp.map(move |body| {
        GuardedBody::new(body, limit, meter_for.map(|r| (UsageMeter::new(&ctype), r)))
            .boxed_unsync()
    });
    Ok((resp, io))
}

/// A provider-shaped error answer: status 403 is not retried by the agent,
/// and both wire formats carry the reason in `error.message`.
fn refusal(why: &str) -> (Response<WasiBody>, connect::IoFuture) {
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
        // A listed literal address is allowed, and is where we connect.
        match run(decide(&p, "http", "127.0.0.1", 7000, |_, _| to("1.1.1.1"))) {
            Decision::Allowed(Some(a)) => assert_eq!(a.to_string(), "127.0.0.1:7000"),
            d => panic!("{d:?}"),
        }
        // A listed `localhost` is resolved too, and pinned to the answer.
        let p2 = policy(&["localhost:7000"]);
        match run(decide(&p2, "https", "localhost", 7000, |_, _| {
            to("127.0.0.3")
        })) {
            Decision::Allowed(Some(a)) => assert_eq!(a.ip().to_string(), "127.0.0.3"),
            d => panic!("{d:?}"),
        }
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
