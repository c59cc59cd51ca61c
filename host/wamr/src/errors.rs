//! The `wasiclaw_http` error codes (wit/wasiclaw-http-p1.md) and the error
//! every native layer returns: a code for the guest and a reason for the model.

/// One table for both sides of the ABI, in the host–guest contract.
pub use wasiclaw_contract::abi::code;

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
