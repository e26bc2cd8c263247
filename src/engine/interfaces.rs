//! The addresses a listening server can be reached at: what a teacher reads out or projects, so students
//! need no other tool to find this machine's IP.
//!
//! The interface list comes from `if-addrs` (getifaddrs on Unix), not from parsing `ip` or `ifconfig`
//! output, whose format differs between systems and versions. Choosing among the addresses is a pure
//! function ([`reachable_at`]) so it is tested on made-up machines.

use std::net::{IpAddr, SocketAddr};

/// One address of one network interface, as far as choosing what to show needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceAddr {
    /// The interface's name (`eth0`, `wlp2s0`, `lo`).
    pub name: String,
    pub ip: IpAddr,
    /// False when the system says the interface is down (its addresses reach no one).
    pub up: bool,
}

/// This machine's interface addresses; empty when the system will not say (then the server's listening
/// line shows only its bound address, never an error: the server itself works the same).
pub fn list() -> Vec<IfaceAddr> {
    match if_addrs::get_if_addrs() {
        Ok(ifaces) => ifaces
            .into_iter()
            .map(|i| IfaceAddr {
                up: i.oper_status != if_addrs::IfOperStatus::Down,
                ip: i.ip(),
                name: i.name,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Whether another machine can be told to type this address. IPv6 link-local (`fe80::/10`) is left out:
/// it is only usable with a zone naming the interface *on the connecting machine* (`%wlan0` there, which
/// the server cannot know; its own interface's name or number means nothing to the student), so showing
/// it would hand out an address that fails when typed. The IPv6 unique-local and global addresses and
/// every IPv4 one (169.254.x.y included: it needs no zone) work as written.
fn typeable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_unspecified() && !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => {
            !v6.is_unspecified()
                && !v6.is_multicast()
                && !v6.is_unicast_link_local()
                && v6.to_ipv4_mapped().is_none()
        }
    }
}

/// The addresses to give clients for a server bound to `bound`, given the machine's interfaces.
///
/// A server bound to one address is reachable at just that. On a wildcard (`[::]`, which takes IPv4 as
/// well, or `0.0.0.0`, IPv4 only) it is each non-loopback interface's IPv4 addresses, then their IPv6
/// ones, in the system's interface order, without duplicates; loopback only when nothing else exists (a
/// machine with no network still serves its own clients).
pub fn reachable_at(bound: SocketAddr, ifaces: &[IfaceAddr]) -> Vec<SocketAddr> {
    if !bound.ip().is_unspecified() {
        return vec![bound];
    }
    let v6_too = bound.is_ipv6();
    let wanted = |ip: &IpAddr| ip.is_ipv4() || v6_too;
    let usable = ifaces.iter().filter(|i| i.up && wanted(&i.ip) && typeable(i.ip));
    let (loopback, others): (Vec<&IfaceAddr>, Vec<&IfaceAddr>) = usable.partition(|i| i.ip.is_loopback());
    let chosen = if others.is_empty() { loopback } else { others };
    let mut out: Vec<SocketAddr> = Vec::new();
    // IPv4 first: the shorter address to read off a projector, and the one every student's machine has.
    for ip in chosen.iter().filter(|i| i.ip.is_ipv4()).chain(chosen.iter().filter(|i| i.ip.is_ipv6())) {
        let a = SocketAddr::new(ip.ip, bound.port());
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        // No interface list at all (the system would not say): the loopback a wildcard always covers.
        out.push(SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), bound.port()));
    }
    out
}

/// The bound address's reachable addresses on this machine (see [`reachable_at`]).
pub fn addresses_for(bound: SocketAddr) -> Vec<SocketAddr> {
    if bound.ip().is_unspecified() { reachable_at(bound, &list()) } else { vec![bound] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(name: &str, ip: &str) -> IfaceAddr {
        IfaceAddr { name: name.into(), ip: ip.parse().unwrap(), up: true }
    }

    fn strings(v: Vec<SocketAddr>) -> Vec<String> {
        v.into_iter().map(|a| a.to_string()).collect()
    }

    fn laptop() -> Vec<IfaceAddr> {
        vec![
            i("lo", "127.0.0.1"),
            i("lo", "::1"),
            i("wlp2s0", "2001:db8::20"),
            i("wlp2s0", "fe80::1234"),
            i("wlp2s0", "192.168.1.20"),
            i("eth0", "10.0.0.5"),
            i("eth0", "fd00::5"),
        ]
    }

    #[test]
    fn every_interface_gives_ipv4_then_ipv6_without_loopback_or_link_local() {
        assert_eq!(
            strings(reachable_at("[::]:7878".parse().unwrap(), &laptop())),
            ["192.168.1.20:7878", "10.0.0.5:7878", "[2001:db8::20]:7878", "[fd00::5]:7878"]
        );
    }

    #[test]
    fn an_ipv4_wildcard_gives_only_ipv4() {
        assert_eq!(
            strings(reachable_at("0.0.0.0:9".parse().unwrap(), &laptop())),
            ["192.168.1.20:9", "10.0.0.5:9"]
        );
    }

    #[test]
    fn one_bound_address_is_the_only_one() {
        for a in ["127.0.0.1:5", "[::1]:5", "192.168.1.20:80"] {
            let bound: SocketAddr = a.parse().unwrap();
            assert_eq!(reachable_at(bound, &laptop()), [bound]);
        }
    }

    #[test]
    fn loopback_only_when_nothing_else_exists() {
        let alone = vec![i("lo", "127.0.0.1"), i("lo", "::1"), i("eth0", "fe80::1")];
        assert_eq!(strings(reachable_at("[::]:1".parse().unwrap(), &alone)), ["127.0.0.1:1", "[::1]:1"]);
        assert_eq!(strings(reachable_at("0.0.0.0:1".parse().unwrap(), &alone)), ["127.0.0.1:1"]);
        // The system gave no list at all.
        assert_eq!(strings(reachable_at("[::]:1".parse().unwrap(), &[])), ["127.0.0.1:1"]);
    }

    #[test]
    fn interfaces_that_are_down_and_duplicates_are_left_out() {
        let mut v = laptop();
        v.iter_mut().filter(|a| a.name == "eth0").for_each(|a| a.up = false);
        v.push(i("wlp2s0:1", "192.168.1.20"));
        assert_eq!(
            strings(reachable_at("[::]:2".parse().unwrap(), &v)),
            ["192.168.1.20:2", "[2001:db8::20]:2"]
        );
    }

    #[test]
    fn this_machine_has_an_answer_for_a_wildcard() {
        // Whatever the machine has, a wildcard listener is reachable somewhere, and never at [::] itself.
        let v = addresses_for("[::]:7".parse().unwrap());
        assert!(!v.is_empty());
        assert!(v.iter().all(|a| !a.ip().is_unspecified() && a.port() == 7), "{v:?}");
    }
}
