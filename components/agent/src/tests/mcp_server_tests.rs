//! The MCP server of the edge build (`mcp::server`): Origin, token, the
//! 2026-07-28 envelope and its headers, notifications, unknown tools.

use super::FakeTools;
use crate::mcp::server::{self, Incoming};

fn incoming<'a>(body: &'a str, origin: Option<&'a str>, auth: Option<&'a str>) -> Incoming<'a> {
    Incoming {
        host: Some("127.0.0.1:8080"),
        origin,
        authorization: auth,
        protocol_version: None,
        method_header: None,
        name_header: None,
        body: body.as_bytes(),
    }
}

#[test]
fn server_checks_origin_token_and_envelope() {
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let mut tools = FakeTools::default();
    let r = server::handle(
        &incoming(list, Some("http://evil.example"), None),
        None,
        &mut tools,
    );
    assert_eq!(r.status, 403);
    let r = server::handle(
        &incoming(list, Some("http://127.0.0.1:8080"), None),
        None,
        &mut tools,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = server::handle(&incoming(list, None, None), Some("s3cret"), &mut tools);
    assert_eq!(r.status, 401);
    let r = server::handle(
        &incoming(list, None, Some("Bearer wrong!")),
        Some("s3cret"),
        &mut tools,
    );
    assert_eq!(r.status, 401);
    let r = server::handle(
        &incoming(list, None, Some("Bearer s3cret")),
        Some("s3cret"),
        &mut tools,
    );
    assert_eq!(r.status, 200);
    // Notifications are acknowledged; garbage is a parse error.
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(
        server::handle(&incoming(note, None, None), None, &mut tools).status,
        202
    );
    assert_eq!(
        server::handle(&incoming("{", None, None), None, &mut tools).status,
        400
    );
    // A 2026-07-28 request whose headers disagree with its body.
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let mut inc = incoming(call, None, None);
    inc.protocol_version = Some("2026-07-28");
    inc.method_header = Some("tools/call");
    inc.name_header = Some("deny");
    let r = server::handle(&inc, None, &mut tools);
    assert!(r.status == 400 && r.body.contains("-32020"), "{r:?}");
    inc.name_header = Some("echo");
    let r = server::handle(&inc, None, &mut tools);
    assert!(r.body.contains(r#""isError":false"#), "{r:?}");
    // Unknown tools are a protocol error, as the specification asks.
    let unknown = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope"}}"#;
    let r = server::handle(&incoming(unknown, None, None), None, &mut tools);
    assert!(r.status == 400 && r.body.contains("-32602"), "{r:?}");
}
