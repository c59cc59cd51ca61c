//! wasiclaw's capability policy as plain data and decisions, with no runtime
//! attached: what the guest may reach and how much it may use, read from the
//! `host` section of `wasiclaw.json`, the command line and the host's
//! environment; and what the host counts: token usage read from provider
//! responses into `usage.jsonl`, and the budgets summed from it. The wasmtime
//! host and the WAMR runner both decide and meter every request with it; each
//! brings its own I/O (resolver, sockets), so a device build of the runner
//! pulls in neither wasmtime nor an async runtime. With the `tls` feature it
//! also builds the certificates both hosts' HTTPS trusts (rustls, no runtime).

pub mod addr;
pub mod decide;
pub mod limits;
pub mod mcp_headers;
pub mod metering;
pub mod model_calls;
pub mod origin;
pub mod plugins;
pub mod policy;
pub mod redact;
pub mod resolve;
#[cfg(feature = "tls")]
pub mod tls;
