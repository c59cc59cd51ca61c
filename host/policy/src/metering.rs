//! Token metering: usage is read from the provider responses that pass
//! through the host (never from the guest, which could lie), appended to
//! `usage.jsonl` in the workspace, and summed to enforce budgets.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub const USAGE_FILE: &str = "usage.jsonl";

/// Accumulates usage from a response body fed in arbitrary pieces: either
/// one JSON document or a server-sent-event stream. Counts are cumulative in
/// both wire formats (Anthropic repeats totals in `message_delta`), so the
/// meter keeps the largest value seen per field instead of adding.
#[derive(Debug, Default)]
pub struct UsageMeter {
    sse: bool,
    buf: Vec<u8>,
    pub input: u64,
    pub output: u64,
    pub model: Option<String>,
    pub seen: bool,
}

impl UsageMeter {
    pub fn new(content_type: &str) -> Self {
        UsageMeter {
            sse: content_type.to_ascii_lowercase().contains("event-stream"),
            ..Default::default()
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if !self.sse {
            return;
        }
        while let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            self.sse_line(&line);
        }
    }

    /// End of body: parse what is left.
    pub fn finish(&mut self) {
        let rest = std::mem::take(&mut self.buf);
        if self.sse {
            self.sse_line(&rest);
        } else if let Ok(v) = serde_json::from_slice::<Value>(&rest) {
            self.event(&v);
        }
    }

    fn sse_line(&mut self, line: &[u8]) {
        let Ok(line) = std::str::from_utf8(line) else {
            return;
        };
        let Some(data) = line.trim_end().strip_prefix("data:") else {
            return;
        };
        if let Ok(v) = serde_json::from_str::<Value>(data.trim()) {
            self.event(&v);
        }
    }

    fn event(&mut self, v: &Value) {
        let message = v.get("message");
        if self.model.is_none() {
            let model = v
                .get("model")
                .or_else(|| message.and_then(|m| m.get("model")));
            self.model = model.and_then(Value::as_str).map(str::to_string);
        }
        let usage = v.get("usage").filter(|u| u.is_object()).or_else(|| {
            message
                .and_then(|m| m.get("usage"))
                .filter(|u| u.is_object())
        });
        let Some(u) = usage else {
            return;
        };
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        let input = n("prompt_tokens")
            + n("input_tokens")
            + n("cache_creation_input_tokens")
            + n("cache_read_input_tokens");
        let output = n("completion_tokens") + n("output_tokens");
        self.input = self.input.max(input);
        self.output = self.output.max(output);
        self.seen = true;
    }
}

/// One line of `usage.jsonl`.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRecord {
    pub ts: String,
    pub session: String,
    pub provider: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl UsageRecord {
    pub fn to_line(&self) -> String {
        let mut s = serde_json::json!({
            "ts": self.ts,
            "session": self.session,
            "provider": self.provider,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        })
        .to_string();
        s.push('\n');
        s
    }
}

/// One plugin call, as a line of `usage.jsonl`: no tokens (budgets sum
/// only token fields, so these lines never count against them), but who
/// ran, for how long, with how much fuel, and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginCallRecord {
    pub ts: String,
    pub session: String,
    pub plugin: String,
    pub tool: String,
    pub duration_us: u64,
    pub fuel_used: u64,
    /// `ok`, `tool_error`, `trap`, `fuel`, `memory`, `timeout`, `exit` or `refused`.
    pub outcome: String,
}

impl PluginCallRecord {
    pub fn to_line(&self) -> String {
        let mut s = serde_json::json!({
            "ts": self.ts,
            "session": self.session,
            "plugin": self.plugin,
            "tool": self.tool,
            "duration_us": self.duration_us,
            "fuel_used": self.fuel_used,
            "outcome": self.outcome,
        })
        .to_string();
        s.push('\n');
        s
    }
}

/// The usage ledger of one workspace.
#[derive(Clone, Debug)]
pub struct Ledger {
    path: PathBuf,
}

/// Tokens spent so far, as budgets see them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub session: u64,
    pub today: u64,
}

impl Ledger {
    pub fn new(workspace: &Path) -> Self {
        Ledger {
            path: workspace.join(USAGE_FILE),
        }
    }

    /// Appends one record as a single write to an `O_APPEND` file, so
    /// concurrent writers never interleave within a line.
    pub fn append(&self, rec: &UsageRecord) -> std::io::Result<()> {
        self.append_line(&rec.to_line())
    }

