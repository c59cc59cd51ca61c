//! Hand-lowered calls for the three wasi:http functions that return an
//! `error-code`. The generated bindings lift that 39-case variant in full at
//! every call site (about 4 KB of code in this component); the tools only need
//! its case number to explain the failure. The layouts below follow the
//! canonical ABI for wasi:http@0.2.x on wasm32, whose types are frozen; the
//! offsets were checked against wit-bindgen 0.51's own lifting code.

use core::alloc::Layout;

use crate::prelude::*;

use super::wasi::http::types as http;

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

    /// Reads the `error-code` case at `at` and frees the strings some cases
    /// carry (the host allocated them in our memory through `cabi_realloc`).
    fn error_code(&self, at: usize) -> u8 {
        let case = self.u8(at);
        let payload = at + 8;
        // Where the case's `option<string>` sits, if it has one.
        let text = match case {
            // dns-error{rcode}, *-size(field-size-payload{field-name}),
            // transfer/content-coding, internal-error.
            1 | 24 | 27 | 30 | 31 | 32 | 38 => payload,
            // tls-alert-received{alert-id: option<u8>, alert-message}.
            14 => payload + 4,
            // http-request-header-size(option<field-size-payload>).
            22 if self.u8(payload) == 1 => payload + 4,
            _ => return case,
        };
        if self.u8(text) == 1 {
            let (ptr, len) = (self.u32(text + 4), self.u32(text + 8));
            if len != 0 {
                // SAFETY: a string the host just handed us, allocated with
                // align 1 by our `cabi_realloc`, and referenced nowhere else.
                unsafe {
                    alloc::alloc::dealloc(
                        ptr as usize as *mut u8,
                        Layout::from_size_align_unchecked(len as usize, 1),
                    )
                }
            }
        }
        case
    }
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
}

/// `outgoing-handler.handle(request, some(options))`.
pub fn handle(
    request: http::OutgoingRequest,
    options: http::RequestOptions,
) -> Result<http::FutureIncomingResponse, u8> {
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
pub fn finish(body: http::OutgoingBody) -> Result<(), u8> {
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
pub fn get(future: &http::FutureIncomingResponse) -> Option<Result<http::IncomingResponse, u8>> {
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

/// An `error-code` case in words the model can act on.
pub fn describe(case: u8) -> String {
    String::from(match case {
        0 | 1 => "the host name could not be resolved",
        2 => "the host was not found",
        3 | 6 => "the connection was refused",
        4 | 5 => "the destination address is not allowed",
        7 | 11 => "the connection was closed",
        8 => "the connection timed out",
        9 | 10 | 33 => "the server stopped responding",
        12..=14 => "the TLS handshake failed",
        15 => "the host does not allow this request",
        19 | 20 => "the URL is invalid",
        25 => "the response was incomplete",
        26..=30 => "the response was too large",
        36 => "the server redirected in a loop",
        _ => "the HTTP exchange failed",
    })
}
