//! Long-term memory: memory_save and memory_search.
//!
//! The texts are the source of truth (`memory/entries.jsonl`); the vector
//! index (`memory/index.bin`) and its description (`memory/meta.json`: which
//! embedder, how many dimensions, how many entries) are derived from them.
//! Each file is replaced with write-temp-then-rename, texts first, so after a
//! crash the index can at worst lag the texts; a lagging, unreadable or
//! foreign-embedder index is rebuilt from the texts on load. In the
//! key-value build the same three live in a `wasi:keyvalue` bucket
//! ([`crate::memstore`]), each text under a key of its own.

use crate::prelude::*;

use wasiclaw_json::{quote, Map, Value};

use crate::args::{opt_str, opt_str_list, opt_uint, req_str};
use crate::embed::Embedder;
use crate::error::{cat, join, lossy, num, tail, ToolError};
use crate::memstore::{Blob, Store, Version};
use crate::platform::{Platform, VectorIndex, Vectors};
use crate::time::iso8601;

pub const DIR: &str = "memory";
/// A tag `session:NAME` makes an entry private to that session.
pub const SESSION_TAG: &str = "session:";
pub const ENTRIES: &str = "memory/entries.jsonl";
pub const INDEX: &str = "memory/index.bin";
pub const META: &str = "memory/meta.json";
/// Longest text one memory may hold: memories are notes, not documents.
pub const MAX_TEXT: usize = 20_000;
pub const DEFAULT_K: u64 = 5;
pub const MAX_K: u64 = 50;

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: u64,
    pub text: String,
    pub tags: Vec<String>,
    pub saved_at: String,
}

/// The loaded memory: owned by the tools instance for its lifetime.
pub struct Memory<I> {
    embedder: Embedder,
    entries: Vec<Entry>,
    /// `None` while there are no entries (dimensions are not known yet).
    index: Option<(I, u32)>,
    /// Why the index had to be rebuilt on load, reported once to the model.
    rebuilt: Option<&'static str>,
    /// The texts as last read or written (the size of `entries.jsonl`, or
    /// the bucket's counter): another process (a second agent on the same
    /// workspace or store) that saved in between changes it, and the memory
    /// is then reloaded instead of overwriting its entry.
    version: Version,
}

impl<I: VectorIndex> Memory<I> {
    pub fn load<P: Platform, V: Vectors<Index = I>>(p: &P, v: &V) -> Result<Self, ToolError> {
        let embedder = Embedder::from_env(p);
        let store = Store::of(p);
        let (entries, version) = store.load_entries(p)?;
        let mut mem = Memory {
            embedder,
            entries,
            index: None,
            rebuilt: None,
            version,
        };
        if mem.entries.is_empty() {
            return Ok(mem);
        }
        let meta = store
            .read(p, Blob::Meta)?
            .and_then(|t| wasiclaw_json::parse(&lossy(t)).ok());
        let meta_field = |k: &str| meta.as_ref().and_then(|m| m.get(k));
        let same_embedder =
            meta_field("embedder").and_then(Value::as_str) == Some(&mem.embedder.id());
        let dims = meta_field("dims").and_then(Value::as_u64).unwrap_or(0) as u32;
        if !same_embedder {
            mem.rebuilt = Some(if meta.is_some() {
                "the embedder changed"
            } else {
                "its description was missing"
            });
        } else {
            let index = match store.read(p, Blob::Index)? {
                None => None,
                Some(bytes) => v.load(&bytes).ok(),
            };
            match index {
                Some(ix) if ix.count() == mem.entries.len() as u64 && dims > 0 => {
                    mem.index = Some((ix, dims));
                    return Ok(mem);
                }
                Some(_) => mem.rebuilt = Some("it was out of step with the saved texts"),
                None => mem.rebuilt = Some("it was missing or unreadable"),
            }
        }
        mem.rebuild(p, v)?;
        mem.persist_index(p)?;
        Ok(mem)
    }

    /// Re-embeds every text with the current embedder into a fresh index.
    fn rebuild<P: Platform, V: Vectors<Index = I>>(
        &mut self,
        p: &P,
        v: &V,
    ) -> Result<(), ToolError> {
        let mut index: Option<(I, u32)> = None;
        for e in &self.entries {
            let vec = self.embedder.embed(p, &e.text).map_err(|err| {
                ToolError::Failed(cat(&[
                    "the memory index must be rebuilt (",
                    self.rebuilt.unwrap_or("the embedding size changed"),
                    ") but embedding a saved text failed: ",
                    err.message(),
                    ". The saved texts in memory/entries.jsonl are untouched.",
                ]))
            })?;
            let (ix, dims) =
                index.get_or_insert_with(|| (v.create(vec.len() as u32), vec.len() as u32));
            if vec.len() as u32 != *dims {
                return Err(ToolError::Failed(String::from(
                    "the embedding endpoint returned vectors of different sizes; memory cannot be indexed",
                )));
            }
            insert(ix, e.id, &vec)?;
        }
        self.index = index;
        Ok(())
    }

