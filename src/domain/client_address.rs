//! Which address a request comes from, for the per-address throttles and
//! the logs: the connection's peer, or, behind reverse proxies
//! (`sign_in.client_address_header`), the address they pass on.
//!
//! A proxy appends the address it received the request from to
//! `X-Forwarded-For`, so only the values on the right were written by proxies
//! Portti trusts; anything to their left came from the client and may be
//! made up. So the chain is read from the right, past the trusted proxies
//! (`sign_in.trusted_proxies`), and the first other address is the client's.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv6Net};
use serde::Deserialize;

/// The most values of a forwarding header that are read; a longer chain is
/// not one a real deployment writes, and is not believed.
const MAX_HOPS: usize = 16;

/// A client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(IpAddr);

impl ClientAddress {
    /// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack
    /// socket reports an IPv4 peer) is taken as the IPv4 address it is.
    pub fn new(ip: IpAddr) -> Self {
        Self(ip.to_canonical())
    }

    pub fn ip(&self) -> IpAddr {
        self.0
    }

    /// What the per-address throttles count under: an IPv4 address as is;
    /// an IPv6 address by its /64 prefix (`2001:db8:1:2::/64`), since one
    /// subscriber is usually given a whole /64 and can pick any address in it.
    pub fn throttle_key(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                Ipv6Net::new(v6, 64).map(|net| net.trunc().to_string()).unwrap_or_else(|_| v6.to_string())
            }
        }
    }
}

/// The full address, for logs.
impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A proxy Portti trusts to pass on the client's address: one address
/// (`10.0.0.2`, `::1`) or a network in CIDR notation (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TrustedProxy(IpNet);

impl TrustedProxy {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, String> {
        let input = input.trim();
        let net = match input.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => input
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| format!("`{input}` is neither an IP address nor a network like 10.0.0.0/8 or fd00::/8"))?,
        };
        Ok(Self(net))
    }
}

impl TryFrom<String> for TrustedProxy {
    type Error = String;

    fn try_from(input: String) -> Result<Self, String> {
        input.parse()
    }
}

fn is_trusted(ip: IpAddr, trusted: &[TrustedProxy]) -> bool {
    trusted.iter().any(|proxy| proxy.contains(ip))
}

/// The client's address of a request that came from `peer` with `forwarded`
/// (the value of the configured header, when it is configured and present).
///
/// The header is read from the right, as the proxies appended to it: the
/// client's address is the rightmost value that is not a trusted proxy (the
/// last proxy's, if [`MAX_HOPS`] values are all proxies). Values to its left
/// are whatever the client sent and are never read, so a client cannot make
/// its own address unusable with garbage there; a value to its right that is
/// not an IP address (spaces around one are allowed) makes the header
/// unbelievable, and the peer's own address counts. When `trusted` lists
/// proxies, the header is believed only from a peer among them; without a
/// list the peer is the one proxy, and the rightmost value, the one it
/// wrote, is the client's.
pub fn client_address(
    forwarded: Option<&str>,
    peer: Option<IpAddr>,
    trusted: &[TrustedProxy],
) -> Option<ClientAddress> {
    let peer_is_trusted = trusted.is_empty() || peer.is_some_and(|peer| is_trusted(peer, trusted));
    let from_header = forwarded.filter(|_| peer_is_trusted).and_then(|header| client_in_chain(header, trusted));
    from_header.or(peer).map(ClientAddress::new)
}

