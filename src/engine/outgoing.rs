//! A client's outgoing side: the queue a server sends through, and the writer thread that drains it.
//!
//! A line goes straight into the socket (one non-blocking `send`) while the writer is idle and the socket
//! has room, and into the writer's queue otherwise; the queue is bounded in bytes, and a client whose
//! queue passes the bound, or that accepts no byte within the send timeout, is closed as not reading.

use std::io::{self, IoSlice, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::EventSink;
use super::server::describe_io;
use super::tls::Session;
use super::trace::{Flow, Sock};
use crate::model::DisconnectReason;

pub(super) type ReasonSlot = Arc<Mutex<Option<DisconnectReason>>>;
pub(super) type Bytes = Arc<[u8]>;

/// Sets the reason a connection ends, unless one is already set: the first cause wins.
pub(super) fn set_reason(slot: &ReasonSlot, r: DisconnectReason) {
    let mut g = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if g.is_none() {
        *g = Some(r);
    }
}

pub(super) struct Client {
    pub(super) out: Sender<Bytes>,
    /// Bytes queued for the writer or being written by it; zero means the writer is idle. Counted here
    /// rather than bounding the channel, because a bounded channel allocates every slot up front, and
    /// counts lines, not memory.
    pub(super) queued: Arc<AtomicUsize>,
    /// Held while choosing between sending at once and queueing, so a client's lines keep their order;
    /// it guards the trace's rate of `send` calls on this connection too.
    pub(super) sending: Mutex<Flow>,
    pub(super) stream: Arc<Sock>,
    pub(super) sink: EventSink,
    pub(super) reason: ReasonSlot,
    /// Canonical, for the count per address.
    pub(super) ip: IpAddr,
    /// TLS: the connection's rustls state; every line then goes through the writer (see `engine::tls`).
    pub(super) tls: Option<Arc<Session>>,
    /// The peer as known now, for reporting its end where no reader does.
    pub(super) slot: super::PeerSlot,
}

impl Client {
    pub(super) fn close(&self, r: DisconnectReason) {
        set_reason(&self.reason, r);
        let _ = self.stream.shutdown(Shutdown::Both, &self.sink);
    }

    /// Sends without blocking: straight into the socket when the writer is idle and the socket has room
    /// (no thread wake-up: a room's relay profile showed them), otherwise through the writer's queue.
    /// A full queue means the peer is not reading, so it is closed. The bound is in bytes, so memory held
    /// for a stuck peer is bounded whatever its lines' length.
    pub(super) fn queue(&self, bytes: &Bytes, cap: usize) -> bool {
        let mut flow = self.sending.lock().unwrap_or_else(PoisonError::into_inner);
        let mut sent = 0;
        // Plain only: over TLS the bytes must be encrypted, in order, by the writer.
        if self.tls.is_none() && self.queued.load(Ordering::Acquire) == 0 {
            match self.send_now(&mut flow, bytes) {
                Ok(n) if n == bytes.len() => return true,
                Ok(n) => sent = n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                Err(e) => {
                    self.close(DisconnectReason::Error(describe_io(&e)));
                    return false;
                }
            }
        }
        let piece: Bytes = if sent == 0 { bytes.clone() } else { bytes[sent..].into() };
        let n = piece.len();
        if self.queued.fetch_add(n, Ordering::AcqRel) + n > cap {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            let kib = cap / 1024;
            self.close(DisconnectReason::Policy(format!("not reading: {kib} KiB waiting to be sent")));
            return false;
        }
        if self.out.send(piece).is_err() {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }
}

impl Client {
    /// [`send_now`], recorded in the trace.
    fn send_now(&self, flow: &mut Flow, bytes: &Bytes) -> io::Result<usize> {
        let fd = self.stream.fd();
        let (lane, peer) = (self.stream.lane(), self.stream.peer());
        let rec = if flow.admit(&self.sink) {
            let n = bytes.len();
            self.sink
                .call("send", lane, fd, peer, || format!("fd {}, {n} bytes, MSG_DONTWAIT", fd.unwrap_or(-1)))
        } else {
            None
        };
        let res = send_now(&self.stream, bytes);
        match rec {
            Some(mut r) => {
                r.data = Some(bytes.clone());
                self.sink.ended(Some(r), &res, |n| format!("{n}"));
            }
            None if self.sink.tracing() => {
                flow.add("send", fd.unwrap_or(-1), peer, lane, *res.as_ref().unwrap_or(&0));
            }
            None => {}
        }
        res
    }
}

/// One non-blocking `send` on a socket that is otherwise blocking (the writer thread's writes block,
/// with the send timeout).
#[cfg(unix)]
fn send_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    #[cfg(target_os = "linux")]
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    #[cfg(not(target_os = "linux"))]
    let flags = libc::MSG_DONTWAIT;
    socket2::SockRef::from(stream).send_with_flags(bytes, flags)
}

/// Elsewhere everything goes through the writer thread.
#[cfg(not(unix))]
fn send_now(_: &TcpStream, _: &[u8]) -> io::Result<usize> {
    Err(io::ErrorKind::WouldBlock.into())
}

/// Sends queued lines, several per `writev` when they pile up, so a busy room costs fewer syscalls; the
/// queued pieces go to the kernel as they are, without being copied into one buffer first.
pub(super) fn write_loop(
    rx: &Receiver<Bytes>,
    queued: &AtomicUsize,
    stream: &Sock,
    reason: &ReasonSlot,
    timeout: Duration,
    sink: &EventSink,
    tls: Option<&Session>,
) {
    let mut flow = Flow::default();
    const BATCH: usize = 64 * 1024;
    // Far below any system's IOV_MAX (1024 on Linux and macOS).
    const PIECES: usize = 64;
    let mut pieces: Vec<Bytes> = Vec::new();
    while let Ok(first) = rx.recv() {
        pieces.clear();
        let mut total = first.len();
        pieces.push(first);
        while total < BATCH && pieces.len() < PIECES {
            match rx.try_recv() {
                Ok(more) => {
                    total += more.len();
                    pieces.push(more);
                }
                Err(_) => break,
            }
        }
        let written = match tls {
            None => {
                let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
                write_traced(stream, &mut slices, &pieces, total, &mut flow, sink)
            }
            // Encrypted under the session's lock, written after it is let go: one record stream, in
            // the order rustls made it (the reader's answers included), written by this thread only.
            Some(session) => {
                let mut cipher = Vec::with_capacity(total + total / 16 + 64);
                let plain: Vec<&[u8]> = pieces.iter().map(|p| &p[..]).collect();
                session.encrypt(&plain, &mut cipher).and_then(|()| {
                    if cipher.is_empty() {
                        return Ok(());
                    }
                    let len = cipher.len();
                    let cipher = [Bytes::from(cipher)];
                    let mut slices = [IoSlice::new(&cipher[0])];
                    write_traced(stream, &mut slices, &cipher, len, &mut flow, sink)
                })
            }
        };
        // Only now: until these bytes are in the socket, nobody may send past them (see `Client::queue`).
        queued.fetch_sub(total, Ordering::AcqRel);
        if let Err(e) = written {
            let why = match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DisconnectReason::Policy(format!(
                    "not reading: nothing accepted for {} s",
                    timeout.as_secs_f32()
                )),
                _ => DisconnectReason::Error(describe_io(&e)),
            };
            set_reason(reason, why);
            let _ = stream.shutdown(Shutdown::Both, sink);
            break;
        }
    }
    flow.flush(sink);
}

