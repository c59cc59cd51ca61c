//! The decision on one outgoing request: a provider endpoint (inject its
//! key, meter it), an allowed host (connect to exactly the checked address),
//! or a refusal with the reason the guest's model will read. Names are
//! resolved by the caller's resolver, so either host brings its own (tokio's
//! lookup in the native host, a blocking one in the WAMR runner) and this
//! crate needs no async runtime; a name the operator pinned (`host.resolve`)
//! is not looked up at all, and its addresses may be internal.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use crate::addr::restricted;
use crate::origin::Endpoint;
use crate::policy::Policy;

/// What the policy decided for one request.
#[derive(Debug)]
pub enum Decision<'a> {
    /// A configured provider endpoint: inject its key, meter it. Connect to
    /// its pinned addresses if `decide_all` returned any, else resolve its
    /// name when connecting (the operator configured it; it is not checked).
    Provider(&'a Endpoint),
    /// Allowed; connect to exactly this address, the first that was checked
    /// (`decide` always names one; `None` would mean: resolve at connect time).
    Allowed(Option<SocketAddr>),
    /// Not on the allow list: `HttpRequestDenied` for the guest.
    Denied(String),
    /// Allowed by name but resolving to an internal address:
    /// `DestinationIpProhibited` for the guest.
    Prohibited(String),
    /// The name did not resolve: a DNS error for the guest.
    Unresolvable(String),
}

/// Decides on `scheme://host:port`, resolving names with `resolve`.
pub async fn decide<'a, F, Fut>(
    policy: &'a Policy,
    scheme: &str,
    host: &str,
    port: u16,
    resolve: F,
) -> Decision<'a>
where
    F: FnOnce(String, u16) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    decide_all(policy, scheme, host, port, resolve).await.0
}

