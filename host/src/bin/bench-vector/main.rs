//! bench-vector: builds and queries the HNSW index inside the real vector
//! component (under wasmtime) and natively (the `wasiclaw-vector` crate),
//! and scores both against exact brute-force neighbours.
//!
//! ```text
//! bench-vector --base B.fvecs --query Q.fvecs [options]
//! bench-vector --synthetic N [--dims D] [--queries Q] [options]
//!   --k 10  --ef 64[,128,...]  --metric cosine|l2|dot  --m 16
//!   --ef-construction 200  --int8  --component dist/components/vector.wasm
//!   --native-only | --component-only  --seed 42
//!   --anchor   also run hnswlib (pip install hnswlib numpy) on the same
//!              data, one thread, same m/ef_construction/ef; print ratios
//! ```
//!
//! `.fvecs`: per vector a little-endian i32 dimension count, then that many
//! f32. Synthetic data is clustered points on a random 24-dimensional
//! subspace plus a little isotropic noise, so that, like sentence
//! embeddings, it has far fewer intrinsic dimensions than coordinates
//! (uniform noise in 384 dimensions would measure something no real
//! workload looks like). The last line of output is one JSON object.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use wasiclaw_host::vector_kernel::{IndexHandle, VectorKernel};
use wasiclaw_vector::{Index, Metric, Params, Storage};

mod anchor;

struct Args {
    base: Option<PathBuf>,
    query: Option<PathBuf>,
    synthetic: usize,
    dims: usize,
    queries: usize,
    k: usize,
    ef: Vec<u32>,
    metric: Metric,
    m: u32,
    efc: u32,
    int8: bool,
    component: PathBuf,
    native: bool,
    wasm: bool,
    seed: u64,
    anchor: bool,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        base: None,
        query: None,
        synthetic: 0,
        dims: 384,
        queries: 1000,
        k: 10,
        ef: vec![64],
        metric: Metric::Cosine,
        m: 16,
        efc: 200,
        int8: false,
        component: PathBuf::from("dist/components/vector.wasm"),
        native: true,
        wasm: true,
        seed: 42,
        anchor: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => a.base = Some(val()?.into()),
            "--query" => a.query = Some(val()?.into()),
            "--synthetic" => a.synthetic = val()?.parse().context("--synthetic")?,
            "--dims" => a.dims = val()?.parse().context("--dims")?,
            "--queries" => a.queries = val()?.parse().context("--queries")?,
            "--k" => a.k = val()?.parse().context("--k")?,
            "--ef" => {
                a.ef = val()?
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()
                    .context("--ef takes N or N,N,...")?
            }
            "--metric" => {
                a.metric = match val()?.as_str() {
                    "cosine" => Metric::Cosine,
                    "l2" => Metric::L2,
                    "dot" => Metric::Dot,
                    other => bail!("--metric {other}: expected cosine, l2 or dot"),
                }
            }
            "--m" => a.m = val()?.parse().context("--m")?,
            "--ef-construction" => a.efc = val()?.parse().context("--ef-construction")?,
            "--int8" => a.int8 = true,
            "--component" => a.component = val()?.into(),
            "--native-only" => a.wasm = false,
            "--component-only" => a.native = false,
            "--seed" => a.seed = val()?.parse().context("--seed")?,
            "--anchor" => a.anchor = true,
            "-h" | "--help" => {
                println!(
                    "{}",
                    include_str!("main.rs")
                        .lines()
                        .take(20)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                std::process::exit(0);
            }
            other => bail!("unknown option {other} (see --help)"),
        }
    }
    if a.k == 0 || a.ef.is_empty() {
        bail!("--k and --ef must be positive");
    }
    Ok(a)
}

/// Reads an `.fvecs` file into one flat array; every vector must have the
/// same dimension count.
fn read_fvecs(path: &Path) -> Result<(Vec<f32>, usize)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    let mut dims = 0;
    let mut at = 0;
    while at < bytes.len() {
        let head: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{}: truncated at byte {at}", path.display()))?;
        let d = i32::from_le_bytes(head);
        if d <= 0 || (dims != 0 && d as usize != dims) {
            bail!("{}: bad dimension count {d} at byte {at}", path.display());
        }
        dims = d as usize;
        let body = bytes
            .get(at + 4..at + 4 + 4 * dims)
            .with_context(|| format!("{}: truncated vector at byte {at}", path.display()))?;
        out.extend(
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        at += 4 + 4 * dims;
    }
    if dims == 0 {
        bail!("{}: no vectors", path.display());
    }
    Ok((out, dims))
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Roughly normal: the sum of four uniforms, centred and scaled.
    fn gauss(&mut self) -> f32 {
        let s: f32 = (0..4)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .sum();
        (s - 2.0) * 1.732
    }
}

