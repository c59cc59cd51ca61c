//! Dropping tombstoned nodes.
//!
//! Two passes. First every live node that links to a deleted one gets its list
//! rebuilt, per layer, from its live neighbours plus the live nodes up to two
//! hops beyond each deleted neighbour, pruned with the same heuristic as an
//! insert (hnswlib's repair strategy, extended by a hop so that clusters of
//! deletions do not strand their surroundings). Then the live nodes slide
//! down in place, in order, and every link is renumbered; no second copy of
//! the vectors is ever allocated.

use crate::buf::Buf;
use crate::graph::{Graph, Scratch, LINKS, META, NONE, NORM};
use crate::heap::key;
use crate::index::Index;

/// `copy_within` without its panic path (which formats integers).
fn move_within(v: &mut [u32], src: usize, len: usize, dst: usize) {
    let ok = |at: usize| at.checked_add(len).is_some_and(|e| e <= v.len());
    if ok(src) && ok(dst) {
        // SAFETY: both ranges were just checked to lie inside `v`;
        // `ptr::copy` allows them to overlap.
        unsafe { core::ptr::copy(v.as_ptr().add(src), v.as_mut_ptr().add(dst), len) }
    }
}

/// Moves the `stride`-word records of live nodes (those `remap` keeps) to
/// the front, in order.
fn squeeze(v: &mut Buf<u32>, stride: usize, remap: &[u32]) {
    let mut w = 0;
    for (r, &to) in remap.iter().enumerate() {
        if to != NONE {
            move_within(v, r * stride, stride, w);
            w += stride;
        }
    }
    v.truncate(w);
}

impl Index {
    /// Rebuilds the graph without deleted nodes, repairing the links that
    /// pointed at them.
    pub fn compact(&mut self) {
        if self.g.n_deleted == 0 {
            return;
        }
        repair(&mut self.g, &mut self.s);
        renumber(&mut self.g);
        self.map.rebuild(&self.g.meta);
    }
}

fn repair(g: &mut Graph, s: &mut Scratch) {
    let n = g.len();
    for u in 0..n as u32 {
        for l in 0..g.level(u) + 1 {
            if g.is_deleted(u) || !g.neighbours(u, l).iter().any(|&x| g.is_deleted(x)) {
                continue;
            }
            // Breadth first from `u` through deleted nodes: their neighbours
            // are queued while they are one or two hops away (`s.sel` is the
            // queue; the second hop ends where the queue stood when the first
            // was done).
            s.begin(n);
            s.seen(u);
            s.sel.clear();
            s.sel.extend_from_slice(g.neighbours(u, l));
            let (first, mut second) = (s.sel.len(), usize::MAX);
            let mut i = 0;
            let q = g.query_of(u);
            while let Some(&z) = s.sel.get(i) {
                if i == first {
                    second = s.sel.len();
                }
                if !s.seen(z) {
                    if !g.is_deleted(z) {
                        s.res.push(key(g.dist(&q, z), z));
                    } else if i < second {
                        s.sel.extend_from_slice(g.neighbours(z, l));
                    }
                }
                i += 1;
            }
            g.relink(u, l, s);
        }
    }
}

fn renumber(g: &mut Graph) {
    let n = g.len();
    // New numbers; link blocks vary in size, so they slide here, the
    // fixed-size records after. Φ² only bounds live vectors now:
    // recomputing it makes a compacted index behave exactly like the same
    // index saved and loaded.
    let mut remap = Buf::default();
    let (mut w, mut at) = (0u32, 0);
    g.phi = 0.0;
    for r in 0..n as u32 {
        remap.push(if g.is_deleted(r) { NONE } else { w });
        if !g.is_deleted(r) {
            let len = g.upper_words(g.level(r));
            let off = g.meta(r, LINKS) as usize;
            move_within(&mut g.links, off, len, at);
            *g.meta_mut(r, LINKS) = at as u32;
            at += len;
            w += 1;
            g.phi = g.phi.max(f32::from_bits(g.meta(r, NORM)));
        }
    }
    g.links.truncate(at);
    let s0 = g.stride0();
    squeeze(&mut g.links0, s0, &remap);
    squeeze(&mut g.vecs, g.dims, &remap);
    squeeze(&mut g.meta, META, &remap);
    let qw = g.qwords();
    squeeze(&mut g.q8, qw, &remap);
    g.n_deleted = 0;

    for u in 0..w {
        for l in 0..g.level(u) + 1 {
            if let Some((c, rest)) = g.block(u, l).split_first_mut() {
                // Renumber in place, dropping links to deleted nodes (repair
                // left none on live lists; this keeps the invariant cheap).
                let mut kept = 0;
                for i in 0..(*c as usize).min(rest.len()) {
                    let to = rest.get(i).and_then(|&x| remap.get(x as usize)).copied();
                    if let (Some(to), Some(d)) = (to.filter(|&t| t != NONE), rest.get_mut(kept)) {
                        *d = to;
                        kept += 1;
                    }
                }
                *c = kept as u32;
            }
        }
    }

    g.entry = remap.get(g.entry as usize).copied().unwrap_or(NONE);
    if g.entry == NONE {
        // The entry point was deleted: promote the highest live node.
        g.max_level = 0;
        for u in 0..w {
            if g.entry == NONE || g.level(u) > g.max_level {
                g.entry = u;
                g.max_level = g.level(u);
            }
        }
    }
}
