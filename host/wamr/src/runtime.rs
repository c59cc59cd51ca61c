//! Drives WAMR through its embedding API (the same calls firmware makes from
//! C): initialise, register `wasiclaw_http`, load, set the WASI arguments,
//! environment and the `/workspace` mapping, instantiate with linear memory
//! capped, run `_start` under the turn's watchdog.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wamrx_sys as sys;
use wasiclaw_policy::limits::memory_limit;

use crate::limits::{Deadline, Watchdog};
use crate::natives;

const PAGE: u64 = 65536;

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
    /// Linear memory the guest may have, in bytes (`host.memory_limit_mib`).
    pub memory_limit: u64,
    pub deadline: &'a Arc<Deadline>,
}

/// What the memory-growth callback needs: the cap, and whether the guest hit it.
struct MemoryWatch {
    limit: u64,
    refused: AtomicBool,
}

/// WAMR's `enlarge_memory_error_callback_t`: notes a `memory.grow` refused
/// at our cap (the guest sees -1, and Rust's allocator then traps).
unsafe extern "C" fn growth_refused(
    inc_pages: u32,
    current_bytes: u64,
    _memory_index: u32,
    reason: sys::enlarge_memory_error_reason_t,
    _instance: sys::wasm_module_inst_t,
    _exec_env: sys::wasm_exec_env_t,
    user_data: *mut c_void,
) {
    // SAFETY: `user_data` is the `MemoryWatch` that `run` registered and
    // unregisters before it drops.
    let watch = unsafe { &*(user_data as *const MemoryWatch) };
    let wanted = current_bytes.saturating_add(u64::from(inc_pages) * PAGE);
    if reason == sys::MAX_SIZE_REACHED && wanted > watch.limit {
        watch.refused.store(true, Ordering::SeqCst);
    }
}

/// The instance handle, for the watchdog thread: `wasm_runtime_terminate`
/// is WAMR's call for ending an instance from another thread.
struct Instance(sys::wasm_module_inst_t);

// SAFETY: only `wasm_runtime_terminate` uses it off the guest's thread, and
// the watchdog protocol keeps the instance alive while it can.
unsafe impl Send for Instance {}

impl Instance {
    fn terminate(&self) {
        // SAFETY: called under the deadline's lock before `Watchdog::finish`
        // returns, and `run` deinstantiates only after that.
        unsafe { sys::wasm_runtime_terminate(self.0) }
    }
}

/// The initial and maximum pages of the module's exported memory (a WASI
/// module exports it as `memory`).
///
/// # Safety
/// `module` must be a loaded module.
unsafe fn memory_pages(module: sys::wasm_module_t) -> Option<(u32, u32)> {
    let count = unsafe { sys::wasm_runtime_get_export_count(module) };
    for i in 0..count {
        let mut e = sys::wasm_export_t {
            name: std::ptr::null(),
            kind: 0,
            u: sys::wasm_export_t__bindgen_ty_1 {
                memory_type: std::ptr::null_mut(),
            },
        };
        unsafe { sys::wasm_runtime_get_export_type(module, i, &mut e) };
        if e.kind == sys::WASM_IMPORT_EXPORT_KIND_MEMORY {
            // SAFETY: `kind` says which union member WAMR filled in.
            let t = unsafe { e.u.memory_type };
            if !t.is_null() {
                return Some(unsafe {
                    (
                        sys::wasm_memory_type_get_init_page_count(t),
                        sys::wasm_memory_type_get_max_page_count(t),
                    )
                });
            }
        }
    }
    None
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
    let map = CString::new(format!(
        "{}::{}",
        wasiclaw_contract::WORKSPACE_MOUNT,
        ws.display()
    ))
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
            // WAMR clamps a cap outside the module's [initial, maximum]
            // pages with a warning on stdout: refuse below, clamp above.
            let cap = (g.memory_limit / PAGE).min(65536) as u32;
            let pages = match memory_pages(module) {
                Some((initial, _)) if initial > cap => {
                    sys::wasm_runtime_unload(module);
                    return Err(memory_limit(g.memory_limit));
                }
                Some((_, max)) => cap.min(max),
                None => cap.max(1),
            };
            let watch = MemoryWatch {
                limit: g.memory_limit,
                refused: AtomicBool::new(false),
            };
            sys::wasm_runtime_set_enlarge_mem_error_callback(
                Some(growth_refused),
                &watch as *const MemoryWatch as *mut c_void,
            );
            let args = sys::InstantiationArgs {
                default_stack_size: g.stack_size,
                host_managed_heap_size: 0,
                max_memory_pages: pages,
            };
            let inst = sys::wasm_runtime_instantiate_ex(
                module,
                &args,
                err.as_mut_ptr() as *mut c_char,
                err.len() as u32,
            );
            let done = |inst: sys::wasm_module_inst_t| {
                if !inst.is_null() {
                    sys::wasm_runtime_deinstantiate(inst);
                }
                sys::wasm_runtime_set_enlarge_mem_error_callback(None, std::ptr::null_mut());
                sys::wasm_runtime_unload(module);
            };
            if inst.is_null() {
                done(inst);
                return Err(format!(
                    "cannot instantiate the module: {}",
                    error_text(&err)
                ));
            }
            let handle = Instance(inst);
            let dog = match Watchdog::start(g.deadline, move || handle.terminate()) {
                Ok(d) => d,
                Err(e) => {
                    done(inst);
                    return Err(format!("cannot start the watchdog thread: {e}"));
                }
            };
            let ok = sys::wasm_application_execute_main(inst, 0, std::ptr::null_mut());
            let timed_out = dog.finish();
            let outcome = if ok {
                Ok(sys::wasm_runtime_get_wasi_exit_code(inst) as i32)
            } else if timed_out {
                Err(g.deadline.message())
            } else if watch.refused.load(Ordering::SeqCst) {
                Err(memory_limit(g.memory_limit))
            } else {
                let e = sys::wasm_runtime_get_exception(inst);
                let msg = if e.is_null() {
                    "unknown".to_string()
                } else {
                    CStr::from_ptr(e).to_string_lossy().into_owned()
                };
                Err(format!("the module trapped: {msg}"))
            };
            done(inst);
            outcome
        })();
        sys::wasm_runtime_destroy();
        result
    }
}
