//! Views of the flat word arrays the graph is made of: unchecked ranges,
//! words as floats or bytes, normalising, quantising and prefetching.

use crate::buf::Buf;
use crate::{kernels, rsqrt};

/// `&v[start..start + len]`. Every range reaching here is an invariant of
/// the graph (validated by `load`, maintained by insert and compact), so in
/// the component the check is dropped: it is the commonest operation in the
/// code, and the 17.5 KB budget counts every byte. Native builds keep it, and
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

/// Asks the CPU to start loading `v` into cache, so that its distance,
/// computed a little later, does not wait on memory. Every cache line of it:
/// measured on 20,000 MiniLM vectors (1.5 KB each), one line or four left
/// the kernel waiting on the rest. x86-64 only; wasm has no prefetch
/// instruction.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn prefetch(v: &[u32]) {
    for line in v.chunks(16) {
        // SAFETY: a hint; it reads nothing and cannot fault.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        }
    }
}
