//! `xtask size-check [--root DIR]`: measures every artifact named in
//! `size-budget.toml` (raw bytes and gzip level 9, computed in-process so the
//! figure does not depend on which gzip binary a machine has), prints a table and
//! exits 1 when any artifact is over its budget or missing.
//!
//! The budget file is a flat TOML subset (see `budget.rs`): `[artifact]`
//! tables with a `path` and `raw` / `gzip` limits as plain byte counts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod budget;

use budget::{Budget, Limit};

fn gzip_len(bytes: &[u8]) -> usize {
    // A gzip member is a 10-byte header, the deflate stream and an 8-byte
    // trailer; only the deflate stream varies, so count it and add 18.
    miniz_oxide::deflate::compress_to_vec(bytes, 9).len() + 18
}

fn kb(n: usize) -> String {
    format!("{:.1} KB", n as f64 / 1024.0)
}

fn check(root: &Path, budgets: &[Budget]) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    let _ = writeln!(
        out,
        "{:<14} {:>10} {:>10} {:>10} {:>10}  status",
        "artifact", "raw", "budget", "gzip", "budget"
    );
    for b in budgets {
        let path = root.join(&b.path);
        let Ok(bytes) = std::fs::read(&path) else {
            ok &= !b.required;
            let status = if b.required { "MISSING" } else { "not built" };
            let _ = writeln!(
                out,
                "{:<14} {:>10} {:>10} {:>10} {:>10}  {status}",
                b.name,
                "-",
                show(b.raw),
                "-",
                show(b.gzip)
            );
            continue;
        };
        let raw = bytes.len();
        let gz = gzip_len(&bytes);
        let over_raw = b.raw.is_some_and(|l| raw > l.bytes);
        let over_gz = b.gzip.is_some_and(|l| gz > l.bytes);
        let status = match (over_raw, over_gz) {
            (false, false) => "ok",
            (true, false) => "OVER (raw)",
            (false, true) => "OVER (gzip)",
            (true, true) => "OVER (raw, gzip)",
        };
        ok &= !(over_raw || over_gz);
        let _ = writeln!(
            out,
            "{:<14} {:>10} {:>10} {:>10} {:>10}  {status}",
            b.name,
            kb(raw),
            show(b.raw),
            kb(gz),
            show(b.gzip)
        );
    }
    (out, ok)
}

fn show(l: Option<Limit>) -> String {
    l.map_or_else(|| "-".into(), |l| kb(l.bytes))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let cmd = args.next();
    let mut root = PathBuf::from(".");
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--root", Some(dir)) => root = PathBuf::from(dir),
            _ => {
                eprintln!("usage: xtask size-check [--root DIR]");
                return ExitCode::from(2);
            }
        }
    }
    if cmd.as_deref() != Some("size-check") {
        eprintln!("usage: xtask size-check [--root DIR]");
        return ExitCode::from(2);
    }
    let file = root.join("size-budget.toml");
    let budgets = match std::fs::read_to_string(&file)
        .map_err(|e| e.to_string())
        .and_then(|t| budget::parse(&t))
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("xtask: {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let (table, ok) = check(&root, &budgets);
    print!("{table}");
    if ok {
        println!("size check: every artifact within budget");
        ExitCode::SUCCESS
    } else {
        eprintln!("size check FAILED: an artifact is over budget or missing (size-budget.toml)");
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_length_matches_a_real_gzip_member() {
        // 10-byte header + deflate + 8-byte trailer, as `gzip -9` writes it.
        let data = b"hello hello hello hello".repeat(50);
        let deflate = miniz_oxide::deflate::compress_to_vec(&data, 9);
        assert_eq!(gzip_len(&data), deflate.len() + 18);
        assert!(gzip_len(&data) < data.len());
    }

    #[test]
    fn over_budget_and_missing_fail() {
        let dir = std::env::temp_dir().join(format!("xtask-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.wasm"), vec![7u8; 2000]).unwrap();
        let budgets = budget::parse(
            "[a]\npath = \"a.wasm\"\nraw = 1000\n\n[b]\npath = \"b.wasm\"\nraw = 10\nrequired = true\n",
        )
        .unwrap();
        let (table, ok) = check(&dir, &budgets);
        assert!(!ok);
        assert!(table.contains("OVER (raw)"), "{table}");
        assert!(table.contains("MISSING"), "{table}");
        let budgets = budget::parse("[a]\npath = \"a.wasm\"\nraw = 4000\ngzip = 100\n").unwrap();
        assert!(check(&dir, &budgets).1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
