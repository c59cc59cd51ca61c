//! Prints everything a guest can see: its environment, its arguments and the
//! contents of every file in the workspace, and what reading each
//! `--open PATH` gives. Built
//! for `wasm32-wasip2` (a command component, for `wasiclaw run`) and
//! `wasm32-wasip1` (a core module, for `wasiclaw-wamr`); the integration
//! tests run it under each host and look for the host's key in what it saw.

use std::io::Write;
use std::path::Path;

fn dump(dir: &Path, out: &mut impl Write, depth: usize) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let kind = e.file_type()?;
        if kind.is_dir() && depth < 8 {
            dump(&path, out, depth + 1)?;
        } else if kind.is_file() {
            writeln!(out, "file {}", path.display())?;
            match std::fs::read(&path) {
                Ok(bytes) => out.write_all(&bytes)?,
                Err(e) => writeln!(out, "(unreadable: {e})")?,
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

fn main() {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut run = || -> std::io::Result<()> {
        for (k, v) in std::env::vars() {
            writeln!(out, "env {k}={v}")?;
        }
        let args: Vec<String> = std::env::args().collect();
        for a in &args {
            writeln!(out, "arg {a}")?;
        }
        // `--open PATH`: what reading that path gives (an escape attempt).
        for pair in args.windows(2).filter(|w| w[0] == "--open") {
            match std::fs::read_to_string(&pair[1]) {
                Ok(text) => writeln!(out, "open {}: read {text:?}", pair[1])?,
                Err(e) => writeln!(out, "open {}: refused: {e}", pair[1])?,
            }
        }
        // Where every host mounts the workspace.
        dump(Path::new(wasiclaw_contract::WORKSPACE_MOUNT), &mut out, 0)?;
        writeln!(out, "probe done")
    };
    if let Err(e) = run() {
        eprintln!("probe: {e}");
        std::process::exit(1);
    }
}
