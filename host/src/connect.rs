//! Sends one outgoing request to the address the policy checked.
//!
//! wasmtime-wasi-http's `default_send_request` connects by host name, so it
//! resolves the name again after the policy resolved and checked it: a second
//! DNS answer could swap in 169.254.169.254 or loopback (DNS rebinding). This
//! sender connects TCP to exactly the checked address, does TLS with the
//! request's host name (SNI and certificate checks), and runs HTTP/1.1 with
//! hyper. Everything else follows `default_send_request` of wasmtime-wasi-http
//! 48.0.8: the same rustls setup and webpki roots, the same timeouts and
//! defaults, and the same `Error` values, so the guest sees the same codes.

use std::fmt;
use std::future::{poll_fn, Future};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// wasmtime-wasi-http's value for every timeout the guest leaves unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Resolves once the connection is done; errors after the response head.
pub type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// The certificates TLS connections trust: the webpki roots wasmtime-wasi-http
/// trusts, plus the operator's extra CA bundle if any (a private CA, or a
/// TLS-inspecting proxy). Built once, when the policy is loaded.
#[derive(Clone)]
pub struct Trust {
    config: Arc<ClientConfig>,
    extra: Option<(PathBuf, usize)>,
}

#[derive(Debug)]
pub enum TrustError {
    Read(PathBuf, std::io::Error),
    Pem(PathBuf, String),
    Empty(PathBuf),
    BadCert(PathBuf, usize, rustls::Error),
    Rustls(rustls::Error),
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustError::Read(p, e) => write!(f, "cannot read CA file {}: {e}", p.display()),
            TrustError::Pem(p, e) => write!(f, "CA file {} is not valid PEM: {e}", p.display()),
            TrustError::Empty(p) => write!(
                f,
                "CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                p.display()
            ),
            TrustError::BadCert(p, n, e) => write!(
                f,
                "certificate {n} in CA file {} cannot be a trust anchor: {e}",
                p.display()
            ),
            TrustError::Rustls(e) => write!(f, "cannot set up TLS: {e}"),
        }
    }
}

impl std::error::Error for TrustError {}

impl Trust {
    /// The webpki roots, plus every certificate in the PEM file `extra_ca`.
    pub fn new(extra_ca: Option<&Path>) -> Result<Trust, TrustError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let extra = match extra_ca {
            Some(path) => Some((path.to_path_buf(), add_pem(&mut roots, path)?)),
            None => None,
        };
        // The provider wasmtime-wasi-http's rustls features select (`ring`),
        // named so a second provider elsewhere in the build cannot make the
        // choice ambiguous.
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(TrustError::Rustls)?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Trust {
            config: Arc::new(config),
            extra,
        })
    }

    pub fn extra_ca_file(&self) -> Option<&Path> {
        self.extra.as_ref().map(|(p, _)| p.as_path())
    }
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("webpki_roots", &webpki_roots::TLS_SERVER_ROOTS.len())
            .field("extra_ca", &self.extra)
            .finish()
    }
}

fn add_pem(roots: &mut RootCertStore, path: &Path) -> Result<usize, TrustError> {
    let pem = std::fs::read(path).map_err(|e| TrustError::Read(path.to_path_buf(), e))?;
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| TrustError::Pem(path.to_path_buf(), e.to_string()))?;
        n += 1;
        roots
            .add(cert)
            .map_err(|e| TrustError::BadCert(path.to_path_buf(), n, e))?;
    }
    if n == 0 {
        return Err(TrustError::Empty(path.to_path_buf()));
    }
    Ok(n)
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Sends `req`, whose URI is absolute as wasmtime-wasi-http hands it over, to
/// the first of `to` that accepts; with none, to the URI's host resolved now
/// (provider endpoints, which the operator configured and the policy does not
/// check).
pub async fn send(
    mut req: Request<WasiBody>,
    to: &[SocketAddr],
    trust: &Trust,
    options: Option<RequestOptions>,
) -> Result<(Response<WasiBody>, IoFuture), Error> {
    let uri = req.uri().clone();
    let host = uri
        .host()
        .ok_or(Error::HttpRequestUriInvalid)?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let use_tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if use_tls { 443 } else { 80 });
    let options = options.unwrap_or_default();
    let connect_timeout = options.connect_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(DEFAULT_TIMEOUT);
    // Tokio panics on a zero interval; 1ns is as good as zero.
    let between_bytes_timeout = options
        .between_bytes_timeout
        .unwrap_or(DEFAULT_TIMEOUT)
        .max(Duration::from_nanos(1));

    let connect = async {
        if to.is_empty() {
            return TcpStream::connect((host, port)).await;
        }
        // In order, keeping the last error: what a connect by name does.
        let mut last = None;
        for addr in to {
            match TcpStream::connect(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::ErrorKind::AddrNotAvailable.into()))
    };
    let tcp = timeout(connect_timeout, connect)
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let stream: Box<dyn Stream> = if use_tls {
        let name = server_name(host)?;
        let tls = tokio_rustls::TlsConnector::from(trust.config.clone()).connect(name, tcp);
        // Unlike the default sender, the TLS handshake is bounded too.
        Box::new(
            timeout(connect_timeout, tls)
                .await
                .map_err(|_| Error::ConnectionTimeout)?
                .map_err(Error::Tls)?,
        )
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // Host stays the name the guest asked for, whatever address we reached.
    if !req.headers().contains_key(http::header::HOST) {
        let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
        let value =
            HeaderValue::from_str(authority.as_str()).map_err(|_| Error::HttpRequestUriInvalid)?;
        req.headers_mut().insert(http::header::HOST, value);
    }
    // Origin form on the wire: scheme and authority are for proxies only.
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    *req.uri_mut() = http::Uri::builder()
        .path_and_query(pq)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;

    let response = async move {
        let res = timeout(first_byte_timeout, sender.send_request(req))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        let mut gap = tokio::time::interval(between_bytes_timeout);
        gap.reset();
        Ok::<_, Error>(res.map(|incoming| TimedBody { incoming, gap }.boxed_unsync()))
    };
    let mut response = pin!(response);
    let mut conn = Some(conn);
    // Wait for the response head while driving the connection's I/O.
    let res = poll_fn(|cx| match response.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(r),
        Poll::Pending => {
            let Some(c) = conn.as_mut() else {
                return Poll::Pending;
            };
            let done = ready!(Pin::new(c).poll(cx));
            conn = None;
            match done {
                Ok(()) => response.as_mut().poll(cx),
                Err(e) => Poll::Ready(Err(Error::from(e))),
            }
        }
    })
    .await?;
    let io: IoFuture = Box::new(async move {
        let Some(conn) = conn else {
            return Ok(());
        };
        match conn.await {
            Ok(()) => Ok(()),
            Err(e) if e.is_timeout() => Err(Error::HttpResponseTimeout),
            Err(e) => Err(e.into()),
        }
    });
    Ok((res, io))
}

/// The name rustls verifies the certificate against, and sends as SNI.
fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::from(ip));
    }
    Ok(ServerName::try_from(host.to_string())?)
}

/// The response body with the guest's between-bytes timeout.
struct TimedBody {
    incoming: hyper::body::Incoming,
    gap: tokio::time::Interval,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(Some(Ok(frame))) => {
                self.gap.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.gap.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
