//! The HNSW graph proper: storage, distance, layer search, Malkov's
//! neighbour-selection heuristic and the wiring of a new node.
//!
//! Everything is a flat `Buf<u32>` indexed by node number: vectors (`dims`
//! words of `f32` bits each, one contiguous arena), int8 copies (packed
//! four to a word), a [`META`]-word record per node, and the links. Layer 0,
//! where a search spends nearly all its time, is one array of fixed-size
//! blocks of `2m + 1` words (a count, then the neighbours), so a node's list
//! is found by multiplication, without first reading its record: one memory
//! access fewer on the hottest path, and an address the walk can prefetch.
//! The upper layers are a second array: per node with levels, at the offset
//! its record gives, one block of `m + 1` words per level above 0. Flat
//! arrays keep the walk cache-friendly and make a snapshot a few word
//! copies; one element type keeps the component's copy of the code small.
//!
//! Accessors use `get` with an empty fallback instead of indexing: the
//! invariants (checked by `load`) make the fallback unreachable, and keeping
//! panics out of the code keeps `core::fmt` out of the component.

use crate::buf::Buf;
use crate::heap::{self, key, Heap};
pub(crate) use crate::slices::{f32s, f32s_mut, i8s, normalize, quantize, sub, sub_mut};
use crate::{bits, kernels, rsqrt, Metric};

/// Highest level a node may get; P(level >= 16) is at most 2^-16 even at m = 2.
pub(crate) const MAX_LEVEL: u32 = 16;
/// Set in the level word while a node is tombstoned.
pub(crate) const DELETED: u32 = 0x100;
/// Words per node record: id (low, high), level | [`DELETED`], offset of
/// the node's upper-layer link blocks in `links`, int8 scale, squared norm (the last two as f32
/// bits, zero when the storage and metric do not need them: cosine vectors
/// are unit length).
pub(crate) const META: usize = 6;
pub(crate) const LEVEL: usize = 2;
pub(crate) const LINKS: usize = 3;
pub(crate) const SCALE: usize = 4;
pub(crate) const NORM: usize = 5;
/// `entry` of an empty graph; also keeps `node + 1` within `u32`.
pub(crate) const NONE: u32 = u32::MAX;

pub(crate) struct Graph {
    pub dims: usize,
    pub metric: Metric,
    pub int8: bool,
    /// Degree on upper layers; layer 0 allows `2 * m`.
    pub m: usize,
    pub efc: usize,
    pub vecs: Buf<u32>,
    /// Int8 storage only: quantised copies, `qwords` words per node.
    pub q8: Buf<u32>,
    pub meta: Buf<u32>,
    /// Dot metric: the largest squared norm so far (Φ² below).
    pub phi: f32,
    pub n_deleted: usize,
    /// Layer-0 lists, `2m + 1` words per node.
    pub links0: Buf<u32>,
    /// Upper-layer lists, `m + 1` words per node and level above 0.
    pub links: Buf<u32>,
    pub entry: u32,
    pub max_level: u32,
}

/// Reusable per-operation buffers, so a search allocates only its result.
#[derive(Default)]
pub(crate) struct Scratch {
    visited: Buf<u32>,
    epoch: u32,
    pub cand: Heap,
    pub res: Heap,
    /// Candidates in descending distance order (closest last).
    pub sorted: Buf<u64>,
    pub sel: Buf<u32>,
    pub sel2: Buf<u32>,
    /// The unvisited neighbours of the node being expanded (see `search`).
    pub batch: Buf<u32>,
}

