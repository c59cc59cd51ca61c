//! MCP in both directions. The client ([`client`]) lets the model use any MCP
//! server's tools: [`WithMcp`] wraps the built-in tools so the loop sees one
//! [`Tools`], with each server's tools named `mcp_SERVER_TOOL`. The server
//! (`server`, edge build) offers the tools component over MCP at `/mcp`.

pub mod client;
pub mod config;
#[cfg(any(test, feature = "http-edge"))]
pub mod server;

use core::cell::RefCell;

use crate::http::{Clock, Http, HttpError, Request, Response, Timeouts};
use crate::prelude::*;
use crate::tools::{ToolError, ToolSpec, Tools};
use client::{Client, McpError};
use config::ServerConfig;
use wasiclaw_json::Value;

/// One server with what was learnt about it, kept for the whole process so
/// `tools/list` is asked once per turn at most, and once per process when
/// the server gives no `ttlMs` (servers before 2026-07-28).
struct Server {
    client: Client,
    /// The model-facing specs, once listed.
    tools: Option<Vec<ToolSpec>>,
    /// Unix seconds after which the list is asked for again.
    expires: Option<u64>,
}

/// Every configured server; lives as long as the process (the chat's turns
/// share it).
pub struct McpState {
    servers: Vec<Server>,
}

impl McpState {
    /// Takes the configuration (`Config::mcp`) rather than cloning it.
    pub fn new(cfg: Vec<ServerConfig>) -> McpState {
        McpState {
            servers: cfg
                .into_iter()
                .map(|c| Server {
                    client: Client::new(c),
                    tools: None,
                    expires: None,
                })
                .collect(),
        }
    }

    /// Drops tool lists whose `ttlMs` ran out by `now` (Unix seconds).
    pub fn expire(&mut self, now: u64) {
        for s in &mut self.servers {
            if s.expires.is_some_and(|t| now >= t) {
                s.tools = None;
                s.expires = None;
            }
        }
    }
}

/// One HTTP client shared by the provider transport and the MCP servers: the
/// loop never has both a model call and a tool call in flight, and response
/// bodies own their streams, so a borrow is only held during `send`.
pub struct Shared<'r, 'h, H: Http + ?Sized>(pub &'r RefCell<&'h mut H>);

impl<H: Http + ?Sized> Http for Shared<'_, '_, H> {
    fn send(&mut self, req: &Request, t: Timeouts) -> Result<Response, HttpError> {
        match self.0.try_borrow_mut() {
            Ok(mut h) => h.send(req, t),
            Err(_) => Err(HttpError::Other("the HTTP client is busy".into())),
        }
    }
}

/// The clock shared by the loop (which sleeps between retries) and the MCP
/// servers (which only read it), as [`Shared`] shares the HTTP client.
pub struct SharedClock<'r, 'c, C: Clock + ?Sized>(pub &'r RefCell<&'c mut C>);

impl<C: Clock + ?Sized> Clock for SharedClock<'_, '_, C> {
    fn now_unix(&self) -> u64 {
        self.0.try_borrow().map_or(0, |c| c.now_unix())
    }

    fn sleep(&mut self, d: core::time::Duration) {
        if let Ok(mut c) = self.0.try_borrow_mut() {
            c.sleep(d);
        }
    }
}

/// The built-in tools plus every MCP server's.
pub struct WithMcp<'a> {
    pub inner: &'a mut dyn Tools,
    pub state: &'a mut McpState,
    pub http: &'a mut dyn Http,
    /// For `ttlMs` and each request's deadline.
    pub clock: &'a dyn Clock,
    pub log: &'a mut dyn FnMut(&str),
}

impl Tools for WithMcp<'_> {
    fn list(&mut self) -> Vec<ToolSpec> {
        let mut specs = self.inner.list();
        for s in &mut self.state.servers {
            if s.tools.is_none() {
                match list_tools(&mut s.client, &mut *self.http, self.clock, &mut *self.log) {
                    Ok((tools, ttl_ms)) => {
                        let now = self.clock.now_unix();
                        s.expires = ttl_ms.map(|ms| now.saturating_add(ms / 1000));
                        s.tools = Some(tools);
                    }
                    // Not cached: the next turn asks again.
                    Err(e) => (self.log)(&cat!(
                        "[mcp] ",
                        s.client.cfg.name,
                        ": cannot list tools: ",
                        e.message()
                    )),
                }
            }
            specs.extend(s.tools.iter().flatten().cloned());
        }
        specs
    }

    fn call(&mut self, name: &str, arguments: &str) -> Result<String, ToolError> {
        // The longest server name wins, so `a` and `a_b` cannot shadow each other.
        let routed = self
            .state
            .servers
            .iter_mut()
            .filter_map(|s| {
                let rest = name
                    .strip_prefix("mcp_")?
                    .strip_prefix(s.client.cfg.name.as_str())?;
                Some((rest.strip_prefix('_')?, s))
            })
            .max_by_key(|(_, s)| s.client.cfg.name.len());
        match routed {
            Some((tool, s)) => {
                call_tool(&mut s.client, &mut *self.http, self.clock, tool, arguments)
            }
            None => self.inner.call(name, arguments),
        }
    }
}

