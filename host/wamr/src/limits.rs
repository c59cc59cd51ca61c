//! The turn's time limit (`host.turn_timeout_secs` / `--timeout-secs`).
//!
//! A watchdog thread sleeps until the deadline. If the guest is still running
//! then, it terminates the WAMR instance (`wasm_runtime_terminate`: with
//! WAMR's thread manager built in, the interpreter stops at its next branch
//! or call return, so a spinning guest stops too) and shuts down the sockets
//! of the `wasiclaw_http` requests in flight, so a guest blocked on a stalled
//! provider is released at once rather than after its own read timeout.

use std::collections::BTreeMap;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasiclaw_policy::limits::time_limit;

use crate::errors::{code, Fail};

/// One turn's deadline, shared by the watchdog and the `wasiclaw_http` host.
pub struct Deadline {
    limit: Duration,
    at: Instant,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// The guest returned; the watchdog must not touch the instance.
    finished: bool,
    /// The watchdog ended the turn.
    expired: bool,
    /// Clones of the sockets of open requests, to shut down on expiry.
    sockets: BTreeMap<u64, TcpStream>,
    next: u64,
}

impl Deadline {
    /// A turn that may run for `limit` from now.
    pub fn new(limit: Duration) -> Arc<Deadline> {
        let now = Instant::now();
        // Past what `Instant` can hold (`--timeout-secs` near u64::MAX), a
        // century is as good as never.
        let far = Duration::from_secs(u64::from(u32::MAX));
        Arc::new(Deadline {
            limit,
            at: now.checked_add(limit).unwrap_or(now + far),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The native host's wording for a turn over its time limit.
    pub fn message(&self) -> String {
        time_limit(self.limit.as_secs())
    }

    pub fn fail(&self) -> Fail {
        Fail::new(code::TIMEOUT, self.message())
    }

    pub fn expired(&self) -> bool {
        self.lock().expired
    }

    /// Time left in the turn, or the time-limit failure once it is over.
    pub fn remaining(&self) -> Result<Duration, Fail> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() || self.expired() {
            return Err(self.fail());
        }
        Ok(left)
    }

    /// Keeps a clone of `stream` to shut down if the turn runs out while the
    /// returned guard lives.
    pub fn watch(self: &Arc<Self>, stream: &TcpStream) -> Result<Watched, Fail> {
        let clone = stream
            .try_clone()
            .map_err(|e| Fail::new(code::CONNECT, format!("socket: {e}")))?;
        let mut s = self.lock();
        if s.expired {
            return Err(self.fail());
        }
        let id = s.next;
        s.next += 1;
        s.sockets.insert(id, clone);
        Ok(Watched {
            deadline: self.clone(),
            id,
        })
    }
}

/// A socket [`Deadline::watch`]ed until this drops.
pub struct Watched {
    deadline: Arc<Deadline>,
    id: u64,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.deadline.lock().sockets.remove(&self.id);
    }
}

/// The thread ending the turn at its deadline; stopped by [`Watchdog::finish`].
pub struct Watchdog {
    deadline: Arc<Deadline>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching. `on_expiry` runs on the watchdog thread if the
    /// deadline passes first, under the deadline's lock: `finish` waits for
    /// it, so whatever it touches (the WAMR instance) is still alive.
    pub fn start(
        deadline: &Arc<Deadline>,
        on_expiry: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Watchdog> {
        let d = deadline.clone();
        let thread = std::thread::Builder::new()
            .name("wasiclaw-wamr-watchdog".into())
            .spawn(move || {
                let mut s = d.lock();
                loop {
                    if s.finished {
                        return;
                    }
                    let left = d.at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    s = match d.wake.wait_timeout(s, left) {
                        Ok((s, _)) => s,
                        Err(p) => p.into_inner().0,
                    };
                }
                on_expiry();
                s.expired = true;
                for sock in s.sockets.values() {
                    let _ = sock.shutdown(Shutdown::Both);
                }
            })?;
        Ok(Watchdog {
            deadline: deadline.clone(),
            thread: Some(thread),
        })
    }

    /// Stops the watch; `true` if the deadline passed first.
    pub fn finish(mut self) -> bool {
        self.stop();
        self.deadline.expired()
    }

    fn stop(&mut self) {
        self.deadline.lock().finished = true;
        self.deadline.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn expiry_terminates_and_releases_a_blocked_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // The peer stays connected and silent, as a stalled provider does.
        let (_peer, _) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let d = Deadline::new(Duration::from_millis(200));
        let watched = d.watch(&client).unwrap();
        let terminated = Arc::new(AtomicBool::new(false));
        let t = terminated.clone();
        let dog = Watchdog::start(&d, move || t.store(true, Ordering::SeqCst)).unwrap();
        // Returns EOF once the watchdog shuts the socket, not after 30 s.
        let mut buf = [0u8; 8];
        assert_eq!(client.read(&mut buf).unwrap(), 0);
        assert!(dog.finish());
        assert!(terminated.load(Ordering::SeqCst));
        let e = d.remaining().unwrap_err();
        assert_eq!(e.code, code::TIMEOUT);
        assert!(e.message.contains("time limit of 0 s"), "{}", e.message);
        assert!(d.watch(&client).is_err(), "no new request after expiry");
        drop(watched);
        assert!(d.lock().sockets.is_empty());
    }

    #[test]
    fn finishing_first_never_runs_the_expiry() {
        let d = Deadline::new(Duration::from_secs(60));
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let dog = Watchdog::start(&d, move || r.store(true, Ordering::SeqCst)).unwrap();
        assert!(!dog.finish());
        assert!(!ran.load(Ordering::SeqCst));
        assert!(d.remaining().is_ok());
    }
}
