//! Caller id -> node number, as an open-addressing table of node numbers.
//!
//! The table stores only `node + 1` (0 = empty, [`GONE`] = removed) and
//! compares against the node records the index already has, so it costs
//! 8 bytes per vector at most and no generic hash-map code lands in the
//! component. Linear probing; removals leave a marker, which growth and
//! `rebuild` (run by every compaction) clear. Every slot access goes through
//! `get`, so a bug can at worst miss an id, never panic (a panic would drag
//! formatting code into the component).

use crate::buf::Buf;
use crate::graph::META;

/// A removed entry: probes continue past it.
const GONE: u32 = u32::MAX;

#[derive(Default)]
pub struct IdMap {
    slots: Buf<u32>,
    /// Occupied slots, removal markers included, and the markers alone.
    used: usize,
    gone: usize,
}

/// The id of the node in `slot`; `ids` is the graph's node records, whose
/// first two words are the id (low, high).
#[inline]
fn id_of(slot: u32, ids: &[u32]) -> u64 {
    let i = META * (slot as usize).wrapping_sub(1);
    match ids.get(i..i.wrapping_add(2)) {
        Some(&[lo, hi]) => lo as u64 | (hi as u64) << 32,
        _ => 0,
    }
}

impl IdMap {
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot holding `id` (true), or the empty slot where it would go.
    fn probe(&self, id: u64, ids: &[u32]) -> (usize, bool) {
        // Fibonacci hashing; the high bits are the well-mixed ones.
        let mut i = ((id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize) & self.mask();
        loop {
            match self.slots.get(i) {
                None | Some(0) => return (i, false),
                Some(&s) if s != GONE && id_of(s, ids) == id => return (i, true),
                _ => i = (i + 1) & self.mask(),
            }
        }
    }

    /// Puts `slot` (a node + 1) where a probe for its id ends.
    fn place(&mut self, slot: u32, ids: &[u32]) {
        let (i, _) = self.probe(id_of(slot, ids), ids);
        if let Some(s) = self.slots.get_mut(i) {
            *s = slot;
            self.used += 1;
        }
    }

    pub fn get(&self, id: u64, ids: &[u32]) -> Option<u32> {
        match self.probe(id, ids) {
            (i, true) => self.slots.get(i).map(|s| s - 1),
            _ => None,
        }
    }

    /// Inserts `node` (whose id is in `ids`); the caller has checked that
    /// the id is absent.
    pub fn insert(&mut self, node: u32, ids: &[u32]) {
        if (self.used + 1) * 2 > self.slots.len() {
            // Double only if live entries need it; otherwise rehashing at the
            // same size just clears the removal markers.
            let live = self.used - self.gone;
            let n = self.slots.len();
            let cap = if (live + 1) * 4 > n { 2 * n } else { n }.max(16);
            let mut fresh = Buf::default();
            fresh.resize(cap, 0);
            let old = core::mem::replace(&mut self.slots, fresh);
            (self.used, self.gone) = (0, 0);
            for &s in old.iter() {
                if s != 0 && s != GONE {
                    self.place(s, ids);
                }
            }
        }
        self.place(node + 1, ids);
    }

    /// Removes `id`, returning its node.
    pub fn remove(&mut self, id: u64, ids: &[u32]) -> Option<u32> {
        let (i, true) = self.probe(id, ids) else {
            return None;
        };
        let s = self.slots.get_mut(i)?;
        let node = *s - 1;
        *s = GONE;
        self.gone += 1;
        Some(node)
    }

    /// Rebuilds the table for all nodes of `ids`, all live. Reuses the old
    /// table, which after a compaction is already large enough.
    pub fn rebuild(&mut self, ids: &[u32]) {
        self.slots.fill(0);
        (self.used, self.gone) = (0, 0);
        for n in 0..(ids.len() / META) as u32 {
            self.insert(n, ids);
        }
    }
}
