//! The command-line program on top of the loop: one turn from `-m` or stdin,
//! or an interactive chat. Platform-free, so exit codes and output formats
//! are tested natively.

use core::cell::RefCell;

use crate::agent::{self, Env, Sink};
use crate::cli::{self, Command, RunArgs};
use crate::config::{self, Config, Overrides};
use crate::error::AgentError;
use crate::files::Files;
use crate::http::{Clock, Http};
use crate::mcp::{self, McpState, WithMcp};
use crate::prelude::*;
use crate::stdio::{self, Input, Lines, Output};
use crate::tools::Tools;

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

pub struct Platform<'a> {
    pub http: &'a mut dyn Http,
    pub clock: &'a mut dyn Clock,
    pub tools: &'a mut dyn Tools,
    pub files: &'a mut dyn Files,
    /// Sessions in this key-value bucket instead of `files` (see
    /// [`crate::store`]); `None` everywhere but the key-value build.
    pub kv: Option<&'a mut dyn crate::store::Kv>,
    /// The workspace path as the model sees it, or why there is none.
    pub workspace: Result<&'a str, String>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

pub struct Io<'a> {
    pub stdout: &'a mut dyn Output,
    pub stderr: &'a mut dyn Output,
    pub stdin: &'a mut dyn Input,
    pub stdin_is_terminal: bool,
}

/// Reads `wasiclaw.json` from the workspace (absent is fine) and resolves the
/// configuration against the environment and flags.
pub fn load_config(
    files: &mut dyn Files,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<Config, AgentError> {
    let name = config::CONFIG_FILE;
    let text = match files.read(name) {
        Ok(Some(b)) => {
            Some(String::from_utf8(b).map_err(|_| AgentError::Config(cat!(name, ": not UTF-8")))?)
        }
        Ok(None) => None,
        Err(e) => return Err(AgentError::Config(cat!("cannot read ", name, ": ", e))),
    };
    config::resolve(text.as_deref(), env, flags)
}

fn error_line(io: &mut Io, msg: &str) {
    io.stderr.put(&cat!("wasiclaw: error: ", msg, "\n"));
}

/// Runs the program with stdout treated as a pipe (see [`main_on`]).
pub fn main(args: &[String], p: &mut Platform, io: &mut Io) -> i32 {
    main_on(args, p, io, false)
}

/// Runs the program; returns the exit code. With `stdout_is_terminal`, reply
/// text streams as it arrives; otherwise each reply is printed when complete.
pub fn main_on(args: &[String], p: &mut Platform, io: &mut Io, stdout_is_terminal: bool) -> i32 {
    let run = match cli::parse_args(args) {
        Ok(Command::Help) => {
            io.stdout.put(cli::HELP);
            return EXIT_OK;
        }
        Ok(Command::Version) => {
            io.stdout.put(&cat!("wasiclaw ", cli::VERSION, "\n"));
            return EXIT_OK;
        }
        Ok(Command::Run(run)) => run,
        Err(msg) => {
            error_line(io, &cat!(msg, " (see --help)"));
            return EXIT_USAGE;
        }
    };
    let workspace = match p.workspace {
        Ok(w) => w,
        Err(ref e) => {
            error_line(io, &AgentError::Config(e.clone()).message());
            return EXIT_ERROR;
        }
    };
    let mut cfg = match load_config(p.files, p.env, &run.overrides) {
        Ok(c) => c,
        Err(e) => {
            error_line(io, &e.message());
            return EXIT_ERROR;
        }
    };
    // MCP servers are listed once per process, not once per chat turn.
    let mut mcp = McpState::new(core::mem::take(&mut cfg.mcp));
    let message = match &run.message {
        Some(m) => Some(m.clone()),
        None if !io.stdin_is_terminal => match stdio::read_to_string(io.stdin) {
            Ok(text) => Some(text),
            Err(e) => {
                error_line(io, &cat!("cannot read the message from stdin: ", e));
                return EXIT_ERROR;
            }
        },
        None => None,
    };
    match message {
        Some(m) if m.trim().is_empty() => {
            error_line(
                io,
                "the message is empty (pass -m TEXT or pipe it on stdin; see --help)",
            );
            EXIT_USAGE
        }
        Some(m) => match turn(
            &cfg,
            p,
            &mut mcp,
            workspace,
            io.stdout,
            io.stderr,
            &run,
            m.trim(),
            stdout_is_terminal,
        ) {
            Ok(()) => EXIT_OK,
            Err(()) => EXIT_ERROR,
        },
        None => chat(&cfg, p, &mut mcp, workspace, io, &run, stdout_is_terminal),
    }
}

fn chat(
    cfg: &Config,
    p: &mut Platform,
    mcp: &mut McpState,
    ws: &str,
    io: &mut Io,
    run: &RunArgs,
    live: bool,
) -> i32 {
    io.stderr.put(&cat!(
        "wasiclaw ",
        cli::VERSION,
        " - ",
        cfg.endpoint.kind.name(),
        " ",
        cfg.model,
        " - session '",
        run.session,
        "' (/exit to quit)\n"
    ));
    let mut lines = Lines::new(&mut *io.stdin);
    loop {
        io.stderr.put("you> ");
        let line = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return EXIT_OK,
            Err(e) => {
                io.stderr
                    .put(&cat!("wasiclaw: error: cannot read stdin: ", e, "\n"));
                return EXIT_ERROR;
            }
        };
        let line = line.trim();
        match line {
            "" => continue,
            "/exit" | "/quit" => return EXIT_OK,
            _ => {
                // Errors are already reported; the chat goes on.
                let _ = turn(cfg, p, mcp, ws, io.stdout, io.stderr, run, line, live);
            }
        }
    }
}

