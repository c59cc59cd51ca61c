//! A minimal blocking HTTP/1.1 client over `std::net`, with TLS by rustls
//! (blocking `StreamOwned`, SNI and certificate checks for the URL's host):
//! one request per connection (`connection: close`), `content-length`,
//! chunked or read-to-close bodies, a timeout on every wait, a body limit
//! counted on the decrypted body, and the socket under the turn's deadline
//! (shutting the TCP socket ends a TLS stream on it too). Enough for LLM APIs
//! and web pages behind the policy, and nothing that needs a runtime.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::{CertificateError, ClientConfig, ClientConnection, StreamOwned};
use wasiclaw_policy::tls::server_name;

use crate::errors::{code, Fail};
use crate::limits::{Deadline, Watched};

/// The longest status line or header line we accept.
const MAX_LINE: usize = 16 * 1024;
/// The most header bytes we accept in one response.
const MAX_HEADERS: usize = 64 * 1024;

/// HTTPS: the client configuration (trusted roots) and the name the
/// certificate must be valid for, which is also the SNI.
pub struct Tls<'a> {
    pub config: &'a Arc<ClientConfig>,
    pub name: &'a str,
}

pub struct Outgoing<'a> {
    pub method: &'a str,
    /// `host[:port]` as the `host` header carries it.
    pub authority: &'a str,
    pub path_query: &'a str,
    /// Already filtered and with the credential injected.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

enum Framing {
    Length(u64),
    /// Bytes left in the current chunk; `None` before the next size line.
    Chunked(Option<u64>),
    UntilClose,
    Done,
}

/// The connection: plain TCP, or TLS over it.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// The TLS handshake, within the socket's timeouts; a certificate that is
/// not trusted or not valid for `tls.name` fails here, before any byte of
/// the request is sent.
fn handshake(tcp: TcpStream, tls: &Tls) -> Result<Conn, Fail> {
    let name = server_name(tls.name).map_err(|_| {
        Fail::new(
            code::INVALID,
            format!("{:?} is not a valid TLS server name", tls.name),
        )
    })?;
    let mut conn = ClientConnection::new(tls.config.clone(), name)
        .map_err(|e| Fail::new(code::CONNECT, format!("TLS setup: {e}")))?;
    let mut tcp = tcp;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| {
            let mut f = io_fail(&e, &format!("TLS handshake with {}", tls.name));
            let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
            if e.get_ref().and_then(|i| i.downcast_ref()) == Some(&unknown) {
                f.message.push_str(
                    " (not issued by a trusted CA: add the issuing CA to host.extra_ca_file)",
                );
            }
            f
        })?;
    }
    Ok(Conn::Tls(Box::new(StreamOwned::new(conn, tcp))))
}

pub struct Incoming {
    reader: BufReader<Conn>,
    pub status: u16,
    /// Lower-cased names, in the order received.
    pub headers: Vec<(String, String)>,
    framing: Framing,
    received: u64,
    limit: u64,
    /// Shut down from the watchdog if the turn runs out.
    _watched: Watched,
}

