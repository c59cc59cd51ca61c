//! Session names, and which session a request belongs to. Both hosts lock,
//! meter and budget by the session the guest will use, so they resolve it
//! with these functions rather than a look-alike of their own.

use core::fmt;

pub const DEFAULT_SESSION: &str = "default";
const MAX_NAME: usize = 64;

/// A session name that could escape `sessions/` or collide with a temp file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionNameError<'a>(pub &'a str);

impl SessionNameError<'_> {
    /// The rule the message quotes, for guests that build the message
    /// without `core::fmt`: `invalid session name 'NAME' (RULE)`.
    pub const RULE: &'static str = "use up to 64 of A-Z a-z 0-9 . _ -, not starting with '.'";
}

impl fmt::Display for SessionNameError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid session name '{}' ({})", self.0, Self::RULE)
    }
}

/// Checks a session name (`default` when empty): only `[A-Za-z0-9._-]`, at
/// most 64 bytes, no leading dot.
pub fn validate_session(name: &str) -> Result<&str, SessionNameError<'_>> {
    if name.is_empty() {
        return Ok(DEFAULT_SESSION);
    }
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok_chars || name.starts_with('.') || name.len() > MAX_NAME {
        return Err(SessionNameError(name));
    }
    Ok(name)
}

/// The session of an edge request: the `x-wasiclaw-session` header when it
/// is set and non-empty, else the body's `user` field, else `default`; not
/// yet validated (an invalid one is the guest's 400).
pub fn session_for_request<'a>(header: Option<&'a str>, user: Option<&'a str>) -> &'a str {
    header
        .filter(|h| !h.is_empty())
        .or(user)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SESSION)
}