/// `n` base and `q` query vectors from the same clustered low-rank source.
fn synthetic(n: usize, q: usize, dims: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    const LATENT: usize = 24;
    let mut r = Rng(seed);
    let basis: Vec<f32> = (0..LATENT * dims)
        .map(|_| r.gauss() / (LATENT as f32).sqrt())
        .collect();
    let centres: Vec<f32> = (0..100 * LATENT).map(|_| r.gauss()).collect();
    let point = |r: &mut Rng| -> Vec<f32> {
        let c = (r.next() % 100) as usize;
        let z: Vec<f32> = (0..LATENT)
            .map(|i| centres[c * LATENT + i] + 0.5 * r.gauss())
            .collect();
        (0..dims)
            .map(|j| {
                (0..LATENT).map(|i| z[i] * basis[i * dims + j]).sum::<f32>() + 0.05 * r.gauss()
            })
            .collect()
    };
    let base = (0..n).flat_map(|_| point(&mut r)).collect();
    let queries = (0..q).flat_map(|_| point(&mut r)).collect();
    (base, queries)
}

fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        // Cosine inputs are normalised beforehand.
        Metric::Cosine => 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>(),
        Metric::Dot => -a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>(),
    }
}

fn normalised(v: &[f32], dims: usize) -> Vec<f32> {
    v.chunks(dims)
        .flat_map(|c| {
            let n = c
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(f32::MIN_POSITIVE);
            c.iter().map(move |x| x / n)
        })
        .collect()
}

/// Exact k nearest base ids per query, on every core.
fn ground_truth(
    metric: Metric,
    base: &[f32],
    queries: &[f32],
    dims: usize,
    k: usize,
) -> Vec<Vec<u64>> {
    let (base, queries) = if metric == Metric::Cosine {
        (normalised(base, dims), normalised(queries, dims))
    } else {
        (base.to_vec(), queries.to_vec())
    };
    let qs: Vec<&[f32]> = queries.chunks(dims).collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = qs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = qs
            .chunks(per)
            .map(|chunk| {
                let base = &base;
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|q| {
                            let mut d: Vec<(f32, u64)> = base
                                .chunks(dims)
                                .enumerate()
                                .map(|(i, v)| (distance(metric, q, v), i as u64))
                                .collect();
                            let k = k.min(d.len());
                            d.select_nth_unstable_by(k.saturating_sub(1), |a, b| {
                                a.0.total_cmp(&b.0)
                            });
                            d.truncate(k);
                            d.into_iter().map(|(_, i)| i).collect()
                        })
                        .collect::<Vec<Vec<u64>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("ground-truth thread"))
            .collect()
    })
}

fn recall(results: &[Vec<u64>], truth: &[Vec<u64>]) -> f64 {
    let hits: usize = results
        .iter()
        .zip(truth)
        .map(|(r, t)| r.iter().filter(|id| t.contains(id)).count())
        .sum();
    hits as f64 / truth.iter().map(Vec::len).sum::<usize>().max(1) as f64
}

#[derive(Default)]
struct Run {
    build_s: f64,
    /// Per ef: recall@k, queries/s, and the result lists.
    searches: Vec<(u32, f64, f64, Vec<Vec<u64>>)>,
    snapshot_bytes: usize,
    save_s: f64,
    load_s: f64,
}

/// One build of the kernel as the benchmark drives it: native or the
/// component, measured by the same loop ([`measure`]).
trait Kernel {
    fn insert(&mut self, id: u64, v: &[f32]) -> Result<()>;
    fn search(&mut self, q: &[f32], k: u32, ef: u32) -> Result<Vec<u64>>;
    fn save(&mut self) -> Result<Vec<u8>>;
    /// Loads a snapshot and drops it again (only its time is measured).
    fn load(&mut self, bytes: &[u8]) -> Result<()>;
}

impl Kernel for Index {
    fn insert(&mut self, id: u64, v: &[f32]) -> Result<()> {
        Index::insert(self, id, v).map_err(|e| anyhow::anyhow!("native insert {id}: {e}"))
    }