/// Prints the reply on stdout; reports a failure as one stderr line.
#[allow(clippy::too_many_arguments)]
fn turn(
    cfg: &Config,
    p: &mut Platform,
    mcp: &mut McpState,
    ws: &str,
    stdout: &mut dyn Output,
    stderr: &mut dyn Output,
    run: &RunArgs,
    message: &str,
    live: bool,
) -> Result<(), ()> {
    let err = RefCell::new(stderr);
    let mut log = |line: &str| {
        put_shared(&err, &cat!(line, "\n"));
    };
    let mut sink = CliSink {
        out: stdout,
        err: &err,
        live,
        pending: String::new(),
        open: false,
    };
    let mut mcp_log = |line: &str| put_shared(&err, &cat!(line, "\n"));
    let http = RefCell::new(&mut *p.http);
    let clock = RefCell::new(&mut *p.clock);
    let mcp_clock = mcp::SharedClock(&clock);
    mcp.expire(mcp_clock.now_unix());
    let mut tools = WithMcp {
        inner: &mut *p.tools,
        state: mcp,
        http: &mut mcp::Shared(&http),
        clock: &mcp_clock,
        log: &mut mcp_log,
    };
    let mut env = Env {
        http: &mut mcp::Shared(&http),
        clock: &mut mcp::SharedClock(&clock),
        tools: &mut tools,
        files: &mut *p.files,
        kv: match p.kv {
            Some(ref mut k) => Some(&mut **k),
            None => None,
        },
        workspace: ws,
        log: &mut log,
    };
    let result = agent::run_turn(cfg, &mut env, &run.session, message, &mut sink);
    if let Err(e) = result {
        if sink.open {
            sink.out.put("\n");
        }
        put_shared(&err, &cat!("wasiclaw: error: ", e, "\n"));
        return Err(());
    }
    Ok(())
}

/// Writes to stderr shared by the log and the sink. `try_borrow_mut`: the
/// two never write at once, and `borrow_mut`'s panic path would link
/// `core::fmt` into the component.
fn put_shared(err: &RefCell<&mut (dyn Output + '_)>, text: &str) {
    if let Ok(mut e) = err.try_borrow_mut() {
        e.put(text);
    }
}

/// Reply text for the terminal or for a pipe. On a terminal, text is shown
/// as it streams in. Anywhere else stdout must hold exactly the final answer
/// even when a broken-off reply is retried, so each reply is held until it
/// is complete; text that came with tool calls goes to stderr.
struct CliSink<'a, 'b, 'c> {
    out: &'a mut dyn Output,
    err: &'a RefCell<&'b mut (dyn Output + 'c)>,
    live: bool,
    /// Pipe mode: the text of the reply in progress.
    pending: String,
    /// Terminal mode: text shown since the last newline.
    open: bool,
}

impl CliSink<'_, '_, '_> {
    fn show(&mut self, text: &str) {
        self.out.put(text);
    }
}

impl Sink for CliSink<'_, '_, '_> {
    fn text(&mut self, delta: &str) {
        if self.live {
            self.show(delta);
            self.open = true;
        } else {
            self.pending.push_str(delta);
        }
    }

    fn discard(&mut self) {
        if self.open {
            self.show("\n");
            self.open = false;
        }
        self.pending.clear();
    }

    fn reply_done(&mut self, last: bool) {
        let text = core::mem::take(&mut self.pending);
        if self.live {
            if self.open || last {
                self.show("\n");
            }
            self.open = false;
        } else if last {
            self.show(&text);
            self.show("\n");
        } else if !text.is_empty() {
            put_shared(self.err, &cat!(text, "\n"));
        }
    }
}

/// One turn with config from the workspace and environment and nothing
/// printed to stdout (tool activity still goes to `log`); reply text goes to
/// `sink` as it arrives. The `agent` export passes `NoSink`, the edge build
/// its response stream.
pub fn export_turn(
    p: &mut Platform,
    log: &mut dyn FnMut(&str),
    session: &str,
    message: &str,
    sink: &mut dyn Sink,
) -> Result<agent::TurnOutput, AgentError> {
    let ws = p.workspace.clone().map_err(AgentError::Config)?;
    let mut cfg = load_config(p.files, p.env, &Overrides::default())?;
    // The log is shared by the loop and the MCP servers' notes.
    let log = RefCell::new(log);
    let mut loop_log = |line: &str| {
        if let Ok(mut l) = log.try_borrow_mut() {
            l(line)
        }
    };
    let mut mcp_log = |line: &str| {
        if let Ok(mut l) = log.try_borrow_mut() {
            l(line)
        }
    };
    let mut mcp = McpState::new(core::mem::take(&mut cfg.mcp));
    let http = RefCell::new(&mut *p.http);
    let clock = RefCell::new(&mut *p.clock);
    let mcp_clock = mcp::SharedClock(&clock);
    let mut tools = WithMcp {
        inner: &mut *p.tools,
        state: &mut mcp,
        http: &mut mcp::Shared(&http),
        clock: &mcp_clock,
        log: &mut mcp_log,
    };
    let mut env = Env {
        http: &mut mcp::Shared(&http),
        clock: &mut mcp::SharedClock(&clock),
        tools: &mut tools,
        files: &mut *p.files,
        kv: match p.kv {
            Some(ref mut k) => Some(&mut **k),
            None => None,
        },
        workspace: ws,
        log: &mut loop_log,
    };
    agent::run_turn(&cfg, &mut env, session, message, sink)
}
