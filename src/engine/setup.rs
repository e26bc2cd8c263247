//! The calls `server.c` and `client.c` make before the first byte: `getaddrinfo`, `socket`,
//! `setsockopt`, `bind`, `listen`, `connect`. Each is recorded at its call site when the trace is on, and
//! in step mode waits for the user before it is made.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::EventSink;
use super::trace::fd_of;
use crate::addr::{self, HostPort};
use crate::calls::Lane;

/// Why set-up did not give a socket.
pub(super) enum SetupError {
    Failed(String),
    /// The user stopped the engine while a call was paused in step mode.
    Stopped,
}

impl From<String> for SetupError {
    fn from(s: String) -> Self {
        SetupError::Failed(s)
    }
}

/// Backlog asked of `listen`: the kernel caps it (`somaxconn`), and a class of clients connecting at once
/// must not find it full.
pub(super) const BACKLOG: i32 = 1024;

/// Makes one set-up call: shown, held in step mode, shown as waiting when it can block, and recorded
/// with its result.
#[allow(clippy::too_many_arguments)]
pub(super) fn made<T>(
    sink: &EventSink,
    name: &'static str,
    lane: Lane,
    fd: Option<i32>,
    args: impl FnOnce() -> String,
    blocks: bool,
    call: impl FnOnce() -> io::Result<T>,
    ok: impl FnOnce(&T) -> String,
) -> Result<io::Result<T>, SetupError> {
    let mut rec = sink.call(name, lane, fd, None, args);
    if !sink.pause(&rec) {
        return Err(SetupError::Stopped);
    }
    if blocks {
        sink.waiting(&mut rec);
    }
    let res = call();
    sink.ended(rec, &res, ok);
    Ok(res)
}

fn family(a: &SocketAddr) -> &'static str {
    if a.is_ipv6() { "AF_INET6" } else { "AF_INET" }
}

/// `getaddrinfo(host, port)`, as the C programs start. A literal address needs no lookup, and the
/// standard library makes none for it, so none is recorded.
pub(super) fn resolve(hp: &HostPort, sink: &EventSink) -> Result<Vec<SocketAddr>, SetupError> {
    let host = if hp.host.is_empty() { "::" } else { hp.host.as_str() };
    let lookup = || (host, hp.port).to_socket_addrs().map(Iterator::collect::<Vec<SocketAddr>>);
    let res = if host.parse::<IpAddr>().is_ok() {
        lookup()
    } else {
        let args = || format!("\"{host}\", \"{}\"", hp.port);
        made(sink, "getaddrinfo", Lane::Setup, None, args, true, lookup, |v| {
            let all: Vec<String> = v.iter().map(ToString::to_string).collect();
            if all.is_empty() { "no addresses".into() } else { all.join(", ") }
        })?
    };
    match res {
        Ok(v) if v.is_empty() => Err(format!("unknown host '{}': no addresses", hp.host).into()),
        Ok(v) => Ok(v),
        Err(e) => Err(format!("unknown host '{}': {e}", hp.host).into()),
    }
}

/// `socket(family, SOCK_STREAM, IPPROTO_TCP)`; the socket is closed (and that recorded) if dropped.
fn socket(a: &SocketAddr, sink: &EventSink) -> Result<io::Result<Socket>, SetupError> {
    let args = || format!("{}, SOCK_STREAM, IPPROTO_TCP", family(a));
    let new = || Socket::new(Domain::for_address(*a), Type::STREAM, Some(Protocol::TCP));
    made(sink, "socket", Lane::Setup, None, args, false, new, |s| format!("fd {}", fd_of(s).unwrap_or(-1)))
}

/// Records the `close` of a socket set-up gave up on.
fn closed(sink: &EventSink, s: Socket) {
    let fd = fd_of(&s);
    drop(s);
    let ok: io::Result<()> = Ok(());
    sink.quick("close", Lane::Setup, fd, || format!("fd {}", fd.unwrap_or(-1)), &ok, |_| "0".into());
}

