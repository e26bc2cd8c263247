//! TLS for sockchat's connections: rustls (one crypto provider, ring; no system OpenSSL), a certificate
//! made once and kept ([`cert`]), and trust decided like SSH by a fingerprint people compare ([`verify`],
//! [`known`]). The chat inside is the same line protocol as over plain TCP (PROTOCOL.md).
//!
//! # Threads
//!
//! A plain connection has a reader thread blocked in `recv` and a writer (a server's writer thread, a
//! client's control thread) that `send`s, both on one shared socket ([`super::trace::Sock`]). A rustls
//! connection is one state machine for both directions: it cannot be split into a read half and a write
//! half. The engine keeps its threads and its promises with this design ([`Session`]):
//!
//! - The socket stays shared; only the bytes on it change (ciphertext now, which is what the trace then
//!   records in its `recv`, `send` and `writev` calls).
//! - The rustls state sits behind a mutex that is held **only for in-memory work**, never across a
//!   blocking call: the reader makes its blocking `recv` without the lock, then locks to hand the bytes
//!   to rustls (`read_tls`, `process_new_packets`) and take the plaintext out.
//! - **Only the writing thread takes ciphertext out** (`write_tls`) and writes it to the socket, so
//!   records reach the socket in the order rustls made them. It locks to encrypt what it was given and
//!   to take the bytes, lets go, then writes (the blocking part, under the send timeout, as before).
//! - Records the reader causes (an alert, a key update's answer) stay inside rustls's own ordered
//!   output; the reader only nudges the writer (an empty entry in the server's queue, a message to the
//!   client's control thread), which takes them out with whatever comes next.
//! - So no send blocks its caller (a server's lines go through the writer's queue, bounded in bytes as
//!   before; a TLS connection skips the plain path's send-it-at-once shortcut, which would put
//!   plaintext on the wire), a stuck peer holds up only its own writer, and `stop` still ends every
//!   thread by shutting the sockets down: nothing waits on the lock, only on the socket.
//!
//! The handshake runs before the reader and writer exist, on the new connection's own thread (the
//! server's reader-to-be, the client's control thread), with blocking calls bounded by
//! [`HANDSHAKE_TIMEOUT`]: a client that never finishes it is closed then, and holds up no one else (the
//! accept thread has moved on long before). Allow/deny and the per-address and server-full checks are
//! made before it, on the accept thread, as for plain TCP.
//!
//! # Trust
//!
//! A client accepts a certificate that verifies against the system's roots for the name typed (a real
//! server with a real certificate) without asking. Otherwise it goes by the certificate's SHA-256
//! fingerprint ([`crate::trust::Fingerprint`]), as SSH does with host keys: known for this `host:port`
//! in the known-servers file, pinned with `--fingerprint`, or new (asked, refused, or accepted by
//! `--accept-new`); a fingerprint that differs from the known one is refused with what to do. Only the
//! chain check is replaced: the handshake's signatures are checked as always, so the peer must hold the
//! certificate's private key. With [`TrustPolicy::Ask`](crate::trust::TrustPolicy::Ask) the question
//! is put after the handshake has proved that, and before a single byte of chat goes either way.

pub mod cert;
pub(crate) mod client;
mod dirs;
pub mod handshake;
pub mod known;
pub mod session;
pub mod verify;

pub use dirs::{NO_CONFIG_DIR, cert_dir, config_dir, known_servers_file};
pub use session::Session;

use std::time::Duration;

/// Longest a handshake may take, on either side, before the connection is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The one crypto provider every config here is built from.
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// The SHA-256 of a certificate's DER bytes.
pub fn fingerprint(der: &[u8]) -> crate::trust::Fingerprint {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    crate::trust::Fingerprint(out)
}

/// What a connection's encryption is, as the window and the terminal show it.
pub(crate) fn info(
    conn: &rustls::CommonState,
    server_cert: Option<(crate::trust::Fingerprint, crate::trust::Trusted)>,
) -> crate::trust::TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "TLS".to_string(),
    };
    let cipher = conn.negotiated_cipher_suite().map_or_else(String::new, |s| format!("{:?}", s.suite()));
    crate::trust::TlsInfo { version, cipher, server_cert }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_of_the_bytes() {
        // SHA-256 of "abc" (FIPS 180-2's example).
        let f = fingerprint(b"abc");
        assert_eq!(f.groups()[0], "BA78");
        assert_eq!(f.groups()[15], "15AD");
    }
}
