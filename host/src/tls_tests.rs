//! Outgoing HTTP(S) end to end on loopback: a throwaway CA, a server on a
//! chosen 127.x address, and the policy's sender in front of it.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use crate::connect::{self, Trust};
use crate::http::send_with;
use crate::policy::{HostPattern, HostPolicy, Overrides};

/// What the server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    local: SocketAddr,
    sni: Option<String>,
    host: Option<String>,
    path: String,
}

/// A CA whose PEM is in `dir/ca.pem`, and a server certificate.
struct Pki {
    dir: PathBuf,
    leaf: CertificateDer<'static>,
    key: Vec<u8>,
}

/// A PKI whose server certificate is for `localhost`.
fn pki(name: &str) -> Pki {
    pki_for(name, "localhost")
}

/// A PKI whose server certificate is for `host`.
fn pki_for(name: &str, host: &str) -> Pki {
    let dir = std::env::temp_dir().join(format!("wasiclaw-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![host.to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Pki {
        dir,
        leaf: leaf.der().clone(),
        key: key.serialize_der(),
    }
}

/// Serves on `ip` (port chosen by the OS), over TLS when `pki` is given,
/// answering every request with `body_len` bytes.
async fn serve(ip: &str, pki: Option<&Pki>, body_len: usize) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = pki.map(|p| {
        let key = PrivateKeyDer::Pkcs8(p.key.clone().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![p.leaf.clone()], key)
        .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let local = tcp.local_addr().unwrap();
            let (log, acceptor) = (log.clone(), acceptor.clone());
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        let Ok(tls) = a.accept(tcp).await else { return };
                        let sni = tls.get_ref().1.server_name().map(str::to_string);
                        answer(tls, local, sni, log, body_len).await
                    }
                    None => answer(tcp, local, None, log, body_len).await,
                }
            });
        }
    });
    (port, seen)
}

async fn answer<S>(
    io: S,
    local: SocketAddr,
    sni: Option<String>,
    log: Arc<Mutex<Vec<Seen>>>,
    body_len: usize,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        log.lock().unwrap().push(Seen {
            local,
            sni: sni.clone(),
            host: req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string),
            path: req.uri().to_string(),
        });
        let body = Full::new(Bytes::from(vec![b'x'; body_len]));
        async move { Ok::<_, Infallible>(Response::new(body)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), svc)
        .await;
}

/// A request as wasmtime-wasi-http hands it to the hook: absolute URI, Host set.
fn get(url: &str) -> Request<WasiBody> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().to_string();
    let body = Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    Request::builder()
        .uri(uri)
        .header(http::header::HOST, host)
        .body(body)
        .unwrap()
}

#[tokio::test]
async fn a_pinned_provider_is_reached_at_its_pin_under_its_own_name() {
    let pki = pki_for("provider", "api.openai.com");
    let (port, seen) = serve("127.0.0.2", Some(&pki), 3).await;
    let env: std::collections::BTreeMap<String, String> = [
        (
            "OPENAI_BASE_URL".to_string(),
            format!("https://api.openai.com:{port}/v1"),
        ),
        ("OPENAI_API_KEY".to_string(), "sk-pinned".to_string()),
    ]
    .into_iter()
    .collect();
    let ws = std::env::temp_dir().join("wasiclaw-tls-no-workspace");
    let ov = Overrides {
        resolve: vec![format!("api.openai.com:{port}:127.0.0.2")],
        ..Overrides::default()
    };
    let mut p = HostPolicy::load(&ws, &ov, &env).unwrap();
    p.trust = trust(&pki);
    // The policy names the pinned addresses and the connection goes there,
    // without any lookup (the real api.openai.com is never 127.0.0.2).
    let never = |host: String, _: u16| async move {
        Err::<Vec<SocketAddr>, _>(std::io::Error::other(format!("{host} was looked up")))
    };
    let url = format!("https://api.openai.com:{port}/v1/models");
    let (resp, io) = send_with(Arc::new(p), "s".into(), get(&url), None, never)
        .await
        .unwrap();
    assert_eq!(&body(resp).await.unwrap()[..], b"xxx");
    Box::into_pin(io).await.unwrap();
    let s = seen.lock().unwrap()[0].clone();
    assert_eq!(s.local, SocketAddr::new("127.0.0.2".parse().unwrap(), port));
    assert_eq!(s.sni.as_deref(), Some("api.openai.com"));
    assert_eq!(
        s.host.as_deref(),
        Some(format!("api.openai.com:{port}").as_str())
    );
    // The sender goes exactly where it is told: nothing listens on
    // 127.0.0.3, so this fails to connect rather than reaching the server.
    let elsewhere = [SocketAddr::new("127.0.0.3".parse().unwrap(), port)];
    match connect::send(get(&url), &elsewhere, &trust(&pki), None).await {
        Err(Error::Connect(_)) => {}
        r => panic!("{:?}", r.map(|_| ())),
    }
    assert_eq!(seen.lock().unwrap().len(), 1);
    std::fs::remove_dir_all(&pki.dir).unwrap();
}

