//! The `wasiclaw_http` error codes (wit/wasiclaw-http-p1.md) and the error
//! every native layer returns: a code for the guest and a reason for the model.

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail {
    pub code: i32,
    pub message: String,
}

impl Fail {
    pub fn new(code: i32, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
