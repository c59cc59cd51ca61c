//! Native tests of the seams: a scripted fake of the `wasiclaw_http` import
//! and a temp-dir workspace.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use wasiclaw_agent::http::{Http, HttpError, Request, Timeouts};
use wasiclaw_tools::platform::{
    FsError, HttpRequest, Kind, Method, Platform, Url, VectorIndex, Vectors,
};

use crate::abi::{code, HttpImport};
use crate::agent_http::ImportHttp;
use crate::platform::StdPlatform;
use crate::vectors::LinkedVectors;

/// What `request` was given: method, URL, header lines, body, timeout.
type Sent = (String, String, String, Vec<u8>, u32);

/// One scripted response, or an error code for `request` with its reason.
#[derive(Default)]
struct Fake {
    fail: Option<(i32, &'static str)>,
    status: i32,
    headers: &'static str,
    /// What each `read` returns, in order (then 0).
    chunks: RefCell<Vec<Vec<u8>>>,
    sent: RefCell<Vec<Sent>>,
    closed: RefCell<Vec<i32>>,
    last: RefCell<String>,
}

impl HttpImport for Fake {
    fn request(&self, m: &str, u: &str, h: &str, b: &[u8], t: u32) -> i32 {
        self.sent
            .borrow_mut()
            .push((m.into(), u.into(), h.into(), b.to_vec(), t));
        match self.fail {
            Some((c, why)) => {
                *self.last.borrow_mut() = why.into();
                c
            }
            None => 7,
        }
    }
    fn status(&self, h: i32) -> i32 {
        assert_eq!(h, 7);
        self.status
    }
    fn headers(&self, _: i32, buf: &mut [u8]) -> i32 {
        let t = self.headers.as_bytes();
        if t.len() <= buf.len() {
            buf[..t.len()].copy_from_slice(t);
        }
        t.len() as i32
    }
    fn read(&self, _: i32, buf: &mut [u8]) -> i32 {
        let mut c = self.chunks.borrow_mut();
        if c.is_empty() {
            return 0;
        }
        let mut chunk = c.remove(0);
        if chunk.len() > buf.len() {
            let rest = chunk.split_off(buf.len());
            c.insert(0, rest);
        }
        buf[..chunk.len()].copy_from_slice(&chunk);
        chunk.len() as i32
    }
    fn close(&self, h: i32) {
        self.closed.borrow_mut().push(h);
    }
    fn last_error(&self, buf: &mut [u8]) -> i32 {
        let t = self.last.borrow();
        if t.len() <= buf.len() {
            buf[..t.len()].copy_from_slice(t.as_bytes());
        }
        t.len() as i32
    }
}

fn ok(status: i32, headers: &'static str, chunks: &[&[u8]]) -> Rc<Fake> {
    Rc::new(Fake {
        status,
        headers,
        chunks: RefCell::new(chunks.iter().map(|c| c.to_vec()).collect()),
        ..Fake::default()
    })
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(90),
        between_bytes: Duration::from_secs(20),
    }
}

#[test]
fn agent_request_is_encoded_and_body_streams_in_chunks() {
    let fake = ok(
        200,
        "Content-Type: text/event-stream\nx-a: 1\n",
        &[b"data: 1\n\n", b"data: 2\n\n"],
    );
    let mut http = ImportHttp::new(fake.clone());
    let req = Request {
        url: "http://127.0.0.1:9/v1/chat/completions".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{}".to_vec(),
    };
    let mut resp = http.send(&req, timeouts()).expect("response");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        resp.body.next_chunk().unwrap().as_deref(),
        Some(&b"data: 1\n\n"[..])
    );
    assert_eq!(
        resp.body.next_chunk().unwrap().as_deref(),
        Some(&b"data: 2\n\n"[..])
    );
    assert_eq!(resp.body.next_chunk().unwrap(), None);
    let sent = fake.sent.borrow();
    let (m, u, h, b, t) = &sent[0];
    assert_eq!(
        (m.as_str(), u.as_str()),
        ("POST", "http://127.0.0.1:9/v1/chat/completions")
    );
    assert_eq!(h, "content-type: application/json\n");
    assert_eq!(b, b"{}");
    assert_eq!(*t, 90_000, "the longest of the agent's timeouts");
    drop(sent);
    drop(resp);
    assert_eq!(
        *fake.closed.borrow(),
        vec![7],
        "handle closed with the body"
    );
}

