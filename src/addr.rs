//! Parsing what a person types as an address, and naming socket errors in plain words.

use std::io;
use std::net::{Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Port used when none is given.
pub const DEFAULT_PORT: u16 = 7878;

/// A host (name or literal, empty for "every interface") and a port, not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else if self.host.is_empty() {
            write!(f, "*:{}", self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Checks a port typed in a field: a number from 0 to 65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("port is empty".into());
    }
    match s.parse::<u32>() {
        Ok(p) if p <= 65535 => Ok(p as u16),
        Ok(_) => Err("port out of range: use 0 to 65535".into()),
        Err(_) => Err(format!("port '{s}' is not a number")),
    }
}

/// Accepts `PORT`, `:PORT`, `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` and a bare IPv6 literal.
pub fn parse_host_port(s: &str) -> Result<HostPort, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(HostPort { host: String::new(), port: DEFAULT_PORT });
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(HostPort { host: String::new(), port: parse_port(s)? });
    }
    if let Some(p) = s.strip_prefix(':').filter(|p| !p.contains(':')) {
        return Ok(HostPort { host: String::new(), port: parse_port(p)? });
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("missing ']' after IPv6 address")?;
        check_v6(host)?;
        let port = match after {
            "" => DEFAULT_PORT,
            p => parse_port(p.strip_prefix(':').ok_or("expected ':PORT' after ']'")?)?,
        };
        return Ok(HostPort { host: host.into(), port });
    }
    match s.matches(':').count() {
        0 => Ok(HostPort { host: s.into(), port: DEFAULT_PORT }),
        1 => {
            let (h, p) = s.split_once(':').ok_or("bad address")?;
            if h.is_empty() {
                return Err("host is empty".into());
            }
            Ok(HostPort { host: h.into(), port: parse_port(p)? })
        }
        _ => match check_v6(s) {
            Ok(()) => Ok(HostPort { host: s.into(), port: DEFAULT_PORT }),
            Err(_) => Err(format!("'{s}' is not an address: write IPv6 with a port as [addr]:port")),
        },
    }
}

/// What the start form's host field holds once read: a host (name, IPv4, IPv6 without brackets, with its
/// zone if any) and the port typed with it, if one was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostField {
    pub host: String,
    pub port: Option<u16>,
}

/// How to write an address, for the end of every host-field error.
pub const HOST_FORMS: &str = "type the host alone, or host:port, or [IPv6]:port";

/// Reads a host field as people type and paste addresses: `host`, `host:port`, `1.2.3.4:port`, a bare IPv6
/// address (`::1`, `fe80::1%eth0`: with more than one `:` there is no port, as everywhere IPv6 is
/// written), `[v6]` and `[v6]:port` (`[fe80::1%eth0]:7878`). Any port comes out apart, for the port field.
/// The form, not this function, decides when to move it there.
pub fn split_host_field(s: &str) -> Result<HostField, String> {
    let s = s.trim();
    let port_of = |p: &str| parse_port(p).map_err(|e| format!("{e}: {HOST_FORMS}"));
    if let Some(rest) = s.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("missing ']' after the IPv6 address: type [IPv6]:port, as in [::1]:7878".into());
        };
        check_v6(host).map_err(|e| format!("{e}: {HOST_FORMS}"))?;
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(p) => Some(port_of(p)?),
                None => return Err(format!("'{a}' after ']': {HOST_FORMS}")),
            },
        };
        return Ok(HostField { host: host.into(), port });
    }
    match s.matches(':').count() {
        0 => Ok(HostField { host: s.into(), port: None }),
        1 => {
            let (h, p) = s.split_once(':').unwrap_or((s, ""));
            if h.is_empty() {
                return Err(format!("the host is missing before ':{p}': {HOST_FORMS}"));
            }
            Ok(HostField { host: h.into(), port: Some(port_of(p)?) })
        }
        _ => match check_v6(s) {
            Ok(()) => Ok(HostField { host: s.into(), port: None }),
            // The address itself is fine, its zone is not: say that, not "not an address".
            Err(e) if s.split('%').next().is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok()) => Err(e),
            Err(_) => Err(format!("'{s}' is neither host:port nor an IPv6 address: {HOST_FORMS}")),
        },
    }
}