impl Scratch {
    /// Starts a new visited set in O(1): a node counts as visited when its
    /// stamp equals the current epoch.
    pub fn begin(&mut self, n: usize) {
        if self.visited.len() < n {
            self.visited.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.visited.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `node`; returns whether it was already marked.
    #[inline]
    pub fn seen(&mut self, node: u32) -> bool {
        match self.visited.get_mut(node as usize) {
            Some(s) if *s != self.epoch => {
                *s = self.epoch;
                false
            }
            _ => true,
        }
    }
}

/// A vector to measure against, in both representations. `node` marks a
/// stored vector (measured against other nodes while building) as opposed
/// to a search query.
pub(crate) struct Query<'a> {
    pub f: &'a [f32],
    pub q: &'a [i8],
    pub scale: f32,
    pub norm: f32,
    pub node: bool,
}

impl Graph {
    #[inline(never)]
    pub fn new(dims: usize, metric: Metric, int8: bool, m: usize, efc: usize) -> Graph {
        Graph {
            dims,
            metric,
            int8,
            m,
            efc,
            vecs: Buf::default(),
            q8: Buf::default(),
            meta: Buf::default(),
            phi: 0.0,
            n_deleted: 0,
            links0: Buf::default(),
            links: Buf::default(),
            entry: NONE,
            max_level: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.meta.len() / META
    }

    #[inline]
    pub fn qwords(&self) -> usize {
        2 * self.dims.div_ceil(8)
    }

    #[inline]
    pub fn cap(&self, level: u32) -> usize {
        if level == 0 {
            2 * self.m
        } else {
            self.m
        }
    }

    /// Word `field` of the record of `node` (`node < len`, see [`sub`]).
    #[inline(never)]
    pub fn meta(&self, node: u32, field: usize) -> u32 {
        sub(&self.meta, node as usize * META + field, 1)[0]
    }

    #[inline]
    pub fn meta_mut(&mut self, node: u32, field: usize) -> &mut u32 {
        &mut sub_mut(&mut self.meta, node as usize * META + field, 1)[0]
    }

    #[inline]
    pub fn is_deleted(&self, node: u32) -> bool {
        self.meta(node, LEVEL) & DELETED != 0
    }

    #[inline]
    pub fn level(&self, node: u32) -> u32 {
        self.meta(node, LEVEL) & 0xff
    }

    pub fn id(&self, node: u32) -> u64 {
        self.meta(node, 0) as u64 | (self.meta(node, 1) as u64) << 32
    }

    /// Words of link blocks a node of `level` owns (as a snapshot stores
    /// them: its layer-0 block, then its upper blocks).
    #[inline]
    pub fn link_words(&self, level: u32) -> usize {
        self.stride0() + self.upper_words(level)
    }

    /// Words a layer-0 block takes: the count and `2m` slots.
    #[inline]
    pub fn stride0(&self) -> usize {
        2 * self.m + 1
    }

    /// Words of upper-layer blocks a node of `level` owns in `links`.
    #[inline]
    pub fn upper_words(&self, level: u32) -> usize {
        level as usize * (self.m + 1)
    }

    /// The slot block (count, then the slots) of `node` at `level`.
    #[inline]
    pub fn list(&self, node: u32, level: u32) -> &[u32] {
        if level == 0 {
            let s = self.stride0();
            sub(&self.links0, node as usize * s, s)
        } else {
            let o = self.meta(node, LINKS) as usize + self.upper_words(level - 1);
            sub(&self.links, o, self.m + 1)
        }
    }

    /// [`Graph::list`], writable.
    #[inline]
    pub fn block(&mut self, node: u32, level: u32) -> &mut [u32] {
        if level == 0 {
            let s = self.stride0();
            sub_mut(&mut self.links0, node as usize * s, s)
        } else {
            let o = self.meta(node, LINKS) as usize + self.upper_words(level - 1);
            sub_mut(&mut self.links, o, self.m + 1)
        }
    }

    /// The stored count of the list of `node` at `level`, unclamped (only
    /// `load` needs it, to validate it).
    pub fn count(&self, node: u32, level: u32) -> u32 {
        self.list(node, level).first().copied().unwrap_or(0)
    }

    /// The used part of the neighbour list of `node` at `level`.
    #[inline]
    pub fn neighbours(&self, node: u32, level: u32) -> &[u32] {
        let b = self.list(node, level);
        let c = b.first().copied().unwrap_or(0) as usize;
        sub(b, 1, c.min(b.len().saturating_sub(1)))
    }

    pub fn set_neighbours(&mut self, node: u32, level: u32, list: &[u32]) {
        let b = self.block(node, level);
        if let Some((c, rest)) = b.split_first_mut() {
            *c = list.len().min(rest.len()) as u32;
            rest.iter_mut().zip(list).for_each(|(d, x)| *d = *x);
        }
    }

    /// Appends `x` to the list of `node` at `level` if it has room.
    fn try_append(&mut self, node: u32, level: u32, x: u32) -> bool {
        let b = self.block(node, level);
        if let Some((c, rest)) = b.split_first_mut() {
            if let Some(slot) = rest.get_mut(*c as usize) {
                *slot = x;
                *c += 1;
                return true;
            }
        }
        false
    }

    #[inline]
    pub fn vector(&self, node: u32) -> &[f32] {
        f32s(sub(&self.vecs, node as usize * self.dims, self.dims))
    }

    /// The words [`Graph::dist`] reads for `node`: its vector, or its int8
    /// copy (what the walk prefetches).
    #[cfg(target_arch = "x86_64")]
    #[inline]
    pub fn walk_words(&self, node: u32) -> &[u32] {
        if self.int8 {
            let w = self.qwords();
            sub(&self.q8, node as usize * w, w)
        } else {
            sub(&self.vecs, node as usize * self.dims, self.dims)
        }
    }

    #[inline]
    pub fn query_of(&self, node: u32) -> Query<'_> {
        let i = node as usize;
        let w = self.qwords();
        Query {
            f: self.vector(node),
            q: if self.int8 {
                i8s(sub(&self.q8, i * w, w))
            } else {
                &[]
            },
            scale: f32::from_bits(self.meta(node, SCALE)),
            norm: f32::from_bits(self.meta(node, NORM)),
            node: true,
        }
    }

