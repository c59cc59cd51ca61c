//! The edge build's MCP server at `POST /mcp`: the tools component's tools
//! (`tools/list`, `tools/call`) for any MCP client, in protocol 2026-07-28
//! (`server/discover`, version and capabilities in each request's `_meta`)
//! and the 2025-11-25 handshake for older clients. Stateless either way: no
//! session is assigned, so every request stands alone, as each request gets
//! its own instance under `wasmtime serve` anyway. Platform-free: the shim
//! passes the request in and writes the [`Reply`] out.

use crate::mcp::client::MODERN;
use crate::prelude::*;
use crate::tools::{ToolError, Tools};
use wasiclaw_json::{quote, Value};

/// The environment variable holding the bearer token `/mcp` requires
/// (`wasiclaw serve --mcp-token` sets it; under `wasmtime serve`, `--env`).
pub const TOKEN_ENV: &str = "WASICLAW_MCP_TOKEN";
/// Handshake revisions this server accepts in `initialize`.
const OLDER: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
const SERVER_INFO: &str = "{\"name\":\"wasiclaw\",\"version\":\"0.1.0\"}";
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const HEADER_MISMATCH: i64 = -32020;
const UNSUPPORTED_VERSION: i64 = -32022;

/// What the shim read from the HTTP request.
pub struct Incoming<'a> {
    /// The `Host` header (`wasi:http` calls it the authority).
    pub host: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub protocol_version: Option<&'a str>,
    pub method_header: Option<&'a str>,
    pub name_header: Option<&'a str>,
    pub body: &'a [u8],
}

/// The HTTP answer: status and JSON body (empty for 202).
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

fn reply(status: u16, body: String) -> Reply {
    Reply { status, body }
}

fn error(id: &str, code: i64, message: &str) -> Reply {
    let status = match code {
        METHOD_NOT_FOUND => 404,
        PARSE_ERROR | INVALID_REQUEST | INVALID_PARAMS | HEADER_MISMATCH | UNSUPPORTED_VERSION => {
            400
        }
        _ => 200,
    };
    let body = cat!(
        "{\"jsonrpc\":\"2.0\",\"id\":",
        id,
        ",\"error\":{\"code\":",
        code,
        ",\"message\":",
        quote(message),
        "}}"
    );
    reply(status, body)
}

fn result(id: &str, result: &str) -> Reply {
    reply(
        200,
        cat!(
            "{\"jsonrpc\":\"2.0\",\"id\":",
            id,
            ",\"result\":",
            result,
            "}"
        ),
    )
}

/// The authority of an `Origin` (`scheme://host[:port]`).
fn origin_authority(origin: &str) -> Option<&str> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))?;
    Some(rest.strip_suffix('/').unwrap_or(rest))
}

/// The specification asks servers to validate `Origin` against DNS
/// rebinding: a browser page on another origin must not reach local tools.
/// A request without one (any non-browser client) passes; one with an Origin
/// passes only when it names this server's own host.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>) -> bool {
    match origin {
        None => true,
        Some(o) => match (origin_authority(o), host) {
            (Some(a), Some(h)) => a.eq_ignore_ascii_case(h),
            _ => false,
        },
    }
}

/// Compares every byte whatever the first difference, so the time taken
/// does not reveal how much of a guessed token was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Answers one request to `/mcp`. `token`, when set, must come as
/// `Authorization: Bearer TOKEN` (401 otherwise).
pub fn handle(req: &Incoming, token: Option<&str>, tools: &mut dyn Tools) -> Reply {
    if !origin_allowed(req.origin, req.host) {
        let mut r = error("null", INVALID_REQUEST, "Forbidden: foreign Origin");
        r.status = 403;
        return r;
    }
    if let Some(t) = token {
        let given = req.authorization.and_then(|a| a.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same_secret(g.trim().as_bytes(), t.as_bytes())) {
            let mut r = error(
                "null",
                INVALID_REQUEST,
                "Unauthorized: a bearer token is required",
            );
            r.status = 401;
            return r;
        }
    }
    let Ok(text) = core::str::from_utf8(req.body) else {
        return error("null", PARSE_ERROR, "the body is not UTF-8");
    };
    let msg = match wasiclaw_json::parse(text) {
        Ok(v @ Value::Obj(_)) => v,
        Ok(_) => return error("null", INVALID_REQUEST, "expected one JSON-RPC object"),
        Err(e) => return error("null", PARSE_ERROR, &e.message()),
    };
    let Some(method) = msg.get("method").and_then(Value::as_str) else {
        // A response or garbage; nothing here sends requests to clients.
        return error("null", INVALID_REQUEST, "not a JSON-RPC request");
    };
    let id = match msg.get("id") {
        None => return reply(202, String::new()),
        Some(id @ (Value::Num(_) | Value::Str(_))) => id.to_json(),
        Some(_) => {
            return error(
                "null",
                INVALID_REQUEST,
                "the id must be a number or a string",
            )
        }
    };
    let empty = Value::object();
    let params = msg.get("params").unwrap_or(&empty);
    let meta_version = params
        .get("_meta")
        .and_then(|m| m.get("io.modelcontextprotocol/protocolVersion"));
    if let Some(v) = meta_version {
        if let Some(r) = check_modern(req, &id, method, params, v) {
            return r;
        }
    } else if !matches!(method, "initialize" | "ping") && req.protocol_version == Some(MODERN) {
        return error(
            &id,
            INVALID_PARAMS,
            "params._meta must carry the protocol version and client capabilities",
        );
    }
    let modern = meta_version.is_some();
    match method {
        "server/discover" => result(
            &id,
            &cat!(
                "{\"supportedVersions\":[\"",
                MODERN,
                "\"],\"capabilities\":{\"tools\":{}},\"resultType\":\"complete\",\"ttlMs\":0,\"cacheScope\":\"private\",\"_meta\":{\"io.modelcontextprotocol/serverInfo\":",
                SERVER_INFO,
                "}}"
            ),
        ),
        "initialize" => {
            let asked = params.get("protocolVersion").and_then(Value::as_str).unwrap_or("");
            let version = if OLDER.contains(&asked) { asked } else { OLDER[0] };
            result(
                &id,
                &cat!(
                    "{\"protocolVersion\":\"",
                    version,
                    "\",\"capabilities\":{\"tools\":{}},\"serverInfo\":",
                    SERVER_INFO,
                    "}"
                ),
            )
        }
        "ping" => result(&id, if modern { "{\"resultType\":\"complete\"}" } else { "{}" }),
        "tools/list" => result(&id, &list(tools, modern)),
        "tools/call" => call(&id, params, tools, modern),
        _ => error(&id, METHOD_NOT_FOUND, &cat!("method not found: ", method)),
    }
}

