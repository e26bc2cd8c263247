//! What one connection may do: how fast its lines are relayed, how long it may stay silent, and how
//! the server waits on a client that has finished sending but still listens.

use std::io;
use std::net::TcpStream;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::server::describe_io;
use crate::model::DisconnectReason;

/// Which of a room's two rates a client went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Over {
    Lines(u32),
    Bytes(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Pass,
    /// Over a limit; `warn` at most once a second so the warning is not a flood of its own.
    Drop {
        warn: Option<Over>,
    },
}

/// A token bucket refilling at `rate` a second, holding at most one second's worth.
struct Bucket {
    per_sec: u32,
    rate: f64,
    tokens: f64,
}

impl Bucket {
    fn new(per_sec: u32) -> Self {
        let rate = f64::from(per_sec.max(1));
        Bucket { per_sec, rate, tokens: rate }
    }

    fn refill(&mut self, secs: f64) {
        self.tokens = (self.tokens + secs * self.rate).min(self.rate);
    }
}

/// A room client's relay allowance: lines a second, and bytes a second (burst: one second of each).
///
/// Lines alone let 50 lines of 64 KiB a second through to every reader; bytes alone let a flood of short
/// lines drown the room. The byte bucket lets a line through while it holds any tokens at all and may go
/// into debt by it, so a line longer than a second's allowance still passes, and then the client waits
/// until the debt is paid: over time a client gets no more than the rate, plus one line.
pub(super) struct RateLimit {
    lines: Option<Bucket>,
    bytes: Option<Bucket>,
    last: Instant,
    last_warn: Option<Instant>,
}

impl RateLimit {
    /// `None` when neither rate is set.
    pub(super) fn new(lines: Option<u32>, bytes: Option<u32>) -> Option<Self> {
        if lines.is_none() && bytes.is_none() {
            return None;
        }
        Some(RateLimit {
            lines: lines.map(Bucket::new),
            bytes: bytes.map(Bucket::new),
            last: Instant::now(),
            last_warn: None,
        })
    }

    /// Whether a line of `len` bytes may be relayed now.
    pub(super) fn take(&mut self, len: usize) -> Verdict {
        self.take_at(len, Instant::now())
    }

    fn take_at(&mut self, len: usize, now: Instant) -> Verdict {
        let secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let lines_ok = self.lines.as_mut().is_none_or(|b| {
            b.refill(secs);
            b.tokens >= 1.0
        });
        let bytes_ok = self.bytes.as_mut().is_none_or(|b| {
            b.refill(secs);
            b.tokens > 0.0
        });
        if lines_ok && bytes_ok {
            if let Some(b) = &mut self.lines {
                b.tokens -= 1.0;
            }
            if let Some(b) = &mut self.bytes {
                b.tokens -= len as f64;
            }
            return Verdict::Pass;
        }
        let over = match (lines_ok, &self.lines, &self.bytes) {
            (false, Some(b), _) => Some(Over::Lines(b.per_sec)),
            (_, _, Some(b)) => Some(Over::Bytes(b.per_sec)),
            _ => None,
        };
        let warn = self.last_warn.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if warn {
            self.last_warn = Some(now);
        }
        Verdict::Drop { warn: over.filter(|_| warn) }
    }
}

/// True when a raw line holds something besides spaces, tabs and NULs. Only such lines keep a client
/// from counting as idle: an empty line every few seconds says nothing, and would otherwise hold a place
/// for ever as a byte every few seconds once did.
pub(super) fn says_something(raw: &[u8]) -> bool {
    raw.iter().any(|b| !matches!(b, b' ' | b'\t' | b'\0'))
}

/// The idle reason, with the timeout as configured (`0.3 s`, `5 s`).
pub(super) fn idle_reason(idle: Duration) -> String {
    format!("idle: no line received for {} s", idle.as_secs_f32())
}

/// Duplex and room: EOF from a client means only that it has finished sending (`shutdown(SHUT_WR)`,
/// `ncat HOST PORT < /dev/null`); it may still be listening, so it stays connected and keeps receiving
/// until it goes, is disconnected, fails to read as any client can, or turns idle. Returns how it ended,
/// unless `reason` (set by whoever closed it) says so already.
pub(super) fn half_closed(
    stream: &TcpStream,
    deadline: Option<Instant>,
    idle: Option<Duration>,
    reason: &Mutex<Option<DisconnectReason>>,
) -> DisconnectReason {
    let closing = || reason.lock().unwrap_or_else(PoisonError::into_inner).is_some();
    let end = if closing() { Hangup::Gone(None) } else { wait_hangup(stream, deadline, closing) };
    // A client that had finished sending and then closed resets what is sent to it next; whether this
    // wait or a send saw that first, to the person watching it closed.
    let peer_closed =
        |k: io::ErrorKind| matches!(k, io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe);
    let mut slot = reason.lock().unwrap_or_else(PoisonError::into_inner);
    let gone = [io::ErrorKind::ConnectionReset, io::ErrorKind::BrokenPipe].map(|k| describe_io(&k.into()));
    if matches!(&*slot, Some(DisconnectReason::Error(e)) if gone.contains(e)) {
        *slot = None;
    }
    drop(slot);
    match end {
        Hangup::Idle => DisconnectReason::Policy(idle_reason(idle.unwrap_or_default())),
        Hangup::Gone(Some(e)) if peer_closed(e.kind()) => DisconnectReason::Closed,
        Hangup::Gone(Some(e)) => DisconnectReason::Error(describe_io(&e)),
        Hangup::Gone(None) => DisconnectReason::Closed,
    }
}