/// `decide`, plus every checked address when allowed, or the pinned ones of
/// a provider endpoint: connecting tries them in order, as a connect by name
/// would (`::1`, then `127.0.0.1`).
pub async fn decide_all<'a, F, Fut>(
    policy: &'a Policy,
    scheme: &str,
    host: &str,
    port: u16,
    resolve: F,
) -> (Decision<'a>, Vec<SocketAddr>)
where
    F: FnOnce(String, u16) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    let refuse = |d| (d, Vec::new());
    let pinned = policy.pinned(host, port);
    if let Some(e) = policy.endpoint_for(scheme, host, port) {
        return (Decision::Provider(e), pinned.unwrap_or_default().to_vec());
    }
    let matched = policy.allow_hosts.iter().any(|p| p.matches(host, port));
    let explicit = policy.literal_addresses_may_be_internal
        && policy
            .allow_hosts
            .iter()
            .any(|p| p.matches(host, port) && p.is_explicit_address());
    if !matched {
        return refuse(Decision::Denied(format!(
            "host {host}:{port} is not allowed by the host policy (allow it with host.allow_hosts in wasiclaw.json or --allow-host)"
        )));
    }
    // A pinned name goes where the operator said, internal or not.
    if let Some(addrs) = pinned {
        return (Decision::Allowed(addrs.first().copied()), addrs.to_vec());
    }
    // An explicitly listed address (or localhost) may be internal, but is
    // still resolved here so the connection goes where this answer says.
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match resolve(host.to_string(), port).await {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                let why = format!("{host} did not resolve to any address");
                return refuse(Decision::Unresolvable(why));
            }
            Err(e) => {
                let why = format!("cannot resolve {host}: {e}");
                return refuse(Decision::Unresolvable(why));
            }
        },
    };
    if !explicit {
        for a in &addrs {
            if let Some(kind) = restricted(a.ip()) {
                return refuse(Decision::Prohibited(format!(
                    "{host} resolves to {} ({kind} address), which the host policy refuses; \
                     list the literal address in host.allow_hosts to allow it",
                    a.ip()
                )));
            }
        }
    }
    (Decision::Allowed(addrs.first().copied()), addrs)
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::policy::{HostPattern, Overrides};
    use std::collections::BTreeMap;

    fn policy(allow: &[&str]) -> Policy {
        let env: BTreeMap<String, String> = [(
            "OPENAI_BASE_URL".to_string(),
            "http://127.0.0.1:5000/v1".to_string(),
        )]
        .into_iter()
        .collect();
        let mut p = Policy::load(
            &std::env::temp_dir().join("none"),
            &Overrides::default(),
            &env,
        )
        .unwrap();
        p.allow_hosts = allow
            .iter()
            .map(|h| HostPattern::parse(h).unwrap())
            .collect();
        p
    }

    async fn to(ip: &str) -> std::io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(ip.parse().unwrap(), 80)])
    }

    /// The test resolvers answer at once: one poll finishes the decision.
    fn run<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("a ready resolver left the decision pending"),
        }
    }

    #[test]
    fn decisions() {
        let p = policy(&["*", "127.0.0.1:7000"]);
        assert!(matches!(
            run(decide(&p, "http", "127.0.0.1", 5000, |_, _| to("1.1.1.1"))),
            Decision::Provider(_)
        ));
        // A listed literal address is allowed, and is where we connect.
        match run(decide(&p, "http", "127.0.0.1", 7000, |_, _| to("1.1.1.1"))) {
            Decision::Allowed(Some(a)) => assert_eq!(a.to_string(), "127.0.0.1:7000"),
            d => panic!("{d:?}"),
        }
        // A listed `localhost` is resolved too, and pinned to the answer.
        let p2 = policy(&["localhost:7000"]);
        match run(decide(&p2, "https", "localhost", 7000, |_, _| {
            to("127.0.0.3")
        })) {
            Decision::Allowed(Some(a)) => assert_eq!(a.ip().to_string(), "127.0.0.3"),
            d => panic!("{d:?}"),
        }
        assert!(matches!(
            run(decide(&p, "http", "169.254.169.254", 80, |_, _| to(
                "1.1.1.1"
            ))),
            Decision::Prohibited(_)
        ));
        // A public-looking name that resolves inside is refused.
        match run(decide(&p, "http", "rebind.example", 80, |_, _| {
            to("10.0.0.5")
        })) {
            Decision::Prohibited(why) => assert!(why.contains("10.0.0.5"), "{why}"),
            d => panic!("{d:?}"),
        }
        match run(decide(&p, "http", "example.com", 80, |_, _| {
            to("93.184.216.34")
        })) {
            Decision::Allowed(Some(a)) => assert_eq!(a.ip().to_string(), "93.184.216.34"),
            d => panic!("{d:?}"),
        }
        let p = policy(&[]);
        assert!(matches!(
            run(decide(&p, "https", "example.com", 443, |_, _| to(
                "93.184.216.34"
            ))),
            Decision::Denied(_)
        ));
        // Scheme and port are part of the endpoint's identity.
        assert!(matches!(
            run(decide(&p, "https", "127.0.0.1", 5000, |_, _| to("1.1.1.1"))),
            Decision::Denied(_)
        ));
    }

    #[test]
    fn a_plugin_policy_refuses_literal_internal_addresses() {
        let mut p = policy(&["169.254.169.254", "localhost:7000", "127.0.0.1:7000"]);
        p.literal_addresses_may_be_internal = false;
        for (host, port) in [("169.254.169.254", 80), ("127.0.0.1", 7000)] {
            let d = run(decide(&p, "http", host, port, |_, _| to("1.1.1.1")));
            assert!(matches!(d, Decision::Prohibited(_)), "{host}: {d:?}");
        }
        let d = run(decide(&p, "http", "localhost", 7000, |_, _| {
            to("127.0.0.1")
        }));
        assert!(matches!(d, Decision::Prohibited(_)), "{d:?}");
    }

    #[test]
    fn resolver_failures_are_unresolvable_and_all_answers_are_checked() {
        let p = policy(&["*"]);
        let fail = |_: String, _: u16| async { Err(std::io::Error::other("no such name")) };
        match run(decide(&p, "http", "nowhere.example", 80, fail)) {
            Decision::Unresolvable(why) => assert!(why.contains("no such name"), "{why}"),
            d => panic!("{d:?}"),
        }
        let none = |_: String, _: u16| async { Ok(Vec::new()) };
        assert!(matches!(
            run(decide(&p, "http", "empty.example", 80, none)),
            Decision::Unresolvable(_)
        ));
        // One internal answer among public ones refuses the name.
        let mixed = |_: String, port: u16| async move {
            Ok(["93.184.216.34", "127.0.0.1"]
                .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
                .to_vec())
        };
        let (d, addrs) = run(decide_all(&p, "http", "mixed.example", 80, mixed));
        assert!(matches!(d, Decision::Prohibited(_)), "{d:?}");
        assert!(addrs.is_empty());
    }

    #[test]
    fn pinned_names_go_to_their_pins_without_a_lookup() {
        let mut p = policy(&["*", "pinned.test"]);
        let mut env = BTreeMap::new();
        env.insert(
            "OPENAI_BASE_URL".to_string(),
            "https://api.openai.com:8443/v1".to_string(),
        );
        p.endpoints = Policy::load(
            &std::env::temp_dir().join("none"),
            &Overrides::default(),
            &env,
        )
        .unwrap()
        .endpoints;
        p.resolve = [
            "api.openai.com:8443:127.0.0.1,::1",
            "pinned.test:80:10.1.2.3",
            "denied.test:80:127.0.0.1",
        ]
        .iter()
        .map(|e| crate::resolve::Pin::parse(e).unwrap())
        .collect();
        // A lookup would make the decision `Unresolvable`.
        let never = |h: String, _: u16| async move {
            Err::<Vec<SocketAddr>, _>(std::io::Error::other(format!("{h} was looked up")))
        };
        // A pinned provider endpoint: its addresses, in order, loopback and all.
        let (d, addrs) = run(decide_all(&p, "https", "api.openai.com", 8443, never));
        assert!(matches!(d, Decision::Provider(_)), "{d:?}");
        let want: Vec<SocketAddr> = ["127.0.0.1:8443", "[::1]:8443"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(addrs, want);
        // An allowed name pinned to a private address is the operator's choice.
        let (d, addrs) = run(decide_all(&p, "http", "pinned.test", 80, never));
        match d {
            Decision::Allowed(Some(a)) => assert_eq!(a.to_string(), "10.1.2.3:80"),
            d => panic!("{d:?}"),
        }
        assert_eq!(addrs, vec!["10.1.2.3:80".parse().unwrap()]);
        // The pin is per port: another port of the name resolves and is checked.
        let (d, _) = run(decide_all(&p, "http", "pinned.test", 81, |_, _| {
            to("10.1.2.3")
        }));
        assert!(matches!(d, Decision::Prohibited(_)), "{d:?}");
        // Unpinned providers still resolve at connect time: no addresses here.
        p.resolve.clear();
        let (d, addrs) = run(decide_all(&p, "https", "api.openai.com", 8443, never));
        assert!(matches!(d, Decision::Provider(_)) && addrs.is_empty());
        // A pin grants nothing: a name neither allowed nor a provider is denied.
        let strict = {
            let mut s = policy(&["allowed.test"]);
            s.resolve = vec![crate::resolve::Pin::parse("denied.test:80:127.0.0.1").unwrap()];
            s
        };
        let (d, addrs) = run(decide_all(&strict, "http", "denied.test", 80, never));
        assert!(
            matches!(d, Decision::Denied(_)) && addrs.is_empty(),
            "{d:?}"
        );
    }
}
