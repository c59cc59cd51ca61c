//! web_fetch: GET a page over the platform's HTTP, follow redirects, and hand
//! the model readable text rather than markup.

use crate::prelude::*;

use wasiclaw_json::Map;

use crate::args::{opt_uint, req_str};
use crate::error::{cat, char_count, find, lossy, num, prefix_chars, ToolError};
use crate::html::html_to_text;
use crate::platform::{HttpRequest, Method, Platform};
use crate::url::{parse_url, resolve_url};

pub const MAX_REDIRECTS: u32 = 5;
/// Bytes of body read before the rest is dropped unread.
pub const FETCH_MAX_BODY: usize = 2 << 20;
pub const FETCH_DEFAULT_CHARS: u64 = 20_000;
pub const FETCH_MAX_CHARS: u64 = 200_000;

const HEADERS: &[(&str, &str)] = &[
    ("user-agent", "wasiclaw/0.1 (web_fetch)"),
    (
        "accept",
        "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
    ),
];

pub fn web_fetch<P: Platform>(p: &P, m: &Map) -> Result<String, ToolError> {
    let url_text = req_str(m, "url")?;
    let max_chars = opt_uint(m, "max_chars", 1, FETCH_MAX_CHARS)?.unwrap_or(FETCH_DEFAULT_CHARS);
    let mut url = parse_url(url_text)
        .map_err(|e| ToolError::InvalidArguments(cat(&["field `url` is not usable: ", &e])))?;
    let mut hops = 0;
    let resp = loop {
        let req = HttpRequest {
            method: Method::Get,
            url: &url,
            headers: HEADERS,
            body: &[],
            max_body: FETCH_MAX_BODY,
        };
        let r = p
            .http(&req)
            .map_err(|e| ToolError::Failed(cat(&["could not fetch ", &url.to_text(), ": ", &e])))?;
        if matches!(r.status, 301 | 302 | 303 | 307 | 308) {
            if let Some(loc) = r.header("location") {
                if hops == MAX_REDIRECTS {
                    return Err(ToolError::Failed(cat(&[
                        "too many redirects (more than ",
                        &num(MAX_REDIRECTS as u64),
                        ") starting from ",
                        url_text,
                    ])));
                }
                hops += 1;
                url = resolve_url(&url, loc).map_err(|e| {
                    ToolError::Failed(cat(&[
                        &url.to_text(),
                        " redirected to an unusable location `",
                        loc,
                        "`: ",
                        &e,
                    ]))
                })?;
                continue;
            }
        }
        break r;
    };

    let ctype = resp
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let binary = resp.body[..resp.body.len().min(1024)].contains(&0);
    let body = lossy(resp.body);
    let is_html = has(&ctype, "html") || (ctype.is_empty() && sniff_html(&body));
    if !is_html && !is_textual(&ctype) && binary {
        return Err(ToolError::Failed(cat(&[
            &url.to_text(),
            " returned binary content (",
            &ctype,
            "), which web_fetch cannot show as text",
        ])));
    }
    let text = if is_html {
        html_to_text(&body)
    } else {
        String::from(body.trim())
    };

    if resp.status >= 400 {
        let snippet = prefix_chars(&text, 300);
        return Err(ToolError::Failed(cat(&[
            "HTTP ",
            &num(resp.status as u64),
            " from ",
            &url.to_text(),
            if snippet.is_empty() { "" } else { ": " },
            snippet,
        ])));
    }

    let shown = prefix_chars(&text, max_chars as usize);
    let mut out = cat(&[
        "URL: ",
        &url.to_text(),
        "\nStatus: ",
        &num(resp.status as u64),
        "\nContent-Type: ",
        if ctype.is_empty() { "unknown" } else { &ctype },
        "\n\n",
        shown,
    ]);
    if shown.len() < text.len() {
        out.push_str(&cat(&[
            "\n\n[truncated: showing ",
            &num(max_chars),
            " of ",
            &num(char_count(&text) as u64),
            " characters; call web_fetch with a larger max_chars to see more]",
        ]));
    }
    if resp.truncated {
        out.push_str(&cat(&[
            "\n\n[the response was larger than ",
            &num((FETCH_MAX_BODY >> 20) as u64),
            " MB; only the beginning was read]",
        ]));
    }
    Ok(out)
}

fn sniff_html(body: &str) -> bool {
    let head = body.trim_start().as_bytes();
    let head = &head[..head.len().min(64)];
    let starts = |p: &[u8]| head.len() >= p.len() && head[..p.len()].eq_ignore_ascii_case(p);
    starts(b"<!doctype html") || starts(b"<html")
}

fn is_textual(ctype: &str) -> bool {
    ctype.is_empty()
        || ctype.starts_with("text/")
        || ["json", "xml", "javascript", "yaml", "csv", "markdown"]
            .iter()
            .any(|k| has(ctype, k))
}

fn has(hay: &str, needle: &str) -> bool {
    find(hay.as_bytes(), needle.as_bytes(), 0).is_some()
}
