//! HNSW approximate nearest-neighbour search (Malkov & Yashunin, 2016) as a
//! `no_std` microkernel.
//!
//! The same code runs natively (tests, benchmarks, the host) and as the
//! `wasiclaw:core/vector-kernel` component, which has no imports at all. The
//! component must stay under 16 KB, which shapes the code: no `core::fmt` on
//! any reachable path, one hand-written heap and hash map instead of generic
//! collections, and flat arrays everywhere (they are also what keeps the
//! graph walk cache-friendly).
//!
//! Layout: [`kernels`] has the distance loops (scalar and `simd128`),
//! `graph` the HNSW graph and its construction, `search` the layer walk,
//! `slices` the views of its word arrays, `index` the public API,
//! `compact` the tombstone clean-up and `persist` the snapshot format.
#![no_std]

extern crate alloc;
// Native builds (tests, the host) need std for the panic runtime and for
// `f32::sqrt`; on wasm the component and the p1 module bring their own.
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

mod buf;
mod compact;
mod graph;
mod heap;
mod idmap;
mod index;
pub mod kernels;
mod persist;
mod search;
mod slices;

#[cfg(all(feature = "component", target_arch = "wasm32", target_os = "unknown"))]
mod wasm;

pub use index::Index;
pub use persist::{fnv1a, FORMAT_VERSION, MAGIC};

/// How distance between two vectors is measured; smaller is always closer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `1 - cos(a, b)`; vectors are normalised on insert.
    Cosine,
    /// Squared Euclidean distance.
    L2,
    /// Negated inner product.
    Dot,
}

/// How vectors are kept in memory for the graph walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    F32,
    /// Signed bytes with a per-vector scale for the walk; exact `f32` copies
    /// are kept to rescore the final candidates.
    Int8,
}

/// Construction parameters; out-of-range values are clamped by [`Index::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub m: u32,
    pub ef_construction: u32,
    pub storage: Storage,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            m: 16,
            ef_construction: 200,
            storage: Storage::F32,
        }
    }
}

/// One search result. `repr(C)` makes it the canonical ABI's `hit` record
/// (u64 at 0, f32 at 8, 16 bytes), so the component returns these as is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub id: u64,
    pub distance: f32,
}

/// Mirrors the WIT `error` variant. Messages are static so that the wasm build
/// carries no formatting machinery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    DimensionMismatch { expected: u32, got: u32 },
    DuplicateId(u64),
    CorruptData(&'static str),
    Capacity(&'static str),
    InvalidArgument(&'static str),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::DimensionMismatch { expected, got } => {
                write!(f, "dimension mismatch: expected {expected}, got {got}")
            }
            Error::DuplicateId(id) => write!(f, "duplicate id {id}"),
            Error::CorruptData(m) => write!(f, "corrupt data: {m}"),
            Error::Capacity(m) => write!(f, "capacity: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
        }
    }
}

impl core::error::Error for Error {}

/// `1 / sqrt(x)` without std (`f32::sqrt` is not in core and the wasm
/// intrinsic is unstable): the classic bit-level estimate refined by three
/// Newton steps, accurate to a few ulp. Plain `f32` arithmetic, so every
/// platform gets the same bits. Returns 0 for `x <= 0`.
pub(crate) fn rsqrt(x: f32) -> f32 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    let mut y = f32::from_bits(0x5f37_59df - (x.to_bits() >> 1));
    for _ in 0..3 {
        y *= 1.5 - 0.5 * x * y * y;
    }
    y
}

/// Floats viewed as their bit patterns (the inverse of `graph::f32s`), so
/// that they are stored with one block copy.
#[inline]
pub(crate) fn bits(v: &[f32]) -> &[u32] {
    // SAFETY: u32 and f32 have the same size and alignment, and every bit
    // pattern is a valid u32.
    unsafe { core::slice::from_raw_parts(v.as_ptr().cast(), v.len()) }
}
