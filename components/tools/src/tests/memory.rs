use super::*;
use crate::embed::{local_embed, LOCAL_DIMS};
use crate::memory::{ENTRIES, INDEX, META};

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn local_embedder_is_normalised_and_meaningful() {
    let a = local_embed("The user prefers dark roast coffee");
    let b = local_embed("what coffee does the user like?");
    let c = local_embed("Deploy the Kubernetes cluster on Friday");
    assert_eq!(a.len(), LOCAL_DIMS);
    assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
    assert!(
        cos(&a, &b) > cos(&a, &c) + 0.2,
        "{} vs {}",
        cos(&a, &b),
        cos(&a, &c)
    );
    assert_eq!(local_embed("COFFEE"), local_embed("coffee"));
    assert!(local_embed("... !!").iter().all(|x| *x == 0.0));
}

fn fresh(dir: &TempDir) -> TestBox {
    toolbox_with(TestPlatform::new(&dir.ws()))
}

#[test]
fn save_and_search_round_trip_across_instances() {
    let dir = TempDir::new();
    {
        let mut tb = fresh(&dir);
        assert_eq!(
            ok(&mut tb, "memory_search", r#"{"query":"anything"}"#),
            "No memories saved yet."
        );
        assert_eq!(
            ok(
                &mut tb,
                "memory_save",
                r#"{"text":"The user's favourite coffee is a dark roast from Ethiopia","tags":["preference"," coffee ",""]}"#
            ),
            "Saved memory #1 (tags: preference, coffee)"
        );
        ok(
            &mut tb,
            "memory_save",
            r#"{"text":"Project Falcon ships its Kubernetes deployment on Friday"}"#,
        );
        ok(
            &mut tb,
            "memory_save",
            r#"{"text":"Anna's birthday is on the 3rd of March"}"#,
        );
    }
    for f in [ENTRIES, INDEX, META] {
        assert!(dir.ws().join(f).is_file(), "{f}");
    }
    let meta = read(&dir, META);
    assert_eq!(
        meta,
        "{\"embedder\":\"local-ngram-v1\",\"dims\":256,\"count\":3}\n"
    );
    let first = read(&dir, ENTRIES).lines().next().unwrap().to_string();
    assert_eq!(
        first,
        r#"{"id":1,"text":"The user's favourite coffee is a dark roast from Ethiopia","tags":["preference","coffee"],"saved_at":"2023-11-14T22:13:20Z"}"#
    );

    // A new instance (a new process in real life) loads the files.
    let mut tb = fresh(&dir);
    let out = ok(
        &mut tb,
        "memory_search",
        r#"{"query":"which coffee does the user like","k":2}"#,
    );
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines[0], "Top 2 memories for \"which coffee does the user like\" (score = cosine similarity, 1 is identical):");
    assert!(
        lines[1].starts_with("1. [score 0.")
            && lines[1].contains("] #1 tags: preference, coffee; saved 2023-11-14T22:13:20Z"),
        "{out}"
    );
    assert_eq!(
        lines[2],
        "   The user's favourite coffee is a dark roast from Ethiopia"
    );
    assert!(lines[3].starts_with("2. [score "), "{out}");
    assert!(!out.contains("rebuilt"));

    ok(
        &mut tb,
        "memory_save",
        r#"{"text":"Falcon's launch moved to Monday"}"#,
    );
    let mut tb = fresh(&dir);
    let out = ok(
        &mut tb,
        "memory_search",
        r#"{"query":"when does Falcon launch","k":1}"#,
    );
    assert!(out.contains("#4") && out.contains("Monday"), "{out}");
    assert_eq!(
        read(&dir, META),
        "{\"embedder\":\"local-ngram-v1\",\"dims\":256,\"count\":4}\n"
    );
}