#[test]
fn import_errors_map_to_agent_errors_with_the_host_reason() {
    for (c, want) in [
        (code::CONNECT, HttpError::Connect("refused".into())),
        (code::TIMEOUT, HttpError::Timeout("refused".into())),
        (code::DENIED, HttpError::Other("refused".into())),
    ] {
        let fake = Rc::new(Fake {
            fail: Some((c, "refused")),
            ..Fake::default()
        });
        let mut http = ImportHttp::new(fake);
        let req = Request {
            url: "http://x/".into(),
            headers: vec![],
            body: vec![],
        };
        assert_eq!(http.send(&req, timeouts()).err(), Some(want));
    }
}

#[test]
fn header_injection_is_refused_before_the_host_sees_it() {
    let fake = ok(200, "", &[]);
    let mut http = ImportHttp::new(fake.clone());
    let req = Request {
        url: "http://x/".into(),
        headers: vec![("x".into(), "a\r\nauthorization: b".into())],
        body: vec![],
    };
    assert!(matches!(
        http.send(&req, timeouts()),
        Err(HttpError::Other(_))
    ));
    assert!(fake.sent.borrow().is_empty());
}

#[test]
fn bad_status_from_host_is_an_error_and_closes_the_handle() {
    let fake = ok(0, "", &[]);
    let mut http = ImportHttp::new(fake.clone());
    let req = Request {
        url: "http://x/".into(),
        headers: vec![],
        body: vec![],
    };
    assert!(http.send(&req, timeouts()).is_err());
    assert_eq!(*fake.closed.borrow(), vec![7]);
}

