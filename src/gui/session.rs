//! One running server or client as the window sees it: the engine handle, what it has said so far, and
//! the few commands the window sends it. No sockets here; the engine's threads do all the waiting.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use crossbeam_channel::TryRecvError;
use time::OffsetDateTime;

use super::calls::CallLog;
use super::chat::ChatLog;
use crate::engine::{ClientConfig, Command, Engine, Mode, ServerConfig, Step, TraceMode, Waker};
use crate::log::EventLog;
use crate::model::{DisconnectReason, Event, Origin, Peer, PeerId, Target};
use crate::trust::{Fingerprint, TrustAnswer};

/// What to start: the window opens with one of these from the command line or the start screen.
#[derive(Debug, Clone)]
pub enum StartRequest {
    Server(ServerConfig),
    Client(ClientConfig),
}

impl StartRequest {
    pub fn is_server(&self) -> bool {
        matches!(self, StartRequest::Server(_))
    }

    pub fn addr(&self) -> &str {
        match self {
            StartRequest::Server(c) => &c.addr,
            StartRequest::Client(c) => &c.addr,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Binding or connecting.
    Starting,
    /// Listening (server) or connected (client).
    Live,
    /// Stop asked for; waiting for the engine to close its sockets.
    Stopping,
    /// The engine has ended; why, in words.
    Ended(String),
}

/// A connected client as the server's list shows it.
#[derive(Debug, Clone)]
pub struct ClientEntry {
    pub peer: Arc<Peer>,
    pub since: OffsetDateTime,
}

/// Most departed clients' cards kept in place at once (see [`Session::departed`]).
const DEPARTED_KEPT: usize = 256;

/// Most events handled per frame, so a flood cannot stall a frame; the rest wait for the next one.
const EVENTS_PER_FRAME: usize = 20_000;

pub struct Session {
    pub request: StartRequest,
    /// Messages received from peers this session, for the unread count in the title.
    pub received: u64,
    engine: Option<Engine>,
    wake: Option<Waker>,
    pub phase: Phase,
    /// Reached `Live` at least once: failures after that stay in the chat view, not the start screen.
    pub ever_live: bool,
    /// The server's actual listening address (port 0 resolved).
    pub local_addr: Option<SocketAddr>,
    /// Server: the addresses clients can reach it at, for the banner (`Event::Listening`'s `addrs`).
    pub reachable: Vec<SocketAddr>,
    /// Client: the server we are connected to.
    pub server: Option<Arc<Peer>>,
    /// Server: clients connected now, in arrival order.
    pub clients: BTreeMap<PeerId, ClientEntry>,
    /// Server: clients that left while the pointer was over the client list. Their cards stay in place,
    /// greyed, so the next Disconnect button does not slide under the cursor; the list lets them go
    /// once the pointer leaves it.
    pub departed: BTreeMap<PeerId, ClientEntry>,
    /// Every peer seen, for naming message targets even after they left.
    pub known: HashMap<PeerId, Arc<Peer>>,
    pub chat: ChatLog,
    pub target: Target,
    pub draft: String,
    /// Put the keyboard focus on the send box on the next frame.
    pub focus_send: bool,
    /// The find bar (Ctrl+F) over this session's history.
    pub find: super::find::FindBar,
    /// Last fatal error or disconnect reason, shown when the engine ends.
    last_reason: Option<String>,
    log: LogState,
    /// Received lines skipped because Stop was pressed before the window took them.
    not_shown: u64,
    /// The last poll left events waiting because the log's writer was behind: poll again soon.
    pub backlogged: bool,
    /// The socket calls behind the chat, for the "Socket calls" panel (see [`super::calls`]).
    pub calls: CallLog,
    /// When the panel last asked the engine for the connections' TCP state.
    last_probe: Option<std::time::Instant>,
    /// Server, TLS: the certificate's fingerprint, for the banner (`Event::Listening`'s `tls`).
    pub fingerprint: Option<Fingerprint>,
    /// Client, TLS: the engine waits for the person's answer about this server (`host:port`) and its
    /// fingerprint (`Event::TrustAsk`); the window shows the trust dialog meanwhile.
    pub trust_ask: Option<(String, Fingerprint)>,
    /// The fatal error that ended the session, shown in full (a refused certificate says what to do).
    pub fatal_error: Option<String>,
    /// Client, TLS: the server's certificate differed from the remembered one (`Event::TrustChanged`):
    /// the start screen offers to forget the old one.
    pub trust_changed: Option<super::forget::Changed>,
    /// Tests: commands go here when there is no engine ([`Session::without_engine_tapped`]).
    tap: Option<crossbeam_channel::Sender<Command>>,
}

/// `--log FILE`: opened on a worker thread (no file work on the window's thread); events wait in
/// `Opening` until it is, and in `On`'s backlog while its writer is behind, since the window's thread never
/// waits for it (new events are not taken meanwhile, so the backlog stays short).
enum LogState {
    Off,
    Opening(crossbeam_channel::Receiver<Result<EventLog, String>>, Vec<Event>),
    On(EventLog, VecDeque<Event>),
    Failed,
}

/// Drops an engine on a worker thread: its `Drop` joins threads, which the window must not wait for.
fn reap(engine: Engine) {
    let _ = std::thread::Builder::new().name("sockchat-reap".into()).spawn(move || drop(engine));
}

impl Session {
    /// Starts the engine; `log` names a file every event is appended to as a JSON line.
    pub fn start(request: StartRequest, wake: Option<Waker>, log: Option<&std::path::Path>) -> Session {
        let mut s = Session::idle(request, wake);
        if let Some(path) = log {
            s.chat.set_log_path(Some(path.display().to_string()));
            s.open_log(path.to_path_buf());
        }
        s.launch();
        s
    }

    /// A session with no engine yet.
    fn idle(request: StartRequest, wake: Option<Waker>) -> Session {
        let mut s = Session {
            request,
            received: 0,
            engine: None,
            wake,
            phase: Phase::Starting,
            ever_live: false,
            local_addr: None,
            reachable: Vec::new(),
            server: None,
            clients: BTreeMap::new(),
            departed: BTreeMap::new(),
            known: HashMap::new(),
            chat: ChatLog::new(),
            target: Target::All,
            draft: String::new(),
            focus_send: false,
            find: Default::default(),
            last_reason: None,
            log: LogState::Off,
            not_shown: 0,
            backlogged: false,
            calls: CallLog::new(false),
            last_probe: None,
            fingerprint: None,
            trust_ask: None,
            trust_changed: None,
            fatal_error: None,
            tap: None,
        };
        s.calls.server = s.request.is_server();
        s
    }

    fn launch(&mut self) {
        self.phase = Phase::Starting;
        self.last_reason = None;
        self.trust_ask = None;
        self.fatal_error = None;
        // The window always records the calls, so the panel can be opened at any time: at the rates a
        // person chats it costs nothing to see, and a flood is merged by the engine.
        let trace = |t: TraceMode| if t == TraceMode::Off { TraceMode::On } else { t };
        self.engine = Some(match &self.request {
            StartRequest::Server(c) => {
                Engine::server(ServerConfig { trace: trace(c.trace), ..c.clone() }, self.wake.clone())
            }
            StartRequest::Client(c) => {
                Engine::client(ClientConfig { trace: trace(c.trace), ..c.clone() }, self.wake.clone())
            }
        });
    }

    /// A session fed only through [`Session::apply`], with no engine: for tests, which drive the
    /// window with made-up histories (a paused call, a split line) no network gives on demand.
    pub fn without_engine(request: StartRequest) -> Session {
        Session::idle(request, None)
    }

    /// Like [`Session::without_engine`], with the commands the window sends coming out of the receiver.
    pub fn without_engine_tapped(request: StartRequest) -> (Session, crossbeam_channel::Receiver<Command>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut s = Session::idle(request, None);
        s.tap = Some(tx);
        (s, rx)
    }

    fn command(&self, c: Command) {
        match (&self.engine, &self.tap) {
            (Some(e), _) => e.send(c),
            (None, Some(t)) => {
                let _ = t.send(c);
            }
            (None, None) => {}
        }
    }

    /// The person's answer to the trust dialog; the engine goes on (or gives up) with it.
    pub fn trust(&mut self, answer: TrustAnswer) {
        if self.trust_ask.take().is_some() {
            self.command(Command::Trust(answer));
        }
    }

    /// Started in step mode: the window shows the panel (and each paused call) from the first call.
    pub fn stepping(&self) -> bool {
        let t = match &self.request {
            StartRequest::Server(c) => c.trace,
            StartRequest::Client(c) => c.trace,
        };
        t == TraceMode::Step
    }

    /// Step mode's answer to the paused call: make it (`Next`) or stop pausing (`Run`).
    pub fn step(&mut self, s: Step) {
        if self.calls.paused().is_none() || self.calls.answered().is_some() {
            return;
        }
        self.calls.answer(s);
        if let Some(e) = &self.engine {
            e.step(s);
        }
    }

    /// Asks the engine for each connection's TCP state, at most once a second (while the panel shows).
    pub fn probe_tcp(&mut self) {
        let due = self.last_probe.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1));
        if due
            && self.phase == Phase::Live
            && let Some(e) = &self.engine
        {
            e.send(Command::ProbeTcp);
            self.last_probe = Some(std::time::Instant::now());
        }
    }

