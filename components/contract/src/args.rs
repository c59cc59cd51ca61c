//! The agent's command-line grammar, shared with the hosts so that a host
//! reads `--session` from argv exactly as the agent will: which flags take a
//! value (so `-m --session` is a message, not a flag), `--flag=value`, and
//! the last occurrence winning.

/// Flags followed by a value (or written `--flag=value`).
pub const VALUE_FLAGS: [&str; 6] = [
    "-m",
    "--message",
    "--session",
    "--model",
    "--provider",
    "--max-iterations",
];

/// One item of a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item<'a> {
    /// The argument as given.
    pub arg: &'a str,
    /// The flag part: the whole argument, or what precedes `=` in `--x=v`.
    pub flag: &'a str,
    /// The value: after `=`, or the next argument for a [`VALUE_FLAGS`]
    /// flag (`None` when the command line ends first).
    pub value: Option<&'a str>,
    /// Whether the value was written inline (`--flag=value`).
    pub inline: bool,
}

/// Iterates over a command line (without the program name) item by item.
pub struct Items<'a, S> {
    rest: core::slice::Iter<'a, S>,
}

pub fn items<S: AsRef<str>>(args: &[S]) -> Items<'_, S> {
    Items { rest: args.iter() }
}

impl<'a, S: AsRef<str>> Iterator for Items<'a, S> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let arg = self.rest.next()?.as_ref();
        let inline = arg.split_once('=').filter(|(f, _)| f.starts_with("--"));
        Some(match inline {
            Some((flag, value)) => Item {
                arg,
                flag,
                value: Some(value),
                inline: true,
            },
            None => {
                let value = if VALUE_FLAGS.contains(&arg) {
                    self.rest.next().map(AsRef::as_ref)
                } else {
                    None
                };
                Item {
                    arg,
                    flag: arg,
                    value,
                    inline: false,
                }
            }
        })
    }
}

/// The session a command line names: the last `--session` value, as the
/// agent reads it (`default` when none; validity is the agent's to judge).
pub fn session_of<S: AsRef<str>>(args: &[S]) -> &str {
    let mut session = crate::DEFAULT_SESSION;
    for item in items(args) {
        if matches!(item.flag, "-h" | "--help" | "-V" | "--version") {
            break;
        }
        if item.flag == "--session" {
            if let Some(v) = item.value {
                session = crate::validate_session(v).unwrap_or(crate::DEFAULT_SESSION);
            }
        }
    }
    session
}
