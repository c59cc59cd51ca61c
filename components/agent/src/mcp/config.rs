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

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| cat!(what, " must be an array of strings"))?;
    arr.iter()
        .map(|s| {
            s.as_str()
                .map(String::from)
                .ok_or_else(|| cat!(what, " must be an array of strings"))
        })
        .collect()
}

fn server(name: &str, v: &Value) -> Result<ServerConfig, String> {
    let at = cat!("\"mcpServers\".", name);
    // The shortest tool (one character) must still give a valid name.
    if !valid_tool_name(&cat!("mcp_", name, "_x")) {
        return Err(cat!(
            at,
            ": the server name must be letters, digits, '_' or '-' (at most ",
            MAX_TOOL_NAME - 6,
            ")"
        ));
    }
    if v.as_object().is_none() {
        return Err(cat!(at, " must be an object"));
    }
    let url = match v.get("url") {
        Some(Value::Str(u)) => u.clone(),
        Some(_) => return Err(cat!(at, ".url must be a string")),
        None => {
            return Err(cat!(
                at,
                ": \"url\" is missing (only Streamable HTTP servers are supported, not \"command\")"
            ))
        }
    };
    crate::http::split_url(&url).map_err(|e| cat!(at, ".url: ", e))?;
    let mut headers = Vec::new();
    match v.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Obj(map)) => {
            for (k, val) in map.iter() {
                let val = val
                    .as_str()
                    .ok_or_else(|| cat!(at, ".headers.", k, " must be a string"))?;
                let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
                if k.is_empty() || !printable(k) || !printable(val) || k.bytes().any(|b| b == b':')
                {
                    return Err(cat!(at, ".headers.", k, ": not a valid header"));
                }
                headers.push((k.to_string(), val.to_string()));
            }
        }
        Some(_) => return Err(cat!(at, ".headers must be an object")),
    }
    let enabled = match v.get("enabledTools") {
        None | Some(Value::Null) => None,
        Some(list) => {
            let list = strings(list, &cat!(at, ".enabledTools"))?;
            if list.iter().any(|t| t == "*") {
                None
            } else {
                Some(list)
            }
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
    match file.get("mcpServers") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Obj(map)) => map.iter().map(|(k, v)| server(k, v)).collect(),
        Some(_) => Err("\"mcpServers\" must be an object".to_string()),
    }
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
