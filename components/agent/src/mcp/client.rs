//! One MCP server over Streamable HTTP: protocol 2026-07-28 (stateless, every
//! request carries its version and capabilities in `_meta`), falling back to
//! the `initialize` handshake of 2025-11-25 / 2025-06-18 when the server
//! answers the stateless form with an error, as servers on older SDKs do.

use crate::http::{Clock, Http, HttpError, Request, Response, Timeouts};
use crate::jsonw::JsonWriter;
use crate::mcp::config::ServerConfig;
use crate::prelude::*;
use crate::sse;
use core::time::Duration;
use wasiclaw_json::Value;

/// The stateless protocol revision this client speaks first.
pub const MODERN: &str = "2026-07-28";
/// The handshake revision offered in `initialize`.
pub const HANDSHAKE: &str = "2025-11-25";
/// Handshake revisions accepted in the server's `initialize` answer.
const OLDER: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// A reply larger than this is refused: tool output is cut to 64 KiB anyway,
/// and a runaway server must not exhaust the guest's memory.
pub const MAX_REPLY: usize = 4 << 20;
/// A request, its reply included, must be done within this: a server that
/// trickles bytes (an SSE keep-alive every few seconds, say) defeats the
/// between-bytes timeout, and a tool call must not hold the turn forever.
pub const MAX_SECS: u64 = 120;
const CLIENT_INFO: &str = "{\"name\":\"wasiclaw\",\"version\":\"0.1.0\"}";

/// Why a request to an MCP server failed; every case reads well as a tool error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum McpError {
    /// The server could not be reached, or the reply broke off or timed out.
    Http(String),
    /// An HTTP error status, with the server's message when it sent one.
    Status(u16, String),
    /// A JSON-RPC error object.
    Rpc(i64, String),
    /// A reply that is not MCP: not JSON-RPC, wrong id, oversized.
    Protocol(String),
}

impl McpError {
    pub fn message(&self) -> String {
        match self {
            McpError::Http(m) => m.clone(),
            McpError::Status(code, m) => cat!(
                "HTTP ",
                *code as u64,
                if m.is_empty() { "" } else { ": " },
                m
            ),
            McpError::Rpc(code, m) => cat!("error ", *code, ": ", m),
            McpError::Protocol(m) => cat!("not an MCP reply: ", m),
        }
    }
}

impl From<HttpError> for McpError {
    fn from(e: HttpError) -> McpError {
        McpError::Http(e.message())
    }
}

/// Which protocol generation the server speaks, learnt on first contact.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Era {
    Unknown,
    Modern,
    /// After `initialize`: the negotiated version and the session, if any.
    Legacy {
        version: String,
        session: Option<String>,
    },
}

pub struct Client {
    pub cfg: ServerConfig,
    era: Era,
    next_id: u64,
    pub timeouts: Timeouts,
}

impl Client {
    pub fn new(cfg: ServerConfig) -> Client {
        Client {
            cfg,
            era: Era::Unknown,
            next_id: 1,
            timeouts: Timeouts {
                connect: Duration::from_secs(10),
                first_byte: Duration::from_secs(60),
                between_bytes: Duration::from_secs(60),
            },
        }
    }

    /// The negotiated protocol version, once known (for logs and tests).
    pub fn version(&self) -> Option<&str> {
        match &self.era {
            Era::Unknown => None,
            Era::Modern => Some(MODERN),
            Era::Legacy { version, .. } => Some(version),
        }
    }

    /// One request; `params` are the members of the params object as JSON
    /// text (empty for none), `name` the tool for `Mcp-Name`. A legacy
    /// session the server has forgotten (404) is re-established once.
    pub fn request(
        &mut self,
        http: &mut dyn Http,
        clock: &dyn Clock,
        method: &str,
        name: Option<&str>,
        params: &str,
    ) -> Result<Value, McpError> {
        let t = Deadline {
            clock,
            at: clock.now_unix().saturating_add(MAX_SECS),
        };
        if matches!(self.era, Era::Unknown) {
            self.connect(http, &t)?;
        }
        match self.exchange(http, &t, method, name, params, true) {
            Err(McpError::Status(404, _))
                if matches!(
                    &self.era,
                    Era::Legacy {
                        session: Some(_),
                        ..
                    }
                ) =>
            {
                self.era = Era::Unknown;
                self.connect(http, &t)?;
                Ok(self.exchange(http, &t, method, name, params, true)?.0)
            }
            r => Ok(r?.0),
        }
    }

