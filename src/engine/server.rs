//! The server: one accept thread, and a reader and a writer thread per client.
//!
//! Outgoing lines never block the thread that sends them: they go straight into the client's socket when
//! it has room and its writer is idle, otherwise into a queue per client bounded in bytes, which the
//! client's writer thread drains. A client that stops reading is closed (queue full, or no byte accepted
//! within the send timeout) instead of stalling the accept loop, the relay, or the window.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::discovery::{self, Announcer, ClientCount};
use super::fdlimit::{self, Throttle};
use super::interfaces;
use super::limits::{self, Over, RateLimit, Verdict};
use super::names::Names;
use super::outgoing::{Bytes, Client, ReasonSlot, write_loop};
use super::setup::{self, SetupError};
use super::tcpinfo;
use super::tls::{self, Session};
use super::trace::{self, Flow, Sock, fd_of};
use super::{Command, EventSink, Mode, PeerSlot, Resolver, ServerConfig, snapshot, update_peer, wake_addr};
use crate::addr;
use crate::calls::Lane;
use crate::codec::{self, LineDecoder, encode_line, one_line};
use crate::model::{self, DisconnectReason, Event, LineBatch, Origin, Peer, PeerId, Target, canonical};
use crate::protocol;

mod accept;

use accept::{Listener, accept_loop};

/// Socket errors in the words a user expects.
pub(crate) fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        io::ErrorKind::ConnectionAborted => "connection aborted".into(),
        io::ErrorKind::BrokenPipe => "broken pipe (peer went away)".into(),
        _ => e.to_string(),
    }
}

#[derive(Default)]
struct State {
    stopping: bool,
    clients: HashMap<PeerId, Client>,
    names: Names,
    /// Connections per address, for `max_per_address`; an address leaves the map with its last one.
    per_addr: HashMap<IpAddr, usize>,
    /// The LAN announcement's client count, when announcing.
    count: Option<ClientCount>,
    /// TLS: connections still in their handshake. They count towards the server's and their address's
    /// limits (in `per_addr` too), so a crowd of unfinished handshakes cannot get past them.
    pending: usize,
}

impl State {
    fn insert(&mut self, id: PeerId, c: Client) {
        *self.per_addr.entry(c.ip).or_default() += 1;
        self.clients.insert(id, c);
        self.count_changed();
    }

    fn count_changed(&self) {
        if let Some(c) = &self.count {
            c.set(self.clients.len());
        }
    }

    fn remove(&mut self, id: PeerId) -> Option<Client> {
        let c = self.clients.remove(&id)?;
        self.leave(c.ip);
        self.count_changed();
        Some(c)
    }

    fn leave(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_addr.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_addr.remove(&ip);
            }
        }
    }

    /// A TLS connection starts its handshake: it holds a place from now on.
    fn reserve(&mut self, ip: IpAddr) {
        *self.per_addr.entry(ip).or_default() += 1;
        self.pending += 1;
    }

    /// Its handshake is over (done or failed): the place is given back (and taken again by `insert`).
    fn unreserve(&mut self, ip: IpAddr) {
        self.pending = self.pending.saturating_sub(1);
        self.leave(ip);
    }
}

struct Shared {
    cfg: ServerConfig,
    sink: EventSink,
    state: RwLock<State>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_id: AtomicU64,
    resolver: Mutex<Resolver>,
    announcer: Mutex<Option<Announcer>>,
    /// Serving TLS: the rustls config every connection's handshake starts from.
    tls: Option<Arc<rustls::ServerConfig>>,
}

