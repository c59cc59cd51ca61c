//! The `mcpServers` section of `wasiclaw.json`, in the shape Claude Desktop,
//! Cursor and nanobot use: `{"NAME": {"url", "headers", "enabledTools"}}`.

use crate::prelude::*;
use wasiclaw_json::Value;

/// The longest tool name the OpenAI API accepts (`^[a-zA-Z0-9_-]{1,64}$`).
pub const MAX_TOOL_NAME: usize = 64;

/// One configured MCP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// The key in `mcpServers`; the model sees tools as `mcp_NAME_TOOL`.
    pub name: String,
    /// The Streamable HTTP endpoint (one URL for every request).
    pub url: String,
    /// Sent on every request. A value written `${ENV_NAME}` is resolved from
    /// the guest's environment when set there; otherwise it is sent as written
    /// for the native host or the WAMR runner to replace, so the secret never
    /// enters the guest.
    pub headers: Vec<(String, String)>,
    /// Tool names the model may see; `None` means all (`["*"]`, the default).
    pub enabled: Option<Vec<String>>,
}

/// A name the OpenAI API accepts for a function.
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One server's entry, or what is wrong with it (the caller names the entry:
/// one message template instead of one per field keeps the component small).
fn server(name: &str, v: &Value) -> Result<ServerConfig, &'static str> {
    // The shortest tool (one character) must still give a valid name.
    if !valid_tool_name(&cat!("mcp_", name, "_x")) {
        return Err("the name must be letters, digits, '_' or '-' (at most 58)");
    }
    if v.as_object().is_none() {
        return Err("must be an object");
    }
    let url =
        match v.get("url") {
            Some(Value::Str(u)) => u.clone(),
            Some(_) => return Err("\"url\" must be a string"),
            None => return Err(
                "\"url\" is missing (only Streamable HTTP servers are supported, not \"command\")",
            ),
        };
    if crate::http::split_url(&url).is_err() {
        return Err("\"url\" must be an http:// or https:// URL with a host");
    }
    let mut headers = Vec::new();
    let bad_headers = "\"headers\" must map header names to printable ASCII strings";
    match v.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Obj(map)) => {
            let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
            for (k, val) in map.iter() {
                let val = val.as_str().ok_or(bad_headers)?;
                if k.is_empty() || !printable(k) || !printable(val) || k.bytes().any(|b| b == b':')
                {
                    return Err(bad_headers);
                }
                headers.push((k.to_string(), val.to_string()));
            }
        }
        Some(_) => return Err(bad_headers),
    }
    let bad_list = "\"enabledTools\" must be an array of strings";
    let enabled = match v.get("enabledTools") {
        None | Some(Value::Null) => None,
        Some(list) => {
            let mut names = Vec::new();
            for t in list.as_array().ok_or(bad_list)? {
                names.push(t.as_str().ok_or(bad_list)?.to_string());
            }
            // `["*"]` (or any list holding "*") is every tool.
            (!names.iter().any(|t| t == "*")).then_some(names)
        }
    };
    Ok(ServerConfig {
        name: name.to_string(),
        url,
        headers,
        enabled,
    })
}

/// Reads `mcpServers` from the parsed `wasiclaw.json` (absent: none).
pub fn parse(file: &Value) -> Result<Vec<ServerConfig>, String> {
    let map = match file.get("mcpServers") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Obj(map)) => map,
        Some(_) => return Err("\"mcpServers\" must be an object".to_string()),
    };
    let mut out = Vec::new();
    for (name, v) in map.iter() {
        out.push(server(name, v).map_err(|why| cat!("\"mcpServers\".", name, ": ", why))?);
    }
    Ok(out)
}

/// `${NAME}` -> `Some(NAME)`: a header value the host may fill in.
pub fn placeholder(value: &str) -> Option<&str> {
    let name = value.strip_prefix("${")?.strip_suffix('}')?;
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(name)
}

/// Fills in `${NAME}` header values the guest's own environment has (under
/// `wasmtime run`); the others stay placeholders for the host to resolve.
pub fn with_env(
    mut servers: Vec<ServerConfig>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<ServerConfig> {
    for s in &mut servers {
        for (_, v) in &mut s.headers {
            if let Some(value) = placeholder(v).and_then(env) {
                *v = value;
            }
        }
    }
    servers
}
