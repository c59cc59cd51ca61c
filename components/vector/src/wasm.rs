//! The component shim: WIT types in, the plain-Rust index out. Compiled only
//! for wasm32-unknown-unknown, together with the allocator and panic handler
//! a `no_std` cdylib needs.

use crate::{Error as E, Index, Metric as M, Params as P, Storage as S};
use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

wit_bindgen::generate!({
    path: "../../wit",
    world: "wasiclaw:core/vector-kernel",
});

use exports::wasiclaw::core::vector::{
    Error, Guest, GuestIndex, Hit, Index as Handle, Metric, Params, Storage,
};

/// lol_alloc's free list returns freed blocks for reuse and coalesces them
/// (unlike a bump or leaking allocator) at ~2.5 KB of code. The wrapper traps
/// when memory runs out instead of returning null: LLVM then sees that
/// allocations never fail and drops `handle_alloc_error`, whose message
/// formatting would otherwise pull `core::fmt` into the component. Running
/// out of linear memory therefore traps, as it would in most wasm code.
struct Alloc(lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator>);

unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc(layout) };
        if p.is_null() {
            core::arch::wasm32::unreachable()
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) }
    }
}

#[global_allocator]
// SAFETY: a component instance never runs on more than one thread.
static ALLOC: Alloc =
    Alloc(unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) });

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

struct Kernel;

/// Methods take `&self` in the generated trait. The component imports
/// nothing, so no call can re-enter it while another is running, and each
/// method below takes the only reference for its own duration; `RefCell`
/// would add a borrow flag and a formatting panic path for nothing.
struct Res(UnsafeCell<Index>);

impl Res {
    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut Index {
        // SAFETY: see the type's comment: calls into the component are never
        // nested, so this is the only live reference.
        unsafe { &mut *self.0.get() }
    }
}

fn err(e: E) -> Error {
    match e {
        E::DimensionMismatch { expected, got } => Error::DimensionMismatch((expected, got)),
        E::DuplicateId(id) => Error::DuplicateId(id),
        E::CorruptData(m) => Error::CorruptData(String::from(m)),
        E::Capacity(m) => Error::Capacity(String::from(m)),
        E::InvalidArgument(m) => Error::InvalidArgument(String::from(m)),
    }
}

impl Guest for Kernel {
    type Index = Res;
}

impl GuestIndex for Res {
    fn new(dims: u32, metric: Metric, params: Params) -> Self {
        let metric = match metric {
            Metric::Cosine => M::Cosine,
            Metric::L2 => M::L2,
            Metric::Dot => M::Dot,
        };
        let storage = match params.storage {
            Storage::Full => S::F32,
            Storage::Int8 => S::Int8,
        };
        let p = P {
            m: params.m,
            ef_construction: params.ef_construction,
            storage,
        };
        Res(UnsafeCell::new(Index::new(dims, metric, p)))
    }

    fn insert(&self, id: u64, vector: Vec<f32>) -> Result<(), Error> {
        self.get().insert(id, &vector).map_err(err)
    }

    fn remove(&self, id: u64) -> bool {
        self.get().remove(id)
    }

    fn search(&self, query: Vec<f32>, k: u32, ef: u32) -> Result<Vec<Hit>, Error> {
        let mut hits = Vec::new();
        self.get()
            .search_with(&query, k, ef, |id, distance| {
                hits.push(Hit { id, distance })
            })
            .map_err(err)?;
        Ok(hits)
    }

    fn len(&self) -> u64 {
        self.get().len()
    }

    fn compact(&self) {
        self.get().compact()
    }

    fn save(&self) -> Vec<u8> {
        self.get().save()
    }

    fn load(bytes: Vec<u8>) -> Result<Handle, Error> {
        let index = Index::load(&bytes).map_err(err)?;
        drop(bytes);
        Ok(Handle::new(Res(UnsafeCell::new(index))))
    }
}

export!(Kernel);
