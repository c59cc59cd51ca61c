//! Model calls through a provider endpoint: which requests count, the budget
//! check before one, and the `usage.jsonl` record after it. Both hosts run a
//! provider request through [`admit`] and its response body through a
//! [`UsageMeter`] into [`Recorder::record`], so they meter and refuse alike.

use crate::metering::{now_rfc3339, Budget, Ledger, UsageMeter, UsageRecord};
use crate::policy::{Policy, ProviderKind};

/// Status of a refused model call: 403, which the agent does not retry.
pub const REFUSAL_STATUS: u16 = 403;

/// The session a guest command line names, read with the agent's own
/// grammar (the contract's): the last `--session`, else `default`.
pub fn session_of(args: &[String]) -> String {
    wasiclaw_contract::args::session_of(args).to_string()
}

/// Where a model call's usage is recorded.
#[derive(Debug)]
pub struct Recorder {
    pub ledger: Ledger,
    pub session: String,
    pub provider: &'static str,
}

impl Recorder {
    /// Appends what `meter` saw of the whole body (or of the part the guest
    /// read before it stopped); a response without usage adds no line.
    pub fn record(self, mut meter: UsageMeter) -> std::io::Result<()> {
        meter.finish();
        if !meter.seen {
            return Ok(());
        }
        self.ledger.append(&UsageRecord {
            ts: now_rfc3339(),
            session: self.session,
            provider: self.provider.to_string(),
            model: meter.model.unwrap_or_default(),
            input_tokens: meter.input,
            output_tokens: meter.output,
        })
    }
}

/// Before a model call of `session` to a `kind` endpoint: the recorder for
/// its usage, or why a spent budget refuses it.
pub fn admit(policy: &Policy, session: &str, kind: ProviderKind) -> Result<Recorder, String> {
    let budget = Budget {
        session: policy.session_budget,
        daily: policy.daily_budget,
    };
    let ledger = Ledger::new(&policy.workspace);
    if budget.session.is_some() || budget.daily.is_some() {
        let now = now_rfc3339();
        if let Some(why) = budget.exhausted(ledger.spent(session, &now[..10]), session) {
            return Err(why);
        }
    }
    Ok(Recorder {
        ledger,
        session: session.to_string(),
        provider: kind.name(),
    })
}

/// The body of a refused model call: provider-shaped, so both wire formats'
/// clients find the reason in `error.message`.
pub fn refusal_body(why: &str) -> String {
    serde_json::json!({
        "type": "error",
        "error": {"type": "budget_exhausted", "message": format!("wasiclaw host: {why}")},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::metering::USAGE_FILE;
    use crate::policy::Overrides;

    #[test]
    fn sessions_of_command_lines() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(session_of(&a(&["-m", "hi"])), "default");
        assert_eq!(session_of(&a(&["--session", "s1", "-m", "x"])), "s1");
        assert_eq!(session_of(&a(&["--session=s2"])), "s2");
        // As the agent reads it: the last one wins, a message is a message.
        assert_eq!(session_of(&a(&["--session", "a", "--session=b"])), "b");
        assert_eq!(session_of(&a(&["-m", "--session", "x"])), "default");
    }

    #[test]
    fn recorded_usage_spends_the_budget() {
        let dir = std::env::temp_dir().join(format!("wasiclaw-admit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ov = Overrides {
            session_budget: Some(10),
            ..Default::default()
        };
        let env: BTreeMap<String, String> = BTreeMap::new();
        let policy = Policy::load(&dir, &ov, &env).unwrap();
        let rec = admit(&policy, "s", ProviderKind::Anthropic).unwrap();
        // No usage in the body: nothing recorded, nothing spent.
        let mut empty = UsageMeter::new("application/json");
        empty.feed(b"{}");
        admit(&policy, "s", ProviderKind::Anthropic)
            .unwrap()
            .record(empty)
            .unwrap();
        assert!(!dir.join(USAGE_FILE).exists());
        let mut meter = UsageMeter::new("application/json");
        meter.feed(br#"{"model":"c","usage":{"input_tokens":7,"output_tokens":3}}"#);
        rec.record(meter).unwrap();
        let line = std::fs::read_to_string(dir.join(USAGE_FILE)).unwrap();
        assert!(line.contains(r#""provider":"anthropic""#), "{line}");
        assert!(line.contains(r#""session":"s""#), "{line}");
        let why = admit(&policy, "s", ProviderKind::Anthropic).unwrap_err();
        assert!(
            why.contains("token budget of session \"s\" is spent"),
            "{why}"
        );
        assert!(admit(&policy, "other", ProviderKind::OpenAi).is_ok());
        let body: serde_json::Value = serde_json::from_str(&refusal_body(&why)).unwrap();
        assert_eq!(body["error"]["type"], "budget_exhausted");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
