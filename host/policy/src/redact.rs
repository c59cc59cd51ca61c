//! Keeps a provider key out of what the guest reads back. A server may echo
//! the request's headers (a debugging endpoint, an error page quoting the
//! `Authorization` it refused): the host scans every response from a keyed
//! provider origin, headers and body, streamed or not, and replaces the key
//! and its common encodings with `[REDACTED]` before the guest sees a byte.
//!
//! The body is redacted as it streams, in time linear in its length: each
//! chunk is scanned once together with the few bytes held back from the
//! previous one (fewer than the longest needle), so a key split across two
//! chunks is still found, and nothing else is buffered.

/// What a found secret becomes.
pub const REDACTED: &[u8] = b"[REDACTED]";

/// Encoded forms shorter than this are not searched for: they would match
/// ordinary text by chance (a key is tens of characters long).
const MIN_NEEDLE: usize = 8;

/// A streaming find-and-replace of one or more secrets.
#[derive(Clone, Debug)]
pub struct Redactor {
    needles: Vec<Vec<u8>>,
    /// Whether a byte begins some needle: most bytes are skipped on this.
    starts: [bool; 256],
    /// The longest needle's length minus one: what a chunk's end may hold of
    /// a secret that the next chunk completes.
    keep: usize,
    held: Vec<u8>,
}

impl Redactor {
    /// Redacts each secret as written, and as it appears inside base64 text
    /// (standard and URL-safe alphabets, at each of the three alignments,
    /// so a key inside an encoded `Authorization: Basic`/`Bearer` blob or a
    /// base64 dump of the request is caught too). `None` when there is
    /// nothing to look for.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Option<Redactor> {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for s in secrets {
            let s = s.as_bytes();
            if s.is_empty() {
                continue;
            }
            needles.push(s.to_vec());
            for shift in 0..3 {
                for alphabet in [STANDARD, URL_SAFE] {
                    needles.push(base64_core(s, shift, alphabet));
                }
            }
        }
        needles.retain(|n| n.len() >= MIN_NEEDLE);
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        needles.dedup();
        let keep = needles.first()?.len() - 1;
        let mut starts = [false; 256];
        for n in &needles {
            starts[usize::from(n[0])] = true;
        }
        Some(Redactor {
            needles,
            starts,
            keep,
            held: Vec::new(),
        })
    }

    /// Redacts a complete value (a header).
    pub fn redact_all(&self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let end = self.replace_into(text, &mut out, text.len());
        out.extend_from_slice(&text[end..]);
        out
    }

    /// Feeds the next body chunk; returns what can be passed on now. Bytes
    /// that may begin a secret stay held until the next chunk or [`finish`].
    ///
    /// [`finish`]: Redactor::finish
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(chunk);
        // A match may start anywhere before `safe`; past it, only a match
        // the whole of which is already here counts, and the rest is held.
        let safe = buf.len().saturating_sub(self.keep);
        let mut out = Vec::with_capacity(buf.len());
        let end = self.replace_into(&buf, &mut out, safe);
        self.held = buf[end..].to_vec();
        out
    }

    /// The end of the body: releases what was held.
    pub fn finish(&mut self) -> Vec<u8> {
        let held = std::mem::take(&mut self.held);
        self.redact_all(&held)
    }

    /// Copies `text[..]` into `out` with every needle starting before
    /// `start_limit` replaced; returns where copying stopped (at or past
    /// `start_limit`: a match that starts before it may end after it).
    fn replace_into(&self, text: &[u8], out: &mut Vec<u8>, start_limit: usize) -> usize {
        let mut i = 0;
        let mut copied = 0;
        while i < start_limit {
            if !self.starts[usize::from(text[i])] {
                i += 1;
                continue;
            }
            // Longest first, so a key is replaced whole rather than an
            // encoded fragment of it.
            match self.needles.iter().find(|n| text[i..].starts_with(n)) {
                Some(n) => {
                    out.extend_from_slice(&text[copied..i]);
                    out.extend_from_slice(REDACTED);
                    i += n.len();
                    copied = i;
                }
                None => i += 1,
            }
        }
        out.extend_from_slice(&text[copied..i]);
        i
    }
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The base64 characters that encode `secret` alone when it starts `shift`
/// bytes into a 3-byte group of a longer text: the characters touched by the
/// neighbouring bytes are dropped, since those vary with the text around it.
fn base64_core(secret: &[u8], shift: usize, alphabet: &[u8; 64]) -> Vec<u8> {
    let mut padded = vec![0u8; shift];
    padded.extend_from_slice(secret);
    let mut chars = Vec::with_capacity(padded.len() * 4 / 3 + 4);
    for group in padded.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            chars.push(alphabet[((n >> (18 - 6 * k)) & 63) as usize]);
        }
    }
    // Character j covers bits 6j..6j+6 of the padded text: keep those whose
    // bits all lie inside the secret.
    let first_bit = shift * 8;
    let last_bit = (shift + secret.len()) * 8;
    (0..chars.len())
        .filter(|&j| 6 * j >= first_bit && 6 * j + 6 <= last_bit)
        .map(|j| chars[j])
        .collect()
}

#[cfg(test)]
mod tests;