    /// Exact distance from `q` to `node`.
    #[inline]
    pub fn exact(&self, q: &Query, node: u32) -> f32 {
        self.measure(q, node, true)
    }

    /// Distance used for the graph walk: exact, or from the int8 copies.
    #[inline]
    pub fn dist(&self, q: &Query, node: u32) -> f32 {
        self.measure(q, node, false)
    }

    /// [`Graph::dist`] to two nodes, the same bits as two calls: over
    /// `f32` one kernel streams both vectors ([`kernels::dot2`]).
    #[inline(never)]
    pub fn dist2(&self, q: &Query, a: u32, b: u32) -> (f32, f32) {
        if self.int8 {
            return (self.dist(q, a), self.dist(q, b));
        }
        let (x, y) = kernels::dot2(q.f, self.vector(a), self.vector(b));
        (self.score(q, a, x), self.score(q, b, y))
    }

    /// The hot path of every search and insert, one function for both
    /// kinds of distance (one copy in the component): for cosine over
    /// `f32` it reads the node's vector and nothing else (no record, no
    /// `Query` built for the other side).
    #[inline(never)]
    fn measure(&self, q: &Query, node: u32, exact: bool) -> f32 {
        let ip = if exact || !self.int8 {
            kernels::dot(q.f, self.vector(node))
        } else {
            let w = self.qwords();
            let o = i8s(sub(&self.q8, node as usize * w, w));
            let scale = f32::from_bits(self.meta(node, SCALE));
            kernels::dot_i8(q.q, o) as f32 * (q.scale * scale)
        };
        self.score(q, node, ip)
    }

    /// The distance between `q` and `node` given their inner product.
    ///
    /// Squared L2 is `|q|² + |o|² - 2 q·o` from the stored norms (as FAISS
    /// computes it), which needs one kernel fewer in the component; its
    /// rounding error is about `1e-7 * |q|²`, far below neighbour gaps.
    ///
    /// Inner product is not a metric (a vector need not be its own nearest
    /// neighbour), which wrecks the neighbour heuristic. So between two
    /// nodes the dot metric uses the MIPS-to-L2 reduction of Bachrach et
    /// al. (2014): with `x' = [x, sqrt(Φ² - |x|²)]`, `|x' - y'|²` is a true
    /// squared distance. A query is `[q, 0]`, whose distance to `x'` is
    /// `|q|² + Φ² - 2 q·x`; ranking by `-q·x` is the same order, so
    /// queries keep the plain negated dot product.
    ///
    /// The node's norm is read only by the metrics that use it. One copy
    /// in the component ([`Graph::dist2`] calls it twice: -155 bytes).
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn score(&self, q: &Query, node: u32, ip: f32) -> f32 {
        let norm = || f32::from_bits(self.meta(node, NORM));
        match self.metric {
            Metric::Cosine => 1.0 - ip,
            Metric::L2 => q.norm + norm() - 2.0 * ip,
            Metric::Dot if q.node => {
                let t = (self.phi - q.norm).max(0.0) * (self.phi - norm()).max(0.0);
                2.0 * (self.phi - ip - t * rsqrt(t))
            }
            Metric::Dot => -ip,
        }
    }

