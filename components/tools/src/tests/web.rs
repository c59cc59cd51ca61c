use super::*;
use crate::html::html_to_text;
use crate::url::{parse_url, resolve_url};
use crate::web::FETCH_MAX_BODY;

fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
        truncated: false,
    }
}

fn with_responder(
    r: impl Fn(&RecordedRequest) -> Result<HttpResponse, String> + 'static,
) -> (TempDir, TestBox) {
    let dir = TempDir::new();
    let mut p = TestPlatform::new(&dir.ws());
    p.responder = Some(Box::new(r));
    (dir, toolbox_with(p))
}

#[test]
fn html_to_text_drops_markup() {
    let html = r#"<!DOCTYPE html><html><head><title>The  Title</title><style>p{color:red}</style>
<script>var x = "<p>not text</p>";</script></head>
<body><!-- a comment --><h1>Hello&nbsp;&amp; welcome</h1>
<p>First   para
with <a href="/x?a=1&b=2" title="a > b">a link</a>.</p><p>5 &lt; 6 &#x263A; &#9731; &bogus; &copy;</p>
<ul><li>one</li><li>two</li></ul><div>a</div><div>b</div><noscript>enable js</noscript>
<SCRIPT type="x">alert(1)</SCRIPT>tail 1 < 2</body></html>"#;
    assert_eq!(
        html_to_text(html),
        "The Title\n\nHello & welcome\n\nFirst para with a link.\n\n5 < 6 ☺ ☃ &bogus; ©\n\n- one\n- two\na\nb\ntail 1 < 2"
    );
    assert_eq!(html_to_text("<p>unclosed <script>never ends"), "unclosed");
    assert_eq!(html_to_text("plain"), "plain");
}

#[test]
fn urls_parse_and_resolve() {
    let u = parse_url("HTTPS://Example.com:8443/a/b?q=1#frag").unwrap();
    assert_eq!(
        (u.https, u.authority.as_str(), u.path_query.as_str()),
        (true, "example.com:8443", "/a/b?q=1")
    );
    assert_eq!(parse_url("http://h?x").unwrap().path_query, "/?x");
    assert!(parse_url("file:///etc/passwd").is_err());
    assert!(parse_url("http:///x").is_err());
    assert!(parse_url("http://a b").is_err());
    let r = |loc: &str| resolve_url(&u, loc).unwrap().to_text();
    assert_eq!(r("/c"), "https://example.com:8443/c");
    assert_eq!(r("c/d"), "https://example.com:8443/a/c/d");
    assert_eq!(r("../up"), "https://example.com:8443/up");
    assert_eq!(r("?z=2"), "https://example.com:8443/a/b?z=2");
    assert_eq!(r("//other.org/p"), "https://other.org/p");
    assert_eq!(r("http://plain.org"), "http://plain.org/");
}

#[test]
fn web_fetch_follows_redirects_and_reduces_html() {
    let (_dir, mut tb) = with_responder(|req| {
        Ok(match req.url.as_str() {
            "http://127.0.0.1:1/start" => resp(301, &[("location", "/next")], ""),
            "http://127.0.0.1:1/next" => resp(302, &[("location", "http://127.0.0.1:1/page")], ""),
            "http://127.0.0.1:1/page" => resp(
                200,
                &[("content-type", "text/html; charset=utf-8")],
                "<p>Hi <b>there</b></p>",
            ),
            _ => resp(404, &[], "no"),
        })
    });
    assert_eq!(
        ok(&mut tb, "web_fetch", r#"{"url":"http://127.0.0.1:1/start"}"#),
        "URL: http://127.0.0.1:1/page\nStatus: 200\nContent-Type: text/html; charset=utf-8\n\nHi there"
    );
    let reqs = tb.platform.requests.borrow();
    assert_eq!(reqs.len(), 3);
    assert!(reqs
        .iter()
        .all(|r| r.method == Method::Get && r.max_body == FETCH_MAX_BODY));
}

#[test]
fn web_fetch_stops_after_five_redirects() {
    let (_dir, mut tb) = with_responder(|req| {
        let n: u32 = req.url.rsplit('/').next().unwrap().parse().unwrap();
        Ok(resp(302, &[("location", &format!("/{}", n + 1))], ""))
    });
    let e = err(&mut tb, "web_fetch", r#"{"url":"http://127.0.0.1:1/0"}"#);
    assert_eq!(
        e,
        ToolError::Failed(
            "too many redirects (more than 5) starting from http://127.0.0.1:1/0".into()
        )
    );
    assert_eq!(tb.platform.requests.borrow().len(), 6);
}

#[test]
fn web_fetch_truncates_and_reports_errors() {
    let (_dir, mut tb) = with_responder(|req| {
        Ok(match req.url.as_str() {
            "http://h/text" => resp(200, &[("content-type", "text/plain")], "abcdéfghij"),
            "http://h/huge" => resp(200, &[], &"x".repeat(FETCH_MAX_BODY + 10)),
            "http://h/bin" => resp(200, &[("content-type", "image/png")], "\u{89}PNG\0\0"),
            "http://h/gone" => resp(404, &[("content-type", "text/html")], "<h1>Not here</h1>"),
            _ => return Err("connection refused".into()),
        })
    });
    assert_eq!(
        ok(&mut tb, "web_fetch", r#"{"url":"http://h/text","max_chars":5}"#),
        "URL: http://h/text\nStatus: 200\nContent-Type: text/plain\n\nabcdé\n\n[truncated: showing 5 of 10 characters; call web_fetch with a larger max_chars to see more]"
    );
    let out = ok(
        &mut tb,
        "web_fetch",
        r#"{"url":"http://h/huge","max_chars":3}"#,
    );
    assert!(
        out.contains("Content-Type: unknown\n\nxxx\n\n[truncated: showing 3 of 2097152 characters"),
        "{out}"
    );
    assert!(out.ends_with("[the response was larger than 2 MB; only the beginning was read]"));
    let e = err(&mut tb, "web_fetch", r#"{"url":"http://h/bin"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("binary content (image/png)")),
        "{e:?}"
    );
    let e = err(&mut tb, "web_fetch", r#"{"url":"http://h/gone"}"#);
    assert_eq!(
        e,
        ToolError::Failed("HTTP 404 from http://h/gone: Not here".into())
    );
    let e = err(&mut tb, "web_fetch", r#"{"url":"http://h/dead"}"#);
    assert_eq!(
        e,
        ToolError::Failed("could not fetch http://h/dead: connection refused".into())
    );
}
