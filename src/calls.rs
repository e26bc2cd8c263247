//! The socket calls behind a chat, as data: what the engine's trace records and its users show.
//!
//! A class learns sockets from `server.c` and `client.c`; sockchat makes the same calls, so it can show
//! them live. Each [`Call`] is one step the engine really took, recorded at its call site with its real
//! file descriptor, arguments and result. A call that can block is recorded twice under one `id`: when it
//! starts ([`CallState::Waiting`]) and when it returns, so a viewer can show `accept()` waiting.
//!
//! Pure data and formatting: the recording lives in `engine::trace`, the panel in `gui::calls`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::model::PeerId;

/// Where a call belongs in a timeline: the set-up before any connection, the listening socket, or one
/// connection (a server's client, or a client's one connection to its server, which is peer 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    Setup,
    Listener,
    Conn(PeerId),
}

/// How a call ended, or that it has not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// Step mode: about to be made, held until the user says "Next call" (or "Run").
    Paused,
    /// Started and blocked: `accept` until a client comes, `recv` until bytes arrive.
    Waiting,
    /// Returned; `result` as the C program would print it (`fd 7`, `12 bytes`).
    Returned { result: String, took_us: u64 },
    /// Failed with `errno` (`ECONNREFUSED`) and the system's words for it.
    Failed { errno: String, meaning: String, took_us: u64 },
    /// Many calls of one kind on one connection, too fast to read one by one: `count` calls moved `bytes`
    /// over `span_us`. A flood keeps the trace at a rate a person can follow.
    Merged { count: u64, bytes: u64, span_us: u64 },
}

/// One socket call (or the start of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Shared by a call's start and its end, unique within the engine.
    pub id: u64,
    /// Microseconds since the engine started.
    pub us: u64,
    /// The thread that made it (`sockchat-accept`, `sockchat-r3`).
    pub thread: Arc<str>,
    /// The C name: `socket`, `bind`, `accept`, `recv`, `getnameinfo`...
    pub name: &'static str,
    /// Its arguments as C would spell them: `fd 3, 16384` or `[::]:7878`.
    pub args: String,
    pub fd: Option<i32>,
    pub peer: Option<SocketAddr>,
    pub lane: Lane,
    pub state: CallState,
    /// What a `recv` or `send` carried (kept only while tracing, and bounded by the viewer). The
    /// messages a `recv` completed follow it on the event channel, before the next call on its lane: a
    /// message's last byte came in the last `recv` of its connection before it.
    pub data: Option<Arc<[u8]>>,
    /// Calls that could not be recorded just before this one, because the trace's reader was behind.
    pub lost_before: u64,
}

impl Call {
    /// Still blocked.
    pub fn is_waiting(&self) -> bool {
        self.state == CallState::Waiting
    }

    /// `accept(fd 3) = fd 7 from 127.0.0.1:40266`: the line a terminal prints after `# `.
    pub fn describe(&self) -> String {
        let head = format!("{}({})", self.name, self.args);
        match &self.state {
            CallState::Paused => format!("{head} (step mode: the next call, not made yet)"),
            CallState::Waiting => format!("{head} waiting..."),
            CallState::Returned { result, took_us } => format!("{head} = {result}{}", took(*took_us)),
            CallState::Failed { errno, meaning, took_us } => {
                format!("{head} = -1 {errno} ({meaning}){}", took(*took_us))
            }
            CallState::Merged { count, bytes, span_us } => {
                let s = *span_us as f64 / 1e6;
                format!("{head} x {count} = {bytes} bytes in {s:.1} s (merged: too fast to show one by one)")
            }
        }
    }

    /// The `--json` object: `event: "call"` with the fields README documents.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "event": "call",
            "id": self.id,
            "us": self.us,
            "thread": &*self.thread,
            "call": self.name,
            "args": self.args,
            "fd": self.fd,
            "peer": self.peer.map(|p| p.to_string()),
            "lane": lane_json(self.lane),
        });
        let o = v.as_object_mut().expect("json! made an object");
        match &self.state {
            CallState::Paused => {
                o.insert("paused".into(), json!(true));
            }
            CallState::Waiting => {
                o.insert("waiting".into(), json!(true));
            }
            CallState::Returned { result, took_us } => {
                o.insert("result".into(), json!(result));
                o.insert("took_us".into(), json!(took_us));
            }
            CallState::Failed { errno, meaning, took_us } => {
                o.insert("error".into(), json!(errno));
                o.insert("meaning".into(), json!(meaning));
                o.insert("took_us".into(), json!(took_us));
            }
            CallState::Merged { count, bytes, span_us } => {
                o.insert("merged".into(), json!({ "count": count, "bytes": bytes, "span_us": span_us }));
            }
        }
        if self.lost_before > 0 {
            o.insert("lost_before".into(), json!(self.lost_before));
        }
        v
    }
}

/// A connection's state as the kernel keeps it (Linux `TCP_INFO`), for the client list and status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConn {
    pub lane: Lane,
    pub fd: i32,
    /// `ESTABLISHED`, `CLOSE_WAIT`...; `None` where the system does not say (macOS, others).
    pub state: Option<&'static str>,
    /// Smoothed round-trip time.
    pub rtt_us: Option<u32>,
}