pub(super) fn run(cfg: ServerConfig, sink: EventSink, cmds: Receiver<Command>) {
    let hp = match addr::parse_host_port(&cfg.addr) {
        Ok(hp) => hp,
        Err(e) => return sink.error(None, format!("bad listen address '{}': {e}", cfg.addr), true),
    };
    // Before listening: a certificate that cannot be read or made is fatal, and says why.
    let cert = match cfg.tls.as_ref().map(tls::cert::load).transpose() {
        Ok(c) => c,
        Err(e) => return sink.error(None, format!("TLS: {e}"), true),
    };
    let listener = match setup::listen(&hp, &sink) {
        Ok(l) => Arc::new(Listener { l, sink: sink.tracing().then(|| sink.clone()) }),
        Err(SetupError::Failed(e)) => return sink.error(None, e, true),
        Err(SetupError::Stopped) => return,
    };
    let local = match listener.l.local_addr() {
        Ok(a) => a,
        Err(e) => return sink.error(None, format!("cannot use listening socket: {e}"), true),
    };
    let wake_handle = listener.clone();
    let fds = fdlimit::raise();
    let addr = canonical(local);
    let addrs = interfaces::addresses_for(addr);
    let fingerprint = cert.as_ref().map(|c| c.fingerprint);
    sink.emit(Event::Listening { time: model::now(), addr, addrs, fds, tls: fingerprint });
    if let Some(f) = fds.filter(|f| f.clients < cfg.max_clients as u64) {
        let (max, fit, limit) = (cfg.max_clients, f.clients, f.limit);
        let text = format!(
            "up to {max} clients are allowed, but the open-file limit ({limit}) leaves room for about {fit}: \
             raise the hard limit (ulimit -Hn) or allow fewer clients"
        );
        sink.error(None, text, false);
    }
    if cfg.announce.is_some() && !discovery::reachable_from_lan(local) {
        let text = format!(
            "not announced on the network: this server listens on {} only, which other machines cannot \
             reach; listen on every interface (or this machine's address) to be found",
            addr.ip()
        );
        sink.error(None, text, false);
    }
    let announcer = cfg
        .announce
        .as_ref()
        .filter(|_| discovery::reachable_from_lan(local))
        .map(|a| Announcer::start(a, local, cfg.mode, cert.is_some(), sink.clone()));
    let count = announcer.as_ref().map(Announcer::count);
    let shared = Arc::new(Shared {
        resolver: Mutex::new(Resolver::new(sink.clone())),
        announcer: Mutex::new(announcer),
        tls: cert.map(|c| c.config),
        cfg,
        sink,
        state: RwLock::new(State { count, ..State::default() }),
        threads: Mutex::new(Vec::new()),
        next_id: AtomicU64::new(1),
    });
    let acceptor = {
        let sh = shared.clone();
        std::thread::Builder::new().name("sockchat-accept".into()).spawn(move || accept_loop(&sh, &listener))
    };
    let acceptor = match acceptor {
        Ok(h) => Some(h),
        Err(e) => {
            shared.sink.error(None, format!("cannot start accept thread: {e}"), true);
            None
        }
    };
    if acceptor.is_some() {
        for c in &cmds {
            match c {
                Command::Send { to, text } => shared.send(to, &text),
                Command::Disconnect(id) => shared.disconnect(id),
                Command::Finish | Command::Trust(_) => {}
                Command::ProbeTcp => shared.probe_tcp(),
                Command::Stop => break,
            }
        }
    }
    shared.stop(acceptor, &wake_handle, local);
}

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_loop(
        &self,
        id: PeerId,
        stream: &Sock,
        slot: &PeerSlot,
        reason: &ReasonSlot,
        mut name_wait: Option<Receiver<()>>,
        tls: Option<(Arc<Session>, crossbeam_channel::Sender<Bytes>)>,
    ) {
        let mut dec = LineDecoder::new(self.cfg.max_line);
        // TLS: the plaintext of one read (`buf` holds its ciphertext).
        let mut plain = Vec::new();
        let mut buf = vec![0u8; READ_BUF];
        let mut bucket = match self.cfg.mode {
            Mode::Room => RateLimit::new(self.cfg.room_rate, self.cfg.room_byte_rate),
            _ => None,
        };
        // Room mode: this read's relay lines, queued to the others as one piece after the read is decoded.
        let mut relay = Vec::new();
        let mut lines_per_read = 0;
        let owner = self.sink.owner();
        // The idle timeout runs from the last line said, not the last byte: a client trickling an
        // unfinished line a byte at a time is as idle as a silent one.
        let idle = self.cfg.idle_timeout;
        let mut deadline = idle.map(|d| Instant::now() + d);
        let mut flow = Flow::default();
        let mut input: &TcpStream = stream;
        // TLS: what came with the end of the handshake is already decrypted inside rustls (a client's
        // first line can share a segment with its Finished); it is taken before the first `recv` waits.
        let mut handshake_rest = tls.is_some();
        let end = loop {
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break DisconnectReason::Policy(limits::idle_reason(idle.unwrap_or_default()));
                }
                let _ = stream.set_read_timeout(Some(left));
            }
            let read = if std::mem::take(&mut handshake_rest) {
                Ok(None)
            } else {
                trace::recv(&self.sink, stream, &mut input, &mut buf, &mut flow).map(Some)
            };
            match read {
                Ok(Some(0)) => break DisconnectReason::Closed,
                Ok(n) => {
                    let n = n.unwrap_or(0);
                    let (data, tls_closed) = match &tls {
                        None => (&buf[..n], false),
                        // An empty entry: the writer takes out what rustls has to send.
                        Some((session, nudge)) => match session.read_step(&buf[..n], &mut plain, || {
                            let _ = nudge.send(Bytes::from(&[][..]));
                        }) {
                            Ok(closed) => (&plain[..], closed),
                            Err(e) => break DisconnectReason::Error(e.to_string()),
                        },
                    };
                    if let Some(rx) = name_wait.take() {
                        // Answered or given up (the channel closes) or too slow: go on either way.
                        let _ = rx.recv_timeout(NAME_WAIT);
                    }
                    // One clock reading, one peer snapshot and one event per read, not per line: ingest
                    // profiles showed the clock, the snapshot's lock and the per-line channel send among
                    // the reader threads' top costs. Lines of one read arrived together anyway.
                    let mut at = ReadCtx::new(slot, &owner, n, lines_per_read);
                    let (watch, mut said) = (deadline.is_some(), false);
                    dec.feed_raw(data, &mut |line, cut| {
                        said |= watch && limits::says_something(line);
                        self.on_line(slot, &mut at, line, cut, &mut bucket, &mut relay)
                    });
                    lines_per_read = at.batch.len();
                    self.flush_lines(&mut at);
                    self.flush_relay(&mut relay, id);
                    if tls_closed {
                        // close_notify: the client's end of data, as end of file is over plain TCP.
                        break DisconnectReason::Closed;
                    }
                    // After the flush, which may have waited for the user to catch up: that wait is the
                    // server's, not the client's, so it does not count as idle time.
                    if said {
                        deadline = idle.map(|d| Instant::now() + d);
                    }
                    if n == buf.len() && n < READ_BUF_MAX {
                        buf.resize(n * 2, 0);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The deadline, checked at the top of the loop.
                Err(e)
                    if deadline.is_some()
                        && matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) => break DisconnectReason::Error(describe_io(&e)),
            }
        };
        flow.flush(&self.sink);
        let mut at = ReadCtx::new(slot, &owner, 0, 0);
        let mut said = false;
        dec.finish_raw(&mut |line, cut| {
            said |= limits::says_something(line);
            self.on_line(slot, &mut at, line, cut, &mut bucket, &mut relay)
        });
        self.flush_lines(&mut at);
        self.flush_relay(&mut relay, id);
        // End of file after our own Disconnect or stop (its shutdown ends our reading too) is not the
        // client finishing: only a client that shut its side while we still wanted it is half-closed.
        let closing = reason.lock().unwrap_or_else(PoisonError::into_inner).is_some();
        let end = if end == DisconnectReason::Closed && self.cfg.mode.server_can_send() && !closing {
            if said {
                deadline = idle.map(|d| Instant::now() + d);
            }
            let peer = update_peer(slot, |p| p.done_sending = true);
            self.sink.emit_as(&owner, Event::PeerUpdated { time: model::now(), peer });
            limits::half_closed(stream, deadline, idle, reason)
        } else {
            end
        };
        if let Some(c) = self.write().remove(id) {
            let _ = c.stream.shutdown(Shutdown::Both, &self.sink);
        }
        let why = reason.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap_or(end);
        self.sink.emit(Event::Disconnected { time: model::now(), peer: snapshot(slot), reason: why });
    }

    /// Relays what one read produced in a single queue entry per client. perf of `sockchat-load relay`
    /// (50 clients x 1,000 lines) showed per-line relaying spending its time in one channel send and one
    /// writer wake-up per line per recipient (2.45 million each); per read it is about 250 lines at once.
    fn flush_relay(&self, relay: &mut Vec<u8>, from: PeerId) {
        if !relay.is_empty() {
            let bytes: Bytes = relay.as_slice().into();
            relay.clear();
            self.broadcast(&bytes, Some(from));
        }
    }

    /// Sends the lines gathered so far as one batch, numbered now that their count is known.
    fn flush_lines(&self, at: &mut ReadCtx) {
        if !at.batch.is_empty() {
            let mut batch = LineBatch::new(0, at.time, at.from.clone(), false);
            std::mem::swap(&mut batch, &mut at.batch);
            batch.first_seq = self.sink.reserve_seq(batch.len());
            // Waits here while the user is behind: this reader stops reading, and TCP slows the sender.
            self.sink.lines_as(&at.owner, batch);
        }
    }

    fn on_line(
        &self,
        slot: &PeerSlot,
        at: &mut ReadCtx,
        bytes: &[u8],
        truncated: bool,
        bucket: &mut Option<RateLimit>,
        relay: &mut Vec<u8>,
    ) {
        if !at.batch.push_with(truncated, |text| codec::push_sanitized(text, bytes)) {
            return;
        }
        let Some(text) = at.batch.last() else { return };
        if let Some(typed) = protocol::name_request(bytes) {
            // A command, not a message: the lines before it keep the old name, those after get the new one.
            at.batch.pop();
            self.flush_lines(at);
            return self.on_name(slot, at, &typed);
        }
        if self.cfg.mode == Mode::Room {
            match bucket.as_mut().map(|b| b.take(text.len() + 1)) {
                None | Some(Verdict::Pass) => {
                    let prefix = at.relay_prefix.get_or_insert_with(|| protocol::relay_prefix(&at.from));
                    protocol::push_relay_text(relay, prefix.as_bytes(), text);
                }
                Some(Verdict::Drop { warn: None }) => {}
                Some(Verdict::Drop { warn: Some(over) }) => self.warn_rate(at, over),
            }
        }
        if at.batch.text_len() >= BATCH_TEXT {
            self.flush_lines(at);
        }
    }

    /// A `/name` line: the name is taken unless a connected client has it or one like it (see [`Names`]).
    /// The client is told, with a `sockchat: ` line, when its name is refused or was changed to be kept.
    fn on_name(&self, slot: &PeerSlot, at: &mut ReadCtx, typed: &str) {
        let id = at.from.id;
        let wanted = protocol::clean_name(typed);
        let claimed = {
            let mut st = self.write();
            let State { clients, names, .. } = &mut *st;
            match &wanted {
                Some(name) => {
                    names.claim(id, name, clients.len(), |owner| clients.contains_key(&owner)).map(Some)
                }
                None => {
                    names.release(id);
                    Ok(None)
                }
            }
        };
        let note = match claimed {
            Err(why) => {
                let refused = Event::Error {
                    time: at.time,
                    peer: Some(at.from.clone()),
                    text: why.clone(),
                    fatal: false,
                };
                self.sink.emit_as(&at.owner, refused);
                format!("{why}; pick another with /name NAME")
            }
            Ok(name) => {
                let peer = update_peer(slot, |p| p.name = name.clone());
                at.from = peer.clone();
                at.batch.from = peer.clone();
                at.relay_prefix = None;
                self.sink.emit_as(&at.owner, Event::PeerUpdated { time: at.time, peer });
                match name {
                    Some(n) if n != typed.trim_matches(|c: char| c.is_whitespace() || c == '\0') => format!(
                        "your name is '{n}': names keep at most {} characters, without spaces, brackets or \
                         invisible characters",
                        protocol::MAX_NAME
                    ),
                    _ => return,
                }
            }
        };
        let note: Bytes = encode_line(&format!("sockchat: {note}")).into();
        if let Some(c) = self.read().clients.get(&id) {
            c.queue(&note, self.cfg.send_queue_bytes);
        }
    }

    /// Tells the server's user and the sender that the sender's lines are over the room's rate. The line
    /// that crossed it is still shown, after the warning, as before batching.
    fn warn_rate(&self, at: &mut ReadCtx, over: Over) {
        let line = at.batch.pop();
        self.flush_lines(at);
        let from = at.from.clone();
        let rate = match over {
            Over::Lines(n) => format!("{n} lines/s"),
            Over::Bytes(n) => format!("{n} bytes/s"),
        };
        let text = format!("over the room's rate limit ({rate}): lines shown here but not relayed");
        let warning = Event::Error { time: at.time, peer: Some(from.clone()), text, fatal: false };
        self.sink.emit_as(&at.owner, warning);
        let note: Bytes =
            encode_line(&format!("sockchat: slow down: over {rate}, your lines are not being relayed"))
                .into();
        if let Some(c) = self.read().clients.get(&from.id) {
            c.queue(&note, self.cfg.send_queue_bytes);
        }
        if let Some((text, cut)) = line {
            at.batch.push(&text, cut);
        }
    }

    /// Queues to every client but `except`; returns how many were reached.
    fn broadcast(&self, bytes: &Bytes, except: Option<PeerId>) -> usize {
        let st = self.read();
        st.clients
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, c)| c.queue(bytes, self.cfg.send_queue_bytes))
            .count()
    }

    fn send(&self, to: Target, text: &str) {
        if !self.cfg.mode.server_can_send() {
            return self.sink.error(
                None,
                "one-way mode: the server only listens; start it in duplex or room mode to send".into(),
                false,
            );
        }
        let text = one_line(text).into_owned();
        let reached = match to {
            Target::All => self.broadcast(&encode_line(&protocol::escape_own(&text)).into(), None),
            // Marked on the wire, so the client can show that only it got the line (PROTOCOL.md).
            Target::One(id) => match self.read().clients.get(&id) {
                Some(c) => {
                    let bytes: Bytes = encode_line(&protocol::private_line(&text)).into();
                    usize::from(c.queue(&bytes, self.cfg.send_queue_bytes))
                }
                None => 0,
            },
        };
        if reached == 0 {
            let who = match to {
                Target::All => "nobody is connected".to_string(),
                Target::One(id) => format!("client #{id} is not connected"),
            };
            return self.sink.error(None, format!("{who}: message not sent"), false);
        }
        self.sink.message(Origin::Local { to: Some(to) }, text, false);
    }

    fn probe_tcp(&self) {
        let mut conns: Vec<_> =
            self.read().clients.iter().map(|(id, c)| tcpinfo::probe(&c.stream, Lane::Conn(*id))).collect();
        conns.sort_by_key(|c| c.lane);
        self.sink.emit(Event::Tcp { time: model::now(), conns });
    }

    fn disconnect(&self, id: PeerId) {
        if let Some(c) = self.read().clients.get(&id) {
            c.close(DisconnectReason::ByUs);
        }
    }

    fn stop(&self, acceptor: Option<JoinHandle<()>>, listener: &Listener, local: SocketAddr) {
        // Readers waiting for the user to catch up give up now instead of holding the stop.
        self.sink.close();
        // First the goodbye, so the LAN's lists drop this server while its clients are being closed.
        if let Some(a) = self.announcer.lock().unwrap_or_else(PoisonError::into_inner).take() {
            a.stop();
        }
        {
            let mut st = self.write();
            st.stopping = true;
            // Said first, so a client can tell a stop from a crash (best effort: a client whose queue is
            // still full of lines may not get it before the close).
            let notice: Bytes = encode_line(protocol::STOPPING_NOTICE).into();
            for c in st.clients.values() {
                c.queue(&notice, self.cfg.send_queue_bytes);
                c.close(DisconnectReason::ByUs);
            }
        }
        // Wake the blocking accept: shutdown works on Linux; a connection to ourselves works everywhere.
        let res = socket2::SockRef::from(&listener.l).shutdown(Shutdown::Read);
        let fd = fd_of(&listener.l);
        let rec = self
            .sink
            .call("shutdown", Lane::Listener, fd, None, || format!("fd {}, SHUT_RD", fd.unwrap_or(-1)));
        self.sink.ended(rec, &res, |()| "0: wakes the accept() waiting on it".into());
        if acceptor.as_ref().is_some_and(|h| !h.is_finished()) {
            let _ = TcpStream::connect_timeout(&wake_addr(local), Duration::from_secs(1));
        }
        if let Some(h) = acceptor {
            let _ = h.join();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for h in threads {
            let _ = h.join();
        }
        self.resolver.lock().unwrap_or_else(PoisonError::into_inner).stop();
    }
}

