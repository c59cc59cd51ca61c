//! The component's exports, written against the canonical ABI by hand.
//!
//! `wit_bindgen::generate!` still runs: it embeds the binary-encoded world
//! (the `component-type` custom section) that `wasm-tools component new`
//! reads, and `component new` checks every export below against it. Its
//! export glue is not used (`export!` is never invoked) because it boxes each
//! resource and heap-allocates each error string through `Box`/`String`,
//! which link `handle_alloc_error` and with it ~3 KB of integer formatting:
//! a fifth of this component's budget. Here, error strings point at static
//! data, the resource is a raw allocation, and returned lists are freed by
//! the post-return functions from a record of the last allocation. The
//! integration tests (tests/it/vector.rs) drive every export under wasmtime
//! and compare with the native build.
//!
//! Canonical ABI layout used (wasm32): `list<T>` = (ptr, len); `hit` =
//! 16 bytes (id u64 at 0, distance f32 at 8); `result<T, error>` = tag byte
//! at 0, payload at 8; `error` = tag byte at 8, payload at 16 (u32 pair,
//! u64, or string ptr/len).

use crate::buf::{free, Buf};
use crate::{Error, Index, Metric, Params, Storage};
use alloc::alloc::{alloc, dealloc};
use core::alloc::{GlobalAlloc, Layout};

wit_bindgen::generate!({
    path: "../../wit",
    world: "wasiclaw:core/vector-kernel",
});

/// The allocator: segregated free lists of power-of-two blocks, carved from
/// memory grown with `memory.grow` and never split or merged. A freed block
/// goes back to its size's list and is handed out again for that size, so
/// memory is reused, not leaked. The index's arrays grow by doubling, which
/// keeps their blocks exact powers of two. About 0.1 KB of code where
/// lol_alloc's coalescing list took 0.5 KB and talc 5 KB (measured in this
/// component: 16.5 KB with lol_alloc, 21.1 KB with talc). Out of memory
/// traps rather than returning null, as `Buf` does.
struct Alloc;

/// Heads of the free lists, by log2 of the block size (0 = empty); a free
/// block stores the next block's address in its first word.
static mut FREE: [usize; 32] = [0; 32];
/// The unused end of the last region `memory.grow` gave us.
static mut TOP: usize = 0;
static mut END: usize = 0;

/// Size class: blocks of `1 << class` bytes, at least 16 (every block
/// starts 16-byte aligned, so any class serves any alignment up to 16).
/// Sizes never exceed `isize::MAX`, so the class is below 32; the mask
/// says so to the compiler (no bounds check, no panic path).
fn class(l: Layout) -> usize {
    if l.align() > 16 {
        core::arch::wasm32::unreachable()
    }
    (usize::BITS - (l.size().max(16) - 1).leading_zeros()) as usize & 31
}

unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let c = class(l);
        // SAFETY (all statics): the component is single-threaded and never
        // re-entered, so these are never accessed concurrently.
        unsafe {
            let head = FREE[c];
            if head != 0 {
                FREE[c] = *(head as *const usize);
                return head as *mut u8;
            }
            let size = 1usize << c;
            // END is page-aligned and TOP <= END, so p <= END: no overflow.
            let mut p = (TOP + 15) & !15;
            if END - p < size {
                let pages = (size + 0xffff) >> 16;
                let old = core::arch::wasm32::memory_grow(0, pages);
                if old == usize::MAX {
                    core::arch::wasm32::unreachable()
                }
                if old << 16 != END {
                    // Not contiguous with our last region: start afresh.
                    TOP = old << 16;
                }
                END = (old + pages) << 16;
                p = (TOP + 15) & !15;
            }
            TOP = p + size;
            p as *mut u8
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, l: Layout) {
        let c = class(l);
        // SAFETY: as in `alloc`; `ptr` is a block of class `c` that the
        // caller no longer uses.
        unsafe {
            *(ptr as *mut usize) = FREE[c];
            FREE[c] = ptr as usize;
        }
    }
}

#[global_allocator]
static ALLOC: Alloc = Alloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[link(wasm_import_module = "[export]wasiclaw:core/vector@0.1.0")]
extern "C" {
    #[link_name = "[resource-new]index"]
    fn resource_new(rep: *mut u8) -> u32;
}

/// The return area: large enough for `result<list<hit>, error>`.
#[repr(C, align(8))]
struct Ret([u8; 24]);
static mut RET: Ret = Ret([0; 24]);

/// The block handed out by the last `search`/`save`, freed by post-return.
static mut LAST: (*mut u8, usize, usize) = (core::ptr::null_mut(), 0, 1);

/// Writes `v` at byte `off` of the return area.
unsafe fn put<T>(off: usize, v: T) -> *mut u8 {
    let p = (&raw mut RET).cast::<u8>();
    unsafe { p.add(off).cast::<T>().write(v) };
    p
}

