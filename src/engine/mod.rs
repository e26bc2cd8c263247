//! The network engine: blocking sockets on std threads, talking to its user only through channels.
//!
//! [`Engine`] is the handle: [`Command`]s go in, [`Event`]s come out. The event channel closes when every
//! engine thread has ended, which is how a user (and the tests) know a stop is complete.

mod client;
mod resolver;
mod server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use time::OffsetDateTime;

use crate::access::AccessList;
use crate::codec::DEFAULT_MAX_LINE;
use crate::model::{self, Event, Message, Origin, Peer, PeerId, Target};

pub use resolver::Resolver;

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
}

/// Called after each event is queued, so a window can repaint at once instead of polling.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `PORT`, `HOST:PORT`, `[V6]:PORT`... as [`crate::addr::parse_host_port`] reads it.
    pub addr: String,
    pub mode: Mode,
    pub max_line: usize,
    pub max_clients: usize,
    /// Close a client that sends nothing for this long.
    pub idle_timeout: Option<Duration>,
    /// Bytes queued for one client before it counts as not reading and is closed. Relayed lines are shared,
    /// so this bounds what one stuck client can hold, not a copy per client.
    pub send_queue_bytes: usize,
    /// A client that accepts no bytes for this long is closed as not reading.
    pub send_timeout: Duration,
    /// Room mode: lines per second one client may have relayed (burst of the same size).
    pub room_rate: Option<u32>,
    pub access: AccessList,
}

/// Defaults documented in README: 64 KiB lines, 256 clients, 16 MiB queued per client, 10 s send timeout.
impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: String::new(),
            mode: Mode::OneWay,
            max_line: DEFAULT_MAX_LINE,
            max_clients: 256,
            idle_timeout: None,
            send_queue_bytes: 16 * 1024 * 1024,
            send_timeout: Duration::from_secs(10),
            room_rate: Some(50),
            access: AccessList::default(),
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
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            addr: String::new(),
            name: None,
            connect_timeout: Duration::from_secs(5),
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// The engine's side of the event channel: numbers messages and wakes the user.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: Sender<Event>,
    wake: Option<Waker>,
    seq: Arc<AtomicU64>,
}

impl EventSink {
    fn new(tx: Sender<Event>, wake: Option<Waker>) -> Self {
        EventSink { tx, wake, seq: Arc::new(AtomicU64::new(1)) }
    }

    pub(crate) fn emit(&self, ev: Event) {
        // A closed channel means nobody listens any more; the engine is being dropped.
        let _ = self.tx.send(ev);
        if let Some(w) = &self.wake {
            w();
        }
    }

    pub(crate) fn message(&self, origin: Origin, text: String, truncated: bool) {
        self.message_at(model::now(), origin, text, truncated);
    }

    /// A message stamped with a time taken once for a whole read: its lines arrived together.
    pub(crate) fn message_at(&self, time: OffsetDateTime, origin: Origin, text: String, truncated: bool) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.emit(Event::Message(Message { seq, time, origin, text, truncated }));
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
    events: Receiver<Event>,
    control: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts a server; binding happens on the engine's thread and is reported as `Listening` or a fatal `Error`.
    pub fn server(cfg: ServerConfig, wake: Option<Waker>) -> Engine {
        Self::spawn("sockchat-server", wake, move |sink, rx| server::run(cfg, sink, rx))
    }

    /// Starts a client; resolving and connecting happen on the engine's thread.
    pub fn client(cfg: ClientConfig, wake: Option<Waker>) -> Engine {
        Self::spawn("sockchat-client", wake, move |sink, rx| client::run(cfg, sink, rx))
    }

    fn spawn(
        name: &str,
        wake: Option<Waker>,
        body: impl FnOnce(EventSink, Receiver<Command>) + Send + 'static,
    ) -> Engine {
        let (cmd, cmd_rx) = crossbeam_channel::unbounded();
        let (ev_tx, events) = crossbeam_channel::unbounded();
        let sink = EventSink::new(ev_tx, wake);
        let control = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(sink, cmd_rx))
            .map_err(|e| eprintln!("sockchat: cannot start engine thread: {e}"))
            .ok();
        Engine { cmd, events, control }
    }

    pub fn events(&self) -> &Receiver<Event> {
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
        self.send(Command::Stop);
    }

    /// True once every engine thread has ended.
    pub fn is_finished(&self) -> bool {
        self.control.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Stops and waits for every thread; sockets are closed and the port is free when this returns.
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
