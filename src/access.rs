//! Who may connect: `--allow` and `--deny` lists of addresses or CIDR blocks.

use std::net::IpAddr;

use ipnet::IpNet;

/// Deny wins over allow; an empty allow list allows everyone not denied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

/// `10.0.0.0/8`, `::1` or `192.168.1.7`: a single address is a /32 or /128 block.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    s.parse::<IpAddr>().map(IpNet::from).map_err(|_| format!("'{s}' is not an address or CIDR block"))
}

/// A comma- or space-separated list, as typed in a window field.
pub fn parse_list(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()).map(parse_net).collect()
}

impl AccessList {
    /// `None` when allowed, else the reason for turning the address away.
    pub fn check(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = ip.to_canonical();
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return Some("address is on the deny list");
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|n| n.contains(&ip)) {
            return Some("address is not on the allow list");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_beats_allow_and_empty_allow_admits() {
        let acl = AccessList {
            allow: parse_list("127.0.0.0/8, ::1").unwrap(),
            deny: parse_list("127.0.0.2").unwrap(),
        };
        assert_eq!(acl.check("127.0.0.1".parse().unwrap()), None);
        assert_eq!(acl.check("::1".parse().unwrap()), None);
        assert_eq!(acl.check("127.0.0.2".parse().unwrap()), Some("address is on the deny list"));
        assert_eq!(acl.check("10.1.1.1".parse().unwrap()), Some("address is not on the allow list"));
        let open = AccessList::default();
        assert_eq!(open.check("10.1.1.1".parse().unwrap()), None);
    }

    #[test]
    fn v4_mapped_peers_match_v4_rules() {
        let acl = AccessList { allow: vec![], deny: parse_list("10.0.0.0/8").unwrap() };
        assert!(acl.check("::ffff:10.2.3.4".parse().unwrap()).is_some());
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(parse_list("10.0.0.0/8 nope"), Err("'nope' is not an address or CIDR block".into()));
        assert_eq!(parse_net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    }
}
