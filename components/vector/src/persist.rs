//! Snapshot format, version 1: a sequence of little-endian 32-bit words.
//!
//! ```text
//! header (12 words)   magic "WCVI", version = 1, dims, metric | storage << 8,
//!                     m, ef-construction, count n, entry node (u32::MAX if
//!                     n = 0), max level, rng state (low, high), link words
//! node records        n x 6 words: id (low, high), level, links offset,
//!                     int8 scale, squared norm (the last three derived:
//!                     `load` recomputes them rather than trusting them)
//! vectors             n x dims words of f32 bits
//! links               per node in order: a layer-0 block of 2m + 1 words
//!                     (count, then the neighbours), then m + 1 words per
//!                     level above 0
//! checksum            FNV-1a 32 of every byte before it
//! ```
//!
//! Link blocks are written as held in memory (count + fixed slots; in memory
//! the layer-0 blocks are one array and the upper blocks another, see
//! `graph`, and `save` interleaves them per node as above, the layout of
//! every snapshot written so far), so a snapshot is never smaller than the
//! index it loads into: `load` checks
//! that the header's counts account for exactly the bytes present *before*
//! allocating anything, and then every allocation is bounded by the input.
//! Int8 copies are derived on load rather than stored. `save` compacts first,
//! so a snapshot holds no tombstones.

use crate::buf::Buf;
use crate::graph::{f32s, sub, Graph, Scratch, LEVEL, LINKS, MAX_LEVEL, META, NONE};
use crate::idmap::IdMap;
use crate::index::{all_finite, Index};
use crate::{Error, Metric};

pub const MAGIC: [u8; 4] = *b"WCVI";
pub const FORMAT_VERSION: u32 = 1;
const HEADER: usize = 12;

/// FNV-1a, 32 bit: a few lines, no table, and it catches any single flipped
/// byte or truncation.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// Appends `words` little-endian. On little-endian targets (wasm, x86,
/// Arm) that is one block copy: smaller and faster than a word at a time.
fn put(out: &mut Buf<u8>, words: &[u32]) {
    #[cfg(target_endian = "little")]
    // SAFETY: the bytes of `words`, which live as long as the borrow.
    out.extend_from_slice(unsafe {
        core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), 4 * words.len())
    });
    #[cfg(not(target_endian = "little"))]
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

/// Takes the next `n` words off `rest` (sizes were validated up front):
/// one block copy, then a byte swap that compiles to nothing on
/// little-endian targets.
fn words(rest: &mut &[[u8; 4]], n: usize) -> Buf<u32> {
    let (a, b) = rest.split_at_checked(n).unwrap_or((&[], &[]));
    *rest = b;
    let mut out = Buf::default();
    out.resize(a.len(), 0);
    // SAFETY: `out` holds exactly `a.len()` words, `4 * a.len()` bytes, and
    // is a fresh block, so the two cannot overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(
            a.as_ptr().cast::<u8>(),
            out.as_mut_ptr().cast::<u8>(),
            4 * a.len(),
        )
    };
    out.iter_mut().for_each(|w| *w = u32::from_le(*w));
    out
}

/// Why `load` refused a snapshot: an index into [`WHY`]. Returning a
/// small integer from each of the many checks and building the error once
/// keeps the component smaller than constructing an `Error` at every site.
type Why = u8;

/// Messages for [`Why`], in order, `|`-separated (one string costs the
/// component less than a table of them); the last two are `Capacity`.
const WHY: &str = "truncated|bad magic|bad version|bad checksum|bad metric|bad storage|\
bad parameters|trailing bytes|zero dimensions|bad level|bad link count|bad entry point|\
non-finite vector|duplicate id|list overflow|bad neighbour|counts exceed data|too many vectors";

/// The `w`-th message of [`WHY`].
fn why(w: Why) -> &'static str {
    let b = WHY.as_bytes();
    let (mut start, mut k) = (0, 0);
    for (i, &c) in b.iter().enumerate() {
        if c == b'|' {
            if k == w {
                return WHY.get(start..i).unwrap_or("");
            }
            k += 1;
            start = i + 1;
        }
    }
    WHY.get(start..).unwrap_or("")
}

