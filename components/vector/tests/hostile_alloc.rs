//! `load` must not allocate on the say-so of a header: measured with a
//! counting allocator (this file is its own test binary, with one test, so
//! nothing else allocates concurrently).
mod common;

use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use wasiclaw_vector::{fnv1a, Error, Index, Metric, Storage};

struct Counting;
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(l.size(), Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.load(Relaxed);
    let r = f();
    (r, ALLOCATED.load(Relaxed) - before)
}

fn header(n: u32, dims: u32, m: u32, slots: u32) -> Vec<u8> {
    let words = [
        u32::from_le_bytes(*b"WCVI"),
        1,
        dims,
        1,
        m,
        200,
        n,
        0,
        0,
        0,
        0,
        slots,
    ];
    let mut b: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let s = fnv1a(&b);
    b.extend_from_slice(&s.to_le_bytes());
    b
}

#[test]
fn hostile_headers_allocate_nothing_and_real_loads_stay_proportional() {
    for (n, dims, m, slots) in [
        (u32::MAX - 1, 1, 2, 0),
        (1 << 20, 1 << 20, 64, 0),
        (1, 1, 2, u32::MAX),
        (10, 384, 16, 0),
    ] {
        let bytes = header(n, dims, m, slots);
        let (r, used) = allocated_by(|| Index::load(&bytes).map(|_| ()));
        assert!(matches!(r, Err(Error::Capacity(_))), "{r:?}");
        assert_eq!(used, 0, "load allocated {used} bytes for a 52-byte header");
    }
    let data = clustered(500, 16, 5, 4);
    let bytes = build(Metric::L2, Storage::Int8, &data).save();
    let (r, used) = allocated_by(|| Index::load(&bytes).map(|_| ()));
    assert!(r.is_ok());
    assert!(
        used <= 3 * bytes.len(),
        "{used} bytes allocated for {}",
        bytes.len()
    );
}
