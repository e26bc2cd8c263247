//! A client's side of TLS: the handshake on the control thread, the trust decision, and the question
//! put to the person when the policy is to ask.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use rustls::pki_types::ServerName;

use super::handshake::{self, Failed};
use super::known;
use super::session::Session;
use super::verify::{self, Outcome, Verifier};
use crate::engine::trace::Sock;
use crate::engine::{ClientTls, Command, EventSink};
use crate::model::{self, Event};
use crate::trust::{TlsInfo, TrustAnswer, Trusted};

/// Why the client did not get a TLS connection: a stop (nothing to say), or words for a fatal error.
pub(crate) enum NotConnected {
    Stopped,
    Because(String),
}

impl From<String> for NotConnected {
    fn from(s: String) -> Self {
        NotConnected::Because(s)
    }
}

/// Makes the TLS connection over `sock` (connected to `host:port` as typed) and settles trust, asking
/// through `sink` and `cmds` when the policy says so. Nothing of the chat has been sent either way yet.
pub(crate) fn start(
    tls: &ClientTls,
    host: &str,
    port: u16,
    sock: &Sock,
    sink: &EventSink,
    cmds: &Receiver<Command>,
) -> Result<(Arc<Session>, TlsInfo), NotConnected> {
    let key = known::key(host, port);
    let verifier = Verifier::new(key.clone(), tls)?;
    let config = verify::client_config(verifier.clone())?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(bare.to_string())
            .map_err(|_| format!("'{host}' cannot be used as a TLS server name"))?,
    };
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
    let mut conn = rustls::Connection::Client(conn);
    let deadline = Instant::now() + super::HANDSHAKE_TIMEOUT;
    if let Err(f) = handshake::run(&mut conn, sock, sink, deadline) {
        if matches!(f, Failed::Stopped) {
            return Err(NotConnected::Stopped);
        }
        let refused = match verifier.outcome() {
            Some(Outcome::Refused(why, changed)) => {
                if let Some(c) = changed {
                    sink.emit(Event::TrustChanged {
                        time: model::now(),
                        server: key.clone(),
                        remembered: c.remembered,
                        now: c.now,
                        file: tls.known_servers.clone(),
                        line: c.line,
                    });
                }
                Some(why)
            }
            _ => None,
        };
        return Err(handshake::client_words(&f, refused).into());
    }
    let remember = |fp| {
        if let Err(e) = known::remember(&tls.known_servers, &key, &fp) {
            sink.error(None, e, false);
        }
    };
    let (fp, trusted) = match verifier.outcome() {
        Some(Outcome::Trusted(fp, Trusted::New)) => {
            // `--accept-new`: remembered, as `ssh -o StrictHostKeyChecking=accept-new` does.
            remember(fp);
            (fp, Trusted::New)
        }
        Some(Outcome::Trusted(fp, t)) => (fp, t),
        Some(Outcome::Ask(fp)) => {
            sink.emit(Event::TrustAsk { time: model::now(), server: key.clone(), fingerprint: fp });
            match wait_answer(sink, cmds) {
                Some(TrustAnswer::Once) => (fp, Trusted::New),
                Some(TrustAnswer::Always) => {
                    remember(fp);
                    (fp, Trusted::New)
                }
                Some(TrustAnswer::Cancel) => {
                    let session = Session::new(conn);
                    let mut bye = Vec::new();
                    if session.close_notify(&mut bye).is_ok() {
                        let _ = crate::engine::client::send_traced(sink, sock, &bye, &mut Default::default());
                    }
                    return Err(format!("not connected: {key}'s certificate ({fp}) was not accepted").into());
                }
                None => return Err(NotConnected::Stopped),
            }
        }
        // rustls calls the check in every full handshake (resumption is off): not reached.
        Some(Outcome::Refused(why, _)) => return Err(why.into()),
        None => return Err(String::from("the TLS handshake ended without a certificate check").into()),
    };
    let info = super::info(&conn, Some((fp, trusted)));
    Ok((Arc::new(Session::new(conn)), info))
}

/// The person's answer to a `TrustAsk`; `None` on a stop. Lines typed meanwhile are not sent (nothing
/// goes to a server before it is trusted) and the person is told.
fn wait_answer(sink: &EventSink, cmds: &Receiver<Command>) -> Option<TrustAnswer> {
    for c in cmds {
        match c {
            Command::Trust(a) => return Some(a),
            Command::Stop => return None,
            Command::Send { .. } => {
                sink.error(None, "not sent: first accept or refuse the server's certificate".into(), false)
            }
            Command::Disconnect(_) | Command::Finish | Command::ProbeTcp => {}
        }
    }
    None
}