    fn search(&mut self, q: &[f32], k: u32, ef: u32) -> Result<Vec<u64>> {
        let hits =
            Index::search(self, q, k, ef).map_err(|e| anyhow::anyhow!("native search: {e}"))?;
        Ok(hits.iter().map(|h| h.id).collect())
    }

    fn save(&mut self) -> Result<Vec<u8>> {
        Ok(Index::save(self))
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        Index::load(bytes).map_err(|e| anyhow::anyhow!("native load: {e}"))?;
        Ok(())
    }
}

/// An index inside the component, through the canonical ABI.
struct InComponent {
    kernel: VectorKernel,
    idx: IndexHandle,
}

impl Kernel for InComponent {
    fn insert(&mut self, id: u64, v: &[f32]) -> Result<()> {
        self.kernel
            .insert(self.idx, id, v)?
            .map_err(|e| anyhow::anyhow!("component insert {id}: {e:?}"))
    }

    fn search(&mut self, q: &[f32], k: u32, ef: u32) -> Result<Vec<u64>> {
        let hits = self
            .kernel
            .search(self.idx, q, k, ef)?
            .map_err(|e| anyhow::anyhow!("component search: {e:?}"))?;
        Ok(hits.iter().map(|h| h.id).collect())
    }

    fn save(&mut self) -> Result<Vec<u8>> {
        self.kernel.save(self.idx)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let loaded = self
            .kernel
            .load_index(bytes)?
            .map_err(|e| anyhow::anyhow!("component load: {e:?}"))?;
        self.kernel.drop_index(loaded)
    }
}

/// Builds the index from `base`, searches `queries` at every ef, then
/// times a save and a load: the same loop for every build, so their
/// figures differ only by the kernel.
fn measure(
    kernel: &mut dyn Kernel,
    a: &Args,
    base: &[f32],
    queries: &[f32],
    dims: usize,
    truth: &[Vec<u64>],
) -> Result<Run> {
    let t = Instant::now();
    for (i, v) in base.chunks(dims).enumerate() {
        kernel.insert(i as u64, v)?;
    }
    let mut run = Run {
        build_s: t.elapsed().as_secs_f64(),
        ..Run::default()
    };
    for &ef in &a.ef {
        let t = Instant::now();
        let mut res = Vec::new();
        for q in queries.chunks(dims) {
            res.push(kernel.search(q, a.k as u32, ef)?);
        }
        let qps = res.len() as f64 / t.elapsed().as_secs_f64();
        run.searches.push((ef, recall(&res, truth), qps, res));
    }
    let t = Instant::now();
    let bytes = kernel.save()?;
    run.save_s = t.elapsed().as_secs_f64();
    run.snapshot_bytes = bytes.len();
    let t = Instant::now();
    kernel.load(&bytes)?;
    run.load_s = t.elapsed().as_secs_f64();
    Ok(run)
}

fn run_native(
    a: &Args,
    base: &[f32],
    queries: &[f32],
    dims: usize,
    truth: &[Vec<u64>],
) -> Result<Run> {
    let mut idx = Index::new(dims as u32, a.metric, params(a));
    measure(&mut idx, a, base, queries, dims, truth)
}

fn run_component(
    a: &Args,
    base: &[f32],
    queries: &[f32],
    dims: usize,
    truth: &[Vec<u64>],
) -> Result<Run> {
    let mut kernel = VectorKernel::load(&a.component)?;
    let idx = kernel.new_index(dims as u32, a.metric.into(), params(a).into())?;
    let mut c = InComponent { kernel, idx };
    let run = measure(&mut c, a, base, queries, dims, truth)?;
    c.kernel.drop_index(c.idx)?;
    Ok(run)
}

fn params(a: &Args) -> Params {
    Params {
        m: a.m,
        ef_construction: a.efc,
        storage: if a.int8 { Storage::Int8 } else { Storage::F32 },
    }
}

fn report(name: &str, r: &Run, n: usize, k: usize, json: &mut String) {
    println!(
        "{name:<9} build {:.2} s ({:.0} inserts/s), snapshot {:.1} MB saved in {:.2} s, loaded in {:.2} s",
        r.build_s,
        n as f64 / r.build_s,
        r.snapshot_bytes as f64 / 1e6,
        r.save_s,
        r.load_s
    );
    let _ = write!(json, ",\"{name}\":{{\"build_s\":{:.3},\"snapshot_bytes\":{},\"save_s\":{:.3},\"load_s\":{:.3},\"search\":[", r.build_s, r.snapshot_bytes, r.save_s, r.load_s);
    for (i, (ef, rec, qps, _)) in r.searches.iter().enumerate() {
        println!("{name:<9} ef={ef:<4} recall@{k} {rec:.4}  {qps:.0} queries/s");
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(
            json,
            "{sep}{{\"ef\":{ef},\"recall\":{rec:.4},\"qps\":{qps:.1}}}"
        );
    }
    json.push_str("]}");
}

