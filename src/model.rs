//! The message model: peers, messages, system events and the transcript.
//!
//! Pure data and formatting, no I/O, so the GUI, the terminal mode and the tests all agree on what a chat
//! event is and how it reads.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;

mod batch;
mod clock;
mod text;
mod transcript;

pub use batch::LineBatch;
pub use clock::{clock, file_stamp, init_local_offset, now, rfc3339};
pub use text::{PRIVATE_MARK, PRIVATE_TO_YOU, describe, format_line, peer_change, to_json};
pub use transcript::Transcript;

/// Engine-assigned identity of a connection; stable for its lifetime, never reused within one engine.
pub type PeerId = u64;

/// The other end of a connection, as known when the event was made.
///
/// Immutable snapshot: when the host name resolves or the peer names itself, the engine makes a new
/// `Peer` and says so with [`Event::PeerUpdated`], so older messages keep what was known then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub id: PeerId,
    pub addr: SocketAddr,
    /// Reverse-DNS name (like `getnameinfo`), once the lookup has answered.
    pub host: Option<String>,
    /// Name the peer gave with `/name` (see PROTOCOL.md).
    pub name: Option<String>,
    /// It shut down its sending side (`shutdown(SHUT_WR)`, `nc < /dev/null`): TCP's half-close. A duplex
    /// or room server keeps it, sending to it, until it closes; showing it lets a class see that state.
    pub done_sending: bool,
    /// It is the server we are a client of: set only by the client engine for its own connection, never
    /// from anything a peer sends, so a line can be shown as the server's only when it really is.
    pub server: bool,
    /// The connection's encryption; `None` for plain TCP.
    pub tls: Option<crate::trust::TlsInfo>,
}

impl Peer {
    pub fn new(id: PeerId, addr: SocketAddr) -> Self {
        Peer {
            id,
            addr: canonical(addr),
            host: None,
            name: None,
            done_sending: false,
            server: false,
            tls: None,
        }
    }

    /// Host name when known, otherwise the IP: what a person would call the machine.
    pub fn host_or_ip(&self) -> String {
        match &self.host {
            Some(h) => h.clone(),
            None => self.addr.ip().to_string(),
        }
    }

    /// `host (ip:port) name`, the label a chat line carries; `server host (ip:port)` for our server.
    pub fn label(&self) -> String {
        let server = if self.server { "server " } else { "" };
        // Until the reverse lookup answers there is no name: the address once, not the IP twice.
        let mut s = match &self.host {
            Some(h) => format!("{server}{h} ({})", self.addr),
            None => format!("{server}{}", self.addr),
        };
        if let Some(n) = &self.name {
            let _ = write!(s, " {n}");
        }
        s
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "addr": self.addr.to_string(),
            "host": self.host,
            "name": self.name,
            "done_sending": self.done_sending,
            "server": self.server,
            "tls": self.tls.as_ref().map(text::tls_json),
        })
    }
}

/// IPv4 peers on a dual-stack socket arrive as `::ffff:a.b.c.d`; people expect to see `a.b.c.d`.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Who a message is meant for, when we send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    All,
    One(PeerId),
}

/// Where a message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// We sent it (to `to`; `None` on a client, whose only peer is the server).
    Local { to: Option<Target> },
    /// A peer sent it. `relayed` is true when a room server passed it on from another client,
    /// in which case the peer is that original sender.
    Remote { from: Arc<Peer>, relayed: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub seq: u64,
    pub time: OffsetDateTime,
    pub origin: Origin,
    pub text: String,
    /// The line was longer than the engine's limit and was cut (see README).
    pub truncated: bool,
    /// A line the server sent to this client only (`[private] `, PROTOCOL.md). Our own lines to one
    /// client say so by their target instead.
    pub private: bool,
}

impl Message {
    /// Sent to one client only: received as such, or sent by us to one client.
    pub fn is_private(&self) -> bool {
        self.private || matches!(self.origin, Origin::Local { to: Some(Target::One(_)) })
    }