/// `tools/list`, following `nextCursor`, filtered by `enabledTools`. Returns
/// the specs and the list's `ttlMs` when the server gave one (2026-07-28
/// servers do; 0 means stale at once, so the next turn lists again).
fn list_tools(
    c: &mut Client,
    http: &mut dyn Http,
    clock: &dyn Clock,
    log: &mut dyn FnMut(&str),
) -> Result<(Vec<ToolSpec>, Option<u64>), McpError> {
    let mut specs = Vec::new();
    let mut cursor: Option<String> = None;
    let mut ttl = None;
    // A bound on pages: a server handing out cursors forever ends here.
    for _ in 0..32 {
        let params = match &cursor {
            Some(cur) => cat!("\"cursor\":", wasiclaw_json::quote(cur)),
            None => String::new(),
        };
        let result = c.request(http, clock, "tools/list", None, &params)?;
        ttl = result.get("ttlMs").and_then(Value::as_u64);
        let tools = result
            .get("tools")
            .and_then(Value::as_array)
            .ok_or_else(|| McpError::Protocol("tools/list has no \"tools\" array".into()))?;
        for t in tools {
            if let Some(spec) = spec_of(&c.cfg, t, log) {
                specs.push(spec);
            }
        }
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    Ok((specs, ttl))
}

/// The model-facing spec of one listed tool, or `None` (logged) when it is
/// not enabled or its name is one the model's API would refuse.
fn spec_of(cfg: &ServerConfig, t: &Value, log: &mut dyn FnMut(&str)) -> Option<ToolSpec> {
    let tool = t.get("name").and_then(Value::as_str)?;
    if let Some(enabled) = &cfg.enabled {
        if !enabled.iter().any(|e| e == tool) {
            return None;
        }
    }
    let name = cat!("mcp_", cfg.name, "_", tool);
    if !config::valid_tool_name(&name) {
        log(&cat!(
            "[mcp] ",
            cfg.name,
            ": refused tool '",
            wasiclaw_json::text::prefix_chars(&name, 80),
            "': not a valid tool name"
        ));
        return None;
    }
    let parameters = match t.get("inputSchema") {
        Some(s @ Value::Obj(_)) => s.to_json(),
        _ => "{\"type\":\"object\",\"properties\":{}}".to_string(),
    };
    Some(ToolSpec {
        name,
        description: t
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        parameters,
    })
}

fn call_tool(
    c: &mut Client,
    http: &mut dyn Http,
    clock: &dyn Clock,
    tool: &str,
    args: &str,
) -> Result<String, ToolError> {
    if !args.trim_start().starts_with('{') {
        return Err(ToolError::InvalidArguments(
            "the arguments must be a JSON object".into(),
        ));
    }
    let params = cat!(
        "\"name\":",
        wasiclaw_json::quote(tool),
        ",\"arguments\":",
        args
    );
    let result = c
        .request(http, clock, "tools/call", Some(tool), &params)
        .map_err(|e| ToolError::Failed(cat!("MCP server '", c.cfg.name, "': ", e.message())))?;
    let text = result_text(&result);
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(ToolError::Failed(text));
    }
    Ok(text)
}

/// A `tools/call` result as text for the model: text content as is, other
/// content named, structured content as JSON when there is no text.
pub fn result_text(result: &Value) -> String {
    let mut out = String::new();
    let items = result.get("content").and_then(Value::as_array);
    for item in items.into_iter().flatten() {
        let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
        let piece = match s("type") {
            "text" => s("text").to_string(),
            "resource" => match item.get("resource") {
                Some(r) => match r.get("text").and_then(Value::as_str) {
                    Some(t) => t.to_string(),
                    None => cat!(
                        "[resource: ",
                        r.get("uri").and_then(Value::as_str).unwrap_or(""),
                        "]"
                    ),
                },
                None => continue,
            },
            "resource_link" => cat!("[resource: ", s("uri"), "]"),
            other => cat!("[", other, ": ", s("mimeType"), "]"),
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&piece);
    }
    if out.is_empty() {
        if let Some(sc) = result.get("structuredContent") {
            out = sc.to_json();
        }
    }
    out
}
