//! Skills and self-managing memory through the real runtimes: SKILL.md
//! discovery, listing and loading; consolidation on a threshold over a long
//! conversation; recall into the context; metering and budgets of the
//! consolidation calls under the native host.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;
use wasiclaw_tests::{ChatRequest, MockServer, Reply, Responder, Script, Turn};

use crate::harness::{chats, usage_lines, Agent, Runner, Workspace};

under_each!(
    [
        wasmtime_run = crate::harness::Runner::Wasmtime,
        wasiclaw_run = crate::harness::Runner::Wasiclaw,
    ];
    fifty_turns_consolidate_and_remember,
    skills_are_listed_loaded_and_seen_when_edited,
    recall_keeps_a_sessions_history_to_itself,
);

const MARK: &str = "[wasiclaw consolidation]";
const CONTEXT_TOKENS: usize = 5000;

/// The system prompt of a request, from its turns (`.conversation()` of a
/// live or a recorded request).
fn system_of(turns: Vec<Turn>) -> String {
    turns
        .into_iter()
        .find_map(|t| match t {
            Turn::System(s) => Some(s),
            _ => None,
        })
        .unwrap_or_default()
}

/// A model for a long conversation: ordinary turns get a long plain answer;
/// consolidation requests (recognised by their first line, offering no
/// tools) get a summary and, when the transcript mentions the dog, a fact.
struct Conversation {
    consolidations: AtomicUsize,
}

impl Responder for Conversation {
    fn respond(&self, req: &ChatRequest) -> Option<Reply> {
        let system = system_of(req.conversation());
        if system.starts_with(MARK) {
            assert!(
                req.body.get("tools").is_none(),
                "a consolidation offered tools"
            );
            self.consolidations.fetch_add(1, Ordering::SeqCst);
            let transcript = format!("{:?}", req.conversation());
            let mut reply =
                String::from("The user and the assistant talked through the day's small matters.");
            if transcript.contains("Biscuit") {
                reply.push_str("\nFACT: The user's dog is named Biscuit.");
            }
            return Some(Reply::text(&reply));
        }
        Some(Reply::text(&format!(
            "Noted. {}",
            "All is well here. ".repeat(20)
        )))
    }
}

fn user_message(turn: usize) -> String {
    match turn {
        5 => format!(
            "By the way, my dog is named Biscuit. {}",
            "Just chatting. ".repeat(22)
        ),
        50 => "What is my dog's name?".to_string(),
        _ => format!("Turn {turn}: {}", "Just chatting along. ".repeat(18)),
    }
}

fn fifty_turns_consolidate_and_remember(runner: Runner) {
    let ws = Workspace::new();
    ws.write(
        "wasiclaw.json",
        &json!({"contextTokens": CONTEXT_TOKENS}).to_string(),
    );
    let model = Arc::new(Conversation {
        consolidations: AtomicUsize::new(0),
    });
    let server = MockServer::bind(0, model.clone()).expect("bind mock");
    let mut first_consolidation_turn = None;
    for turn in 1..=50 {
        let before = model.consolidations.load(Ordering::SeqCst);
        let out = Agent::on(runner, &ws)
            .openai(&server)
            .run(&user_message(turn));
        assert_eq!(out.code, Some(0), "turn {turn}: {out:?}");
        if model.consolidations.load(Ordering::SeqCst) > before
            && first_consolidation_turn.is_none()
        {
            first_consolidation_turn = Some(turn);
        }
    }
    let reqs = chats(&server);
    // Every request within the budget: ~4 bytes a token, JSON and all.
    for (i, r) in reqs.iter().enumerate() {
        assert!(
            r.body.len() <= CONTEXT_TOKENS * 4,
            "request {i} is {} bytes, over {CONTEXT_TOKENS} tokens",
            r.body.len()
        );
    }
    // Only on the threshold: a turn costs ~210 tokens, so 50% of 5000 is
    // not crossed before turn 12; each consolidation leaves half the
    // threshold, so the next needs ~6 more turns.
    let n = model.consolidations.load(Ordering::SeqCst);
    assert!((3..=8).contains(&n), "{n} consolidations");
    let first = first_consolidation_turn.expect("no consolidation");
    assert!(
        first > 12,
        "consolidated at turn {first}, under the threshold"
    );
    assert_eq!(
        reqs.len(),
        50 + n,
        "one request per turn plus the consolidations"
    );
    // The fact from turn 5 reached the model at turn 50.
    let last = reqs.last().expect("requests");
    assert_eq!(
        last.last_user_text().as_deref(),
        Some("What is my dog's name?")
    );
    let sent = String::from_utf8_lossy(&last.body);
    assert!(sent.contains("Biscuit"), "turn 50 did not see the fact");
    // ...and turn 5 itself was long gone from the history sent.
    assert!(
        !last
            .conversation()
            .iter()
            .any(|t| matches!(t, Turn::User(u) if u.contains("my dog is named"))),
        "turn 5 is still in the context"
    );
    // The files: facts, a dated history, every turn still in the session.
    let facts = ws.read("MEMORY.md").expect("MEMORY.md");
    assert_eq!(
        facts.matches("- The user's dog is named Biscuit.").count(),
        1,
        "{facts}"
    );
    let history = ws.read("memory/HISTORY.md").expect("HISTORY.md");
    assert_eq!(history.matches("\n## ").count(), n, "{history}");
    let session = ws.read("sessions/default.jsonl").expect("session");
    assert_eq!(
        session.lines().count(),
        100,
        "every turn's two lines are kept"
    );
    for turn in [1, 5, 49] {
        let needle = user_message(turn);
        assert!(
            session.contains(&needle[..20]),
            "turn {turn} missing from the session"
        );
    }
}

