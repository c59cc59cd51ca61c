//! Test infrastructure for wasiclaw: a mock LLM provider speaking the real
//! OpenAI Chat Completions, Anthropic Messages and OpenAI embeddings wire
//! formats (streaming and not), driven by a [`Script`] of replies and faults,
//! recording every request so tests can assert on what the agent sent.
//!
//! ```no_run
//! use serde_json::json;
//! use wasiclaw_tests::{MockServer, Script};
//! let server = MockServer::start(
//!     Script::new().tool("read_file", json!({"path": "a.txt"})).text("done"),
//! );
//! // point OPENAI_BASE_URL at server.openai_base(), run the agent, then:
//! let requests = server.chat_requests();
//! # drop(requests);
//! ```

pub mod conversation;
pub mod demo;
pub mod http;
pub mod record;
mod respond;
pub mod script;
pub mod server;
pub mod validate;
pub mod wire;

pub use conversation::{ChatRequest, Format, SentToolCall, Turn};
pub use record::{Kind, Recorded};
pub mod rng;
pub use rng::Rng;
pub use script::{Fault, Reply, Responder, Script, ToolCall, REQUEST_HEADERS};
pub use server::{dead_base_url, MockServer};
pub use validate::Rejection;

/// Reports what a randomized (fuzz or differential) test ran: printed, and
/// appended to the file `$WASICLAW_FUZZ_SUMMARY` names, which `scripts/test`
/// prints before its totals (cargo hides a passing test's output).
pub fn report_randomized(line: &str) {
    println!("randomized: {line}");
    if let Some(path) = std::env::var_os("WASICLAW_FUZZ_SUMMARY") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
