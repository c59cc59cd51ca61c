//! Distance kernels: the `f32` and `i8` dot products every metric is built
//! from (see `Graph::score`).
//!
//! The scalar and `simd128` versions sum in exactly the same order (sixteen
//! lane accumulators, the same reduction tree, the same scalar tail), so a
//! SIMD build, a scalar wasm build and a native build compute bit-identical
//! distances, build identical graphs and write identical snapshots. That is
//! what lets the integration tests compare the component with native code
//! byte for byte. Integer sums are exact, so the `i8` kernel is free to use
//! any order.
//!
//! Sixteen lanes rather than eight: four independent `f32x4` sums keep the
//! adder busy while each addition waits for the previous one in its lane
//! (the loop is latency-bound with two), and natively the compiler turns
//! the same sixteen scalar lanes into four SSE registers. No fused
//! multiply-add anywhere: it rounds once where the scalar code rounds twice.
//!
//! The SIMD path is compiled when the crate is built with
//! `-C target-feature=+simd128` (`scripts/build` does so for the component);
//! without it the build is scalar, for engines without SIMD (WAMR, through
//! `components/p1`). The choice is made at build time; nothing is detected
//! at run time.

/// Lane accumulators shared by both implementations.
const LANES: usize = 16;

/// `&v[..n]` without a panic path (callers pass `n <= v.len()`).
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
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as above, and each wider kernel runs only where the CPU
        // has its instructions (std caches the answer: one load per call).
        unsafe {
            if std::arch::is_x86_feature_detected!("avx512f") {
                sse::dot_avx512(a.as_ptr(), b.as_ptr(), n)
            } else if std::arch::is_x86_feature_detected!("avx") {
                sse::dot_avx(a.as_ptr(), b.as_ptr(), n)
            } else {
                sse::dot(a.as_ptr(), b.as_ptr(), n)
            }
        }
    }
    #[cfg(not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    )))]
    {
        scalar_dot(head(a, n), head(b, n))
    }
}

