//! `wasiclaw-p1.wasm`: the wasiclaw CLI as one preview-1 core module.

#[cfg(target_arch = "wasm32")]
fn main() {
    use std::rc::Rc;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = wasiclaw_p1::entry::run(
        &args,
        std::path::Path::new(wasiclaw_p1::entry::MOUNT),
        Rc::new(wasiclaw_p1::abi::Import),
    );
    std::process::exit(code);
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
