//! A minimal HTTP/1.1 server side: enough to read what real clients send
//! (Content-Length and chunked bodies, `Expect: 100-continue`) and to answer
//! with fixed-length or chunked responses. One request per connection; every
//! response says `Connection: close`, which every client honours.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// Requests larger than this are refused: a mock never needs more, and a
/// runaway client must not exhaust the test machine.
pub const MAX_BODY: usize = 32 * 1024 * 1024;
const MAX_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 128;

/// One parsed request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names as sent; look them up with [`Request::header`].
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First header of that name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[derive(Debug)]
pub enum HttpError {
    Io(io::Error),
    /// The bytes are not HTTP/1.1 as this parser understands it.
    Malformed(String),
    /// The body is larger than [`MAX_BODY`].
    TooLarge(usize),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Io(e) => write!(f, "i/o error: {e}"),
            HttpError::Malformed(m) => write!(f, "malformed request: {m}"),
            HttpError::TooLarge(n) => write!(f, "request body of {n} bytes exceeds {MAX_BODY}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> Self {
        HttpError::Io(e)
    }
}

fn malformed(m: impl Into<String>) -> HttpError {
    HttpError::Malformed(m.into())
}

/// Reads one CRLF- (or LF-) terminated line without the terminator; `None` at EOF.
fn read_line<R: BufRead>(r: &mut R) -> Result<Option<String>, HttpError> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > MAX_LINE {
            malformed("line too long")
        } else {
            malformed("connection closed mid-line")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| malformed("non-UTF-8 line"))
}

/// The request line and headers. `None` when the peer closed before sending anything.
pub fn read_head<R: BufRead>(r: &mut R) -> Result<Option<Request>, HttpError> {
    let line = match read_line(r)? {
        Some(l) => l,
        None => return Ok(None),
    };
    let mut parts = line.split(' ');
    let (method, path, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v), None) if !m.is_empty() && p.starts_with('/') => (m, p, v),
        _ => return Err(malformed(format!("bad request line {line:?}"))),
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(malformed(format!("unsupported version {version:?}")));
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| malformed("connection closed in headers"))?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(malformed("too many headers"));
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| malformed(format!("bad header line {line:?}")))?;
        if k.is_empty() || k.contains(' ') {
            return Err(malformed(format!("bad header name {k:?}")));
        }
        headers.push((k.to_string(), v.trim().to_string()));
    }
    Ok(Some(Request {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body: Vec::new(),
    }))
}

/// Reads the body announced by the head into `req.body`.
pub fn read_body<R: BufRead>(r: &mut R, req: &mut Request) -> Result<(), HttpError> {
    let chunked = req
        .header("transfer-encoding")
        .map(|te| te.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    if chunked {
        req.body = read_chunked(r)?;
        return Ok(());
    }
    let len = match req.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| malformed(format!("bad content-length {v:?}")))?,
    };
    if len > MAX_BODY {
        return Err(HttpError::TooLarge(len));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    req.body = body;
    Ok(())
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| malformed("connection closed in chunk size"))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| malformed(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers (ignored) end with an empty line.
            loop {
                match read_line(r)? {
                    Some(l) if !l.is_empty() => continue,
                    _ => return Ok(body),
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(HttpError::TooLarge(body.len() + size));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let end = read_line(r)?;
        if end.as_deref() != Some("") {
            return Err(malformed("chunk not followed by CRLF"));
        }
    }
}

/// Reads a whole request, answering `Expect: 100-continue` on `w` first.
pub fn read_request<R: BufRead, W: Write>(
    r: &mut R,
    w: &mut W,
) -> Result<Option<Request>, HttpError> {
    let mut req = match read_head(r)? {
        Some(req) => req,
        None => return Ok(None),
    };
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    read_body(r, &mut req)?;
    Ok(Some(req))
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn write_head<W: Write>(w: &mut W, status: u16, headers: &[(&str, String)]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    w.write_all(head.as_bytes())
}

/// A complete fixed-length response.
pub fn write_response<W: Write>(
    w: &mut W,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut all = headers.to_vec();
    all.push(("Content-Length", body.len().to_string()));
    write_head(w, status, &all)?;
    w.write_all(body)?;
    w.flush()
}

/// Head of a response whose body claims `len` bytes; the caller may then send
/// fewer (to simulate a cut connection).
pub fn write_head_with_length<W: Write>(
    w: &mut W,
    status: u16,
    headers: &[(&str, String)],
    len: usize,
) -> io::Result<()> {
    let mut all = headers.to_vec();
    all.push(("Content-Length", len.to_string()));
    write_head(w, status, &all)
}

/// A `Transfer-Encoding: chunked` response body, as streaming APIs send.
pub struct ChunkedWriter<W: Write> {
    w: W,
}

impl<W: Write> ChunkedWriter<W> {
    pub fn start(mut w: W, status: u16, headers: &[(&str, String)]) -> io::Result<Self> {
        let mut all = headers.to_vec();
        all.push(("Transfer-Encoding", "chunked".to_string()));
        write_head(&mut w, status, &all)?;
        w.flush()?;
        Ok(ChunkedWriter { w })
    }

    /// Sends `data` as one chunk, flushed so the client sees it now.
    pub fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        write!(self.w, "{:x}\r\n", data.len())?;
        self.w.write_all(data)?;
        self.w.write_all(b"\r\n")?;
        self.w.flush()
    }

    /// The terminating zero-length chunk.
    pub fn finish(mut self) -> io::Result<()> {
        self.w.write_all(b"0\r\n\r\n")?;
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(raw: &[u8]) -> Result<Option<Request>, HttpError> {
        let mut out = Vec::new();
        read_request(&mut Cursor::new(raw.to_vec()), &mut out)
    }

    #[test]
    fn content_length_body() {
        let req = parse(b"POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/v1/x");
        assert_eq!(req.header("HOST"), Some("a"));
        assert_eq!(req.body, b"hello");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
            4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n";
        let req = parse(raw).unwrap().unwrap();
        assert_eq!(req.body, b"Wikipedia in\r\n\r\nchunks.");
    }

    #[test]
    fn expect_continue_is_answered() {
        let mut out = Vec::new();
        let raw =
            b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok".to_vec();
        let req = read_request(&mut Cursor::new(raw), &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(req.body, b"ok");
        assert!(out.starts_with(b"HTTP/1.1 100 Continue"));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(b"").unwrap().is_none());
        assert!(matches!(
            parse(b"GARBAGE\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(HttpError::Malformed(_))
        ));
        let huge = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(matches!(
            parse(huge.as_bytes()),
            Err(HttpError::TooLarge(_))
        ));
        // Body shorter than announced: an I/O error, not a hang or a panic.
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
            Err(HttpError::Io(_))
        ));
    }

    #[test]
    fn chunked_writer_frames_chunks() {
        let mut out = Vec::new();
        let mut w = ChunkedWriter::start(&mut out, 200, &[("X", "y".into())]).unwrap();
        w.chunk(b"hello").unwrap();
        w.chunk(b"").unwrap();
        w.chunk(b"0123456789abcdef!").unwrap();
        w.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nX: y\r\nTransfer-Encoding: chunked\r\n"));
        assert!(text.ends_with("\r\n\r\n5\r\nhello\r\n11\r\n0123456789abcdef!\r\n0\r\n\r\n"));
    }
}
