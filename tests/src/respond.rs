//! Deciding and sending the answer to one request: scripted replies in the
//! request's wire format, scripted faults, embeddings, refusals.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::conversation::{ChatRequest, Format};
use crate::http::{self, ChunkedWriter, Request};
use crate::record::{Kind, Recorded};
use crate::script::{Fault, Reply};
use crate::server::Shared;
use crate::validate::{self, Rejection};
use crate::wire::{anthropic, embeddings, openai, IssuedCall, Usage};

/// What to send back, decided (and recorded) before any byte is written.
pub(crate) enum Action {
    Json {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    Raw {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    Stream(Vec<String>),
    /// Streaming headers, these events, then the connection is cut.
    CutStream(Vec<String>),
    /// Announces the whole body, sends half, cuts.
    CutBody(Vec<u8>),
    Close,
}

impl Action {
    pub(crate) fn status(&self) -> u16 {
        match self {
            Action::Json { status, .. } | Action::Raw { status, .. } => *status,
            Action::Stream(_) | Action::CutStream(_) | Action::CutBody(_) => 200,
            Action::Close => 0,
        }
    }

    pub(crate) fn perform(self, w: &mut TcpStream) -> std::io::Result<()> {
        let sse = || {
            vec![
                (
                    "Content-Type",
                    "text/event-stream; charset=utf-8".to_string(),
                ),
                ("Cache-Control", "no-cache".to_string()),
            ]
        };
        match self {
            Action::Json {
                status,
                mut headers,
                body,
            } => {
                headers.push(("Content-Type", "application/json".into()));
                http::write_response(w, status, &headers, body.to_string().as_bytes())
            }
            Action::Raw {
                status,
                content_type,
                body,
            } => http::write_response(w, status, &[("Content-Type", content_type.into())], &body),
            Action::Stream(events) => {
                let mut cw = ChunkedWriter::start(&mut *w, 200, &sse())?;
                send_events(&mut cw, &events)?;
                cw.finish()
            }
            Action::CutStream(events) => {
                let mut cw = ChunkedWriter::start(&mut *w, 200, &sse())?;
                send_events(&mut cw, &events)
            }
            Action::CutBody(body) => {
                let ct = [("Content-Type", "application/json".to_string())];
                http::write_head_with_length(w, 200, &ct, body.len())?;
                w.write_all(&body[..body.len() / 2])?;
                w.flush()
            }
            Action::Close => Ok(()),
        }
    }
}

/// Every third event goes out split across two HTTP chunks (at a byte, maybe
/// inside a UTF-8 char), as real proxies do: clients must buffer, not assume
/// one event per read.
fn send_events<W: Write>(cw: &mut ChunkedWriter<W>, events: &[String]) -> std::io::Result<()> {
    for (i, e) in events.iter().enumerate() {
        let b = e.as_bytes();
        if i % 3 == 2 && b.len() > 1 {
            cw.chunk(&b[..b.len() / 2])?;
            cw.chunk(&b[b.len() / 2..])?;
        } else {
            cw.chunk(b)?;
        }
    }
    Ok(())
}

/// The request's headers as `name: value` lines.
fn header_lines(req: &Request) -> String {
    req.headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect()
}

fn error_action(kind: Kind, status: u16, message: &str) -> Action {
    let body = match kind {
        Kind::Chat(Format::Anthropic) => anthropic::error(status, message),
        _ => openai::error(status, message),
    };
    Action::Json {
        status,
        headers: Vec::new(),
        body,
    }
}

pub(crate) fn decide(shared: &Shared, req: &Request, rec: &mut Recorded) -> Action {
    let format = match rec.kind {
        Kind::Chat(f) => f,
        Kind::Embeddings => return embeddings_action(req, rec),
        // An httpbin-style reflector on the provider's origin: what a
        // `web_fetch` there would get back of its own request.
        Kind::Other if req.path.split('?').next().unwrap_or("").ends_with("/echo") => {
            return Action::Raw {
                status: 200,
                content_type: "text/plain",
                body: header_lines(req).into_bytes(),
            }
        }
        Kind::Other => {
            let msg = format!("unknown endpoint {} {}", req.method, req.path);
            rec.rejected = Some(Rejection {
                status: 404,
                message: msg.clone(),
            });
            return error_action(rec.kind, 404, &msg);
        }
    };
    if req.method != "POST" {
        let msg = format!("{} not allowed on {}", req.method, req.path);
        rec.rejected = Some(Rejection {
            status: 405,
            message: msg.clone(),
        });
        return error_action(rec.kind, 405, &msg);
    }
    if let Err(rej) = validate::chat(format, &req.headers, rec.json.as_ref()) {
        let action = error_action(rec.kind, rej.status, &rej.message);
        rec.rejected = Some(rej);
        return action;
    }
    let body = rec.json.clone().unwrap_or(Value::Null);
    let chat = ChatRequest {
        format,
        index: shared.chats.fetch_add(1, Ordering::SeqCst),
        body,
    };
    let Some(reply) = shared.responder.respond(&chat) else {
        let msg = format!(
            "mock script exhausted: no reply scripted for chat request #{}",
            chat.index
        );
        return error_action(rec.kind, 500, &msg);
    };
    rec.reply = Some(reply.clone());
    let model = shared
        .responder
        .model_name()
        .unwrap_or_else(|| chat.model().to_string());
    match reply {
        Reply::Fault(Fault::EchoCredentials(status)) => {
            let sent = ["authorization", "x-api-key"]
                .iter()
                .filter_map(|h| req.header(h))
                .collect::<Vec<_>>()
                .join(", ");
            error_action(
                rec.kind,
                status,
                &format!("Incorrect API key provided: {sent}"),
            )
        }
        Reply::Fault(f) => fault_action(format, chat.stream(), &model, &f),
        Reply::Answer { text, tool_calls } => {
            let text = text.replace(crate::script::REQUEST_HEADERS, &header_lines(req));
            let prefix = if format == Format::OpenAi {
                "call"
            } else {
                "toolu"
            };
            let issued: Vec<IssuedCall> = tool_calls
                .into_iter()
                .map(|call| IssuedCall {
                    id: format!(
                        "{prefix}_mock{}",
                        shared.calls.fetch_add(1, Ordering::SeqCst)
                    ),
                    call,
                })
                .collect();
            rec.tool_call_ids = issued.iter().map(|c| c.id.clone()).collect();
            let out_len: usize =
                text.len() + issued.iter().map(|c| c.call.arguments.len()).sum::<usize>();
            let usage = Usage {
                input: (req.body.len() / 4 + 1) as u64,
                output: (out_len / 4 + 1) as u64,
            };
            let include_usage = chat
                .body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                == Some(true);
            match (format, chat.stream()) {
                (Format::OpenAi, true) => {
                    Action::Stream(openai::events(&model, &text, &issued, usage, include_usage))
                }
                (Format::OpenAi, false) => Action::Json {
                    status: 200,
                    headers: Vec::new(),
                    body: openai::body(&model, &text, &issued, usage),
                },
                (Format::Anthropic, true) => {
                    Action::Stream(anthropic::events(&model, &text, &issued, usage))
                }
                (Format::Anthropic, false) => Action::Json {
                    status: 200,
                    headers: Vec::new(),
                    body: anthropic::body(&model, &text, &issued, usage),
                },
            }
        }
    }
}

fn fault_action(format: Format, stream: bool, model: &str, fault: &Fault) -> Action {
    let kind = Kind::Chat(format);
    match fault {
        Fault::Status(code) => error_action(kind, *code, &format!("scripted failure: HTTP {code}")),
        Fault::RateLimited { retry_after_secs } => {
            let mut a = error_action(kind, 429, "scripted rate limit: slow down");
            if let Action::Json { headers, .. } = &mut a {
                headers.push(("Retry-After", retry_after_secs.to_string()));
            }
            a
        }
        Fault::TruncatedStream if stream => Action::CutStream(match format {
            Format::OpenAi => openai::truncated_prefix(model),
            Format::Anthropic => anthropic::truncated_prefix(model),
        }),
        Fault::TruncatedStream => {
            let usage = Usage {
                input: 1,
                output: 1,
            };
            let text = "This answer is cut short by the server";
            let body = match format {
                Format::OpenAi => openai::body(model, text, &[], usage),
                Format::Anthropic => anthropic::body(model, text, &[], usage),
            };
            Action::CutBody(body.to_string().into_bytes())
        }
        Fault::MalformedBody if stream => Action::Stream(vec![
            "data: {\"id\": \"broken\", \"choices\": [oops not json\n\n".to_string(),
            "data: [DONE]\n\n".to_string(),
        ]),
        Fault::MalformedBody => Action::Raw {
            status: 200,
            content_type: "application/json",
            body: b"{\"id\": \"broken\", \"choices\": [{\"message\": <html>".to_vec(),
        },
        Fault::Close => Action::Close,
        // Answered in `decide`, which has the request.
        Fault::EchoCredentials(status) => error_action(Kind::Chat(format), *status, "credentials"),
    }
}

fn embeddings_action(req: &Request, rec: &mut Recorded) -> Action {
    let reject = |rec: &mut Recorded, status: u16, msg: String| {
        rec.rejected = Some(Rejection {
            status,
            message: msg.clone(),
        });
        error_action(Kind::Embeddings, status, &msg)
    };
    let authed = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|k| !k.trim().is_empty());
    if !authed {
        return reject(
            rec,
            401,
            "missing or malformed `Authorization: Bearer` header".into(),
        );
    }
    let Some(body) = rec.json.clone() else {
        return reject(rec, 400, "body is not JSON".into());
    };
    match embeddings::respond(&body) {
        Ok(body) => Action::Json {
            status: 200,
            headers: Vec::new(),
            body,
        },
        Err(msg) => reject(rec, 400, msg),
    }
}
