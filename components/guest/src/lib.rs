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
