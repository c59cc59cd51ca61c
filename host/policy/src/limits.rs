//! How a broken limit is reported. Each host enforces the limits its own way
//! (wasmtime: a resource limiter and epoch deadlines; WAMR: a memory cap at
//! instantiation and a watchdog), but the user reads the same sentence.

/// A guest stopped for running past `host.turn_timeout_secs`.
pub fn time_limit(turn_secs: u64) -> String {
    format!("the turn exceeded the time limit of {turn_secs} s (host.turn_timeout_secs / --timeout-secs)")
}

/// A guest refused memory past `host.memory_limit_mib`.
pub fn memory_limit(max_memory_bytes: u64) -> String {
    format!(
        "the guest exceeded the memory limit of {} MiB (host.memory_limit_mib / --memory-limit-mib)",
        max_memory_bytes / (1024 * 1024)
    )
}