/// [`dot`] of `q` with `a` and with `b` in one pass, each result bit for
/// bit what `dot` returns (over the common prefix of all three). The
/// graph walk measures a node's neighbours two at a time with it: in the
/// component, which has no prefetch instruction, two vectors streaming in
/// side by side keep twice the memory reads in flight, and each query
/// block is loaded once for both; natively (AVX, AVX-512) the two sums
/// are independent chains of additions, where one vector's sums wait on
/// each other.
#[inline(never)]
pub fn dot2(q: &[f32], a: &[f32], b: &[f32]) -> (f32, f32) {
    let n = q.len().min(a.len()).min(b.len());
    let (q, a, b) = (head(q, n), head(a, n), head(b, n));
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: all three slices hold `n` elements.
        unsafe { simd::dot2(q.as_ptr(), a.as_ptr(), b.as_ptr(), n) }
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as above; each kernel only where the CPU has it.
        unsafe {
            if std::arch::is_x86_feature_detected!("avx512f") {
                sse::dot2_avx512(q.as_ptr(), a.as_ptr(), b.as_ptr(), n)
            } else if std::arch::is_x86_feature_detected!("avx") {
                sse::dot2_avx(q.as_ptr(), a.as_ptr(), b.as_ptr(), n)
            } else {
                (dot(q, a), dot(q, b))
            }
        }
    }
    #[cfg(not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    )))]
    {
        (dot(q, a), dot(q, b))
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

/// Reduction tree shared with the SIMD code: the four-lane vectors `v0..v3`
/// are `acc[0..4]` to `acc[12..16]`; they are added lane-wise as
/// `(v0 + v1) + (v2 + v3)`, then the lanes as `(l0 + l1) + (l2 + l3)`.
#[inline(always)]
fn reduce(a: &[f32; LANES]) -> f32 {
    let l = |j: usize| (a[j] + a[4 + j]) + (a[8 + j] + a[12 + j]);
    (l(0) + l(1)) + (l(2) + l(3))
}

/// The portable kernel, the definition every other one must match bit for
/// bit: the scalar wasm build (WAMR) runs it, and the tests hold the SSE
/// kernel to it natively and the `simd128` one through the component.
#[inline(always)]
pub fn scalar_dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (head(a, n), head(b, n));
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

/// The same arithmetic in x86-64 vector registers, written out because the
/// compiler, vectorising [`scalar_dot`] by itself, reshuffles its lanes on
/// every step. The sixteen lanes are four SSE registers (baseline on
/// x86-64, as in the `simd128` kernel), two AVX registers or one AVX-512
/// register: the same sums, so the same bits, in fewer instructions, which
/// leaves the CPU room to have the next vectors' memory loads in flight.
/// (The wasm builds choose their kernel at build time; natively the widest
/// the CPU has is chosen at run time.) No FMA: it would round differently.
#[cfg(target_arch = "x86_64")]
mod sse {
    use super::LANES;
    use core::arch::x86_64::*;

    /// `((v0 + v1) + (v2 + v3))` lane-wise, then `(l0 + l1) + (l2 + l3)`,
    /// plus the scalar tail from `i`: [`super::reduce`] and its tail.
    #[inline(always)]
    unsafe fn finish(v: [__m128; 4], a: *const f32, b: *const f32, mut i: usize, n: usize) -> f32 {
        let t = _mm_add_ps(_mm_add_ps(v[0], v[1]), _mm_add_ps(v[2], v[3]));
        let mut l = [0f32; 4];
        _mm_storeu_ps(l.as_mut_ptr(), t);
        let mut s = (l[0] + l[1]) + (l[2] + l[3]);
        while i < n {
            s += *a.add(i) * *b.add(i);
            i += 1;
        }
        s
    }

    /// Lanes 0..8 and 8..16 in two registers.
    #[target_feature(enable = "avx")]
    pub unsafe fn dot_avx(a: *const f32, b: *const f32, n: usize) -> f32 {
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let full = n / LANES * LANES;
        let mut i = 0;
        while i < full {
            let m = _mm256_mul_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)));
            lo = _mm256_add_ps(lo, m);
            let m = _mm256_mul_ps(_mm256_loadu_ps(a.add(i + 8)), _mm256_loadu_ps(b.add(i + 8)));
            hi = _mm256_add_ps(hi, m);
            i += LANES;
        }
        let v = [
            _mm256_castps256_ps128(lo),
            _mm256_extractf128_ps::<1>(lo),
            _mm256_castps256_ps128(hi),
            _mm256_extractf128_ps::<1>(hi),
        ];
        finish(v, a, b, i, n)
    }

    /// All sixteen lanes in one register.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot_avx512(a: *const f32, b: *const f32, n: usize) -> f32 {
        let mut acc = _mm512_setzero_ps();
        let full = n / LANES * LANES;
        let mut i = 0;
        while i < full {
            let m = _mm512_mul_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)));
            acc = _mm512_add_ps(acc, m);
            i += LANES;
        }
        let v = [
            _mm512_extractf32x4_ps::<0>(acc),
            _mm512_extractf32x4_ps::<1>(acc),
            _mm512_extractf32x4_ps::<2>(acc),
            _mm512_extractf32x4_ps::<3>(acc),
        ];
        finish(v, a, b, i, n)
    }

    /// [`dot_avx`] of `q` with `a` and with `b`, side by side.
    #[target_feature(enable = "avx")]
    pub unsafe fn dot2_avx(q: *const f32, a: *const f32, b: *const f32, n: usize) -> (f32, f32) {
        let z = _mm256_setzero_ps();
        let (mut alo, mut ahi, mut blo, mut bhi) = (z, z, z, z);
        let full = n / LANES * LANES;
        let mut i = 0;
        while i < full {
            let (x, y) = (_mm256_loadu_ps(q.add(i)), _mm256_loadu_ps(q.add(i + 8)));
            alo = _mm256_add_ps(alo, _mm256_mul_ps(x, _mm256_loadu_ps(a.add(i))));
            blo = _mm256_add_ps(blo, _mm256_mul_ps(x, _mm256_loadu_ps(b.add(i))));
            ahi = _mm256_add_ps(ahi, _mm256_mul_ps(y, _mm256_loadu_ps(a.add(i + 8))));
            bhi = _mm256_add_ps(bhi, _mm256_mul_ps(y, _mm256_loadu_ps(b.add(i + 8))));
            i += LANES;
        }
        let halves = |lo: __m256, hi: __m256| {
            [
                _mm256_castps256_ps128(lo),
                _mm256_extractf128_ps::<1>(lo),
                _mm256_castps256_ps128(hi),
                _mm256_extractf128_ps::<1>(hi),
            ]
        };
        (
            finish(halves(alo, ahi), q, a, i, n),
            finish(halves(blo, bhi), q, b, i, n),
        )
    }

    /// [`dot_avx512`] of `q` with `a` and with `b`, side by side.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot2_avx512(q: *const f32, a: *const f32, b: *const f32, n: usize) -> (f32, f32) {
        let (mut sa, mut sb) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let full = n / LANES * LANES;
        let mut i = 0;
        while i < full {
            let x = _mm512_loadu_ps(q.add(i));
            sa = _mm512_add_ps(sa, _mm512_mul_ps(x, _mm512_loadu_ps(a.add(i))));
            sb = _mm512_add_ps(sb, _mm512_mul_ps(x, _mm512_loadu_ps(b.add(i))));
            i += LANES;
        }
        let quarters = |v: __m512| {
            [
                _mm512_extractf32x4_ps::<0>(v),
                _mm512_extractf32x4_ps::<1>(v),
                _mm512_extractf32x4_ps::<2>(v),
                _mm512_extractf32x4_ps::<3>(v),
            ]
        };
        (
            finish(quarters(sa), q, a, i, n),
            finish(quarters(sb), q, b, i, n),
        )
    }

    pub unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        let mut v = [_mm_setzero_ps(); 4];
        let full = n / LANES * LANES;
        let mut i = 0;
        while i < full {
            for (k, acc) in v.iter_mut().enumerate() {
                let x = _mm_loadu_ps(a.add(i + 4 * k));
                let y = _mm_loadu_ps(b.add(i + 4 * k));
                *acc = _mm_add_ps(*acc, _mm_mul_ps(x, y));
            }
            i += LANES;
        }
        finish(v, a, b, i, n)
    }
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
    fn reduce(v: [v128; 4]) -> f32 {
        let t = f32x4_add(f32x4_add(v[0], v[1]), f32x4_add(v[2], v[3]));
        (f32x4_extract_lane::<0>(t) + f32x4_extract_lane::<1>(t))
            + (f32x4_extract_lane::<2>(t) + f32x4_extract_lane::<3>(t))
    }

    /// The four accumulators are named locals, not an array: at the
    /// component's `opt-level = "z"` rustc neither unrolls a loop over an
    /// array nor keeps it in registers, and the sums went through the
    /// shadow stack (a load and a store per step, 2.6x the instructions).
    pub unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        let z = f32x4_splat(0.0);
        let (mut v0, mut v1, mut v2, mut v3) = (z, z, z, z);
        let full = n / LANES * LANES;
        let mut i = 0;
        while i < full {
            let (pa, pb) = (a.add(i), b.add(i));
            v0 = f32x4_add(v0, f32x4_mul(ld(pa), ld(pb)));
            v1 = f32x4_add(v1, f32x4_mul(ld(pa.add(4)), ld(pb.add(4))));
            v2 = f32x4_add(v2, f32x4_mul(ld(pa.add(8)), ld(pb.add(8))));
            v3 = f32x4_add(v3, f32x4_mul(ld(pa.add(12)), ld(pb.add(12))));
            i += LANES;
        }
        let mut s = reduce([v0, v1, v2, v3]);
        while i < n {
            s += *a.add(i) * *b.add(i);
            i += 1;
        }
        s
    }

    /// [`dot`] against two vectors at once: eight named sums (four per
    /// vector, the same lanes and order as `dot`), each query block
    /// loaded once. Cranelift issues a step's twelve loads before its
    /// arithmetic, so on x86-64 (sixteen vector registers) four of the sums
    /// spill to the stack every step; half a block per step spills none
    /// but measured no faster (BENCHMARKS.md).
    pub unsafe fn dot2(q: *const f32, a: *const f32, b: *const f32, n: usize) -> (f32, f32) {
        let z = f32x4_splat(0.0);
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let (mut b0, mut b1, mut b2, mut b3) = (z, z, z, z);
        let full = n / LANES * LANES;
        let mut i = 0;
        while i < full {
            let (pq, pa, pb) = (q.add(i), a.add(i), b.add(i));
            let x = ld(pq);
            a0 = f32x4_add(a0, f32x4_mul(x, ld(pa)));
            b0 = f32x4_add(b0, f32x4_mul(x, ld(pb)));
            let x = ld(pq.add(4));
            a1 = f32x4_add(a1, f32x4_mul(x, ld(pa.add(4))));
            b1 = f32x4_add(b1, f32x4_mul(x, ld(pb.add(4))));
            let x = ld(pq.add(8));
            a2 = f32x4_add(a2, f32x4_mul(x, ld(pa.add(8))));
            b2 = f32x4_add(b2, f32x4_mul(x, ld(pb.add(8))));
            let x = ld(pq.add(12));
            a3 = f32x4_add(a3, f32x4_mul(x, ld(pa.add(12))));
            b3 = f32x4_add(b3, f32x4_mul(x, ld(pb.add(12))));
            i += LANES;
        }
        let (mut s, mut t) = (reduce([a0, a1, a2, a3]), reduce([b0, b1, b2, b3]));
        while i < n {
            let x = *q.add(i);
            s += x * *a.add(i);
            t += x * *b.add(i);
            i += 1;
        }
        (s, t)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Bounded randomized differential test: the kernel this build uses
    /// (and on x86-64 each of SSE, AVX and AVX-512 the CPU has) against the
    /// portable definition, bit for bit, over
    /// every length up to 100 (all tail lengths, several full blocks),
    /// unaligned starts and magnitudes from 1e-3 to 1e3. The `simd128`
    /// kernel is held to the same definition through the component
    /// (tests/it/vector.rs, `kernels_match_native`).
    #[test]
    fn dot_matches_scalar_definition() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut cases = 0;
        for round in 0..40 {
            for n in 0..=100usize {
                let scale = [1e-3f32, 1.0, 1e3][round % 3];
                let mut v: Vec<f32> = (0..2 * n + 2)
                    .map(|_| ((next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * scale)
                    .collect();
                if round % 7 == 0 {
                    v.iter_mut().step_by(5).for_each(|x| *x = 0.0);
                }
                let off = round % 2;
                let (a, b) = v.split_at(n + 1);
                let (a, b) = (&a[off..off + n], &b[off..off + n]);
                let want = scalar_dot(a, b).to_bits();
                assert_eq!(dot(a, b).to_bits(), want, "n = {n}, round {round}");
                let (x, y) = dot2(b, a, b);
                assert_eq!(x.to_bits(), want, "dot2, n = {n}, round {round}");
                assert_eq!(y.to_bits(), scalar_dot(b, b).to_bits(), "dot2, n = {n}");
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `n` elements each; the wider kernels only where
                // the CPU has them.
                unsafe {
                    let (pa, pb) = (a.as_ptr(), b.as_ptr());
                    assert_eq!(sse::dot(pa, pb, n).to_bits(), want, "sse, n = {n}");
                    let want2 = (want, scalar_dot(b, b).to_bits());
                    let bits = |(x, y): (f32, f32)| (x.to_bits(), y.to_bits());
                    if std::arch::is_x86_feature_detected!("avx") {
                        assert_eq!(sse::dot_avx(pa, pb, n).to_bits(), want, "avx, n = {n}");
                        let got = bits(sse::dot2_avx(pb, pa, pb, n));
                        assert_eq!(got, want2, "avx dot2, n = {n}");
                    }
                    if std::arch::is_x86_feature_detected!("avx512f") {
                        let got = sse::dot_avx512(pa, pb, n).to_bits();
                        assert_eq!(got, want, "avx-512, n = {n}");
                        let got = bits(sse::dot2_avx512(pb, pa, pb, n));
                        assert_eq!(got, want2, "avx-512 dot2, n = {n}");
                    }
                }
                cases += 1;
            }
        }
        assert_eq!(cases, 40 * 101);
    }
}
