//! Reading HTTP/1.1 responses off a keep-alive connection: status line,
//! headers, then a body framed by `Content-Length`, `Transfer-Encoding:
//! chunked`, or the end of the connection. Bodies are counted and dropped;
//! a load generator only needs their length and where the next response
//! starts.

use std::fmt;
use std::io::{self, BufRead, Read};

/// Longest status, header or chunk-size line accepted.
const MAX_LINE: u64 = 16 * 1024;
const MAX_HEADERS: usize = 128;

#[derive(Debug)]
pub enum ResponseError {
    /// The connection ended before the status line: nothing was answered.
    Closed,
    Io(io::Error),
    /// Not HTTP/1.x, or cut in the middle.
    Malformed(String),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Closed => {
                write!(f, "the server closed the connection without answering")
            }
            ResponseError::Io(e) => write!(f, "{e}"),
            ResponseError::Malformed(m) => write!(f, "malformed response: {m}"),
        }
    }
}

impl From<io::Error> for ResponseError {
    fn from(e: io::Error) -> Self {
        ResponseError::Io(e)
    }
}

fn malformed(m: impl Into<String>) -> ResponseError {
    ResponseError::Malformed(m.into())
}

#[derive(Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    /// Names lower-cased, values trimmed, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body_len: u64,
    /// The server will not take another request on this connection.
    pub close: bool,
}

impl Response {
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `dur` (milliseconds) of `metric` in the `Server-Timing` headers.
    pub fn server_timing_ms(&self, metric: &str) -> Option<f64> {
        self.header_values("server-timing")
            .find_map(|v| server_timing_ms(v, metric))
    }
}

/// `dur` of `metric` in one `Server-Timing` value (W3C syntax:
/// `name;dur=1.2;desc="x", other;dur=3`).
pub fn server_timing_ms(value: &str, metric: &str) -> Option<f64> {
    value.split(',').find_map(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        if !parts.next()?.eq_ignore_ascii_case(metric) {
            return None;
        }
        parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("dur") {
                return None;
            }
            v.trim().trim_matches('"').parse::<f64>().ok()
        })
    })
}

/// One line without its CRLF; `Ok(None)` when the connection ended first.
fn line<R: BufRead>(r: &mut R) -> Result<Option<String>, ResponseError> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(malformed(if n as u64 == MAX_LINE {
            "line too long"
        } else {
            "connection closed mid-line"
        }));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| malformed("line is not UTF-8"))
}

fn required_line<R: BufRead>(r: &mut R, what: &str) -> Result<String, ResponseError> {
    line(r)?.ok_or_else(|| malformed(format!("connection closed before the {what}")))
}

/// Reads and drops exactly `n` bytes.
fn skip<R: BufRead>(r: &mut R, n: u64) -> Result<(), ResponseError> {
    let got = io::copy(&mut r.by_ref().take(n), &mut io::sink())?;
    if got != n {
        return Err(malformed(format!("body cut after {got} of {n} bytes")));
    }
    Ok(())
}

