//! The providers: default URLs, SDK environment names, the auth header, and
//! the paths (relative to the base URL) that are model calls, the only ones a
//! host adds a key to and the ones it meters.

/// Which wire format a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
}

/// What a keyed provider request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderCall {
    /// `/chat/completions` (OpenAI) or `/v1/messages` (Anthropic).
    Chat,
    /// `/embeddings` (OpenAI-compatible).
    Embeddings,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 2] = [ProviderKind::OpenAi, ProviderKind::Anthropic];

    /// `openai` or `anthropic`, exactly (as flags, files and env values say).
    pub fn parse(s: &str) -> Option<ProviderKind> {
        match s {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    /// The hosted API's base URL, used when none is configured.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }

    pub fn key_env(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => crate::env::OPENAI_API_KEY,
            ProviderKind::Anthropic => crate::env::ANTHROPIC_API_KEY,
        }
    }

    pub fn base_url_env(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => crate::env::OPENAI_BASE_URL,
            ProviderKind::Anthropic => crate::env::ANTHROPIC_BASE_URL,
        }
    }

    /// The request header that carries the key, and the text before the key
    /// in its value.
    pub fn auth_header(self) -> (&'static str, &'static str) {
        match self {
            ProviderKind::OpenAi => ("authorization", "Bearer "),
            ProviderKind::Anthropic => ("x-api-key", ""),
        }
    }

    /// The path suffixes, after the base URL's own path, of this provider's
    /// model calls.
    fn calls(self) -> &'static [(&'static str, ProviderCall)] {
        match self {
            ProviderKind::OpenAi => &[
                ("/chat/completions", ProviderCall::Chat),
                ("/embeddings", ProviderCall::Embeddings),
            ],
            ProviderKind::Anthropic => &[("/v1/messages", ProviderCall::Chat)],
        }
    }

    /// The call a request path is, for an endpoint whose base URL has the
    /// path `base_path` (`/v1` for OpenAI's default, empty for Anthropic's):
    /// exactly the base path plus a model-call suffix, query ignored. Any
    /// other path on the provider's origin is not a model call: it gets no
    /// key and is not metered.
    pub fn call_at(self, base_path: &str, request_path: &str) -> Option<ProviderCall> {
        let path = request_path.split(['?', '#']).next().unwrap_or("");
        let rest = path.strip_prefix(base_path.trim_end_matches('/'))?;
        self.calls()
            .iter()
            .find(|(suffix, _)| rest == *suffix)
            .map(|(_, call)| *call)
    }
}

/// The path of an absolute `http(s)://` URL (empty when it has none), for
/// [`ProviderKind::call_at`]'s `base_path`.
pub fn url_path(url: &str) -> &str {
    // A byte scan rather than `split_once("://")`: core's substring searcher
    // costs the guests that link this ~5 KB (its panic path formats `char`s).
    let rest = match url.as_bytes().windows(3).position(|w| w == b"://") {
        Some(at) => url.get(at + 3..).unwrap_or(""),
        None => url,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.find('/').and_then(|at| rest.get(at..)).unwrap_or("")
}