    /// Appends one plugin call, as [`Ledger::append`] does a model call.
    pub fn append_plugin_call(&self, rec: &PluginCallRecord) -> std::io::Result<()> {
        self.append_line(&rec.to_line())
    }

    fn append_line(&self, line: &str) -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(line.as_bytes())
    }

    /// Sums the ledger; unreadable lines (a torn write, hand edits) are skipped.
    pub fn spent(&self, session: &str, today: &str) -> Spent {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Spent::default();
        };
        let mut s = Spent::default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
            let tokens = n("input_tokens").saturating_add(n("output_tokens"));
            if v.get("session").and_then(Value::as_str) == Some(session) {
                s.session = s.session.saturating_add(tokens);
            }
            if v.get("ts")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with(today))
            {
                s.today = s.today.saturating_add(tokens);
            }
        }
        s
    }
}

/// Budgets checked before each model request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Budget {
    pub session: Option<u64>,
    pub daily: Option<u64>,
}

impl Budget {
    /// `Some(reason)` once a budget is spent.
    pub fn exhausted(&self, spent: Spent, session: &str) -> Option<String> {
        if let Some(limit) = self.session.filter(|&l| spent.session >= l) {
            return Some(format!(
                "token budget of session {session:?} is spent ({} of {limit} tokens); \
                 raise host.budget.session_tokens in wasiclaw.json or start a new session",
                spent.session
            ));
        }
        if let Some(limit) = self.daily.filter(|&l| spent.today >= l) {
            return Some(format!(
                "daily token budget is spent ({} of {limit} tokens today, UTC); \
                 raise host.budget.daily_tokens in wasiclaw.json or wait until tomorrow",
                spent.today
            ));
        }
        None
    }
}

/// Current UTC time as RFC 3339 (`2026-11-21T01:06:13Z`).
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn openai_json_and_stream() {
        let mut m = UsageMeter::new("application/json");
        let body =
            br#"{"model":"gpt-x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}}"#;
        m.feed(&body[..10]);
        m.feed(&body[10..]);
        m.finish();
        assert_eq!(
            (m.input, m.output, m.model.as_deref()),
            (12, 5, Some("gpt-x"))
        );

        let mut m = UsageMeter::new("text/event-stream; charset=utf-8");
        let sse = "data: {\"model\":\"g\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n\
                   data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
        for piece in sse.as_bytes().chunks(7) {
            m.feed(piece);
        }
        m.finish();
        assert_eq!((m.input, m.output, m.seen), (7, 3, true));
    }

    #[test]
    fn anthropic_stream_keeps_cumulative_max() {
        let mut m = UsageMeter::new("text/event-stream");
        m.feed(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude\",\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\n");
        m.feed(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\n\n");
        m.finish();
        assert_eq!(
            (m.input, m.output, m.model.as_deref()),
            (20, 9, Some("claude"))
        );
    }

    #[test]
    fn garbage_is_ignored() {
        let mut m = UsageMeter::new("application/json");
        m.feed(b"not json");
        m.finish();
        assert!(!m.seen);
    }

    #[test]
    fn ledger_sums_and_budget() {
        let dir = std::env::temp_dir().join(format!("wasiclaw-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let l = Ledger::new(&dir);
        let rec = |session: &str, ts: &str| UsageRecord {
            ts: ts.into(),
            session: session.into(),
            provider: "openai".into(),
            model: "m".into(),
            input_tokens: 10,
            output_tokens: 5,
        };
        l.append(&rec("a", "2026-11-21T00:00:00Z")).unwrap();
        l.append(&rec("b", "2026-11-21T01:00:00Z")).unwrap();
        l.append(&rec("a", "2026-11-20T01:00:00Z")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(USAGE_FILE))
            .unwrap()
            .write_all(b"{torn")
            .unwrap();
        let s = l.spent("a", "2026-11-21");
        assert_eq!(
            s,
            Spent {
                session: 30,
                today: 30
            }
        );
        let b = Budget {
            session: Some(30),
            daily: None,
        };
        assert!(b.exhausted(s, "a").unwrap().contains("session \"a\""));
        let b = Budget {
            session: Some(31),
            daily: Some(31),
        };
        assert!(b.exhausted(s, "a").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
