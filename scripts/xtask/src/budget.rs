//! The subset of TOML that `size-budget.toml` uses: comments, `[name]` tables,
//! and `key = value` with integers, `"…"` strings and booleans. A full TOML
//! parser would be a dependency for eight lines of data.

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub bytes: usize,
}

#[derive(Debug, PartialEq)]
pub struct Budget {
    pub name: String,
    pub path: String,
    pub raw: Option<Limit>,
    pub gzip: Option<Limit>,
    /// A required artifact that is missing fails the check; others are
    /// reported as "not built".
    pub required: bool,
}

fn limit(v: &str, line: usize) -> Result<Limit, String> {
    let v = v.replace('_', "");
    v.parse()
        .map(|bytes| Limit { bytes })
        .map_err(|_| format!("line {line}: expected a byte count, got {v:?}"))
}

pub fn parse(text: &str) -> Result<Vec<Budget>, String> {
    let mut out: Vec<Budget> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push(Budget {
                name: name.trim().to_string(),
                path: String::new(),
                raw: None,
                gzip: None,
                required: true,
            });
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {n}: expected `key = value`"));
        };
        let Some(b) = out.last_mut() else {
            return Err(format!("line {n}: `{}` outside a [section]", key.trim()));
        };
        let value = value.trim();
        match key.trim() {
            "path" => {
                b.path = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .ok_or(format!("line {n}: path must be a quoted string"))?
                    .to_string()
            }
            "raw" => b.raw = Some(limit(value, n)?),
            "gzip" => b.gzip = Some(limit(value, n)?),
            "required" => {
                b.required = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("line {n}: required must be true or false")),
                }
            }
            k => return Err(format!("line {n}: unknown key `{k}`")),
        }
    }
    if let Some(b) = out.iter().find(|b| b.path.is_empty()) {
        return Err(format!("[{}] has no path", b.name));
    }
    Ok(out)
}