/// Consolidations whose summary is marked with the session it came from.
struct Marked;

impl Responder for Marked {
    fn respond(&self, req: &ChatRequest) -> Option<Reply> {
        if system_of(req.conversation()).starts_with(MARK) {
            let transcript = format!("{:?}", req.conversation());
            let who = if transcript.contains("alice") {
                "ALICE"
            } else {
                "OTHER"
            };
            return Some(Reply::text(&format!(
                "{who}-PRIVATE-SUMMARY: the garden plans of the kennel project."
            )));
        }
        Some(Reply::text(&format!(
            "Noted. {}",
            "All is well. ".repeat(10)
        )))
    }
}

/// A session's consolidated history is recalled in that session only; a
/// second session of the same workspace never sees it.
fn recall_keeps_a_sessions_history_to_itself(runner: Runner) {
    let ws = Workspace::new();
    ws.write(
        "wasiclaw.json",
        &json!({"contextTokens": 3000, "consolidatePercent": 20}).to_string(),
    );
    let server = MockServer::bind(0, Arc::new(Marked)).expect("bind mock");
    let mut consolidated = false;
    for turn in 0..12 {
        let msg = format!(
            "alice turn {turn}: the garden plans of the kennel project. {}",
            "More. ".repeat(30)
        );
        let out = Agent::on(runner, &ws)
            .openai(&server)
            .session("alice")
            .run(&msg);
        assert_eq!(out.code, Some(0), "{out:?}");
        if ws
            .read("memory/HISTORY.md")
            .is_some_and(|h| h.contains("ALICE-PRIVATE"))
        {
            consolidated = true;
            break;
        }
    }
    assert!(consolidated, "alice's history was never consolidated");
    let ask = "What were the garden plans of the kennel project?";
    let out = Agent::on(runner, &ws)
        .openai(&server)
        .session("bob")
        .run(ask);
    assert_eq!(out.code, Some(0), "{out:?}");
    let bob = String::from_utf8_lossy(&chats(&server).last().expect("request").body).to_string();
    assert!(
        !bob.contains("ALICE-PRIVATE-SUMMARY"),
        "bob saw alice's history"
    );
    let out = Agent::on(runner, &ws)
        .openai(&server)
        .session("alice")
        .run(ask);
    assert_eq!(out.code, Some(0), "{out:?}");
    let alice = String::from_utf8_lossy(&chats(&server).last().expect("request").body).to_string();
    assert!(
        alice.contains("ALICE-PRIVATE-SUMMARY"),
        "alice's own history was not recalled"
    );
}

fn skill(name: &str, description: &str, body: &str) -> String {
    format!("---\nname: {name}\ndescription: \"{description}\"\n---\n{body}\n")
}

