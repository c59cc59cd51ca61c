//! Text embeddings for memory: an OpenAI-compatible `/embeddings` endpoint
//! when `WASICLAW_EMBEDDING_MODEL` is set, otherwise a built-in hashed n-gram
//! embedder so memory works offline and without keys.

use wasiclaw_json::Value;

use crate::error::{cat, num, ToolError};
use crate::platform::{HttpRequest, Method, Platform};
use crate::url::parse_url;

pub const LOCAL_DIMS: usize = 256;
/// Identity of the local embedder; bump the suffix whenever its output changes
/// so stored indexes are rebuilt instead of silently mixing two spaces.
pub const LOCAL_ID: &str = "local-ngram-v1";
const DEFAULT_BASE: &str = "https://api.openai.com/v1";
/// Embedding responses are a few KB per 1000 dimensions; this is generous.
const MAX_RESPONSE: usize = 16 << 20;

/// Words too common to say anything about a memory.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "i", "in", "is", "it",
    "me", "my", "of", "on", "or", "that", "the", "this", "to", "was", "what", "with",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Embedder {
    Local,
    Remote {
        base: String,
        model: String,
        key: Option<String>,
    },
}

impl Embedder {
    pub fn from_env<P: Platform>(p: &P) -> Embedder {
        let nonempty = |k: &str| p.env(k).filter(|v| !v.trim().is_empty());
        match nonempty("WASICLAW_EMBEDDING_MODEL") {
            None => Embedder::Local,
            Some(model) => Embedder::Remote {
                base: String::from(
                    nonempty("OPENAI_BASE_URL")
                        .as_deref()
                        .unwrap_or(DEFAULT_BASE)
                        .trim()
                        .trim_end_matches('/'),
                ),
                model: String::from(model.trim()),
                key: nonempty("OPENAI_API_KEY"),
            },
        }
    }

    /// A stable name for the vector space this embedder produces.
    pub fn id(&self) -> String {
        match self {
            Embedder::Local => String::from(LOCAL_ID),
            Embedder::Remote { base, model, .. } => cat(&["openai:", model, "@", base]),
        }
    }

    pub fn embed<P: Platform>(&self, p: &P, text: &str) -> Result<Vec<f32>, ToolError> {
        match self {
            Embedder::Local => Ok(local_embed(text)),
            Embedder::Remote { base, model, key } => {
                remote_embed(p, base, model, key.as_deref(), text)
            }
        }
    }
}

/// Signed feature hashing of word unigrams and byte trigrams (of each word
/// padded with spaces, so prefixes and suffixes count) into [`LOCAL_DIMS`],
/// L2-normalised. Words match exactly, trigrams catch inflections and typos.
/// Only ASCII is case-folded: Unicode case tables would cost more than the
/// rest of this module; non-ASCII characters still count as word characters.
pub fn local_embed(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; LOCAL_DIMS];
    let lower = text.to_ascii_lowercase();
    let words = lower
        .split(|c: char| c.is_ascii() && !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w));
    let mut padded = Vec::with_capacity(64);
    for w in words {
        add(&mut v, hash(b'w', w.as_bytes()), 1.0);
        padded.clear();
        padded.push(b' ');
        padded.extend_from_slice(w.as_bytes());
        padded.push(b' ');
        for tri in padded.windows(3) {
            add(&mut v, hash(b't', tri), 0.5);
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn add(v: &mut [f32], h: u64, w: f32) {
    let i = (h % LOCAL_DIMS as u64) as usize;
    v[i] += if h >> 63 == 1 { -w } else { w };
}

/// FNV-1a with a murmur finaliser so the low bits (the bucket) and the top
/// bit (the sign) are both well mixed. `kind` keeps words and trigrams apart.
fn hash(kind: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in core::iter::once(&kind).chain(bytes) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn remote_embed<P: Platform>(
    p: &P,
    base: &str,
    model: &str,
    key: Option<&str>,
    text: &str,
) -> Result<Vec<f32>, ToolError> {
    let endpoint = cat(&[base, "/embeddings"]);
    let url = parse_url(&endpoint).map_err(|e| {
        ToolError::Failed(cat(&[
            "OPENAI_BASE_URL gives an unusable embeddings URL ",
            &endpoint,
            ": ",
            &e,
        ]))
    })?;
    let mut body = String::from("{\"model\":");
    body.push_str(&wasiclaw_json::quote(model));
    body.push_str(",\"input\":");
    body.push_str(&wasiclaw_json::quote(text));
    body.push('}');
    let auth = key.map(|k| cat(&["Bearer ", k]));
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    let req = HttpRequest {
        method: Method::Post,
        url: &url,
        headers: &headers,
        body: body.as_bytes(),
        max_body: MAX_RESPONSE,
    };
    let fail = |what: &str| {
        ToolError::Failed(cat(&[
            "embedding request to ",
            &endpoint,
            " failed: ",
            what,
        ]))
    };
    let resp = p.http(&req).map_err(|e| fail(&e))?;
    let reply = String::from_utf8_lossy(&resp.body);
    if !(200..300).contains(&resp.status) {
        let snippet: String = reply.chars().take(300).collect();
        return Err(fail(&cat(&[
            "HTTP ",
            &num(resp.status as u64),
            ": ",
            snippet.trim(),
        ])));
    }
    if resp.truncated {
        return Err(fail("the response was too large"));
    }
    let json = wasiclaw_json::parse(&reply).map_err(|_| fail("the response is not JSON"))?;
    let arr = json
        .get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(|d| d.get("embedding"))
        .and_then(Value::as_array)
        .ok_or_else(|| fail("the response has no data[0].embedding array"))?;
    let mut out = Vec::with_capacity(arr.len());
    for x in arr {
        let f = x
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| fail("data[0].embedding holds a non-number"))?;
        out.push(f as f32);
    }
    if out.is_empty() {
        return Err(fail("data[0].embedding is empty"));
    }
    Ok(out)
}