    /// Received from the server we are a client of, not relayed from another client.
    pub fn from_server(&self) -> bool {
        matches!(&self.origin, Origin::Remote { from, relayed: false } if from.server)
    }
}

/// Why a connection ended, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The peer closed the connection normally.
    Closed,
    /// We closed it (Disconnect, Stop).
    ByUs,
    /// Reset, broken pipe, or another socket error.
    Error(String),
    /// A policy of ours: idle, not reading, flooding.
    Policy(String),
    /// Client: the server said it was being stopped, then closed.
    ServerStopped,
}

impl DisconnectReason {
    pub fn describe(&self) -> String {
        match self {
            DisconnectReason::Closed => "closed by peer".into(),
            DisconnectReason::ByUs => "closed by us".into(),
            DisconnectReason::Error(e) => format!("connection lost: {e}"),
            DisconnectReason::Policy(p) => p.clone(),
            DisconnectReason::ServerStopped => "the server was stopped".into(),
        }
    }
}

/// The open-file limit a server started with, and how many clients it leaves room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdRoom {
    /// The soft limit in force (`u64::MAX`: unlimited).
    pub limit: u64,
    /// The soft limit before the server raised it, if it did.
    pub raised_from: Option<u64>,
    /// Clients that fit, three descriptors each, after what was open at the start.
    pub clients: u64,
}

impl FdRoom {
    /// `open-file limit 20000, raised from 1024: room for 6661 clients`.
    pub fn describe(&self) -> String {
        let raised = self.raised_from.map_or(String::new(), |r| format!(", raised from {r}"));
        if self.limit == u64::MAX {
            format!("open-file limit: unlimited{raised}")
        } else {
            format!("open-file limit {}{raised}: room for {} clients", self.limit, self.clients)
        }
    }
}

/// What the engine tells its user; everything that crosses from the network to the GUI or terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Server bound and accepting, on this (actual) address.
    Listening {
        time: OffsetDateTime,
        addr: SocketAddr,
        /// Where clients can reach it: the bound address itself, or on a wildcard (`[::]`, `0.0.0.0`)
        /// each interface's address with the port (see `engine::interfaces`).
        addrs: Vec<SocketAddr>,
        /// What the open-file limit allows; `None` where it cannot be read.
        fds: Option<FdRoom>,
        /// Serving TLS: the certificate's fingerprint, for clients to compare. `None`: plain TCP.
        tls: Option<crate::trust::Fingerprint>,
    },
    /// Server: a client came in. Client: we reached the server.
    Connected {
        time: OffsetDateTime,
        peer: Arc<Peer>,
    },
    /// A peer's host name resolved or it gave a name. Not a transcript entry.
    PeerUpdated {
        time: OffsetDateTime,
        peer: Arc<Peer>,
    },
    Message(Message),
    Disconnected {
        time: OffsetDateTime,
        peer: Arc<Peer>,
        reason: DisconnectReason,
    },
    /// A connection we turned away (access list, server full) before it became a peer.
    Refused {
        time: OffsetDateTime,
        addr: SocketAddr,
        reason: String,
    },
    /// Client, TLS: the server's certificate is not vouched for by the system's roots nor known; the
    /// engine waits for [`crate::engine::Command::Trust`] (only with [`crate::trust::TrustPolicy::Ask`]).
    TrustAsk {
        time: OffsetDateTime,
        /// `host:port` as the person typed it: the key the known-servers file uses.
        server: String,
        fingerprint: crate::trust::Fingerprint,
    },
    /// Client, TLS: the server showed a certificate other than the one remembered for it, so the engine
    /// refuses (the fatal error that follows says so in words). This says where the remembered one is, so
    /// the window can offer to forget it once the server's owner has confirmed the new fingerprint.
    TrustChanged {
        time: OffsetDateTime,
        /// The known-servers file's key, `host:port` as typed.
        server: String,
        remembered: crate::trust::Fingerprint,
        now: crate::trust::Fingerprint,
        file: std::path::PathBuf,
        line: usize,
    },
    /// Something went wrong. `fatal` means the engine has given up (bind or connect failed).
    Error {
        time: OffsetDateTime,
        peer: Option<Arc<Peer>>,
        text: String,
        fatal: bool,
    },
    /// A socket call the engine made, or is about to make or waiting in (only while tracing).
    Call {
        time: OffsetDateTime,
        call: Arc<crate::calls::Call>,
    },
    /// Each connection's TCP state as the kernel keeps it, answering [`crate::engine::Command::ProbeTcp`].
    Tcp {
        time: OffsetDateTime,
        conns: Vec<crate::calls::TcpConn>,
    },
}

