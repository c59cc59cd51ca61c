//! Which destination addresses are "internal": the ones a prompt-injected
//! guest must not reach (SSRF) unless the operator named them explicitly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is restricted, for the refusal message; `None` if public.
pub fn restricted(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return restricted_v4(v4);
            }
            restricted_v6(v6)
        }
    }
}

fn restricted_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("cloud metadata")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("carrier-grade NAT")
    } else if ip.is_broadcast() || ip.is_multicast() || o[0] >= 240 {
        Some("broadcast, multicast or reserved")
    } else {
        None
    }
}

fn restricted_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg0 = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if (seg0 & 0xfe00) == 0xfc00 {
        Some("private (unique local)")
    } else if (seg0 & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        Some("cloud metadata")
    } else if let Some(v4) = ip.to_ipv4() {
        // IPv4-compatible (::a.b.c.d) and NAT64-free embeddings of v4.
        if seg0 == 0 {
            restricted_v4(v4)
        } else {
            None
        }
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Option<&'static str> {
        restricted(s.parse().unwrap())
    }

    #[test]
    fn classifies() {
        assert_eq!(r("169.254.169.254"), Some("cloud metadata"));
        assert_eq!(r("127.0.0.1"), Some("loopback"));
        assert_eq!(r("10.1.2.3"), Some("private"));
        assert_eq!(r("172.16.0.1"), Some("private"));
        assert_eq!(r("192.168.1.1"), Some("private"));
        assert_eq!(r("169.254.1.1"), Some("link-local"));
        assert_eq!(r("100.64.0.1"), Some("carrier-grade NAT"));
        assert_eq!(r("0.0.0.0"), Some("unspecified"));
        assert_eq!(r("::1"), Some("loopback"));
        assert_eq!(r("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(r("::ffff:169.254.169.254"), Some("cloud metadata"));
        assert_eq!(r("fe80::1"), Some("link-local"));
        assert_eq!(r("fd12::1"), Some("private (unique local)"));
        assert_eq!(r("93.184.216.34"), None);
        assert_eq!(r("2606:2800:220:1::1"), None);
        assert_eq!(r("172.32.0.1"), None);
    }
}
