//! Recording the socket calls the engine makes, at their call sites (see [`crate::calls`]).
//!
//! Off by default, and then each call site pays one `Option` check: the closures that format arguments
//! never run. On, a call becomes an `Event::Call` on the event channel, in order with the messages it
//! carried, so a viewer can link a message to the `recv` before it on the same connection.
//!
//! Recording never waits: a call is queued only if the event budget has room at once, otherwise it is
//! counted and the next recorded call says how many were lost. A trace must not change what it shows,
//! and a blocked `send` waiting on a slow window would.
//!
//! A flood must not flood the trace either: past [`PER_SECOND`] calls of one kind a second on one
//! connection, the rest of that second is summed into one `Merged` entry ([`Flow`]).
//!
//! Step mode ([`TraceMode::Step`]) holds each set-up call, shown as `Paused`, until the user sends
//! [`Step::Next`] or [`Step::Run`]; a stop releases it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::Receiver;

use super::{Delivery, EventSink, Parcel, Step, TraceMode};
use crate::calls::{Call, CallState, Lane, errno_of};
use crate::model::{self, Event};

/// Calls of one kind a second on one connection recorded one by one; a person reads about this many.
pub(crate) const PER_SECOND: u32 = 20;

/// What step mode's gate hears: the user's answer, or the engine stopping.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GateMsg {
    Step(Step),
    Stop,
}

/// The trace's state, shared by every thread of one engine.
pub(crate) struct Trace {
    t0: Instant,
    next_id: AtomicU64,
    lost: AtomicU64,
    gate: Option<Gate>,
}

struct Gate {
    rx: Receiver<GateMsg>,
    /// "Run" was chosen: no more pauses.
    running: AtomicBool,
    stopped: AtomicBool,
}

impl Trace {
    pub(crate) fn new(mode: TraceMode, gate: Receiver<GateMsg>) -> Option<Arc<Trace>> {
        let gate = match mode {
            TraceMode::Off => return None,
            TraceMode::On => None,
            TraceMode::Step => {
                Some(Gate { rx: gate, running: AtomicBool::new(false), stopped: AtomicBool::new(false) })
            }
        };
        Some(Arc::new(Trace {
            t0: Instant::now(),
            next_id: AtomicU64::new(1),
            lost: AtomicU64::new(0),
            gate,
        }))
    }

    fn us(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.t0).as_micros() as u64
    }
}

/// A call being recorded: what its start and its end share.
pub(crate) struct Rec {
    id: u64,
    start: Instant,
    name: &'static str,
    args: String,
    fd: Option<i32>,
    peer: Option<SocketAddr>,
    lane: Lane,
    /// What a `recv` or `send` carried.
    pub(crate) data: Option<Arc<[u8]>>,
}

fn thread_name() -> Arc<str> {
    std::thread::current().name().unwrap_or("sockchat").into()
}

impl EventSink {
    /// Starts recording a call, or `None` (and no formatting) when the trace is off.
    pub(crate) fn call(
        &self,
        name: &'static str,
        lane: Lane,
        fd: Option<i32>,
        peer: Option<SocketAddr>,
        args: impl FnOnce() -> String,
    ) -> Option<Rec> {
        let t = self.trace.as_ref()?;
        let id = t.next_id.fetch_add(1, Ordering::Relaxed);
        Some(Rec { id, start: Instant::now(), name, args: args(), fd, peer, lane, data: None })
    }

    pub(crate) fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    fn record(&self, rec: &Rec, state: CallState, at: Instant) {
        let Some(t) = &self.trace else { return };
        let call = Call {
            id: rec.id,
            us: t.us(at),
            thread: thread_name(),
            name: rec.name,
            args: rec.args.clone(),
            fd: rec.fd,
            peer: rec.peer,
            lane: rec.lane,
            state,
            data: rec.data.clone(),
            lost_before: 0,
        };
        self.push_call(t, call);
    }

    fn push_call(&self, t: &Trace, mut call: Call) {
        const FIXED: usize = 384;
        let cost = FIXED + call.args.len() + call.data.as_ref().map_or(0, |d| d.len());
        let held = if self.budget.is_closed() {
            // Stopping: the last calls (`shutdown`, `close`) pass, as other events do.
            Some(self.budget.unbounded())
        } else {
            self.budget.try_take(cost)
        };
        let Some(held) = held else {
            t.lost.fetch_add(1, Ordering::Relaxed);
            return;
        };
        call.lost_before = t.lost.swap(0, Ordering::Relaxed);
        let ev = Event::Call { time: model::now(), call: Arc::new(call) };
        let _ = self.tx.send(Parcel { d: Delivery::Event(ev), _held: held });
        if let Some(w) = &self.wake {
            w();
        }
    }

