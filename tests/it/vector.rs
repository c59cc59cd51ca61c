//! The built vector component (`dist/components/vector.wasm`) under wasmtime,
//! against the native `wasiclaw-vector` crate on the same data: identical
//! search results and identical snapshot bytes for every metric and storage,
//! errors as the WIT `error` variant, and hostile `load` input answered with
//! an error instead of a trap.

use std::path::PathBuf;
use wasiclaw_host::vector_kernel::{IndexHandle, KernelError, VectorKernel};
use wasiclaw_vector::{Index, Metric, Params, Storage};

fn kernel() -> VectorKernel {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist/components/vector.wasm");
    assert!(
        path.exists(),
        "{} is missing: run scripts/build first (these tests drive the built component)",
        path.display()
    );
    VectorKernel::load(&path).expect("instantiate the vector component")
}

/// Deterministic clustered data: `n` vectors of `dims` around 12 centres.
fn data(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let centres: Vec<Vec<f32>> = (0..12)
        .map(|_| (0..dims).map(|_| next()).collect())
        .collect();
    (0..n)
        .map(|i| centres[i % 12].iter().map(|c| c + 0.3 * next()).collect())
        .collect()
}

fn params(storage: Storage) -> Params {
    Params {
        m: 12,
        ef_construction: 60,
        storage,
    }
}

/// Builds the same index natively and in the component.
fn both(
    k: &mut VectorKernel,
    metric: Metric,
    storage: Storage,
    vs: &[Vec<f32>],
) -> (Index, IndexHandle) {
    let dims = vs[0].len() as u32;
    let mut native = Index::new(dims, metric, params(storage));
    let comp = k
        .new_index(dims, metric.into(), params(storage).into())
        .unwrap();
    for (i, v) in vs.iter().enumerate() {
        native.insert(i as u64, v).unwrap();
        k.insert(comp, i as u64, v).unwrap().unwrap();
    }
    (native, comp)
}

fn assert_same_results(
    k: &mut VectorKernel,
    native: &mut Index,
    comp: IndexHandle,
    queries: &[Vec<f32>],
) {
    for q in queries {
        let want = native.search(q, 10, 40).unwrap();
        let got = k.search(comp, q, 10, 40).unwrap().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.id, w.id);
            assert_eq!(
                g.distance.to_bits(),
                w.distance.to_bits(),
                "distance of id {}",
                w.id
            );
        }
    }
}

#[test]
fn component_matches_native_for_every_metric_and_storage() {
    let mut k = kernel();
    let vs = data(1200, 24, 7);
    let queries = data(40, 24, 8);
    for storage in [Storage::F32, Storage::Int8] {
        for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
            let (mut native, comp) = both(&mut k, metric, storage, &vs);
            assert_eq!(k.len(comp).unwrap(), native.len());
            assert_same_results(&mut k, &mut native, comp, &queries);

            // Deletes, then compaction (which `save` runs too).
            for id in (0..1200).step_by(4) {
                assert_eq!(k.remove(comp, id).unwrap(), native.remove(id));
            }
            assert!(!k.remove(comp, 0).unwrap(), "second remove reports false");
            assert_same_results(&mut k, &mut native, comp, &queries);
            k.compact(comp).unwrap();
            native.compact();
            assert_eq!(k.len(comp).unwrap(), 900);
            assert_same_results(&mut k, &mut native, comp, &queries);

            let bytes = k.save(comp).unwrap();
            assert_eq!(
                bytes,
                native.save(),
                "{metric:?}/{storage:?}: snapshots differ"
            );

            // Snapshots travel both ways.
            let loaded = k.load_index(&bytes).unwrap().unwrap();
            let mut from_comp = Index::load(&bytes).unwrap();
            assert_same_results(&mut k, &mut from_comp, loaded, &queries);
            k.drop_index(loaded).unwrap();
            k.drop_index(comp).unwrap();
        }
    }
}

