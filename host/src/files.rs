//! The guest's file system: the workspace directory, preopened at
//! `/workspace`, and nothing else.

use std::path::{Path, PathBuf};

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

pub const GUEST_WORKSPACE: &str = wasiclaw_contract::WORKSPACE_MOUNT;

/// The workspace as an absolute, existing directory.
pub fn resolve_workspace(dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir()?,
    };
    let abs = dir
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("workspace {} is not usable: {e}", dir.display()))?;
    if !abs.is_dir() {
        anyhow::bail!("workspace {} is not a directory", abs.display());
    }
    Ok(abs)
}

pub fn preopen_workspace(b: &mut WasiCtxBuilder, workspace: &Path) -> anyhow::Result<()> {
    b.preopened_dir(workspace, GUEST_WORKSPACE, FsPerms::ReadWrite)
        .map_err(|e| anyhow::anyhow!("cannot open workspace {}: {e}", workspace.display()))?;
    Ok(())
}
