//! The client: the control thread connects, then writes what it is told; a reader thread receives.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_channel::{Receiver, select};

use super::server::describe_io;
use super::setup::{self, SetupError};
use super::tls::{self, Session, client::NotConnected};
use super::trace::{self, Flow, Sock};
use super::{ClientConfig, Command, EventSink, PeerSlot, Resolver, snapshot};
use crate::addr;
use crate::calls::Lane;
use crate::codec::{LineDecoder, encode_line, one_line};
use crate::model::{self, DisconnectReason, Event, LineBatch, Origin, Peer, PeerId, canonical};
use crate::protocol;

type ReasonSlot = Arc<Mutex<Option<DisconnectReason>>>;

fn connect(cfg: &ClientConfig, sink: &EventSink) -> Result<(TcpStream, addr::HostPort), SetupError> {
    let hp =
        addr::parse_host_port(&cfg.addr).map_err(|e| format!("bad server address '{}': {e}", cfg.addr))?;
    if hp.host.is_empty() {
        return Err(format!("server address '{}' needs a host, like localhost:{}", cfg.addr, hp.port).into());
    }
    if hp.port == 0 {
        return Err(String::from("port 0 is not a server's port: use 1 to 65535").into());
    }
    let s = setup::connect(&hp, cfg.connect_timeout, sink)?;
    Ok((s, hp))
}

/// How long a named client waits for the server's greeting before it stops holding the user's lines.
const GREETING_WAIT: std::time::Duration = std::time::Duration::from_millis(1000);

