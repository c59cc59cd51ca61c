//! The providers' real HTTPS names without the internet: a loopback TLS
//! server with a certificate for `api.openai.com` / `api.anthropic.com` from
//! a throwaway CA (trusted through `host.extra_ca_file`), reached through a
//! resolve pin (`host.resolve` / `--resolve NAME:PORT:127.0.0.1`), relaying
//! in plain to the mock provider. The base URL is the real name on the test
//! server's port; `wasiclaw-wamr` and `wasiclaw run` must complete turns
//! there, verify the certificate for the name, and refuse one that is for
//! another name or from a CA they do not trust.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::PrivateKeyDer;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use wasiclaw_tests::{MockServer, Script};

use crate::harness::*;

/// A TLS server on 127.0.0.1 with a certificate for one name, from its own
/// CA, relaying each connection in plain to a backend port on 127.0.0.1.
struct Front {
    port: u16,
    dir: PathBuf,
    /// The server name each completed handshake asked for.
    sni: Arc<Mutex<Vec<Option<String>>>>,
    _rt: tokio::runtime::Runtime,
}

impl Front {
    fn start(name: &str, backend: u16) -> Front {
        Front::start_at("127.0.0.1:0", name, backend)
    }

    /// On the real HTTPS port of a loopback address of its own (binding
    /// port 443 needs root, as CI and this project's machines run), so the
    /// provider's default base URL, port and all, is the one reached.
    fn on_443(name: &str, backend: u16) -> (Front, String) {
        static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(10);
        let last = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ip = format!("127.44.{}.{last}", std::process::id() % 250);
        (Front::start_at(&format!("{ip}:443"), name, backend), ip)
    }

    fn start_at(bind: &str, name: &str, backend: u16) -> Front {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tls-front-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(TcpListener::bind(bind))
            .unwrap_or_else(|e| panic!("cannot listen on {bind} (port 443 needs root): {e}"));
        let port = listener.local_addr().unwrap().port();
        let sni = Arc::new(Mutex::new(Vec::new()));
        let log = sni.clone();
        rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, log) = (acceptor.clone(), log.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends it here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let name = tls.get_ref().1.server_name().map(str::to_string);
                    log.lock().unwrap().push(name);
                    let to = SocketAddr::from(([127, 0, 0, 1], backend));
                    if let Ok(mut plain) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        Front {
            port,
            dir,
            sni,
            _rt: rt,
        }
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn sni(&self) -> Vec<Option<String>> {
        self.sni.lock().unwrap().clone()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    OpenAi,
    Anthropic,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::OpenAi => "api.openai.com",
            Api::Anthropic => "api.anthropic.com",
        }
    }
}

/// An agent for `api` at its real name on `port`, with `wasiclaw.json`
/// giving `policy` as the host section; only the key is in the environment
/// besides the base URL (and the provider choice for Anthropic).
fn agent(runner: Runner, ws: &Workspace, api: Api, port: u16, policy: serde_json::Value) -> Agent {
    ws.write("wasiclaw.json", &json!({ "host": policy }).to_string());
    let host = api.name();
    match api {
        Api::OpenAi => Agent::on(runner, ws).openai_at(&format!("https://{host}:{port}/v1")),
        Api::Anthropic => Agent::on(runner, ws)
            .env("ANTHROPIC_BASE_URL", &format!("https://{host}:{port}"))
            .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
            .env("WASICLAW_PROVIDER", "anthropic"),
    }
}

fn pin(api: Api, port: u16) -> String {
    format!("{}:{port}:127.0.0.1", api.name())
}

fn ca_path(front: &Front) -> String {
    front.ca().display().to_string()
}

/// One turn through the pinned name: the reply arrives, the provider saw the
/// host's key and its own name in `Host`, and TLS was for that name. The pin
/// comes from the policy file, or from `--resolve` when `flag`.
fn pinned_turn(runner: Runner, api: Api, stream: bool, flag: bool) {
    let ws = Workspace::new();
    let reply = format!("Hello over TLS from {}.", api.name());
    let server = MockServer::start(Script::new().text(&reply));
    let front = Front::start(api.name(), server.port());
    let pins = if flag {
        json!([])
    } else {
        json!([pin(api, front.port)])
    };
    let mut a = agent(
        runner,
        &ws,
        api,
        front.port,
        json!({"extra_ca_file": ca_path(&front), "resolve": pins}),
    );
    if flag {
        a = a.arg("--resolve").arg(&pin(api, front.port));
    }
    if !stream {
        a = a.no_stream();
    }
    let out = a.run("Say hello");
    out.assert_success(&server);
    assert_eq!(out.reply(), reply, "{out}");
    let authority = format!("{}:{}", api.name(), front.port);
    assert_keyed_turn(&server, &front, api, stream, &authority);
    // Metering read the decrypted reply.
    let usage = usage_lines(&ws);
    assert_eq!(usage.len(), 1, "{usage:?}");
    let provider = if api == Api::OpenAi {
        "openai"
    } else {
        "anthropic"
    };
    assert_eq!(usage[0]["provider"], provider, "{usage:?}");
    assert!(
        usage[0]["output_tokens"].as_u64().unwrap_or(0) > 0,
        "{usage:?}"
    );
}

