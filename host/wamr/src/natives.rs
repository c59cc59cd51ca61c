//! The `wasiclaw_http` natives as WAMR calls them. Signatures use `*~`, so
//! WAMR has already checked every `(ptr, len)` against linear memory and
//! passes host pointers; these functions only rebuild slices and forward to
//! [`HttpHost`]. The host lives in a thread-local because WAMR's natives are
//! plain C functions and the module runs on the thread that installed it.

use std::cell::RefCell;
use std::ffi::{c_char, c_void};

use wamrx_sys as sys;

use crate::errors::code;
use crate::http_host::HttpHost;

thread_local! {
    static HOST: RefCell<Option<HttpHost>> = const { RefCell::new(None) };
}

/// Installs the host state the natives serve (per thread, replacing any).
pub fn install(host: HttpHost) {
    HOST.with(|h| *h.borrow_mut() = Some(host));
}

/// Drops the host state, closing every open response.
pub fn uninstall() {
    HOST.with(|h| h.borrow_mut().take());
}

fn with_host(f: impl FnOnce(&mut HttpHost) -> i32) -> i32 {
    HOST.with(|h| match h.try_borrow_mut() {
        Ok(mut guard) => match guard.as_mut() {
            Some(host) => f(host),
            None => code::UNSUPPORTED,
        },
        // Re-entered from inside a native: cannot happen with one guest
        // thread, but never panic across the C boundary.
        Err(_) => code::INVALID,
    })
}

/// # Safety
/// `ptr` must be valid for `len` bytes, which WAMR's `*~` check guarantees.
unsafe fn slice<'a>(ptr: *const u8, len: u32) -> &'a [u8] {
    if len == 0 || ptr.is_null() {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(ptr, len as usize) }
    }
}

/// # Safety
/// As [`slice`], for writing.
unsafe fn slice_mut<'a>(ptr: *mut u8, len: u32) -> &'a mut [u8] {
    if len == 0 || ptr.is_null() {
        &mut []
    } else {
        unsafe { std::slice::from_raw_parts_mut(ptr, len as usize) }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn request(
    _env: sys::wasm_exec_env_t,
    method: *const u8,
    method_len: u32,
    url: *const u8,
    url_len: u32,
    headers: *const u8,
    headers_len: u32,
    body: *const u8,
    body_len: u32,
    timeout_ms: i32,
) -> i32 {
    let (m, u, h, b) = unsafe {
        (
            slice(method, method_len),
            slice(url, url_len),
            slice(headers, headers_len),
            slice(body, body_len),
        )
    };
    with_host(|host| host.request(m, u, h, b, timeout_ms.max(0) as u32))
}

unsafe extern "C" fn status(_env: sys::wasm_exec_env_t, handle: i32) -> i32 {
    with_host(|host| host.status(handle))
}

unsafe extern "C" fn headers(
    _env: sys::wasm_exec_env_t,
    handle: i32,
    buf: *mut u8,
    len: u32,
) -> i32 {
    let buf = unsafe { slice_mut(buf, len) };
    with_host(|host| host.headers(handle, buf))
}

unsafe extern "C" fn read(_env: sys::wasm_exec_env_t, handle: i32, buf: *mut u8, len: u32) -> i32 {
    let buf = unsafe { slice_mut(buf, len) };
    with_host(|host| host.read(handle, buf))
}

unsafe extern "C" fn close(_env: sys::wasm_exec_env_t, handle: i32) {
    with_host(|host| {
        host.close(handle);
        0
    });
}

unsafe extern "C" fn last_error(_env: sys::wasm_exec_env_t, buf: *mut u8, len: u32) -> i32 {
    let buf = unsafe { slice_mut(buf, len) };
    with_host(|host| host.last_error(buf))
}

fn symbol(name: &'static [u8], func: *mut c_void, sig: &'static [u8]) -> sys::NativeSymbol {
    sys::NativeSymbol {
        symbol: name.as_ptr() as *const c_char,
        func_ptr: func,
        signature: sig.as_ptr() as *const c_char,
        attachment: std::ptr::null_mut(),
    }
}

/// Registers the module with WAMR's global native table. Must run after the
/// runtime is initialised and before the guest is loaded (WAMR resolves
/// imports at load time). The table is leaked: WAMR keeps pointing into it.
pub fn register() -> bool {
    let table: &'static mut [sys::NativeSymbol] = Box::leak(Box::new([
        symbol(b"request\0", request as *mut c_void, b"(*~*~*~*~i)i\0"),
        symbol(b"status\0", status as *mut c_void, b"(i)i\0"),
        symbol(b"headers\0", headers as *mut c_void, b"(i*~)i\0"),
        symbol(b"read\0", read as *mut c_void, b"(i*~)i\0"),
        symbol(b"close\0", close as *mut c_void, b"(i)\0"),
        symbol(b"last_error\0", last_error as *mut c_void, b"(*~)i\0"),
    ]));
    // SAFETY: the names and signatures are NUL-terminated statics, the
    // functions match their signatures, and the table outlives the runtime.
    unsafe {
        sys::wasm_runtime_register_natives(
            c"wasiclaw_http".as_ptr(),
            table.as_mut_ptr(),
            table.len() as u32,
        )
    }
}
