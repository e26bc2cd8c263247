//! Shared helpers for the loopback tests: bounded waits on channels and sockets, never bare sleeps.
#![allow(dead_code)]

pub mod proc;
pub mod window;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use sockchat::engine::{Engine, Events, Mode, ServerConfig};
use sockchat::model::{Event, Message, Origin};

/// Long enough for a loaded 2-core CI machine, short enough that a hang fails in reasonable time.
pub const WAIT: Duration = Duration::from_secs(20);

/// Receives events until `pred` matches one; panics with what arrived if `WAIT` passes first.
pub fn wait_for(events: &Events, mut pred: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(ev) if pred(&ev) => return ev,
            Ok(ev) => seen.push(ev),
            Err(RecvTimeoutError::Timeout) => panic!("timed out; events so far: {seen:#?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("engine ended; events so far: {seen:#?}"),
        }
    }
}

/// Collects `n` received messages (ignoring other events).
pub fn messages(events: &Events, n: usize) -> Vec<Message> {
    (0..n)
        .map(|_| {
            match wait_for(
                events,
                |e| matches!(e, Event::Message(m) if matches!(m.origin, Origin::Remote { .. })),
            ) {
                Event::Message(m) => m,
                _ => unreachable!(),
            }
        })
        .collect()
}

/// Waits until the engine's event channel closes, i.e. every engine thread has ended.
pub fn wait_closed(events: &Events) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(ev) => seen.push(ev),
            Err(RecvTimeoutError::Disconnected) => return seen,
            Err(RecvTimeoutError::Timeout) => panic!("engine did not end; events: {seen:#?}"),
        }
    }
}

pub fn server_with(cfg: ServerConfig) -> (Engine, SocketAddr) {
    let engine = Engine::server(cfg, None);
    let addr = match wait_for(engine.events(), |e| matches!(e, Event::Listening { .. } | Event::Error { .. }))
    {
        Event::Listening { addr, .. } => addr,
        other => panic!("server did not start: {other:?}"),
    };
    (engine, addr)
}

pub fn server(mode: Mode) -> (Engine, SocketAddr) {
    server_with(ServerConfig { addr: "127.0.0.1:0".into(), mode, ..ServerConfig::default() })
}

/// A raw peer, as `nc` would be: bytes in, lines out, with a read timeout so a missing line fails the test.
pub struct Raw {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Raw { stream, reader }
    }

    pub fn from_stream(stream: TcpStream) -> Raw {
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Raw { stream, reader }
    }

    pub fn local(&self) -> SocketAddr {
        self.stream.local_addr().expect("local addr")
    }

    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.stream.write_all(bytes).expect("write");
    }

    /// Next line without its `\n`; panics on timeout or close.
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        let n = self.reader.read_line(&mut s).expect("read line");
        assert!(n > 0, "connection closed while waiting for a line");
        s.trim_end_matches('\n').to_string()
    }

    /// The next line into `out` (without its `\n`): `Ok(false)` at the end of the stream.
    pub fn try_line(&mut self, out: &mut String) -> std::io::Result<bool> {
        let n = self.reader.read_line(out)?;
        if out.ends_with('\n') {
            out.pop();
        }
        Ok(n > 0)
    }

    /// True if the server closed the connection (EOF or reset) within the wait.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
    }
}