    /// Step mode: shows the call as the next one and waits for the user. `false` means the engine is
    /// stopping and the call must not be made. Without step mode (or after "Run") it returns at once.
    pub(crate) fn pause(&self, rec: &Option<Rec>) -> bool {
        let (Some(t), Some(rec)) = (&self.trace, rec) else { return true };
        let Some(g) = &t.gate else { return true };
        if g.stopped.load(Ordering::Relaxed) {
            return false;
        }
        if g.running.load(Ordering::Relaxed) {
            return true;
        }
        self.record(rec, CallState::Paused, Instant::now());
        match g.rx.recv() {
            Ok(GateMsg::Step(Step::Next)) => true,
            Ok(GateMsg::Step(Step::Run)) => {
                g.running.store(true, Ordering::Relaxed);
                true
            }
            Ok(GateMsg::Stop) | Err(_) => {
                g.stopped.store(true, Ordering::Relaxed);
                false
            }
        }
    }

    /// A call that may block is about to: a viewer shows it as waiting until it returns.
    pub(crate) fn waiting(&self, rec: &mut Option<Rec>) {
        if let Some(r) = rec {
            // Its time runs from here, not from any pause before it.
            r.start = Instant::now();
            self.record(r, CallState::Waiting, r.start);
        }
    }

    /// The call returned; `result` as C would print it.
    pub(crate) fn returned(&self, rec: Option<Rec>, result: impl FnOnce() -> String) {
        if let Some(r) = rec {
            let now = Instant::now();
            let took_us = now.saturating_duration_since(r.start).as_micros() as u64;
            self.record(&r, CallState::Returned { result: result(), took_us }, now);
        }
    }

    pub(crate) fn failed(&self, rec: Option<Rec>, e: &io::Error) {
        if let Some(r) = rec {
            let now = Instant::now();
            let took_us = now.saturating_duration_since(r.start).as_micros() as u64;
            let (errno, meaning) = errno_of(e);
            self.record(&r, CallState::Failed { errno, meaning, took_us }, now);
        }
    }

    /// [`returned`](Self::returned) or [`failed`](Self::failed), by `res`.
    pub(crate) fn ended<T>(&self, rec: Option<Rec>, res: &io::Result<T>, ok: impl FnOnce(&T) -> String) {
        match res {
            Ok(v) => self.returned(rec, || ok(v)),
            Err(e) => self.failed(rec, e),
        }
    }

    /// A call that does not block, recorded once when it has returned.
    pub(crate) fn quick<T>(
        &self,
        name: &'static str,
        lane: Lane,
        fd: Option<i32>,
        args: impl FnOnce() -> String,
        res: &io::Result<T>,
        ok: impl FnOnce(&T) -> String,
    ) {
        let rec = self.call(name, lane, fd, None, args);
        self.ended(rec, res, ok);
    }

    fn merged(&self, m: &Merge, now: Instant) {
        let Some(t) = &self.trace else { return };
        let call = Call {
            id: t.next_id.fetch_add(1, Ordering::Relaxed),
            us: t.us(now),
            thread: thread_name(),
            name: m.name,
            args: format!("fd {}", m.fd),
            fd: Some(m.fd),
            peer: m.peer,
            lane: m.lane,
            state: CallState::Merged {
                count: m.count,
                bytes: m.bytes,
                span_us: now.saturating_duration_since(m.since).as_micros() as u64,
            },
            data: None,
            lost_before: 0,
        };
        self.push_call(t, call);
    }
}

/// Step mode's answers go to the gate through this; see [`Trace::new`].
pub(crate) fn gate_channel() -> (crossbeam_channel::Sender<GateMsg>, Receiver<GateMsg>) {
    crossbeam_channel::unbounded()
}

/// Calls summed while one connection goes faster than a person reads.
struct Merge {
    name: &'static str,
    fd: i32,
    peer: Option<SocketAddr>,
    lane: Lane,
    count: u64,
    bytes: u64,
    since: Instant,
}