    /// `server/discover` at 2026-07-28; anything but a result naming that
    /// version (an error status, a JSON-RPC error, garbage) means an older
    /// server, which gets the handshake. A server that cannot be reached is
    /// an error either way, and the next request tries again.
    fn connect(&mut self, http: &mut dyn Http, t: &Deadline) -> Result<(), McpError> {
        self.era = Era::Modern;
        let probe = self.exchange(http, t, "server/discover", None, "", true);
        let modern = match &probe {
            Ok((v, _)) => v
                .get("supportedVersions")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(MODERN))),
            Err(McpError::Http(_)) => {
                self.era = Era::Unknown;
                return probe.map(|_| ());
            }
            Err(_) => false,
        };
        if modern {
            return Ok(());
        }
        self.era = Era::Legacy {
            version: String::new(),
            session: None,
        };
        let params = cat!(
            "\"protocolVersion\":\"",
            HANDSHAKE,
            "\",\"capabilities\":{},\"clientInfo\":",
            CLIENT_INFO
        );
        let (result, session) = match self.exchange(http, t, "initialize", None, &params, true) {
            Ok(r) => r,
            Err(e) => {
                self.era = Era::Unknown;
                return Err(e);
            }
        };
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !OLDER.contains(&version) {
            self.era = Era::Unknown;
            return Err(McpError::Protocol(cat!(
                "the server offers protocol version '",
                version,
                "', which this client does not speak"
            )));
        }
        self.era = Era::Legacy {
            version: version.to_string(),
            session,
        };
        if let Err(e) = self.exchange(http, t, "notifications/initialized", None, "", false) {
            self.era = Era::Unknown;
            return Err(e);
        }
        Ok(())
    }

    fn body(&mut self, method: &str, params: &str, with_id: bool) -> (String, u64) {
        let id = self.next_id;
        self.next_id += 1;
        let mut w = JsonWriter::default();
        w.open('{').field("jsonrpc", "2.0");
        if with_id {
            w.key("id").raw(&cat!(id));
        }
        w.field("method", method).key("params").open('{');
        if !params.is_empty() {
            w.raw(params);
        }
        if matches!(self.era, Era::Modern) {
            w.key("_meta").open('{');
            w.field("io.modelcontextprotocol/protocolVersion", MODERN);
            w.key("io.modelcontextprotocol/clientCapabilities")
                .raw("{}");
            w.key("io.modelcontextprotocol/clientInfo").raw(CLIENT_INFO);
            w.close('}');
        }
        w.close('}').close('}');
        (w.out, id)
    }

    /// Sends one message. For a request (`with_id`) returns its `result`
    /// and the response's `Mcp-Session-Id`; a notification returns `Null`.
    fn exchange(
        &mut self,
        http: &mut dyn Http,
        t: &Deadline,
        method: &str,
        name: Option<&str>,
        params: &str,
        with_id: bool,
    ) -> Result<(Value, Option<String>), McpError> {
        let (body, id) = self.body(method, params, with_id);
        let mut headers = Vec::new();
        // One call site for the pair allocation instead of one per header.
        let mut add = |k: &str, v: &str| headers.push((String::from(k), String::from(v)));
        add("content-type", "application/json");
        add("accept", "application/json, text/event-stream");
        match &self.era {
            Era::Modern => {
                add("mcp-protocol-version", MODERN);
                add("mcp-method", method);
                if let Some(n) = name {
                    add("mcp-name", n);
                }
            }
            Era::Legacy { version, session } => {
                if !version.is_empty() {
                    add("mcp-protocol-version", version);
                }
                if let Some(s) = session {
                    add("mcp-session-id", s);
                }
            }
            Era::Unknown => {}
        }
        headers.extend(self.cfg.headers.iter().cloned());
        let req = Request {
            url: self.cfg.url.clone(),
            headers,
            body: body.into_bytes(),
        };
        t.check()?;
        let mut resp = http.send(&req, self.timeouts)?;
        if !(200..300).contains(&resp.status) {
            return Err(status_error(&mut resp, t));
        }
        let session = resp.header("mcp-session-id").map(String::from);
        if !with_id {
            return Ok((Value::Null, session));
        }
        let ctype = resp.header("content-type").unwrap_or("");
        let msg = if starts_with_ignore_case(ctype, "text/event-stream") {
            from_stream(&mut resp, id, t)?
        } else {
            parse_message(&read_body(&mut resp, MAX_REPLY, t)?)?
        };
        Ok((result_of(msg, id)?, session))
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The end of one request's time, checked as its reply arrives.
struct Deadline<'a> {
    clock: &'a dyn Clock,
    at: u64,
}

