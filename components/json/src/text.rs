//! Messages built without `core::fmt`. Every component pays for the
//! formatting machinery it links (`Formatter`, padding, `Display` for
//! integers, `Arguments` at each call site: several KB apiece, and components
//! share no code after composition), so the components build their error and
//! log text with [`cat!`](crate::cat) from [`Piece`]s instead of `format!`.

use alloc::string::String;

/// A piece of text [`cat!`](crate::cat) can append.
pub trait Piece {
    fn add_to(&self, out: &mut String);
}

impl Piece for str {
    fn add_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for String {
    fn add_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for char {
    fn add_to(&self, out: &mut String) {
        out.push(*self);
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn add_to(&self, out: &mut String) {
        (**self).add_to(out);
    }
}

macro_rules! unsigned_piece {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn add_to(&self, out: &mut String) {
                push_u64(out, *self as u64);
            }
        }
    )*};
}
unsigned_piece!(u8, u16, u32, u64, usize);

macro_rules! signed_piece {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn add_to(&self, out: &mut String) {
                push_i64(out, *self as i64);
            }
        }
    )*};
}
signed_piece!(i8, i16, i32, i64, isize);

/// Appends `n` in decimal.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(d as char);
    }
}

/// Appends `n` in decimal, zero-padded to at least `width` digits (as
/// `{:0width$}` would).
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = 1;
    let mut m = n / 10;
    while m != 0 {
        digits += 1;
        m /= 10;
    }
    for _ in digits..width {
        out.push('0');
    }
    push_u64(out, n);
}

/// Appends `n` in decimal, with a `-` when negative.
pub fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends `n` in lower-case hexadecimal, zero-padded to at least `width`
/// digits (as `{:0width$x}` would).
pub fn push_hex(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    for _ in buf.len() - i..width {
        out.push('0');
    }
    for &d in &buf[i..] {
        out.push(d as char);
    }
}

/// `n` in lower-case hexadecimal, zero-padded to `width` digits.
pub fn hex(n: u64, width: usize) -> String {
    let mut s = String::new();
    push_hex(&mut s, n, width);
    s
}

/// The first `n` characters of `s` (all of it when shorter). Slicing with
/// `get` never panics, so core's slice-error formatter (with its `char`
/// Debug and Unicode tables, ~5 KB) is not linked for it.
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// Concatenates [`Piece`]s (strings, chars, integers, and any type that
/// implements `Piece`) into a new `String`: `cat!("HTTP ", status, detail)`.
#[macro_export]
macro_rules! cat {
    ($($piece:expr),* $(,)?) => {{
        let mut out = $crate::__String::new();
        $( $crate::text::Piece::add_to(&$piece, &mut out); )*
        out
    }};
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;

    #[test]
    fn integers_match_core_fmt() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut samples = alloc::vec![0u64, 1, 9, 10, 99, 100, u64::MAX, i64::MAX as u64];
        for _ in 0..2000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            samples.push(rng >> (rng % 64));
        }
        for n in samples {
            assert_eq!(crate::cat!(n), format!("{n}"));
            let s = n as i64;
            assert_eq!(crate::cat!(s), format!("{s}"));
            for w in [0, 1, 2, 4, 8, 16, 24] {
                assert_eq!(hex(n, w), format!("{n:0w$x}"), "{n} width {w}");
                let mut padded = String::new();
                push_padded(&mut padded, n, w);
                assert_eq!(padded, format!("{n:0w$}"), "{n} width {w}");
            }
        }
        assert_eq!(crate::cat!(i64::MIN), format!("{}", i64::MIN));
    }

    #[test]
    fn pieces_concatenate() {
        let owned = String::from("b");
        assert_eq!(crate::cat!("a", owned, 'c', 4u8, -5i32, &&"d"), "abc4-5d");
    }
}
