//! One model request over the HTTP seam: send, check the status, read the
//! (streamed) reply, and retry what is transient. A reply that breaks off
//! mid-way (a dropped connection, a stream without its end marker, a body
//! shorter than announced) is transient too: the request is sent again and
//! the sink is told to discard the text of the failed attempt.

use super::{error_detail, ChatRequest, Completion, Endpoint, ProviderKind, StreamState};
use crate::error::{one_line, AgentError};
use crate::http::{
    is_retryable_status, millis, too_large, Clock, Http, HttpError, Request, Response, RetryPolicy,
    Timeouts,
};
use crate::prelude::*;
use crate::sse;

/// Model replies larger than this, streamed or not, are refused rather than
/// buffered, and fail the turn without a retry (the same reply would come
/// again). The host's default response limit is the same 16 MiB.
pub const MAX_REPLY_BYTES: usize = 16 << 20;
/// How much of an error body is read to explain a failure.
const MAX_ERROR_BYTES: usize = 64 << 10;

/// Where the assistant's text goes as it is produced.
pub trait Sink {
    /// A piece of reply text (a stream delta, or a whole non-streamed reply).
    fn text(&mut self, delta: &str);
    /// The reply in progress broke off and will be requested again: forget
    /// the text received for it so far.
    fn discard(&mut self);
    /// A model reply ended; `last` is true for the final answer.
    fn reply_done(&mut self, last: bool);
}

/// Everything `complete` needs besides the request itself.
pub struct Transport<'a> {
    pub http: &'a mut dyn Http,
    pub clock: &'a mut dyn Clock,
    pub policy: RetryPolicy,
    pub timeouts: Timeouts,
    /// [`MAX_REPLY_BYTES`], or a smaller limit in tests.
    pub max_reply_bytes: usize,
}

enum Failure {
    /// Worth another try; `retry_after` is the server's hint, if any.
    Transient {
        why: String,
        retry_after: Option<String>,
    },
    Fatal(AgentError),
}

fn transient(why: String) -> Failure {
    Failure::Transient {
        why,
        retry_after: None,
    }
}

/// Runs one model request with retries. Streamed text goes to `sink` as it
/// arrives (and is discarded again if the reply fails); a non-streamed
/// reply's text is not sent to it.
pub fn complete(
    t: &mut Transport,
    endpoint: &Endpoint,
    req: &ChatRequest,
    sink: &mut dyn Sink,
    log: &mut dyn FnMut(&str),
) -> Result<Completion, AgentError> {
    let request = endpoint.build(req);
    let mut retry = 0;
    loop {
        let (why, retry_after) = match attempt(t, &request, endpoint.kind, req.stream, sink) {
            Ok(c) => return Ok(c),
            Err(Failure::Fatal(e)) => {
                sink.discard();
                return Err(e);
            }
            Err(Failure::Transient { why, retry_after }) => (why, retry_after),
        };
        sink.discard();
        if retry >= t.policy.max_retries {
            return Err(AgentError::Http(cat!(
                request.url,
                ": ",
                why,
                " (gave up after ",
                retry + 1,
                " attempts)"
            )));
        }
        let wait = t.policy.delay(retry, retry_after.as_deref());
        retry += 1;
        log(&cat!(
            "wasiclaw: ",
            one_line(&why),
            "; retrying in ",
            millis(wait),
            "ms (retry ",
            retry,
            " of ",
            t.policy.max_retries,
            ")"
        ));
        t.clock.sleep(wait);
    }
}

fn attempt(
    t: &mut Transport,
    request: &Request,
    kind: ProviderKind,
    stream: bool,
    sink: &mut dyn Sink,
) -> Result<Completion, Failure> {
    let mut resp = t.http.send(request, t.timeouts).map_err(|e| {
        if e.is_transient() {
            transient(e.message())
        } else {
            Failure::Fatal(AgentError::Http(cat!(request.url, ": ", e)))
        }
    })?;
    if !(200..300).contains(&resp.status) {
        let detail = resp
            .read_all(MAX_ERROR_BYTES)
            .map(|b| error_detail(core::str::from_utf8(&b).unwrap_or("(binary body)")))
            .unwrap_or_default();
        let why = cat!("HTTP ", resp.status, detail);
        return Err(if is_retryable_status(resp.status) {
            Failure::Transient {
                why,
                retry_after: resp.header("retry-after").map(str::to_string),
            }
        } else {
            Failure::Fatal(AgentError::Provider(cat!(request.url, " returned ", why)))
        });
    }
    // A server may ignore `stream: true` and answer with plain JSON.
    let is_json = resp
        .header("content-type")
        // Bytes, not `str::contains`: core's substring searcher costs ~5 KB.
        .is_some_and(|ct| {
            ct.as_bytes()
                .windows(4)
                .any(|w| w.eq_ignore_ascii_case(b"json"))
        });
    if stream && !is_json {
        return read_stream(&mut resp, kind, sink, t.max_reply_bytes);
    }
    let body = resp.read_all(t.max_reply_bytes).map_err(|e| {
        if e.is_transient() {
            transient(cat!("reading the reply failed: ", e))
        } else {
            Failure::Fatal(AgentError::Provider(cat!("reading the reply: ", e)))
        }
    })?;
    let malformed = |e: String| Failure::Fatal(AgentError::Provider(cat!("malformed reply: ", e)));
    let text = String::from_utf8(body).map_err(|_| malformed("not UTF-8".into()))?;
    let v = match wasiclaw_json::parse(&text) {
        Ok(v) => v,
        // JSON that is fine up to an abrupt end: a body cut short in transit.
        Err(e) if e.pos >= text.trim_end().len() && !text.trim().is_empty() => {
            return Err(transient("the reply body was cut short".into()))
        }
        Err(e) => return Err(malformed(e.message())),
    };
    let c = match kind {
        ProviderKind::OpenAi => super::openai::from_value(&v),
        ProviderKind::Anthropic => super::anthropic::from_value(&v),
    }
    .map_err(malformed)?;
    if stream && !c.text.is_empty() {
        sink.text(&c.text);
    }
    Ok(c)
}

fn read_stream(
    resp: &mut Response,
    kind: ProviderKind,
    sink: &mut dyn Sink,
    limit: usize,
) -> Result<Completion, Failure> {
    let bad = |e: String| Failure::Fatal(AgentError::Provider(cat!("malformed stream: ", e)));
    let mut decoder = sse::Decoder::new();
    let mut state = StreamState::new(kind);
    let mut on_text = |s: &str| sink.text(s);
    let lost = |e: HttpError| {
        if e.is_transient() {
            transient(cat!("the stream broke off: ", e))
        } else {
            Failure::Fatal(AgentError::Provider(cat!("reading the stream: ", e)))
        }
    };
    let mut total = 0;
    while let Some(chunk) = resp.body.next_chunk().map_err(lost)? {
        // Over the limit as a non-streamed reply would be: the same reply
        // would come again, so the turn fails without a retry.
        total += chunk.len();
        if total > limit {
            return Err(lost(too_large(limit)));
        }
        for ev in decoder.feed(&chunk).map_err(bad)? {
            state.on_event(&ev, &mut on_text).map_err(bad)?;
        }
    }
    if let Some(ev) = decoder.finish().map_err(bad)? {
        state.on_event(&ev, &mut on_text).map_err(bad)?;
    }
    if !state.done() {
        return Err(transient("the stream ended early (truncated reply)".into()));
    }
    state.finish().map_err(bad)
}