fn policy(allow: &str, trust: Trust) -> Arc<HostPolicy> {
    let ws = std::env::temp_dir().join("wasiclaw-tls-no-workspace");
    let mut p = HostPolicy::load(
        &ws,
        &Overrides::default(),
        &std::collections::BTreeMap::new(),
    )
    .unwrap();
    p.allow_hosts = vec![HostPattern::parse(allow).unwrap()];
    p.trust = trust;
    Arc::new(p)
}

async fn body(resp: Response<WasiBody>) -> Result<Bytes, Error> {
    Ok(resp.into_body().collect().await?.to_bytes())
}

fn trust(p: &Pki) -> Trust {
    Trust::new(Some(&p.dir.join("ca.pem"))).unwrap()
}

#[tokio::test]
async fn https_connects_to_the_checked_address_and_verifies_the_name() {
    let pki = pki("pinned");
    // Listening on 127.0.0.2 only: a second lookup of `localhost` (127.0.0.1)
    // would not reach it.
    let (port, seen) = serve("127.0.0.2", Some(&pki), 5).await;
    let asked = Arc::new(Mutex::new(None));
    let asked2 = asked.clone();
    // Two answers, both checked: nothing listens on the first, so the
    // connection falls back to the second, as a connect by name would.
    let resolve = move |host: String, port: u16| {
        *asked2.lock().unwrap() = Some(host);
        let ips = ["127.0.0.3", "127.0.0.2"].map(|ip| ip.parse::<IpAddr>().unwrap());
        async move { Ok(ips.map(|ip| SocketAddr::new(ip, port)).to_vec()) }
    };
    let p = policy(&format!("localhost:{port}"), trust(&pki));
    let url = format!("https://localhost:{port}/v1/x?q=1");
    let (resp, io) = send_with(p, "s".into(), get(&url), None, resolve)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(&body(resp).await.unwrap()[..], b"xxxxx");
    Box::into_pin(io).await.unwrap();
    assert_eq!(asked.lock().unwrap().as_deref(), Some("localhost"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let s = &seen[0];
    assert_eq!(s.local, SocketAddr::new("127.0.0.2".parse().unwrap(), port));
    assert_eq!(s.sni.as_deref(), Some("localhost"));
    assert_eq!(
        s.host.as_deref(),
        Some(format!("localhost:{port}").as_str())
    );
    assert_eq!(s.path, "/v1/x?q=1");
    std::fs::remove_dir_all(&pki.dir).unwrap();
}

#[tokio::test]
async fn the_response_limit_still_cuts_the_body() {
    let pki = pki("limit");
    let (port, _) = serve("127.0.0.2", Some(&pki), 5000).await;
    let mut p = (*policy(&format!("localhost:{port}"), trust(&pki))).clone();
    p.max_response_bytes = 1000;
    let resolve = |_: String, port: u16| async move {
        Ok(vec![SocketAddr::new("127.0.0.2".parse().unwrap(), port)])
    };
    let url = format!("https://localhost:{port}/");
    let (resp, _io) = send_with(Arc::new(p), "s".into(), get(&url), None, resolve)
        .await
        .unwrap();
    match body(resp).await {
        Err(Error::HttpResponseBodySize(Some(1000))) => {}
        r => panic!("{r:?}"),
    }
    std::fs::remove_dir_all(&pki.dir).unwrap();
}

fn at(port: u16) -> [SocketAddr; 1] {
    [SocketAddr::new("127.0.0.2".parse().unwrap(), port)]
}

#[tokio::test]
async fn tls_failures_are_tls_errors() {
    let pki = pki("fail");
    let (port, seen) = serve("127.0.0.2", Some(&pki), 1).await;
    let url = format!("https://localhost:{port}/");
    // The webpki roots alone do not trust the test CA.
    let plain = Trust::new(None).unwrap();
    match connect::send(get(&url), &at(port), &plain, None).await {
        Err(Error::Tls(_)) => {}
        r => panic!("{:?}", r.map(|_| ())),
    }
    // A name the certificate does not cover, even at the right address.
    let url = format!("https://other.test:{port}/");
    match connect::send(get(&url), &at(port), &trust(&pki), None).await {
        Err(Error::Tls(_)) => {}
        r => panic!("{:?}", r.map(|_| ())),
    }
    assert!(seen.lock().unwrap().is_empty());
    std::fs::remove_dir_all(&pki.dir).unwrap();
}

#[tokio::test]
async fn plain_http_is_pinned_with_the_original_host() {
    let (port, seen) = serve("127.0.0.2", None, 2).await;
    let url = format!("http://svc.test:{port}/a");
    let trust = Trust::new(None).unwrap();
    let (resp, _io) = connect::send(get(&url), &at(port), &trust, None)
        .await
        .unwrap();
    assert_eq!(&body(resp).await.unwrap()[..], b"xx");
    let s = seen.lock().unwrap()[0].clone();
    assert_eq!(s.local, at(port)[0]);
    assert_eq!(s.host.as_deref(), Some(format!("svc.test:{port}").as_str()));
    assert_eq!((s.sni, s.path.as_str()), (None, "/a"));
}

#[tokio::test]
async fn connect_and_read_failures_keep_wasi_http_error_codes() {
    let trust = Trust::new(None).unwrap();
    let free = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let url = format!("http://svc.test:{port}/");
    match connect::send(get(&url), &at(port), &trust, None).await {
        Err(Error::Connect(_)) => {}
        r => panic!("{:?}", r.map(|_| ())),
    }
    // Accepts, never answers: the guest's first-byte timeout applies.
    let silent = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move { silent.accept().await.map(|(s, _)| s) });
    let options = RequestOptions {
        first_byte_timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let url = format!("http://svc.test:{port}/");
    match connect::send(get(&url), &at(port), &trust, Some(options)).await {
        Err(Error::ConnectionReadTimeout) => {}
        r => panic!("{:?}", r.map(|_| ())),
    }
    drop(hold.await.unwrap().unwrap());
}

#[test]
fn extra_ca_file_is_relative_to_the_policy_file() {
    let pki = pki("policy");
    std::fs::write(
        pki.dir.join("wasiclaw.json"),
        r#"{"host":{"extra_ca_file":"ca.pem"}}"#,
    )
    .unwrap();
    let env = std::collections::BTreeMap::new();
    let p = HostPolicy::load(&pki.dir, &Overrides::default(), &env).unwrap();
    assert_eq!(
        p.trust.extra_ca_file(),
        Some(pki.dir.join("ca.pem").as_path())
    );
    assert_eq!(
        p.to_json()["extra_ca_file"],
        pki.dir.join("ca.pem").display().to_string()
    );
    std::fs::remove_dir_all(&pki.dir).unwrap();
}
