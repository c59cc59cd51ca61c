//! Randomized snapshot loading: mutated and truncated snapshots never panic.
//!
//! Valid snapshots (both storages, every metric, empty and one-node indexes
//! included) get random edits: flipped bits, words set to boundary values
//! (0, 1, counts, `u32::MAX`, NaN), truncation, words cut out, doubled or
//! swapped. Most edits are resealed with a fresh checksum so that the
//! structural checks, not the checksum, must catch them. Every load either
//! refuses with an error or gives an index that searches, saves, reloads and
//! takes inserts and removals without panicking. Seeded, so a failure repeats.
mod common;

use common::*;
use wasiclaw_vector::{fnv1a, Error, Index, Metric, Params, Storage};

const CASES: usize = 5000;

fn reseal(b: &mut [u8]) {
    if b.len() >= 4 {
        let n = b.len() - 4;
        let s = fnv1a(&b[..n]);
        b[n..].copy_from_slice(&s.to_le_bytes());
    }
}

fn bases() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, storage) in [Storage::F32, Storage::Int8].into_iter().enumerate() {
        for (j, metric) in [Metric::Cosine, Metric::L2, Metric::Dot]
            .into_iter()
            .enumerate()
        {
            let data = clustered(24 + 7 * j, 5, 3, (i * 3 + j) as u64);
            out.push(build(metric, storage, &data).save());
        }
    }
    let mut one = Index::new(3, Metric::L2, Params::default());
    one.insert(9, &[1.0, 2.0, 3.0]).unwrap();
    out.push(one.save());
    out.push(Index::new(4, Metric::Cosine, Params::default()).save());
    out
}

/// One random edit of the snapshot's words or bytes.
fn mutate(r: &mut Rng, b: &mut Vec<u8>) {
    let words = b.len() / 4;
    let w = (r.next() as usize) % words.max(1);
    let n = b
        .get(24..28)
        .map_or(0, |x| u32::from_le_bytes(x.try_into().unwrap()));
    match r.next() % 6 {
        0 => {
            let at = (r.next() as usize) % b.len().max(1);
            if let Some(x) = b.get_mut(at) {
                *x ^= 1 << (r.next() % 8);
            }
        }
        1 => {
            let (below, above) = (n.wrapping_sub(1), n.wrapping_add(1));
            let specials = [0, 1, 2, below, n, above, 16, 32, 33, u32::MAX];
            let v = match r.next() % 4 {
                0 => r.next() as u32,
                1 => f32::NAN.to_bits(),
                _ => specials[(r.next() as usize) % specials.len()],
            };
            if 4 * w + 4 <= b.len() {
                b[4 * w..4 * w + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        2 => b.truncate((r.next() as usize) % (b.len() + 1)),
        3 => {
            let len = 4 * (1 + (r.next() as usize) % 8);
            let at = (4 * w).min(b.len());
            b.drain(at..(at + len).min(b.len()));
        }
        4 => {
            let at = (4 * w).min(b.len());
            let copy = b[at..(at + 4 * (1 + (r.next() as usize) % 8)).min(b.len())].to_vec();
            b.splice(at..at, copy);
        }
        _ => {
            let v = (r.next() as usize) % words.max(1);
            if 4 * w.max(v) + 4 <= b.len() {
                for k in 0..4 {
                    b.swap(4 * w + k, 4 * v + k);
                }
            }
        }
    }
}

/// What a loaded index must do without panicking: searches return at most
/// `k` distinct live ids, the snapshot round-trips, inserts and removals work.
fn exercise(r: &mut Rng, mut ix: Index) {
    let (len, dims) = (ix.len(), ix.dims() as usize);
    assert_eq!(ix.nodes() as u64, len, "a snapshot holds no tombstones");
    if dims > 1024 {
        return; // an empty index may claim any size; no query is built for it
    }
    let query = |r: &mut Rng| -> Vec<f32> { (0..dims).map(|_| r.unit()).collect() };
    let mut found = Vec::new();
    for _ in 0..3 {
        match ix.search(&query(r), 5, 20) {
            Ok(hits) => {
                assert!(
                    hits.len() as u64 <= len.min(5),
                    "{} hits of {len}",
                    hits.len()
                );
                let mut ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), hits.len(), "a hit twice in one search");
                found.extend(ids);
            }
            Err(e) => assert!(dims == 0, "search failed: {e:?}"),
        }
    }
    let bytes = ix.save();
    let mut again = Index::load(&bytes).expect("a loaded index saves a loadable snapshot");
    assert_eq!(again.save(), bytes);
    match ix.insert(u64::MAX - 7, &query(r)) {
        Ok(()) | Err(Error::DuplicateId(_)) => {}
        Err(e) => assert!(dims == 0, "insert failed: {e:?}"),
    }
    found.sort_unstable();
    found.dedup();
    for id in found {
        assert!(ix.remove(id), "hit {id} is not in the index");
    }
    if dims > 0 {
        assert!(ix.search(&query(r), 3, 10).is_ok());
    }
}

#[test]
fn mutated_snapshots_are_refused_or_load_a_working_index() {
    let started = std::time::Instant::now();
    let bases = bases();
    let mut r = Rng(0x5eed_f022);
    let (mut loaded, mut refused) = (0, 0);
    for case in 0..CASES {
        let mut b = bases[case % bases.len()].clone();
        for _ in 0..1 + r.next() % 3 {
            mutate(&mut r, &mut b);
        }
        if !r.next().is_multiple_of(8) {
            reseal(&mut b);
        }
        match Index::load(&b) {
            Ok(ix) => {
                loaded += 1;
                exercise(&mut r, ix);
            }
            Err(Error::CorruptData(_) | Error::Capacity(_)) => refused += 1,
            Err(e) => panic!("case {case}: unexpected error {e:?}"),
        }
    }
    wasiclaw_tests::report_randomized(&format!(
        "snapshot loader: {CASES} mutated snapshots, {loaded} loaded, {refused} refused in {:?}",
        started.elapsed()
    ));
    // Both outcomes must occur, or the edits test nothing.
    assert!(
        loaded > CASES / 20 && refused > CASES / 2,
        "{loaded} / {refused}"
    );
}