/// Connects to the already-checked address (over TLS when `tls` is given),
/// sends the request and reads the status line and headers, within `timeout`
/// per wait and the turn's deadline.
pub fn exchange(
    addr: SocketAddr,
    tls: Option<&Tls>,
    req: &Outgoing,
    timeout: Duration,
    limit: u64,
    deadline: &Arc<Deadline>,
) -> Result<Incoming, Fail> {
    let connect = timeout.min(deadline.remaining()?);
    let stream = TcpStream::connect_timeout(&addr, connect).map_err(|e| io_fail(&e, "connect"))?;
    let watched = deadline.watch(&stream)?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| io_fail(&e, "socket"))?;
    let _ = stream.set_nodelay(true);
    let mut conn = match tls {
        Some(tls) => handshake(stream, tls)?,
        None => Conn::Plain(stream),
    };

    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
        req.method, req.path_query, req.authority
    );
    for (k, v) in req.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    if !req.body.is_empty() || req.method == "POST" || req.method == "PUT" {
        head.push_str(&format!("content-length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())
        .and_then(|_| conn.write_all(req.body))
        .and_then(|_| conn.flush())
        .map_err(|e| io_fail(&e, "send"))?;

    let mut reader = BufReader::new(conn);
    let (status, headers) = loop {
        let (status, headers) = read_head(&mut reader)?;
        // 1xx answers precede the real one; skip them (101 would switch
        // protocols, which we never ask for).
        if !(100..200).contains(&status) || status == 101 {
            break (status, headers);
        }
    };
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let framing = if req.method == "HEAD" || status == 204 || status == 304 {
        Framing::Done
    } else if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        Framing::Chunked(None)
    } else if let Some(len) = find("content-length") {
        let n = len
            .trim()
            .parse::<u64>()
            .map_err(|_| Fail::new(code::PROTOCOL, format!("bad content-length {len:?}")))?;
        if n > limit {
            return Err(too_large(limit));
        }
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Incoming {
        reader,
        status,
        headers,
        framing,
        received: 0,
        limit,
        _watched: watched,
    })
}

impl Incoming {
    /// The next body bytes into `buf`: what is buffered or arrives next, `0` at
    /// the end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Fail> {
        loop {
            let n = match self.framing {
                Framing::Done => return Ok(0),
                Framing::Length(0) => {
                    self.framing = Framing::Done;
                    return Ok(0);
                }
                Framing::Length(left) => {
                    let want = buf.len().min(left.min(usize::MAX as u64) as usize);
                    let n = self
                        .reader
                        .read(&mut buf[..want])
                        .map_err(|e| io_fail(&e, "read"))?;
                    if n == 0 {
                        return Err(Fail::new(code::CONNECT, "the connection closed mid-body"));
                    }
                    self.framing = Framing::Length(left - n as u64);
                    n
                }
                Framing::UntilClose => {
                    let n = self.reader.read(buf).map_err(|e| io_fail(&e, "read"))?;
                    if n == 0 {
                        self.framing = Framing::Done;
                    }
                    n
                }
                Framing::Chunked(None) => {
                    let line = read_line(&mut self.reader)?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| {
                        Fail::new(code::PROTOCOL, format!("bad chunk size {size:?}"))
                    })?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        while !read_line(&mut self.reader)?.is_empty() {}
                        self.framing = Framing::Done;
                        return Ok(0);
                    }
                    self.framing = Framing::Chunked(Some(size));
                    continue;
                }
                Framing::Chunked(Some(left)) => {
                    let want = buf.len().min(left.min(usize::MAX as u64) as usize);
                    let n = self
                        .reader
                        .read(&mut buf[..want])
                        .map_err(|e| io_fail(&e, "read"))?;
                    if n == 0 {
                        return Err(Fail::new(code::CONNECT, "the connection closed mid-chunk"));
                    }
                    let left = left - n as u64;
                    if left == 0 {
                        if !read_line(&mut self.reader)?.is_empty() {
                            return Err(Fail::new(code::PROTOCOL, "chunk not followed by CRLF"));
                        }
                        self.framing = Framing::Chunked(None);
                    } else {
                        self.framing = Framing::Chunked(Some(left));
                    }
                    n
                }
            };
            self.received += n as u64;
            if self.received > self.limit {
                self.framing = Framing::Done;
                return Err(too_large(self.limit));
            }
            return Ok(n);
        }
    }
}

fn too_large(limit: u64) -> Fail {
    Fail::new(
        code::TOO_LARGE,
        format!("the response body is larger than the host's limit of {limit} bytes"),
    )
}

fn read_head(r: &mut impl BufRead) -> Result<(u16, Vec<(String, String)>), Fail> {
    let line = read_line(r)?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    let status = match status {
        Some(s) if version.starts_with("HTTP/1.") && (100..=599).contains(&s) => s,
        _ => {
            return Err(Fail::new(
                code::PROTOCOL,
                format!("bad status line {line:?}"),
            ))
        }
    };
    let mut headers = Vec::new();
    let mut total = 0;
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        total += line.len();
        if total > MAX_HEADERS {
            return Err(Fail::new(code::PROTOCOL, "response headers too large"));
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| Fail::new(code::PROTOCOL, format!("bad header line {line:?}")))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok((status, headers))
}

/// One CRLF- (or LF-) terminated line without its terminator.
fn read_line(r: &mut impl BufRead) -> Result<String, Fail> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(|e| io_fail(&e, "read"))?;
    if n == 0 {
        return Err(Fail::new(code::CONNECT, "the server closed the connection"));
    }
    if line.last() != Some(&b'\n') {
        return Err(Fail::new(code::PROTOCOL, "line too long or cut short"));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| Fail::new(code::PROTOCOL, "non-UTF-8 header line"))
}

fn io_fail(e: &io::Error, during: &str) -> Fail {
    let c = match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => code::TIMEOUT,
        _ => code::CONNECT,
    };
    Fail::new(c, format!("{during}: {e}"))
}