pub(super) fn run(cfg: ClientConfig, sink: EventSink, cmds: Receiver<Command>) {
    let (stream, hp) = match connect(&cfg, &sink) {
        Ok(s) => s,
        Err(SetupError::Failed(e)) => return sink.error(None, e, true),
        Err(SetupError::Stopped) => return,
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(10)));
    let peer_addr = match stream.peer_addr() {
        Ok(a) => a,
        Err(e) => return sink.error(None, format!("connection lost at once: {}", describe_io(&e)), true),
    };
    let stream = Sock::new(stream, Lane::Conn(0), &sink);
    let mut peer = Peer::new(0, canonical(peer_addr));
    peer.server = true;
    // TLS: the handshake and the trust decision come before `Connected` and before any line is sent.
    let session = match &cfg.tls {
        None => None,
        Some(t) => match tls::client::start(t, &hp.host, hp.port, &stream, &sink, &cmds) {
            Ok((session, info)) => {
                peer.tls = Some(info);
                Some(session)
            }
            Err(why) => {
                let _ = stream.shutdown(Shutdown::Both, &sink);
                return match why {
                    NotConnected::Stopped => {}
                    NotConnected::Because(why) => sink.error(None, why, true),
                };
            }
        },
    };
    if hp.host.parse::<IpAddr>().is_err() {
        peer.host = Some(hp.host);
    }
    let slot: PeerSlot = Arc::new(Mutex::new(Arc::new(peer)));
    sink.emit(Event::Connected { time: model::now(), peer: snapshot(&slot) });
    let mut resolver = Resolver::new(sink.clone());
    if snapshot(&slot).host.is_none() {
        resolver.lookup(slot.clone(), None);
    }
    let reason: ReasonSlot = Arc::default();
    let set_reason = |r: DisconnectReason| {
        let mut g = reason.lock().unwrap_or_else(PoisonError::into_inner);
        if g.is_none() {
            *g = Some(r);
        }
    };
    let mut flow = Flow::default();
    // Over TLS this thread is the connection's only writer (see `engine::tls`): it encrypts under the
    // session's lock, then sends, so records keep rustls's order. An empty `bytes` sends only what rustls
    // has waiting (the reader's nudge).
    let send = |bytes: &[u8], flow: &mut Flow| match &session {
        None => send_traced(&sink, &stream, bytes, flow),
        Some(s) => {
            let mut cipher = Vec::new();
            s.encrypt(&[bytes], &mut cipher)?;
            if cipher.is_empty() { Ok(()) } else { send_traced(&sink, &stream, &cipher, flow) }
        }
    };
    // The name waits for the server's greeting: a server that sends none (`server.c`, a one-way
    // sockchat server) would show the `/name` line as a message.
    let mut name_line = cfg.name.as_deref().and_then(protocol::name_line);
    let (hello_tx, mut hello_rx) = crossbeam_channel::bounded::<()>(1);
    // A server that greets does so as it accepts: what the user types meanwhile waits for the name to go
    // first, at most this long (a server that never greets delays those lines by as much, once).
    let mut greet_wait = match name_line {
        Some(_) => crossbeam_channel::at(std::time::Instant::now() + GREETING_WAIT),
        None => crossbeam_channel::never(),
    };
    let mut waited = name_line.is_none();
    let mut held: Vec<String> = Vec::new();
    let mut finish_held = false;
    // The end of our sending: TLS says it itself (`close_notify`) before TCP does.
    let finish = |flow: &mut Flow| {
        if let Some(s) = &session {
            let mut bye = Vec::new();
            if s.close_notify(&mut bye).is_ok() {
                let _ = send_traced(&sink, &stream, &bye, flow);
            }
        }
        let _ = stream.shutdown(Shutdown::Write, &sink);
    };
    let send_line = |text: String, flow: &mut Flow| match send(&encode_line(&text), flow) {
        Ok(()) => sink.message(Origin::Local { to: None }, text, false),
        Err(e) => {
            sink.error(None, format!("not sent: {}", describe_io(&e)), false);
            set_reason(DisconnectReason::Error(describe_io(&e)));
            let _ = stream.shutdown(Shutdown::Both, &sink);
        }
    };

    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    let (nudge_tx, nudge_rx) = crossbeam_channel::bounded::<()>(1);
    let reader = {
        let (sink, slot, reason, max, rs) =
            (sink.clone(), slot.clone(), reason.clone(), cfg.max_line, stream.clone());
        let tls = session.clone().map(|s| (s, nudge_tx));
        std::thread::Builder::new().name("sockchat-client-r".into()).spawn(move || {
            read_loop(&rs, &sink, &slot, &reason, max, tls, &hello_tx);
            drop(done_tx);
        })
    };
    let rec = sink.call("pthread_create", Lane::Conn(0), None, stream.peer(), || {
        format!("sockchat-client-r: reads fd {}", stream.fd().unwrap_or(-1))
    });
    sink.ended(rec, &reader, |_| "0".into());
    let reader = match reader {
        Ok(h) => h,
        Err(e) => {
            let _ = stream.shutdown(Shutdown::Both, &sink);
            return sink.error(None, format!("cannot start reader: {e}"), true);
        }
    };

    loop {
        select! {
            recv(cmds) -> c => match c {
                Ok(Command::Send { text, .. }) => {
                    let text = one_line(&text).into_owned();
                    if name_line.is_some() && !waited {
                        // The name must go first: hold the line until the greeting or the wait ends.
                        held.push(text);
                    } else {
                        send_line(text, &mut flow);
                    }
                }
                // Lines held for the greeting go before the end of our sending.
                Ok(Command::Finish) if !waited => finish_held = true,
                Ok(Command::Finish) => finish(&mut flow),
                Ok(Command::Disconnect(_) | Command::Trust(_)) => {}
                Ok(Command::ProbeTcp) => {
                    let conns = vec![super::tcpinfo::probe(&stream, crate::calls::Lane::Conn(0))];
                    sink.emit(Event::Tcp { time: model::now(), conns });
                }
                Ok(Command::Stop) | Err(_) => {
                    // A reader waiting for the user to catch up gives up rather than holding the stop.
                    sink.close();
                    set_reason(DisconnectReason::ByUs);
                    let _ = stream.shutdown(Shutdown::Both, &sink);
                    break;
                }
            },
            recv(hello_rx) -> h => {
                hello_rx = crossbeam_channel::never();
                if let (Ok(()), Some(line)) = (h, name_line.take())
                    && let Err(e) = send(&encode_line(&line), &mut flow)
                {
                    set_reason(DisconnectReason::Error(describe_io(&e)));
                    let _ = stream.shutdown(Shutdown::Both, &sink);
                }
                waited = true;
                greet_wait = crossbeam_channel::never();
                for text in std::mem::take(&mut held) {
                    send_line(text, &mut flow);
                }
                if finish_held {
                    finish(&mut flow);
                }
            }
            recv(greet_wait) -> _ => {
                greet_wait = crossbeam_channel::never();
                waited = true;
                if let Some(line) = &name_line {
                    sink.error(None, format!(
                        "your name was not sent: this server has not said it understands names (a one-way \
                         sockchat server or a plain one such as server.c would show `{line}` as a message); \
                         it shows you by host and port"
                    ), false);
                }
                for text in std::mem::take(&mut held) {
                    send_line(text, &mut flow);
                }
                if finish_held {
                    finish(&mut flow);
                }
            }
            recv(nudge_rx) -> _ => {
                let _ = send(&[], &mut flow);
            }
            recv(done_rx) -> _ => break,
        }
    }
    flow.flush(&sink);
    let _ = reader.join();
    resolver.stop();
}