    pub fn save<P: Platform, V: Vectors<Index = I>>(
        &mut self,
        p: &P,
        v: &V,
        m: &Map,
    ) -> Result<String, ToolError> {
        let text = req_str(m, "text")?.trim();
        if text.is_empty() {
            return Err(ToolError::InvalidArguments(String::from(
                "field `text` must not be empty",
            )));
        }
        if text.len() > MAX_TEXT {
            return Err(ToolError::InvalidArguments(cat(&[
                "field `text` is longer than ",
                &num(MAX_TEXT as u64),
                " bytes; save a short summary instead and keep the full text in a file",
            ])));
        }
        let tags: Vec<String> = opt_str_list(m, "tags")?
            .iter()
            .map(|t| String::from(t.trim()))
            .filter(|t| !t.is_empty())
            .collect();
        let vec = self.embedder.embed(p, text)?;
        if vec.iter().all(|x| *x == 0.0) {
            return Err(ToolError::InvalidArguments(String::from(
                "field `text` has no words to remember",
            )));
        }
        if let Some((_, dims)) = &self.index {
            if *dims != vec.len() as u32 {
                self.rebuilt = Some("the embedding size changed");
                self.rebuild(p, v)?;
            }
        }
        let id = Store::of(p).next_id(&self.entries)?;
        let (ix, _) = self
            .index
            .get_or_insert_with(|| (v.create(vec.len() as u32), vec.len() as u32));
        insert(ix, id, &vec)?;
        let (secs, _) = p.now();
        self.entries.push(Entry {
            id,
            text: String::from(text),
            tags,
            saved_at: iso8601(secs),
        });
        self.persist(p)?;
        let e = &self.entries[self.entries.len() - 1];
        let mut out = cat(&["Saved memory #", &num(id)]);
        if !e.tags.is_empty() {
            out.push_str(&cat(&[" (tags: ", &join(&e.tags, ", "), ")"]));
        }
        self.note_rebuild(&mut out);
        Ok(out)
    }

    pub fn search<P: Platform>(&mut self, p: &P, m: &Map) -> Result<String, ToolError> {
        let query = req_str(m, "query")?.trim();
        if query.is_empty() {
            return Err(ToolError::InvalidArguments(String::from(
                "field `query` must not be empty",
            )));
        }
        let k = opt_uint(m, "k", 1, MAX_K)?.unwrap_or(DEFAULT_K);
        let (ix, dims) = match &mut self.index {
            Some(ix) if !self.entries.is_empty() => ix,
            _ => return Ok(String::from("No memories saved yet.")),
        };
        let vec = self.embedder.embed(p, query)?;
        if vec.len() as u32 != *dims {
            return Err(ToolError::Failed(String::from(
                "the embedding endpoint now returns vectors of a different size than the memory index; save a memory to rebuild it",
            )));
        }
        if vec.iter().all(|x| *x == 0.0) {
            return Ok(cat(&[
                "No memories match \"",
                query,
                "\" (the query has no searchable words).",
            ]));
        }
        // Entries private to another session (tag `session:NAME`, what the
        // agent's consolidation saves) are never shown; the agent passes the
        // session it runs in. Asked for more, then filtered, so k remain.
        let session = opt_str(m, "session")?;
        let min_score = match m.get("min_score") {
            None => None,
            Some(Value::Num(n)) => Some(crate::embed::parse_f32(n.as_str()).ok_or_else(|| {
                ToolError::InvalidArguments(String::from("field `min_score` must be a number"))
            })?),
            Some(_) => {
                return Err(ToolError::InvalidArguments(String::from(
                    "field `min_score` must be a number",
                )))
            }
        };
        let visible = |e: &Entry| {
            e.tags.iter().all(|t| match t.strip_prefix(SESSION_TAG) {
                Some(owner) => session == Some(owner),
                None => true,
            })
        };
        // Bounded: with many private entries of other sessions in the way,
        // fewer than k may come back rather than a search over everything.
        let hidden = self.entries.iter().filter(|e| !visible(e)).count() as u32;
        let want = (k as u32)
            .saturating_add(hidden)
            .min(k as u32 * 8 + 64)
            .min(self.entries.len() as u32);
        let hits: Vec<(u64, f32)> = ix
            .search(&vec, want, (want * 4).max(64))
            .map_err(|e| ToolError::Failed(cat(&["memory search failed: ", &e])))?
            .into_iter()
            .filter(|(id, dist)| {
                min_score.is_none_or(|min| 1.0 - dist >= min)
                    && self.entry(*id).is_some_and(visible)
            })
            .take(k as usize)
            .collect();
        if hits.is_empty() {
            return Ok(cat(&["No memories match \"", query, "\"."]));
        }
        let mut out = cat(&[
            "Top ",
            &num(hits.len() as u64),
            " memories for \"",
            query,
            "\" (score = cosine similarity, 1 is identical):",
        ]);
        for (rank, (id, dist)) in hits.iter().enumerate() {
            let Some(e) = self.entries.iter().find(|e| e.id == *id) else {
                continue;
            };
            out.push_str(&cat(&[
                "\n",
                &num(rank as u64 + 1),
                ". [score ",
                &score(1.0 - dist),
                "] #",
                &num(e.id),
            ]));
            if !e.tags.is_empty() {
                out.push_str(&cat(&[" tags: ", &join(&e.tags, ", "), ";"]));
            }
            out.push_str(&cat(&[" saved ", &e.saved_at]));
            // The text indented under its header, line by line.
            for line in e.text.split('\n') {
                out.push_str("\n   ");
                out.push_str(line);
            }
        }
        self.note_rebuild(&mut out);
        Ok(out)
    }