    fn open_log(&mut self, path: std::path::PathBuf) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let wake = self.wake.clone();
        let spawned = std::thread::Builder::new().name("sockchat-log-open".into()).spawn(move || {
            let r =
                EventLog::open(&path).map_err(|e| format!("cannot open log file {}: {e}", path.display()));
            let _ = tx.send(r);
            if let Some(w) = wake {
                w();
            }
        });
        self.log = match spawned {
            Ok(_) => LogState::Opening(rx, Vec::new()),
            Err(_) => LogState::Failed,
        };
    }

    fn record(&mut self, ev: &Event) {
        match &mut self.log {
            LogState::On(l, backlog) => {
                if !backlog.is_empty() || !l.try_record(ev) {
                    backlog.push_back(ev.clone());
                }
            }
            LogState::Opening(_, pending) => pending.push(ev.clone()),
            LogState::Off | LogState::Failed => {}
        }
    }

    /// Whether the log (if any) takes one more event without waiting.
    fn log_has_room(&self) -> bool {
        match &self.log {
            LogState::On(_, backlog) => backlog.is_empty(),
            // Opening takes a moment; a flood meanwhile waits in the engine rather than here.
            LogState::Opening(_, pending) => pending.len() < 10_000,
            LogState::Off | LogState::Failed => true,
        }
    }

    fn poll_log(&mut self) {
        if let LogState::On(l, backlog) = &mut self.log {
            while let Some(ev) = backlog.front() {
                if !l.try_record(ev) {
                    break;
                }
                backlog.pop_front();
            }
            return;
        }
        let LogState::Opening(rx, pending) = &mut self.log else { return };
        match rx.try_recv() {
            Ok(Ok(log)) => {
                let backlog = std::mem::take(pending).into();
                self.log = LogState::On(log, backlog);
                self.poll_log();
            }
            Ok(Err(e)) => {
                self.log = LogState::Failed;
                self.chat.set_log_path(None);
                self.chat.push_line(&format!("! {e}"));
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.log = LogState::Failed,
        }
    }

    /// Server: start again on the same address. Client: reconnect. Keeps the history.
    pub fn restart(&mut self) {
        if let Some(e) = self.engine.take() {
            e.request_stop();
            reap(e);
        }
        self.clients.clear();
        self.departed.clear();
        self.server = None;
        self.target = Target::All;
        self.calls.restarted();
        self.launch();
    }

    pub fn mode(&self) -> Option<Mode> {
        match &self.request {
            StartRequest::Server(c) => Some(c.mode),
            StartRequest::Client(_) => None,
        }
    }

    /// Whether the send box takes text now.
    pub fn can_send(&self) -> bool {
        self.phase == Phase::Live && self.mode().is_none_or(Mode::server_can_send)
    }

    /// Sends the draft (to the chosen target on a server); the engine echoes it back as our message.
    pub fn send_draft(&mut self) -> bool {
        let text = self.draft.trim_end_matches(['\r', '\n']).to_string();
        if text.is_empty() || !self.can_send() {
            return false;
        }
        if let Some(e) = &self.engine {
            e.send(Command::Send { to: self.target, text });
        }
        self.draft.clear();
        self.focus_send = true;
        true
    }

    pub fn disconnect_client(&self, id: PeerId) {
        if let Some(e) = &self.engine {
            e.send(Command::Disconnect(id));
        }
    }

    /// Stop (server) or Disconnect (client); the engine ends on its own threads.
    pub fn stop(&mut self) {
        if let Some(e) = &self.engine {
            e.request_stop();
            if self.phase != Phase::Starting {
                self.phase = Phase::Stopping;
            }
        }
    }

    /// Handles what the engine has queued; true when anything changed.
    pub fn poll(&mut self) -> bool {
        self.poll_log();
        let mut changed = false;
        self.backlogged = false;
        for _ in 0..EVENTS_PER_FRAME {
            let Some(engine) = &self.engine else { break };
            // Never wait on the log's writer here: leave the events queued (the engine then slows its
            // readers down) and come back on a later frame.
            if !self.log_has_room() {
                self.backlogged = true;
                break;
            }
            match engine.events().try_recv() {
                Ok(Event::Message(m))
                    if self.phase == Phase::Stopping && matches!(m.origin, Origin::Remote { .. }) =>
                {
                    self.not_shown += 1;
                }
                Ok(ev) => {
                    self.apply(ev);
                    changed = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if let Some(e) = self.engine.take() {
                        let n = self.not_shown + e.lines_not_shown();
                        if n > 0 {
                            self.chat.push_line(&format!(
                                "{n} received lines were not shown: they were still waiting when the stop came"
                            ));
                        }
                        self.not_shown = 0;
                        reap(e);
                    }
                    let why = self.last_reason.take().unwrap_or_else(|| {
                        if self.request.is_server() {
                            "Server stopped.".into()
                        } else {
                            "Disconnected.".into()
                        }
                    });
                    self.phase = Phase::Ended(why);
                    self.trust_ask = None;
                    self.clients.clear();
                    self.departed.clear();
                    changed = true;
                    break;
                }
            }
        }
        if changed
            && self.engine.as_ref().is_some_and(|e| !e.events().is_empty())
            && let Some(w) = &self.wake
        {
            // More queued than one frame takes: come back for the rest.
            w();
        }
        changed
    }

    /// Folds one event into the session; public so tests can feed a history without a network.
    pub fn apply(&mut self, ev: Event) {
        match ev {
            // Calls and TCP states go to the panel, not the chat; the log gets the calls when they were
            // asked for (--trace, --step, step mode), not the ones the window records for itself.
            Event::Call { call, time } => {
                let asked = match &self.request {
                    StartRequest::Server(c) => c.trace,
                    StartRequest::Client(c) => c.trace,
                } != TraceMode::Off;
                if asked {
                    self.record(&Event::Call { call: call.clone(), time });
                }
                self.calls.push(call);
                return;
            }
            Event::Tcp { conns, .. } => {
                self.calls.tcp(conns);
                return;
            }
            _ => {}
        }
        self.record(&ev);
        match &ev {
            Event::Listening { addr, addrs, tls, .. } => {
                self.local_addr = Some(*addr);
                self.reachable = addrs.clone();
                self.fingerprint = *tls;
                self.go_live();
            }
            Event::Connected { peer, time } => {
                self.known.insert(peer.id, peer.clone());
                if self.request.is_server() {
                    self.calls.name_lane(peer.id, peer.label(), peer.addr);
                } else if peer.id == 0 {
                    // The server's label says "server" already.
                    self.calls.name_lane(0, peer.label(), peer.addr);
                }
                if peer.tls.is_some() {
                    self.calls.encrypt_lane(if self.request.is_server() { peer.id } else { 0 });
                }
                if self.request.is_server() {
                    self.clients.insert(peer.id, ClientEntry { peer: peer.clone(), since: *time });
                } else {
                    self.server = Some(peer.clone());
                    self.trust_ask = None;
                    self.go_live();
                    self.focus_send = true;
                }
            }
            Event::PeerUpdated { peer, .. } => {
                let change = crate::model::peer_change(self.known.get(&peer.id).map(|p| &**p), peer);
                self.known.insert(peer.id, peer.clone());
                if let Some(c) = self.clients.get_mut(&peer.id) {
                    c.peer = peer.clone();
                    self.calls.name_lane(peer.id, peer.label(), peer.addr);
                }
                if self.server.as_ref().is_some_and(|s| s.id == peer.id) {
                    self.server = Some(peer.clone());
                    // Its name arrived: the lane says it too, as a client's lane does on a server.
                    self.calls.name_lane(0, peer.label(), peer.addr);
                }
                if let Some(line) = change {
                    self.chat.push_line(&line);
                }
                return;
            }
            Event::Disconnected { peer, reason, .. } => {
                if let Some(c) = self.clients.remove(&peer.id)
                    && self.request.is_server()
                {
                    self.departed.insert(peer.id, c);
                    // Bounded: a crowd leaving while the pointer rests on the list keeps the newest.
                    while self.departed.len() > DEPARTED_KEPT {
                        self.departed.pop_first();
                    }
                }
                self.calls.close_lane(if self.request.is_server() { peer.id } else { 0 });
                if self.target == Target::One(peer.id) {
                    self.target = Target::All;
                }
                if !self.request.is_server() {
                    self.last_reason = Some(match reason {
                        DisconnectReason::ByUs => "Disconnected.".into(),
                        DisconnectReason::ServerStopped => "The server was stopped.".into(),
                        DisconnectReason::Policy(p) => format!("The server closed the connection: {p}."),
                        r => format!("The server went away ({}).", r.describe()),
                    });
                }
            }
            Event::Error { text, fatal: true, .. } => {
                self.last_reason = Some(text.clone());
                self.fatal_error = Some(text.clone());
                // The engine gave up: nobody waits for an answer any more.
                self.trust_ask = None;
            }
            Event::TrustChanged { server, now, file, .. } => {
                let c = super::forget::Changed { server: server.clone(), now: *now, file: file.clone() };
                self.trust_changed = Some(c);
            }
            Event::TrustAsk { server, fingerprint, .. } => {
                self.trust_ask = Some((server.clone(), *fingerprint));
            }
            Event::Message(m) => {
                if let Origin::Remote { from, .. } = &m.origin {
                    self.received += 1;
                    // A client's one connection is lane 0, whoever a room relayed the line from.
                    let lane = if self.request.is_server() { from.id } else { 0 };
                    self.calls.message(crate::calls::Lane::Conn(lane), self.chat.next_number(), &m.text);
                }
            }
            _ => {}
        }
        let known = &self.known;
        self.chat.push(ev, &|id| known.get(&id).map(|p| p.label()));
    }

    fn go_live(&mut self) {
        if self.phase == Phase::Starting {
            self.phase = Phase::Live;
        }
        self.ever_live = true;
    }

    /// The engine has ended without ever listening or connecting: the start screen shows why.
    pub fn failed_to_start(&self) -> Option<String> {
        match &self.phase {
            // In step mode the class watches the failing call in the panel: the session stays.
            Phase::Ended(why) if !self.ever_live && !self.stepping() => Some(why.clone()),
            _ => None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.engine.is_some()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(e) = self.engine.take() {
            e.request_stop();
            reap(e);
        }
        // Closing the log flushes and syncs the file: not on the window's thread either.
        // The backlog goes along: it is written there, where waiting for the writer is fine.
        if let LogState::On(log, backlog) = std::mem::replace(&mut self.log, LogState::Off) {
            let _ = std::thread::Builder::new().name("sockchat-log-close".into()).spawn(move || {
                for ev in &backlog {
                    log.record(ev);
                }
                drop(log);
            });
        }
    }
}
