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

/// The workspace a user named with [`env::WORKSPACE`] (a guest path): the
/// preopen mounted there, or the deepest preopen that contains it, with the
/// path of the workspace inside that preopen (`""`: the preopen itself).
/// `None` when no preopen contains it, or when it has `.` or `..`
/// components (a name, not a way out of a preopen). Lets hosts that cannot
/// mount a directory at [`WORKSPACE_MOUNT`] (jco on Node.js), or that
/// preopen a parent directory, still confine the agent to the workspace.
pub fn find_workspace<'a, T>(
    preopens: &[(T, impl AsRef<str>)],
    named: &'a str,
) -> Option<(usize, &'a str)> {
    let want = named.trim_end_matches('/');
    if want.split('/').any(|c| c == "." || c == "..") {
        return None;
    }
    let mut best: Option<(usize, usize)> = None;
    for (i, (_, name)) in preopens.iter().enumerate() {
        let p = name.as_ref().trim_end_matches('/');
        let inside =
            want == p || (want.starts_with(p) && want.as_bytes().get(p.len()) == Some(&b'/'));
        if inside && best.is_none_or(|(_, len)| p.len() > len) {
            best = Some((i, p.len()));
        }
    }
    best.map(|(i, len)| (i, want.get(len..).unwrap_or("").trim_start_matches('/')))
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
    /// The workspace by its guest path, for hosts that cannot mount it at
    /// `/workspace` ([`crate::find_workspace`]).
    pub const WORKSPACE: &str = "WASICLAW_WORKSPACE";
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
