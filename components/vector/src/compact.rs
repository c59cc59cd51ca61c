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
        if g.is_deleted(u) {
            continue;
        }
        for l in 0..g.level(u) + 1 {
            if !g.neighbours(u, l).iter().any(|&x| g.is_deleted(x)) {
                continue;
            }
            s.begin(n);
            s.seen(u);
            let q = g.query_of(u);
            let add = |z: u32, s: &mut Scratch| {
                if !g.is_deleted(z) && !s.seen(z) {
                    s.res.push(key(g.dist(&q, z), z));
                }
            };
            for &x in g.neighbours(u, l) {
                let xs = [x];
                for &y in if g.is_deleted(x) {
                    g.neighbours(x, l)
                } else {
                    &xs
                } {
                    let ys = [y];
                    for &z in if g.is_deleted(y) {
                        g.neighbours(y, l)
                    } else {
                        &ys
                    } {
                        add(z, s);
                    }
                }
            }
            g.relink(u, l, s);
        }
    }
}

fn renumber(g: &mut Graph) {
    let n = g.len();
    let mut remap = Buf::default();
    let mut w = 0u32;
    for r in 0..n as u32 {
        remap.push(if g.is_deleted(r) { NONE } else { w });
        w += !g.is_deleted(r) as u32;
    }

    // Link blocks vary in size: slide them by hand, then the fixed records.
    let mut at = 0;
    for r in 0..n as u32 {
        if !g.is_deleted(r) {
            let len = g.link_words(g.level(r));
            let off = g.meta(r, LINKS) as usize;
            move_within(&mut g.links, off, len, at);
            *g.meta_mut(r, LINKS) = at as u32;
            at += len;
        }
    }
    g.links.truncate(at);
    squeeze(&mut g.vecs, g.dims, &remap);
    squeeze(&mut g.meta, META, &remap);
    let qw = g.qwords();
    squeeze(&mut g.q8, qw, &remap);
    g.n_deleted = 0;
    // Φ² only bounds live vectors now; recomputing it makes a compacted
    // index behave exactly like the same index saved and loaded.
    g.phi = (0..w).fold(0.0, |m, u| m.max(f32::from_bits(g.meta(u, NORM))));

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
