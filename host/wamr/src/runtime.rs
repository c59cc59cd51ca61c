//! Drives WAMR through its embedding API (the same calls firmware makes from
//! C): initialise, register `wasiclaw_http`, load, set the WASI arguments,
//! environment and the `/workspace` mapping, instantiate, run `_start`.

use std::ffi::{c_char, CStr, CString};
use std::path::Path;

use wamrx_sys as sys;

use crate::natives;

pub struct Guest<'a> {
    pub wasm: &'a [u8],
    /// Host directory mapped to `/workspace`.
    pub workspace: &'a Path,
    /// `KEY=VALUE` entries.
    pub env: &'a [String],
    /// `argv[0]` first.
    pub args: &'a [String],
    /// The interpreter's operand/frame stack for the guest thread.
    pub stack_size: u32,
}

fn cstrings(items: &[String], what: &str) -> Result<Vec<CString>, String> {
    items
        .iter()
        .map(|s| CString::new(s.as_str()).map_err(|_| format!("{what} contains a NUL byte: {s:?}")))
        .collect()
}

fn error_text(buf: &[u8]) -> String {
    CStr::from_bytes_until_nul(buf)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs the guest to completion and returns its exit code. The `wasiclaw_http`
/// host state must already be installed (natives::install).
pub fn run(g: &Guest) -> Result<i32, String> {
    let ws = g
        .workspace
        .canonicalize()
        .map_err(|e| format!("workspace {}: {e}", g.workspace.display()))?;
    let map = CString::new(format!("/workspace::{}", ws.display()))
        .map_err(|_| "the workspace path contains a NUL byte".to_string())?;
    let env = cstrings(g.env, "an environment entry")?;
    let args = cstrings(g.args, "an argument")?;
    let mut map_list: Vec<*const c_char> = vec![map.as_ptr()];
    let mut env_list: Vec<*const c_char> = env.iter().map(|c| c.as_ptr()).collect();
    let mut arg_list: Vec<*mut c_char> = args.iter().map(|c| c.as_ptr() as *mut c_char).collect();
    // WAMR keeps pointers into (and patches) the bytes it loads.
    let mut wasm = g.wasm.to_vec();
    let mut err = [0u8; 256];

    // SAFETY: the calls follow wasm_export.h: init before anything else, the
    // natives before loading, WASI args before instantiating, and every
    // pointer handed over (bytes, lists, strings) outlives the module, which
    // is unloaded before they drop.
    unsafe {
        let mut init = sys::RuntimeInitArgs {
            mem_alloc_type: sys::Alloc_With_System_Allocator,
            ..Default::default()
        };
        if !sys::wasm_runtime_full_init(&mut init) {
            return Err("cannot initialise the WAMR runtime".into());
        }
        let result = (|| {
            if !natives::register() {
                return Err("cannot register the wasiclaw_http natives".to_string());
            }
            let module = sys::wasm_runtime_load(
                wasm.as_mut_ptr(),
                wasm.len() as u32,
                err.as_mut_ptr() as *mut c_char,
                err.len() as u32,
            );
            if module.is_null() {
                return Err(format!("cannot load the module: {}", error_text(&err)));
            }
            sys::wasm_runtime_set_wasi_args_ex(
                module,
                std::ptr::null_mut(),
                0,
                map_list.as_mut_ptr(),
                map_list.len() as u32,
                env_list.as_mut_ptr(),
                env_list.len() as u32,
                arg_list.as_mut_ptr(),
                arg_list.len() as i32,
                -1,
                -1,
                -1,
            );
            let inst = sys::wasm_runtime_instantiate(
                module,
                g.stack_size,
                0,
                err.as_mut_ptr() as *mut c_char,
                err.len() as u32,
            );
            if inst.is_null() {
                sys::wasm_runtime_unload(module);
                return Err(format!(
                    "cannot instantiate the module: {}",
                    error_text(&err)
                ));
            }
            let ok = sys::wasm_application_execute_main(inst, 0, std::ptr::null_mut());
            let outcome = if ok {
                Ok(sys::wasm_runtime_get_wasi_exit_code(inst) as i32)
            } else {
                let e = sys::wasm_runtime_get_exception(inst);
                let msg = if e.is_null() {
                    "unknown".to_string()
                } else {
                    CStr::from_ptr(e).to_string_lossy().into_owned()
                };
                Err(format!("the module trapped: {msg}"))
            };
            sys::wasm_runtime_deinstantiate(inst);
            sys::wasm_runtime_unload(module);
            outcome
        })();
        sys::wasm_runtime_destroy();
        result
    }
}
