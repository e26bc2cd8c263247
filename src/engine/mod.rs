//! The network engine: blocking sockets on std threads, talking to its user only through channels.
//!
//! [`Engine`] is the handle: [`Command`]s go in, [`Event`]s come out. The event channel closes when every
//! engine thread has ended, which is how a user (and the tests) know a stop is complete.
//!
//! What waits on the event channel is bounded in bytes ([`budget`]): a user that falls behind (a slow
//! terminal, a log on a slow disk, a busy window) makes the readers wait before their next `read`, so the
//! kernel's socket buffers fill and TCP slows the senders down. Nothing is dropped or reordered on the
//! way; only a stop gives up what is still waiting, and counts it ([`Engine::lines_not_shown`]).

mod budget;
mod channel;
mod client;
pub mod discovery;
mod fdlimit;
pub mod interfaces;
mod limits;
mod names;
mod outgoing;
mod resolver;
mod server;
mod setup;
mod tcpinfo;
pub mod tls;
mod trace;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError};

use crate::access::AccessList;
use crate::codec::DEFAULT_MAX_LINE;
use crate::model::{self, Event, LineBatch, Message, Origin, Peer, PeerId, Target};

pub(crate) use budget::Owner;
pub use budget::{ENGINE_BYTES, READER_BYTES};
pub use channel::{Delivery, Events};
pub(crate) use channel::{EventSink, Parcel};
pub use resolver::Resolver;

pub(crate) use budget::{Budget, Held};

/// How a server treats its clients' lines.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Mode {
    /// Clients talk to the server; the server cannot send.
    #[default]
    OneWay,
    /// The server also sends, to one client or to all.
    Duplex,
    /// Duplex, and every client's line is relayed to every other client.
    Room,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::OneWay, Mode::Duplex, Mode::Room];

    pub fn server_can_send(self) -> bool {
        self != Mode::OneWay
    }

    pub fn label(self) -> &'static str {
        match self {
            Mode::OneWay => "one-way",
            Mode::Duplex => "duplex",
            Mode::Room => "room",
        }
    }
}

/// What the engine's user asks of it. Sending never blocks the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Server: to one client or all. Client: `to` is ignored, the server gets it.
    Send { to: Target, text: String },
    /// Server: close one client.
    Disconnect(PeerId),
    /// Client: nothing more to send; close our side once sent, and end when the server closes.
    Finish,
    /// Close every socket and end every thread.
    Stop,
    /// Answer with an `Event::Tcp`: each connection's TCP state and round-trip time from the kernel.
    ProbeTcp,
    /// Client, TLS: the answer to an `Event::TrustAsk`.
    Trust(crate::trust::TrustAnswer),
}

/// Whether the engine records its socket calls (see [`crate::calls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceMode {
    /// Nothing recorded: the hot paths pay one branch.
    #[default]
    Off,
    /// Every call recorded as `Event::Call`, floods merged.
    On,
    /// As `On`, and each set-up call (`getaddrinfo`, `socket`, `setsockopt`, `bind`, `listen`, `accept`,
    /// `connect`) waits, shown as paused, until [`Engine::step`] lets it go.
    Step,
}

/// A step-mode answer: make the paused call, or stop pausing altogether.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Next,
    Run,
}

/// Called after each event is queued, so a window can repaint at once instead of polling.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Default most connections from one address: enough for a person with a few windows and tools open,
/// few enough that one machine takes at most a sixteenth of the default 256 places.
pub const DEFAULT_MAX_PER_ADDRESS: usize = 16;

