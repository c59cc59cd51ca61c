//! `--anchor`: hnswlib, the reference native HNSW library, run in the same
//! invocation on the same vectors with the same parameters, so that the
//! ratios printed compare figures measured minutes apart on one machine,
//! never against a figure taken on another day.
//!
//! hnswlib runs in Python (`scripts/hnswlib-anchor.py`, `pip install hnswlib
//! numpy`), one thread, called once per build and once per ef over all
//! queries, which is the cheapest way to call it; its result ids come back
//! in a file and are scored here against the same ground truth as ours.

use super::{recall, Run};
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use wasiclaw_vector::Metric;

/// What hnswlib measured: build time and, per ef, queries/s and result ids.
pub struct Anchor {
    pub version: String,
    pub build_s: f64,
    pub searches: Vec<(u32, f64, Vec<Vec<u64>>)>,
}

/// Writes `data` (`dims` per vector) as `.fvecs`.
pub fn write_fvecs(path: &Path, data: &[f32], dims: usize) -> Result<()> {
    let mut out = Vec::with_capacity(data.len() / dims * (4 + 4 * dims));
    for v in data.chunks(dims) {
        out.extend_from_slice(&(dims as i32).to_le_bytes());
        v.iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// A private scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir> {
        let p = std::env::temp_dir().join(format!("bench-vector-{}", std::process::id()));
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs hnswlib on `base` / `query` (`.fvecs` files).
#[allow(clippy::too_many_arguments)]
pub fn run(
    base: &Path,
    query: &Path,
    metric: Metric,
    m: u32,
    efc: u32,
    efs: &[u32],
    k: usize,
    nq: usize,
    tmp: &Path,
) -> Result<Anchor> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/hnswlib-anchor.py");
    let metric = format!("{metric:?}").to_lowercase();
    let efs_arg = efs.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let labels = tmp.join("hnswlib");
    let out = Command::new("python3")
        .arg(&script)
        .arg(base)
        .arg(query)
        .args(["--metric", &metric, "--m", &m.to_string()])
        .args(["--ef-construction", &efc.to_string(), "--ef", &efs_arg])
        .args(["--k", &k.to_string()])
        .arg("--labels")
        .arg(&labels)
        .output()
        .with_context(|| format!("running python3 {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "hnswlib anchor failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let json: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("hnswlib anchor printed {line:?}"))?;
    let num = |v: Option<&serde_json::Value>, what: &str| {
        v.and_then(|v| v.as_f64())
            .with_context(|| format!("hnswlib anchor output lacks {what}: {line}"))
    };
    let mut searches = Vec::new();
    let list = json
        .get("search")
        .and_then(|s| s.as_array())
        .context("hnswlib anchor output lacks search")?;
    for (s, &ef) in list.iter().zip(efs) {
        let qps = num(s.get("qps"), "qps")?;
        let path = format!("{}.ef{ef}", labels.display());
        let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
        if bytes.len() != 8 * k * nq {
            bail!(
                "{path}: {} bytes, expected {} queries x {k} ids",
                bytes.len(),
                nq
            );
        }
        let ids: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        searches.push((ef, qps, ids.chunks(k).map(<[u64]>::to_vec).collect()));
    }
    Ok(Anchor {
        version: json
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string(),
        build_s: num(json.get("build_s"), "build_s")?,
        searches,
    })
}

/// Prints hnswlib's figures, scored against `truth`, and adds them to `json`.
pub fn report(h: &Anchor, truth: &[Vec<u64>], n: usize, k: usize, json: &mut String) {
    println!(
        "hnswlib   {} (python, 1 thread) build {:.2} s ({:.0} inserts/s)",
        h.version,
        h.build_s,
        n as f64 / h.build_s
    );
    let _ = write!(
        json,
        ",\"hnswlib\":{{\"version\":{:?},\"build_s\":{:.3},\"search\":[",
        h.version, h.build_s
    );
    for (i, (ef, qps, res)) in h.searches.iter().enumerate() {
        let rec = recall(res, truth);
        println!(
            "hnswlib   ef={ef:<4} recall@{} {rec:.4}  {qps:.0} queries/s",
            k
        );
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(
            json,
            "{sep}{{\"ef\":{ef},\"recall\":{rec:.4},\"qps\":{qps:.1}}}"
        );
    }
    json.push_str("]}");
}

/// Our figures over hnswlib's, measured in this run: queries/s per ef
/// (above 1 is faster than hnswlib) and build time (below 1 is faster).
pub fn ratios(h: &Anchor, native: Option<&Run>, comp: Option<&Run>) {
    let runs: Vec<(&str, &Run)> = [("native", native), ("component", comp)]
        .into_iter()
        .filter_map(|(n, r)| Some((n, r?)))
        .collect();
    for (name, r) in &runs {
        let qps: Vec<String> = h
            .searches
            .iter()
            .zip(&r.searches)
            .map(|((ef, hq, _), (_, _, q, _))| format!("ef={ef} {:.2}x", q / hq))
            .collect();
        println!(
            "{name:<9} vs hnswlib: queries/s {}; build time {:.2}x",
            qps.join(", "),
            r.build_s / h.build_s
        );
    }
}