const TRUNCATED: Why = 0;
const BAD_MAGIC: Why = 1;
const BAD_VERSION: Why = 2;
const BAD_CHECKSUM: Why = 3;
const BAD_METRIC: Why = 4;
const BAD_STORAGE: Why = 5;
const BAD_PARAMETERS: Why = 6;
const TRAILING_BYTES: Why = 7;
const ZERO_DIMENSIONS: Why = 8;
const BAD_LEVEL: Why = 9;
const BAD_LINK_COUNT: Why = 10;
const BAD_ENTRY_POINT: Why = 11;
const NON_FINITE_VECTOR: Why = 12;
const DUPLICATE_ID: Why = 13;
const LIST_OVERFLOW: Why = 14;
const BAD_NEIGHBOUR: Why = 15;
const COUNTS_EXCEED_DATA: Why = 16;
const TOO_MANY_VECTORS: Why = 17;

impl Index {
    /// A versioned, checksummed snapshot; compacts first.
    pub fn save(&mut self) -> alloc::vec::Vec<u8> {
        let (p, len, cap) = self.snapshot().into_raw_parts();
        // SAFETY: `Buf<u8>` allocated the block with `Layout::array::<u8>(cap)`
        // from the global allocator, exactly as `Vec<u8>` would.
        unsafe { alloc::vec::Vec::from_raw_parts(p, len, cap) }
    }

    /// [`Index::save`] into an exactly-sized buffer.
    pub(crate) fn snapshot(&mut self) -> Buf<u8> {
        self.compact();
        let g = &self.g;
        let n = g.len();
        let mut out = Buf::default();
        let links = g.links0.len() + g.links.len();
        out.reserve(4 * (HEADER + g.meta.len() + g.vecs.len() + links + 1));
        put(
            &mut out,
            &[
                u32::from_le_bytes(MAGIC),
                FORMAT_VERSION,
                g.dims as u32,
                g.metric as u32 | (g.int8 as u32) << 8,
                g.m as u32,
                g.efc as u32,
                n as u32,
                g.entry,
                g.max_level,
                self.rng as u32,
                (self.rng >> 32) as u32,
                links as u32,
            ],
        );
        for a in [&g.meta, &g.vecs] {
            put(&mut out, a);
        }
        for u in 0..n as u32 {
            put(&mut out, g.list(u, 0));
            let up = g.upper_words(g.level(u));
            put(&mut out, sub(&g.links, g.meta(u, LINKS) as usize, up));
        }
        let sum = fnv1a(&out);
        put(&mut out, &[sum]);
        out
    }

    /// Reads a snapshot. Hostile bytes give `CorruptData` or `Capacity`,
    /// never a panic, and nothing is allocated until the header's counts
    /// have been checked against the bytes actually present.
    pub fn load(bytes: &[u8]) -> Result<Index, Error> {
        load(bytes).map_err(|w| {
            let m = why(w);
            if w >= COUNTS_EXCEED_DATA {
                Error::Capacity(m)
            } else {
                Error::CorruptData(m)
            }
        })
    }
}

