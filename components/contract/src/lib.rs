//! The host–guest contract of wasiclaw, written once: both hosts and every
//! guest build depend on this crate instead of re-deriving its facts.
//!
//! What lives here is what the two sides must agree on byte for byte: the
//! environment names the guest reads and the host sets, the providers'
//! default base URLs and which of their paths carry a key, which side adds
//! the key, where the workspace is mounted, how the session of a command line
//! or an HTTP request is chosen, and the error codes of the `wasiclaw_http`
//! core-module import. It is `no_std` without `alloc` and has no
//! dependencies, so it costs the size-budgeted guests only what they call.
#![cfg_attr(not(test), no_std)]

pub mod abi;
pub mod args;
pub mod kv;
mod provider;
mod session;

pub use provider::{url_path, ProviderCall, ProviderKind};
pub use session::{session_for_request, validate_session, SessionNameError, DEFAULT_SESSION};

/// Where every host mounts the workspace in the guest (`--dir WS::/workspace`).
pub const WORKSPACE_MOUNT: &str = "/workspace";

/// Which of the guest's preopened directories is the workspace: the one
/// mounted at [`WORKSPACE_MOUNT`], else the first (a host that mounts it
/// elsewhere still works); `None` when nothing is preopened. Every guest
/// build picks with this, so the agent and the tools agree on the workspace.
pub fn pick_workspace<T>(preopens: &[(T, impl AsRef<str>)]) -> Option<usize> {
    if preopens.is_empty() {
        return None;
    }
    let at = preopens
        .iter()
        .position(|(_, name)| name.as_ref().trim_end_matches('/') == WORKSPACE_MOUNT);
    Some(at.unwrap_or(0))
}

/// The request header that names the session of an edge request.
pub const SESSION_HEADER: &str = "x-wasiclaw-session";

/// The largest edge request body the guest accepts (413 above it); a host
/// in front of the guest reads at most this much before answering the same.
pub const MAX_EDGE_REQUEST_BYTES: usize = 1 << 20;

/// The environment the guest reads: names follow the providers' SDKs.
pub mod env {
    pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
    pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
    pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
    pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
    pub const PROVIDER: &str = "WASICLAW_PROVIDER";
    pub const MODEL: &str = "WASICLAW_MODEL";
    pub const EMBEDDING_MODEL: &str = "WASICLAW_EMBEDDING_MODEL";
    /// Set by a host that adds provider keys itself: the providers whose key
    /// it holds, comma-separated names (`openai`, `anthropic`). The guest
    /// then sends that provider's calls without a key of its own, even to
    /// the default base URL, which it otherwise refuses without one.
    pub const HOST_AUTH: &str = "WASICLAW_HOST_AUTH";
    /// What a host may pass through from its own environment to the guest
    /// as it is (keys never: a host that holds them injects them).
    pub const PASSED_THROUGH: [&str; 3] = [PROVIDER, MODEL, EMBEDDING_MODEL];
}

/// Whether a [`env::HOST_AUTH`] value names `kind`.
pub fn host_adds_key(host_auth: Option<&str>, kind: ProviderKind) -> bool {
    host_auth.is_some_and(|v| {
        v.split(',')
            .any(|n| ProviderKind::parse(n.trim()) == Some(kind))
    })
}

#[cfg(test)]
mod tests;
