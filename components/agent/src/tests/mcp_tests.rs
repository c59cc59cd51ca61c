//! The MCP client against the MCP server of this crate (through a fake HTTP
//! layer), against an older server that only knows the handshake, and
//! against servers that are down or answer garbage.

use super::*;
use crate::http::{Body, Http, HttpError, Request, Response, Timeouts};
use crate::mcp::config::{self, ServerConfig};
use crate::mcp::server::{self, Incoming};
use crate::mcp::{McpState, WithMcp};
use crate::tools::{ToolError, Tools};

/// Serves `server::handle` over the HTTP seam, recording what was sent.
/// `legacy_only` answers 2026-07-28 requests as servers on older SDKs do.
struct Served {
    tools: FakeTools,
    legacy_only: bool,
    requests: Vec<(Vec<(String, String)>, String)>,
}

impl Served {
    fn new(legacy_only: bool) -> Served {
        Served {
            tools: FakeTools::default(),
            legacy_only,
            requests: Vec::new(),
        }
    }

    fn methods(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(|(_, b)| {
                let v = wasiclaw_json::parse(b).unwrap();
                v.get("method")
                    .and_then(|m| m.as_str())
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

struct Text(Option<Vec<u8>>);

impl Body for Text {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        Ok(self.0.take())
    }
}

impl Http for Served {
    fn send(&mut self, req: &Request, _: Timeouts) -> Result<Response, HttpError> {
        let body = String::from_utf8(req.body.clone()).unwrap();
        self.requests.push((req.headers.clone(), body));
        let h = |n: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let r = if self.legacy_only && h("mcp-protocol-version") == Some("2026-07-28") {
            server::Reply {
                status: 400,
                body: r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Bad Request: Unsupported protocol version"}}"#.into(),
            }
        } else {
            let inc = Incoming {
                host: Some("127.0.0.1:1"),
                origin: h("origin"),
                authorization: h("authorization"),
                protocol_version: h("mcp-protocol-version"),
                method_header: h("mcp-method"),
                name_header: h("mcp-name"),
                body: &req.body,
            };
            server::handle(&inc, None, &mut self.tools)
        };
        Ok(Response {
            status: r.status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Box::new(Text(Some(r.body.into_bytes()))),
        })
    }
}

fn srv(name: &str) -> ServerConfig {
    ServerConfig {
        name: name.into(),
        url: "http://127.0.0.1:1/mcp".into(),
        headers: vec![("X-Api-Key".into(), "k1".into())],
        enabled: None,
    }
}

/// Lists then calls through `WithMcp` over `http`; returns the listed
/// names, the call results and the log.
fn session(
    cfg: ServerConfig,
    http: &mut dyn Http,
    calls: &[(&str, &str)],
) -> (Vec<String>, Vec<Result<String, ToolError>>, Vec<String>) {
    let mut state = McpState::new(vec![cfg]);
    let mut inner = FakeTools::default();
    let mut log = Vec::new();
    let mut push = |l: &str| log.push(l.to_string());
    let mut t = WithMcp {
        inner: &mut inner,
        state: &mut state,
        http,
        clock: &FakeClock::default(),
        log: &mut push,
    };
    let names = t.list().into_iter().map(|s| s.name).collect();
    let results = calls.iter().map(|(n, a)| t.call(n, a)).collect();
    (names, results, log)
}

/// Runs `f` on a `WithMcp` over `state` and `http` with no other tools and
/// the log dropped.
fn with_mcp<R>(
    state: &mut McpState,
    http: &mut dyn Http,
    clock: &dyn crate::http::Clock,
    f: impl FnOnce(&mut WithMcp) -> R,
) -> R {
    let mut inner = FakeTools::default();
    let mut log = |_: &str| {};
    f(&mut WithMcp {
        inner: &mut inner,
        state,
        http,
        clock,
        log: &mut log,
    })
}

#[test]
fn modern_server_lists_and_calls_with_the_required_headers() {
    let mut http = Served::new(false);
    let (names, results, log) = session(
        srv("fs"),
        &mut http,
        &[
            ("mcp_fs_echo", r#"{"text":"hi"}"#),
            ("mcp_fs_deny", "{}"),
            ("echo", "{}"),
        ],
    );
    assert_eq!(
        names,
        ["echo", "deny", "mcp_fs_echo", "mcp_fs_deny"],
        "{log:?}"
    );
    assert_eq!(results[0], Ok(r#"echo {"text":"hi"}"#.to_string()));
    assert_eq!(
        results[1],
        Err(ToolError::Failed(
            "error: denied: outside the workspace".into()
        ))
    );
    // A built-in tool still goes to the built-in tools.
    assert_eq!(results[2], Ok("echo {}".to_string()));
    assert_eq!(
        http.methods(),
        ["server/discover", "tools/list", "tools/call", "tools/call"]
    );
    let (headers, body) = &http.requests[2];
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("mcp-protocol-version"), Some("2026-07-28"));
    assert_eq!(get("mcp-method"), Some("tools/call"));
    assert_eq!(get("mcp-name"), Some("echo"));
    assert_eq!(get("X-Api-Key"), Some("k1"));
    let v = wasiclaw_json::parse(body).unwrap();
    let meta = v.get("params").unwrap().get("_meta").unwrap();
    assert!(meta
        .get("io.modelcontextprotocol/clientCapabilities")
        .is_some());
    assert!(log.is_empty(), "{log:?}");
}

#[test]
fn handshake_only_server_gets_initialize_and_no_meta() {
    let mut http = Served::new(true);
    let (names, results, log) = session(
        srv("old"),
        &mut http,
        &[("mcp_old_echo", r#"{"text":"x"}"#)],
    );
    assert_eq!(names[2..], ["mcp_old_echo", "mcp_old_deny"], "{log:?}");
    assert_eq!(results[0], Ok(r#"echo {"text":"x"}"#.to_string()));
    assert_eq!(
        http.methods(),
        [
            "server/discover",
            "initialize",
            "notifications/initialized",
            "tools/list",
            "tools/call"
        ]
    );
    let (headers, body) = http.requests.last().unwrap();
    assert!(headers
        .iter()
        .any(|(k, v)| k == "mcp-protocol-version" && v == "2025-11-25"));
    assert!(!body.contains("_meta"), "{body}");
}

#[test]
fn enabled_tools_filter_and_unusable_names_are_refused() {
    let mut cfg = srv("fs");
    cfg.enabled = Some(vec!["deny".into()]);
    let (names, _, _) = session(cfg, &mut Served::new(false), &[]);
    assert_eq!(names[2..], ["mcp_fs_deny"]);

    let list = r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"a.b"},{"name":"ok","inputSchema":{"type":"object"}}]}}"#;
    let discover = r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}}"#;
    let mut http = FakeHttp::new(vec![
        Ok(Scripted::json(200, discover)),
        Ok(Scripted::json(200, list)),
    ]);
    let (names, _, log) = session(srv("s"), &mut http, &[]);
    assert_eq!(names[2..], ["mcp_s_ok"]);
    assert!(
        log[0].contains("refused tool 'mcp_s_a.b': not a valid tool name"),
        "{log:?}"
    );
}

#[test]
fn a_server_that_is_down_or_answers_garbage_gives_tool_errors() {
    // Down: the listing fails (logged), a call is a tool error, nothing panics.
    let mut http = FakeHttp::new(vec![]);
    let (names, results, log) = session(srv("s"), &mut http, &[("mcp_s_x", "{}")]);
    assert_eq!(names, ["echo", "deny"]);
    assert!(
        log[0].contains("[mcp] s: cannot list tools: connection failed"),
        "{log:?}"
    );
    match &results[0] {
        Err(ToolError::Failed(m)) => assert!(m.contains("MCP server 's'"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Garbage, an HTML error page, a reply to another id, a cut stream.
    let discover = r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"]}}"#;
    let bad = [
        Scripted::json(200, "<html>hello</html>"),
        Scripted::json(502, "<html>bad gateway</html>"),
        Scripted::json(200, r#"{"jsonrpc":"2.0","id":99,"result":{}}"#),
        Scripted::sse(
            "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n",
            7,
        ),
        Scripted::sse("data: {\"jsonrpc\"", 3).broken(),
        Scripted::json(
            200,
            r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"no such tool"}}"#,
        ),
    ];
    for reply in bad {
        let mut http = FakeHttp::new(vec![Ok(Scripted::json(200, discover)), Ok(reply)]);
        let (_, results, _) = session(srv("s"), &mut http, &[("mcp_s_x", "{}")]);
        assert!(
            matches!(&results[0], Err(ToolError::Failed(m)) if m.starts_with("MCP server 's': ")),
            "{:?}",
            results[0]
        );
    }
}

#[test]
fn sse_replies_skip_notifications_and_results_become_text() {
    let discover = r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"]}}"#;
    let stream = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n\
        data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"one\"},\
        {\"type\":\"image\",\"mimeType\":\"image/png\",\"data\":\"AA==\"}],\"isError\":false}}\n\n";
    let structured =
        r#"{"jsonrpc":"2.0","id":3,"result":{"content":[],"structuredContent":{"sum":5}}}"#;
    let failed = r#"{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"bad input"}],"isError":true}}"#;
    let mut http = FakeHttp::new(vec![
        Ok(Scripted::json(200, discover)),
        Ok(Scripted::sse(stream, 5)),
        Ok(Scripted::json(200, structured)),
        Ok(Scripted::json(200, failed)),
    ]);
    let calls = [
        ("mcp_s_a", "{}"),
        ("mcp_s_b", "{}"),
        ("mcp_s_c", "{}"),
        ("mcp_s_d", "[1]"),
    ];
    let mut state = McpState::new(vec![srv("s")]);
    let r: Vec<_> = with_mcp(&mut state, &mut http, &FakeClock::default(), |t| {
        calls.iter().map(|(n, a)| t.call(n, a)).collect()
    });
    assert_eq!(r[0], Ok("one\n[image: image/png]".to_string()));
    assert_eq!(r[1], Ok(r#"{"sum":5}"#.to_string()));
    assert_eq!(r[2], Err(ToolError::Failed("bad input".into())));
    assert_eq!(
        r[3],
        Err(ToolError::InvalidArguments(
            "the arguments must be a JSON object".into()
        ))
    );
}

#[test]
fn config_reads_mcp_servers_and_refuses_bad_ones() {
    let v = wasiclaw_json::parse(
        r#"{"mcpServers":{"docs":{"url":"http://127.0.0.1:9/mcp","headers":{"Authorization":"${DOCS_TOKEN}"},"enabledTools":["*"]}}}"#,
    )
    .unwrap();
    let servers = config::parse(&v).unwrap();
    assert_eq!(servers[0].name, "docs");
    assert_eq!(servers[0].enabled, None);
    assert_eq!(config::placeholder("${DOCS_TOKEN}"), Some("DOCS_TOKEN"));
    let resolved = config::with_env(servers.clone(), &|k| {
        (k == "DOCS_TOKEN").then(|| "t".into())
    });
    assert_eq!(resolved[0].headers[0].1, "t");
    let kept = config::with_env(servers, &|_| None);
    assert_eq!(kept[0].headers[0].1, "${DOCS_TOKEN}");
    for (bad, why) in [
        (
            r#"{"mcpServers":{"a b":{"url":"http://x/mcp"}}}"#,
            "\"mcpServers\".a b: the name must be letters",
        ),
        (
            r#"{"mcpServers":{"a":{"command":"npx"}}}"#,
            "only Streamable HTTP",
        ),
        (
            r#"{"mcpServers":{"a":{"url":"ftp://x"}}}"#,
            "http:// or https:// URL",
        ),
        (
            r#"{"mcpServers":{"a":{"url":"http://x","headers":{"k":1}}}}"#,
            "printable ASCII strings",
        ),
        (
            r#"{"mcpServers":{"a":{"url":"http://x","enabledTools":"all"}}}"#,
            "array of strings",
        ),
        (r#"{"mcpServers":[]}"#, "must be an object"),
    ] {
        let e = config::parse(&wasiclaw_json::parse(bad).unwrap()).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

/// Lists the tools once at each of `times` (seconds), expiring stale lists
/// first; every listing has the two fake tools and the server's two.
fn list_at(state: &mut McpState, http: &mut dyn Http, times: &[u64]) {
    for &now in times {
        state.expire(now);
        let clock = FakeClock {
            now,
            ..FakeClock::default()
        };
        assert_eq!(with_mcp(state, http, &clock, |t| t.list().len()), 4);
    }
}

#[test]
fn tool_lists_are_kept_until_their_ttl_runs_out() {
    // This crate's server answers ttlMs 0: stale at once, listed per turn.
    let mut http = Served::new(false);
    let mut state = McpState::new(vec![srv("fs")]);
    list_at(&mut state, &mut http, &[100, 100, 101]);
    let lists = http.methods().iter().filter(|m| *m == "tools/list").count();
    assert_eq!(lists, 3);
    // A handshake-era server gives no ttlMs: listed once per process.
    let mut http = Served::new(true);
    let mut state = McpState::new(vec![srv("old")]);
    list_at(&mut state, &mut http, &[100, 5000]);
    assert_eq!(
        http.methods().iter().filter(|m| *m == "tools/list").count(),
        1
    );
}

/// A clock that moves 30 s each time it is read: a slow server.
struct Ticking(core::cell::Cell<u64>);

impl crate::http::Clock for Ticking {
    fn now_unix(&self) -> u64 {
        let t = self.0.get();
        self.0.set(t + 30);
        t
    }

    fn sleep(&mut self, _: Duration) {}
}

#[test]
fn a_server_trickling_its_reply_is_cut_off_in_bounded_time() {
    let discover = r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"]}}"#;
    let progress =
        "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n".repeat(50);
    let mut http = FakeHttp::new(vec![
        Ok(Scripted::json(200, discover)),
        Ok(Scripted::sse(&progress, 10)),
    ]);
    let mut state = McpState::new(vec![srv("s")]);
    let clock = Ticking(core::cell::Cell::new(1000));
    match with_mcp(&mut state, &mut http, &clock, |t| {
        t.call("mcp_s_slow", "{}")
    }) {
        Err(ToolError::Failed(m)) => assert!(m.contains("no complete reply within 120 s"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Far fewer reads than the stream has chunks: it stopped at the deadline.
    assert!(clock.0.get() < 1000 + 30 * 12, "{}", clock.0.get());
}

#[test]
fn an_oversized_reply_is_refused_and_a_lost_session_is_renewed_once() {
    let discover = r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"]}}"#;
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":2,"result":{{"content":[{{"type":"text","text":"{}"}}]}}}}"#,
        "x".repeat(crate::mcp::client::MAX_REPLY)
    );
    let mut http = FakeHttp::new(vec![
        Ok(Scripted::json(200, discover)),
        Ok(Scripted::json(200, &huge)),
    ]);
    // The listing is refused (logged), and the turn would go on without it.
    let (names, _, log) = session(srv("s"), &mut http, &[]);
    assert_eq!(names.len(), 2);
    assert!(log[0].contains("larger than"), "{log:?}");

    // A handshake server that forgets the session (404) gets a new one.
    let old = || {
        Scripted::json(
            400,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Bad Request"}}"#,
        )
    };
    let init = |id: u32, session: &str| {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-06-18","capabilities":{{}}}}}}"#
        );
        Scripted::json(200, &body).header("mcp-session-id", session)
    };
    let ack = || Scripted::json(202, "");
    let done = r#"{"jsonrpc":"2.0","id":8,"result":{"content":[{"type":"text","text":"again"}]}}"#;
    let mut http = FakeHttp::new(vec![
        Ok(old()),
        Ok(init(2, "s1")),
        Ok(ack()),
        Ok(Scripted::json(404, "")),
        Ok(old()),
        Ok(init(6, "s2")),
        Ok(ack()),
        Ok(Scripted::json(200, done)),
    ]);
    let mut state = McpState::new(vec![srv("s")]);
    let again = with_mcp(&mut state, &mut http, &FakeClock::default(), |t| {
        t.call("mcp_s_x", "{}")
    });
    assert_eq!(again, Ok("again".to_string()));
    let sessions: Vec<_> = http
        .requests
        .iter()
        .map(|r| r.header("mcp-session-id"))
        .collect();
    assert_eq!(sessions[3], Some("s1"));
    assert_eq!(sessions[7], Some("s2"));
    assert_eq!(
        http.requests[7].header("mcp-protocol-version"),
        Some("2025-06-18")
    );
}
