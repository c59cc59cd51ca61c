//! Shared test data: clustered random vectors and exact k-NN by brute force.
#![allow(dead_code)]

use wasiclaw_vector::{Hit, Index, Metric, Params, Storage};

/// SplitMix64: deterministic, dependency-free test randomness.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// `n` vectors around `clusters` random centres (spread 0.35), so that the
/// data has the structure real embeddings have instead of being uniform.
pub fn clustered(n: usize, dims: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut r = Rng(seed);
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| (0..dims).map(|_| r.unit()).collect())
        .collect();
    (0..n)
        .map(|_| {
            let c = &centres[(r.next() % clusters as u64) as usize];
            c.iter().map(|x| x + 0.35 * r.unit()).collect()
        })
        .collect()
}

pub fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    match metric {
        Metric::Cosine => {
            let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
            1.0 - dot / (na * nb)
        }
        Metric::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        Metric::Dot => -dot,
    }
}

/// Ids (= positions) of the `k` nearest live vectors, by brute force.
pub fn exact_knn(
    metric: Metric,
    data: &[Vec<f32>],
    live: &dyn Fn(usize) -> bool,
    q: &[f32],
    k: usize,
) -> Vec<u64> {
    let mut d: Vec<(f32, usize)> = data
        .iter()
        .enumerate()
        .filter(|(i, _)| live(*i))
        .map(|(i, v)| (distance(metric, q, v), i))
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter().take(k).map(|(_, i)| i as u64).collect()
}

pub fn recall(got: &[Hit], want: &[u64]) -> f64 {
    let hits = got.iter().filter(|h| want.contains(&h.id)).count();
    hits as f64 / want.len() as f64
}

pub fn build(metric: Metric, storage: Storage, data: &[Vec<f32>]) -> Index {
    let mut idx = Index::new(
        data[0].len() as u32,
        metric,
        Params {
            m: 16,
            ef_construction: 100,
            storage,
        },
    );
    for (i, v) in data.iter().enumerate() {
        idx.insert(i as u64, v).expect("insert");
    }
    idx
}

/// Mean recall@k over `queries` against brute force on the live vectors.
pub fn mean_recall(
    idx: &mut Index,
    metric: Metric,
    data: &[Vec<f32>],
    live: &dyn Fn(usize) -> bool,
    queries: &[Vec<f32>],
    k: usize,
    ef: u32,
) -> f64 {
    let total: f64 = queries
        .iter()
        .map(|q| {
            let got = idx.search(q, k as u32, ef).expect("search");
            recall(&got, &exact_knn(metric, data, live, q, k))
        })
        .sum();
    total / queries.len() as f64
}