/// The rate of one kind of call (`recv`, or `send`) on one connection: the first [`PER_SECOND`] calls of
/// each second are recorded one by one, the rest summed and recorded when the second is over (at the next
/// call, or when the connection ends: [`Flow::flush`]).
pub(crate) struct Flow {
    window: Instant,
    in_window: u32,
    merge: Option<Merge>,
}

impl Default for Flow {
    fn default() -> Self {
        Flow { window: Instant::now(), in_window: 0, merge: None }
    }
}

impl Flow {
    /// Whether this call is recorded on its own; if not, the caller adds it with [`Flow::add`].
    pub(crate) fn admit(&mut self, sink: &EventSink) -> bool {
        if !sink.tracing() {
            return false;
        }
        let now = Instant::now();
        if now.saturating_duration_since(self.window).as_secs() >= 1 {
            self.flush_at(sink, now);
            self.window = now;
            self.in_window = 0;
        }
        self.in_window += 1;
        self.in_window <= PER_SECOND
    }

    /// Sums a call that [`admit`](Self::admit) did not let through.
    pub(crate) fn add(
        &mut self,
        name: &'static str,
        fd: i32,
        peer: Option<SocketAddr>,
        lane: Lane,
        bytes: usize,
    ) {
        let m = self.merge.get_or_insert_with(|| Merge {
            name,
            fd,
            peer,
            lane,
            count: 0,
            bytes: 0,
            since: Instant::now(),
        });
        m.count += 1;
        m.bytes += bytes as u64;
    }

    /// Records what has been summed, if anything: at the end of a second or of the connection.
    pub(crate) fn flush(&mut self, sink: &EventSink) {
        self.flush_at(sink, Instant::now());
    }

    fn flush_at(&mut self, sink: &EventSink, now: Instant) {
        if let Some(m) = self.merge.take() {
            sink.merged(&m, now);
        }
    }
}

/// The descriptor behind a socket, as the trace shows it.
#[cfg(unix)]
pub(crate) fn fd_of<T: std::os::fd::AsRawFd>(s: &T) -> Option<i32> {
    Some(s.as_raw_fd())
}

#[cfg(not(unix))]
pub(crate) fn fd_of<T>(_: &T) -> Option<i32> {
    None
}

/// A connected socket shared by the threads that use it: one descriptor for reading and writing, as in
/// `server.c`, so the trace shows the same fd from `accept` to `close`, and its `close` is recorded when
/// the last thread lets go of it.
pub(crate) struct Sock {
    stream: std::net::TcpStream,
    lane: Lane,
    peer: Option<SocketAddr>,
    /// Shut down both ways already: a second `shutdown` would only fail with ENOTCONN (a Disconnect
    /// shuts the socket, then its reader, ending, would again), so it is not made.
    shut: AtomicBool,
    /// Only while tracing: a sink held here would otherwise keep the event channel open.
    sink: Option<EventSink>,
}

impl Sock {
    pub(crate) fn new(stream: std::net::TcpStream, lane: Lane, sink: &EventSink) -> Arc<Sock> {
        let sink = sink.tracing().then(|| sink.clone());
        let peer = stream.peer_addr().ok().map(crate::model::canonical);
        Arc::new(Sock { stream, lane, peer, shut: AtomicBool::new(false), sink })
    }

    pub(crate) fn fd(&self) -> Option<i32> {
        fd_of(&self.stream)
    }

    pub(crate) fn lane(&self) -> Lane {
        self.lane
    }

    pub(crate) fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// `shutdown(2)`, recorded.
    pub(crate) fn shutdown(&self, how: std::net::Shutdown, sink: &EventSink) -> io::Result<()> {
        if self.shut.load(Ordering::Acquire) {
            return Ok(());
        }
        if how == std::net::Shutdown::Both {
            self.shut.store(true, Ordering::Release);
        }
        let res = self.stream.shutdown(how);
        let how = match how {
            std::net::Shutdown::Read => "SHUT_RD",
            std::net::Shutdown::Write => "SHUT_WR",
            std::net::Shutdown::Both => "SHUT_RDWR",
        };
        let fd = self.fd();
        let rec =
            sink.call("shutdown", self.lane, fd, self.peer, || format!("fd {}, {how}", fd.unwrap_or(-1)));
        sink.ended(rec, &res, |()| "0".into());
        res
    }
}

impl std::ops::Deref for Sock {
    type Target = std::net::TcpStream;