/// The 2026-07-28 envelope: a version this server speaks, capabilities,
/// and routing headers that agree with the body.
fn check_modern(
    req: &Incoming,
    id: &str,
    method: &str,
    params: &Value,
    v: &Value,
) -> Option<Reply> {
    let meta = params.get("_meta")?;
    let Some(version) = v.as_str() else {
        return Some(error(
            id,
            INVALID_PARAMS,
            "the protocol version must be a string",
        ));
    };
    if meta
        .get("io.modelcontextprotocol/clientCapabilities")
        .is_none()
    {
        return Some(error(
            id,
            INVALID_PARAMS,
            "params._meta is missing the client capabilities",
        ));
    }
    let name = params.get("name").and_then(Value::as_str);
    if req.protocol_version != Some(version)
        || req.method_header != Some(method)
        || (method == "tools/call" && req.name_header != name)
    {
        return Some(error(
            id,
            HEADER_MISMATCH,
            "the MCP-Protocol-Version, Mcp-Method or Mcp-Name header does not match the body",
        ));
    }
    if version != MODERN {
        let mut r = error(id, UNSUPPORTED_VERSION, "unsupported protocol version");
        // The error names what is spoken, so a client can pick.
        r.body = cat!(
            "{\"jsonrpc\":\"2.0\",\"id\":",
            id,
            ",\"error\":{\"code\":",
            UNSUPPORTED_VERSION,
            ",\"message\":\"unsupported protocol version\",\"data\":{\"supported\":[\"",
            MODERN,
            "\"],\"requested\":",
            quote(version),
            "}}}"
        );
        return Some(r);
    }
    None
}

fn list(tools: &mut dyn Tools, modern: bool) -> String {
    let mut out = String::from("{\"tools\":[");
    for (i, t) in tools.list().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // The schema is the tools component's own JSON text; checked so a
        // bad one cannot break the whole reply.
        let schema = match wasiclaw_json::parse(&t.parameters) {
            Ok(v @ Value::Obj(_)) => v.to_json(),
            _ => "{\"type\":\"object\"}".to_string(),
        };
        out.push_str(&cat!(
            "{\"name\":",
            quote(&t.name),
            ",\"description\":",
            quote(&t.description),
            ",\"inputSchema\":",
            schema,
            "}"
        ));
    }
    out.push(']');
    if modern {
        // The tools component's list is fixed, but its schemas may change
        // with a new build: no caching across requests.
        out.push_str(",\"resultType\":\"complete\",\"ttlMs\":0,\"cacheScope\":\"private\"");
    }
    out.push('}');
    out
}

fn call(id: &str, params: &Value, tools: &mut dyn Tools, modern: bool) -> Reply {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return error(id, INVALID_PARAMS, "tools/call needs a \"name\"");
    };
    let args = match params.get("arguments") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(a @ Value::Obj(_)) => a.to_json(),
        Some(_) => return error(id, INVALID_PARAMS, "\"arguments\" must be an object"),
    };
    let (text, is_error) = match tools.call(name, &args) {
        Ok(text) => (text, false),
        Err(ToolError::UnknownTool(m)) => {
            return error(id, INVALID_PARAMS, &cat!("unknown tool: ", m))
        }
        Err(e) => (e.message(), true),
    };
    result(
        id,
        &cat!(
            "{\"content\":[{\"type\":\"text\",\"text\":",
            quote(&text),
            "}],\"isError\":",
            if is_error { "true" } else { "false" },
            if modern {
                ",\"resultType\":\"complete\""
            } else {
                ""
            },
            "}"
        ),
    )
}
