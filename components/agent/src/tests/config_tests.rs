use std::collections::HashMap;

use crate::config::{resolve, Config, Overrides};
use crate::error::AgentError;
use crate::provider::ProviderKind;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn ok(file: Option<&str>, pairs: &[(&str, &str)], flags: &Overrides) -> Config {
    resolve(file, &env(pairs), flags).unwrap()
}

fn config_err(file: Option<&str>, pairs: &[(&str, &str)]) -> String {
    match resolve(file, &env(pairs), &Overrides::default()) {
        Err(AgentError::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn defaults_with_an_openai_key() {
    let c = ok(None, &[("OPENAI_API_KEY", "sk-1")], &Overrides::default());
    assert_eq!(c.endpoint.kind, ProviderKind::OpenAi);
    assert_eq!(c.endpoint.base_url, "https://api.openai.com/v1");
    assert_eq!(c.endpoint.api_key.as_deref(), Some("sk-1"));
    assert_eq!(c.model, "gpt-4o-mini");
    assert_eq!(
        (c.max_iterations, c.stream, c.context_tokens),
        (20, true, 32_000)
    );
}

#[test]
fn provider_is_inferred() {
    let c = ok(None, &[("ANTHROPIC_API_KEY", "a")], &Overrides::default());
    assert_eq!(c.endpoint.kind, ProviderKind::Anthropic);
    assert_eq!(c.endpoint.base_url, "https://api.anthropic.com");
    assert_eq!(c.model, "claude-3-5-haiku-latest");
    // Both keys: openai wins.
    let c = ok(
        None,
        &[("ANTHROPIC_API_KEY", "a"), ("OPENAI_API_KEY", "o")],
        &Overrides::default(),
    );
    assert_eq!(c.endpoint.kind, ProviderKind::OpenAi);
    // A local server needs no key.
    let c = ok(
        None,
        &[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")],
        &Overrides::default(),
    );
    assert_eq!(c.endpoint.kind, ProviderKind::OpenAi);
    assert_eq!(c.endpoint.api_key, None);
    let c = ok(
        None,
        &[("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")],
        &Overrides::default(),
    );
    assert_eq!(c.endpoint.kind, ProviderKind::Anthropic);
    // Empty values count as unset.
    let m = config_err(None, &[("OPENAI_API_KEY", " ")]);
    assert!(m.contains("no provider configured"), "{m}");
}

#[test]
fn hosted_apis_need_a_key() {
    let m = config_err(None, &[("WASICLAW_PROVIDER", "anthropic")]);
    assert!(m.contains("ANTHROPIC_API_KEY is not set"), "{m}");
    let m = config_err(
        None,
        &[("WASICLAW_PROVIDER", "gemini"), ("OPENAI_API_KEY", "k")],
    );
    assert!(
        m.contains("WASICLAW_PROVIDER") && m.contains("gemini"),
        "{m}"
    );
    let m = config_err(None, &[("OPENAI_BASE_URL", "localhost:8080")]);
    assert!(m.contains("unsupported URL"), "{m}");
}

/// A host that holds the key (WASICLAW_HOST_AUTH) makes the default URL
/// usable without one in the guest, for the providers it names only.
#[test]
fn a_key_the_host_adds_counts_for_the_default_url() {
    let c = ok(
        None,
        &[
            ("WASICLAW_HOST_AUTH", "openai"),
            ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        ],
        &Overrides::default(),
    );
    assert_eq!(c.endpoint.kind, ProviderKind::OpenAi);
    assert_eq!(c.endpoint.api_key, None);
    let c = ok(
        None,
        &[("WASICLAW_HOST_AUTH", "anthropic")],
        &Overrides::default(),
    );
    assert_eq!(c.endpoint.kind, ProviderKind::Anthropic);
    assert_eq!(c.endpoint.base_url, "https://api.anthropic.com");
    let m = config_err(
        None,
        &[
            ("WASICLAW_HOST_AUTH", "openai"),
            ("WASICLAW_PROVIDER", "anthropic"),
        ],
    );
    assert!(m.contains("ANTHROPIC_API_KEY is not set"), "{m}");
}

const FILE: &str = r#"{
    "provider": "anthropic",
    "model": "file-model",
    "maxIterations": 7,
    "stream": false,
    "contextTokens": 5000,
    "maxTokens": 999,
    "timeoutSecs": 12,
    "openai": {"baseUrl": "http://file-openai/v1", "apiKey": "file-okey"},
    "anthropic": {"baseUrl": "http://file-anthropic", "apiKey": "file-akey"},
    "embeddingModel": "e",
    "somethingElse": [1, 2]
}"#;

#[test]
fn file_overrides_defaults() {
    let c = ok(Some(FILE), &[], &Overrides::default());
    assert_eq!(c.endpoint.kind, ProviderKind::Anthropic);
    assert_eq!(c.endpoint.base_url, "http://file-anthropic");
    assert_eq!(c.endpoint.api_key.as_deref(), Some("file-akey"));
    assert_eq!(c.model, "file-model");
    assert_eq!(
        (
            c.max_iterations,
            c.stream,
            c.context_tokens,
            c.max_tokens,
            c.timeout_secs
        ),
        (7, false, 5000, 999, 12)
    );
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let e = [
        ("WASICLAW_PROVIDER", "openai"),
        ("WASICLAW_MODEL", "env-model"),
        ("OPENAI_BASE_URL", "http://env-openai/v1"),
    ];
    let c = ok(Some(FILE), &e, &Overrides::default());
    assert_eq!(c.endpoint.kind, ProviderKind::OpenAi);
    assert_eq!(c.endpoint.base_url, "http://env-openai/v1");
    assert_eq!(c.endpoint.api_key.as_deref(), Some("file-okey"));
    assert_eq!(c.model, "env-model");
    let flags = Overrides {
        provider: Some(ProviderKind::Anthropic),
        model: Some("flag-model".into()),
        max_iterations: Some(3),
        no_stream: true,
    };
    let c = ok(Some(FILE), &e, &flags);
    assert_eq!(c.endpoint.kind, ProviderKind::Anthropic);
    assert_eq!(c.model, "flag-model");
    assert_eq!(c.max_iterations, 3);
    assert!(!c.stream);
    let c = ok(
        None,
        &[("OPENAI_API_KEY", "k")],
        &Overrides {
            no_stream: true,
            ..Overrides::default()
        },
    );
    assert!(!c.stream);
}

#[test]
fn bad_files_are_config_errors() {
    for (file, needle) in [
        ("{", "wasiclaw.json: invalid JSON"),
        ("[]", "top level must be an object"),
        (r#"{"model": 5}"#, "\"model\" must be a string"),
        (
            r#"{"maxIterations": 0}"#,
            "\"maxIterations\" must be an integer >= 1",
        ),
        (r#"{"maxIterations": "3"}"#, "maxIterations"),
        (r#"{"stream": "yes"}"#, "\"stream\" must be true or false"),
        (r#"{"openai": "x"}"#, "\"openai\" must be an object"),
        (
            r#"{"openai": {"apiKey": 1}}"#,
            "\"apiKey\" must be a string",
        ),
        (r#"{"embeddingModel": 1}"#, "embeddingModel"),
        (r#"{"provider": "x"}"#, "unknown provider 'x'"),
    ] {
        let m = config_err(Some(file), &[("OPENAI_API_KEY", "k")]);
        assert!(m.contains(needle), "{file}: {m}");
    }
}