/// An IPv6 literal, with an optional zone (`fe80::1%eth0` or `%2`): link-local addresses need one to say
/// which interface they are on. The system resolver (`getaddrinfo`) turns the zone into a scope id.
fn check_v6(host: &str) -> Result<(), String> {
    let (ip, zone) = match host.split_once('%') {
        Some((ip, zone)) => (ip, Some(zone)),
        None => (host, None),
    };
    ip.parse::<Ipv6Addr>().map_err(|_| format!("'{ip}' is not an IPv6 address"))?;
    match zone {
        Some(z) if z.is_empty() || !z.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) => {
            Err(format!("'{z}' is not an interface name or number (as in fe80::1%eth0)"))
        }
        _ => Ok(()),
    }
}

/// Plain-words reason for a failed bind.
pub fn bind_error(addr: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => format!("port already in use: {addr} (another program or server has it)"),
        io::ErrorKind::PermissionDenied => {
            format!("permission denied to listen on {addr} (ports below 1024 need root)")
        }
        io::ErrorKind::AddrNotAvailable => format!("address not on this machine: {addr}"),
        _ => format!("cannot listen on {addr}: {e}"),
    }
}

/// Plain-words reason for a failed connect.
pub fn connect_error(addr: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => format!("connection refused by {addr} (is the server running?)"),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!("timed out connecting to {addr}"),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            format!("no route to {addr}")
        }
        _ => format!("cannot connect to {addr}: {e}"),
    }
}

