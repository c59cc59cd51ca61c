//! Hand-lowered calls for the four wasi:http functions that return an
//! `error-code`. The generated bindings lift that 39-case variant in full at
//! every call site (about 4 KB of code per component); the components need
//! only its case number and the two payloads they quote ([`ErrorCode`]). The layouts below follow the
//! canonical ABI for wasi:http@0.2.x on wasm32, whose types are frozen; the
//! offsets were checked against wit-bindgen 0.51's own lifting code.

use core::alloc::Layout;

use alloc::string::String;
use alloc::vec::Vec;

use crate::wasi::http::types as http;
use crate::wasi::io::error::Error as IoError;

/// Return area for a `result<own<..>, error-code>` or an
/// `option<result<result<own<..>, error-code>>>`: the largest is 24 + 32 bytes.
#[repr(C, align(8))]
struct Ret([u8; 64]);

impl Ret {
    fn u8(&self, at: usize) -> u8 {
        self.0[at]
    }
    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }
    fn u64(&self, at: usize) -> u64 {
        u64::from(self.u32(at)) | (u64::from(self.u32(at + 4)) << 32)
    }

    /// Reads the `error-code` at `at`: its case, the text of `dns-error`
    /// (rcode) and `internal-error`, and the limit of the `*-body-size`
    /// cases. Other strings some cases carry are freed (the host allocated
    /// them in our memory through `cabi_realloc`).
    fn error_code(&self, at: usize) -> ErrorCode {
        let case = self.u8(at);
        let payload = at + 8;
        let mut code = ErrorCode {
            case,
            text: None,
            size: None,
        };
        // http-request-body-size / http-response-body-size(option<u64>).
        if matches!(case, 17 | 28) && self.u8(payload) == 1 {
            code.size = Some(self.u64(payload + 8));
        }
        // Where the case's `option<string>` sits, if it has one.
        let text = match case {
            // dns-error{rcode}, *-size(field-size-payload{field-name}),
            // transfer/content-coding, internal-error.
            1 | 24 | 27 | 30 | 31 | 32 | 38 => payload,
            // tls-alert-received{alert-id: option<u8>, alert-message}.
            14 => payload + 4,
            // http-request-header-size(option<field-size-payload>).
            22 if self.u8(payload) == 1 => payload + 4,
            _ => return code,
        };
        if self.u8(text) == 1 {
            let (ptr, len) = (self.u32(text + 4) as usize, self.u32(text + 8) as usize);
            if len != 0 {
                let keep = matches!(case, 1 | 38);
                // SAFETY: a string the host just handed us, allocated with
                // align 1 by our `cabi_realloc` (so a `Vec<u8>` of exactly
                // that capacity), and referenced nowhere else.
                unsafe {
                    if keep {
                        let bytes = Vec::from_raw_parts(ptr as *mut u8, len, len);
                        code.text = String::from_utf8(bytes).ok();
                    } else {
                        alloc::alloc::dealloc(
                            ptr as *mut u8,
                            Layout::from_size_align_unchecked(len, 1),
                        )
                    }
                }
            }
        }
        code
    }
}

/// A wasi:http `error-code`, reduced to what the components report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorCode {
    /// The case's index in the `error-code` variant (wasi:http@0.2 types.wit).
    pub case: u8,
    /// `dns-error`'s rcode, or `internal-error`'s message, when given.
    pub text: Option<String>,
    /// The limit of `http-request-body-size` / `http-response-body-size`.
    pub size: Option<u64>,
}

