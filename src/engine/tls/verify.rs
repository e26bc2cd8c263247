//! How a client decides to go on with a server's certificate (see the module docs of `engine::tls`).
//!
//! [`Verifier`] is rustls's certificate check for a sockchat client. The system's roots are tried first
//! (rustls's own webpki verifier, for the name typed); failing that, the certificate's fingerprint is
//! looked up as SSH looks up host keys. Only that chain check is replaced: the handshake's signatures
//! are verified with the provider's algorithms as rustls would, so the server must hold the key.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::known::{KnownServers, Lookup};
use super::{fingerprint, provider};
use crate::engine::ClientTls;
use crate::trust::{Fingerprint, TrustPolicy, Trusted};

/// What the check decided about the certificate the server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Go on. With `Trusted::New` from `--accept-new` the engine remembers it once the handshake is done.
    Trusted(Fingerprint, Trusted),
    /// New, and the person decides ([`TrustPolicy::Ask`]): the engine asks once the handshake has shown
    /// that the server holds the certificate's key, before any chat goes either way.
    Ask(Fingerprint),
    /// Not connected, and why, in words; with what was remembered when the certificate changed.
    Refused(String, Option<Changed>),
}

/// A certificate that differs from the one remembered for the server: the known-servers file's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    pub remembered: Fingerprint,
    pub now: Fingerprint,
    pub line: usize,
}

#[derive(Debug)]
pub struct Verifier {
    /// `host:port`, the known-servers file's key.
    key: String,
    tls: ClientTls,
    known: KnownServers,
    roots: Option<Arc<WebPkiServerVerifier>>,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
    outcome: Mutex<Option<Outcome>>,
}

/// The system's roots as a verifier, read once a run (reading them takes tens of milliseconds); `None`
/// when the system has none rustls can use.
fn system_roots() -> Option<Arc<WebPkiServerVerifier>> {
    static ROOTS: OnceLock<Option<Arc<WebPkiServerVerifier>>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut store = rustls::RootCertStore::empty();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return None;
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider()).build().ok()
        })
        .clone()
}

impl Verifier {
    pub fn new(key: String, tls: &ClientTls) -> Result<Arc<Verifier>, String> {
        let known = KnownServers::load(&tls.known_servers)?;
        Ok(Arc::new(Verifier {
            key,
            tls: tls.clone(),
            known,
            roots: system_roots(),
            algs: provider().signature_verification_algorithms,
            outcome: Mutex::new(None),
        }))
    }

    /// What was decided, once the server's certificate has been seen.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The decision for a certificate the system's roots do not vouch for.
    pub fn decide(&self, fp: Fingerprint) -> Outcome {
        let (key, file) = (&self.key, self.tls.known_servers.display());
        if let TrustPolicy::Pin(pin) = &self.tls.policy {
            return if *pin == fp {
                Outcome::Trusted(fp, Trusted::Pinned)
            } else {
                Outcome::Refused(
                    format!(
                        "{key}'s certificate is {fp}, not the {pin} given with --fingerprint: not connected. \
                         Someone may be intercepting the connection, or the fingerprint was mistyped"
                    ),
                    None,
                )
            };
        }
        match self.known.lookup(key, &fp) {
            Lookup::Same => Outcome::Trusted(fp, Trusted::Known),
            Lookup::Changed { known, line } => Outcome::Refused(
                format!(
                    "WARNING: {key} presented a DIFFERENT certificate from the one remembered for it: not \
                 connected. Now: {fp}; remembered: {known} (line {line} of {file}). Someone may be \
                 intercepting the connection, or the server's certificate was made anew. Ask the person \
                 who runs the server to read out the fingerprint it shows; only if they confirm a new \
                 certificate, delete line {line} of {file} and connect again"
                ),
                Some(Changed { remembered: known, now: fp, line }),
            ),
            Lookup::Unknown => match self.tls.policy {
                TrustPolicy::AcceptNew => Outcome::Trusted(fp, Trusted::New),
                TrustPolicy::Ask => Outcome::Ask(fp),
                _ => Outcome::Refused(
                    format!(
                        "{key} is not a known server: not connected. Its certificate's fingerprint is {fp}. \
                         Compare it with the one the server shows (its `listening` line); if they are the \
                         same, connect with --fingerprint {fp} (this time), or with --accept-new (and \
                         remember it in {file})"
                    ),
                    None,
                ),
            },
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity.as_ref());
        let by_roots = !matches!(self.tls.policy, TrustPolicy::Pin(_))
            && self.roots.as_ref().is_some_and(|r| {
                r.verify_server_cert(end_entity, intermediates, server_name, ocsp, now).is_ok()
            });
        let outcome = if by_roots { Outcome::Trusted(fp, Trusted::SystemRoots) } else { self.decide(fp) };
        let refused = matches!(outcome, Outcome::Refused(..));
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        if refused {
            // The server hears why in the alert: it did not accept the certificate.
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// A client's rustls config around `verifier`: no resumption, so every connection's certificate is
/// checked (a resumed session would skip the check, and a chat connection lives long anyway).
pub fn client_config(verifier: Arc<Verifier>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tls::known;

    fn verifier(policy: TrustPolicy, file: &std::path::Path) -> Arc<Verifier> {
        Verifier::new("lab:7878".into(), &ClientTls { known_servers: file.into(), policy }).unwrap()
    }

    #[test]
    fn each_policy_decides_as_ssh_would() {
        let file = std::env::temp_dir().join(format!("sockchat-verify-{}", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let (a, b) = (Fingerprint([0xAA; 32]), Fingerprint([0xBB; 32]));
        assert_eq!(verifier(TrustPolicy::Ask, &file).decide(a), Outcome::Ask(a));
        assert_eq!(verifier(TrustPolicy::AcceptNew, &file).decide(a), Outcome::Trusted(a, Trusted::New));
        let Outcome::Refused(why, None) = verifier(TrustPolicy::RefuseUnknown, &file).decide(a) else {
            panic!()
        };
        assert!(why.contains("--fingerprint SHA256:AAAA") && why.contains("--accept-new"), "{why}");
        assert_eq!(verifier(TrustPolicy::Pin(a), &file).decide(a), Outcome::Trusted(a, Trusted::Pinned));
        assert!(matches!(verifier(TrustPolicy::Pin(b), &file).decide(a), Outcome::Refused(_, None)));
        known::remember(&file, "lab:7878", &a).unwrap();
        for p in [TrustPolicy::Ask, TrustPolicy::RefuseUnknown, TrustPolicy::AcceptNew] {
            assert_eq!(verifier(p.clone(), &file).decide(a), Outcome::Trusted(a, Trusted::Known));
            let Outcome::Refused(why, Some(changed)) = verifier(p, &file).decide(b) else {
                panic!("changed is refused")
            };
            assert_eq!(changed, Changed { remembered: a, now: b, line: 1 });
            assert!(why.contains("DIFFERENT") && why.contains("delete line 1 of"), "{why}");
        }
        // A pin wins over the file, as `--fingerprint` says.
        assert_eq!(verifier(TrustPolicy::Pin(b), &file).decide(b), Outcome::Trusted(b, Trusted::Pinned));
        let _ = std::fs::remove_file(&file);
    }
}