/// Default room relay allowance in bytes a second per client: a long line a second, far above typing,
/// while one client relayed to 50 readers stays near 3 MB/s out.
pub const DEFAULT_ROOM_BYTE_RATE: u32 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `PORT`, `HOST:PORT`, `[V6]:PORT`... as [`crate::addr::parse_host_port`] reads it.
    pub addr: String,
    pub mode: Mode,
    pub max_line: usize,
    pub max_clients: usize,
    /// Most connections at once from one IP address (an IPv4-mapped IPv6 address counts as the IPv4
    /// one), so one machine cannot take every place. A classroom behind one NAT shares one address:
    /// there it must be raised to the class size.
    pub max_per_address: usize,
    /// Close a client that sends no line (a blank one does not count) for this long, however many
    /// bytes of an unfinished line it sends meanwhile.
    pub idle_timeout: Option<Duration>,
    /// Bytes queued for one client before it counts as not reading and is closed. Relayed lines are shared,
    /// so this bounds what one stuck client can hold, not a copy per client.
    pub send_queue_bytes: usize,
    /// A client that accepts no bytes for this long is closed as not reading.
    pub send_timeout: Duration,
    /// Room mode: lines per second one client may have relayed (burst of the same size).
    pub room_rate: Option<u32>,
    /// Room mode: bytes of line text per second one client may have relayed (burst of the same size; a
    /// longer line still passes, and the client then waits until the rate has paid for it).
    pub room_byte_rate: Option<u32>,
    pub access: AccessList,
    /// Announce the server on the LAN (DNS-SD) while it runs; `None`: not announced (the default, so
    /// tests and embedders never multicast unless asked).
    pub announce: Option<discovery::AnnounceConfig>,
    pub trace: TraceMode,
    /// Duplex and room: send each client the greeting first (PROTOCOL.md), which is what tells a sockchat
    /// client that names are understood. Off by default for embedders and engine tests, whose peers then
    /// get exactly the lines sent to them; the command line and the window turn it on.
    pub greet: bool,
    /// Serve TLS instead of plain TCP; `None`: plain.
    pub tls: Option<ServerTls>,
}

/// How a server gets its certificate (see `engine::tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// PEM files (`--cert`, `--key`); both `None`: a self-signed certificate made once and kept in `dir`.
    pub cert: Option<std::path::PathBuf>,
    pub key: Option<std::path::PathBuf>,
    /// Where a made certificate is kept, so its fingerprint stays the same across restarts.
    pub dir: std::path::PathBuf,
}

/// How a client decides whom to trust (see `engine::tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// The known-servers file: one `host:port fingerprint` per line, like SSH's `known_hosts`.
    pub known_servers: std::path::PathBuf,
    pub policy: crate::trust::TrustPolicy,
}

/// Defaults documented in README: 64 KiB lines, 256 clients, 16 per address, 16 MiB queued per client,
/// 10 s send timeout, rooms relaying 50 lines and 64 KiB a second per client.
impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: String::new(),
            mode: Mode::OneWay,
            max_line: DEFAULT_MAX_LINE,
            max_clients: 256,
            max_per_address: DEFAULT_MAX_PER_ADDRESS,
            idle_timeout: None,
            send_queue_bytes: 16 * 1024 * 1024,
            send_timeout: Duration::from_secs(10),
            room_rate: Some(50),
            room_byte_rate: Some(DEFAULT_ROOM_BYTE_RATE),
            access: AccessList::default(),
            announce: None,
            trace: TraceMode::Off,
            greet: false,
            tls: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `HOST:PORT`.
    pub addr: String,
    pub name: Option<String>,
    pub connect_timeout: Duration,
    pub max_line: usize,
    pub trace: TraceMode,
    /// Connect with TLS; `None`: plain TCP.
    pub tls: Option<ClientTls>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            addr: String::new(),
            name: None,
            connect_timeout: Duration::from_secs(5),
            max_line: DEFAULT_MAX_LINE,
            trace: TraceMode::Off,
            tls: None,
        }
    }
}

/// A peer's current snapshot, shared by the threads that may update it (reader, resolver).
pub(crate) type PeerSlot = Arc<Mutex<Arc<Peer>>>;

pub(crate) fn snapshot(slot: &PeerSlot) -> Arc<Peer> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

pub(crate) fn update_peer(slot: &PeerSlot, f: impl FnOnce(&mut Peer)) -> Arc<Peer> {
    let mut g = slot.lock().unwrap_or_else(PoisonError::into_inner);
    let mut p = (**g).clone();
    f(&mut p);
    *g = Arc::new(p);
    g.clone()
}

