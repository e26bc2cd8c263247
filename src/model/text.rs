//! How an event reads: the chat view's and the terminal's words for it, and its `--json` object.

use super::*;

fn target_label(to: &Option<Target>, peer_name: &dyn Fn(PeerId) -> Option<String>) -> String {
    match to {
        None => "server".into(),
        Some(Target::All) => "all".into(),
        Some(Target::One(id)) => {
            let who = peer_name(*id).unwrap_or_else(|| format!("client #{id}"));
            format!("{who} only{PRIVATE_MARK}")
        }
    }
}

/// How a line sent to one client only is marked where it was sent from.
pub const PRIVATE_MARK: &str = " (private)";
/// How such a line is marked where it arrives.
pub const PRIVATE_TO_YOU: &str = " (private: to you only)";

/// What a peer's new snapshot is worth a line for, if anything: a new name, or the end of its sending
/// (a host name arriving is not: lists and later lines show it).
pub fn peer_change(old: Option<&Peer>, new: &Peer) -> Option<String> {
    let old = old?;
    if old.name != new.name {
        return Some(format!("* peer is now known as {}", new.label()));
    }
    (new.done_sending && !old.done_sending).then(|| {
        format!(
            "* {} finished sending (shut down its side of the connection); it stays connected and receives until it closes",
            new.label()
        )
    })
}

/// One line of text for an event, without the time: the chat view's and the terminal's wording.
///
/// `peer_name` turns a target id into a label for messages we sent to one client.
pub fn describe(ev: &Event, peer_name: &dyn Fn(PeerId) -> Option<String>) -> String {
    match ev {
        Event::Listening { addr, addrs, fds, tls, .. } => {
            let fds = fds.map_or(String::new(), |f| format!(" ({})", f.describe()));
            let tls = tls.map_or(String::new(), |f| format!(", TLS certificate {f}"));
            format!("* listening on {addr}{}{fds}{tls}", connect_to(*addr, addrs))
        }
        Event::TrustAsk { server, fingerprint, .. } => {
            format!("* {server} is not known; its certificate's fingerprint is {fingerprint}")
        }
        Event::TrustChanged { server, remembered, now, file, line, .. } => format!(
            "* {server}'s certificate changed: now {now}, remembered {remembered} (line {line} of {})",
            file.display()
        ),
        Event::Connected { peer, .. } => match &peer.tls {
            None => format!("* connected: {}", peer.label()),
            Some(t) => format!("* connected: {}, {}", peer.label(), tls_words(t)),
        },
        Event::PeerUpdated { peer, .. } => format!("* peer is now known as {}", peer.label()),
        Event::Message(m) => {
            let cut = if m.truncated { " [cut: line over the length limit]" } else { "" };
            match &m.origin {
                Origin::Local { to } => format!("-> {}: {}{cut}", target_label(to, peer_name), m.text),
                Origin::Remote { from, relayed } => {
                    let via = if *relayed { " (relayed)" } else { "" };
                    let private = if m.private { PRIVATE_TO_YOU } else { "" };
                    format!("{}{via}{private}: {}{cut}", from.label(), m.text)
                }
            }
        }
        Event::Disconnected { peer, reason, .. } => {
            format!("* disconnected: {} ({})", peer.label(), reason.describe())
        }
        Event::Refused { addr, reason, .. } => format!("* refused {addr}: {reason}"),
        Event::Error { peer, text, .. } => match peer {
            Some(p) => format!("! error with {}: {text}", p.label()),
            None => format!("! error: {text}"),
        },
        Event::Call { call, .. } => format!("# {}", call.describe()),
        Event::Tcp { conns, .. } => {
            let each: Vec<String> = conns.iter().map(crate::calls::TcpConn::describe).collect();
            format!(
                "# TCP state: {}",
                if each.is_empty() { "no connections".into() } else { each.join(", ") }
            )
        }
    }
}

