//! Resource limits per store: linear-memory size (a `StoreLimits` behind a
//! limiter that remembers it refused, so the failure can be named) and a
//! wall-clock limit per turn (epoch interruption for guest code that spins,
//! plus a timer around the whole call for time spent waiting on the host).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// Epoch tick length: the granularity of the time limit for guest code.
pub const TICK: Duration = Duration::from_millis(100);

pub struct Limiter {
    inner: StoreLimits,
    max_memory: u64,
    hit: Arc<AtomicBool>,
}

impl Limiter {
    pub fn new(max_memory: u64) -> Self {
        let bytes = usize::try_from(max_memory).unwrap_or(usize::MAX);
        Limiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(bytes)
                .table_elements(1_000_000)
                .instances(64)
                .memories(64)
                .tables(64)
                .trap_on_grow_failure(true)
                .build(),
            max_memory,
            hit: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Shared flag: set once a memory growth was refused.
    pub fn hit_flag(&self) -> Arc<AtomicBool> {
        self.hit.clone()
    }

    pub fn max_memory(&self) -> u64 {
        self.max_memory
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let r = self.inner.memory_growing(current, desired, maximum);
        if !matches!(r, Ok(true)) {
            self.hit.store(true, Ordering::SeqCst);
        }
        r
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// Advances the engine's epoch every [`TICK`] for the life of the process.
pub fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasiclaw-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .map(drop)
        .unwrap_or_else(|e| eprintln!("wasiclaw: cannot start the epoch ticker: {e}"));
}

/// Epoch ticks in `secs` seconds (at least one).
pub fn ticks(secs: u64) -> u64 {
    (secs.saturating_mul(1000) / TICK.as_millis() as u64).max(1)
}

/// Why a guest run ended abnormally, in words for the user.
pub fn explain(
    err: &wasmtime::Error,
    memory_hit: bool,
    max_memory: u64,
    turn_secs: u64,
) -> Option<String> {
    if memory_hit {
        return Some(wasiclaw_policy::limits::memory_limit(max_memory));
    }
    if let Some(wasmtime::Trap::Interrupt) = err.downcast_ref::<wasmtime::Trap>() {
        return Some(time_limit(turn_secs));
    }
    None
}

pub use wasiclaw_policy::limits::time_limit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_flags_refusals() {
        let mut l = Limiter::new(1 << 20);
        let flag = l.hit_flag();
        assert!(matches!(l.memory_growing(0, 1 << 19, None), Ok(true)));
        assert!(!flag.load(Ordering::SeqCst));
        // trap_on_grow_failure: an error, not a quiet -1.
        assert!(l.memory_growing(1 << 19, 2 << 20, None).is_err());
        assert!(flag.load(Ordering::SeqCst));
        assert_eq!(ticks(0), 1);
        assert_eq!(ticks(3), 30);
    }
}
