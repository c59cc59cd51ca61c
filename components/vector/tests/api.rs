//! Argument checking and edge cases of the public API.
mod common;

use common::*;
use wasiclaw_vector::{Error, Index, Metric, Params, Storage};

fn small() -> Index {
    Index::new(4, Metric::L2, Params::default())
}

#[test]
fn dimension_mismatch_is_reported_with_both_sizes() {
    let mut idx = small();
    assert_eq!(
        idx.insert(1, &[1.0, 2.0, 3.0]),
        Err(Error::DimensionMismatch {
            expected: 4,
            got: 3
        })
    );
    idx.insert(1, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(
        idx.search(&[1.0; 5], 1, 10).unwrap_err(),
        Error::DimensionMismatch {
            expected: 4,
            got: 5
        }
    );
    assert_eq!(idx.len(), 1, "a rejected insert changes nothing");
}

#[test]
fn zero_dimensions_rejects_every_vector() {
    let mut idx = Index::new(0, Metric::Cosine, Params::default());
    assert_eq!(
        idx.insert(1, &[]),
        Err(Error::DimensionMismatch {
            expected: 0,
            got: 0
        })
    );
    assert!(idx.search(&[], 1, 1).is_err());
}

#[test]
fn duplicate_live_id_is_rejected() {
    let mut idx = small();
    idx.insert(42, &[0.0, 1.0, 0.0, 0.0]).unwrap();
    assert_eq!(idx.insert(42, &[1.0; 4]), Err(Error::DuplicateId(42)));
    assert_eq!(idx.len(), 1);
    // u64 ids use the whole range.
    idx.insert(u64::MAX, &[2.0; 4]).unwrap();
    idx.insert(1 << 40, &[3.0; 4]).unwrap();
    assert_eq!(idx.search(&[2.0; 4], 1, 10).unwrap()[0].id, u64::MAX);
    assert_eq!(idx.search(&[3.0; 4], 1, 10).unwrap()[0].id, 1 << 40);
}

#[test]
fn bad_arguments_are_invalid_argument() {
    let mut idx = small();
    idx.insert(1, &[1.0; 4]).unwrap();
    assert!(matches!(
        idx.search(&[1.0; 4], 0, 10),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        idx.insert(2, &[1.0, f32::NAN, 0.0, 0.0]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        idx.search(&[f32::INFINITY, 0.0, 0.0, 0.0], 1, 1),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn parameters_are_clamped() {
    let p = |m, ef_construction| {
        Index::new(
            3,
            Metric::L2,
            Params {
                m,
                ef_construction,
                storage: Storage::F32,
            },
        )
        .params()
    };
    assert_eq!(p(0, 0).m, 2);
    assert_eq!(p(0, 0).ef_construction, 2);
    assert_eq!(p(1000, 10).m, 64);
    assert_eq!(p(1000, 10).ef_construction, 64);
    assert_eq!(p(16, 200).ef_construction, 200);
}

#[test]
fn empty_index_and_small_k() {
    let mut idx = small();
    assert!(idx.search(&[0.0; 4], 10, 10).unwrap().is_empty());
    assert!(idx.is_empty());
    for i in 0..3 {
        idx.insert(i, &[i as f32; 4]).unwrap();
    }
    // k larger than the index returns everything; ef below k is raised.
    let hits = idx.search(&[0.0; 4], 10, 1).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn cosine_normalises_and_handles_zero_vectors() {
    let mut idx = Index::new(2, Metric::Cosine, Params::default());
    idx.insert(1, &[10.0, 0.0]).unwrap();
    idx.insert(2, &[0.0, 0.5]).unwrap();
    idx.insert(3, &[0.0, 0.0]).unwrap();
    let hits = idx.search(&[3.0, 0.0], 3, 10).unwrap();
    assert_eq!(hits[0].id, 1);
    assert!(hits[0].distance.abs() < 1e-6);
    assert!(hits
        .iter()
        .any(|h| h.id == 3 && (h.distance - 1.0).abs() < 1e-6));
}

#[test]
fn dot_prefers_larger_inner_product() {
    let mut idx = Index::new(2, Metric::Dot, Params::default());
    idx.insert(1, &[1.0, 0.0]).unwrap();
    idx.insert(2, &[5.0, 0.0]).unwrap();
    let hits = idx.search(&[1.0, 0.0], 2, 10).unwrap();
    assert_eq!((hits[0].id, hits[0].distance), (2, -5.0));
}

#[test]
fn int8_search_on_odd_dimensions_matches_brute_force() {
    // 37 dims: exercises the unaligned tails of every kernel.
    let data = clustered(800, 37, 8, 9);
    let queries = clustered(40, 37, 8, 10);
    for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
        let mut idx = build(metric, Storage::Int8, &data);
        let r = mean_recall(&mut idx, metric, &data, &|_| true, &queries, 10, 64);
        assert!(r >= 0.95, "{metric:?}: {r}");
    }
}

#[test]
fn insert_remove_churn_keeps_ids_consistent() {
    // Many removals leave markers in the id table; it must keep finding
    // live ids, accept re-inserts and not grow without bound.
    let mut idx = Index::new(
        2,
        Metric::L2,
        Params {
            m: 4,
            ef_construction: 8,
            storage: Storage::F32,
        },
    );
    for round in 0..50u64 {
        for i in 0..20 {
            idx.insert(round * 100 + i, &[i as f32, round as f32])
                .unwrap();
        }
        for i in 0..20 {
            if i % 4 != 0 {
                assert!(idx.remove(round * 100 + i));
            }
        }
        assert_eq!(
            idx.insert(round * 100, &[0.0, 0.0]),
            Err(Error::DuplicateId(round * 100))
        );
        if round % 10 == 9 {
            idx.compact();
        }
    }
    assert_eq!(idx.len(), 50 * 5);
    for round in 0..50u64 {
        assert!(!idx.remove(round * 100 + 1));
        assert!(idx.remove(round * 100 + 4));
    }
    assert_eq!(idx.len(), 50 * 4);
}
