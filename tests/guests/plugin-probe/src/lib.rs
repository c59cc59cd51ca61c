//! The plugin the integration tests load under several names and grants.
//! Each tool does exactly what its name says and reports what happened, so
//! a test reads the host's verdict from the tool result: `fetch`, `read`,
//! `write` and `env` show what the grants let through; `spin`, `grow`,
//! `trap` and `exit` break a limit or end the call; `echo` and
//! `shout` (stdout) are the harmless round trip.

use serde_json::Value;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "wasiclaw:core/tool-plugin",
    generate_all,
});

use exports::wasiclaw::core::tools::{Guest, ToolError, ToolSpec};

// The example plugin's client, so the probe's HTTP is what a plugin author
// starts from (both generate the same wasi:http bindings at crate::wasi).
#[path = "../../../../examples/weather-plugin/src/http.rs"]
mod http;

struct Probe;

const TOOLS: [&str; 10] = [
    "echo", "shout", "fetch", "read", "write", "env", "spin", "grow", "trap", "exit",
];

impl Guest for Probe {
    fn list() -> Vec<ToolSpec> {
        TOOLS
            .iter()
            .map(|t| ToolSpec {
                name: t.to_string(),
                description: format!("Test tool {t}."),
                parameters: r#"{"type":"object"}"#.into(),
            })
            .collect()
    }

    fn call(name: String, arguments: String) -> Result<String, ToolError> {
        let args: Value = serde_json::from_str(&arguments)
            .map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
        let arg = |k: &str| {
            args.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let failed = |e: std::io::Error| ToolError::Failed(e.to_string());
        match name.as_str() {
            "echo" => Ok(format!("echo: {}", arg("text"))),
            "shout" => {
                // Far more than the host's per-call log cap.
                for i in 0..10_000 {
                    println!("shout line {i}");
                }
                Ok("shouted".into())
            }
            "fetch" => match http::get(&arg("url")) {
                Ok((status, body)) => Ok(format!("status {status}: {body}")),
                Err(e) => Err(ToolError::Failed(format!("fetch refused: {e}"))),
            },
            "read" => std::fs::read_to_string(arg("path")).map_err(failed),
            "write" => std::fs::write(arg("path"), arg("content"))
                .map(|()| "written".to_string())
                .map_err(failed),
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                let argv: Vec<String> = std::env::args().collect();
                Ok(format!(
                    "vars: {}; args: {}",
                    vars.join(","),
                    argv.join(",")
                ))
            }
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("the probe panics on purpose"),
            "exit" => std::process::exit(3),
            other => Err(ToolError::UnknownTool(other.to_string())),
        }
    }
}

export!(Probe);