/// [`write_all_vectored`] as one `writev` entry in the trace: it blocks (up to the send timeout) while
/// the peer's window is full, which is what a viewer should see waiting.
fn write_traced(
    stream: &Sock,
    slices: &mut [IoSlice<'_>],
    pieces: &[Bytes],
    total: usize,
    flow: &mut Flow,
    sink: &EventSink,
) -> io::Result<()> {
    let mut w: &TcpStream = stream;
    if !flow.admit(sink) {
        let res = write_all_vectored(&mut w, slices);
        if sink.tracing() {
            let (fd, peer) = (stream.fd().unwrap_or(-1), stream.peer());
            flow.add("writev", fd, peer, stream.lane(), if res.is_ok() { total } else { 0 });
        }
        return res;
    }
    let fd = stream.fd();
    let n = pieces.len();
    let args = || format!("fd {}, {n} pieces, {total} bytes", fd.unwrap_or(-1));
    let mut rec = sink.call("writev", stream.lane(), fd, stream.peer(), args);
    if let Some(r) = &mut rec {
        r.data = Some(pieces.concat().into());
    }
    sink.waiting(&mut rec);
    let res = write_all_vectored(&mut w, slices);
    sink.ended(rec, &res, |()| format!("{total}"));
    res
}

/// `write_all` for several buffers (std's own is not stable yet).
fn write_all_vectored(w: &mut impl Write, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