impl Event {
    pub fn time(&self) -> OffsetDateTime {
        match self {
            Event::Listening { time, .. }
            | Event::PeerUpdated { time, .. }
            | Event::Connected { time, .. }
            | Event::Disconnected { time, .. }
            | Event::Refused { time, .. }
            | Event::TrustAsk { time, .. }
            | Event::TrustChanged { time, .. }
            | Event::Error { time, .. }
            | Event::Call { time, .. }
            | Event::Tcp { time, .. } => *time,
            Event::Message(m) => m.time,
        }
    }

    /// The name used in `--json` output's `event` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Listening { .. } => "listening",
            Event::Connected { .. } => "connected",
            Event::PeerUpdated { .. } => "peer",
            Event::Message(_) => "message",
            Event::Disconnected { .. } => "disconnected",
            Event::Refused { .. } => "refused",
            Event::TrustAsk { .. } => "trust",
            Event::TrustChanged { .. } => "trust_changed",
            Event::Error { .. } => "error",
            Event::Call { .. } => "call",
            Event::Tcp { .. } => "tcp",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    pub(super) fn peer(host: Option<&str>, name: Option<&str>) -> Arc<Peer> {
        let mut p = Peer::new(3, "127.0.0.1:5000".parse().unwrap());
        p.host = host.map(Into::into);
        p.name = name.map(Into::into);
        Arc::new(p)
    }

    pub(super) fn msg(origin: Origin, text: &str) -> Event {
        Event::Message(Message {
            seq: 7,
            time: datetime!(2026-11-25 15:04:05.123 +01:00),
            origin,
            text: text.into(),
            truncated: false,
            private: false,
        })
    }

    pub(super) const NONE: &dyn Fn(PeerId) -> Option<String> = &|_| None;

    #[test]
    fn v4_mapped_addresses_are_shown_as_v4() {
        let p = Peer::new(1, "[::ffff:10.0.0.2]:4000".parse().unwrap());
        assert_eq!(p.addr.to_string(), "10.0.0.2:4000");
        let p6 = Peer::new(1, "[::1]:4000".parse().unwrap());
        assert_eq!(p6.addr.to_string(), "[::1]:4000");
    }

    #[test]
    fn message_line_names_host_port_and_name() {
        let ev = msg(Origin::Remote { from: peer(Some("localhost"), Some("ann")), relayed: false }, "hi");
        assert_eq!(format_line(&ev, NONE), "15:04:05 localhost (127.0.0.1:5000) ann: hi");
    }

    #[test]
    fn unresolved_host_falls_back_to_ip_and_relay_is_marked() {
        let ev = msg(Origin::Remote { from: peer(None, None), relayed: true }, "x");
        assert_eq!(describe(&ev, NONE), "127.0.0.1:5000 (relayed): x");
    }

    #[test]
    fn outgoing_names_the_target() {
        let names = |id: PeerId| (id == 3).then(|| "bob".to_string());
        let ev = msg(Origin::Local { to: Some(Target::One(3)) }, "yo");
        assert_eq!(describe(&ev, &names), "-> bob only (private): yo");
        let ev = msg(Origin::Local { to: Some(Target::One(9)) }, "yo");
        assert_eq!(describe(&ev, &names), "-> client #9 only (private): yo");
        let ev = msg(Origin::Local { to: None }, "yo");
        assert_eq!(describe(&ev, &names), "-> server: yo");
    }

