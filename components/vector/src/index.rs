//! The public index: argument checks, id bookkeeping, deletes and search on
//! top of [`crate::graph`].

use crate::buf::Buf;
use crate::graph::{
    f32s, f32s_mut, i8s, normalize, quantize, Graph, Query, Scratch, DELETED, LEVEL, MAX_LEVEL,
    META, NONE,
};
use crate::heap::{self, key};
use crate::idmap::IdMap;
use crate::{bits, kernels, Error, Hit, Metric, Params, Storage};

pub struct Index {
    pub(crate) g: Graph,
    pub(crate) map: IdMap,
    pub(crate) rng: u64,
    pub(crate) s: Scratch,
    /// A search's query, normalised, and its int8 copy: kept between
    /// searches so that a search allocates nothing but its result.
    pub(crate) qf: Buf<u32>,
    pub(crate) q8: Buf<u32>,
}

/// xorshift64 (Marsaglia): three shifts, enough to draw node levels. A
/// zero state (possible only from a crafted snapshot) is lifted to 1.
fn xorshift(state: &mut u64) -> u64 {
    let mut x = (*state).max(1);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Whether `nodes` nodes of `per_node` bytes each stay addressable (a `Vec`
/// may not exceed `isize::MAX` bytes; on wasm32 that is 2 GiB).
pub(crate) fn fits(nodes: usize, per_node: usize) -> bool {
    nodes
        .checked_mul(per_node)
        .is_some_and(|b| b <= isize::MAX as usize)
}

/// `x * 0` is NaN exactly for infinities and NaNs, and NaN survives the sum:
/// one cheap pass instead of a branch per component.
#[inline(never)]
pub(crate) fn all_finite(v: &[f32]) -> bool {
    !v.iter().fold(0.0f32, |a, x| a + x * 0.0).is_nan()
}

impl Index {
    /// An empty index; `m` is clamped to 2..=64 and `ef_construction` to at
    /// least `m`. `dims = 0` gives an index that rejects every vector.
    pub fn new(dims: u32, metric: Metric, params: Params) -> Index {
        let m = params.m.clamp(2, 64) as usize;
        // Deterministic per-index seed: the same inserts build the same graph
        // natively and in wasm.
        let rng = 0x5EED_0000_0000_0000 ^ ((dims as u64) << 8) ^ ((metric as u64) << 4) ^ m as u64;
        Index {
            g: Graph::new(
                dims as usize,
                metric,
                params.storage == Storage::Int8,
                m,
                (params.ef_construction as usize).max(m),
            ),
            map: IdMap::default(),
            rng,
            s: Scratch::default(),
            qf: Buf::default(),
            q8: Buf::default(),
        }
    }

    pub fn dims(&self) -> u32 {
        self.g.dims as u32
    }

    pub fn metric(&self) -> Metric {
        self.g.metric
    }

    /// The effective (clamped) parameters.
    pub fn params(&self) -> Params {
        Params {
            m: self.g.m as u32,
            ef_construction: self.g.efc as u32,
            storage: if self.g.int8 {
                Storage::Int8
            } else {
                Storage::F32
            },
        }
    }

    /// Number of live vectors.
    pub fn len(&self) -> u64 {
        (self.g.len() - self.g.n_deleted) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of graph nodes, deleted ones included.
    pub fn nodes(&self) -> usize {
        self.g.len()
    }

    fn check(&self, v: &[f32]) -> Result<(), Error> {
        if self.g.dims == 0 || v.len() != self.g.dims {
            return Err(Error::DimensionMismatch {
                expected: self.g.dims as u32,
                got: v.len() as u32,
            });
        }
        if !all_finite(v) {
            return Err(Error::InvalidArgument("non-finite component"));
        }
        Ok(())
    }

    /// Level `l` with probability `(1/m)^l (1 - 1/m)`: the exponential
    /// distribution of the paper with `mL = 1/ln(m)`, without needing `ln`.
    fn random_level(&mut self) -> u32 {
        let p = u32::MAX / (self.g.m as u32).max(1);
        let mut l = 0;
        while l < MAX_LEVEL && ((xorshift(&mut self.rng) >> 32) as u32) < p {
            l += 1;
        }
        l
    }

    /// Adds `v` under `id`; cosine vectors are normalised.
    pub fn insert(&mut self, id: u64, v: &[f32]) -> Result<(), Error> {
        self.check(v)?;
        if self.map.get(id, &self.g.meta).is_some() {
            return Err(Error::DuplicateId(id));
        }
        let g = &self.g;
        let n = g.len() + 1;
        // Every array must stay addressable: vector and record per node;
        // links in total (their offsets are u32).
        if n >= NONE as usize
            || !fits(n, 4 * (g.dims + META + g.stride0()))
            || g.links.len() > (u32::MAX / 4) as usize
        {
            return Err(Error::Capacity("too many vectors"));
        }
        let level = self.random_level();
        self.g.push_node(id, v, level);
        self.map.insert(n as u32 - 1, &self.g.meta);
        self.g.link_new(n as u32 - 1, &mut self.s);
        Ok(())
    }

    /// Tombstones `id`; the node keeps routing searches until `compact`.
    pub fn remove(&mut self, id: u64) -> bool {
        match self.map.remove(id, &self.g.meta) {
            Some(n) => {
                *self.g.meta_mut(n, LEVEL) |= DELETED;
                self.g.n_deleted += 1;
                true
            }
            None => false,
        }
    }

    /// The `k` nearest live vectors, closest first.
    pub fn search(
        &mut self,
        query: &[f32],
        k: u32,
        ef: u32,
    ) -> Result<alloc::vec::Vec<Hit>, Error> {
        let (p, len, cap) = self.search_buf(query, k, ef)?.into_raw_parts();
        // SAFETY: `Buf<Hit>` allocated the block with `Layout::array::<Hit>(cap)`
        // from the global allocator, exactly as `Vec<Hit>` would.
        Ok(unsafe { alloc::vec::Vec::from_raw_parts(p, len, cap) })
    }

    /// [`Index::search`] into a [`Buf`], which the component hands over as is.
    pub(crate) fn search_buf(&mut self, query: &[f32], k: u32, ef: u32) -> Result<Buf<Hit>, Error> {
        self.check(query)?;
        if k == 0 {
            return Err(Error::InvalidArgument("k = 0"));
        }
        let (g, s) = (&self.g, &mut self.s);
        let mut hits = Buf::default();
        if g.entry == NONE || g.len() == g.n_deleted {
            return Ok(hits);
        }
        let (qf, q8) = (&mut self.qf, &mut self.q8);
        qf.clear();
        q8.clear();
        qf.extend_from_slice(bits(query));
        let f = f32s_mut(qf);
        if g.metric == Metric::Cosine {
            normalize(f);
        }
        let scale = if g.int8 { quantize(f, q8) } else { 0.0 };
        let f = f32s(qf);
        let q = Query {
            f,
            q: i8s(q8),
            scale,
            norm: kernels::dot(f, f),
            node: false,
        };
        let ep = g.descend(&q, 0);
        g.search_layer(&q, ep, (ef as usize).max(k as usize), 0, s);
        if g.int8 {
            // Rescore the walk's candidates exactly; only the order of these
            // `ef` nodes depended on the quantised distances.
            s.res.drain(&mut s.sorted);
            for &c in &s.sorted {
                let n = heap::node(c);
                s.res.push(key(g.exact(&q, n), n));
            }
        }
        s.res.drain(&mut s.sorted);
        for &c in s.sorted.iter().rev().take(k as usize) {
            hits.push(Hit {
                id: g.id(heap::node(c)),
                distance: heap::dist(c),
            });
        }
        Ok(hits)
    }
}