/// The client's address in a forwarding header, read from the right.
fn client_in_chain(header: &str, trusted: &[TrustedProxy]) -> Option<IpAddr> {
    let mut last_proxy = None;
    for value in header.rsplit(',').take(MAX_HOPS) {
        let Ok(ip) = value.trim().parse::<IpAddr>() else { return None };
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
        last_proxy = Some(ip);
    }
    last_proxy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    fn chosen(header: Option<&str>, peer: &str, trusted: &[&str]) -> Option<String> {
        client_address(header, Some(ip(peer)), &proxies(trusted)).map(|a| a.to_string())
    }

    #[test]
    fn proxies_are_addresses_or_networks() {
        let lan: TrustedProxy = "10.0.0.0/8".parse().unwrap();
        assert!(lan.contains(ip("10.200.3.4")) && !lan.contains(ip("11.0.0.1")));
        let one: TrustedProxy = " ::1 ".parse().unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        let v6: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12:3456::1")) && !v6.contains(ip("fe80::1")));
        let host: TrustedProxy = "192.0.2.7".parse().unwrap();
        assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
        assert!(host.contains(ip("::ffff:192.0.2.7")), "as a dual-stack socket reports it");
        for bad in ["", "10.0.0.0/33", "10.0.0", "proxy.internal", "10.0.0.0/8,10.1.0.0/16", "::1/129"] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn without_the_header_the_peer_counts() {
        assert_eq!(chosen(None, "198.51.100.9", &[]), Some("198.51.100.9".into()));
        assert_eq!(chosen(None, "10.0.0.2", &["10.0.0.0/8"]), Some("10.0.0.2".into()));
        assert_eq!(client_address(None, None, &[]), None);
    }

    #[test]
    fn the_rightmost_address_that_is_not_a_trusted_proxy_is_the_clients() {
        let trusted = ["10.0.0.0/8", "2001:db8:ffff::/48"];
        let header = "203.0.113.66, 198.51.100.7, 10.1.1.1, 10.2.2.2";
        assert_eq!(chosen(Some(header), "10.0.0.2", &trusted), Some("198.51.100.7".into()), "not the spoofable left");
        assert_eq!(chosen(Some("2001:db8:1::5, 2001:db8:ffff::1"), "10.0.0.2", &trusted), Some("2001:db8:1::5".into()));
        assert_eq!(chosen(Some("10.9.9.9, 10.1.1.1"), "10.0.0.2", &trusted), Some("10.9.9.9".into()), "all proxies");
        // Without a list, the one proxy (the peer) wrote the rightmost value.
        assert_eq!(chosen(Some("203.0.113.66, 198.51.100.7"), "10.0.0.2", &[]), Some("198.51.100.7".into()));
        assert_eq!(chosen(Some("198.51.100.7"), "127.0.0.1", &[]), Some("198.51.100.7".into()), "X-Real-IP");
    }

    #[test]
    fn spaces_are_allowed_and_garbage_is_not_believed() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(chosen(Some("  198.51.100.7 ,10.1.1.1  "), "10.0.0.2", &trusted), Some("198.51.100.7".into()));
        // Garbage where the proxies write (right of the client) is not believed.
        for garbage in ["", " ", "unknown", "198.51.100.7, unknown", "198.51.100.7,,10.1.1.1", "198.51.100.7:443"] {
            assert_eq!(chosen(Some(garbage), "10.0.0.2", &trusted), Some("10.0.0.2".into()), "{garbage:?}");
        }
        // What the client wrote itself (left of its address) is never read.
        for spoofed in [
            "unknown, 198.51.100.7, 10.1.1.1",
            "<script>, 198.51.100.7",
            "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q, 198.51.100.7",
        ] {
            assert_eq!(chosen(Some(spoofed), "10.0.0.2", &trusted), Some("198.51.100.7".into()), "{spoofed:?}");
        }
        let proxies_only = vec!["10.1.1.1"; MAX_HOPS + 3].join(",");
        assert_eq!(chosen(Some(&proxies_only), "10.0.0.2", &trusted), Some("10.1.1.1".into()), "all proxies");
    }

    #[test]
    fn with_a_list_the_header_is_believed_only_from_a_trusted_peer() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(chosen(Some("198.51.100.7"), "203.0.113.5", &trusted), Some("203.0.113.5".into()));
        assert_eq!(chosen(Some("198.51.100.7"), "::ffff:10.0.0.2", &trusted), Some("198.51.100.7".into()));
    }

    #[test]
    fn ipv6_is_throttled_by_its_64_and_ipv4_by_itself() {
        let a = ClientAddress::new(ip("2001:db8:1:2:aaaa::1"));
        let b = ClientAddress::new(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let c = ClientAddress::new(ip("2001:db8:1:3::1"));
        assert_eq!(a.throttle_key(), "2001:db8:1:2::/64");
        assert_eq!(a.throttle_key(), b.throttle_key());
        assert_ne!(a.throttle_key(), c.throttle_key());
        assert_eq!(a.to_string(), "2001:db8:1:2:aaaa::1", "the log shows the whole address");
        assert_eq!(ClientAddress::new(ip("192.0.2.1")).throttle_key(), "192.0.2.1");
        let mapped = ClientAddress::new(ip("::ffff:192.0.2.1"));
        assert_eq!((mapped.throttle_key(), mapped.to_string()), ("192.0.2.1".into(), "192.0.2.1".into()));
    }
}
