//! An incremental Server-Sent Events decoder: bytes in (split anywhere, even
//! inside a UTF-8 sequence), complete events out. Linear in the bytes fed:
//! each byte is searched for a newline once, however the stream is split.

use crate::prelude::*;

/// Refuse lines longer than this; a server that never sends a newline would
/// otherwise grow the buffer without bound.
const MAX_LINE: usize = 8 << 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field; empty when the server sent none.
    pub event: String,
    /// All `data:` lines of the event joined with `\n`.
    pub data: String,
}

#[derive(Default)]
pub struct Decoder {
    /// The unfinished line: bytes after the last newline.
    buf: Vec<u8>,
    /// How much of `buf` is known to hold no newline (searched by an
    /// earlier `feed`), so a long line is not searched again per chunk.
    searched: usize,
    event: String,
    data: String,
    has_data: bool,
    /// Bytes searched for a newline so far: the tests hold it to the bytes
    /// fed (linear work) rather than timing the decoder.
    #[cfg(test)]
    pub(crate) scanned: usize,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Feeds a chunk and returns every event it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Event>, String> {
        self.buf.extend_from_slice(chunk);
        #[cfg(test)]
        {
            // Each byte past `searched` is looked at once below.
            self.scanned += self.buf.len() - self.searched;
        }
        // Taken out so its lines can be borrowed while `self` takes them.
        let mut buf = core::mem::take(&mut self.buf);
        let mut out = Vec::new();
        let mut start = 0;
        let mut from = self.searched;
        while let Some(nl) = buf[from..].iter().position(|&b| b == b'\n') {
            let end = from + nl;
            let line = &buf[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line =
                core::str::from_utf8(line).map_err(|_| "stream is not valid UTF-8".to_string())?;
            if let Some(ev) = self.line(line) {
                out.push(ev);
            }
            start = end + 1;
            from = start;
        }
        // Only the unfinished line is kept; it moves only when a line ended
        // in this chunk, and is then shorter than the chunk.
        buf.drain(..start);
        self.searched = buf.len();
        self.buf = buf;
        if self.buf.len() > MAX_LINE {
            return Err(cat!("stream line longer than ", MAX_LINE, " bytes"));
        }
        Ok(out)
    }

    /// Flushes at end of stream: a final event without its blank line still
    /// counts (some servers close right after the last `data:` line).
    pub fn finish(&mut self) -> Result<Option<Event>, String> {
        if !self.buf.is_empty() {
            let rest = core::mem::take(&mut self.buf);
            self.searched = 0;
            let line =
                core::str::from_utf8(&rest).map_err(|_| "stream is not valid UTF-8".to_string())?;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if let Some(ev) = self.line(line) {
                return Ok(Some(ev));
            }
        }
        Ok(self.dispatch())
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let event = core::mem::take(&mut self.event);
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(Event {
            event,
            data: core::mem::take(&mut self.data),
        })
    }
}