impl Deadline<'_> {
    fn check(&self) -> Result<(), McpError> {
        if self.clock.now_unix() > self.at {
            return Err(McpError::Http(cat!(
                "no complete reply within ",
                MAX_SECS,
                " s"
            )));
        }
        Ok(())
    }
}

/// The whole body, at most `limit` bytes, by the deadline.
fn read_body(resp: &mut Response, limit: usize, t: &Deadline) -> Result<Vec<u8>, McpError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.body.next_chunk()? {
        t.check()?;
        if out.len() + chunk.len() > limit {
            return Err(McpError::Protocol(cat!(
                "the reply is larger than ",
                limit,
                " bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// An error status, with the JSON-RPC error message (or text) it carried.
fn status_error(resp: &mut Response, t: &Deadline) -> McpError {
    let body = read_body(resp, 64 << 10, t).unwrap_or_default();
    // Not from_utf8_lossy: its decoder is code the component does not need.
    let text = core::str::from_utf8(&body).unwrap_or("");
    let msg = match wasiclaw_json::parse(text) {
        Ok(v) => v
            .get("error")
            .and_then(|e| e.get("message").or(Some(e)))
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_default(),
        Err(_) => wasiclaw_json::text::prefix_chars(text.trim(), 200).to_string(),
    };
    McpError::Status(resp.status, msg)
}

fn parse_message(bytes: &[u8]) -> Result<Value, McpError> {
    let text = core::str::from_utf8(bytes).map_err(|_| McpError::Protocol("not UTF-8".into()))?;
    wasiclaw_json::parse(text).map_err(|e| McpError::Protocol(e.message()))
}

/// Reads an SSE reply until the response to request `id`; notifications
/// (progress, logs) before it are skipped.
fn from_stream(resp: &mut Response, id: u64, t: &Deadline) -> Result<Value, McpError> {
    let mut dec = sse::Decoder::new();
    let mut total = 0usize;
    loop {
        let chunk = resp.body.next_chunk()?;
        t.check()?;
        let events = match &chunk {
            Some(c) => {
                total += c.len();
                if total > MAX_REPLY {
                    return Err(McpError::Protocol(cat!(
                        "the reply is larger than ",
                        MAX_REPLY,
                        " bytes"
                    )));
                }
                dec.feed(c)
            }
            None => dec.finish().map(|e| e.into_iter().collect()),
        }
        .map_err(McpError::Protocol)?;
        for ev in events {
            if ev.data.is_empty() {
                continue;
            }
            let msg = parse_message(ev.data.as_bytes())?;
            if msg.get("id").and_then(Value::as_u64) == Some(id) {
                return Ok(msg);
            }
        }
        if chunk.is_none() {
            return Err(McpError::Protocol(
                "the stream ended without a response".into(),
            ));
        }
    }
}

/// The `result` of a JSON-RPC response to `id`, or its error.
fn result_of(mut msg: Value, id: u64) -> Result<Value, McpError> {
    if let Some(err) = msg.get("error") {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        let text = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)");
        return Err(McpError::Rpc(code, text.to_string()));
    }
    if msg.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(McpError::Protocol(
            "the response answers another request".into(),
        ));
    }
    match msg.get_mut("result").map(core::mem::take) {
        Some(r @ Value::Obj(_)) => Ok(r),
        _ => Err(McpError::Protocol("no result object".into())),
    }
}
