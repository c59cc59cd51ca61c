//! Embeds dist/wasiclaw.wasm, dist/wasiclaw-http.wasm and, for plugin mode,
//! the uncomposed agents and dist/toolbox.wasm when they exist; a
//! missing artifact becomes an empty slice and the binary asks for
//! `--module PATH` instead of failing the build.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dist = manifest.join("..").join("dist");
    // Listed, since naming any file below replaces cargo's default of
    // rerunning on changes to the package: a new embedded name must reach
    // an existing target directory.
    println!("cargo:rerun-if-changed=build.rs");
    // The composed modules, then what plugin mode links by itself: the
    // uncomposed agents and the built-in toolbox.
    for name in [
        "wasiclaw.wasm",
        "wasiclaw-http.wasm",
        "components/agent.wasm",
        "components/agent-http.wasm",
        "toolbox.wasm",
    ] {
        let src = dist.join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        let dst = out.join(name.replace('/', "-"));
        let bytes = std::fs::read(&src).unwrap_or_default();
        if bytes.is_empty() {
            println!("cargo:warning=dist/{name} not found: the wasiclaw binary will need --module");
        }
        std::fs::write(&dst, bytes).expect("write embedded module copy into OUT_DIR");
    }
}
