//! `wasiclaw-p1.wasm`: the wasiclaw CLI as one preview-1 core module.
//!
//! Without std the module defines `_start` itself, so scripts/build-p1 links
//! it with `-Clink-self-contained=no` (no wasi-libc `crt1-command.o`, whose
//! `_start` would call into the libc this module no longer links).

#![cfg_attr(target_arch = "wasm32", no_std, no_main)]

#[cfg(target_arch = "wasm32")]
mod module {
    extern crate alloc;

    use alloc::rc::Rc;
    use alloc::vec::Vec;

    use wasiclaw_p1::{abi, entry, wasi};

    /// The tools' and components' 1 KB free-list allocator instead of std's
    /// ~8 KB dlmalloc.
    #[global_allocator]
    static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
        // SAFETY: wasm32-wasip1 without the atomics feature has one thread.
        unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

    /// A panic is a bug: trap, as std's handler does under `panic = "abort"`
    /// (without its message, whose formatting and printing cost ~10 KB).
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        core::arch::wasm32::unreachable()
    }

    /// `memcmp` for the code core's slice comparisons compile to. On
    /// wasm32-wasip1 compiler-builtins leaves it to wasi-libc, which the
    /// module no longer links (the others, `memcpy` and friends, are bulk
    /// memory instructions). `no_mangle` also exports it from the module,
    /// which costs a few bytes and no host uses.
    ///
    /// # Safety
    /// `a` and `b` must be valid for reads of `n` bytes, as for C's memcmp.
    #[no_mangle]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        let mut i = 0;
        while i < n {
            // SAFETY: `i < n` and the caller guarantees `n` readable bytes.
            let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
            if x != y {
                return i32::from(x) - i32::from(y);
            }
            i += 1;
        }
        0
    }

    /// The command's entry point, called once by the host.
    #[no_mangle]
    pub extern "C" fn _start() {
        let args: Vec<_> = wasi::args().into_iter().skip(1).collect();
        let code = entry::run(&args, Rc::new(abi::Import));
        wasi::exit(code as u32)
    }
}

/// Natively there is no `wasiclaw_http` to link against; the crate's library
/// is what native builds and tests use.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "wasiclaw-p1 is a wasm32-wasip1 module: build it with scripts/build-p1 and run it \
         with wasiclaw-wamr"
    );
    std::process::exit(2);
}
