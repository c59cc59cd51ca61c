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

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
pub use wasiclaw_policy::tls::TrustError;
use wasiclaw_policy::tls::{self, server_name};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// wasmtime-wasi-http's value for every timeout the guest leaves unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Resolves once the connection is done; errors after the response head.
pub type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// The certificates outgoing TLS trusts: the webpki roots plus
/// `host.extra_ca_file`, built by `wasiclaw_policy::tls` (shared with the
/// WAMR runner).
pub type Trust = tls::Trust;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Sends `req`, whose URI is absolute as wasmtime-wasi-http hands it over, to
/// the first of `to` that accepts; with none (an unpinned provider endpoint,
/// which the operator configured and the policy does not check), to the host
/// resolved now: either way one answer, used once.
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
        let tls = tokio_rustls::TlsConnector::from(trust.config().clone()).connect(name, tcp);
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