/// Longest a new address's first lines wait for its reverse lookup before showing the bare IP.
const NAME_WAIT: Duration = Duration::from_millis(200);

/// Bytes asked of one `read` at first, and at most: a client whose reads fill the buffer gets a bigger one,
/// so a flood costs fewer reads and fewer, larger relay entries, while 1,000 quiet clients hold 16 KiB each.
const READ_BUF: usize = 16 * 1024;
const READ_BUF_MAX: usize = 64 * 1024;

/// A batch is sent once it holds this much text, even mid-read (a very long cut line, or many).
const BATCH_TEXT: usize = 256 * 1024;

/// What the lines of one read share, and the batch they are gathered in.
struct ReadCtx {
    time: time::OffsetDateTime,
    /// The sender as known at this read (updated by a `/name` within it).
    from: Arc<Peer>,
    batch: LineBatch,
    /// Room mode: `from`'s relay label, made at the first relayed line.
    relay_prefix: Option<String>,
    /// This reader's share of what may wait for the user.
    owner: Arc<super::Owner>,
}

impl ReadCtx {
    /// For a read of `bytes`; `lines` is a guess at its line count (the last read's) to size the batch.
    fn new(slot: &PeerSlot, owner: &Arc<super::Owner>, bytes: usize, lines: usize) -> Self {
        let time = model::now();
        let from = snapshot(slot);
        let batch = LineBatch::new(0, time, from.clone(), false).with_capacity(bytes, lines);
        ReadCtx { time, from, batch, relay_prefix: None, owner: owner.clone() }
    }
}
