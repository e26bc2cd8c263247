//! Finding servers on the LAN without typing an address: DNS-SD over multicast DNS (RFC 6762/6763).
//!
//! A server announces one `_sockchat._tcp.local.` service instance ([`announce`]); clients and
//! `sockchat servers` browse for them ([`browse`]). Both run the pure-Rust `mdns-sd` daemon on a thread of
//! their own, so nothing (no Avahi, no Bonjour) has to be installed.
//!
//! Discovery is a convenience on top of the typed address, never a condition for chatting: classroom
//! networks often drop multicast (guest Wi-Fi, client isolation, firewalls closing UDP 5353), so every
//! failure here becomes a notice that discovery is off and why, and the server or client carries on.
//!
//! The TXT record carries what a student needs to choose a server: `mode`, `name` (the server's display
//! name: `--name`, else the machine's host name), `clients` (how many are connected now, kept current)
//! and `version` (sockchat's). PROTOCOL.md documents them.

mod announce;
mod browse;

use std::net::{IpAddr, SocketAddr};

pub(crate) use announce::{Announcer, ClientCount};
pub use browse::{BrowseEvent, Browser, FoundList, FoundServer};

/// The DNS-SD service type every sockchat server announces.
pub const SERVICE_TYPE: &str = "_sockchat._tcp.local.";

/// What a server announces and where; `ServerConfig::announce` is `None` when announcing is off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnounceConfig {
    /// The name students see in the list; `None` or blank: this machine's host name.
    pub name: Option<String>,
    /// Announce only on this network interface (`--interface`): a machine on a LAN, a VPN and a virtual
    /// machine's bridge would otherwise announce an address on each, and students would pick the wrong one.
    pub interface: Option<String>,
}

/// Whether a server listening on `local` is worth announcing: one on a loopback address cannot be reached
/// from another machine, so it is not announced (which also keeps the tests' loopback servers, and the
/// multicast group joins an announcement makes on every interface, off the real network).
pub(crate) fn reachable_from_lan(local: SocketAddr) -> bool {
    !local.ip().is_loopback()
}

/// This machine's host name, as the default display name; "sockchat" where it cannot be read.
pub fn host_name() -> String {
    dns_lookup::get_hostname()
        .ok()
        .map(|h| h.trim().trim_end_matches('.').to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sockchat".into())
}

/// The `.local.` name the address records are published under: the host name's first label, reduced to
/// the letters, digits and hyphens a DNS host label may hold.
fn mdns_host(host: &str) -> String {
    let label: String = host
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    format!("{}.local.", if label.is_empty() { "sockchat" } else { label })
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The instance label (63 bytes at most): the display name with host and port after it, so two servers on
/// one machine, or two machines given the same name, never claim the same instance.
fn instance_name(name: &str, host: &str, port: u16) -> String {
    let suffix = format!(" ({}:{port})", cut(host, 40));
    format!("{}{suffix}", cut(name, 63 - suffix.len()))
}

/// A name as shown: control characters dropped and trimmed, since it arrives from anyone on the LAN.
fn clean_name(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    cut(s.trim(), 200).to_string()
}

/// One interface of this machine, for the window's "announce on" choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// Its addresses, loopback and link-local last.
    pub addrs: Vec<IpAddr>,
    pub loopback: bool,
}

/// The machine's network interfaces that are up, each once with its addresses; empty where they cannot
/// be read.
pub fn interfaces() -> Vec<Interface> {
    let mut out: Vec<Interface> = Vec::new();
    for i in if_addrs::get_if_addrs().unwrap_or_default() {
        if !i.is_oper_up() {
            continue;
        }
        let ip = i.ip();
        match out.iter_mut().find(|o| o.name == i.name) {
            Some(o) => o.addrs.push(ip),
            None => out.push(Interface { name: i.name.clone(), addrs: vec![ip], loopback: i.is_loopback() }),
        }
    }
    for o in &mut out {
        o.addrs.sort_by_key(|a| address_rank(*a));
    }
    out.sort_by_key(|o| (o.loopback, o.name.clone()));
    out
}

/// The order addresses are offered in: IPv4 before IPv6, routable before link-local, loopback last.
pub(crate) fn address_rank(a: IpAddr) -> (bool, bool, bool) {
    let link_local = match a {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    };
    (a.is_loopback(), link_local, a.is_ipv6())
}

/// Why `--interface NAME` cannot be used, or `None` when NAME is one of the machine's interfaces.
pub fn check_interface(name: &str) -> Option<String> {
    let all = interfaces();
    if all.iter().any(|i| i.name == name) {
        return None;
    }
    let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
    Some(format!("no network interface named '{name}' is up (this machine has: {})", names.join(", ")))
}

/// `ip:port` as a client types it (`[v6]:port` for IPv6).
pub fn socket_text(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_labels_are_valid_dns_labels() {
        assert_eq!(mdns_host("lab-pc.example.org"), "lab-pc.local.");
        assert_eq!(mdns_host("Salle 101_B"), "Salle-101-B.local.");
        assert_eq!(mdns_host("..."), "sockchat.local.");
        assert_eq!(mdns_host(&"x".repeat(100)), format!("{}.local.", "x".repeat(63)));
    }

    #[test]
    fn instance_names_fit_a_label_and_keep_host_and_port() {
        let long = "é".repeat(60);
        let n = instance_name(&long, "lab-pc", 7878);
        assert!(n.len() <= 63, "{} bytes", n.len());
        assert!(n.ends_with(" (lab-pc:7878)"), "{n}");
        assert_eq!(instance_name("Room 101", "lab-pc", 7878), "Room 101 (lab-pc:7878)");
    }

    #[test]
    fn names_from_the_network_lose_control_characters() {
        assert_eq!(clean_name("  a\u{1b}[31mb\n "), "a[31mb");
        assert_eq!(clean_name(&"y".repeat(500)).len(), 200);
    }

    #[test]
    fn unknown_interfaces_are_named_with_the_ones_there_are() {
        let e = check_interface("no-such-if0").unwrap_or_default();
        assert!(e.contains("no network interface named 'no-such-if0'"), "{e}");
    }
}
