//! The handshake, on the connection's own thread before its reader and writer exist, bounded by
//! [`HANDSHAKE_TIMEOUT`](super::HANDSHAKE_TIMEOUT), and its failures in words: a plain client at a TLS
//! server, a TLS client at a plain server, a certificate not accepted, a peer that never finishes.

use std::io;
use std::time::{Duration, Instant};

use super::session::words;
use crate::engine::EventSink;
use crate::engine::trace::{self, Flow, Sock};

/// Why a handshake did not finish.
#[derive(Debug)]
pub(crate) enum Failed {
    /// The engine is stopping.
    Stopped,
    /// The deadline passed; what the peer had sent by then (maybe nothing).
    Timeout {
        first: Vec<u8>,
    },
    /// The peer closed (or reset) the connection.
    Closed {
        first: Vec<u8>,
    },
    /// The bytes were not TLS, or TLS failed.
    Tls {
        error: rustls::Error,
        first: Vec<u8>,
    },
    Io(io::Error),
}

/// How long one blocking `recv` of the handshake waits before it looks whether the engine is stopping.
const SLICE: Duration = Duration::from_millis(100);

/// How much of the peer's first bytes is kept, to tell plain text from TLS in the error.
const FIRST: usize = 200;

/// Runs `conn`'s handshake on `sock` until done, the deadline, or a stop. Every `recv` and `send` is
/// recorded in the trace as usual (their bytes are TLS records).
pub(crate) fn run(
    conn: &mut rustls::Connection,
    sock: &Sock,
    sink: &EventSink,
    deadline: Instant,
) -> Result<(), Failed> {
    let mut buf = vec![0u8; 18 * 1024];
    let mut first = Vec::new();
    let mut flow = Flow::default();
    let mut input: &std::net::TcpStream = sock;
    let res = loop {
        if let Err(e) = flush(conn, sock, sink, &mut flow) {
            break Err(Failed::Io(e));
        }
        if !conn.is_handshaking() {
            break Ok(());
        }
        if sink.budget.is_closed() {
            break Err(Failed::Stopped);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(Failed::Timeout { first });
        }
        let _ = sock.set_read_timeout(Some(left.min(SLICE)));
        match trace::recv(sink, sock, &mut input, &mut buf, &mut flow) {
            Ok(0) => break Err(Failed::Closed { first }),
            Ok(n) => {
                let keep = n.min(FIRST.saturating_sub(first.len()));
                first.extend_from_slice(&buf[..keep]);
                let mut data = &buf[..n];
                let mut failed = None;
                while !data.is_empty() && failed.is_none() {
                    match conn.read_tls(&mut data) {
                        Ok(_) => failed = conn.process_new_packets().err(),
                        Err(e) => failed = Some(rustls::Error::General(e.to_string())),
                    }
                }
                if let Some(error) = failed {
                    // The alert rustls queued tells a TLS peer why; a plain one would show its bytes as
                    // garbage before the plain line the server sends it instead.
                    if plain_text(&first).is_none() {
                        let _ = flush(conn, sock, sink, &mut flow);
                    }
                    break Err(Failed::Tls { error, first });
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(e)
                if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) =>
            {
                break Err(Failed::Closed { first });
            }
            Err(e) => break Err(Failed::Io(e)),
        }
    };
    flow.flush(sink);
    let _ = sock.set_read_timeout(None);
    res
}

/// Sends what rustls has for the peer.
fn flush(conn: &mut rustls::Connection, sock: &Sock, sink: &EventSink, flow: &mut Flow) -> io::Result<()> {
    while conn.wants_write() {
        let mut out = Vec::new();
        conn.write_tls(&mut out)?;
        crate::engine::client::send_traced(sink, sock, &out, flow)?;
    }
    Ok(())
}

/// The peer's first bytes, if they read as a line of text rather than a TLS record (which starts with
/// a byte below 0x20: 0x16 for a handshake, 0x15 for an alert).
pub(crate) fn plain_text(first: &[u8]) -> Option<String> {
    let b = *first.first()?;
    if !(0x20..0x7f).contains(&b) {
        return None;
    }
    let line = first.split(|c| *c == b'\n').next().unwrap_or(first);
    let text: String = String::from_utf8_lossy(line).chars().filter(|c| !c.is_control()).take(80).collect();
    Some(text)
}

/// A server's words for a client whose handshake failed (the `refused` line).
pub(crate) fn server_words(f: &Failed) -> String {
    let secs = super::HANDSHAKE_TIMEOUT.as_secs();
    match f {
        Failed::Stopped => "the server stopped during the TLS handshake".into(),
        Failed::Timeout { first } | Failed::Closed { first } | Failed::Tls { first, .. }
            if plain_text(first).is_some() =>
        {
            "it spoke plain text, not TLS (this server uses --tls)".into()
        }
        Failed::Timeout { first } if first.is_empty() => format!(
            "no TLS handshake within {secs} s: it sent nothing (a plain client waiting for the server to \
             speak? this server uses --tls)"
        ),
        Failed::Timeout { .. } => format!("its TLS handshake did not finish within {secs} s"),
        Failed::Closed { .. } => "it closed the connection during the TLS handshake".into(),
        Failed::Tls { error, .. } => format!("TLS handshake failed: {}", words(error)),
        Failed::Io(e) => format!("TLS handshake failed: {}", crate::engine::server::describe_io(e)),
    }
}

/// A client's words for a failed handshake; `refused` is the certificate check's own explanation.
pub(crate) fn client_words(f: &Failed, refused: Option<String>) -> String {
    let secs = super::HANDSHAKE_TIMEOUT.as_secs();
    if let Some(why) = refused {
        return why;
    }
    match f {
        Failed::Stopped => "stopped during the TLS handshake".into(),
        Failed::Timeout { first } | Failed::Closed { first } | Failed::Tls { first, .. }
            if plain_text(first).is_some() =>
        {
            format!(
                "the server answered in plain text, not TLS: is it a plain server (started without \
                 --tls)? It said: {}",
                plain_text(first).unwrap_or_default()
            )
        }
        Failed::Timeout { .. } => format!(
            "no TLS answer from the server within {secs} s: is it a plain server (started without --tls)?"
        ),
        Failed::Closed { .. } => "the server closed the connection during the TLS handshake (is it a \
                                  TLS server? it may also be full or refuse your address)"
            .into(),
        Failed::Tls { error, .. } => format!("TLS handshake failed: {}", words(error)),
        Failed::Io(e) => format!("TLS handshake failed: {}", crate::engine::server::describe_io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_told_from_tls_records() {
        assert_eq!(plain_text(b"/name ann\nhello\n").as_deref(), Some("/name ann"));
        assert_eq!(plain_text(&[0x16, 0x03, 0x01, 0x02, 0x00]), None);
        assert_eq!(plain_text(&[0x15, 0x03, 0x03]), None);
        assert_eq!(plain_text(b""), None);
        let f = Failed::Tls { error: rustls::Error::General("x".into()), first: b"hello\n".to_vec() };
        assert_eq!(server_words(&f), "it spoke plain text, not TLS (this server uses --tls)");
    }
}
