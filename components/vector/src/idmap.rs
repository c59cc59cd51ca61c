//! Caller id -> node number, as an open-addressing table of node numbers.
//!
//! The table stores only `node + 1` (0 = empty) and compares against the ids
//! array the index already has, so it costs 8 bytes per live vector at most
//! and no generic hash-map code lands in the component. Linear probing with
//! backward-shift deletion keeps lookups short without tombstones. Every
//! slot access goes through `get`, so a bug can at worst miss an id, never
//! panic (a panic would drag formatting code into the component).

use alloc::vec::Vec;

#[derive(Default)]
pub struct IdMap {
    slots: Vec<u32>,
    len: usize,
}

/// The id of the node in `slot`; `ids` holds two words (low, high) per node.
#[inline]
fn id_of(slot: u32, ids: &[u32]) -> u64 {
    let i = 2 * (slot as usize).wrapping_sub(1);
    match ids.get(i..i.wrapping_add(2)) {
        Some(&[lo, hi]) => lo as u64 | (hi as u64) << 32,
        _ => 0,
    }
}

impl IdMap {
    #[inline]
    fn home(&self, id: u64) -> usize {
        // Fibonacci hashing; the high bits are the well-mixed ones.
        ((id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize) & self.mask()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot holding `id`, if any.
    fn find(&self, id: u64, ids: &[u32]) -> Option<usize> {
        let mut i = self.home(id);
        loop {
            let s = *self.slots.get(i)?;
            if s == 0 {
                return None;
            }
            if id_of(s, ids) == id {
                return Some(i);
            }
            i = (i + 1) & self.mask();
        }
    }

    pub fn get(&self, id: u64, ids: &[u32]) -> Option<u32> {
        let i = self.find(id, ids)?;
        self.slots.get(i).map(|s| s - 1)
    }

    /// Inserts `node` (whose id is `ids[node]`); the caller has checked that
    /// the id is absent.
    pub fn insert(&mut self, node: u32, ids: &[u32]) {
        if (self.len + 1) * 2 > self.slots.len() {
            let cap = (self.slots.len() * 2).max(16);
            let old = core::mem::replace(&mut self.slots, alloc::vec![0; cap]);
            for s in old {
                if s != 0 {
                    self.place(s, ids);
                }
            }
        }
        self.place(node + 1, ids);
        self.len += 1;
    }

    fn place(&mut self, slot: u32, ids: &[u32]) {
        let mut i = self.home(id_of(slot, ids));
        let mask = self.mask();
        while let Some(s) = self.slots.get_mut(i) {
            if *s == 0 {
                *s = slot;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes `id`, returning its node.
    pub fn remove(&mut self, id: u64, ids: &[u32]) -> Option<u32> {
        let mut hole = self.find(id, ids)?;
        let node = self.slots.get(hole)? - 1;
        let mask = self.mask();
        // Backward shift: pull later entries of the probe run into the hole
        // unless that would move them before their home slot.
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = match self.slots.get(j) {
                Some(&s) if s != 0 => s,
                _ => break,
            };
            let home = self.home(id_of(s, ids));
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = s;
                }
                hole = j;
            }
        }
        if let Some(h) = self.slots.get_mut(hole) {
            *h = 0;
        }
        self.len -= 1;
        Some(node)
    }

    /// Rebuilds the table for all nodes of `ids`, all live. Reuses the old
    /// table, which after a compaction is already large enough.
    pub fn rebuild(&mut self, ids: &[u32]) {
        self.slots.fill(0);
        self.len = 0;
        for n in 0..(ids.len() / 2) as u32 {
            self.insert(n, ids);
        }
    }
}
