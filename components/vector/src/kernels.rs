//! Distance kernels: the `f32` and `i8` dot products every metric is built
//! from (see `Graph::score`).
//!
//! The scalar and `simd128` versions sum in exactly the same order (eight
//! lane accumulators, the same reduction tree, the same scalar tail), so a
//! SIMD build, a scalar wasm build and a native build compute bit-identical
//! distances, build identical graphs and write identical snapshots. That is
//! what lets the integration tests compare the component with native code
//! byte for byte. Integer sums are exact, so the `i8` kernel is free to use
//! any order.
//!
//! The SIMD path is compiled when the crate is built with
//! `RUSTFLAGS="-C target-feature=+simd128"`; the default build is scalar so
//! that it runs on engines without SIMD.

/// Lane accumulators shared by both implementations.
const LANES: usize = 8;

/// `&v[..n]` without a panic path (callers pass `n <= v.len()`).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn head<T>(v: &[T], n: usize) -> &[T] {
    v.get(..n).unwrap_or(v)
}

/// Dot product over the common prefix of `a` and `b`.
#[inline(never)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: both slices hold at least `n` elements.
        unsafe { simd::dot(a.as_ptr(), b.as_ptr(), n) }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        scalar_dot(head(a, n), head(b, n))
    }
}

/// Integer dot product of two quantised vectors (components in -127..=127)
/// over their common length, which callers keep a multiple of 8 by padding
/// with zeros: the SIMD loop takes eight at a time and has no tail.
#[inline(never)]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: both slices hold at least `n` elements.
        unsafe { simd::dot_i8(a.as_ptr(), b.as_ptr(), n) }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let mut s = 0i32;
        for (x, y) in head(a, n).iter().zip(head(b, n)) {
            s = s.wrapping_add(*x as i32 * *y as i32);
        }
        s
    }
}

/// Reduction tree shared with the SIMD code: the four-lane vectors `v0, v1`
/// are `acc[0..4]` and `acc[4..8]`; they are added lane-wise, then the lanes
/// as `(l0 + l1) + (l2 + l3)`.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn reduce(a: &[f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn scalar_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, ta) = a.as_chunks::<LANES>();
    let (cb, tb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for j in 0..LANES {
            acc[j] += x[j] * y[j];
        }
    }
    let mut s = reduce(&acc);
    for (x, y) in ta.iter().zip(tb) {
        s += x * y;
    }
    s
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::LANES;
    use core::arch::wasm32::*;

    #[inline(always)]
    unsafe fn ld(p: *const f32) -> v128 {
        v128_load(p as *const v128)
    }

    #[inline(always)]
    fn reduce(v: [v128; 2]) -> f32 {
        let t = f32x4_add(v[0], v[1]);
        (f32x4_extract_lane::<0>(t) + f32x4_extract_lane::<1>(t))
            + (f32x4_extract_lane::<2>(t) + f32x4_extract_lane::<3>(t))
    }

    pub unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        let mut v = [f32x4_splat(0.0); 2];
        let full = n / LANES * LANES;
        let mut i = 0;
        while i < full {
            for (k, acc) in v.iter_mut().enumerate() {
                let (x, y) = (ld(a.add(i + 4 * k)), ld(b.add(i + 4 * k)));
                *acc = f32x4_add(*acc, f32x4_mul(x, y));
            }
            i += LANES;
        }
        let mut s = reduce(v);
        while i < n {
            s += *a.add(i) * *b.add(i);
            i += 1;
        }
        s
    }

    /// Eight bytes at a time, sign-extended on load, multiplied and summed
    /// pairwise into i32 lanes by one instruction.
    pub unsafe fn dot_i8(a: *const i8, b: *const i8, n: usize) -> i32 {
        let mut acc = i32x4_splat(0);
        let mut i = 0;
        while i + 8 <= n {
            let x = i16x8_load_extend_i8x8(a.add(i));
            let y = i16x8_load_extend_i8x8(b.add(i));
            acc = i32x4_add(acc, i32x4_dot_i16x8(x, y));
            i += 8;
        }
        i32x4_extract_lane::<0>(acc)
            .wrapping_add(i32x4_extract_lane::<1>(acc))
            .wrapping_add(i32x4_extract_lane::<2>(acc))
            .wrapping_add(i32x4_extract_lane::<3>(acc))
    }
}
