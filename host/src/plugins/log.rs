//! A plugin's stdout and stderr: captured per call up to a cap, then
//! written to the host's log (stderr) line by line with the plugin's name,
//! so a chatty or hostile plugin can neither flood the log nor write into
//! the host's stdout (which carries only the reply).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Bytes kept per stream per call; the rest is counted and dropped.
pub const LOG_CAP: usize = 4096;

#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    dropped: usize,
}

/// One captured stream; clones share the buffer.
#[derive(Clone, Default)]
pub struct LogPipe(Arc<Mutex<Captured>>);

impl LogPipe {
    fn push(&self, bytes: &[u8]) {
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let room = LOG_CAP.saturating_sub(c.kept.len());
        let take = room.min(bytes.len());
        c.kept.extend_from_slice(&bytes[..take]);
        c.dropped += bytes.len() - take;
    }

    /// Writes what was captured to stderr, `wasiclaw: plugin NAME (STREAM): LINE`.
    pub fn flush_to_log(&self, plugin: &str, stream: &str) {
        let c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for line in String::from_utf8_lossy(&c.kept).lines() {
            eprintln!("wasiclaw: plugin {plugin} ({stream}): {line}");
        }
        if c.dropped > 0 {
            eprintln!(
                "wasiclaw: plugin {plugin} ({stream}): {} more bytes dropped (the log keeps {LOG_CAP} per call)",
                c.dropped
            );
        }
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Always ready and never full: past the cap, writes succeed and are
/// dropped, so a plugin's `println!` never fails (std would panic).
#[wasmtime_wasi::async_trait]
impl OutputStream for LogPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl AsyncWrite for LogPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_cap_and_counts_the_rest() {
        let mut p = LogPipe::default();
        p.write(Bytes::from(vec![b'x'; LOG_CAP - 1])).unwrap();
        p.write(Bytes::from_static(b"abc")).unwrap();
        let c = p.0.lock().unwrap();
        assert_eq!(c.kept.len(), LOG_CAP);
        assert_eq!(c.dropped, 2);
    }
}