impl ErrorCode {
    pub const DNS_TIMEOUT: u8 = 0;
    pub const DNS_ERROR: u8 = 1;
    pub const DESTINATION_NOT_FOUND: u8 = 2;
    pub const DESTINATION_UNAVAILABLE: u8 = 3;
    pub const CONNECTION_REFUSED: u8 = 6;
    pub const CONNECTION_TERMINATED: u8 = 7;
    pub const CONNECTION_TIMEOUT: u8 = 8;
    pub const CONNECTION_READ_TIMEOUT: u8 = 9;
    pub const CONNECTION_WRITE_TIMEOUT: u8 = 10;
    pub const TLS_PROTOCOL_ERROR: u8 = 12;
    pub const TLS_CERTIFICATE_ERROR: u8 = 13;
    pub const TLS_ALERT_RECEIVED: u8 = 14;
    pub const HTTP_REQUEST_DENIED: u8 = 15;
    pub const HTTP_REQUEST_URI_INVALID: u8 = 19;
    pub const HTTP_RESPONSE_INCOMPLETE: u8 = 25;
    pub const HTTP_RESPONSE_BODY_SIZE: u8 = 28;
    pub const HTTP_RESPONSE_TIMEOUT: u8 = 33;
    pub const HTTP_PROTOCOL_ERROR: u8 = 35;
    pub const CONFIGURATION_ERROR: u8 = 37;
    pub const INTERNAL_ERROR: u8 = 38;
}

#[link(wasm_import_module = "wasi:http/outgoing-handler@0.2.12")]
unsafe extern "C" {
    #[link_name = "handle"]
    fn handle_raw(request: i32, has_options: i32, options: i32, ret: *mut u8);
}

#[link(wasm_import_module = "wasi:http/types@0.2.12")]
unsafe extern "C" {
    #[link_name = "[static]outgoing-body.finish"]
    fn finish_raw(body: i32, has_trailers: i32, trailers: i32, ret: *mut u8);
    #[link_name = "[method]future-incoming-response.get"]
    fn get_raw(future: i32, ret: *mut u8);
    #[link_name = "http-error-code"]
    fn http_error_code_raw(err: i32, ret: *mut u8);
}

/// `outgoing-handler.handle(request, some(options))`.
pub fn handle(
    request: http::OutgoingRequest,
    options: http::RequestOptions,
) -> Result<http::FutureIncomingResponse, ErrorCode> {
    let mut ret = Ret([0; 64]);
    // SAFETY: both handles are owned and moved into the call; the return
    // area is large and aligned enough for `result<own, error-code>`.
    unsafe {
        handle_raw(
            request.take_handle() as i32,
            1,
            options.take_handle() as i32,
            ret.0.as_mut_ptr(),
        );
        match ret.u8(0) {
            0 => Ok(http::FutureIncomingResponse::from_handle(ret.u32(8))),
            _ => Err(ret.error_code(8)),
        }
    }
}

/// `outgoing-body.finish(body, none)`.
pub fn finish(body: http::OutgoingBody) -> Result<(), ErrorCode> {
    let mut ret = Ret([0; 64]);
    // SAFETY: the body handle is owned and moved into the call.
    unsafe { finish_raw(body.take_handle() as i32, 0, 0, ret.0.as_mut_ptr()) };
    match ret.u8(0) {
        0 => Ok(()),
        _ => Err(ret.error_code(8)),
    }
}

/// `future-incoming-response.get()`: `None` while pending or when already
/// taken, else the response or the error case.
pub fn get(
    future: &http::FutureIncomingResponse,
) -> Option<Result<http::IncomingResponse, ErrorCode>> {
    let mut ret = Ret([0; 64]);
    // SAFETY: borrows the handle for the duration of the call.
    unsafe {
        get_raw(future.handle() as i32, ret.0.as_mut_ptr());
        if ret.u8(0) == 0 || ret.u8(8) != 0 {
            return None;
        }
        Some(match ret.u8(16) {
            0 => Ok(http::IncomingResponse::from_handle(ret.u32(24))),
            _ => Err(ret.error_code(24)),
        })
    }
}

/// `http-error-code(err)`: the `error-code` behind a stream's I/O error,
/// when the failure was an HTTP one.
pub fn http_error_code(err: &IoError) -> Option<ErrorCode> {
    let mut ret = Ret([0; 64]);
    // SAFETY: borrows the handle for the duration of the call; the return
    // area holds an `option<error-code>` (tag, then the variant at 8).
    unsafe { http_error_code_raw(err.handle() as i32, ret.0.as_mut_ptr()) };
    (ret.u8(0) == 1).then(|| ret.error_code(8))
}
