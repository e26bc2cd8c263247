//! One TLS connection's rustls state, shared by its reader and its writer (see the module docs of
//! `engine::tls`): the lock is held for in-memory work only, and only the writer takes ciphertext out.
//!
//! Public so the load tool's clients use the same reading and writing as the engine's connections:
//! rustls refuses more ciphertext while its plaintext buffer is full, so a reader that handed it a large
//! read at once without taking plaintext out in between failed under load ("received plaintext buffer
//! full"); here each `read_tls` is followed by taking out what it gave.

use std::io::{self, Read, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub struct Session {
    conn: Mutex<rustls::Connection>,
}

/// What one read's ciphertext gave.
#[derive(Debug, Default)]
struct Decrypted {
    /// The peer said `close_notify`: the end of its data, as end of file is for plain TCP.
    closed: bool,
    /// rustls has records to send (an answer the reader caused): the writer should take them out.
    wants_write: bool,
}

impl Session {
    /// After a finished handshake.
    pub fn new(mut conn: rustls::Connection) -> Session {
        // Our own queues bound what waits (the server's per-client queue, in bytes); rustls's buffer
        // limit would only make a write return short.
        conn.set_buffer_limit(None);
        Session { conn: Mutex::new(conn) }
    }

    fn lock(&self) -> MutexGuard<'_, rustls::Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The reader's part: hands `cipher` (one `recv`'s bytes) to rustls and appends the plaintext it
    /// gives to `plain`. An error is a broken or hostile peer: the connection ends.
    fn decrypt(&self, mut cipher: &[u8], plain: &mut Vec<u8>) -> io::Result<Decrypted> {
        let mut conn = self.lock();
        let mut out = Decrypted::default();
        // Once at least: with no new bytes it takes out what rustls already holds.
        loop {
            if !cipher.is_empty() {
                conn.read_tls(&mut cipher)?;
            }
            let state = conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, words(&e)))?;
            let n = state.plaintext_bytes_to_read();
            if n > 0 {
                let start = plain.len();
                plain.resize(start + n, 0);
                conn.reader().read_exact(&mut plain[start..])?;
            }
            out.closed |= state.peer_has_closed();
            if cipher.is_empty() {
                break;
            }
        }
        out.wants_write = conn.wants_write();
        Ok(out)
    }

    /// A read loop's step: [`Session::decrypt`] into `plain` (cleared first), then `nudge` the writer if
    /// rustls has records to send. `Ok(true)` when the peer said `close_notify`.
    pub fn read_step(&self, cipher: &[u8], plain: &mut Vec<u8>, nudge: impl FnOnce()) -> io::Result<bool> {
        plain.clear();
        let d = self.decrypt(cipher, plain)?;
        if d.wants_write {
            nudge();
        }
        Ok(d.closed)
    }

    /// The writer's part: encrypts `pieces` and appends every record waiting (the reader's answers
    /// too, in the order rustls made them) to `cipher`.
    pub fn encrypt(&self, pieces: &[&[u8]], cipher: &mut Vec<u8>) -> io::Result<()> {
        let mut conn = self.lock();
        for p in pieces {
            conn.writer().write_all(p)?;
        }
        while conn.wants_write() {
            conn.write_tls(cipher)?;
        }
        Ok(())
    }

    /// `close_notify`, for a clean end of our sending (the client's `Finish`, the server's stop).
    pub fn close_notify(&self, cipher: &mut Vec<u8>) -> io::Result<()> {
        self.lock().send_close_notify();
        self.encrypt(&[], cipher)
    }
}

/// A TLS error in words a person can act on.
pub(crate) fn words(e: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::AlertReceived(
            A::BadCertificate | A::UnknownCA | A::AccessDenied | A::CertificateUnknown,
        ) => "the other side did not accept this server's certificate (a client that does not know it yet: \
             its user should compare the fingerprint)"
            .into(),
        rustls::Error::AlertReceived(a) => format!("the other side ended TLS with an alert ({a:?})"),
        rustls::Error::DecryptError => "TLS record failed its integrity check (corrupted or tampered)".into(),
        e => format!("TLS error: {e}"),
    }
}