    /// The entry with `id`: ids only grow, so the list is in id order.
    fn entry(&self, id: u64) -> Option<&Entry> {
        let at = self.entries.binary_search_by(|e| e.id.cmp(&id)).ok()?;
        self.entries.get(at)
    }

    /// Whether the texts on disk changed since this memory read or wrote them.
    pub fn is_stale<P: Platform>(&self, p: &P) -> bool {
        Store::of(p).is_stale(p, &self.version)
    }

    fn note_rebuild(&mut self, out: &mut String) {
        if let Some(why) = self.rebuilt.take() {
            out.push_str(&cat(&[
                "\n[the memory index was rebuilt from the saved texts because ",
                why,
                "]",
            ]));
        }
    }

    /// Writes texts, then index, then meta: each step crash-safe on its own,
    /// and a crash between steps is repaired by the rebuild on the next load.
    fn persist<P: Platform>(&mut self, p: &P) -> Result<(), ToolError> {
        self.version = Store::of(p).save_entries(p, &self.entries, &self.version)?;
        self.persist_index(p)
    }

    fn persist_index<P: Platform>(&mut self, p: &P) -> Result<(), ToolError> {
        let count = self.entries.len() as u64;
        let Some((ix, dims)) = &mut self.index else {
            return Ok(());
        };
        let store = Store::of(p);
        store.write(p, Blob::Index, &ix.save())?;
        let meta = cat(&[
            "{\"embedder\":",
            &quote(&self.embedder.id()),
            ",\"dims\":",
            &num(*dims as u64),
            ",\"count\":",
            &num(count),
            "}\n",
        ]);
        store.write(p, Blob::Meta, meta.as_bytes())
    }
}

fn insert<I: VectorIndex>(ix: &mut I, id: u64, vec: &[f32]) -> Result<(), ToolError> {
    ix.insert(id, vec)
        .map_err(|e| ToolError::Failed(cat(&["could not add to the memory index: ", &e])))
}

/// A similarity as fixed-point text with three decimals, e.g. `0.873`, without
/// pulling float formatting into the component.
fn score(s: f32) -> String {
    let s = s.clamp(-1.0, 1.0);
    let milli = (s.abs() * 1000.0 + 0.5) as u64;
    let frac = num(1000 + milli % 1000);
    cat(&[
        if s < 0.0 && milli > 0 { "-" } else { "" },
        &num(milli / 1000),
        ".",
        tail(&frac, 1),
    ])
}

pub(crate) fn write_entry(e: &Entry, out: &mut String) {
    out.push_str("{\"id\":");
    out.push_str(&num(e.id));
    out.push_str(",\"text\":");
    out.push_str(&quote(&e.text));
    out.push_str(",\"tags\":[");
    for (i, t) in e.tags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(t));
    }
    out.push_str("],\"saved_at\":");
    out.push_str(&quote(&e.saved_at));
    out.push('}');
}

/// Parses the JSONL texts. A damaged line stops everything: rewriting the
/// file without it would silently drop a memory.
pub fn parse_entries(text: &str) -> Result<Vec<Entry>, ToolError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| {
            ToolError::Failed(cat(&[
                ENTRIES,
                " line ",
                &num(i as u64 + 1),
                " is damaged (",
                why,
                "); memory was left untouched, fix or remove that line",
            ]))
        };
        let v = wasiclaw_json::parse(line).map_err(|e| bad(e.msg))?;
        let id = v
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no numeric id"))?;
        let text = v
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no text"))?;
        let tags = match v.get("tags").and_then(Value::as_array) {
            Some(a) => a
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            None => Vec::new(),
        };
        let saved_at = v.get("saved_at").and_then(Value::as_str).unwrap_or("");
        if out.iter().any(|e: &Entry| e.id == id) {
            return Err(bad("duplicate id"));
        }
        out.push(Entry {
            id,
            text: String::from(text),
            tags,
            saved_at: String::from(saved_at),
        });
    }
    Ok(out)
}
