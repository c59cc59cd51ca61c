//! Per-call cost of a plugin under the native host, as `scripts/bench-plugin`
//! reports it: the plugin at PATH is loaded exactly as `wasiclaw run` loads
//! it (policy, checks, compile cache, pooling engine with fuel), then its
//! TOOL is called N times with ARGS, each call in a fresh instance. Prints
//! the median and p99 of instantiation alone and of the whole call, in µs.
//!
//!   plugin-bench PATH [TOOL] [ARGS] [N]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use wasiclaw_host::plugins::{self, Outcome};
use wasiclaw_host::policy::{HostPolicy, Overrides};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        bail!("usage: plugin-bench PATH [TOOL] [ARGS] [N]");
    };
    let tool = args.get(1).map_or("echo", String::as_str);
    let call_args = args.get(2).map_or(r#"{"text":"hi"}"#, String::as_str);
    let n: usize = args.get(3).map_or(Ok(2000), |s| s.parse())?;
    let ws = std::env::temp_dir().join(format!("wasiclaw-plugin-bench-{}", std::process::id()));
    std::fs::create_dir_all(&ws)?;
    let ov = Overrides {
        plugins: vec![format!("bench={}", PathBuf::from(path).display())],
        ..Default::default()
    };
    let policy = Arc::new(HostPolicy::load(&ws, &ov, &BTreeMap::new())?);
    // The host's own compile cache, as `wasiclaw run` would use it.
    let cache = wasiclaw_host::cache::default_dir();
    let loaded = plugins::load_all(&policy, &[], cache.as_deref()).await?;
    let plugin = loaded.plugins.first().context("the plugin was refused")?;
    let (mut inst, mut total) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n + n / 10 {
        let r = plugin.call(tool, call_args, "bench").await;
        if r.outcome != Outcome::Ok {
            bail!("call {i} ended {:?}: {:?}", r.outcome, r.result);
        }
        // The first tenth warms the pool and the caches.
        if i >= n / 10 {
            inst.push(r.instantiate);
            total.push(r.duration);
        }
    }
    inst.sort();
    total.sort();
    println!("plugin {path}, tool {tool}, {n} calls, each in a fresh instance (pooling allocator)");
    for (what, v) in [("instantiate", &inst), ("whole call", &total)] {
        println!(
            "{what:>12}: median {:8.1} us   p99 {:8.1} us",
            percentile(v, 0.5),
            percentile(v, 0.99)
        );
    }
    let _ = std::fs::remove_dir_all(&ws);
    Ok(())
}
