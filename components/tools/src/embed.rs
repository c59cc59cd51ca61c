//! Text embeddings for memory: an OpenAI-compatible `/embeddings` endpoint
//! when `WASICLAW_EMBEDDING_MODEL` is set, otherwise a built-in hashed n-gram
//! embedder so memory works offline and without keys.

use crate::prelude::*;

use wasiclaw_json::Value;

use crate::error::{cat, lossy, num, prefix_chars, ToolError};
use crate::platform::{HttpRequest, Method, Platform};
use crate::url::parse_url;

pub const LOCAL_DIMS: usize = 256;
/// Identity of the local embedder; bump the suffix whenever its output changes
/// so stored indexes are rebuilt instead of silently mixing two spaces.
pub const LOCAL_ID: &str = "local-ngram-v1";
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
        use wasiclaw_contract::{env as var, ProviderKind};
        match nonempty(var::EMBEDDING_MODEL) {
            None => Embedder::Local,
            Some(model) => Embedder::Remote {
                base: String::from(
                    nonempty(var::OPENAI_BASE_URL)
                        .as_deref()
                        .unwrap_or(ProviderKind::OpenAi.default_base_url())
                        .trim()
                        .trim_end_matches('/'),
                ),
                model: String::from(model.trim()),
                key: nonempty(var::OPENAI_API_KEY),
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
    // Each word as ` word ` (lower-cased); bytes >= 0x80 are parts of
    // non-ASCII characters and count as word characters.
    let mut padded = vec![b' '];
    for &c in text.as_bytes().iter().chain(b" ") {
        if c >= 0x80 || c.is_ascii_alphanumeric() {
            padded.push(c.to_ascii_lowercase());
            continue;
        }
        if padded.len() > 1 {
            let word = &padded[1..];
            if !STOPWORDS.iter().any(|s| s.as_bytes() == word) {
                add(&mut v, hash(b'w', word), 1.0);
                padded.push(b' ');
                for tri in padded.windows(3) {
                    add(&mut v, hash(b't', tri), 0.5);
                }
            }
            padded.truncate(1);
        }
    }
    let norm = sqrt(v.iter().map(|x| x * x).sum::<f32>());
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
    let reply = lossy(resp.body);
    if !(200..300).contains(&resp.status) {
        let snippet = prefix_chars(&reply, 300);
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
        let f = match x {
            Value::Num(n) => parse_f32(n.as_str()),
            _ => None,
        };
        out.push(
            f.ok_or_else(|| fail("data[0].embedding holds something other than a finite number"))?,
        );
    }
    if out.is_empty() {
        return Err(fail("data[0].embedding is empty"));
    }
    Ok(out)
}

/// Parses a JSON number's text as `f32`. Not correctly rounded in the last
/// `f64` bit, which is far below `f32` precision; core's exact float parser
/// (with its 11 KB power-of-five table) would cost a sixth of the component.
pub fn parse_f32(s: &str) -> Option<f32> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = b.first() == Some(&b'-');
    if neg {
        i += 1;
    }
    let (mut mant, mut exp, mut digits) = (0u64, 0i32, 0);
    let mut frac = false;
    while i < b.len() {
        let c = b[i];
        if c == b'.' && !frac {
            frac = true;
        } else if c.is_ascii_digit() {
            digits += 1;
            if mant < 100_000_000_000_000_000 {
                mant = mant * 10 + (c - b'0') as u64;
                exp -= frac as i32;
            } else {
                exp += !frac as i32;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] | 0x20) == b'e' {
        i += 1;
        let eneg = b.get(i) == Some(&b'-');
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let start = i;
        let mut e = 0i32;
        while i < b.len() && b[i].is_ascii_digit() {
            e = (e * 10 + (b[i] - b'0') as i32).min(10_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    let mut x = mant as f64;
    // Beyond these the result is 0 or infinite in f32 anyway.
    let exp = exp.clamp(-400, 400);
    for _ in 0..exp.unsigned_abs() {
        if exp > 0 {
            x *= 10.0;
        } else {
            x /= 10.0;
        }
    }
    let f = if neg { -x } else { x } as f32;
    f.is_finite().then_some(f)
}

/// Square root without std (`f32::sqrt` is not in core, the wasm intrinsic is
/// unstable): Newton's method in `f64` from a bit-trick guess. Plain
/// arithmetic, so native tests and the component embed bit-identically.
fn sqrt(x: f32) -> f32 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let x = x as f64;
    let mut y = f64::from_bits((x.to_bits() >> 1) + 0x1FF8_0000_0000_0000);
    for _ in 0..5 {
        y = 0.5 * (y + x / y);
    }
    y as f32
}