fn load(bytes: &[u8]) -> Result<Index, Why> {
    let (all, tail) = bytes.as_chunks::<4>();
    let h = |i: usize| all.get(i).map_or(0, |c| u32::from_le_bytes(*c));
    if !tail.is_empty() || all.len() < HEADER + 1 {
        return Err(TRUNCATED);
    }
    if h(0) != u32::from_le_bytes(MAGIC) {
        return Err(BAD_MAGIC);
    }
    if h(1) != FORMAT_VERSION {
        return Err(BAD_VERSION);
    }
    let body = bytes.get(..bytes.len() - 4).unwrap_or(&[]);
    if fnv1a(body) != h(all.len() - 1) {
        return Err(BAD_CHECKSUM);
    }
    let dims = h(2) as usize;
    let metric = match h(3) & 0xffff_00ff {
        0 => Metric::Cosine,
        1 => Metric::L2,
        2 => Metric::Dot,
        _ => return Err(BAD_METRIC),
    };
    let int8 = match h(3) >> 8 {
        0 => false,
        1 => true,
        _ => return Err(BAD_STORAGE),
    };
    let (m, efc) = (h(4) as usize, h(5) as usize);
    if !(2..=64).contains(&m) || efc < m {
        return Err(BAD_PARAMETERS);
    }
    let (n, entry, max_level) = (h(6) as usize, h(7), h(8));
    let rng = h(9) as u64 | (h(10) as u64) << 32;
    let slots = h(11) as u64;

    // Account for every word before allocating anything (by division,
    // so that no product of hostile counts can overflow).
    let per_node = META as u64 + dims as u64;
    let have = (all.len() - HEADER - 1) as u64;
    if n as u64 > have / per_node {
        return Err(COUNTS_EXCEED_DATA);
    }
    let rest_words = have - n as u64 * per_node;
    if slots > rest_words {
        return Err(COUNTS_EXCEED_DATA);
    }
    if slots < rest_words {
        return Err(TRAILING_BYTES);
    }
    if n >= NONE as usize {
        return Err(TOO_MANY_VECTORS);
    }
    if n > 0 && dims == 0 {
        return Err(ZERO_DIMENSIONS);
    }

    let mut rest = all.get(HEADER..all.len() - 1).unwrap_or(&[]);
    let mut g = Graph::new(dims, metric, int8, m, efc);
    g.meta = words(&mut rest, META * n);
    g.vecs = words(&mut rest, n * dims);
    // Per node, its layer-0 block goes to one array and its upper blocks to
    // the other (see `graph`). A range past the end copies nothing, and
    // then `at` cannot match the header's count below.
    let flat = words(&mut rest, slots as usize);
    let (mut at, mut up) = (0, 0);
    let mut top = 0;
    let s0 = g.stride0();
    for u in 0..n as u32 {
        let l = g.meta(u, LEVEL);
        if l > MAX_LEVEL {
            return Err(BAD_LEVEL);
        }
        *g.meta_mut(u, LINKS) = up as u32;
        let len = g.link_words(l);
        let b = flat.get(at..at + len).unwrap_or(&[]);
        let (l0, upper) = b.split_at_checked(s0).unwrap_or((&[], &[]));
        g.links0.extend_from_slice(l0);
        g.links.extend_from_slice(upper);
        at += len;
        up += upper.len();
        top = top.max(l);
        // Stop as soon as the blocks outrun the data: `at` then stays within
        // a block of the input's size, far from overflowing.
        if at as u64 > slots {
            return Err(BAD_LINK_COUNT);
        }
    }
    if at as u64 != slots {
        return Err(BAD_LINK_COUNT);
    }
    drop(flat);
    let entry_ok = if n == 0 {
        entry == NONE && max_level == 0
    } else {
        (entry as usize) < n && g.level(entry) == top && max_level == top
    };
    if !entry_ok {
        return Err(BAD_ENTRY_POINT);
    }
    (g.entry, g.max_level) = (entry, top);
    if !all_finite(f32s(&g.vecs)) {
        return Err(NON_FINITE_VECTOR);
    }
    validate_links(&g)?;
    let mut map = IdMap::default();
    for node in 0..n as u32 {
        // Derive the quantised copies exactly as `insert` did.
        g.derive(node);
        if map.get(g.id(node), &g.meta).is_some() {
            return Err(DUPLICATE_ID);
        }
        map.insert(node, &g.meta);
    }
    Ok(Index {
        g,
        map,
        rng,
        s: Scratch::default(),
        qf: Buf::default(),
        q8: Buf::default(),
    })
}

/// Every list within its capacity; every link to another existing node that
/// lives on that layer (so that following it can never leave the arrays).
fn validate_links(g: &Graph) -> Result<(), Why> {
    let n = g.len();
    for u in 0..n as u32 {
        for l in 0..g.level(u) + 1 {
            if g.count(u, l) as usize > g.cap(l) {
                return Err(LIST_OVERFLOW);
            }
            for &x in g.neighbours(u, l) {
                if x as usize >= n || x == u || g.level(x) < l {
                    return Err(BAD_NEIGHBOUR);
                }
            }
        }
    }
    Ok(())
}
