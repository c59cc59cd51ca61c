//! The mock server over real sockets: what a client reads back must be the
//! provider's wire format, reassembled exactly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::script::{Fault, Script, ToolCall};

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The body ended as its framing said (last chunk / full length).
    complete: bool,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        http::header(&self.headers, name)
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("response body is JSON")
    }
    /// The `data:` payloads of an SSE body.
    fn sse_data(&self) -> Vec<String> {
        String::from_utf8(self.body.clone())
            .expect("utf-8 SSE")
            .split("\n\n")
            .filter_map(|ev| {
                ev.lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .map(str::to_string)
            })
            .collect()
    }
}

/// Sends `raw` and reads the whole response, de-chunking it.
fn exchange(server: &MockServer, raw: &[u8]) -> Option<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.push((k.to_string(), v.trim().to_string()));
    }
    let mut body = Vec::new();
    let complete;
    if http::header(&headers, "transfer-encoding") == Some("chunked") {
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                complete = false;
                break;
            }
            let n = usize::from_str_radix(line.trim(), 16).unwrap();
            if n == 0 {
                complete = true;
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        let len: usize = http::header(&headers, "content-length")
            .unwrap()
            .parse()
            .unwrap();
        r.read_to_end(&mut body).unwrap();
        complete = body.len() == len;
    }
    Some(Response {
        status,
        headers,
        body,
        complete,
    })
}

fn post(path: &str, headers: &[(&str, &str)], body: &Value) -> Vec<u8> {
    let body = body.to_string();
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    raw.push_str(&body);
    raw.into_bytes()
}

const OA: &[(&str, &str)] = &[("Authorization", "Bearer sk-test")];
const AN: &[(&str, &str)] = &[("x-api-key", "sk-ant"), ("anthropic-version", "2023-06-01")];

fn user(stream: bool) -> Value {
    json!({"model": "gpt-test", "stream": stream, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": "hi"}]})
}

fn anthropic_user(stream: bool) -> Value {
    json!({"model": "claude-test", "max_tokens": 64, "stream": stream,
           "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn openai_streams_text_and_split_tool_arguments() {
    let calls = vec![
        ToolCall::new(
            "write_file",
            json!({"path": "notes/a.md", "content": "héllo wörld"}),
        ),
        ToolCall::raw("read_file", "{\"path\": \"notes/a.md\"}"),
    ];
    let server = MockServer::start(Script::new().tools("Let me write that.", calls.clone()));
    let resp = exchange(&server, &post("/v1/chat/completions", OA, &user(true))).unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.complete);
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let data = resp.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let mut text = String::new();
    let mut args = [String::new(), String::new()];
    let mut names = [String::new(), String::new()];
    let mut finish = None;
    let mut usage = None;
    let mut arg_fragments = 0;
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        if let Some(u) = c.get("usage").filter(|u| !u.is_null()) {
            assert_eq!(c["choices"].as_array().unwrap().len(), 0);
            usage = Some(u.clone());
            continue;
        }
        let delta = &c["choices"][0]["delta"];
        text.push_str(delta["content"].as_str().unwrap_or(""));
        for tc in delta["tool_calls"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let i = tc["index"].as_u64().unwrap() as usize;
            names[i].push_str(tc["function"]["name"].as_str().unwrap_or(""));
            args[i].push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
            arg_fragments += 1;
        }
        if let Some(f) = c["choices"][0]["finish_reason"].as_str() {
            finish = Some(f.to_string());
        }
    }
    assert_eq!(text, "Let me write that.");
    assert_eq!(names, ["write_file".to_string(), "read_file".to_string()]);
    assert_eq!(args[0], calls[0].arguments);
    assert_eq!(args[1], calls[1].arguments);
    assert!(
        arg_fragments > 6,
        "arguments must arrive in several fragments"
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert!(usage.unwrap()["prompt_tokens"].as_u64().unwrap() > 0);
    let recs = server.chat_requests();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].tool_call_ids.len(), 2);
    assert_eq!(recs[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(server.remaining(), 0);
}

#[test]
fn openai_non_streaming_and_usage_chunk_only_when_asked() {
    let server = MockServer::start(Script::new().text("plain").text("streamed"));
    let resp = exchange(&server, &post("/v1/chat/completions", OA, &user(false))).unwrap();
    let j = resp.json();
    assert_eq!(j["choices"][0]["message"]["content"], "plain");
    assert_eq!(j["choices"][0]["finish_reason"], "stop");
    assert!(j["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let mut body = user(true);
    body.as_object_mut().unwrap().remove("stream_options");
    let resp = exchange(&server, &post("/v1/chat/completions", OA, &body)).unwrap();
    assert!(resp.sse_data().iter().all(|d| !d.contains("\"usage\"")));
}

#[test]
fn anthropic_stream_event_sequence() {
    let server = MockServer::start(Script::new().tools(
        "Checking.",
        vec![ToolCall::new("list_dir", json!({"path": "."}))],
    ));
    let resp = exchange(&server, &post("/v1/messages", AN, &anthropic_user(true))).unwrap();
    assert!(resp.complete);
    let body = String::from_utf8(resp.body).unwrap();
    let names: Vec<&str> = body
        .split("\n\n")
        .filter_map(|e| e.lines().next()?.strip_prefix("event: "))
        .collect();
    assert_eq!(names[0], "message_start");
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    let mut partial = String::new();
    let mut text = String::new();
    for e in body.split("\n\n").filter(|e| !e.is_empty()) {
        let data: Value =
            serde_json::from_str(e.lines().nth(1).unwrap().strip_prefix("data: ").unwrap())
                .unwrap();
        match data["delta"]["type"].as_str() {
            Some("text_delta") => text.push_str(data["delta"]["text"].as_str().unwrap()),
            Some("input_json_delta") => {
                partial.push_str(data["delta"]["partial_json"].as_str().unwrap())
            }
            _ => {}
        }
        if data["type"] == "message_delta" {
            assert_eq!(data["delta"]["stop_reason"], "tool_use");
            assert!(data["usage"]["output_tokens"].as_u64().unwrap() > 0);
        }
    }
    assert_eq!(text, "Checking.");
    assert_eq!(
        serde_json::from_str::<Value>(&partial).unwrap(),
        json!({"path": "."})
    );
}

#[test]
fn anthropic_non_stream_blocks() {
    let server = MockServer::start(
        Script::new()
            .tools("", vec![ToolCall::new("read_file", json!({"path": "a"}))])
            .text("done"),
    );
    let j = exchange(&server, &post("/v1/messages", AN, &anthropic_user(false)))
        .unwrap()
        .json();
    assert_eq!(j["type"], "message");
    assert_eq!(j["stop_reason"], "tool_use");
    assert_eq!(j["content"][0]["type"], "tool_use");
    assert_eq!(j["content"][0]["input"], json!({"path": "a"}));
    let id = j["content"][0]["id"].as_str().unwrap();
    // The follow-up must answer that tool use, as the real API insists.
    let follow = json!({"model": "claude-test", "max_tokens": 64, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": j["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "A"}]}]});
    let j = exchange(&server, &post("/v1/messages", AN, &follow))
        .unwrap()
        .json();
    assert_eq!(j["content"][0]["text"], "done");
    assert_eq!(
        server.chat_requests()[1].tool_results(),
        vec![(id.to_string(), "A".to_string(), false)]
    );
}

#[test]
fn chunked_request_bodies_are_parsed() {
    let server = MockServer::start(Script::new().text("ok"));
    let body = user(false).to_string();
    let (a, b) = body.split_at(body.len() / 3);
    let raw = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer k\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let resp = exchange(&server, raw.as_bytes()).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        server.chat_requests()[0].json.as_ref().unwrap(),
        &user(false)
    );
}

