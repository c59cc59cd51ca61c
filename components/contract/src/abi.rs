//! The `wasiclaw_http` import of the core-module build (ABI described in
//! `wit/wasiclaw-http-p1.md`): the error codes the host returns and the
//! guest interprets. Non-negative results are values (handles, lengths).

/// Error codes of the ABI; see the table in `wit/wasiclaw-http-p1.md`.
pub mod code {
    pub const INVALID: i32 = -1;
    pub const DENIED: i32 = -2;
    pub const CONNECT: i32 = -3;
    pub const TIMEOUT: i32 = -4;
    pub const TOO_LARGE: i32 = -5;
    pub const PROTOCOL: i32 = -6;
    pub const BAD_HANDLE: i32 = -7;
    pub const LIMIT: i32 = -8;
    pub const UNSUPPORTED: i32 = -9;
}
