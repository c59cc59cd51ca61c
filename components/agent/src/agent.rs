//! The tool-use loop: ask the model, run every tool it calls, feed the
//! results back, repeat until it answers or the iteration limit is hit.

use crate::config::Config;
use crate::context;
use crate::error::AgentError;
use crate::files::Files;
use crate::http::{Clock, Http, RetryPolicy, Timeouts};
use crate::memory;
use crate::message::{Message, ToolCall, Usage};
use crate::prelude::*;
use crate::prompt;
pub use crate::provider::Sink;
use crate::provider::{self, arguments_value, ChatRequest, Transport};
use crate::session;
use crate::skills;
use crate::store::{self, Kv};
use crate::tools::{ToolSpec, Tools};

/// Tool output beyond this is cut before it reaches the model and the
/// session: one huge file must not evict the whole conversation.
const MAX_TOOL_RESULT: usize = 64 << 10;
/// The `[tool]` log line shows at most this much of the arguments.
const MAX_LOG_ARGS: usize = 200;

/// The platform the loop runs on.
pub struct Env<'a> {
    pub http: &'a mut dyn Http,
    pub clock: &'a mut dyn Clock,
    pub tools: &'a mut dyn Tools,
    pub files: &'a mut dyn Files,
    /// Where sessions persist: `None` in workspace files, else in this
    /// key-value bucket (the key-value build; see [`store`]).
    pub kv: Option<&'a mut dyn Kv>,
    /// The workspace path as the model should see it (e.g. `/workspace`).
    pub workspace: &'a str,
    /// Diagnostics, one line per call (stderr in the CLI).
    pub log: &'a mut dyn FnMut(&str),
}

/// Discards text: the `agent` export returns the reply instead of printing.
pub struct NoSink;

