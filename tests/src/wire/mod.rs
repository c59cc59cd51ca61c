//! Provider wire formats: what the mock sends back.

pub mod anthropic;
pub mod embeddings;
pub mod openai;

use crate::script::ToolCall;

/// Fixed `created` timestamp: responses are deterministic.
pub(crate) const CREATED: u64 = 1_700_000_000;

/// A scripted tool call with the id the server gave it.
#[derive(Clone, Debug)]
pub struct IssuedCall {
    pub id: String,
    pub call: ToolCall,
}

/// Token counts reported back; derived from sizes so they are deterministic
/// and non-zero, which lets tests check that the client sums them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
}

/// Splits `s` into fragments of at most `n` chars (never inside a char), so
/// streamed text and JSON arguments arrive cut at arbitrary points. A text
/// of megabytes is cut into about a thousand longer fragments instead, so a
/// huge reply streams in seconds, not in millions of events.
pub fn pieces(s: &str, n: usize) -> Vec<&str> {
    let n = n.max(s.len() / 1000);
    let mut out = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, _) in s.char_indices() {
        if count == n {
            out.push(&s[start..i]);
            start = i;
            count = 0;
        }
        count += 1;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn pieces_respect_char_boundaries() {
        assert_eq!(pieces("abcdefg", 3), vec!["abc", "def", "g"]);
        assert_eq!(pieces("", 3), Vec::<&str>::new());
        assert_eq!(pieces("héllo wörld", 4).concat(), "héllo wörld");
        assert_eq!(pieces("ééé", 2), vec!["éé", "é"]);
        let long = "ab".repeat(1_000_000);
        let p = pieces(&long, 7);
        assert_eq!((p.len(), p.concat() == long), (1000, true));
    }
}
