//! Who may connect: `--allow` and `--deny` lists of addresses or CIDR blocks.
//!
//! An IPv4 client reaches a dual-stack listener as `::ffff:a.b.c.d` and an IPv4 listener as `a.b.c.d`; a rule
//! must match it the same way in both cases, whichever of the two spellings the rule was written in. So rules
//! inside `::ffff:0:0/96` are stored as IPv4 blocks, peers are compared in their canonical form, and a wider
//! IPv6 block (`::/0`) also covers the IPv4 addresses it holds in mapped form.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

/// Deny wins over allow; an empty allow list allows everyone not denied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

/// A block inside `::ffff:0:0/96` as the IPv4 block it stands for (`::ffff:10.0.0.0/104` is `10.0.0.0/8`).
pub fn canonical_net(n: IpNet) -> IpNet {
    match n {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .network()
            .to_ipv4_mapped()
            .and_then(|a| Ipv4Net::new(a, v6.prefix_len() - 96).ok())
            .map_or(n, IpNet::V4),
        other => other,
    }
}

/// Whether `net` holds `ip`, an IPv4 address and its mapped IPv6 form being the same address.
fn covers(net: &IpNet, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    match (canonical_net(*net), ip) {
        (IpNet::V6(n), IpAddr::V4(v4)) => n.contains(&v4.to_ipv6_mapped()),
        (n, ip) => n.contains(&ip),
    }
}

/// `10.0.0.0/8`, `::1` or `192.168.1.7`: a single address is a /32 or /128 block.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(canonical_net(n.trunc()));
    }
    s.parse::<IpAddr>()
        .map(|ip| canonical_net(IpNet::from(ip)))
        .map_err(|_| format!("'{s}' is not an address or CIDR block"))
}

/// A comma- or space-separated list, as typed in a window field. Blank means no list; anything else must
/// name at least one block, so a stray `,` cannot quietly turn an allow list into "everyone".
pub fn parse_list(s: &str) -> Result<Vec<IpNet>, String> {
    let nets = s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(parse_net)
        .collect::<Result<Vec<_>, _>>()?;
    if nets.is_empty() && !s.trim().is_empty() {
        return Err(format!("'{s}' names no address: give addresses or CIDR blocks, comma-separated"));
    }
    Ok(nets)
}

/// A list given as a flag: one that names nothing is a mistake, never "no list".
pub fn parse_flag_list(s: &str) -> Result<Vec<IpNet>, String> {
    match parse_list(s)? {
        v if v.is_empty() => {
            Err("empty list: give addresses or CIDR blocks, comma-separated, or leave the flag out".into())
        }
        v => Ok(v),
    }
}

impl AccessList {
    /// `None` when allowed, else the reason for turning the address away.
    pub fn check(&self, ip: IpAddr) -> Option<&'static str> {
        if self.deny.iter().any(|n| covers(n, ip)) {
            return Some("address is on the deny list");
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|n| covers(n, ip)) {
            return Some("address is not on the allow list");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn deny_beats_allow_and_empty_allow_admits() {
        let acl = AccessList {
            allow: parse_list("127.0.0.0/8, ::1").unwrap(),
            deny: parse_list("127.0.0.2").unwrap(),
        };
        assert_eq!(acl.check(ip("127.0.0.1")), None);
        assert_eq!(acl.check(ip("::1")), None);
        assert_eq!(acl.check(ip("127.0.0.2")), Some("address is on the deny list"));
        assert_eq!(acl.check(ip("10.1.1.1")), Some("address is not on the allow list"));
        let open = AccessList::default();
        assert_eq!(open.check(ip("10.1.1.1")), None);
    }

    #[test]
    fn v4_mapped_peers_match_v4_rules() {
        let acl = AccessList { allow: vec![], deny: parse_list("10.0.0.0/8").unwrap() };
        assert!(acl.check(ip("::ffff:10.2.3.4")).is_some());
    }

    #[test]
    fn v4_mapped_rules_match_v4_and_mapped_peers() {
        for rule in ["::ffff:127.0.0.1", "::ffff:0:0/96", "::ffff:127.0.0.0/104", "::/0"] {
            let deny = AccessList { allow: vec![], deny: parse_list(rule).unwrap() };
            let allow = AccessList { allow: parse_list(rule).unwrap(), deny: vec![] };
            for peer in ["127.0.0.1", "::ffff:127.0.0.1"] {
                assert_eq!(deny.check(ip(peer)), Some("address is on the deny list"), "deny {rule}, {peer}");
                assert_eq!(allow.check(ip(peer)), None, "allow {rule}, {peer}");
            }
        }
        // The rules that did not match before are the same blocks written the IPv4 way.
        assert_eq!(parse_net("::ffff:127.0.0.1").unwrap().to_string(), "127.0.0.1/32");
        assert_eq!(parse_net("::ffff:0:0/96").unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(parse_net("::ffff:10.9.9.9/104").unwrap().to_string(), "10.0.0.0/8");
        // A narrower IPv6 rule still leaves IPv4 alone, and an IPv4 rule leaves real IPv6 alone.
        let v6 =
            AccessList { allow: vec![], deny: parse_list("2001:db8::/32, ::ffff:10.0.0.0/104").unwrap() };
        assert_eq!(v6.check(ip("127.0.0.1")), None);
        assert_eq!(v6.check(ip("::1")), None);
        assert!(v6.check(ip("10.1.2.3")).is_some());
        // Rules built by hand, not through parse_net, are compared the same way.
        let raw = AccessList { allow: vec![], deny: vec!["::ffff:127.0.0.1/128".parse().unwrap()] };
        assert!(raw.check(ip("127.0.0.1")).is_some());
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(parse_list("10.0.0.0/8 nope"), Err("'nope' is not an address or CIDR block".into()));
        assert_eq!(parse_net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    }

    #[test]
    fn lists_that_name_nothing_are_errors_unless_blank() {
        assert_eq!(parse_list(""), Ok(vec![]));
        assert_eq!(parse_list("  "), Ok(vec![]));
        for s in [",", " , ,", ",,"] {
            assert!(parse_list(s).unwrap_err().contains("names no address"), "{s:?}");
        }
        for s in ["", " ", ","] {
            assert!(parse_flag_list(s).is_err(), "{s:?}");
        }
        assert_eq!(parse_flag_list("::1,").unwrap().len(), 1);
    }
}