fn main() -> Result<()> {
    let a = parse_args()?;
    let (base, queries, dims, source) = match (&a.base, &a.query) {
        (Some(b), Some(q)) => {
            let (base, d1) = read_fvecs(b)?;
            let (queries, d2) = read_fvecs(q)?;
            if d1 != d2 {
                bail!("base has {d1} dimensions, queries {d2}");
            }
            (
                base,
                queries,
                d1,
                format!("{} / {}", b.display(), q.display()),
            )
        }
        (None, None) if a.synthetic > 0 => {
            let (b, q) = synthetic(a.synthetic, a.queries, a.dims, a.seed);
            (
                b,
                q,
                a.dims,
                format!("synthetic clustered low-rank, seed {}", a.seed),
            )
        }
        _ => bail!("give --base and --query, or --synthetic N (see --help)"),
    };
    let (n, nq) = (base.len() / dims, queries.len() / dims);
    let metric = format!("{:?}", a.metric).to_lowercase();
    println!(
        "data: {n} x {dims} ({source}), {nq} queries, metric {metric}, k {}, m {}, ef_construction {}, storage {}",
        a.k,
        a.m,
        a.efc,
        if a.int8 { "int8" } else { "f32" }
    );
    let t = Instant::now();
    let truth = ground_truth(a.metric, &base, &queries, dims, a.k);
    println!(
        "ground truth (brute force): {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let mut json = String::new();
    let _ = write!(
        json,
        "{{\"n\":{n},\"dims\":{dims},\"queries\":{nq},\"metric\":\"{metric}\",\"k\":{},\"m\":{},\"ef_construction\":{},\"int8\":{},\"source\":{:?}",
        a.k, a.m, a.efc, a.int8, source
    );
    let hnsw = if a.anchor {
        let tmp = anchor::TempDir::new()?;
        let (b, q) = match (&a.base, &a.query) {
            (Some(b), Some(q)) => (b.clone(), q.clone()),
            _ => {
                let (b, q) = (tmp.0.join("base.fvecs"), tmp.0.join("query.fvecs"));
                anchor::write_fvecs(&b, &base, dims)?;
                anchor::write_fvecs(&q, &queries, dims)?;
                (b, q)
            }
        };
        let h = anchor::run(&b, &q, a.metric, a.m, a.efc, &a.ef, a.k, nq, &tmp.0)?;
        anchor::report(&h, &truth, n, a.k, &mut json);
        Some(h)
    } else {
        None
    };
    let native = if a.native {
        Some(run_native(&a, &base, &queries, dims, &truth)?)
    } else {
        None
    };
    if let Some(r) = &native {
        report("native", r, n, a.k, &mut json);
    }
    let mut comp = None;
    if a.wasm {
        if !a.component.exists() {
            bail!(
                "{} not found: run scripts/build first (or pass --component PATH)",
                a.component.display()
            );
        }
        let bytes = std::fs::metadata(&a.component)?.len();
        let _ = write!(
            json,
            ",\"component_path\":{:?},\"component_bytes\":{bytes}",
            a.component.display().to_string()
        );
        let c = run_component(&a, &base, &queries, dims, &truth)?;
        report("component", &c, n, a.k, &mut json);
        if let Some(nr) = &native {
            // Identical kernels, identical arithmetic: the two builds should
            // return the same lists, not just similar recall.
            let (same, total) =
                nr.searches
                    .iter()
                    .zip(&c.searches)
                    .fold((0, 0), |(s, t), (x, y)| {
                        (
                            s + x.3.iter().zip(&y.3).filter(|(p, q)| p == q).count(),
                            t + x.3.len(),
                        )
                    });
            let pct = 100.0 * same as f64 / total.max(1) as f64;
            println!("component vs native: {pct:.1}% of result lists identical");
            let _ = write!(json, ",\"identical_results_pct\":{pct:.1}");
        }
        comp = Some(c);
    }
    if let Some(h) = &hnsw {
        anchor::ratios(h, native.as_ref(), comp.as_ref());
    }
    json.push('}');
    println!("{json}");
    Ok(())
}