/// Handle to a running server or client engine.
pub struct Engine {
    cmd: Sender<Command>,
    events: Events,
    control: Option<JoinHandle<()>>,
    budget: Arc<Budget>,
    gate: Sender<trace::GateMsg>,
    trace: TraceMode,
}

/// Answers step mode's pauses from another thread (the terminal's stdin reader).
#[derive(Clone)]
pub struct Stepper {
    gate: Sender<trace::GateMsg>,
}

impl Stepper {
    /// See [`Engine::step`].
    pub fn step(&self, s: Step) {
        let _ = self.gate.send(trace::GateMsg::Step(s));
    }
}

/// Stops an engine from another thread (a Ctrl-C handler) without owning it.
#[derive(Clone)]
pub struct Stopper {
    gate: Sender<trace::GateMsg>,
    cmd: Sender<Command>,
    budget: Arc<Budget>,
}

impl Stopper {
    /// Senders waiting for room give up at once, so a stop never waits for a slow output to drain.
    pub fn stop(&self) {
        self.budget.close();
        let _ = self.cmd.send(Command::Stop);
        // A call paused in step mode gives way too.
        let _ = self.gate.send(trace::GateMsg::Stop);
    }

    pub fn is_stopping(&self) -> bool {
        self.budget.is_closed()
    }
}

impl Engine {
    /// Starts a server; binding happens on the engine's thread and is reported as `Listening` or a fatal `Error`.
    pub fn server(cfg: ServerConfig, wake: Option<Waker>) -> Engine {
        Self::spawn("sockchat-server", wake, cfg.trace, move |sink, rx| server::run(cfg, sink, rx))
    }

    /// Starts a client; resolving and connecting happen on the engine's thread.
    pub fn client(cfg: ClientConfig, wake: Option<Waker>) -> Engine {
        Self::spawn("sockchat-client", wake, cfg.trace, move |sink, rx| client::run(cfg, sink, rx))
    }

    fn spawn(
        name: &str,
        wake: Option<Waker>,
        trace: TraceMode,
        body: impl FnOnce(EventSink, Receiver<Command>) + Send + 'static,
    ) -> Engine {
        let (cmd, cmd_rx) = crossbeam_channel::unbounded();
        // Unbounded as a channel: the budget bounds it, in bytes rather than in entries.
        let (ev_tx, events) = crossbeam_channel::unbounded();
        let budget = Budget::new(ENGINE_BYTES, READER_BYTES);
        let (gate, gate_rx) = trace::gate_channel();
        let sink = EventSink::new(ev_tx, wake, budget.clone(), trace::Trace::new(trace, gate_rx));
        let events = Events::new(events);
        let control = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(sink, cmd_rx))
            .map_err(|e| eprintln!("sockchat: cannot start engine thread: {e}"))
            .ok();
        Engine { cmd, events, control, budget, gate, trace }
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Queues a command; never blocks.
    pub fn send(&self, c: Command) {
        let _ = self.cmd.send(c);
    }

    /// A sender for another thread (the terminal mode's stdin reader).
    pub fn commands(&self) -> Sender<Command> {
        self.cmd.clone()
    }

    /// Asks the engine to stop without waiting; the event channel closes when it is done.
    pub fn request_stop(&self) {
        self.stopper().stop();
    }

    pub fn stopper(&self) -> Stopper {
        Stopper { cmd: self.cmd.clone(), budget: self.budget.clone(), gate: self.gate.clone() }
    }

    /// Step mode: make the paused set-up call (`Next`), or stop pausing (`Run`). Without step mode, or
    /// with nothing paused yet, the answer waits for the next pause.
    pub fn step(&self, s: Step) {
        let _ = self.gate.send(trace::GateMsg::Step(s));
    }

    pub fn stepper(&self) -> Stepper {
        Stepper { gate: self.gate.clone() }
    }

    pub fn trace_mode(&self) -> TraceMode {
        self.trace
    }

    /// Received lines the engine gave up because it was stopped before its user took them.
    pub fn lines_not_shown(&self) -> u64 {
        self.budget.dropped()
    }

    /// Bytes of events waiting for the user now (at most about [`ENGINE_BYTES`]).
    pub fn queued_bytes(&self) -> usize {
        self.budget.used()
    }

