//! Writes JSON text directly. Request bodies are built once and sent, so
//! building a `Value` tree first only costs code size and allocations.

use crate::prelude::*;
use wasiclaw_json::write_escaped;

#[derive(Default)]
pub struct JsonWriter {
    pub out: String,
}

impl JsonWriter {
    /// A separator unless this is the first member or element.
    fn sep(&mut self) {
        if !matches!(self.out.as_bytes().last(), None | Some(b'{' | b'[' | b':')) {
            self.out.push(',');
        }
    }

    pub fn open(&mut self, c: char) -> &mut Self {
        self.sep();
        self.out.push(c);
        self
    }

    pub fn close(&mut self, c: char) -> &mut Self {
        self.out.push(c);
        self
    }

    pub fn key(&mut self, k: &str) -> &mut Self {
        self.sep();
        write_escaped(&mut self.out, k);
        self.out.push(':');
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.sep();
        write_escaped(&mut self.out, s);
        self
    }

    /// Already valid JSON text (a number, `true`, a checked object...).
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.sep();
        self.out.push_str(json);
        self
    }

    pub fn field(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k).str(v)
    }
}