/// The one chat request of a turn reached the provider through `front`
/// under the API's name (SNI, and `host` as `authority`), keyed by the host.
fn assert_keyed_turn(server: &MockServer, front: &Front, api: Api, stream: bool, authority: &str) {
    let reqs = chats(server);
    assert_eq!(reqs.len(), 1, "{}", dump(server));
    assert_eq!(reqs[0].stream(), stream);
    assert_eq!(reqs[0].header("host"), Some(authority));
    match api {
        Api::OpenAi => assert_eq!(
            reqs[0].header("authorization"),
            Some(&*format!("Bearer {OPENAI_KEY}"))
        ),
        Api::Anthropic => assert_eq!(reqs[0].header("x-api-key"), Some(ANTHROPIC_KEY)),
    }
    assert_eq!(front.sni(), vec![Some(api.name().to_string())]);
}

#[test]
fn wamr_openai_streamed_over_tls_to_the_pinned_default_name() {
    pinned_turn(Runner::Wamr, Api::OpenAi, true, false);
}

#[test]
fn wamr_openai_non_streamed_over_tls_pinned_by_flag() {
    pinned_turn(Runner::Wamr, Api::OpenAi, false, true);
}

#[test]
fn wamr_anthropic_streamed_over_tls_to_the_pinned_default_name() {
    pinned_turn(Runner::Wamr, Api::Anthropic, true, false);
}

#[test]
fn wamr_anthropic_non_streamed_over_tls_to_the_pinned_default_name() {
    pinned_turn(Runner::Wamr, Api::Anthropic, false, false);
}

#[test]
fn wasiclaw_run_streams_over_tls_to_the_pinned_default_name() {
    pinned_turn(Runner::Wasiclaw, Api::OpenAi, true, true);
}

/// A turn that must fail at the TLS handshake, before the provider sees a
/// byte: returns the runner's output.
fn refused(cert_name: &str, trust_ca: bool) -> Output {
    let ws = Workspace::new();
    let server = MockServer::start(Script::new().text("never sent"));
    let front = Front::start(cert_name, server.port());
    let mut policy = json!({"resolve": [pin(Api::OpenAi, front.port)]});
    if trust_ca {
        policy["extra_ca_file"] = json!(ca_path(&front));
    }
    let out = agent(Runner::Wamr, &ws, Api::OpenAi, front.port, policy)
        .no_stream()
        .run("hi");
    out.assert_runtime_error();
    assert!(
        server.requests().is_empty(),
        "a request got through: {}",
        dump(&server)
    );
    assert!(front.sni().is_empty(), "{:?}", front.sni());
    assert!(
        out.stderr
            .contains("TLS handshake with api.openai.com: invalid peer certificate"),
        "{out}"
    );
    out
}

#[test]
fn wamr_refuses_a_certificate_for_another_name() {
    let out = refused("other.example", true);
    assert!(out.stderr.contains("not valid for name"), "{out}");
}

#[test]
fn wamr_refuses_a_certificate_from_an_untrusted_ca() {
    let out = refused("api.openai.com", false);
    assert!(out.stderr.contains("UnknownIssuer"), "{out}");
    assert!(out.stderr.contains("host.extra_ca_file"), "{out}");
}

/// The watchdog shuts the socket under a TLS stream too: a provider that
/// stalls after the handshake ends the turn at the time limit.
#[test]
fn wamr_time_limit_ends_a_stalled_tls_exchange() {
    let ws = Workspace::new();
    let server = MockServer::bind(0, Arc::new(Stall { trigger: "" })).expect("bind mock");
    let front = Front::start("api.openai.com", server.port());
    let policy =
        json!({"extra_ca_file": ca_path(&front), "resolve": [pin(Api::OpenAi, front.port)]});
    let out = agent(Runner::Wamr, &ws, Api::OpenAi, front.port, policy)
        .arg("--timeout-secs")
        .arg("2")
        .run("hi");
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("time limit of 2 s"), "{out}");
    assert_eq!(
        front.sni().len(),
        1,
        "the handshake did not complete\n{out}"
    );
    assert!(out.elapsed < Duration::from_secs(15), "{out}");
}