/// How a half-closed client ended.
enum Hangup {
    /// The socket was reset or shut down (by the peer, our writer, a disconnect or a stop); `Some` is
    /// the socket's error, if it has one.
    Gone(Option<io::Error>),
    /// The idle deadline passed.
    Idle,
}

/// Longest a half-closed client's reader sleeps between looks at `stop_asked`. On Linux a shutdown of
/// the socket (stop, disconnect, a failed send) wakes the wait at once; this bounds the wait on a system
/// whose `poll` does not report that.
const HANGUP_CHECK: Duration = Duration::from_millis(500);

/// Waits, without reading, until a client that has finished sending (its read side is at EOF) is gone:
/// `poll` with no events asked still reports a hang-up or an error, while a read would return 0 at
/// once, for ever. A client that has closed fully looks the same from here until something is sent to
/// it (its end answers that with a reset); TCP keepalive is switched on so one that is sent nothing is
/// still found: its end answers probes until its FIN_WAIT_2 timer runs out (60 s on Linux; measured: the
/// hang-up shows about 60 s after the close), then resets. A machine that vanished fails the probes.
#[cfg(unix)]
fn wait_hangup(stream: &TcpStream, deadline: Option<Instant>, stop_asked: impl Fn() -> bool) -> Hangup {
    use std::os::fd::AsRawFd;
    let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(15));
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    let ka = ka.with_interval(Duration::from_secs(5)).with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
    loop {
        let mut wait = HANGUP_CHECK;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Hangup::Idle;
            }
            wait = wait.min(left);
        }
        let mut pfd = libc::pollfd { fd: stream.as_raw_fd(), events: 0, revents: 0 };
        // Rounded up, so a wait for the deadline does not wake just before it and go round again.
        let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd, for a descriptor `stream` keeps open for the whole call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Hangup::Gone(Some(e));
        }
        if n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            return Hangup::Gone(stream.take_error().ok().flatten());
        }
        if stop_asked() {
            return Hangup::Gone(None);
        }
    }
}

/// Without `poll`, a client that finished sending is treated as gone, as before half-close was kept.
#[cfg(not(unix))]
fn wait_hangup(_: &TcpStream, _: Option<Instant>, _: impl Fn() -> bool) -> Hangup {
    Hangup::Gone(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn line_rate_passes_a_burst_then_drops_and_warns_once_a_second() {
        let mut r = RateLimit::new(Some(3), None).unwrap();
        let t0 = r.last;
        for _ in 0..3 {
            assert_eq!(r.take_at(10, t0), Verdict::Pass);
        }
        assert_eq!(r.take_at(10, t0), Verdict::Drop { warn: Some(Over::Lines(3)) });
        assert_eq!(r.take_at(10, t0 + ms(100)), Verdict::Drop { warn: None });
        // A third of a second later one more line's worth has come back.
        assert_eq!(r.take_at(10, t0 + ms(400)), Verdict::Pass);
        assert_eq!(r.take_at(10, t0 + ms(1100)), Verdict::Pass);
    }

    #[test]
    fn byte_rate_lets_one_long_line_through_then_waits_for_the_debt() {
        let mut r = RateLimit::new(Some(100), Some(1000)).unwrap();
        let t0 = r.last;
        assert_eq!(r.take_at(600, t0), Verdict::Pass);
        // 400 bytes left: a line longer than that still passes, and leaves a debt of 2,600.
        assert_eq!(r.take_at(3000, t0), Verdict::Pass);
        assert_eq!(r.take_at(1, t0 + ms(2000)), Verdict::Drop { warn: Some(Over::Bytes(1000)) });
        assert_eq!(r.take_at(1, t0 + ms(2500)), Verdict::Drop { warn: None });
        assert_eq!(r.take_at(1, t0 + ms(2700)), Verdict::Pass);
    }

    #[test]
    fn no_rate_means_no_limit() {
        assert!(RateLimit::new(None, None).is_none());
        let mut r = RateLimit::new(None, Some(10)).unwrap();
        let t0 = r.last;
        assert_eq!(r.take_at(10, t0), Verdict::Pass);
        assert_eq!(r.take_at(1, t0), Verdict::Drop { warn: Some(Over::Bytes(10)) });
    }

    #[test]
    fn blank_lines_say_nothing() {
        assert!(!says_something(b" \t\0 "));
        assert!(says_something(b" x"));
        assert!(says_something(b"\x1b"));
        assert_eq!(idle_reason(ms(300)), "idle: no line received for 0.3 s");
        assert_eq!(idle_reason(Duration::from_secs(5)), "idle: no line received for 5 s");
    }
}
