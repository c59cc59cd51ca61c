//! Recall against brute force, for every metric and both storages, and the
//! behaviour of deletes and compaction.
mod common;

use common::*;
use wasiclaw_vector::{Metric, Storage};

const METRICS: [Metric; 3] = [Metric::Cosine, Metric::L2, Metric::Dot];

fn data() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    (clustered(2000, 32, 20, 1), clustered(100, 32, 20, 2))
}

#[test]
fn recall_at_10_is_high_for_every_metric_and_storage() {
    let (data, queries) = data();
    for storage in [Storage::F32, Storage::Int8] {
        for metric in METRICS {
            let mut idx = build(metric, storage, &data);
            assert_eq!(idx.len(), 2000);
            let r = mean_recall(&mut idx, metric, &data, &|_| true, &queries, 10, 64);
            assert!(r >= 0.95, "{metric:?}/{storage:?}: recall {r}");
        }
    }
}

#[test]
fn results_are_sorted_and_distances_exact() {
    let (data, queries) = data();
    for storage in [Storage::F32, Storage::Int8] {
        for metric in METRICS {
            let mut idx = build(metric, storage, &data[..300]);
            let hits = idx.search(&queries[0], 10, 32).unwrap();
            assert_eq!(hits.len(), 10);
            for w in hits.windows(2) {
                assert!(w[0].distance <= w[1].distance);
            }
            for h in &hits {
                let want = distance(metric, &queries[0], &data[h.id as usize]);
                assert!(
                    (h.distance - want).abs() < 1e-4,
                    "{metric:?}: {} vs {want}",
                    h.distance
                );
            }
        }
    }
}

#[test]
fn removed_ids_are_never_returned_and_compact_keeps_recall() {
    let (data, queries) = data();
    for metric in METRICS {
        for storage in [Storage::F32, Storage::Int8] {
            let mut idx = build(metric, storage, &data);
            // Delete 30 %, every id divisible by 3 or so, then search.
            let gone = |i: usize| i % 10 < 3;
            for i in (0..data.len()).filter(|&i| gone(i)) {
                assert!(idx.remove(i as u64));
            }
            assert!(!idx.remove(0), "second remove reports false");
            assert_eq!(idx.len(), 1400);
            assert_eq!(idx.nodes(), 2000);
            for q in &queries {
                for h in idx.search(q, 10, 64).unwrap() {
                    assert!(!gone(h.id as usize), "deleted id {} returned", h.id);
                }
            }
            let live = |i: usize| !gone(i);
            let before = mean_recall(&mut idx, metric, &data, &live, &queries, 10, 64);
            assert!(
                before >= 0.95,
                "{metric:?}/{storage:?} with tombstones: {before}"
            );
            idx.compact();
            assert_eq!(idx.len(), 1400);
            assert_eq!(idx.nodes(), 1400);
            let after = mean_recall(&mut idx, metric, &data, &live, &queries, 10, 64);
            assert!(
                after >= 0.95,
                "{metric:?}/{storage:?} after compact: {after}"
            );
        }
    }
}

#[test]
fn heavy_deletion_then_compact_still_finds_neighbours() {
    let (data, queries) = data();
    let metric = Metric::L2;
    let mut idx = build(metric, Storage::F32, &data);
    let gone = |i: usize| i % 10 < 8;
    for i in (0..data.len()).filter(|&i| gone(i)) {
        idx.remove(i as u64);
    }
    idx.compact();
    assert_eq!(idx.nodes(), 400);
    let r = mean_recall(&mut idx, metric, &data, &|i| !gone(i), &queries, 10, 64);
    assert!(r >= 0.95, "recall after deleting 80 %: {r}");
}

#[test]
fn removed_id_can_be_inserted_again_and_inserts_after_compact_work() {
    let (data, queries) = data();
    let mut idx = build(Metric::Cosine, Storage::F32, &data[..500]);
    assert!(idx.remove(7));
    idx.insert(7, &data[7]).expect("re-insert of a removed id");
    assert_eq!(idx.len(), 500);
    for i in 0..100 {
        idx.remove(i);
    }
    idx.compact();
    for i in 500..1000u64 {
        idx.insert(i, &data[i as usize]).unwrap();
    }
    assert_eq!(idx.len(), 900);
    let live = |i: usize| (100..1000).contains(&i);
    let r = mean_recall(&mut idx, Metric::Cosine, &data, &live, &queries, 10, 64);
    assert!(r >= 0.95, "{r}");
}

#[test]
fn deleting_everything_leaves_an_empty_searchable_index() {
    let (data, _) = data();
    let mut idx = build(Metric::L2, Storage::F32, &data[..50]);
    for i in 0..50 {
        assert!(idx.remove(i));
    }
    assert!(idx.search(&data[0], 5, 10).unwrap().is_empty());
    idx.compact();
    assert_eq!(idx.nodes(), 0);
    assert!(idx.search(&data[0], 5, 10).unwrap().is_empty());
    idx.insert(3, &data[3]).unwrap();
    assert_eq!(idx.search(&data[3], 5, 10).unwrap()[0].id, 3);
}

#[test]
fn identical_inserts_build_identical_indexes() {
    let (data, _) = data();
    let mut a = build(Metric::Dot, Storage::Int8, &data[..400]);
    let mut b = build(Metric::Dot, Storage::Int8, &data[..400]);
    assert_eq!(a.save(), b.save());
}