/// The response limit counts decrypted body bytes, streamed or not (the
/// runner holds request bodies to it too: the limit leaves room for one).
#[test]
fn wamr_response_limit_cuts_a_tls_reply() {
    let big = "lorem ipsum ".repeat(4000);
    for stream in [false, true] {
        let ws = Workspace::new();
        let server = MockServer::start(Script::new().text(&big).text(&big));
        let front = Front::start("api.openai.com", server.port());
        let policy = json!({
            "extra_ca_file": ca_path(&front),
            "resolve": [pin(Api::OpenAi, front.port)],
            "max_response_bytes": 20000,
        });
        let mut a = agent(Runner::Wamr, &ws, Api::OpenAi, front.port, policy);
        if !stream {
            a = a.no_stream();
        }
        let out = a.run("hi");
        assert_eq!(out.code, Some(1), "{out}");
        assert!(out.stderr.contains("limit of 20000 bytes"), "{out}");
        assert_eq!(server.chat_requests().len(), 1, "{out}");
        assert_eq!(front.sni().len(), 1, "{out}");
    }
}

/// A pin is the operator's explicit choice, so a pinned name may go to
/// loopback; the same allow list (`*`) still refuses a name that merely
/// resolves there.
#[test]
fn wamr_a_pinned_name_may_be_loopback_an_unpinned_one_may_not() {
    let ws = Workspace::new();
    let page = MockServer::start(Script::new());
    let server = MockServer::start(
        Script::new()
            .tool(
                "web_fetch",
                json!({"url": format!("http://localhost:{}/", page.port())}),
            )
            .tool(
                "web_fetch",
                json!({"url": format!("http://pinned.test:{}/page", page.port())}),
            )
            .text("Done."),
    );
    let out = Agent::on(Runner::Wamr, &ws)
        .openai(&server)
        .arg("--allow-host")
        .arg("*")
        .arg("--resolve")
        .arg(&format!("pinned.test:{}:127.0.0.1", page.port()))
        .run("Fetch both");
    out.assert_success(&server);
    let reqs = chats(&server);
    assert_eq!(reqs.len(), 3, "{}", dump(&server));
    let (first, err) = result_for(&reqs[1], &reqs[0].tool_call_ids[0]);
    assert!(is_tool_error(&first, err), "{first}");
    assert!(first.contains("loopback"), "{first}");
    let fetched = page.requests();
    assert_eq!(fetched.len(), 1, "the pinned name was not reached\n{out}");
    let authority = format!("pinned.test:{}", page.port());
    assert_eq!(fetched[0].header("host"), Some(authority.as_str()));
}

// The default base URLs themselves, with only the key in the host's
// environment: `https://api.openai.com/v1` and `https://api.anthropic.com`,
// port 443, reached through a pin to a loopback stand-in.
under_each!(
    [wasiclaw_run = super::Runner::Wasiclaw, wamr_run = super::Runner::Wamr];
    default_openai_url_streamed,
    default_openai_url_not_streamed,
    default_anthropic_url_streamed,
    default_anthropic_url_not_streamed,
);

fn default_openai_url_streamed(runner: Runner) {
    default_url_turn(runner, Api::OpenAi, true)
}

fn default_openai_url_not_streamed(runner: Runner) {
    default_url_turn(runner, Api::OpenAi, false)
}

fn default_anthropic_url_streamed(runner: Runner) {
    default_url_turn(runner, Api::Anthropic, true)
}

fn default_anthropic_url_not_streamed(runner: Runner) {
    default_url_turn(runner, Api::Anthropic, false)
}

/// A turn with nothing configured but the provider's key in the host's
/// environment (and, in the workspace's policy, the stand-in's CA and pin):
/// the guest, which holds no key, uses the default URL because the host says
/// it adds the key, and the host adds it.
fn default_url_turn(runner: Runner, api: Api, stream: bool) {
    let ws = Workspace::new();
    let reply = format!("Hello from the default {} URL.", api.name());
    let server = MockServer::start(Script::new().text(&reply));
    let (front, ip) = Front::on_443(api.name(), server.port());
    let policy = json!({"host": {
        "extra_ca_file": ca_path(&front),
        "resolve": [format!("{}:443:{ip}", api.name())],
    }});
    ws.write("wasiclaw.json", &policy.to_string());
    let mut a = match api {
        Api::OpenAi => Agent::on(runner, &ws).env("OPENAI_API_KEY", OPENAI_KEY),
        Api::Anthropic => Agent::on(runner, &ws).env("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
    };
    if !stream {
        a = a.no_stream();
    }
    let out = a.run("Say hello");
    out.assert_success(&server);
    assert_eq!(out.reply(), reply, "{out}");
    assert_keyed_turn(&server, &front, api, stream, api.name());
    let path = match api {
        Api::OpenAi => "/v1/chat/completions",
        Api::Anthropic => "/v1/messages",
    };
    assert_eq!(chats(&server)[0].path, path);
    assert_eq!(usage_lines(&ws).len(), 1);
    let session = ws
        .read("sessions/default.jsonl")
        .expect("the turn was saved");
    assert!(!session.contains(OPENAI_KEY) && !session.contains(ANTHROPIC_KEY));
}
