//! A binary max-heap of `u64` keys that pack `(distance, node)`.
//!
//! Packing the distance into the high 32 bits as an order-preserving integer
//! makes every comparison a single integer compare (no `partial_cmp`, no NaN
//! cases) and breaks ties by node number, so results are deterministic on
//! every platform. A min-heap is the same heap over bitwise-negated keys.

use crate::buf::Buf;

/// Orders like the `f32` it encodes: negative floats have all bits flipped,
/// non-negative ones just the sign bit.
#[inline]
pub fn key(dist: f32, node: u32) -> u64 {
    let b = dist.to_bits();
    let o = if b >> 31 != 0 { !b } else { b | 0x8000_0000 };
    ((o as u64) << 32) | node as u64
}

#[inline]
pub fn dist(key: u64) -> f32 {
    let o = (key >> 32) as u32;
    f32::from_bits(if o >> 31 != 0 { o & 0x7fff_ffff } else { !o })
}

#[inline]
pub fn node(key: u64) -> u32 {
    key as u32
}

#[derive(Default)]
pub struct Heap(Buf<u64>);

impl Heap {
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    pub fn clear(&mut self) {
        self.0.clear();
    }

    #[inline]
    pub fn peek(&self) -> Option<u64> {
        self.0.first().copied()
    }

    pub fn push(&mut self, k: u64) {
        self.0.push(k);
        let p = self.0.as_mut_ptr();
        let mut i = self.0.len() - 1;
        // SAFETY: `i` starts at the last index and only moves to parents,
        // which are smaller, so every access is below `len`.
        unsafe {
            while i > 0 {
                let par = (i - 1) / 2;
                let pk = *p.add(par);
                if pk >= k {
                    break;
                }
                *p.add(i) = pk;
                i = par;
            }
            *p.add(i) = k;
        }
    }

    pub fn pop(&mut self) -> Option<u64> {
        let last = self.0.pop()?;
        let n = self.0.len();
        if n == 0 {
            return Some(last);
        }
        let p = self.0.as_mut_ptr();
        // SAFETY: `n > 0`; `i` is always < n and children are checked
        // against `n` before they are read.
        unsafe {
            let top = *p;
            let mut i = 0;
            loop {
                let mut c = 2 * i + 1;
                if c >= n {
                    break;
                }
                if c + 1 < n && *p.add(c + 1) > *p.add(c) {
                    c += 1;
                }
                let ck = *p.add(c);
                if ck <= last {
                    break;
                }
                *p.add(i) = ck;
                i = c;
            }
            *p.add(i) = last;
            Some(top)
        }
    }

    /// Empties the heap into `out`, farthest first (so the closest is last).
    pub fn drain(&mut self, out: &mut Buf<u64>) {
        out.clear();
        while let Some(k) = self.pop() {
            out.push(k);
        }
    }
}