/// Lowers `err(e)` of a `result<_, error>`: the case tag at 8 and its
/// payload (two u32, a u64, or a string's pointer and length) as one u64
/// at 16.
unsafe fn put_err(e: Error) -> *mut u8 {
    let s = |tag: u8, m: &'static str| (tag, m.as_ptr() as u64 | (m.len() as u64) << 32);
    let (tag, payload) = match e {
        Error::DimensionMismatch { expected, got } => (0, expected as u64 | (got as u64) << 32),
        Error::DuplicateId(id) => (1, id),
        // Static text: nothing for post-return to free.
        Error::CorruptData(m) => s(2, m),
        Error::Capacity(m) => s(3, m),
        Error::InvalidArgument(m) => s(4, m),
    };
    unsafe {
        put(16, payload);
        put(8, tag);
        put(0, 1u8)
    }
}

/// A `list<T>` argument: the host allocated it through `cabi_realloc`
/// (`Layout(len * size_of::<T>(), align_of::<T>())`) and it is ours to free.
struct Arg<T>(*mut T, usize);

impl<T> Arg<T> {
    fn get(&self) -> &[T] {
        // SAFETY: the canonical ABI hands over `len` initialised elements.
        unsafe { core::slice::from_raw_parts(self.0, self.1) }
    }
}

impl<T> Drop for Arg<T> {
    fn drop(&mut self) {
        // SAFETY: the layout `cabi_realloc` allocated with.
        unsafe {
            free(
                self.0.cast(),
                self.1 * core::mem::size_of::<T>(),
                core::mem::align_of::<T>(),
            )
        }
    }
}

/// Moves `index` to the heap and makes it a resource.
unsafe fn handle(index: Index) -> u32 {
    unsafe {
        let p = alloc(Layout::new::<Index>()).cast::<Index>();
        if p.is_null() {
            core::arch::wasm32::unreachable()
        }
        p.write(index);
        resource_new(p.cast())
    }
}

/// Hands `buf` to the host as a list, recording it for post-return.
unsafe fn give<T: Copy>(buf: Buf<T>, at: usize) -> *mut u8 {
    let (p, len, cap) = buf.into_raw_parts();
    unsafe {
        LAST = (
            p.cast(),
            cap * core::mem::size_of::<T>(),
            core::mem::align_of::<T>(),
        );
        put(at + 4, len);
        put(at, p)
    }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[constructor]index"]
unsafe extern "C" fn new(dims: u32, metric: u32, m: u32, efc: u32, storage: u32) -> u32 {
    let metric = match metric {
        0 => Metric::Cosine,
        1 => Metric::L2,
        _ => Metric::Dot,
    };
    let storage = if storage == 0 {
        Storage::F32
    } else {
        Storage::Int8
    };
    let params = Params {
        m,
        ef_construction: efc,
        storage,
    };
    unsafe { handle(Index::new(dims, metric, params)) }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[dtor]index"]
unsafe extern "C" fn dtor(rep: *mut Index) {
    unsafe {
        core::ptr::drop_in_place(rep);
        dealloc(rep.cast(), Layout::new::<Index>());
    }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[method]index.insert"]
unsafe extern "C" fn insert(rep: *mut Index, id: u64, ptr: *mut f32, len: usize) -> *mut u8 {
    let v = Arg(ptr, len);
    unsafe {
        match (*rep).insert(id, v.get()) {
            Ok(()) => put(0, 0u8),
            Err(e) => put_err(e),
        }
    }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[method]index.remove"]
unsafe extern "C" fn remove(rep: *mut Index, id: u64) -> u32 {
    unsafe { (*rep).remove(id) as u32 }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[method]index.search"]
unsafe extern "C" fn search(
    rep: *mut Index,
    ptr: *mut f32,
    len: usize,
    k: u32,
    ef: u32,
) -> *mut u8 {
    let q = Arg(ptr, len);
    unsafe {
        match (*rep).search_buf(q.get(), k, ef) {
            Ok(hits) => {
                put(0, 0u8);
                give(hits, 8)
            }
            Err(e) => put_err(e),
        }
    }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[method]index.len"]
unsafe extern "C" fn len(rep: *mut Index) -> u64 {
    unsafe { (*rep).len() }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[method]index.compact"]
unsafe extern "C" fn compact(rep: *mut Index) {
    unsafe { (*rep).compact() }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[method]index.save"]
unsafe extern "C" fn save(rep: *mut Index) -> *mut u8 {
    unsafe { give((*rep).snapshot(), 0) }
}

#[export_name = "wasiclaw:core/vector@0.1.0#[static]index.load"]
unsafe extern "C" fn load(ptr: *mut u8, len: usize) -> *mut u8 {
    let bytes = Arg(ptr, len);
    let r = Index::load(bytes.get());
    drop(bytes);
    unsafe {
        match r {
            Ok(index) => {
                put(8, handle(index));
                put(0, 0u8)
            }
            Err(e) => put_err(e),
        }
    }
}

/// Frees the list returned by the call that just finished.
unsafe fn free_last() {
    unsafe {
        let (p, size, align) = LAST;
        free(p, size, align);
        LAST.1 = 0;
    }
}

#[export_name = "cabi_post_wasiclaw:core/vector@0.1.0#[method]index.search"]
unsafe extern "C" fn post_search(_: *mut u8) {
    unsafe { free_last() }
}

#[export_name = "cabi_post_wasiclaw:core/vector@0.1.0#[method]index.save"]
unsafe extern "C" fn post_save(_: *mut u8) {
    unsafe { free_last() }
}
