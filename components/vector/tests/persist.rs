//! Snapshot round trips and the rejection of damaged or hostile snapshots.
mod common;

use common::*;
use wasiclaw_vector::{fnv1a, Error, Index, Metric, Params, Storage};

/// Recomputes the trailing checksum after a deliberate edit, so that the
/// structural checks (not the checksum) must catch it.
fn reseal(b: &mut [u8]) {
    let n = b.len() - 4;
    let s = fnv1a(&b[..n]);
    b[n..].copy_from_slice(&s.to_le_bytes());
}

fn word(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap())
}

fn set_word(b: &mut [u8], i: usize, v: u32) {
    b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
}

fn small_index() -> Index {
    let data = clustered(60, 4, 3, 5);
    build(Metric::L2, Storage::F32, &data)
}

/// Word offsets of the sections of a snapshot of `n` nodes; node records are
/// 6 words: id low, id high, level, links offset, scale, norm. `link0` is
/// where node 0's layer-0 block (count, then 2m slots) starts.
struct Layout {
    n: usize,
    m: usize,
    meta: usize,
    link0: usize,
}

fn layout(b: &[u8]) -> Layout {
    let (dims, m, n) = (
        word(b, 2) as usize,
        word(b, 4) as usize,
        word(b, 6) as usize,
    );
    let meta = 12;
    let link0 = meta + 6 * n + n * dims;
    Layout { n, m, meta, link0 }
}

#[test]
fn round_trip_gives_identical_results_and_bytes() {
    let data = clustered(1500, 24, 15, 11);
    let queries = clustered(50, 24, 15, 12);
    for storage in [Storage::F32, Storage::Int8] {
        for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
            let mut a = build(metric, storage, &data);
            let bytes = a.save();
            let mut b = Index::load(&bytes).expect("load");
            assert_eq!(b.len(), a.len());
            assert_eq!(b.params(), a.params());
            for q in &queries {
                assert_eq!(a.search(q, 10, 50).unwrap(), b.search(q, 10, 50).unwrap());
            }
            assert_eq!(b.save(), bytes, "save(load(x)) == x");
            // The PRNG state travels too: further inserts stay identical.
            for (i, v) in queries.iter().enumerate() {
                a.insert(10_000 + i as u64, v).unwrap();
                b.insert(10_000 + i as u64, v).unwrap();
            }
            assert_eq!(a.save(), b.save());
        }
    }
}

#[test]
fn save_drops_tombstones() {
    let data = clustered(300, 8, 4, 3);
    let mut a = build(Metric::Cosine, Storage::Int8, &data);
    for i in 0..100 {
        a.remove(i);
    }
    let b = Index::load(&a.save()).unwrap();
    assert_eq!((b.len(), b.nodes()), (200, 200));
    let mut b = b;
    assert!(b
        .search(&data[5], 10, 40)
        .unwrap()
        .iter()
        .all(|h| h.id >= 100));
}

#[test]
fn empty_index_round_trips() {
    let mut a = Index::new(7, Metric::Dot, Params::default());
    let b = Index::load(&a.save()).unwrap();
    assert_eq!((b.len(), b.dims(), b.metric()), (0, 7, Metric::Dot));
}

#[test]
fn every_flipped_byte_is_rejected() {
    let bytes = small_index().save();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x20;
        assert!(
            matches!(Index::load(&b), Err(Error::CorruptData(_))),
            "flipped byte {i} accepted"
        );
    }
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = small_index().save();
    for len in 0..bytes.len() {
        assert!(
            Index::load(&bytes[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0, 0, 0, 0]);
    assert!(Index::load(&longer).is_err());
}

#[test]
fn garbage_is_rejected() {
    let mut r = Rng(77);
    for len in [0usize, 3, 52, 100, 4096] {
        let junk: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
        assert!(matches!(Index::load(&junk), Err(Error::CorruptData(_))));
    }
}

fn edited(f: impl Fn(&mut Vec<u8>, &Layout)) -> Result<Index, Error> {
    let mut b = small_index().save();
    let l = layout(&b);
    f(&mut b, &l);
    reseal(&mut b);
    Index::load(&b)
}

#[test]
fn hostile_counts_are_capacity_errors() {
    assert!(matches!(
        edited(|b, _| set_word(b, 6, u32::MAX)),
        Err(Error::Capacity(_))
    ));
    assert!(matches!(
        edited(|b, l| set_word(b, 6, l.n as u32 + 1)),
        Err(Error::Capacity(_))
    ));
    assert!(matches!(
        edited(|b, _| set_word(b, 2, 1 << 30)),
        Err(Error::Capacity(_))
    ));
    assert!(matches!(
        edited(|b, _| set_word(b, 11, u32::MAX)),
        Err(Error::Capacity(_))
    ));
    assert_eq!(
        edited(|b, l| set_word(b, 6, l.n as u32 - 1)).err(),
        Some(Error::CorruptData("trailing bytes"))
    );
}

#[test]
fn hostile_graphs_are_corrupt_data() {
    let bad = |f: &dyn Fn(&mut Vec<u8>, &Layout), why: &'static str| {
        assert_eq!(edited(f).err(), Some(Error::CorruptData(why)), "{why}");
    };
    bad(&|b, _| set_word(b, 3, 7), "bad metric");
    bad(&|b, _| set_word(b, 3, 2 << 8), "bad storage");
    bad(&|b, _| set_word(b, 4, 1), "bad parameters");
    bad(&|b, _| set_word(b, 5, 1), "bad parameters");
    bad(&|b, _| set_word(b, 1, 2), "bad version");
    bad(&|b, l| set_word(b, l.meta + 2, 17), "bad level");
    bad(&|b, l| set_word(b, l.meta + 2, 0x100), "bad level");
    bad(&|b, l| set_word(b, 7, l.n as u32), "bad entry point");
    bad(&|b, _| set_word(b, 8, 9), "bad entry point");
    // Node 0's first neighbour pointing past the end, at itself; its count
    // beyond the capacity of 2m.
    bad(
        &|b, l| set_word(b, l.link0 + 1, l.n as u32),
        "bad neighbour",
    );
    bad(&|b, l| set_word(b, l.link0 + 1, 0), "bad neighbour");
    bad(
        &|b, l| set_word(b, l.link0, 2 * l.m as u32 + 1),
        "list overflow",
    );
    bad(
        &|b, l| {
            let first = word(b, l.meta);
            set_word(b, l.meta + 6, first)
        },
        "duplicate id",
    );
    bad(
        &|b, l| set_word(b, l.link0 - 1, f32::NAN.to_bits()),
        "non-finite vector",
    );
}

#[test]
fn upper_layer_link_to_a_lower_node_is_rejected() {
    let mut b = small_index().save();
    let l = layout(&b);
    let levels: Vec<u32> = (0..l.n).map(|i| word(&b, l.meta + 6 * i + 2)).collect();
    let low = levels.iter().position(|&x| x == 0).unwrap() as u32;
    let high = levels
        .iter()
        .position(|&x| x >= 1)
        .expect("test index needs an upper layer");
    // Link blocks are laid out node after node.
    let start: usize = levels[..high]
        .iter()
        .map(|&x| 2 * l.m + 1 + x as usize * (l.m + 1))
        .sum();
    let layer1 = l.link0 + start + 2 * l.m + 1;
    set_word(&mut b, layer1, 1);
    set_word(&mut b, layer1 + 1, low);
    reseal(&mut b);
    assert_eq!(
        Index::load(&b).err(),
        Some(Error::CorruptData("bad neighbour"))
    );
}