fn temp_ws(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wasiclaw-p1-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn platform_files_round_trip() {
    let dir = temp_ws("files");
    let p = StdPlatform::new(&dir, "/workspace", ok(200, "", &[]));
    assert_eq!(p.workspace_mount(), "/workspace");
    p.mkdir("notes").unwrap();
    assert_eq!(p.mkdir("notes"), Err(FsError::AlreadyExists));
    p.write("notes/a.txt", b"hello world").unwrap();
    assert_eq!(p.read_at("notes/a.txt", 6, 100).unwrap(), b"world");
    assert_eq!(p.read_at("notes/a.txt", 0, 5).unwrap(), b"hello");
    assert_eq!(p.read_at("notes", 0, 5), Err(FsError::IsDirectory));
    assert_eq!(p.stat("notes/a.txt").unwrap().size, 11);
    assert_eq!(p.stat("").unwrap().kind, Kind::Dir);
    p.rename("notes/a.txt", "notes/b.txt").unwrap();
    let names: Vec<_> = p
        .list("notes")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, vec!["b.txt"]);
    assert_eq!(p.read_at("notes/a.txt", 0, 1), Err(FsError::NotFound));
    p.remove("notes/b.txt").unwrap();
    p.remove("notes").unwrap();
    assert_eq!(p.stat("notes"), Err(FsError::NotFound));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn platform_http_truncates_at_max_body_and_reports_it() {
    let fake = ok(200, "content-type: text/plain\n", &[b"abcdef", b"ghij"]);
    let p = StdPlatform::new(std::env::temp_dir(), "/workspace", fake.clone());
    let url = Url {
        https: false,
        authority: "127.0.0.1:1".into(),
        path_query: "/p?q".into(),
    };
    let req = HttpRequest {
        method: Method::Get,
        url: &url,
        headers: &[("accept", "*/*")],
        body: b"",
        max_body: 8,
    };
    let r = p.http(&req).unwrap();
    assert_eq!(
        (r.status, r.body.as_slice(), r.truncated),
        (200, &b"abcdefgh"[..], true)
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(fake.sent.borrow()[0].1, "http://127.0.0.1:1/p?q");

    let fake = ok(404, "", &[b"gone"]);
    let p = StdPlatform::new(std::env::temp_dir(), "/workspace", fake);
    let r = p.http(&HttpRequest { max_body: 4, ..req }).unwrap();
    assert_eq!(
        (r.status, r.body.as_slice(), r.truncated),
        (404, &b"gone"[..], false)
    );
}

#[test]
fn platform_http_error_carries_the_host_reason() {
    let fake = Rc::new(Fake {
        fail: Some((code::DENIED, "denied: 10.0.0.1 is private")),
        ..Fake::default()
    });
    let p = StdPlatform::new(std::env::temp_dir(), "/workspace", fake);
    let url = Url {
        https: false,
        authority: "10.0.0.1".into(),
        path_query: "/".into(),
    };
    let req = HttpRequest {
        method: Method::Get,
        url: &url,
        headers: &[],
        body: b"",
        max_body: 10,
    };
    assert_eq!(
        p.http(&req).err().as_deref(),
        Some("denied: 10.0.0.1 is private")
    );
}

#[test]
fn linked_vectors_search_and_survive_save_load() {
    let v = LinkedVectors;
    let mut idx = v.create(3);
    idx.insert(1, &[1.0, 0.0, 0.0]).unwrap();
    idx.insert(2, &[0.0, 1.0, 0.0]).unwrap();
    assert!(idx.insert(3, &[1.0]).is_err(), "dimension mismatch");
    let hits = idx.search(&[0.9, 0.1, 0.0], 1, 10).unwrap();
    assert_eq!(hits[0].0, 1);
    let mut back = v.load(&idx.save()).unwrap();
    assert_eq!(back.count(), 2);
    assert_eq!(back.search(&[0.0, 1.0, 0.0], 1, 10).unwrap()[0].0, 2);
    assert!(v.load(b"garbage").is_err());
}

/// One preview-1 dirent: the 24-byte head, then the name.
fn dirent(next: u64, name: &str, filetype: u8) -> Vec<u8> {
    let mut b = next.to_le_bytes().to_vec();
    b.extend(7u64.to_le_bytes());
    b.extend((name.len() as u32).to_le_bytes());
    b.extend([filetype, 0, 0, 0]);
    b.extend(name.as_bytes());
    b
}

#[test]
fn dirents_are_read_whole_and_a_cut_one_is_left_for_the_next_read() {
    let mut buf = dirent(1, ".", 3);
    buf.extend(dirent(2, "..", 3));
    buf.extend(dirent(3, "a.txt", 4));
    buf.extend(dirent(4, "sub", 3));
    buf.extend(dirent(5, "link", 7));
    buf.extend(dirent(6, "pipe", 6));
    let whole = buf.len();
    buf.extend(&dirent(7, "cut-off-name", 4)[..30]);
    for cut in [whole, whole + 10, buf.len()] {
        let mut out = Vec::new();
        assert_eq!(crate::dirent::parse(&buf[..cut], &mut out), Some(6));
        let got: Vec<(&str, Kind)> = out.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            got,
            [
                ("a.txt", Kind::File),
                ("sub", Kind::Dir),
                ("link", Kind::Symlink),
                ("pipe", Kind::Other)
            ]
        );
    }
    let mut out = Vec::new();
    assert_eq!(
        crate::dirent::parse(&dirent(9, "long", 4)[..26], &mut out),
        None
    );
    assert_eq!(crate::dirent::parse(&[], &mut out), None);
    assert!(out.is_empty());
}

#[test]
fn env_finds_the_first_entry_of_exactly_that_name() {
    let env = crate::env::Env::new(
        ["A=1", "AB=2", "B==x", "A=3", "C", "E="]
            .map(String::from)
            .to_vec(),
    );
    assert_eq!(env.get("A").as_deref(), Some("1"));
    assert_eq!(env.get("AB").as_deref(), Some("2"));
    assert_eq!(env.get("B").as_deref(), Some("=x"));
    assert_eq!(env.get("E").as_deref(), Some(""));
    assert_eq!(env.get("C"), None);
    assert_eq!(env.get("D"), None);
}

#[test]
fn a_refused_header_is_named_with_its_control_characters_escaped() {
    let mut http = ImportHttp::new(ok(200, "", &[]));
    let req = Request {
        url: "http://x/".into(),
        headers: vec![("x\r\ny".into(), "v".into())],
        body: vec![],
    };
    assert_eq!(
        http.send(&req, timeouts()).err(),
        Some(HttpError::Other("invalid header \"x\\r\\ny\"".into()))
    );
}