fn chunked_body<R: BufRead>(r: &mut R) -> Result<u64, ResponseError> {
    let mut total = 0u64;
    loop {
        let size_line = required_line(r, "chunk size")?;
        let hex = size_line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(hex, 16)
            .map_err(|_| malformed(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            for _ in 0..=MAX_HEADERS {
                if required_line(r, "end of the trailers")?.is_empty() {
                    return Ok(total);
                }
            }
            return Err(malformed("too many trailers"));
        }
        skip(r, size)?;
        total += size;
        if !required_line(r, "chunk end")?.is_empty() {
            return Err(malformed("chunk data longer than its size"));
        }
    }
}

/// Whether a comma-separated header `name` lists `token`.
fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Reads one response. `head` is true when the request was `HEAD` (no body).
pub fn read_response<R: BufRead>(r: &mut R, head: bool) -> Result<Response, ResponseError> {
    loop {
        let status_line = line(r)?.ok_or(ResponseError::Closed)?;
        let mut words = status_line.split_whitespace();
        let version = words.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(malformed(format!("status line {status_line:?}")));
        }
        let status: u16 = words
            .next()
            .and_then(|c| c.parse().ok())
            .filter(|c| (100..1000).contains(c))
            .ok_or_else(|| malformed(format!("status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let l = required_line(r, "end of the headers")?;
            if l.is_empty() {
                break;
            }
            if headers.len() == MAX_HEADERS {
                return Err(malformed("too many headers"));
            }
            let (name, value) = l
                .split_once(':')
                .ok_or_else(|| malformed(format!("header line {l:?}")))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        // Interim answers (100 Continue, 103 Early Hints) precede the real one.
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let close = if version == "HTTP/1.0" {
            !has_token(&headers, "connection", "keep-alive")
        } else {
            has_token(&headers, "connection", "close")
        };
        let chunked = has_token(&headers, "transfer-encoding", "chunked");
        let mut resp = Response {
            status,
            headers,
            body_len: 0,
            close,
        };
        let no_body = head || status == 204 || status == 304 || status == 101;
        if no_body {
            return Ok(resp);
        }
        if chunked {
            resp.body_len = chunked_body(r)?;
            return Ok(resp);
        }
        let length = {
            let mut lengths = resp
                .header_values("content-length")
                .map(|v| v.parse::<u64>().ok());
            match lengths.next() {
                None => None,
                Some(None) => return Err(malformed("bad Content-Length")),
                Some(Some(n)) if lengths.all(|other| other == Some(n)) => Some(n),
                Some(Some(_)) => return Err(malformed("conflicting Content-Length headers")),
            }
        };
        match length {
            Some(n) => {
                skip(r, n)?;
                resp.body_len = n;
            }
            None => {
                // Delimited by the end of the connection.
                resp.body_len = io::copy(r, &mut io::sink())?;
                resp.close = true;
            }
        }
        return Ok(resp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse_all(raw: &str) -> (Vec<Response>, Option<String>) {
        let mut r = Cursor::new(raw.as_bytes().to_vec());
        let mut out = Vec::new();
        loop {
            match read_response(&mut r, false) {
                Ok(resp) => out.push(resp),
                Err(ResponseError::Closed) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn keep_alive_responses_follow_each_other() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer-Timing: instantiate;dur=0.412, guest;dur=3.1\r\n\r\nhello\
                   HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nx-trailer: 1\r\n\r\n\
                   HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nConnection: close\r\n\r\n";
        let (got, err) = parse_all(raw);
        assert_eq!(err, None);
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].status, got[0].body_len, got[0].close),
            (200, 5, false)
        );
        assert_eq!(got[0].server_timing_ms("instantiate"), Some(0.412));
        assert_eq!(got[0].server_timing_ms("guest"), Some(3.1));
        assert_eq!(got[0].server_timing_ms("db"), None);
        assert_eq!((got[1].body_len, got[1].close), (19, false));
        assert_eq!((got[2].status, got[2].close), (404, true));
    }

    #[test]
    fn body_to_end_of_connection_and_http_1_0() {
        let (got, err) = parse_all("HTTP/1.0 200 OK\r\n\r\nall of it");
        assert_eq!(err, None);
        assert_eq!((got[0].body_len, got[0].close), (9, true));
        let (got, _) =
            parse_all("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx");
        assert!(!got[0].close);
    }

    #[test]
    fn head_and_204_have_no_body() {
        let mut r = Cursor::new(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n".to_vec());
        let resp = read_response(&mut r, true).expect("head response");
        assert_eq!(resp.body_len, 0);
        let (got, err) = parse_all(
            "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!((got.len(), err), (2, None));
    }

    #[test]
    fn broken_responses_are_errors() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                "cut after 5 of 10",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                "bad Content-Length",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
                "conflicting",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "bad chunk size",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
                "longer than its size",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                "cut after 2 of 5",
            ),
            ("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "header line"),
            (
                "HTTP/1.1 200 OK\r\nA: b\r\n",
                "before the end of the headers",
            ),
            ("SSH-2.0-x\r\n\r\n", "status line"),
            ("HTTP/1.1 abc\r\n\r\n", "status line"),
            ("HTTP/1.1 200 OK", "closed mid-line"),
        ];
        for (raw, want) in cases {
            let (_, err) = parse_all(raw);
            let err = err.unwrap_or_else(|| panic!("{raw:?} parsed"));
            assert!(err.contains(want), "{raw:?}: {err}");
        }
        let long = format!("HTTP/1.1 200 OK\r\nA: {}\r\n\r\n", "x".repeat(20_000));
        assert!(parse_all(&long).1.is_some_and(|e| e.contains("too long")));
    }

    #[test]
    fn server_timing_syntax() {
        assert_eq!(
            server_timing_ms("instantiate;dur=0.5", "instantiate"),
            Some(0.5)
        );
        assert_eq!(
            server_timing_ms("a;desc=\"x\";dur=\"2\", b", "a"),
            Some(2.0)
        );
        assert_eq!(
            server_timing_ms("cache, instantiate ; DUR = 7", "instantiate"),
            Some(7.0)
        );
        assert_eq!(server_timing_ms("instantiate", "instantiate"), None);
        assert_eq!(
            server_timing_ms("instantiate;dur=fast", "instantiate"),
            None
        );
        assert_eq!(server_timing_ms("", "instantiate"), None);
    }
}
