//! The accept side of the server: the listening socket, the accept loop, and taking a connection in (or
//! turning it away) with its reader and writer threads.

use super::*;

/// The listening socket, shared by the accept thread and the stop that wakes it; its `close` is recorded
/// when both have let go.
pub(super) struct Listener {
    pub(super) l: TcpListener,
    /// Only while tracing (a sink kept here would otherwise hold the event channel open).
    pub(super) sink: Option<EventSink>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(sink) = &self.sink {
            let fd = fd_of(&self.l);
            let rec = sink.call("close", Lane::Listener, fd, None, || format!("fd {}", fd.unwrap_or(-1)));
            sink.returned(rec, || "0".into());
        }
    }
}

pub(super) fn accept_loop(sh: &Arc<Shared>, listener: &Listener) {
    // Out of descriptors, accept fails on every try until a client leaves: say so once a second, not ten.
    let mut shortage = Throttle::new(Duration::from_secs(1));
    let fd = fd_of(&listener.l);
    loop {
        let mut rec = sh.sink.call("accept", Lane::Listener, fd, None, || format!("fd {}", fd.unwrap_or(-1)));
        if !sh.sink.pause(&rec) {
            break;
        }
        sh.sink.waiting(&mut rec);
        let res = listener.l.accept();
        sh.sink.ended(rec, &res, |(s, a)| format!("fd {} from {}", fd_of(s).unwrap_or(-1), canonical(*a)));
        if sh.read().stopping {
            break;
        }
        match res {
            Ok((stream, addr)) => sh.admit(stream, canonical(addr)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if fdlimit::is_shortage(&e) => {
                if let Some(held) = shortage.hit(Instant::now()) {
                    let more = if held > 0 {
                        format!(" ({held} more since the last report)")
                    } else {
                        String::new()
                    };
                    let text = format!("accept failed: {e}: out of file descriptors, new clients wait{more}");
                    sh.sink.error(None, text, false);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => {
                sh.sink.error(None, format!("accept failed: {e}"), false);
                // Out of file descriptors and the like: back off rather than spin on the error.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Shared {
    fn refuse(&self, addr: SocketAddr, reason: String) {
        self.sink.emit(Event::Refused { time: model::now(), addr, reason });
    }

    fn admit(self: &Arc<Self>, stream: TcpStream, addr: SocketAddr) {
        if let Some(why) = self.cfg.access.check(addr.ip()) {
            // Closed at once; the trace shows the close on the listener's lane (it never became a client).
            drop(Sock::new(stream, Lane::Listener, &self.sink));
            return self.refuse(addr, why.into());
        }
        let mut st = self.write();
        if st.stopping {
            return;
        }
        let per_addr = self.cfg.max_per_address;
        let full = if st.per_addr.get(&addr.ip()).is_some_and(|n| *n >= per_addr) {
            Some((
                format!("too many connections from your address ({per_addr}), close one and try again"),
                format!("too many connections from this address ({per_addr})"),
            ))
        } else if st.clients.len() + st.pending >= self.cfg.max_clients {
            let max = self.cfg.max_clients;
            Some((
                format!("server full ({max} clients), try again later"),
                format!("server full ({max} clients)"),
            ))
        } else {
            None
        };
        if let Some((notice, why)) = full {
            drop(st);
            let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
            let sock = Sock::new(stream, Lane::Listener, &self.sink);
            let notice = format!("sockchat: {notice}\n");
            let fd = sock.fd().unwrap_or(-1);
            let rec = self.sink.call("send", Lane::Listener, sock.fd(), Some(addr), || {
                format!("fd {fd}, {} bytes", notice.len())
            });
            let mut out: &TcpStream = &sock;
            let sent = out.write_all(notice.as_bytes());
            self.sink.ended(rec, &sent, |()| notice.len().to_string());
            let _ = sock.shutdown(Shutdown::Both, &self.sink);
            drop(sock);
            return self.refuse(addr, why);
        }
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(self.cfg.send_timeout));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // One descriptor for the reader and the writer, as in server.c.
        let stream = Sock::new(stream, Lane::Conn(id), &self.sink);
        if let Some(config) = &self.tls {
            // The handshake runs on the connection's own thread (its reader-to-be), never here: a
            // client that never finishes it holds up nobody but itself, until the timeout.
            st.reserve(addr.ip());
            drop(st);
            let (sh, config, sock) = (self.clone(), config.clone(), stream.clone());
            let reader = std::thread::Builder::new()
                .name(format!("sockchat-r{id}"))
                .spawn(move || sh.handshake(id, sock, addr, config));
            let fd = stream.fd().unwrap_or(-1);
            let rec = self.sink.call("pthread_create", Lane::Conn(id), None, Some(addr), || {
                format!("sockchat-r{id}: TLS handshake, then reads fd {fd}")
            });
            self.sink.ended(rec, &reader, |_| "0".into());
            match reader {
                Ok(r) => self.keep_thread(r),
                Err(e) => {
                    self.write().unreserve(addr.ip());
                    let _ = stream.shutdown(Shutdown::Both, &self.sink);
                    self.refuse(addr, format!("cannot start thread: {e}"));
                }
            }
            return;
        }
        if let Some(r) = self.enter(st, id, stream, addr, None) {
            let sh = self.clone();
            let reader = std::thread::Builder::new()
                .name(format!("sockchat-r{id}"))
                .spawn(move || sh.read_loop(id, &r.stream, &r.slot, &r.reason, r.name_wait, None));
            self.started(id, addr, "r", &reader);
            match reader {
                Ok(r) => self.keep_thread(r),
                Err(e) => self.no_reader(id, e),
            }
        }
    }

    /// A TLS client's thread: the handshake (bounded by `tls::HANDSHAKE_TIMEOUT`), then its reading.
    fn handshake(
        self: &Arc<Self>,
        id: PeerId,
        sock: Arc<Sock>,
        addr: SocketAddr,
        config: Arc<rustls::ServerConfig>,
    ) {
        let deadline = Instant::now() + tls::HANDSHAKE_TIMEOUT;
        let done = rustls::ServerConnection::new(config)
            .map(rustls::Connection::Server)
            .map_err(|e| tls::handshake::Failed::Tls { error: e, first: Vec::new() })
            .and_then(|mut conn| tls::handshake::run(&mut conn, &sock, &self.sink, deadline).map(|()| conn));
        let conn = match done {
            Ok(c) => c,
            Err(f) => {
                self.write().unreserve(addr.ip());
                if let tls::handshake::Failed::Timeout { first } | tls::handshake::Failed::Tls { first, .. } =
                    &f
                    && tls::handshake::plain_text(first).is_some()
                {
                    // A plain client shows lines from the server: this one tells its user what to do.
                    let _ = sock.set_write_timeout(Some(Duration::from_millis(200)));
                    let note = format!("{}\n", crate::protocol::TLS_ONLY_NOTICE);
                    let _ = super::super::client::send_traced(
                        &self.sink,
                        &sock,
                        note.as_bytes(),
                        &mut Flow::default(),
                    );
                }
                let _ = sock.shutdown(Shutdown::Both, &self.sink);
                if !matches!(f, tls::handshake::Failed::Stopped) {
                    self.refuse(addr, tls::handshake::server_words(&f));
                }
                return;
            }
        };
        let info = tls::info(&conn, None);
        let session = Arc::new(Session::new(conn));
        let mut st = self.write();
        st.unreserve(addr.ip());
        if let Some(r) = self.enter(st, id, sock, addr, Some((session, info))) {
            self.read_loop(id, &r.stream, &r.slot, &r.reason, r.name_wait, r.tls);
        }
    }

    fn started(&self, id: PeerId, addr: SocketAddr, role: &str, r: &std::io::Result<JoinHandle<()>>) {
        let fd = self.read().clients.get(&id).and_then(|c| c.stream.fd()).unwrap_or(-1);
        let rec = self.sink.call("pthread_create", Lane::Conn(id), None, Some(addr), || {
            format!("sockchat-{role}{id}: {}s fd {fd}", if role == "r" { "read" } else { "write" })
        });
        self.sink.ended(rec, r, |_| "0".into());
    }

    /// No reader to report the end, so it is reported here; dropping the queue ends the writer.
    fn no_reader(&self, id: PeerId, e: std::io::Error) {
        let why = DisconnectReason::Error(format!("cannot start thread: {e}"));
        if let Some(c) = self.write().remove(id) {
            let _ = c.stream.shutdown(Shutdown::Both, &self.sink);
            let peer = snapshot(&c.slot);
            self.sink.emit(Event::Disconnected { time: model::now(), peer, reason: why });
        }
    }

    /// Makes a connection a client (under the state's lock `st`, taken with its checks): registers it,
    /// says `Connected`, starts its writer and its name lookup. Returns what its reader needs.
    fn enter(
        self: &Arc<Self>,
        mut st: std::sync::RwLockWriteGuard<'_, State>,
        id: PeerId,
        stream: Arc<Sock>,
        addr: SocketAddr,
        tls: Option<(Arc<Session>, crate::trust::TlsInfo)>,
    ) -> Option<Reader> {
        if st.stopping {
            drop(st);
            let _ = stream.shutdown(Shutdown::Both, &self.sink);
            return None;
        }
        let (session, info) = tls.map_or((None, None), |(s, i)| (Some(s), Some(i)));
        let writer_stream = stream.clone();
        let mut peer = Peer::new(id, addr);
        peer.tls = info;
        let known = self.resolver.lock().unwrap_or_else(PoisonError::into_inner).cached(addr.ip());
        if let Some(host) = known.clone() {
            peer.host = host;
        }
        let slot: PeerSlot = Arc::new(Mutex::new(Arc::new(peer)));
        let reason: ReasonSlot = Arc::default();
        let (tx, rx) = crossbeam_channel::unbounded();
        let queued = Arc::new(AtomicUsize::new(0));
        let nudge = session.as_ref().map(|s| (s.clone(), tx.clone()));
        let client = Client {
            out: tx,
            queued: queued.clone(),
            sending: Mutex::new(Flow::default()),
            stream: stream.clone(),
            sink: self.sink.clone(),
            reason: reason.clone(),
            ip: addr.ip(),
            tls: session.clone(),
            slot: slot.clone(),
        };
        // First in the queue, before any line another client or the user sends to this one.
        if self.cfg.greet && self.cfg.mode != Mode::OneWay {
            let hello: Bytes = encode_line(&protocol::greeting(self.cfg.mode.label())).into();
            client.queue(&hello, self.cfg.send_queue_bytes);
        }
        st.insert(id, client);
        drop(st);
        // Connected goes out before the reader exists, so it precedes every message of this peer; and
        // after the lock is let go, since it may wait for room when the user is behind.
        self.sink.emit(Event::Connected { time: model::now(), peer: snapshot(&slot) });

        // A new address's first lines wait briefly for its host name, as the C server's `getnameinfo` after
        // `accept` does; later connections from it find the name cached.
        let (answered, name_wait) = match &known {
            Some(_) => (None, None),
            None => {
                let (tx, rx) = crossbeam_channel::bounded::<()>(0);
                (Some(tx), Some(rx))
            }
        };
        let timeout = self.cfg.send_timeout;
        let w_reason = reason.clone();
        let w_sink = self.sink.clone();
        let writer = std::thread::Builder::new().name(format!("sockchat-w{id}")).spawn(move || {
            write_loop(&rx, &queued, &writer_stream, &w_reason, timeout, &w_sink, session.as_deref())
        });
        self.started(id, addr, "w", &writer);
        match writer {
            Ok(w) => self.keep_thread(w),
            Err(e) => {
                self.no_reader(id, e);
                return None;
            }
        }
        if known.is_none() {
            self.resolver.lock().unwrap_or_else(PoisonError::into_inner).lookup(slot.clone(), answered);
        }
        Some(Reader { stream, slot, reason, name_wait, tls: nudge })
    }

    fn keep_thread(&self, h: JoinHandle<()>) {
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        threads.retain(|h| !h.is_finished());
        threads.push(h);
    }
}

/// What a client's reader needs, from [`Shared::enter`].
pub(super) struct Reader {
    stream: Arc<Sock>,
    slot: PeerSlot,
    reason: ReasonSlot,
    name_wait: Option<Receiver<()>>,
    tls: Option<(Arc<Session>, crossbeam_channel::Sender<Bytes>)>,
}
