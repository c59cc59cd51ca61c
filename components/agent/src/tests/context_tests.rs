use crate::context::trim;
use crate::message::{Message, Role, ToolCall};

fn call(id: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: "t".into(),
        arguments: "{}".into(),
    }
}

/// Every message costs 4 + len/4 tokens; 40-byte contents cost 14.
fn big(role: Role, id: &str) -> Message {
    let text = format!("{id:<40}");
    match role {
        Role::User => Message::user(text),
        Role::Assistant => Message::assistant(text, vec![]),
        Role::Tool => Message::tool_result(&call(id), text, false),
    }
}

fn ids(ms: &[Message]) -> Vec<String> {
    ms.iter().map(|m| m.content.trim().to_string()).collect()
}

fn history() -> Vec<Message> {
    vec![
        big(Role::User, "u1"),
        Message::assistant("a1", vec![call("x1")]),
        big(Role::Tool, "x1"),
        big(Role::Assistant, "a1b"),
        big(Role::User, "u2"),
        big(Role::Assistant, "a2"),
        big(Role::User, "u3"),
    ]
}

#[test]
fn everything_fits() {
    let h = history();
    assert_eq!(trim(&h, 6, 10_000), h);
}

#[test]
fn oldest_whole_turns_go_first() {
    let h = history();
    let cost = |ms: &[Message]| ms.iter().map(Message::estimate_tokens).sum::<usize>();
    // Budget for exactly the last two turns: the whole first turn (with its
    // tool call and result) goes, nothing else.
    let budget = cost(&h[4..]);
    assert_eq!(ids(&trim(&h, 6, budget)), vec!["u2", "a2", "u3"]);
    assert_eq!(ids(&trim(&h, 6, budget - 1)), vec!["u3"]);
    // Never the current message, even over budget.
    assert_eq!(ids(&trim(&h, 6, 0)), vec!["u3"]);
}

#[test]
fn current_turn_drops_whole_tool_rounds_keeping_the_latest() {
    let mut h = vec![
        big(Role::User, "old"),
        big(Role::Assistant, "olda"),
        big(Role::User, "now"),
    ];
    for i in 0..3 {
        let id = format!("r{i}");
        h.push(Message::assistant(
            "",
            vec![call(&id), call(&format!("{id}b"))],
        ));
        h.push(big(Role::Tool, &id));
        h.push(Message::tool_result(
            &call(&format!("{id}b")),
            "ok".into(),
            false,
        ));
    }
    let kept = trim(&h, 2, 0);
    assert_eq!(kept[0].content.trim(), "now");
    assert_eq!(
        kept.len(),
        4,
        "user + the latest round (call and both results)"
    );
    assert_eq!(kept[1].tool_calls[0].id, "r2");
    assert_eq!(kept[2].tool_call_id, "r2");
    assert_eq!(kept[3].tool_call_id, "r2b");
    // With room for one more round, the two latest are kept.
    let cost = |ms: &[Message]| ms.iter().map(Message::estimate_tokens).sum::<usize>();
    let kept = trim(&h, 2, cost(&h[2..3]) + cost(&h[6..]));
    assert_eq!(kept.len(), 7);
    assert_eq!(kept[1].tool_calls[0].id, "r1");
}