    #[test]
    fn disconnect_says_why() {
        let ev = Event::Disconnected {
            time: now(),
            peer: peer(Some("h"), None),
            reason: DisconnectReason::Error("connection reset".into()),
        };
        assert_eq!(
            describe(&ev, NONE),
            "* disconnected: h (127.0.0.1:5000) (connection lost: connection reset)"
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let ev = msg(Origin::Remote { from: peer(Some("localhost"), None), relayed: false }, "hi \"q\"");
        let v = to_json(&ev);
        assert_eq!(v["event"], "message");
        assert_eq!(v["time"], "2026-11-25T15:04:05.123+01:00");
        assert_eq!(v["peer"]["addr"], "127.0.0.1:5000");
        assert_eq!(v["peer"]["host"], "localhost");
        assert!(v["peer"]["name"].is_null());
        assert_eq!(v["text"], "hi \"q\"");
        assert_eq!(v["dir"], "in");
        let one = "[::1]:9".parse().unwrap();
        let l = to_json(&Event::Listening { time: now(), addr: one, addrs: vec![one], fds: None, tls: None });
        assert_eq!(l["event"], "listening");
        assert_eq!(l["addr"], "[::1]:9");
        assert_eq!(l["addrs"], json!(["[::1]:9"]));
        assert!(l["fds"].is_null());
        let fds = Some(FdRoom { limit: 20_000, raised_from: Some(64), clients: 6_661 });
        let ev = Event::Listening {
            time: now(),
            addr: "0.0.0.0:7".parse().unwrap(),
            addrs: vec![],
            fds,
            tls: None,
        };
        let l = to_json(&ev);
        assert_eq!(l["fds"], json!({ "limit": 20_000, "raised_from": 64, "clients": 6_661 }));
        assert_eq!(
            describe(&ev, NONE),
            "* listening on 0.0.0.0:7 (open-file limit 20000, raised from 64: room for 6661 clients)"
        );
    }

    #[test]
    fn a_wildcard_listener_says_where_clients_connect() {
        let addrs = vec!["192.168.1.20:7878".parse().unwrap(), "[2001:db8::20]:7878".parse().unwrap()];
        let fds = Some(FdRoom { limit: 1024, raised_from: None, clients: 330 });
        let ev = Event::Listening { time: now(), addr: "[::]:7878".parse().unwrap(), addrs, fds, tls: None };
        assert_eq!(
            describe(&ev, NONE),
            "* listening on [::]:7878, clients connect to 192.168.1.20:7878 or [2001:db8::20]:7878 \
             (open-file limit 1024: room for 330 clients)"
        );
        assert_eq!(to_json(&ev)["addrs"], json!(["192.168.1.20:7878", "[2001:db8::20]:7878"]));
        let Event::Listening { addrs, .. } = ev else { unreachable!() };
        let one = Event::Listening {
            time: now(),
            addr: "[::]:7878".parse().unwrap(),
            addrs: addrs[..1].into(),
            fds: None,
            tls: None,
        };
        assert_eq!(describe(&one, NONE), "* listening on [::]:7878, clients connect to 192.168.1.20:7878");
    }

    #[test]
    fn a_peer_without_a_name_yet_is_its_address_once() {
        let mut p = Peer::new(1, "127.0.0.1:38452".parse().unwrap());
        let ev = Event::Connected { time: now(), peer: Arc::new(p.clone()) };
        assert_eq!(describe(&ev, NONE), "* connected: 127.0.0.1:38452");
        p.host = Some("localhost".into());
        p.name = Some("ann".into());
        assert_eq!(p.label(), "localhost (127.0.0.1:38452) ann");
    }
}
