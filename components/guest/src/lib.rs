//! The guest side of wasiclaw's platform seam on WASI 0.2, shared by the
//! agent and tools components: the `wasi:http` bindings both of them use
//! (they map their own bindings onto these with wit-bindgen's `with`) and
//! the one blocking HTTP client they both call. Each component maps the
//! client's outcomes onto its own seam types and messages.
//!
//! Components share no code after composition, so this saves no bytes by
//! being shared; it saves the second copy of the source, and the agent gets
//! the tools' hand-lowered `error-code` calls (`raw`), ~4 KB smaller than
//! the generated lifting.

#![no_std]

extern crate alloc;

pub mod http;
mod raw;

wit_bindgen::generate!({
    inline: "package wasiclaw:guest;
        world guest {
            import wasi:http/outgoing-handler@0.2.12;
        }",
    path: "../../wit",
    generate_all,
});

pub use raw::ErrorCode;

/// `wit_bindgen::generate!` for a component that links this crate: the
/// given options plus `generate_all` and `with` mappings that make the
/// wasi:http, wasi:io and monotonic-clock bindings this crate's, so the
/// shared client's types are the component's own. The caller depends on
/// `wit-bindgen` (the expansion names it) and on this crate.
#[macro_export]
macro_rules! bindings {
    ({ $($option:tt)* }) => {
        wit_bindgen::generate!({
            $($option)*
            with: {
                "wasi:http/types@0.2.12": ::wasiclaw_guest::wasi::http::types,
                "wasi:http/outgoing-handler@0.2.12": ::wasiclaw_guest::wasi::http::outgoing_handler,
                "wasi:io/error@0.2.12": ::wasiclaw_guest::wasi::io::error,
                "wasi:io/poll@0.2.12": ::wasiclaw_guest::wasi::io::poll,
                "wasi:io/streams@0.2.12": ::wasiclaw_guest::wasi::io::streams,
                "wasi:clocks/monotonic-clock@0.2.12": ::wasiclaw_guest::wasi::clocks::monotonic_clock,
            },
            generate_all,
        });
    };
}

/// The allocator of every component that links this crate: a 1 KB
/// free-list allocator (coalescing, O(free list)) instead of std's ~8 KB
/// dlmalloc; the components are short-lived and allocation-light.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one thread.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// Panics abort without formatting their message: nobody could read it, and
/// the formatting machinery would cost a third of a component. A panic is a
/// bug (input never panics); the host reports the trap.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
