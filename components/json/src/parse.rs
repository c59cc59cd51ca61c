use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::value::{Map, Number, Value};

/// Containers nested deeper than this are refused (exactly this many are
/// accepted): input comes from models and servers, and unbounded recursion
/// would overflow a wasm stack of 64 KiB. `DEPTH_ERROR` names the number.
pub const MAX_DEPTH: usize = 128;
const DEPTH_ERROR: &str = "nested deeper than 128 arrays/objects";

/// Why a text is not JSON, and the byte offset where that became clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub pos: usize,
    pub msg: &'static str,
}

impl Error {
    /// `invalid JSON at byte POS: MSG`, built without `core::fmt`.
    pub fn message(&self) -> String {
        crate::cat!("invalid JSON at byte ", self.pos, ": ", self.msg)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl crate::text::Piece for Error {
    fn add_to(&self, out: &mut String) {
        out.push_str(&self.message());
    }
}

/// Parses one JSON document; surrounding whitespace is allowed, anything else
/// after the value is an error.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return p.fail("trailing characters after the value");
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    #[cold]
    #[inline(never)]
    fn fail<T>(&self, msg: &'static str) -> Result<T, Error> {
        Err(Error { pos: self.i, msg })
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn lit(&mut self, word: &[u8], v: Value) -> Result<Value, Error> {
        if self.s.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(v)
        } else {
            self.fail("unexpected character")
        }
    }

    /// A value inside `depth` containers.
    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        self.ws();
        let c = self.peek();
        if matches!(c, Some(b'[' | b'{')) && depth >= MAX_DEPTH {
            return self.fail(DEPTH_ERROR);
        }
        match c {
            None => self.fail("unexpected end of input"),
            Some(b'n') => self.lit(b"null", Value::Null),
            Some(b't') => self.lit(b"true", Value::Bool(true)),
            Some(b'f') => self.lit(b"false", Value::Bool(false)),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b']') {
                    return Ok(Value::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(b']') {
                        return Ok(Value::Arr(items));
                    }
                    if !self.eat(b',') {
                        return self.fail("expected ',' or ']'");
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut map = Map::default();
                self.ws();
                if self.eat(b'}') {
                    return Ok(Value::Obj(map));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return self.fail("expected a string key");
                    }
                    let key = self.string()?;
                    self.ws();
                    if !self.eat(b':') {
                        return self.fail("expected ':'");
                    }
                    let v = self.value(depth + 1)?;
                    // Repeated keys are merged once, at the end: a search per
                    // key would make an object of n keys cost n^2.
                    map.0.push((key, v));
                    self.ws();
                    if self.eat(b'}') {
                        map.merge_repeated_keys();
                        return Ok(Value::Obj(map));
                    }
                    if !self.eat(b',') {
                        return self.fail("expected ',' or '}'");
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.fail("unexpected character"),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.i;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.fail("invalid number"),
        }
        if self.eat(b'.') && self.digits() == 0 {
            return self.fail("invalid number");
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return self.fail("invalid number");
            }
        }
        // The slice is ASCII digits and signs, so it is valid UTF-8.
        let text = core::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
        Ok(Value::Num(Number(String::from(text))))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut n = 0u32;
        for _ in 0..4 {
            let c = self.peek().unwrap_or(0);
            // `| 0x20` lower-cases A-F and maps nothing else onto a-f.
            let d = match (c, c | 0x20) {
                (b'0'..=b'9', _) => c - b'0',
                (_, l @ b'a'..=b'f') => l - b'a' + 10,
                _ => return self.fail("invalid \\u escape"),
            };
            n = n * 16 + d as u32;
            self.i += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control byte at once.
            let run = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The input is a &str and the run stops only at ASCII bytes, so it
            // is on character boundaries.
            out.push_str(core::str::from_utf8(&self.s[run..self.i]).unwrap_or(""));
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let Some(c) = self.peek() else {
                        return self.fail("unterminated string");
                    };
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            // A surrogate pair is one char. A lone half is
                            // U+FFFD (`from_u32` refuses surrogates), and
                            // whatever follows a lone high half is read as
                            // the next escape or character, not swallowed.
                            let back = self.i;
                            if (0xD800..0xDC00).contains(&code)
                                && self.s[back..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    code = 0x10000 + ((code - 0xD800) << 10) + (lo - 0xDC00);
                                } else {
                                    self.i = back;
                                }
                            }
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        _ => return self.fail("invalid escape"),
                    }
                }
                Some(_) => return self.fail("control character in string"),
            }
        }
    }
}