/// `TLS 1.3 (cipher)`, and for a server's certificate its fingerprint and why it was trusted.
pub fn tls_words(t: &crate::trust::TlsInfo) -> String {
    use crate::trust::Trusted;
    let mut s = format!("{} ({})", t.version, t.cipher);
    if let Some((fp, how)) = &t.server_cert {
        let how = match how {
            Trusted::SystemRoots => "vouched for by the system's root certificates",
            Trusted::Known => "known: the same as remembered",
            Trusted::Pinned => "the one given with --fingerprint",
            Trusted::New => "new, accepted",
        };
        s.push_str(&format!(", certificate {fp} ({how})"));
    }
    s
}

/// The `tls` object of a peer in `--json` output.
pub fn tls_json(t: &crate::trust::TlsInfo) -> Value {
    use crate::trust::Trusted;
    let (fingerprint, trusted) = match &t.server_cert {
        Some((fp, how)) => {
            let how = match how {
                Trusted::SystemRoots => "system_roots",
                Trusted::Known => "known",
                Trusted::Pinned => "pinned",
                Trusted::New => "new",
            };
            (Some(fp.to_string()), Some(how))
        }
        None => (None, None),
    };
    json!({ "version": t.version, "cipher": t.cipher, "fingerprint": fingerprint, "trusted": trusted })
}

/// `, clients connect to A or B`: said when the listening address is not one to type (a wildcard).
fn connect_to(addr: SocketAddr, addrs: &[SocketAddr]) -> String {
    if addrs.is_empty() || addrs == [addr] {
        return String::new();
    }
    let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    format!(", clients connect to {}", list.join(" or "))
}

/// `HH:MM:SS ` + [`describe`]: one terminal line per event.
pub fn format_line(ev: &Event, peer_name: &dyn Fn(PeerId) -> Option<String>) -> String {
    format!("{} {}", clock(ev.time()), describe(ev, peer_name))
}

/// The `--json` object for an event (see README for the fields).
pub fn to_json(ev: &Event) -> Value {
    let time = rfc3339(ev.time());
    let mut v = match ev {
        Event::Listening { addr, addrs, fds, tls, .. } => json!({
            "fingerprint": tls.map(|f| f.to_string()),
            "addr": addr.to_string(),
            "addrs": addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "fds": fds.map(|f| json!({ "limit": f.limit, "raised_from": f.raised_from, "clients": f.clients })),
        }),
        Event::TrustAsk { server, fingerprint, .. } => {
            json!({ "server": server, "fingerprint": fingerprint.to_string() })
        }
        Event::TrustChanged { server, remembered, now, file, line, .. } => json!({
            "server": server,
            "fingerprint": now.to_string(),
            "remembered": remembered.to_string(),
            "file": file.display().to_string(),
            "line": line,
        }),
        Event::Connected { peer, .. } | Event::PeerUpdated { peer, .. } => json!({ "peer": peer.to_json() }),
        Event::Message(m) => {
            let mut v = json!({
                "seq": m.seq,
                "text": m.text,
                "truncated": m.truncated,
                "private": m.is_private(),
                "from_server": m.from_server(),
            });
            match &m.origin {
                Origin::Local { to } => {
                    v["dir"] = "out".into();
                    v["peer"] = Value::Null;
                    v["to"] = match to {
                        None => "server".into(),
                        Some(Target::All) => "all".into(),
                        Some(Target::One(id)) => json!(id),
                    };
                }
                Origin::Remote { from, relayed } => {
                    v["dir"] = "in".into();
                    v["peer"] = from.to_json();
                    v["relayed"] = json!(relayed);
                }
            }
            v
        }
        Event::Disconnected { peer, reason, .. } => {
            json!({ "peer": peer.to_json(), "reason": reason.describe() })
        }
        Event::Refused { addr, reason, .. } => {
            json!({ "peer": { "addr": addr.to_string(), "host": null, "name": null }, "reason": reason })
        }
        Event::Error { peer, text, fatal, .. } => json!({
            "peer": peer.as_ref().map(|p| p.to_json()),
            "text": text,
            "fatal": fatal,
        }),
        Event::Call { call, .. } => call.to_json(),
        Event::Tcp { conns, .. } => {
            json!({ "conns": conns.iter().map(crate::calls::TcpConn::to_json).collect::<Vec<_>>() })
        }
    };
    v["event"] = ev.kind().into();
    v["time"] = json!(time);
    v
}