    /// Malkov's heuristic (algorithm 4, as in hnswlib): walk candidates
    /// closest-first and keep one only if it is closer to the base than to
    /// every neighbour kept so far, which spreads links across directions
    /// instead of piling them into one cluster.
    /// `sorted` is in descending order (as [`Heap::drain`] leaves it).
    pub fn select(&self, sorted: &[u64], m: usize, out: &mut Buf<u32>) {
        out.clear();
        for &k in sorted.iter().rev() {
            if out.len() >= m {
                break;
            }
            let (c, dq) = (heap::node(k), heap::dist(k));
            let q = self.query_of(c);
            if sorted.len() <= m || out.iter().all(|&r| self.dist(&q, r) >= dq) {
                out.push(c);
            }
        }
    }

    /// Rebuilds the list of `node` at `level` from the candidates in `s.res`.
    pub fn relink(&mut self, node: u32, level: u32, s: &mut Scratch) {
        s.res.drain(&mut s.sorted);
        self.select(&s.sorted, self.cap(level), &mut s.sel2);
        let sel2 = core::mem::take(&mut s.sel2);
        self.set_neighbours(node, level, &sel2);
        s.sel2 = sel2;
    }

    /// Links `node` to `s.sel` on `level` and adds the reverse links, pruning
    /// a full neighbour list with the heuristic.
    fn connect(&mut self, node: u32, level: u32, s: &mut Scratch) {
        self.set_neighbours(node, level, &s.sel);
        for i in 0..s.sel.len() {
            let e = s.sel.get(i).copied().unwrap_or(node);
            if e == node || self.try_append(e, level, node) {
                continue;
            }
            let q = self.query_of(e);
            s.res.push(key(self.dist(&q, node), node));
            for &x in self.neighbours(e, level) {
                s.res.push(key(self.dist(&q, x), x));
            }
            self.relink(e, level, s);
        }
    }

    /// Wires a freshly appended node into the graph (algorithm 1).
    pub fn link_new(&mut self, node: u32, s: &mut Scratch) {
        let level = self.level(node);
        if self.entry == NONE {
            self.entry = node;
            self.max_level = level;
            return;
        }
        let top = self.max_level;
        let mut ep = self.descend(&self.query_of(node), level);
        let mut l = level.min(top) + 1;
        while l > 0 {
            l -= 1;
            {
                let q = self.query_of(node);
                self.search_layer(&q, ep, self.efc, l, s);
                s.res.drain(&mut s.sorted);
                if let Some(&k) = s.sorted.last() {
                    ep = k;
                }
                self.select(&s.sorted, self.m, &mut s.sel);
            }
            self.connect(node, l, s);
        }
        if level > top {
            self.entry = node;
            self.max_level = level;
        }
    }

    /// Appends a node with no links. Callers have checked the sizes; memory
    /// exhaustion itself traps in wasm (see `wasm.rs`) and aborts natively.
    pub fn push_node(&mut self, id: u64, v: &[f32], level: u32) {
        let start = self.vecs.len();
        self.vecs.extend_from_slice(bits(v));
        if self.metric == Metric::Cosine {
            normalize(f32s_mut(self.vecs.get_mut(start..).unwrap_or(&mut [])));
        }
        let at = self.links.len();
        self.meta
            .extend_from_slice(&[id as u32, (id >> 32) as u32, level, at as u32, 0, 0]);
        self.links0.resize(self.links0.len() + self.stride0(), 0);
        self.links.resize(at + self.upper_words(level), 0);
        self.derive(self.len() as u32 - 1);
    }

    /// Appends the int8 copy of `node`, the last one so far, and fills in
    /// its scale and norm, as far as storage and metric need them.
    pub fn derive(&mut self, node: u32) {
        let v = f32s(sub(&self.vecs, node as usize * self.dims, self.dims));
        let sc = if self.int8 {
            quantize(v, &mut self.q8)
        } else {
            0.0
        };
        let n = if self.int8 || self.metric != Metric::Cosine {
            kernels::dot(v, v)
        } else {
            0.0
        };
        self.phi = self.phi.max(n);
        *self.meta_mut(node, SCALE) = sc.to_bits();
        *self.meta_mut(node, NORM) = n.to_bits();
    }
}
