//! An example wasiclaw tool plugin, built with plain std for `wasm32-wasip2`.
//!
//! Two tools, each using one kind of grant:
//! - `forecast {"city"}` GETs `$WEATHER_URL?city=CITY` (`WEATHER_URL` is the
//!   forecast endpoint, e.g. `https://api.weather.example/v1/forecast`; needs
//!   `env:WEATHER_URL` and `http:` for its host) and returns the body;
//! - `log {"line"}` appends a line to `/workspace/out/weather.log` and
//!   returns the log so far (needs `files:write:out/`).
//!
//! Everything else (the world, the exported interface, the WASI bindings)
//! is generated from `wit/` by wit-bindgen.

use std::io::Write;

use serde_json::Value;

wit_bindgen::generate!({
    path: "../../wit",
    world: "wasiclaw:core/tool-plugin",
    generate_all,
});

use exports::wasiclaw::core::tools::{Guest, ToolError, ToolSpec};

mod http;

struct Weather;

impl Guest for Weather {
    fn list() -> Vec<ToolSpec> {
        vec![
            ToolSpec {
                name: "forecast".into(),
                description: "Today's weather forecast for a city.".into(),
                parameters: r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#.into(),
            },
            ToolSpec {
                name: "log".into(),
                description: "Appends a line to the weather log and returns the whole log.".into(),
                parameters: r#"{"type":"object","properties":{"line":{"type":"string"}},"required":["line"]}"#.into(),
            },
        ]
    }

    fn call(name: String, arguments: String) -> Result<String, ToolError> {
        let args: Value = serde_json::from_str(&arguments)
            .map_err(|e| ToolError::InvalidArguments(format!("arguments are not JSON: {e}")))?;
        let text = |key: &str| {
            args.get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    ToolError::InvalidArguments(format!("\"{key}\" (a string) is required"))
                })
        };
        match name.as_str() {
            "forecast" => forecast(&text("city")?),
            "log" => log(&text("line")?),
            other => Err(ToolError::UnknownTool(other.to_string())),
        }
    }
}

fn forecast(city: &str) -> Result<String, ToolError> {
    let base = std::env::var("WEATHER_URL")
        .map_err(|_| ToolError::Failed("WEATHER_URL is not set (grant env:WEATHER_URL)".into()))?;
    let query: String = city
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let url = format!("{base}?city={query}");
    let (status, body) = http::get(&url).map_err(ToolError::Failed)?;
    if status != 200 {
        return Err(ToolError::Failed(format!(
            "{url} answered {status}: {body}"
        )));
    }
    Ok(body)
}

fn log(line: &str) -> Result<String, ToolError> {
    let path = "/workspace/out/weather.log";
    let failed = |e: std::io::Error| ToolError::Failed(format!("{path}: {e}"));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)?;
    writeln!(f, "{line}").map_err(failed)?;
    std::fs::read_to_string(path).map_err(failed)
}

export!(Weather);