#[test]
fn faults() {
    let server = MockServer::start(
        Script::new()
            .fault(Fault::Status(500))
            .fault(Fault::RateLimited {
                retry_after_secs: 1,
            })
            .fault(Fault::TruncatedStream)
            .fault(Fault::TruncatedStream)
            .fault(Fault::MalformedBody)
            .fault(Fault::Close),
    );
    let r = exchange(&server, &post("/v1/chat/completions", OA, &user(false))).unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["type"], "server_error");
    let r = exchange(&server, &post("/v1/messages", AN, &anthropic_user(false))).unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    let r = exchange(&server, &post("/v1/chat/completions", OA, &user(true))).unwrap();
    assert!(!r.complete, "a truncated stream has no last chunk");
    assert!(r.sse_data().iter().all(|d| d != "[DONE]"));
    let r = exchange(&server, &post("/v1/chat/completions", OA, &user(false))).unwrap();
    assert!(
        !r.complete,
        "a truncated body is shorter than its Content-Length"
    );
    let r = exchange(&server, &post("/v1/chat/completions", OA, &user(false))).unwrap();
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    assert!(exchange(&server, &post("/v1/chat/completions", OA, &user(false))).is_none());
    // Script exhausted: a 500 that says so.
    let r = exchange(&server, &post("/v1/chat/completions", OA, &user(false))).unwrap();
    assert_eq!(r.status, 500);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("exhausted"));
}

#[test]
fn rejects_what_the_real_api_rejects_without_consuming_the_script() {
    let server = MockServer::start(Script::new().text("ok"));
    let r = exchange(&server, &post("/v1/chat/completions", &[], &user(false))).unwrap();
    assert_eq!(r.status, 401);
    let r = exchange(
        &server,
        &post(
            "/v1/messages",
            &[("x-api-key", "k")],
            &anthropic_user(false),
        ),
    )
    .unwrap();
    assert_eq!(r.status, 400);
    let r = exchange(&server, &post("/v1/nope", OA, &user(false))).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(server.rejections().len(), 3);
    assert_eq!(server.remaining(), 1);
}

#[test]
fn embeddings_are_deterministic() {
    let server = MockServer::start(Script::new());
    let body = json!({"model": "emb", "input": ["the cat sat", "the cat sat"]});
    let j = exchange(&server, &post("/v1/embeddings", OA, &body))
        .unwrap()
        .json();
    assert_eq!(j["data"][0]["embedding"], j["data"][1]["embedding"]);
    assert_eq!(server.embedding_requests().len(), 1);
    assert!(server.chat_requests().is_empty());
}

#[test]
fn dead_server_refuses_connections() {
    let url = dead_base_url();
    let addr = url.strip_prefix("http://").unwrap();
    assert!(TcpStream::connect(addr).is_err());
}
