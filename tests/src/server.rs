//! The mock provider: a thread per connection on 127.0.0.1, answering chat
//! requests from a [`Responder`] in the wire format the request used, serving
//! embeddings, and recording everything it received.

use std::io::BufReader;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::conversation::Format;
use crate::http;
use crate::record::{Kind, Recorded};
use crate::respond::decide;
use crate::script::{Responder, Script};
use crate::validate::Rejection;

pub(crate) struct Shared {
    pub(crate) responder: Arc<dyn Responder>,
    log: Mutex<Vec<Recorded>>,
    /// Chat requests so far: the index the responder sees.
    pub(crate) chats: AtomicUsize,
    /// Tool calls issued so far, for unique ids.
    pub(crate) calls: AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    fn log(&self) -> std::sync::MutexGuard<'_, Vec<Recorded>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running mock provider. Dropping it stops accepting connections.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server on a random port answering from `script`.
    ///
    /// # Panics
    /// When no loopback port can be bound: a test cannot run without one.
    pub fn start(script: Script) -> MockServer {
        match Self::bind(0, Arc::new(script)) {
            Ok(s) => s,
            Err(e) => panic!("mock server: cannot bind 127.0.0.1:0: {e}"),
        }
    }

    /// Starts a server on `127.0.0.1:port` (0 for any free port).
    pub fn bind(port: u16, responder: Arc<dyn Responder>) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            responder,
            log: Mutex::new(Vec::new()),
            chats: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = thread::spawn(move || accept_loop(listener, s));
        Ok(MockServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`: the Anthropic base URL (the client adds `/v1/messages`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the OpenAI base URL (the client adds `/chat/completions`).
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.url())
    }

    pub fn anthropic_base(&self) -> String {
        self.url()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log().clone()
    }

    /// Chat requests only (either format), in arrival order.
    pub fn chat_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| matches!(r.kind, Kind::Chat(_)))
            .collect()
    }

    pub fn embedding_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.kind == Kind::Embeddings)
            .collect()
    }

    /// Scripted replies not consumed yet.
    pub fn remaining(&self) -> usize {
        self.shared.responder.remaining()
    }

    /// Requests the server refused as the real API would (bad auth, bad body,
    /// unanswered tool calls, unknown path), with the reason for each.
    pub fn rejections(&self) -> Vec<(String, Rejection)> {
        self.requests()
            .into_iter()
            .filter_map(|r| {
                r.rejected
                    .map(|rej| (format!("{} {}", r.method, r.path), rej))
            })
            .collect()
    }

    /// Blocks until the server stops (it runs until the process ends).
    pub fn wait(mut self) {
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// A base URL nobody listens on: the port was bound, then released.
pub fn dead_base_url() -> String {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9);
    format!("http://127.0.0.1:{port}")
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(stream) = conn {
            let s = shared.clone();
            thread::spawn(move || handle(stream, &s));
        }
    }
}

fn handle(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut w = stream;
    let req = match http::read_request(&mut reader, &mut w) {
        Ok(Some(req)) => req,
        Ok(None) => return,
        Err(e) => {
            let msg = e.to_string();
            let status = if matches!(e, http::HttpError::TooLarge(_)) {
                413
            } else {
                400
            };
            let _ = http::write_response(&mut w, status, &[], msg.as_bytes());
            let mut log = shared.log();
            let seq = log.len();
            log.push(Recorded {
                seq,
                at: Instant::now(),
                kind: Kind::Other,
                method: String::new(),
                path: String::new(),
                headers: Vec::new(),
                body: Vec::new(),
                json: None,
                rejected: Some(Rejection {
                    status,
                    message: msg,
                }),
                reply: None,
                tool_call_ids: Vec::new(),
                status,
            });
            return;
        }
    };
    let path = req.path.split('?').next().unwrap_or("").to_string();
    let kind = if path.ends_with("/chat/completions") {
        Kind::Chat(Format::OpenAi)
    } else if path.ends_with("/v1/messages") {
        Kind::Chat(Format::Anthropic)
    } else if path.ends_with("/embeddings") {
        Kind::Embeddings
    } else {
        Kind::Other
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(&req.body).ok();
    let mut rec = Recorded {
        seq: 0,
        at: Instant::now(),
        kind,
        method: req.method.clone(),
        path: req.path.clone(),
        headers: req.headers.clone(),
        body: req.body.clone(),
        json,
        rejected: None,
        reply: None,
        tool_call_ids: Vec::new(),
        status: 0,
    };
    let action = decide(shared, &req, &mut rec);
    rec.status = action.status();
    {
        let mut log = shared.log();
        rec.seq = log.len();
        log.push(rec);
    }
    let _ = action.perform(&mut w);
    let _ = w.shutdown(Shutdown::Both);
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
