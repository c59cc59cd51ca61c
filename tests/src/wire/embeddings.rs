//! OpenAI `/embeddings`: deterministic vectors from a hashed bag of words, so
//! texts sharing words are close under cosine and unrelated texts are not.

use serde_json::{json, Value};

pub const DEFAULT_DIMS: usize = 64;

/// Lower-cased alphanumeric words.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A unit vector of `dims` components for `text`. Each word adds ±1 to one
/// hashed component; an empty text gets the first basis vector, so the
/// result is never the zero vector (whose cosine is undefined).
pub fn embed(text: &str, dims: usize) -> Vec<f32> {
    let dims = dims.max(1);
    let mut v = vec![0f32; dims];
    for w in words(text) {
        let h = fnv1a(&w);
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        v[(h % dims as u64) as usize] += sign;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        v[0] = 1.0;
        return v;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Answers an embeddings request body, or explains why it is invalid.
pub fn respond(body: &Value) -> Result<Value, String> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty());
    let model = model.ok_or("`model` must be a non-empty string")?;
    let inputs: Vec<&str> = match body.get("input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| v.as_str().ok_or("`input` array items must be strings"))
            .collect::<Result<_, _>>()?,
        _ => return Err("`input` must be a string or a non-empty array of strings".into()),
    };
    let dims = match body.get("dimensions") {
        None | Some(Value::Null) => DEFAULT_DIMS,
        Some(d) => d
            .as_u64()
            .filter(|d| (1..=4096).contains(d))
            .ok_or("`dimensions` must be an integer in 1..=4096")? as usize,
    };
    let tokens: usize = inputs.iter().map(|t| words(t).count()).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": embed(t, dims)}))
        .collect();
    Ok(json!({"object": "list", "data": data, "model": model,
              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_texts_score_higher() {
        let q = embed("capital of Atlantis", 64);
        let hit = embed("The capital of Atlantis is Poseidonia", 64);
        let miss = embed("Bananas are yellow fruit rich in potassium", 64);
        assert!(cosine(&q, &hit) > cosine(&q, &miss) + 0.3);
        assert!((cosine(&hit, &hit) - 1.0).abs() < 1e-5);
        assert_eq!(embed("", 8)[0], 1.0);
    }

    #[test]
    fn respond_shapes_and_errors() {
        let r = respond(&json!({"model": "e", "input": ["a b", "c"], "dimensions": 16})).unwrap();
        assert_eq!(r["data"].as_array().unwrap().len(), 2);
        assert_eq!(r["data"][1]["index"], 1);
        assert_eq!(r["data"][0]["embedding"].as_array().unwrap().len(), 16);
        assert!(respond(&json!({"input": "x"})).is_err());
        assert!(respond(&json!({"model": "e", "input": 3})).is_err());
        assert!(respond(&json!({"model": "e", "input": "x", "dimensions": 0})).is_err());
    }
}
