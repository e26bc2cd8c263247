//! `--tls`: the same loads over TLS, and `handshake`: what a connection costs before its first line.
//!
//! One certificate, made here, serves both servers (sockchat's `--cert/--key`, ncat's
//! `--ssl-cert/--ssl-key`), so both pay for the same key type and signature. The clients pin its
//! fingerprint through sockchat's own verifier: no accept-anything check, even in a load tool.
//!
//! A client's reader and sender are separate threads, as over plain TCP. They share the rustls state
//! through the engine's own [`Session`]: the lock is held for in-memory work only, the reader reads the
//! socket without it, and only the sender writes ciphertext.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use sockchat::engine::ClientTls;
use sockchat::engine::tls::{Session, cert, fingerprint, verify};
use sockchat::trust::TrustPolicy;

use super::Res;

/// The certificate both servers use and the client config that pins it.
pub(super) struct Tls {
    dir: PathBuf,
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
    config: Arc<rustls::ClientConfig>,
}

impl Tls {
    pub(super) fn new() -> Res<Tls> {
        let (cert_pem, key_pem) = cert::make(&["localhost".into(), "127.0.0.1".into()])?;
        let dir = std::env::temp_dir().join(format!("sockchat-load-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        for (path, pem) in [(&cert, &cert_pem), (&key, &key_pem)] {
            std::fs::write(path, pem).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let (chain, _) = cert::read_pair(&cert, &key)?;
        let fp = fingerprint(chain.first().ok_or("the made certificate is empty")?.as_ref());
        let pin = ClientTls { known_servers: dir.join("known_servers"), policy: TrustPolicy::Pin(fp) };
        let config = verify::client_config(verify::Verifier::new("127.0.0.1".into(), &pin)?)?;
        Ok(Tls { dir, cert, key, config })
    }

    /// sockchat's server flags for this certificate.
    pub(super) fn sockchat_args(&self) -> Vec<String> {
        vec!["--tls".into(), "--cert".into(), path(&self.cert), "--key".into(), path(&self.key)]
    }

    /// ncat's.
    pub(super) fn ncat_args(&self) -> Vec<String> {
        vec!["--ssl".into(), "--ssl-cert".into(), path(&self.cert), "--ssl-key".into(), path(&self.key)]
    }

    /// Makes the handshake on `s` (blocking, as a client would) and returns the two halves.
    pub(super) fn handshake(&self, s: TcpStream) -> Res<(TlsRead, TlsWrite)> {
        let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
        let mut conn = rustls::ClientConnection::new(self.config.clone(), name)
            .map_err(|e| format!("TLS client: {e}"))?;
        // The loads write far more than rustls buffers by default; the sender drains it at each write.
        conn.set_buffer_limit(None);
        let mut io = &s;
        while conn.is_handshaking() {
            conn.complete_io(&mut io).map_err(|e| format!("TLS handshake: {e}"))?;
        }
        while conn.wants_write() {
            conn.write_tls(&mut io).map_err(|e| format!("TLS handshake: {e}"))?;
        }
        let session = Arc::new(Session::new(conn.into()));
        let sock = s.try_clone().map_err(|e| format!("clone socket: {e}"))?;
        Ok((
            TlsRead {
                session: session.clone(),
                sock,
                raw: vec![0; 64 * 1024],
                plain: Vec::new(),
                at: 0,
                first: true,
            },
            TlsWrite { session, sock: s, out: Vec::new() },
        ))
    }
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The reading half: ciphertext read from the socket without the lock, decrypted as the engine's
/// readers do it.
pub(super) struct TlsRead {
    session: Arc<Session>,
    sock: TcpStream,
    raw: Vec<u8>,
    /// Plaintext decrypted but not yet returned, from `at`.
    plain: Vec<u8>,
    at: usize,
    /// The first read takes what came with the end of the handshake before waiting on the socket.
    first: bool,
}

impl Read for TlsRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            let first = std::mem::take(&mut self.first);
            let n = if first { 0 } else { (&self.sock).read(&mut self.raw)? };
            if n == 0 && !first {
                return Ok(0);
            }
            // The reader's answers (a key update's) wait in rustls until the sender's next write.
            let closed = self.session.read_step(&self.raw[..n], &mut self.plain, || {})?;
            self.at = 0;
            if self.plain.is_empty() && closed {
                return Ok(0);
            }
        }
        let k = buf.len().min(self.plain.len() - self.at);
        buf[..k].copy_from_slice(&self.plain[self.at..self.at + k]);
        self.at += k;
        Ok(k)
    }
}

/// The writing half: encrypts under the lock, writes the records after letting it go.
pub(super) struct TlsWrite {
    session: Arc<Session>,
    sock: TcpStream,
    out: Vec<u8>,
}

impl Write for TlsWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // At most 64 KiB of plaintext at a time, so what waits in memory stays small.
        let take = buf.len().min(64 * 1024);
        self.out.clear();
        self.session.encrypt(&[&buf[..take]], &mut self.out)?;
        (&self.sock).write_all(&self.out)?;
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `handshake`: connections made one after another, each timed from `connect` until the first line
/// could be sent (for TLS, until the handshake is done), then closed.
pub(super) fn handshake(a: &super::HandshakeArgs) -> Res<()> {
    use super::{Kind, Server, connect, free_port, kinds, median, sockchat_bin};
    use std::time::{Duration, Instant};
    let bin = sockchat_bin(&a.common)?;
    let tls = super::tls_for(&a.common)?;
    let what = if tls.is_some() { "connect + TLS handshake" } else { "connect" };
    println!("handshake: {} connections, one at a time, {what}", a.connections);
    for kind in kinds(a.common.target, a.common.runs) {
        let port = free_port()?;
        let srv = match kind {
            Kind::Sockchat => Server::sockchat(
                &bin,
                port,
                "one-way",
                64,
                &[],
                &super::sockchat_extra(&a.common, tls.as_ref()),
            )?,
            Kind::Ncat => Server::ncat(port, false, 64, &[], tls.as_ref())?,
        };
        let mut ms = Vec::with_capacity(a.connections);
        let deadline = Instant::now() + Duration::from_secs(a.common.timeout);
        for _ in 0..a.connections {
            if Instant::now() > deadline {
                return Err("timeout".into());
            }
            let t0 = Instant::now();
            let s = connect(srv.addr)?;
            let halves = match &tls {
                Some(t) => Some(t.handshake(s)?),
                None => {
                    drop(s);
                    None
                }
            };
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            drop(halves);
        }
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        let p99 = {
            let mut v = ms.clone();
            v.sort_by(f64::total_cmp);
            v.get(v.len() * 99 / 100).copied().unwrap_or(f64::NAN)
        };
        println!(
            "{:>8}: median {:.3} ms  mean {:.3} ms  p99 {:.3} ms",
            kind.name(),
            median(&mut ms),
            mean,
            p99
        );
    }
    Ok(())
}
