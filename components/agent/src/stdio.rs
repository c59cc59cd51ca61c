//! The CLI's standard streams as a seam. The component writes them on the
//! `wasi:cli` streams (`wasm/io.rs`), the WAMR module on preview-1 fds
//! (components/p1); native builds (tests) get them from any `std::io::Write`
//! / `std::io::Read` through the impls below.

use crate::prelude::*;

/// stdout or stderr: text that goes out as it is written (no buffering, so
/// nothing waits for a flush). Text is built with `cat!`, not `write!`: the
/// component links no `core::fmt`.
pub trait Output {
    fn put(&mut self, text: &str);
}

/// stdin, read in whatever pieces arrive.
pub trait Input {
    /// The next bytes; empty only at the end of the input.
    fn read_some(&mut self) -> Result<Vec<u8>, String>;
}

#[cfg(not(target_arch = "wasm32"))]
impl<W: std::io::Write + ?Sized> Output for W {
    fn put(&mut self, text: &str) {
        // A closed stdout or stderr is not an error the agent can report.
        let _ = self.write_all(text.as_bytes());
        let _ = self.flush();
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl<R: std::io::Read + ?Sized> Input for R {
    fn read_some(&mut self) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; 16 << 10];
        loop {
            match self.read(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// Whole lines from an [`Input`], for the interactive chat.
pub struct Lines<'a> {
    input: &'a mut dyn Input,
    pending: Vec<u8>,
    /// Bytes of `pending` already searched for a newline (so a long line
    /// arriving in many pieces is scanned once, not once per piece).
    searched: usize,
    done: bool,
}

impl<'a> Lines<'a> {
    pub fn new(input: &'a mut dyn Input) -> Lines<'a> {
        Lines {
            input,
            pending: Vec::new(),
            searched: 0,
            done: false,
        }
    }

    /// The next line without its newline, or `None` at the end of input.
    pub fn next_line(&mut self) -> Result<Option<String>, String> {
        loop {
            let newline = self.pending[self.searched..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| i + self.searched);
            let line = match newline {
                Some(at) => {
                    let rest = self.pending.split_off(at + 1);
                    let mut line = core::mem::replace(&mut self.pending, rest);
                    line.pop();
                    line
                }
                None if self.done && self.pending.is_empty() => return Ok(None),
                None if self.done => core::mem::take(&mut self.pending),
                None => {
                    self.searched = self.pending.len();
                    let more = self.input.read_some()?;
                    self.done = more.is_empty();
                    self.pending.extend_from_slice(&more);
                    continue;
                }
            };
            self.searched = 0;
            return String::from_utf8(line)
                .map(Some)
                .map_err(|_| "stream did not contain valid UTF-8".to_string());
        }
    }
}

/// Everything left on `input`, as text.
pub fn read_to_string(input: &mut dyn Input) -> Result<String, String> {
    let mut all = Vec::new();
    loop {
        let more = input.read_some()?;
        if more.is_empty() {
            break;
        }
        all.extend_from_slice(&more);
    }
    String::from_utf8(all).map_err(|_| "stream did not contain valid UTF-8".to_string())
}