/// Resolves like `getaddrinfo`; the error names the host.
pub fn resolve(hp: &HostPort) -> Result<Vec<SocketAddr>, String> {
    let host = if hp.host.is_empty() { "::" } else { hp.host.as_str() };
    match (host, hp.port).to_socket_addrs() {
        Ok(it) => {
            let v: Vec<SocketAddr> = it.collect();
            if v.is_empty() { Err(format!("unknown host '{}': no addresses", hp.host)) } else { Ok(v) }
        }
        Err(e) => Err(format!("unknown host '{}': {e}", hp.host)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(h: &str, p: u16) -> HostPort {
        HostPort { host: h.into(), port: p }
    }

    #[test]
    fn accepts_the_usual_spellings() {
        assert_eq!(parse_host_port("9000"), Ok(hp("", 9000)));
        assert_eq!(parse_host_port(":9000"), Ok(hp("", 9000)));
        assert_eq!(parse_host_port(""), Ok(hp("", DEFAULT_PORT)));
        assert_eq!(parse_host_port("localhost"), Ok(hp("localhost", DEFAULT_PORT)));
        assert_eq!(parse_host_port("127.0.0.1:80"), Ok(hp("127.0.0.1", 80)));
        assert_eq!(parse_host_port("[::1]:81"), Ok(hp("::1", 81)));
        assert_eq!(parse_host_port("[::]"), Ok(hp("::", DEFAULT_PORT)));
        assert_eq!(parse_host_port("::1"), Ok(hp("::1", DEFAULT_PORT)));
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(parse_host_port("h:70000"), Err("port out of range: use 0 to 65535".into()));
        assert_eq!(parse_host_port("h:abc"), Err("port 'abc' is not a number".into()));
        assert_eq!(parse_host_port(":"), Err("port is empty".into()));
        assert!(parse_host_port("[::1").unwrap_err().contains("missing ']'"));
        assert!(parse_host_port("a:b:c").unwrap_err().contains("not an address"));
        assert!(parse_host_port(":8080x").is_err());
    }

    #[test]
    fn link_local_addresses_take_a_zone_that_becomes_the_scope_id() {
        assert_eq!(parse_host_port("[fe80::1%eth0]:7000"), Ok(hp("fe80::1%eth0", 7000)));
        assert_eq!(parse_host_port("fe80::1%2"), Ok(hp("fe80::1%2", DEFAULT_PORT)));
        assert!(parse_host_port("[fe80::1%]:1").unwrap_err().contains("not an interface"));
        assert!(parse_host_port("[fe80::1%a/b]:1").unwrap_err().contains("not an interface"));
        assert!(parse_host_port("[fe80::zz%eth0]:1").unwrap_err().contains("not an IPv6 address"));
        assert_eq!(hp("fe80::1%eth0", 5).to_string(), "[fe80::1%eth0]:5");
        let Ok(addrs) = resolve(&hp("fe80::1%1", 7000)) else { panic!("a numeric zone resolves") };
        assert!(
            addrs.iter().any(|a| matches!(a, SocketAddr::V6(v6) if v6.scope_id() == 1 && v6.port() == 7000)),
            "{addrs:?}"
        );
        #[cfg(target_os = "linux")]
        {
            let Ok(addrs) = resolve(&hp("fe80::1%lo", 7000)) else { panic!("an interface name resolves") };
            assert!(addrs.iter().any(|a| matches!(a, SocketAddr::V6(v6) if v6.scope_id() != 0)), "{addrs:?}");
        }
    }

    fn field(h: &str, p: Option<u16>) -> Result<HostField, String> {
        Ok(HostField { host: h.into(), port: p })
    }

    #[test]
    fn host_field_takes_addresses_as_people_paste_them() {
        assert_eq!(split_host_field("localhost:17900"), field("localhost", Some(17900)));
        assert_eq!(split_host_field(" 192.168.1.20:7878 "), field("192.168.1.20", Some(7878)));
        assert_eq!(split_host_field("[::1]:7878"), field("::1", Some(7878)));
        assert_eq!(split_host_field("[fe80::1%eth0]:7878"), field("fe80::1%eth0", Some(7878)));
        assert_eq!(split_host_field("[2001:db8::1]"), field("2001:db8::1", None));
        assert_eq!(split_host_field("example.org"), field("example.org", None));
        assert_eq!(split_host_field("::1"), field("::1", None));
        assert_eq!(split_host_field("fe80::1%wlan0"), field("fe80::1%wlan0", None));
        assert_eq!(split_host_field(""), field("", None));
    }

    #[test]
    fn host_field_errors_say_what_to_type() {
        let forms = "type the host alone, or host:port, or [IPv6]:port";
        assert_eq!(split_host_field("localhost:abc"), Err(format!("port 'abc' is not a number: {forms}")));
        assert_eq!(split_host_field("h:"), Err(format!("port is empty: {forms}")));
        assert_eq!(split_host_field("h:99999"), Err(format!("port out of range: use 0 to 65535: {forms}")));
        assert_eq!(split_host_field(":80"), Err(format!("the host is missing before ':80': {forms}")));
        assert_eq!(
            split_host_field("localhost:80:90"),
            Err(format!("'localhost:80:90' is neither host:port nor an IPv6 address: {forms}"))
        );
        assert!(split_host_field("[::1").unwrap_err().contains("type [IPv6]:port, as in [::1]:7878"));
        assert_eq!(split_host_field("[::1]7878"), Err(format!("'7878' after ']': {forms}")));
        assert_eq!(split_host_field("[zz::1]:80"), Err(format!("'zz::1' is not an IPv6 address: {forms}")));
        assert!(split_host_field("fe80::1%").unwrap_err().contains("not an interface name"));
    }

    #[test]
    fn display_brackets_v6() {
        assert_eq!(hp("::1", 5).to_string(), "[::1]:5");
        assert_eq!(hp("", 5).to_string(), "*:5");
    }

    #[test]
    fn unknown_host_is_named() {
        let err = resolve(&hp("no-such-host.invalid", 1)).unwrap_err();
        assert!(err.starts_with("unknown host 'no-such-host.invalid'"), "{err}");
    }
}
