//! Keeps the request within the context budget. Units of removal are whole
//! turns (a user message and everything up to the next one), oldest first;
//! inside the current turn, whole tool rounds (an assistant message and its
//! tool results). So a tool call is never separated from its results, and the
//! current user message is never dropped.

use crate::message::{Message, Role};
use crate::prelude::*;

/// Returns the messages to send. `current` is the index of the current user
/// message in `history`; `budget` is what is left for messages after the
/// system prompt and tool specs.
pub fn trim(history: &[Message], current: usize, budget: usize) -> Vec<Message> {
    let cost = |ms: &[Message]| ms.iter().map(Message::estimate_tokens).sum::<usize>();
    let mut total = cost(history);

    // Earlier turns, as index ranges starting at each user message.
    let mut starts: Vec<usize> = (0..current)
        .filter(|&i| history[i].role == Role::User)
        .collect();
    if starts.first() != Some(&0) && current > 0 {
        starts.insert(0, 0);
    }
    starts.push(current);
    let mut first_kept = 0;
    for w in starts.windows(2) {
        if total <= budget {
            break;
        }
        total -= cost(&history[w[0]..w[1]]);
        first_kept = w[1];
    }

    // Tool rounds of the current turn after its user message.
    let mut rounds: Vec<(usize, usize)> = Vec::new();
    let mut i = current + 1;
    while i < history.len() {
        let start = i;
        i += 1;
        while i < history.len() && history[i].role == Role::Tool {
            i += 1;
        }
        rounds.push((start, i));
    }
    let mut dropped_rounds = 0;
    while total > budget && dropped_rounds + 1 < rounds.len() {
        let (a, b) = rounds[dropped_rounds];
        total -= cost(&history[a..b]);
        dropped_rounds += 1;
    }

    let mut out = Vec::with_capacity(history.len() - first_kept);
    out.extend_from_slice(&history[first_kept..=current]);
    let tail = rounds.get(dropped_rounds).map_or(history.len(), |r| r.0);
    out.extend_from_slice(&history[tail..]);
    out
}
