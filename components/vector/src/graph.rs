//! The HNSW graph proper: storage, distance, layer search, Malkov's
//! neighbour-selection heuristic and the wiring of a new node.
//!
//! Everything is a flat `Buf<u32>` indexed by node number: vectors (`dims`
//! words of `f32` bits each, contiguous), int8 copies (packed four to a
//! word), a [`META`]-word record per node, and the links: per node, at the
//! offset its record gives, a layer-0 block of `2m + 1` words (a count, then
//! the neighbours) followed by one block of `m + 1` words per upper level.
//! Flat arrays keep the walk cache-friendly and make a snapshot a sequence
//! of word copies; one element type and four arrays keep the component's
//! copy of the code small.
//!
//! Accessors use `get` with an empty fallback instead of indexing: the
//! invariants (checked by `load`) make the fallback unreachable, and keeping
//! panics out of the code keeps `core::fmt` out of the component.

use crate::buf::Buf;
use crate::heap::{self, key, Heap};
use crate::{bits, kernels, rsqrt, Metric};

/// Highest level a node may get; P(level >= 16) is at most 2^-16 even at m = 2.
pub(crate) const MAX_LEVEL: u32 = 16;
/// Set in the level word while a node is tombstoned.
pub(crate) const DELETED: u32 = 0x100;
/// Words per node record: id (low, high), level | [`DELETED`], offset of
/// the node's link blocks, int8 scale, squared norm (the last two as f32
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

/// `&v[start..start + len]`. Every range reaching here is an invariant of
/// the graph (validated by `load`, maintained by insert and compact), so in
/// the component the check is dropped: it is the commonest operation in the
/// code, and the 16 KB budget counts every byte. Native builds keep it, and
/// the test suite would see a violation as a panic.
#[inline(always)]
pub(crate) fn sub(v: &[u32], start: usize, len: usize) -> &[u32] {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: see above; inside wasm the worst case of a broken invariant
    // is a wrong result or a trap, confined to this instance's memory.
    unsafe {
        core::slice::from_raw_parts(v.as_ptr().add(start), len)
    }
    #[cfg(not(target_arch = "wasm32"))]
    &v[start..start + len]
}

#[inline(always)]
pub(crate) fn sub_mut(v: &mut [u32], start: usize, len: usize) -> &mut [u32] {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: as for `sub`.
    unsafe {
        core::slice::from_raw_parts_mut(v.as_mut_ptr().add(start), len)
    }
    #[cfg(not(target_arch = "wasm32"))]
    &mut v[start..start + len]
}

/// Words holding `f32` bits, viewed as floats.
#[inline]
pub(crate) fn f32s(v: &[u32]) -> &[f32] {
    // SAFETY: u32 and f32 have the same size and alignment and every bit
    // pattern is a valid f32.
    unsafe { core::slice::from_raw_parts(v.as_ptr().cast(), v.len()) }
}

#[inline]
pub(crate) fn f32s_mut(v: &mut [u32]) -> &mut [f32] {
    // SAFETY: as for `f32s`.
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), v.len()) }
}

/// Packed words as signed bytes, padding included (it is zero, so it adds
/// nothing to a dot product, and it lets the kernel skip a tail loop).
#[inline]
pub(crate) fn i8s(v: &[u32]) -> &[i8] {
    // SAFETY: exactly the bytes `v` owns; i8 has alignment 1 and every bit
    // pattern is valid.
    unsafe { core::slice::from_raw_parts(v.as_ptr().cast(), 4 * v.len()) }
}