impl TcpConn {
    /// `fd 7 ESTABLISHED, rtt 0.1 ms`.
    pub fn describe(&self) -> String {
        let state = self.state.unwrap_or("state not available");
        match self.rtt_us {
            Some(r) => format!("fd {} {state}, rtt {:.1} ms", self.fd, f64::from(r) / 1e3),
            None => format!("fd {} {state}", self.fd),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "lane": lane_json(self.lane),
            "fd": self.fd,
            "state": self.state,
            "rtt_us": self.rtt_us,
        })
    }
}

fn lane_json(lane: Lane) -> Value {
    match lane {
        Lane::Setup => json!("setup"),
        Lane::Listener => json!("listener"),
        Lane::Conn(id) => json!(id),
    }
}

/// ` (12.3 ms)` for calls slow enough that the time says something; nothing for the quick ones.
fn took(us: u64) -> String {
    match us {
        0..1_000 => String::new(),
        1_000..1_000_000 => format!(" ({:.1} ms)", us as f64 / 1e3),
        _ => format!(" ({:.1} s)", us as f64 / 1e6),
    }
}

/// An error as C shows it: the `errno` name and the system's words (`strerror`), or a kind's name for the
/// errors the standard library makes itself (a `connect` timeout has no errno).
pub fn errno_of(e: &io::Error) -> (String, String) {
    let words = e.to_string();
    let meaning = match words.find(" (os error") {
        Some(i) => words[..i].to_string(),
        None => words,
    };
    let name = match e.raw_os_error() {
        Some(n) => errno_name(n).map_or_else(|| format!("errno {n}"), str::to_string),
        None => match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "ETIMEDOUT".to_string(),
            k => format!("{k:?}"),
        },
    };
    (name, meaning.to_lowercase())
}

/// The `errno` names a chat can meet. Numbers differ between Linux and macOS, so they come from libc.
#[cfg(unix)]
fn errno_name(n: i32) -> Option<&'static str> {
    let names: &[(i32, &str)] = &[
        (libc::EADDRINUSE, "EADDRINUSE"),
        (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
        (libc::ECONNREFUSED, "ECONNREFUSED"),
        (libc::ECONNRESET, "ECONNRESET"),
        (libc::ECONNABORTED, "ECONNABORTED"),
        (libc::ETIMEDOUT, "ETIMEDOUT"),
        (libc::EHOSTUNREACH, "EHOSTUNREACH"),
        (libc::ENETUNREACH, "ENETUNREACH"),
        (libc::ENETDOWN, "ENETDOWN"),
        (libc::EACCES, "EACCES"),
        (libc::EPERM, "EPERM"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::EINTR, "EINTR"),
        (libc::EPIPE, "EPIPE"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENFILE, "ENFILE"),
        (libc::ENOBUFS, "ENOBUFS"),
        (libc::ENOTCONN, "ENOTCONN"),
        (libc::EINVAL, "EINVAL"),
        (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
        (libc::EINPROGRESS, "EINPROGRESS"),
    ];
    names.iter().find(|(v, _)| *v == n).map(|(_, s)| *s)
}

#[cfg(not(unix))]
fn errno_name(_: i32) -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(state: CallState) -> Call {
        Call {
            id: 4,
            us: 1_500,
            thread: "sockchat-accept".into(),
            name: "accept",
            args: "fd 3".into(),
            fd: Some(3),
            peer: None,
            lane: Lane::Listener,
            state,
            data: None,
            lost_before: 0,
        }
    }

    #[test]
    fn a_call_reads_like_c() {
        assert_eq!(call(CallState::Waiting).describe(), "accept(fd 3) waiting...");
        let ok = CallState::Returned { result: "fd 7 from 127.0.0.1:40266".into(), took_us: 12_300_000 };
        assert_eq!(call(ok).describe(), "accept(fd 3) = fd 7 from 127.0.0.1:40266 (12.3 s)");
        let failed =
            CallState::Failed { errno: "EMFILE".into(), meaning: "too many open files".into(), took_us: 5 };
        assert_eq!(call(failed).describe(), "accept(fd 3) = -1 EMFILE (too many open files)");
    }

    #[test]
    fn json_has_the_documented_fields() {
        let mut c =
            call(CallState::Failed { errno: "ECONNRESET".into(), meaning: "reset".into(), took_us: 9 });
        c.lost_before = 3;
        let v = c.to_json();
        assert_eq!(v["event"], "call");
        assert_eq!(v["call"], "accept");
        assert_eq!(v["args"], "fd 3");
        assert_eq!(v["fd"], 3);
        assert_eq!(v["error"], "ECONNRESET");
        assert_eq!(v["thread"], "sockchat-accept");
        assert_eq!(v["lane"], "listener");
        assert_eq!(v["lost_before"], 3);
        assert!(v.get("result").is_none());
        let w = call(CallState::Waiting).to_json();
        assert_eq!(w["waiting"], true);
        assert!(w.get("lost_before").is_none());
    }

    #[cfg(unix)]
    #[test]
    fn errors_are_named_as_in_c() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let (name, meaning) = errno_of(&e);
        assert_eq!(name, "ECONNREFUSED");
        assert_eq!(meaning, "connection refused");
        let (name, _) = errno_of(&io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(name, "ETIMEDOUT");
    }
}