/// One listening socket with `SO_REUSEADDR`, as the C server sets before `bind`. An unspecified IPv6
/// address also takes IPv4 (dual-stack) where the system allows it.
fn bind_listener(a: SocketAddr, sink: &EventSink) -> Result<io::Result<TcpListener>, SetupError> {
    let sock = match socket(&a, sink)? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let fd = fd_of(&sock);
    let n = fd.unwrap_or(-1);
    // Each option and `bind`/`listen` on the new socket: none blocks, and each returns 0 or fails.
    let set_up = |name, args: String, call: &dyn Fn() -> io::Result<()>| {
        made(sink, name, Lane::Setup, fd, || args, false, call, |()| "0".into())
    };
    let steps = || -> Result<io::Result<()>, SetupError> {
        let r = set_up("setsockopt", format!("fd {n}, SOL_SOCKET, SO_REUSEADDR, 1"), &|| {
            sock.set_reuse_address(true)
        })?;
        if r.is_err() {
            return Ok(r);
        }
        if a.is_ipv6() {
            let only = !a.ip().is_unspecified();
            let v = u8::from(only);
            // Best effort, as before: a system without the option still listens on IPv6.
            let _ = set_up("setsockopt", format!("fd {n}, IPPROTO_IPV6, IPV6_V6ONLY, {v}"), &|| {
                sock.set_only_v6(only)
            })?;
        }
        let r = set_up("bind", format!("fd {n}, {a}"), &|| sock.bind(&a.into()))?;
        if r.is_err() {
            return Ok(r);
        }
        set_up("listen", format!("fd {n}, {BACKLOG}"), &|| sock.listen(BACKLOG))
    };
    match steps() {
        Ok(Ok(())) => Ok(Ok(sock.into())),
        Ok(Err(e)) => {
            closed(sink, sock);
            Ok(Err(e))
        }
        Err(stopped) => {
            closed(sink, sock);
            Err(stopped)
        }
    }
}

/// Binds the listen address: every interface (`[::]`, falling back to `0.0.0.0`) when no host is given,
/// else each resolved address in turn until one binds.
pub(super) fn listen(hp: &HostPort, sink: &EventSink) -> Result<TcpListener, SetupError> {
    let candidates: Vec<SocketAddr> = if hp.host.is_empty() {
        vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), hp.port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), hp.port),
        ]
    } else {
        resolve(hp, sink)?
    };
    let mut last = String::new();
    for a in candidates {
        match bind_listener(a, sink)? {
            Ok(l) => return Ok(l),
            Err(e) => {
                last = addr::bind_error(&a.to_string(), &e);
                // A port in use will be in use on the fallback too; say so rather than mask it.
                if e.kind() == io::ErrorKind::AddrInUse {
                    break;
                }
            }
        }
    }
    Err(SetupError::Failed(last))
}

/// `socket` and `connect` to each address of `hp` in turn, as `client.c` loops over `getaddrinfo`'s list.
pub(super) fn connect(hp: &HostPort, timeout: Duration, sink: &EventSink) -> Result<TcpStream, SetupError> {
    let mut last = String::new();
    for a in resolve(hp, sink)? {
        let sock = match socket(&a, sink)? {
            Ok(s) => s,
            Err(e) => {
                last = addr::connect_error(&hp.to_string(), &e);
                continue;
            }
        };
        let fd = fd_of(&sock);
        let args = || format!("fd {}, {a}", fd.unwrap_or(-1));
        match made(
            sink,
            "connect",
            Lane::Setup,
            fd,
            args,
            true,
            || sock.connect_timeout(&a.into(), timeout),
            |_| "0".into(),
        ) {
            Ok(Ok(())) => return Ok(sock.into()),
            Ok(Err(e)) => {
                last = addr::connect_error(&hp.to_string(), &e);
                closed(sink, sock);
            }
            Err(stopped) => {
                closed(sink, sock);
                return Err(stopped);
            }
        }
    }
    Err(SetupError::Failed(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_bind_reports_port_in_use() {
        let (tx, _rx) = crossbeam_channel::unbounded();
        let sink = EventSink::new(tx, None, super::super::Budget::new(1 << 20, 1 << 20), None);
        let hp = |port| HostPort { host: "127.0.0.1".into(), port };
        let Ok(a) = listen(&hp(0), &sink) else { panic!("a free port binds") };
        let port = a.local_addr().unwrap().port();
        match listen(&hp(port), &sink) {
            Err(SetupError::Failed(e)) => assert!(e.starts_with("port already in use"), "{e}"),
            _ => panic!("a second bind on {port} must fail"),
        }
    }
}
