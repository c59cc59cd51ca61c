//! Tests of the contract's rules.

use crate::args::{items, session_of, Item};
use crate::*;

#[test]
fn model_calls_are_exactly_the_base_path_plus_a_suffix() {
    let o = ProviderKind::OpenAi;
    let a = ProviderKind::Anthropic;
    assert_eq!(url_path(o.default_base_url()), "/v1");
    assert_eq!(url_path(a.default_base_url()), "");
    assert_eq!(url_path("http://h:1/x/?q#f"), "/x/");
    assert_eq!(
        o.call_at("/v1", "/v1/chat/completions"),
        Some(ProviderCall::Chat)
    );
    assert_eq!(
        o.call_at("/v1/", "/v1/embeddings?x=1"),
        Some(ProviderCall::Embeddings)
    );
    assert_eq!(a.call_at("", "/v1/messages"), Some(ProviderCall::Chat));
    for other in [
        "/v1/responses",
        "/v1/models",
        "/v1/chat/completions/x",
        "/v2/chat/completions",
        "/echo/v1/chat/completions",
        "/v1/messages",
        "",
    ] {
        assert_eq!(o.call_at("/v1", other), None, "{other}");
    }
    assert_eq!(a.call_at("", "/v1/messages/count_tokens"), None);
    assert_eq!(a.call_at("", "/v1/chat/completions"), None);
}

#[test]
fn host_auth_names_providers() {
    assert!(host_adds_key(Some("openai"), ProviderKind::OpenAi));
    assert!(host_adds_key(
        Some("anthropic, openai"),
        ProviderKind::OpenAi
    ));
    assert!(!host_adds_key(Some("anthropic"), ProviderKind::OpenAi));
    assert!(!host_adds_key(None, ProviderKind::Anthropic));
    assert!(!host_adds_key(Some("OpenAI-ish"), ProviderKind::OpenAi));
}

#[test]
fn sessions_of_requests_and_command_lines() {
    assert_eq!(session_for_request(Some("h"), Some("u")), "h");
    assert_eq!(session_for_request(Some(""), Some("u")), "u");
    assert_eq!(session_for_request(None, Some("u")), "u");
    assert_eq!(session_for_request(None, Some("")), "default");
    assert_eq!(session_for_request(None, None), "default");

    assert_eq!(session_of(&["-m", "hi"]), "default");
    assert_eq!(session_of(&["--session", "s1", "-m", "x"]), "s1");
    assert_eq!(session_of(&["--session=s2"]), "s2");
    // The last one wins, as in the agent.
    assert_eq!(session_of(&["--session", "a", "--session", "b"]), "b");
    // A message that looks like a flag is a message.
    assert_eq!(session_of(&["-m", "--session", "-m", "x"]), "default");
    assert_eq!(session_of(&["--session"]), "default");
    assert_eq!(session_of(&["--session", "../x"]), "default");
}

#[test]
fn items_follow_the_grammar() {
    let v: [&str; 5] = ["--model=a=b", "-m", "--x", "--no-stream", "-m"];
    let got: [Option<Item>; 4] = {
        let mut it = items(&v);
        [it.next(), it.next(), it.next(), it.next()]
    };
    assert_eq!(
        got[0].map(|i| (i.flag, i.value, i.inline)),
        Some(("--model", Some("a=b"), true))
    );
    assert_eq!(got[1].map(|i| (i.flag, i.value)), Some(("-m", Some("--x"))));
    assert_eq!(
        got[2].map(|i| (i.flag, i.value)),
        Some(("--no-stream", None))
    );
    assert_eq!(got[3].map(|i| (i.flag, i.value)), Some(("-m", None)));
}

#[test]
fn session_names() {
    assert_eq!(validate_session(""), Ok("default"));
    assert_eq!(validate_session("a.b_c-1"), Ok("a.b_c-1"));
    for bad in [".x", "a/b", "a b", "ü"] {
        assert!(validate_session(bad).is_err(), "{bad}");
    }
    let long = "x".repeat(65);
    assert!(validate_session(&long).is_err());
    assert!(validate_session(&long[..64]).is_ok());
}

#[test]
fn the_workspace_preopen() {
    let none: [((), &str); 0] = [];
    assert_eq!(pick_workspace(&none), None);
    assert_eq!(
        pick_workspace(&[((), "/tmp"), ((), "/workspace/")]),
        Some(1)
    );
    assert_eq!(pick_workspace(&[((), "/data"), ((), "/tmp")]), Some(0));
}

#[test]
fn a_named_workspace_is_found_in_or_under_a_preopen() {
    use crate::find_workspace;
    let pre = [((), "/"), ((), "/srv"), ((), "/srv/ws/"), ((), "/tmp")];
    assert_eq!(find_workspace(&pre, "/srv/ws"), Some((2, "")));
    assert_eq!(find_workspace(&pre, "/srv/ws/"), Some((2, "")));
    assert_eq!(
        find_workspace(&pre, "/srv/ws/deep/er"),
        Some((2, "deep/er"))
    );
    assert_eq!(find_workspace(&pre, "/srv/other"), Some((1, "other")));
    assert_eq!(
        find_workspace(&pre, "/srvx/a"),
        Some((0, "srvx/a")),
        "a prefix only at a /"
    );
    assert_eq!(find_workspace(&pre, "/home/me/ws"), Some((0, "home/me/ws")));
    assert_eq!(find_workspace(&pre, "/"), Some((0, "")));
    assert_eq!(
        find_workspace(&pre[1..], "/home/me"),
        None,
        "outside every preopen"
    );
    assert_eq!(find_workspace(&pre, "/srv/ws/../.."), None);
    assert_eq!(find_workspace(&pre, "/srv/./ws"), None);
    assert_eq!(find_workspace(&[((), "ws")], "ws/sub"), Some((0, "sub")));
}
