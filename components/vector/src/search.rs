//! The graph walk: greedy descent through the upper layers and the
//! best-first beam search of one layer, the loop every query and every
//! insert spends its time in.

use crate::graph::{Graph, Query, Scratch};
use crate::heap::{self, key};
#[cfg(target_arch = "x86_64")]
use crate::slices::prefetch;

impl Graph {
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
    /// Every distance is computed once per search (the visited stamps), and
    /// the heaps, stamps and batch live in `s`, so the walk allocates
    /// nothing once they have grown.
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
        let mut batch = core::mem::take(&mut s.batch);
        while let Some(c) = s.cand.pop() {
            let c = !c;
            if c > bound && (s.res.len() >= ef || !deletions) {
                break;
            }
            let mut consider = |s: &mut Scratch, nb: u32, d: f32| {
                let k = key(d, nb);
                if s.res.len() < ef || k < bound {
                    s.cand.push(!k);
                    if !deletions || !self.is_deleted(nb) {
                        s.res.push(k);
                        if s.res.len() > ef {
                            s.res.pop();
                        }
                    }
                    if let Some(t) = s.res.peek() {
                        bound = t;
                    }
                }
            };
            // The unvisited neighbours are gathered and marked first, then
            // measured: a graph walk reads vectors in no order a hardware
            // prefetcher can guess, and 20,000 384-dim vectors do not fit
            // in cache, so the walk arranges for several to be in flight.
            // Natively the closest candidate left (likely the next one
            // expanded) has its list prefetched (hnswlib does the same), and
            // each pair's vectors are prefetched while the pair before is
            // measured: two vectors ahead, the distance that beat one and
            // three on 20,000 MiniLM vectors when they were measured one at
            // a time. wasm has no prefetch instruction. On both, the
            // neighbours are measured two at a time by one kernel that
            // streams both vectors ([`Graph::dist2`]): twice the reads in
            // flight, and natively two independent chains of additions.
            // Each distance is the same as measuring one by one, and the
            // heaps see them in the same order.
            #[cfg(target_arch = "x86_64")]
            if let Some(next) = s.cand.peek() {
                prefetch(self.list(heap::node(!next), level));
            }
            batch.clear();
            for &nb in self.neighbours(heap::node(c), level) {
                if !s.seen(nb) {
                    batch.push(nb);
                }
            }
            #[cfg(target_arch = "x86_64")]
            let mut ahead = batch.chunks(2);
            #[cfg(target_arch = "x86_64")]
            for &nb in ahead.next().unwrap_or(&[]) {
                prefetch(self.walk_words(nb));
            }
            for pair in batch.chunks(2) {
                #[cfg(target_arch = "x86_64")]
                for &nb in ahead.next().unwrap_or(&[]) {
                    prefetch(self.walk_words(nb));
                }
                match *pair {
                    [a, b] => {
                        let (da, db) = self.dist2(q, a, b);
                        consider(s, a, da);
                        consider(s, b, db);
                    }
                    [a] => consider(s, a, self.dist(q, a)),
                    _ => {}
                }
            }
        }
        s.batch = batch;
    }
}
