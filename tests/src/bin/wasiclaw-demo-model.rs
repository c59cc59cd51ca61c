//! wasiclaw demo model (offline, scripted): an OpenAI-compatible endpoint on
//! 127.0.0.1 that drives a real agent turn through its tools without any
//! network or API key. See `wasiclaw_tests::demo` for what it does.

use std::process::ExitCode;
use std::sync::Arc;

use wasiclaw_tests::demo::{DemoModel, InstantModel, DEMO_LABEL};
use wasiclaw_tests::MockServer;
use wasiclaw_tests::Responder;

const USAGE: &str = "usage: wasiclaw-demo-model [--port PORT] [--quiet] [--instant]

Serves the wasiclaw demo model (offline, scripted) at http://127.0.0.1:PORT/v1
(OpenAI Chat Completions, streaming and not, plus /v1/embeddings).
PORT 0 (the default) picks a free port. The first line on stdout is
`listening on http://127.0.0.1:PORT/v1`. Runs until killed.

--instant answers every chat request at once with a short text and no tool
calls (for benchmarks of `wasiclaw serve`), instead of the 4-request tool turn.";

fn main() -> ExitCode {
    let mut port: u16 = 0;
    let mut verbose = true;
    let mut instant = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => match args.next().map(|p| p.parse::<u16>()) {
                Some(Ok(p)) => port = p,
                _ => {
                    eprintln!("wasiclaw-demo-model: --port needs a number 0..=65535\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--quiet" => verbose = false,
            "--instant" => instant = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("wasiclaw-demo-model: unknown argument {other:?}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let responder: Arc<dyn Responder> = if instant {
        Arc::new(InstantModel)
    } else {
        Arc::new(DemoModel { verbose })
    };
    let server = match MockServer::bind(port, responder) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wasiclaw-demo-model: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts wait for this exact line to learn the port.
    println!("listening on {}", server.openai_base());
    if instant {
        eprintln!("{DEMO_LABEL}: not a real LLM; --instant: every chat request gets a short text answer at once.");
    } else {
        eprintln!("{DEMO_LABEL}: not a real LLM; it writes a note, reads it back, saves a memory and summarises.");
    }
    server.wait();
    ExitCode::SUCCESS
}
