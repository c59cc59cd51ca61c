//! The `wasiclaw_http` import (wit/wasiclaw-http-p1.md) behind a safe trait,
//! so the clients built on it are tested natively against a fake and the
//! module itself only links the raw imports on wasm32.

/// Error codes of the ABI: the contract's, shared with the host that
/// serves the import.
pub use wasiclaw_contract::abi::code;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// The import module, one method per function, with slices for the
/// `(ptr, len)` pairs. Results are the raw `i32`s of the ABI.
pub trait HttpImport {
    fn request(&self, method: &str, url: &str, headers: &str, body: &[u8], timeout_ms: u32) -> i32;
    fn status(&self, handle: i32) -> i32;
    fn headers(&self, handle: i32, buf: &mut [u8]) -> i32;
    fn read(&self, handle: i32, buf: &mut [u8]) -> i32;
    fn close(&self, handle: i32);
    fn last_error(&self, buf: &mut [u8]) -> i32;
}

/// Calls a "returns the needed length, writes only when it fits" function
/// until the buffer is big enough.
pub fn read_sized(mut f: impl FnMut(&mut [u8]) -> i32) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; 512];
    // Two rounds suffice unless the value grows in between; the bound keeps a
    // misbehaving host from looping us forever.
    for _ in 0..4 {
        let n = f(&mut buf);
        if n < 0 {
            return Err(n);
        }
        let n = n as usize;
        if n <= buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        buf.resize(n, 0);
    }
    Err(code::PROTOCOL)
}

/// The reason for the most recent error, or a generic one from the code.
pub fn error_message(imp: &dyn HttpImport, code: i32) -> String {
    match read_sized(|b| imp.last_error(b)) {
        Ok(m) if !m.is_empty() => String::from_utf8_lossy(&m).into_owned(),
        _ => String::from(generic(code)),
    }
}

fn generic(code: i32) -> &'static str {
    match code {
        code::INVALID => "invalid request",
        code::DENIED => "denied by the host's policy",
        code::CONNECT => "connection failed",
        code::TIMEOUT => "timed out",
        code::TOO_LARGE => "body larger than the host allows",
        code::PROTOCOL => "malformed HTTP response",
        code::BAD_HANDLE => "bad response handle",
        code::LIMIT => "too many open responses",
        code::UNSUPPORTED => "not supported by this host",
        _ => "unknown HTTP error",
    }
}

/// The real import, linked from the embedder.
#[cfg(target_arch = "wasm32")]
pub struct Import;

#[cfg(target_arch = "wasm32")]
mod raw {
    #[link(wasm_import_module = "wasiclaw_http")]
    extern "C" {
        #[allow(clippy::too_many_arguments)]
        pub fn request(
            method_ptr: *const u8,
            method_len: usize,
            url_ptr: *const u8,
            url_len: usize,
            headers_ptr: *const u8,
            headers_len: usize,
            body_ptr: *const u8,
            body_len: usize,
            timeout_ms: u32,
        ) -> i32;
        pub fn status(handle: i32) -> i32;
        pub fn headers(handle: i32, buf_ptr: *mut u8, buf_len: usize) -> i32;
        pub fn read(handle: i32, buf_ptr: *mut u8, buf_len: usize) -> i32;
        pub fn close(handle: i32);
        pub fn last_error(buf_ptr: *mut u8, buf_len: usize) -> i32;
    }
}

// SAFETY (all calls below): the host only touches the given ranges, during
// the call, as the ABI document specifies; slices guarantee the ranges are
// ours and in memory.
#[cfg(target_arch = "wasm32")]
impl HttpImport for Import {
    fn request(&self, method: &str, url: &str, headers: &str, body: &[u8], timeout_ms: u32) -> i32 {
        unsafe {
            raw::request(
                method.as_ptr(),
                method.len(),
                url.as_ptr(),
                url.len(),
                headers.as_ptr(),
                headers.len(),
                body.as_ptr(),
                body.len(),
                timeout_ms,
            )
        }
    }
    fn status(&self, handle: i32) -> i32 {
        unsafe { raw::status(handle) }
    }
    fn headers(&self, handle: i32, buf: &mut [u8]) -> i32 {
        unsafe { raw::headers(handle, buf.as_mut_ptr(), buf.len()) }
    }
    fn read(&self, handle: i32, buf: &mut [u8]) -> i32 {
        unsafe { raw::read(handle, buf.as_mut_ptr(), buf.len()) }
    }
    fn close(&self, handle: i32) {
        unsafe { raw::close(handle) }
    }
    fn last_error(&self, buf: &mut [u8]) -> i32 {
        unsafe { raw::last_error(buf.as_mut_ptr(), buf.len()) }
    }
}
