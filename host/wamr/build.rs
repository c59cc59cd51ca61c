//! Embeds dist/wasiclaw-p1.wasm when scripts/build-p1 has produced it, so the
//! runner is one file; without it the binary still builds and wants --module.
use std::path::PathBuf;

fn main() {
    let dist = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../../dist/wasiclaw-p1.wasm");
    println!("cargo:rerun-if-changed={}", dist.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bytes = std::fs::read(&dist).unwrap_or_default();
    std::fs::write(out.join("wasiclaw-p1.wasm"), bytes).expect("write OUT_DIR/wasiclaw-p1.wasm");
}