    fn deref(&self) -> &std::net::TcpStream {
        &self.stream
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        if let Some(sink) = &self.sink {
            let fd = self.fd();
            let rec = sink.call("close", self.lane, fd, self.peer, || format!("fd {}", fd.unwrap_or(-1)));
            sink.returned(rec, || "0".into());
        }
    }
}

/// One `read` of a connection, recorded as the `recv` it is (with what it carried) before its lines are
/// passed on, so a viewer finds a message's bytes in the calls before it.
pub(crate) fn recv(
    sink: &EventSink,
    stream: &Sock,
    input: &mut &std::net::TcpStream,
    buf: &mut [u8],
    flow: &mut Flow,
) -> io::Result<usize> {
    use std::io::Read;
    if !flow.admit(sink) {
        let res = input.read(buf);
        if sink.tracing() {
            let n = *res.as_ref().unwrap_or(&0);
            flow.add("recv", stream.fd().unwrap_or(-1), stream.peer(), stream.lane(), n);
        }
        return res;
    }
    let (fd, max) = (stream.fd(), buf.len());
    let mut rec = sink.call("recv", stream.lane(), fd, stream.peer(), || {
        format!("fd {}, {max} bytes max", fd.unwrap_or(-1))
    });
    sink.waiting(&mut rec);
    let res = input.read(buf);
    if let (Ok(n), Some(r)) = (&res, &mut rec) {
        r.data = Some(buf[..*n].into());
    }
    sink.ended(rec, &res, |n| {
        if *n == 0 { "0: end of file, the peer closed its side".into() } else { format!("{n} bytes") }
    });
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Budget, Delivery};

    fn sink() -> (EventSink, crossbeam_channel::Receiver<Parcel>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (_gate, gate_rx) = gate_channel();
        (EventSink::new(tx, None, Budget::new(1 << 20, 1 << 20), Trace::new(TraceMode::On, gate_rx)), rx)
    }

    fn calls(rx: &crossbeam_channel::Receiver<Parcel>) -> Vec<Arc<Call>> {
        rx.try_iter()
            .filter_map(|p| match p.open() {
                Delivery::Event(Event::Call { call, .. }) => Some(call),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_flood_is_recorded_one_by_one_up_to_the_rate_then_summed() {
        let (sink, rx) = sink();
        let mut flow = Flow::default();
        let lane = Lane::Conn(1);
        for _ in 0..500 {
            if flow.admit(&sink) {
                let rec = sink.call("recv", lane, Some(7), None, || "fd 7".into());
                sink.returned(rec, || "10 bytes".into());
            } else {
                flow.add("recv", 7, None, lane, 10);
            }
        }
        flow.flush(&sink);
        let got = calls(&rx);
        assert_eq!(got.len(), PER_SECOND as usize + 1, "{got:#?}");
        let Some(CallState::Merged { count, bytes, .. }) = got.last().map(|c| c.state.clone()) else {
            panic!("the rest is one merged entry: {got:#?}")
        };
        assert_eq!((count, bytes), (500 - u64::from(PER_SECOND), 10 * (500 - u64::from(PER_SECOND))));
    }

    #[test]
    fn a_full_budget_loses_calls_without_waiting_and_the_next_one_says_how_many() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (_gate, gate_rx) = gate_channel();
        let budget = Budget::new(1000, 1000);
        let sink = EventSink::new(tx, None, budget.clone(), Trace::new(TraceMode::On, gate_rx));
        let hog = budget.try_take(1000).expect("room");
        for _ in 0..3 {
            let rec = sink.call("recv", Lane::Conn(1), Some(7), None, || "fd 7".into());
            sink.returned(rec, || "1 bytes".into());
        }
        assert!(calls(&rx).is_empty(), "nothing waits for room");
        drop(hog);
        let rec = sink.call("close", Lane::Conn(1), Some(7), None, || "fd 7".into());
        sink.returned(rec, || "0".into());
        let got = calls(&rx);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].lost_before, 3);
    }

    #[test]
    fn off_means_no_call_and_no_formatting() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let sink = EventSink::new(tx, None, Budget::new(1 << 20, 1 << 20), None);
        let rec = sink.call("recv", Lane::Conn(1), Some(7), None, || panic!("arguments formatted while off"));
        assert!(rec.is_none());
        assert!(!Flow::default().admit(&sink));
        assert!(rx.try_recv().is_err());
    }
}