    /// True once every engine thread has ended.
    pub fn is_finished(&self) -> bool {
        self.control.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Stops and waits for every thread (but a reverse lookup stuck on a slow name server); sockets are
    /// closed and the port is free when this returns.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.request_stop();
        if let Some(h) = self.control.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The address a stopping server connects to, to wake its own blocking `accept`.
pub(crate) fn wake_addr(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(first_seq: u64, texts: &[&str]) -> LineBatch {
        let from = Arc::new(Peer::new(1, "127.0.0.1:9".parse().unwrap()));
        let mut b = LineBatch::new(first_seq, model::now(), from, false);
        for t in texts {
            b.push(t, false);
        }
        b
    }

    fn parcel(d: Delivery) -> Parcel {
        Parcel { d, _held: Budget::new(usize::MAX, usize::MAX).unbounded() }
    }

    fn text(ev: Event) -> String {
        match ev {
            Event::Message(m) => format!("{}:{}", m.seq, m.text),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn batches_come_out_one_message_at_a_time_in_order_across_clones() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let events = Events::new(rx);
        let other = events.clone();
        tx.send(parcel(Delivery::Lines(batch(5, &["a", "b", "c"])))).unwrap();
        tx.send(parcel(Delivery::Event(Event::Refused {
            time: model::now(),
            addr: "1.2.3.4:5".parse().unwrap(),
            reason: "r".into(),
        })))
        .unwrap();
        tx.send(parcel(Delivery::Lines(batch(8, &["d"])))).unwrap();
        assert!(!events.is_empty());
        assert_eq!(text(events.recv().unwrap()), "5:a");
        // The clone continues the same batch rather than starting the next delivery.
        assert_eq!(text(other.try_recv().unwrap()), "6:b");
        assert!(!events.is_empty(), "c is still pending even though the channel has moved on");
        assert_eq!(text(events.recv_timeout(Duration::from_secs(1)).unwrap()), "7:c");
        assert!(matches!(events.try_recv(), Ok(Event::Refused { .. })));
        assert_eq!(events.try_iter().map(text).collect::<Vec<_>>(), ["8:d"]);
        assert!(events.is_empty());
        assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
        assert_eq!(events.recv(), Err(RecvError));
    }

    /// Two clones each taking a batch off the channel before either has stored its remainder (what two
    /// consuming threads can do) must not lose one remainder to the other.
    #[test]
    fn clones_taking_batches_at_once_lose_no_line() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let a = Events::new(rx);
        let b = a.clone();
        tx.send(parcel(Delivery::Lines(batch(1, &["a1", "a2"])))).unwrap();
        tx.send(parcel(Delivery::Lines(batch(3, &["b1", "b2"])))).unwrap();
        drop(tx);
        let taken_by_a = a.rx.recv().unwrap(); // `a` is between its channel receive and its unpacking...
        let mut got = vec![text(b.recv().unwrap())]; // ...while `b` takes the next batch whole
        got.extend(a.unpack(taken_by_a.open()).map(text));
        got.extend(std::iter::from_fn(|| a.recv().ok()).map(text));
        got.sort();
        assert_eq!(got, ["1:a1", "2:a2", "3:b1", "4:b2"]);
    }

    #[test]
    fn deliveries_keep_batches_whole_and_finish_a_partly_unpacked_one_first() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let events = Events::new(rx);
        tx.send(parcel(Delivery::Lines(batch(1, &["a", "b"])))).unwrap();
        tx.send(parcel(Delivery::Lines(batch(3, &["c", "d"])))).unwrap();
        assert_eq!(text(events.recv().unwrap()), "1:a");
        match events.try_recv_delivery() {
            Ok(Delivery::Event(ev)) => assert_eq!(text(ev), "2:b"),
            other => panic!("pending line first: {other:?}"),
        }
        match events.recv_delivery() {
            Ok(Delivery::Lines(b)) => assert_eq!(b.lines().map(|l| l.0).collect::<Vec<_>>(), ["c", "d"]),
            other => panic!("whole batch: {other:?}"),
        }
        assert_eq!(events.try_recv_delivery(), Err(TryRecvError::Empty));
    }
}
