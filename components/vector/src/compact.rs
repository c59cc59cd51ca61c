//! Dropping tombstoned nodes.
//!
//! Two passes. First every live node that links to a deleted one gets its list
//! rebuilt, per layer, from its live neighbours plus the live nodes up to two
//! hops beyond each deleted neighbour, pruned with the same heuristic as an
//! insert (hnswlib's repair strategy, extended by a hop so that clusters of
//! deletions do not strand their surroundings). Then the live nodes slide
//! down in place, in order, and every link is renumbered; no second copy of
//! the vectors is ever allocated.

use crate::graph::{Graph, Scratch, DELETED, NONE};
use crate::heap::key;
use crate::index::Index;
use alloc::vec;
use alloc::vec::Vec;

/// `copy_within` without its panic path (which formats integers).
fn move_within(v: &mut [u32], src: usize, len: usize, dst: usize) {
    let ok = |at: usize| at.checked_add(len).is_some_and(|e| e <= v.len());
    if ok(src) && ok(dst) {
        // SAFETY: both ranges were just checked to lie inside `v`;
        // `ptr::copy` allows them to overlap.
        unsafe { core::ptr::copy(v.as_ptr().add(src), v.as_mut_ptr().add(dst), len) }
    }
}

/// Moves the `stride`-word records of live nodes to the front, in order.
fn squeeze(v: &mut Vec<u32>, stride: usize, levels: &[u32]) {
    let mut w = 0;
    for (r, &l) in levels.iter().enumerate() {
        if l & DELETED == 0 {
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
        self.map.rebuild(&self.g.ids);
    }
}

fn repair(g: &mut Graph, s: &mut Scratch) {
    let n = g.len();
    for u in 0..n as u32 {
        if g.is_deleted(u) {
            continue;
        }
        for l in 0..=g.level(u) {
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
    let mut remap = vec![NONE; n];
    let mut w = 0u32;
    for (slot, &l) in remap.iter_mut().zip(&g.levels) {
        if l & DELETED == 0 {
            *slot = w;
            w += 1;
        }
    }

    // Upper blocks vary in size: slide them by hand, then the fixed records.
    let mut up_w = 0usize;
    let mut off_w = 0usize;
    for r in 0..n as u32 {
        if g.is_deleted(r) {
            continue;
        }
        let off = g.upper_off.get(r as usize).copied().unwrap_or(0) as usize;
        let len = g.level(r) as usize * (g.m + 1);
        move_within(&mut g.upper, off, len, up_w);
        if let Some(o) = g.upper_off.get_mut(off_w) {
            *o = up_w as u32;
        }
        up_w += len;
        off_w += 1;
    }
    g.upper.truncate(up_w);
    g.upper_off.truncate(off_w);
    let levels = core::mem::take(&mut g.levels);
    squeeze(&mut g.vecs, g.dims, &levels);
    squeeze(&mut g.link0, 2 * g.m + 1, &levels);
    squeeze(&mut g.ids, 2, &levels);
    let qw = g.qwords();
    squeeze(&mut g.q8, qw, &levels);
    squeeze(&mut g.scale, 1, &levels);
    squeeze(&mut g.norm, 1, &levels);
    // Φ² only bounds live vectors now; recomputing it makes a compacted
    // index behave exactly like the same index saved and loaded.
    g.phi = g.norm.iter().fold(0.0, |m, &n| m.max(f32::from_bits(n)));
    g.levels = levels;
    g.levels.retain(|l| l & DELETED == 0);
    g.n_deleted = 0;

    let mut list = Vec::new();
    for u in 0..w {
        for l in 0..=g.level(u) {
            list.clear();
            list.extend(
                g.neighbours(u, l)
                    .iter()
                    .filter_map(|&x| remap.get(x as usize).copied())
                    .filter(|&x| x != NONE),
            );
            g.set_neighbours(u, l, &list);
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
    g.vecs.shrink_to_fit();
}