#[test]
fn exact_text_scores_one() {
    let dir = TempDir::new();
    let mut tb = fresh(&dir);
    ok(&mut tb, "memory_save", r#"{"text":"alpha beta gamma"}"#);
    ok(&mut tb, "memory_save", r#"{"text":"delta epsilon"}"#);
    let out = ok(
        &mut tb,
        "memory_search",
        r#"{"query":"alpha beta gamma","k":1}"#,
    );
    assert!(out.contains("1. [score 1.000] #1"), "{out}");
    let e = err(&mut tb, "memory_save", r#"{"text":"   "}"#);
    assert!(matches!(e, ToolError::InvalidArguments(m) if m.contains("`text`")));
    let e = err(&mut tb, "memory_save", r#"{"text":"?!"}"#);
    assert!(matches!(e, ToolError::InvalidArguments(m) if m.contains("no words")));
}

fn remote(dir: &TempDir, model: &str, dims: usize) -> TestBox {
    let mut p = TestPlatform::new(&dir.ws());
    p.env
        .insert("WASICLAW_EMBEDDING_MODEL".into(), model.into());
    p.env
        .insert("OPENAI_BASE_URL".into(), "http://127.0.0.1:9/v1/".into());
    p.env.insert("OPENAI_API_KEY".into(), "sk-test".into());
    p.responder = Some(Box::new(move |req| {
        let body = wasiclaw_json::parse(&req.body).map_err(|e| e.to_string())?;
        let input = body.get("input").and_then(|v| v.as_str()).unwrap_or("");
        // The local embedder, re-dimensioned, stands in for a real model.
        let v: Vec<String> = local_embed(input)
            .iter()
            .take(dims)
            .map(|x| x.to_string())
            .collect();
        let json = format!(
            r#"{{"object":"list","data":[{{"index":0,"embedding":[{}]}}]}}"#,
            v.join(",")
        );
        Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: json.into_bytes(),
            truncated: false,
        })
    }));
    toolbox_with(p)
}

#[test]
fn remote_embedder_wire_format() {
    let dir = TempDir::new();
    let mut tb = remote(&dir, "text-embedding-3-small", 64);
    ok(
        &mut tb,
        "memory_save",
        r#"{"text":"remote \"quoted\" memory"}"#,
    );
    {
        let reqs = tb.platform.requests.borrow();
        let r = &reqs[0];
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "http://127.0.0.1:9/v1/embeddings");
        assert_eq!(
            r.body,
            r#"{"model":"text-embedding-3-small","input":"remote \"quoted\" memory"}"#
        );
        assert!(r
            .headers
            .contains(&("authorization".into(), "Bearer sk-test".into())));
        assert!(r
            .headers
            .contains(&("content-type".into(), "application/json".into())));
    }
    assert!(read(&dir, META)
        .contains(r#""embedder":"openai:text-embedding-3-small@http://127.0.0.1:9/v1","dims":64"#));
    let out = ok(&mut tb, "memory_search", r#"{"query":"remote memory"}"#);
    assert!(out.contains("#1"), "{out}");
}

#[test]
fn switching_embedders_rebuilds_from_texts() {
    let dir = TempDir::new();
    {
        let mut tb = fresh(&dir);
        ok(
            &mut tb,
            "memory_save",
            r#"{"text":"cats sleep sixteen hours a day"}"#,
        );
        ok(
            &mut tb,
            "memory_save",
            r#"{"text":"the server password rotates monthly"}"#,
        );
    }
    let mut tb = remote(&dir, "model-a", 128);
    let out = ok(
        &mut tb,
        "memory_search",
        r#"{"query":"how long do cats sleep","k":1}"#,
    );
    assert!(
        out.contains("#1")
            && out.contains(
                "[the memory index was rebuilt from the saved texts because the embedder changed]"
            ),
        "{out}"
    );
    assert!(read(&dir, META).contains(r#""dims":128,"count":2"#));
    // Two texts re-embedded plus the query.
    assert_eq!(tb.platform.requests.borrow().len(), 3);

    // Back to local: rebuilt again, nothing lost.
    let mut tb = fresh(&dir);
    let out = ok(
        &mut tb,
        "memory_search",
        r#"{"query":"password rotation","k":1}"#,
    );
    assert!(out.contains("#2") && out.contains("rebuilt"), "{out}");
    assert_eq!(
        read(&dir, META),
        "{\"embedder\":\"local-ngram-v1\",\"dims\":256,\"count\":2}\n"
    );
}

#[test]
fn failed_rebuild_loses_nothing() {
    let dir = TempDir::new();
    {
        let mut tb = fresh(&dir);
        ok(&mut tb, "memory_save", r#"{"text":"keep me safe"}"#);
    }
    let before = read(&dir, ENTRIES);
    let mut p = TestPlatform::new(&dir.ws());
    p.env.insert("WASICLAW_EMBEDDING_MODEL".into(), "m".into());
    p.env
        .insert("OPENAI_BASE_URL".into(), "http://127.0.0.1:9".into());
    let mut tb = toolbox_with(p); // no responder: connection refused
    let e = err(&mut tb, "memory_search", r#"{"query":"safe"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("must be rebuilt") && m.contains("connection refused")),
        "{e:?}"
    );
    let e = err(&mut tb, "memory_save", r#"{"text":"another"}"#);
    assert!(matches!(&e, ToolError::Failed(_)), "{e:?}");
    assert_eq!(read(&dir, ENTRIES), before);
    assert!(read(&dir, META).contains("local-ngram-v1"));
}

#[test]
fn stale_or_corrupt_index_is_rebuilt_and_damaged_texts_refused() {
    let dir = TempDir::new();
    {
        let mut tb = fresh(&dir);
        ok(
            &mut tb,
            "memory_save",
            r#"{"text":"first note about rust"}"#,
        );
        ok(
            &mut tb,
            "memory_save",
            r#"{"text":"second note about wasm"}"#,
        );
    }
    fs::write(dir.ws().join(INDEX), b"garbage").unwrap();
    let mut tb = fresh(&dir);
    let out = ok(&mut tb, "memory_search", r#"{"query":"wasm","k":1}"#);
    assert!(
        out.contains("#2") && out.contains("missing or unreadable"),
        "{out}"
    );

    // A crash after the texts were written but before the index: it lags.
    let entries = read(&dir, ENTRIES);
    write(
        &dir,
        ENTRIES,
        &format!(
            "{entries}{}\n",
            r#"{"id":3,"text":"third note on crashes","tags":[],"saved_at":"x"}"#
        ),
    );
    let mut tb = fresh(&dir);
    let out = ok(&mut tb, "memory_search", r#"{"query":"crashes","k":1}"#);
    assert!(out.contains("#3") && out.contains("out of step"), "{out}");

    write(&dir, ENTRIES, &format!("{entries}{{\"id\":3,\"te\n"));
    let mut tb = fresh(&dir);
    let e = err(&mut tb, "memory_search", r#"{"query":"x"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("line 3 is damaged")),
        "{e:?}"
    );
    let e = err(&mut tb, "memory_save", r#"{"text":"y"}"#);
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("line 3 is damaged")),
        "{e:?}"
    );
    assert!(read(&dir, ENTRIES).ends_with("{\"id\":3,\"te\n"));
}

#[test]
fn a_save_by_another_process_is_not_overwritten() {
    let dir = TempDir::new();
    let mut a = fresh(&dir);
    let mut b = fresh(&dir);
    ok(&mut a, "memory_save", r#"{"text":"first from a"}"#);
    ok(&mut b, "memory_save", r#"{"text":"second from b"}"#);
    // `a` loaded memory before `b` saved; its next save must keep b's entry.
    assert_eq!(
        ok(&mut a, "memory_save", r#"{"text":"third from a"}"#),
        "Saved memory #3"
    );
    let entries = read(&dir, ENTRIES);
    assert_eq!(entries.lines().count(), 3, "{entries}");
    assert!(entries.contains("second from b"));
    let out = ok(
        &mut fresh(&dir),
        "memory_search",
        r#"{"query":"second from b","k":1}"#,
    );
    assert!(out.contains("#2"), "{out}");
}