impl Sink for NoSink {
    fn text(&mut self, _: &str) {}
    fn discard(&mut self) {}
    fn reply_done(&mut self, _: bool) {}
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TurnOutput {
    pub text: String,
    pub usage: Usage,
    pub tool_calls: u32,
}

pub fn run_turn(
    cfg: &Config,
    env: &mut Env,
    session_name: &str,
    message: &str,
    sink: &mut dyn Sink,
) -> Result<TurnOutput, AgentError> {
    let name = session::validate_name(session_name).map_err(AgentError::Session)?;
    let (saved, base) = match env.kv.as_deref_mut().filter(|_| store::ENABLED) {
        Some(kv) => (store::load(kv, name, env.log)?, session::Base::default()),
        None => session::load(env.files, name, env.log)?,
    };
    let found = skills::discover(env.files);
    for problem in &found.problems {
        (env.log)(&cat!("wasiclaw: warning: ", problem));
    }
    let mut specs = env.tools.list();
    specs.push(skills::spec());
    let now = env.clock.now_unix();
    let mut transport = Transport {
        http: &mut *env.http,
        clock: &mut *env.clock,
        policy: RetryPolicy::default(),
        timeouts: Timeouts::from_secs(cfg.timeout_secs),
        max_reply_bytes: provider::MAX_REPLY_BYTES,
    };

    // Consolidated messages stay in the file but are no longer sent.
    let mut from = memory::consolidated(env.files, name, &saved);
    let context = cfg.context_tokens as usize;
    if cfg.consolidate_percent > 0 {
        let threshold = context * cfg.consolidate_percent as usize / 100;
        if let Some(to) = memory::plan(&saved, from, threshold, context / 2) {
            let span = (&saved[from..to], (from + 1, to));
            match consolidate(
                cfg,
                &mut transport,
                env.files,
                env.tools,
                env.log,
                now,
                name,
                span,
            ) {
                Ok(()) => from = to,
                Err(e) => (env.log)(&cat!(
                    "wasiclaw: warning: consolidation failed, nothing changed: ",
                    e
                )),
            }
        }
    }

    // The context, in this order and within these shares of the budget
    // (bytes are ~4 per token): the preamble; the bootstrap files (25%);
    // the skills list (5%); recalled memories (10%); the tool schemas as
    // they are; the history, newest turns first, in what is left.
    let bytes = context.saturating_mul(4);
    let mut system = prompt::system_prompt(env.files, env.workspace, now, bytes / 4);
    system.push_str(&skills::prompt_section(&found, bytes / 20));
    system.push_str(&memory::recall(
        env.tools,
        &specs,
        name,
        message,
        bytes / 10,
    ));
    let fixed = system.len().div_ceil(4) + specs_tokens(&specs);
    let budget = context.saturating_sub(fixed);

    // The provider is sent a valid history (session::repair); the file keeps
    // every message that was read, whatever that view left out or added.
    let mut history = session::repair(&saved[from..]);
    let current = history.len();
    history.push(Message::user(message));
    let mut out = TurnOutput::default();
    // The final answer's text; `None` when the iterations ran out first.
    let mut answer = None;
    for _ in 0..cfg.max_iterations {
        let msgs = context::trim(&history, current, budget);
        let req = ChatRequest {
            model: &cfg.model,
            system: &system,
            messages: &msgs,
            tools: &specs,
            stream: cfg.stream,
            max_tokens: cfg.max_tokens,
        };
        let c = provider::complete(
            &mut transport,
            &cfg.endpoint,
            &req,
            &mut *sink,
            &mut *env.log,
        )?;
        if !cfg.stream && !c.text.is_empty() {
            sink.text(&c.text);
        }
        out.usage.add(c.usage);
        let last = c.tool_calls.is_empty();
        sink.reply_done(last);
        history.push(Message::assistant(c.text.clone(), c.tool_calls.clone()));
        if last {
            answer = Some(c.text);
            break;
        }
        for call in &c.tool_calls {
            out.tool_calls += 1;
            (env.log)(&cat!("[tool] ", call.name, " ", log_args(&call.arguments)));
            let (content, is_error) = execute(env.tools, env.files, name, call);
            history.push(Message::tool_result(call, content, is_error));
        }
    }
    // Saved either way: a turn cut at max iterations keeps what it did.
    match env.kv.as_deref_mut().filter(|_| store::ENABLED) {
        Some(kv) => store::append(kv, name, &history[current..])?,
        None => session::save(
            env.files,
            &mut *transport.clock,
            name,
            &saved,
            &history[current..],
            &base,
        )?,
    }
    match answer {
        Some(text) => {
            out.text = text;
            Ok(out)
        }
        None => Err(AgentError::MaxIterations(cfg.max_iterations)),
    }
}

/// One consolidation: the model summarises `span.0` (session messages
/// `span.1`, 1-based) in a request that offers no tools; [`memory::record`]
/// writes the result. Metered and budgeted by the host like any model call.
#[allow(clippy::too_many_arguments)]
fn consolidate(
    cfg: &Config,
    transport: &mut Transport,
    files: &mut dyn Files,
    tools: &mut dyn Tools,
    log: &mut dyn FnMut(&str),
    now: u64,
    session: &str,
    span: (&[Message], (usize, usize)),
) -> Result<(), String> {
    let (system, user) = memory::request(span.0, cfg.context_tokens as usize * 2);
    let req = ChatRequest {
        model: &cfg.model,
        system: &system,
        messages: core::slice::from_ref(&user),
        tools: &[],
        stream: false,
        max_tokens: cfg.max_tokens.min(memory::MAX_REPLY_TOKENS),
    };
    log(&cat!(
        "[memory] consolidating messages ",
        span.1 .0,
        "-",
        span.1 .1,
        " of session ",
        session
    ));
    let c = provider::complete(transport, &cfg.endpoint, &req, &mut NoSink, &mut *log)
        .map_err(|e| e.message())?;
    memory::record(files, tools, log, session, now, span.1, &c.text)
}

/// Runs one call; every failure becomes an error result for the model.
/// `load_skill` is the agent's own; memory searches see this session's
/// private memories and no other session's.
fn execute(
    tools: &mut dyn Tools,
    files: &mut dyn Files,
    session: &str,
    call: &ToolCall,
) -> (String, bool) {
    let mut args = match arguments_value(&call.arguments) {
        Ok(args) => args,
        Err(why) => {
            let text = clip(&call.arguments, MAX_LOG_ARGS);
            return (cat!("error: invalid arguments: ", why, ": ", text), true);
        }
    };
    if call.name == skills::TOOL {
        return match skills::load(files, &args) {
            Ok(text) => (text, false),
            Err(e) => (cat!("error: ", e), true),
        };
    }
    if call.name == "memory_search" {
        args.set("session", wasiclaw_json::Value::Str(session.to_string()));
    }
    match tools.call(&call.name, &args.to_json()) {
        Ok(mut text) => {
            if text.len() > MAX_TOOL_RESULT {
                let mut cut = MAX_TOOL_RESULT;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                let total = text.len();
                text.truncate(cut);
                text.push_str(&cat!("\n[... truncated: ", total, " bytes in total]"));
            }
            (text, false)
        }
        Err(e) => (e.message(), true),
    }
}

fn specs_tokens(specs: &[ToolSpec]) -> usize {
    specs
        .iter()
        .map(|s| (s.name.len() + s.description.len() + s.parameters.len()).div_ceil(4) + 8)
        .sum()
}

/// Arguments on one line: re-serialized compactly when they are JSON.
fn log_args(args: &str) -> String {
    match wasiclaw_json::parse(args) {
        Ok(v) => clip(&v.to_json(), MAX_LOG_ARGS),
        Err(_) => clip(&args.replace(['\n', '\r'], " "), MAX_LOG_ARGS),
    }
}

fn clip(s: &str, max: usize) -> String {
    let head = wasiclaw_json::text::prefix_chars(s, max);
    if head.len() < s.len() {
        cat!(head, "...")
    } else {
        s.to_string()
    }
}