#[test]
fn errors_come_back_as_the_wit_variant() {
    let mut k = kernel();
    let vs = data(50, 8, 3);
    let (mut native, comp) = both(&mut k, Metric::L2, Storage::F32, &vs);
    let cases: [(Result<(), KernelError>, Result<(), wasiclaw_vector::Error>); 3] = [
        (k.insert(comp, 1, &vs[1]).unwrap(), native.insert(1, &vs[1])),
        (
            k.insert(comp, 99, &[1.0; 5]).unwrap(),
            native.insert(99, &[1.0; 5]),
        ),
        (
            k.insert(comp, 98, &[f32::NAN; 8]).unwrap(),
            native.insert(98, &[f32::NAN; 8]),
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got.unwrap_err(), KernelError::from(want.unwrap_err()));
    }
    assert_eq!(
        k.insert(comp, 1, &vs[1]).unwrap(),
        Err(KernelError::DuplicateId(1))
    );
    assert_eq!(
        k.insert(comp, 99, &[1.0; 5]).unwrap(),
        Err(KernelError::DimensionMismatch((8, 5)))
    );
    assert!(matches!(
        k.search(comp, &vs[0], 0, 10).unwrap(),
        Err(KernelError::InvalidArgument(_))
    ));
    // Still serving after every error.
    assert_eq!(k.search(comp, &vs[3], 1, 10).unwrap().unwrap()[0].id, 3);
}

#[test]
fn hostile_snapshots_are_errors_not_traps() {
    let mut k = kernel();
    let vs = data(200, 16, 5);
    let (mut native, comp) = both(&mut k, Metric::Cosine, Storage::Int8, &vs);
    let good = k.save(comp).unwrap();
    assert_eq!(good, native.save());

    let mut garbage: Vec<Vec<u8>> = vec![vec![], vec![0; 3], vec![0xff; 64], b"WCVI".repeat(40)];
    // Truncations at a stride through the whole snapshot.
    garbage.extend((0..good.len()).step_by(97).map(|n| good[..n].to_vec()));
    // Flipped bytes all over the snapshot.
    garbage.extend((0..good.len()).step_by(131).map(|i| {
        let mut b = good.clone();
        b[i] ^= 0x01;
        b
    }));
    // A header claiming four billion nodes, checksum recomputed.
    let mut huge = good[..48].to_vec();
    huge[24..28].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
    let sum = wasiclaw_vector::fnv1a(&huge);
    huge.extend_from_slice(&sum.to_le_bytes());
    garbage.push(huge);

    for bytes in &garbage {
        let got = k.load_index(bytes).expect("load must not trap");
        let want = Index::load(bytes).map(|_| ());
        match (got, want) {
            (Err(g), Err(w)) => {
                assert_eq!(g, KernelError::from(w));
                assert!(matches!(
                    g,
                    KernelError::CorruptData(_) | KernelError::Capacity(_)
                ));
            }
            (got, want) => panic!("{} bytes: component {got:?}, native {want:?}", bytes.len()),
        }
    }
    // The instance is intact: the good snapshot still loads and answers.
    let idx = k.load_index(&good).unwrap().unwrap();
    assert_eq!(k.search(idx, &vs[9], 1, 20).unwrap().unwrap()[0].id, 9);
}

/// The component's `simd128` kernels (`dot`, and `dot2`, which the walk
/// measures neighbours in pairs with) against the native ones (SSE, AVX or
/// AVX-512 on x86-64, each held to the scalar definition by the crate's unit
/// test), bit for bit, through the distances `search` returns: bounded and
/// randomized over dimension counts that cover every tail length of the
/// sixteen-lane loop, magnitudes from 1e-3 to 1e3, all three metrics and
/// both storages (int8 results are rescored with the exact kernel).
#[test]
fn kernels_match_native() {
    let mut k = kernel();
    let mut s = 0x51AD_5EED_u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let mut compared = 0;
    let dims_list = (1..=40).chain([47, 48, 49, 63, 64, 65, 100, 384]);
    for (round, dims) in dims_list.enumerate() {
        let scale = [1e-3f32, 1.0, 1e3][round % 3];
        let mut vec = || (0..dims).map(|_| next() * scale).collect::<Vec<f32>>();
        let vs: Vec<Vec<f32>> = (0..12).map(|_| vec()).collect();
        let queries: Vec<Vec<f32>> = (0..3).map(|_| vec()).collect();
        for storage in [Storage::F32, Storage::Int8] {
            for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
                let (mut native, comp) = both(&mut k, metric, storage, &vs);
                for q in &queries {
                    let want = native.search(q, 12, 12).unwrap();
                    let got = k.search(comp, q, 12, 12).unwrap().unwrap();
                    assert_eq!(got.len(), want.len(), "dims {dims} {metric:?}/{storage:?}");
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(g.id, w.id, "dims {dims} {metric:?}/{storage:?}");
                        assert_eq!(
                            g.distance.to_bits(),
                            w.distance.to_bits(),
                            "dims {dims} {metric:?}/{storage:?}: id {}",
                            w.id
                        );
                        compared += 1;
                    }
                }
                k.drop_index(comp).unwrap();
            }
        }
    }
    assert_eq!(compared, 48 * 6 * 3 * 12);
}
