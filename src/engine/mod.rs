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
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            addr: String::new(),
            name: None,
            connect_timeout: Duration::from_secs(5),
            max_line: DEFAULT_MAX_LINE,
            trace: TraceMode::Off,
        }
    }
}

/// What travels on the event channel: one event, or all the lines one read brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Event(Event),
    Lines(LineBatch),
}

/// The receiving end of an engine's events.
///
/// [`recv`](Self::recv) and friends hand out one [`Event`] at a time, unpacking batches of lines into
/// `Event::Message`s; [`recv_delivery`](Self::recv_delivery) hands batches over whole, for a consumer (the
/// terminal printer) that keeps up with a flood by never making a `Message` per line. Clones share the
/// channel and the batch being unpacked, so every event goes to exactly one of them.
#[derive(Clone)]
pub struct Events {
    rx: Receiver<Parcel>,
    /// Batches partly handed out, each with the index of its next line. A queue, not one slot: clones on
    /// different threads may each take a batch from the channel at the same time.
    pending: Arc<Mutex<VecDeque<(LineBatch, usize)>>>,
}

impl Events {
    fn new(rx: Receiver<Parcel>) -> Self {
        Events { rx, pending: Arc::default() }
    }

    /// The next line of a batch being unpacked, if any.
    fn next_pending(&self) -> Option<Event> {
        let mut g = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (batch, i) = g.front_mut()?;
        let m = batch.message(*i);
        *i += 1;
        if *i >= batch.len() {
            g.pop_front();
        }
        m.map(Event::Message)
    }

    fn unpack(&self, d: Delivery) -> Option<Event> {
        match d {
            Delivery::Event(ev) => Some(ev),
            Delivery::Lines(b) => {
                let first = b.message(0).map(Event::Message);
                if b.len() > 1 {
                    self.pending.lock().unwrap_or_else(PoisonError::into_inner).push_back((b, 1));
                }
                first
            }
        }
    }

    /// The next event: a pending line first, else what `take` gets from the channel, unpacked.
    fn next<E>(&self, mut take: impl FnMut(&Receiver<Parcel>) -> Result<Parcel, E>) -> Result<Event, E> {
        loop {
            if let Some(ev) = self.next_pending() {
                return Ok(ev);
            }
            if let Some(ev) = self.unpack(take(&self.rx)?.open()) {
                return Ok(ev);
            }
        }
    }

    pub fn recv(&self) -> Result<Event, RecvError> {
        self.next(Receiver::recv)
    }

    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        self.next(Receiver::try_recv)
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        self.recv_deadline(std::time::Instant::now() + timeout)
    }

    pub fn recv_deadline(&self, deadline: std::time::Instant) -> Result<Event, RecvTimeoutError> {
        self.next(|rx| rx.recv_deadline(deadline))
    }

    /// Events already queued, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).is_empty() && self.rx.is_empty()
    }

    /// The next delivery as sent: a batch stays whole (a partly unpacked one gives its next line alone).
    pub fn recv_delivery(&self) -> Result<Delivery, RecvError> {
        match self.next_pending() {
            Some(ev) => Ok(Delivery::Event(ev)),
            None => self.rx.recv().map(Parcel::open),
        }
    }

    pub fn try_recv_delivery(&self) -> Result<Delivery, TryRecvError> {
        match self.next_pending() {
            Some(ev) => Ok(Delivery::Event(ev)),
            None => self.rx.try_recv().map(Parcel::open),
        }
    }
}

/// What travels on the channel: a delivery and the share of the budget it holds until taken off.
pub(crate) struct Parcel {
    d: Delivery,
    _held: Held,
}

impl Parcel {
    /// The delivery; the budget it held is given back here, as the user takes it.
    fn open(self) -> Delivery {
        self.d
    }
}

impl Delivery {
    /// About the bytes it holds: its text, a line end's bookkeeping per line, and the fixed parts.
    fn cost(&self) -> usize {
        const FIXED: usize = 256;
        match self {
            Delivery::Lines(b) => FIXED + b.text_len() + 16 * b.len(),
            Delivery::Event(Event::Message(m)) => FIXED + m.text.len(),
            Delivery::Event(Event::Error { text, .. }) => FIXED + text.len(),
            Delivery::Event(_) => FIXED,
        }
    }
}

/// The engine's side of the event channel: numbers messages, bounds what waits, and wakes the user.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: Sender<Parcel>,
    wake: Option<Waker>,
    seq: Arc<AtomicU64>,
    budget: Arc<Budget>,
    /// The socket-call trace, when it is on ([`trace`]).
    trace: Option<Arc<trace::Trace>>,
}

impl EventSink {
    fn new(
        tx: Sender<Parcel>,
        wake: Option<Waker>,
        budget: Arc<Budget>,
        trace: Option<Arc<trace::Trace>>,
    ) -> Self {
        EventSink { tx, wake, seq: Arc::new(AtomicU64::new(1)), budget, trace }
    }

    /// A share of the budget for one reader thread (see [`budget`]).
    pub(crate) fn owner(&self) -> Arc<Owner> {
        self.budget.owner()
    }

    fn deliver(&self, d: Delivery) {
        self.deliver_as(None, d);
    }

    /// Queues `d`, first waiting for room in `owner`'s share and the engine's. Once the engine is
    /// stopping, lines are dropped (and counted) and other events pass without waiting.
    fn deliver_as(&self, owner: Option<&Arc<Owner>>, d: Delivery) {
        let held = match self.budget.take(owner, d.cost()) {
            Some(h) => h,
            None => match d {
                Delivery::Lines(b) => return self.budget.count_dropped(b.len()),
                _ => self.budget.unbounded(),
            },
        };
        // A closed channel means nobody listens any more; the engine is being dropped.
        let _ = self.tx.send(Parcel { d, _held: held });
        if let Some(w) = &self.wake {
            w();
        }
    }

    /// [`emit`](Self::emit) from a reader, within its share.
    pub(crate) fn emit_as(&self, owner: &Arc<Owner>, ev: Event) {
        self.deliver_as(Some(owner), Delivery::Event(ev));
    }

    /// [`lines`](Self::lines) from a reader, within its share.
    pub(crate) fn lines_as(&self, owner: &Arc<Owner>, batch: LineBatch) {
        if !batch.is_empty() {
            self.deliver_as(Some(owner), Delivery::Lines(batch));
        }
    }

    pub(crate) fn emit(&self, ev: Event) {
        self.deliver(Delivery::Event(ev));
    }

    /// Reserves `n` message numbers in a row; returns the first.
    pub(crate) fn reserve_seq(&self, n: usize) -> u64 {
        self.seq.fetch_add(n as u64, Ordering::Relaxed)
    }

    /// Sends a batch numbered from [`reserve_seq`](Self::reserve_seq); an empty one is dropped.
    pub(crate) fn lines(&self, batch: LineBatch) {
        if !batch.is_empty() {
            self.deliver(Delivery::Lines(batch));
        }
    }

    pub(crate) fn message(&self, origin: Origin, text: String, truncated: bool) {
        let seq = self.reserve_seq(1);
        self.emit(Event::Message(Message {
            seq,
            time: model::now(),
            origin,
            text,
            truncated,
            private: false,
        }));
    }

    /// The engine is stopping: see [`Stopper::stop`].
    pub(crate) fn close(&self) {
        self.budget.close();
    }

    pub(crate) fn error(&self, peer: Option<Arc<Peer>>, text: String, fatal: bool) {
        self.emit(Event::Error { time: model::now(), peer, text, fatal });
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