fn skills_are_listed_loaded_and_seen_when_edited(runner: Runner) {
    let ws = Workspace::new();
    ws.write(
        "skills/weather/SKILL.md",
        &skill(
            "weather",
            "Forecasts from the notes folder",
            "SECRET-STEP-ONE: open notes/forecast.md",
        ),
    );
    ws.write(
        "skills/weather/forecast-format.md",
        "Format: one line per day.",
    );
    ws.write(
        "skills/broken/SKILL.md",
        "---\nname: broken\ndescription: \"unterminated\n---\nbody\n",
    );
    ws.write(
        "skills/skill-creator/SKILL.md",
        &skill(
            "skill-creator",
            "The workspace's own way to write skills",
            "WORKSPACE-CREATOR-BODY",
        ),
    );
    let server = MockServer::start(
        Script::new()
            .tool("load_skill", json!({"name": "weather"}))
            .tool("load_skill", json!({"name": "skill-creator"}))
            .text("Done.")
            .text("Second turn."),
    );
    let out = Agent::on(runner, &ws)
        .openai(&server)
        .run("What is the weather?");
    out.assert_success(&server);
    assert!(
        out.stderr.contains("skills/broken/SKILL.md") && out.stderr.contains("skill skipped"),
        "{out:?}"
    );
    let reqs = chats(&server);
    let system = system_of(reqs[0].conversation());
    // Listed by name and description only; the malformed one is not.
    assert!(
        system.contains("- weather: Forecasts from the notes folder"),
        "{system}"
    );
    assert!(!system.contains("SECRET-STEP-ONE"), "{system}");
    assert!(!system.contains("- broken"), "{system}");
    // The workspace's skill-creator replaced the bundled one.
    assert!(
        system.contains("- skill-creator: The workspace's own way"),
        "{system}"
    );
    assert_eq!(system.matches("- skill-creator:").count(), 1, "{system}");
    assert!(reqs[0].tool_names().iter().any(|t| t == "load_skill"));
    // Loading returns the instructions and the files beside them.
    let results = reqs[1].tool_results();
    let (_, loaded, err) = results.last().expect("a tool result");
    assert!(!err && loaded.contains("SECRET-STEP-ONE"), "{loaded}");
    assert!(
        loaded.contains("skills/weather/forecast-format.md"),
        "{loaded}"
    );
    let results = reqs[2].tool_results();
    let (_, creator, _) = results.last().expect("a tool result");
    assert!(creator.contains("WORKSPACE-CREATOR-BODY"), "{creator}");

    // Edited between turns: the next turn sees the new description.
    ws.write(
        "skills/weather/SKILL.md",
        &skill("weather", "Forecasts, now with tides", "body"),
    );
    let out = Agent::on(runner, &ws).openai(&server).run("Again?");
    out.assert_success(&server);
    let reqs = chats(&server);
    let system = system_of(reqs.last().expect("request").conversation());
    assert!(
        system.contains("- weather: Forecasts, now with tides"),
        "{system}"
    );
}

/// Under the native host each consolidation is a metered model call, and a
/// spent budget stops it cleanly: the turn fails as any refused call does,
/// and the session, history and facts are as they were.
#[test]
fn consolidation_is_metered_and_stopped_by_a_spent_budget() {
    let ws = Workspace::new();
    ws.write(
        "wasiclaw.json",
        &json!({"contextTokens": 2000, "consolidatePercent": 20}).to_string(),
    );
    let model = Arc::new(Conversation {
        consolidations: AtomicUsize::new(0),
    });
    let server = MockServer::bind(0, model.clone()).expect("bind mock");
    let mut turns = 0;
    while model.consolidations.load(Ordering::SeqCst) == 0 {
        turns += 1;
        assert!(turns < 20, "no consolidation in 20 turns");
        let out = Agent::on(Runner::Wasiclaw, &ws)
            .openai(&server)
            .run(&user_message(turns));
        assert_eq!(out.code, Some(0), "{out:?}");
    }
    let usage = usage_lines(&ws);
    assert_eq!(
        usage.len(),
        chats(&server).len(),
        "every model call, consolidation included, is metered: {usage:?}"
    );
    // A budget already spent: the consolidation due now is refused, and
    // nothing changes.
    let ws = Workspace::new();
    ws.write(
        "wasiclaw.json",
        &json!({"contextTokens": 2000, "consolidatePercent": 20}).to_string(),
    );
    let budget = ["--session-budget", "1"];
    let first = Agent::on(Runner::Wasiclaw, &ws)
        .openai(&server)
        .host_args(&budget)
        .run("Hello.");
    assert_eq!(first.code, Some(0), "{first:?}");
    // Older turns, enough to be due for consolidation.
    let mut session = ws.read("sessions/default.jsonl").expect("session");
    for i in 0..6 {
        let text = format!("Earlier turn {i}: {}", "words ".repeat(60));
        session.push_str(&json!({"role": "user", "content": text}).to_string());
        session.push('\n');
        session.push_str(&json!({"role": "assistant", "content": text}).to_string());
        session.push('\n');
    }
    ws.write("sessions/default.jsonl", &session);
    let calls_before = chats(&server).len();
    let consolidations_before = model.consolidations.load(Ordering::SeqCst);
    let out = Agent::on(Runner::Wasiclaw, &ws)
        .openai(&server)
        .host_args(&budget)
        .run("One more thing.");
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains("consolidation failed, nothing changed"),
        "{out:?}"
    );
    assert!(out.stderr.contains("budget"), "{out:?}");
    assert_eq!(
        chats(&server).len(),
        calls_before,
        "a refused call reached the model"
    );
    assert_eq!(
        model.consolidations.load(Ordering::SeqCst),
        consolidations_before
    );
    assert_eq!(
        ws.read("sessions/default.jsonl").as_deref(),
        Some(session.as_str())
    );
    assert_eq!(ws.read("memory/HISTORY.md"), None);
    assert_eq!(ws.read("sessions/.default.consolidated"), None);
}