/// `write_all` of one line, each `send` it takes recorded (a long line can take several).
pub(super) fn send_traced(
    sink: &EventSink,
    stream: &Sock,
    mut bytes: &[u8],
    flow: &mut Flow,
) -> std::io::Result<()> {
    let mut out: &TcpStream = stream;
    while !bytes.is_empty() {
        let rec = if flow.admit(sink) {
            let (fd, n) = (stream.fd().unwrap_or(-1), bytes.len());
            sink.call("send", stream.lane(), stream.fd(), stream.peer(), || format!("fd {fd}, {n} bytes"))
        } else {
            None
        };
        let res = out.write(bytes);
        match rec {
            Some(mut r) => {
                let n = *res.as_ref().unwrap_or(&0);
                r.data = Some(bytes[..n].into());
                sink.ended(Some(r), &res, |n| format!("{n}"));
            }
            None if sink.tracing() => {
                flow.add(
                    "send",
                    stream.fd().unwrap_or(-1),
                    stream.peer(),
                    stream.lane(),
                    *res.as_ref().unwrap_or(&0),
                );
            }
            None => {}
        }
        match res {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Ids for the original senders of relayed lines, one per sender address, so a `--json` reader can tell
/// them apart. They count from 1 (0 is the server itself) and are kept while we are connected, for up to
/// [`RelayIds::KEPT`] senders: past that the sender seen first gives its id to the new one, so a server
/// inventing addresses cannot grow our memory (or a terminal's label cache) without bound.
#[derive(Default)]
struct RelayIds {
    ids: HashMap<SocketAddr, PeerId>,
    order: VecDeque<SocketAddr>,
}

impl RelayIds {
    const KEPT: usize = 4096;

    fn id(&mut self, addr: SocketAddr) -> PeerId {
        if let Some(&id) = self.ids.get(&addr) {
            return id;
        }
        let id = if self.order.len() >= Self::KEPT {
            self.order.pop_front().and_then(|old| self.ids.remove(&old)).unwrap_or(1)
        } else {
            self.order.len() as PeerId + 1
        };
        self.ids.insert(addr, id);
        self.order.push_back(addr);
        id
    }
}

fn read_loop(
    stream: &Sock,
    sink: &EventSink,
    slot: &PeerSlot,
    reason: &ReasonSlot,
    max: usize,
    tls: Option<(Arc<Session>, crossbeam_channel::Sender<()>)>,
    hello: &crossbeam_channel::Sender<()>,
) {
    // TLS: the plaintext of one read (`buf` holds its ciphertext).
    let mut plain = Vec::new();
    // Relayed lines carry the room's label too, and text the server escaped: a line it accepted whole must
    // not be cut here.
    let mut dec = LineDecoder::new(protocol::relayed_line_limit(max));
    let mut buf = vec![0u8; 16 * 1024];
    let mut run: Option<LineBatch> = None;
    let mut ids = RelayIds::default();
    let mut flow = Flow::default();
    let mut stopped = false;
    // The server said it speaks only TLS (we spoke plain text): the reason the connection ends.
    let mut tls_only = false;
    // Only the first line can be the server's greeting; a later line that looks like one is chat.
    let mut first = true;
    let mut input: &TcpStream = stream;
    // TLS: what came with the end of the handshake is already decrypted inside rustls (the peer's first
    // records can share a segment with its Finished); it is taken before the first `recv` waits.
    let mut handshake_rest = tls.is_some();
    let end = loop {
        let read = if std::mem::take(&mut handshake_rest) {
            Ok(None)
        } else {
            trace::recv(sink, stream, &mut input, &mut buf, &mut flow).map(Some)
        };
        match read {
            Ok(Some(0)) => break DisconnectReason::Closed,
            Ok(n) => {
                let n = n.unwrap_or(0);
                let (data, tls_closed) = match &tls {
                    None => (&buf[..n], false),
                    Some((session, nudge)) => match session.read_step(&buf[..n], &mut plain, || {
                        let _ = nudge.try_send(());
                    }) {
                        Ok(closed) => (&plain[..], closed),
                        Err(e) => break DisconnectReason::Error(e.to_string()),
                    },
                };
                let time = model::now();
                dec.feed(data, &mut |l| {
                    if l.text == protocol::STOPPING_NOTICE {
                        stopped = true;
                    } else if l.text == protocol::TLS_ONLY_NOTICE {
                        tls_only = true;
                    } else if std::mem::take(&mut first) && protocol::is_greeting(&l.text) {
                        let _ = hello.try_send(());
                    } else {
                        on_line(sink, slot, time, &mut run, &mut ids, l);
                    }
                });
                flush(sink, &mut run);
                if tls_closed {
                    break DisconnectReason::Closed;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break DisconnectReason::Error(describe_io(&e)),
        }
    };
    flow.flush(sink);
    let time = model::now();
    dec.finish(&mut |l| on_line(sink, slot, time, &mut run, &mut ids, l));
    flush(sink, &mut run);
    let end = match end {
        DisconnectReason::Closed | DisconnectReason::Error(_) if stopped => DisconnectReason::ServerStopped,
        DisconnectReason::Closed | DisconnectReason::Error(_) if tls_only => DisconnectReason::Policy(
            "the server uses TLS (encryption); connect again with --tls, or with Encrypt on in the window"
                .into(),
        ),
        e => e,
    };
    let why = reason.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap_or(end);
    sink.emit(Event::Disconnected { time: model::now(), peer: snapshot(slot), reason: why });
}

/// Adds a received line to the batch being gathered: one batch per run of lines from the same sender
/// within a read (a room relays a read's worth of one client's lines together), as the server does.
fn on_line(
    sink: &EventSink,
    slot: &PeerSlot,
    time: time::OffsetDateTime,
    run: &mut Option<LineBatch>,
    ids: &mut RelayIds,
    line: crate::codec::Line,
) {
    let text = match protocol::parse_relay(&line.text) {
        Some(r) => {
            let same = run.as_ref().is_some_and(|b| {
                b.relayed && b.from.addr == r.addr && b.from.host == r.host && b.from.name == r.name
            });
            if !same {
                flush(sink, run);
                let mut p = Peer::new(ids.id(canonical(r.addr)), r.addr);
                p.host = r.host;
                p.name = r.name;
                *run = Some(LineBatch::new(0, time, Arc::new(p), true));
            }
            r.text
        }
        None => {
            // The server's own line: to everyone, or to us only.
            let (text, private) = match protocol::parse_private(&line.text) {
                Some(t) => (t, true),
                None => (line.text.as_str(), false),
            };
            if run.as_ref().is_none_or(|b| b.relayed || b.private != private) {
                flush(sink, run);
                let mut b = LineBatch::new(0, time, snapshot(slot), false);
                b.private = private;
                *run = Some(b);
            }
            text
        }
    };
    if let Some(b) = run {
        b.push(text, line.truncated);
    }
}

/// Sends the batch being gathered, numbered now that its size is known.
fn flush(sink: &EventSink, run: &mut Option<LineBatch>) {
    if let Some(mut b) = run.take() {
        b.first_seq = sink.reserve_seq(b.len());
        sink.lines(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_senders_keep_their_ids_and_memory_stays_bounded() {
        let mut ids = RelayIds::default();
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "[::1]:1000".parse().unwrap();
        let (ia, ib) = (ids.id(a), ids.id(b));
        assert!(ia != 0 && ib != 0 && ia != ib);
        assert_eq!((ids.id(a), ids.id(b)), (ia, ib));
        for port in 0..(RelayIds::KEPT as u16 * 2) {
            let id = ids.id(SocketAddr::new([10, 0, 0, 1].into(), port));
            assert!((1..=RelayIds::KEPT as PeerId).contains(&id));
        }
        assert_eq!(ids.ids.len(), RelayIds::KEPT);
        assert_eq!(ids.order.len(), RelayIds::KEPT);
    }
}