pub(crate) fn normalize(v: &mut [f32]) {
    let inv = rsqrt(kernels::dot(v, v));
    if inv > 0.0 {
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// Appends `v` quantised symmetrically to -127..=127, zero-padded to a
/// multiple of 8 bytes (see [`kernels::dot_i8`]); returns the scale.
pub(crate) fn quantize(v: &[f32], out: &mut Buf<u32>) -> f32 {
    let max = v.iter().fold(0f32, |m, x| {
        let a = f32::from_bits(x.to_bits() & 0x7fff_ffff);
        if a > m {
            a
        } else {
            m
        }
    });
    let inv = if max > 0.0 { 127.0 / max } else { 0.0 };
    let start = out.len();
    out.resize(start + 2 * v.len().div_ceil(8), 0);
    let words = out.get_mut(start..).unwrap_or(&mut []);
    // SAFETY: a byte view of words this function just appended.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), 4 * words.len())
    };
    for (b, x) in bytes.iter_mut().zip(v) {
        // Round half up on the offset range 1.5..=255.5, then flip back to
        // two's complement: no sign branch.
        *b = ((x * inv + 128.5) as u8) ^ 0x80;
    }
    max / 127.0
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

    /// Words of link blocks a node of `level` owns.
    #[inline]
    pub fn link_words(&self, level: u32) -> usize {
        2 * self.m + 1 + level as usize * (self.m + 1)
    }

    /// The slot block of `node` at `level`: start and length in `links`.
    #[inline]
    fn block_at(&self, node: u32, level: u32) -> (usize, usize) {
        let o = self.meta(node, LINKS) as usize;
        if level == 0 {
            (o, 2 * self.m + 1)
        } else {
            (self.link_words(level - 1) + o, self.m + 1)
        }
    }

    /// The whole slot block (count, then `cap` slots) of `node` at `level`.
    #[inline]
    pub fn block(&mut self, node: u32, level: u32) -> &mut [u32] {
        let (o, s) = self.block_at(node, level);
        sub_mut(&mut self.links, o, s)
    }

    /// The stored count of the list of `node` at `level`, unclamped (only
    /// `load` needs it, to validate it).
    pub fn count(&self, node: u32, level: u32) -> u32 {
        sub(&self.links, self.block_at(node, level).0, 1)[0]
    }

    /// The used part of the neighbour list of `node` at `level`.
    #[inline]
    pub fn neighbours(&self, node: u32, level: u32) -> &[u32] {
        let (o, s) = self.block_at(node, level);
        let c = sub(&self.links, o, 1)[0] as usize;
        sub(&self.links, o + 1, c.min(s - 1))
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
        let o = self.query_of(node);
        self.score(q, &o, kernels::dot(q.f, o.f))
    }

    /// Distance used for the graph walk: exact, or from the int8 copies.
    #[inline]
    pub fn dist(&self, q: &Query, node: u32) -> f32 {
        if !self.int8 {
            return self.exact(q, node);
        }
        let o = self.query_of(node);
        let ip = kernels::dot_i8(q.q, o.q) as f32 * (q.scale * o.scale);
        self.score(q, &o, ip)
    }

    /// The distance between `q` and `o` given their inner product.
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
    #[inline]
    fn score(&self, q: &Query, o: &Query, ip: f32) -> f32 {
        match self.metric {
            Metric::Cosine => 1.0 - ip,
            Metric::L2 => q.norm + o.norm - 2.0 * ip,
            Metric::Dot if q.node => {
                let t = (self.phi - q.norm).max(0.0) * (self.phi - o.norm).max(0.0);
                2.0 * (self.phi - ip - t * rsqrt(t))
            }
            Metric::Dot => -ip,
        }
    }

    /// Greedy descent on one upper layer (ef = 1).
    pub fn greedy(&self, q: &Query, mut cur: u64, level: u32) -> u64 {
        loop {
            let mut changed = false;
            for &nb in self.neighbours(heap::node(cur), level) {
                let k = key(self.dist(q, nb), nb);
                if k < cur {
                    cur = k;
                    changed = true;
                }
            }
            if !changed {
                return cur;
            }
        }
    }

    /// Greedy descent from the entry point down to layer `to + 1`.
    pub fn descend(&self, q: &Query, to: u32) -> u64 {
        let mut ep = key(self.dist(q, self.entry), self.entry);
        let mut l = self.max_level;
        while l > to {
            ep = self.greedy(q, ep, l);
            l -= 1;
        }
        ep
    }

    /// Best-first search of one layer from `ep`, keeping the `ef` closest live
    /// nodes in `s.res`. Deleted nodes are walked through but never returned;
    /// while there are any, the walk goes on until `ef` live nodes are found.
    pub fn search_layer(&self, q: &Query, ep: u64, ef: usize, level: u32, s: &mut Scratch) {
        s.begin(self.len());
        s.cand.clear();
        s.res.clear();
        let deletions = self.n_deleted > 0;
        s.seen(heap::node(ep));
        s.cand.push(!ep);
        let mut bound = u64::MAX;
        if !self.is_deleted(heap::node(ep)) {
            s.res.push(ep);
            bound = ep;
        }
        while let Some(c) = s.cand.pop() {
            let c = !c;
            if c > bound && (s.res.len() >= ef || !deletions) {
                break;
            }
            for &nb in self.neighbours(heap::node(c), level) {
                if s.seen(nb) {
                    continue;
                }
                let k = key(self.dist(q, nb), nb);
                if s.res.len() < ef || k < bound {
                    s.cand.push(!k);
                    if !self.is_deleted(nb) {
                        s.res.push(k);
                        if s.res.len() > ef {
                            s.res.pop();
                        }
                    }
                    if let Some(t) = s.res.peek() {
                        bound = t;
                    }
                }
            }
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
        self.links.resize(at + self.link_words(level), 0);
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
