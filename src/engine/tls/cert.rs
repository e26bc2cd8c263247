//! A server's certificate: PEM files given with `--cert/--key`, or a self-signed one made at the first
//! start and kept, so its fingerprint (what clients compared and remembered) stays the same.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{fingerprint, provider};
use crate::engine::ServerTls;
use crate::trust::Fingerprint;

/// The made certificate's and key's file names in [`ServerTls::dir`].
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

/// A server's TLS setup, ready for connections.
pub struct ServerCert {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: Fingerprint,
    /// Made now (first start), rather than read from files.
    pub made: bool,
}

/// Reads or makes the certificate `tls` describes. Errors are sentences for the person who started the
/// server.
pub fn load(tls: &ServerTls) -> Result<ServerCert, String> {
    let (chain, key, made) = match (&tls.cert, &tls.key) {
        (Some(c), Some(k)) => {
            let (chain, key) = read_pair(c, k)?;
            (chain, key, false)
        }
        (None, None) => kept_or_made(&tls.dir)?,
        _ => {
            return Err("--cert and --key go together: give both, or neither for a certificate made \
                         and kept by sockchat"
                .into());
        }
    };
    let fingerprint = fingerprint(chain[0].as_ref());
    let config = server_config(chain, key).map_err(|e| match (&tls.cert, &tls.key) {
        (Some(c), Some(k)) => format!("{} and {} do not go together: {e}", c.display(), k.display()),
        _ => format!("the certificate in {} cannot be used: {e}", tls.dir.display()),
    })?;
    Ok(ServerCert { config, fingerprint, made })
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => "the key is not the certificate's key".to_string(),
            e => e.to_string(),
        })?;
    // No session tickets: every connection makes a full handshake, so a client checks the certificate
    // every time (and a chat connection lives long; resuming saves nothing worth having).
    cfg.send_tls13_tickets = 0;
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(Arc::new(cfg))
}

/// The certificate chain and key in two PEM files.
pub fn read_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let readable = |p: &Path, what: &str| -> Result<Vec<u8>, String> {
        std::fs::read(p).map_err(|e| format!("cannot read the {what} file {}: {}", p.display(), io_words(&e)))
    };
    let cert_pem = readable(cert, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key_pem = readable(key, "key")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!("{} holds no private key (expected PEM: -----BEGIN PRIVATE KEY-----): {e}", key.display())
    })?;
    Ok((chain, key))
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The certificate kept in `dir`, or a new one made and kept there when there is none.
fn kept_or_made(dir: &Path) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, bool), String> {
    let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    if cert.exists() || key.exists() {
        let (chain, key) = read_pair(&cert, &key).map_err(|e| {
            format!(
                "{e} (sockchat made these files; delete both to make a new certificate, which \
                     changes the fingerprint clients know)"
            )
        })?;
        return Ok((chain, key, false));
    }
    let (cert_pem, key_pem) = make(&names())?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot make the directory {}: {}", dir.display(), io_words(&e)))?;
    write_private(&key, key_pem.as_bytes())?;
    std::fs::write(&cert, cert_pem.as_bytes())
        .map_err(|e| format!("cannot write {}: {}", cert.display(), io_words(&e)))?;
    let (chain, key) = read_pair(&cert, &key)?;
    Ok((chain, key, true))
}

/// Writes a key readable by its owner only (mode 0600 from creation, never world-readable for a moment).
fn write_private(path: &PathBuf, bytes: &[u8]) -> Result<(), String> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| format!("cannot write {}: {}", path.display(), io_words(&e)))?;
    f.write_all(bytes).map_err(|e| format!("cannot write {}: {}", path.display(), io_words(&e)))
}

/// What the made certificate names: this host's name, `localhost`, and every interface address, so a
/// client that checks names finds the one it typed.
pub fn names() -> Vec<String> {
    let mut out = vec!["localhost".to_string()];
    if let Ok(h) = dns_lookup::get_hostname() {
        let h = h.trim().to_ascii_lowercase();
        if !h.is_empty() && !out.contains(&h) {
            out.push(h);
        }
    }
    let mut ips: Vec<IpAddr> = super::super::interfaces::list().into_iter().map(|i| i.ip).collect();
    ips.extend([IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)]);
    for ip in ips {
        let s = ip.to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// A new self-signed certificate (ECDSA P-256) for `names` (host names and IP addresses), as PEM.
pub fn make(names: &[String]) -> Result<(String, String), String> {
    let key = rcgen::KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    for n in names {
        let san = match n.parse::<IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => match n.clone().try_into() {
                Ok(dns) => rcgen::SanType::DnsName(dns),
                // A host name that is no DNS name (odd characters) is left out, not fatal.
                Err(_) => continue,
            },
        };
        params.subject_alt_names.push(san);
    }
    let host = names.get(1).map_or("localhost", String::as_str);
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("sockchat on {host}"));
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "sockchat");
    // Valid from a day ago (clocks differ) for 20 years: what it proves is its fingerprint, which people
    // compared; an expiry would only make them compare a new one.
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365 * 20);
    let cert = params.self_signed(&key).map_err(|e| format!("cannot make a certificate: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sockchat-cert-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_made_certificate_is_kept_and_its_fingerprint_stays() {
        let dir = tmp("kept");
        let tls = ServerTls { cert: None, key: None, dir: dir.clone() };
        let first = load(&tls).unwrap();
        assert!(first.made);
        let again = load(&tls).unwrap();
        assert!(!again.made);
        assert_eq!(first.fingerprint, again.fingerprint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_certificate_names_localhost_and_the_loopback_addresses() {
        let (pem, _) = make(&names()).unwrap();
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        let cert = rustls::server::ParsedCertificate::try_from(&der).unwrap();
        for name in ["localhost", "127.0.0.1", "::1"] {
            let sn = rustls::pki_types::ServerName::try_from(name).unwrap();
            assert!(rustls::client::verify_server_name(&cert, &sn).is_ok(), "{name}");
        }
    }

    #[test]
    fn missing_half_and_mismatched_files_are_explained() {
        let dir = tmp("bad");
        std::fs::create_dir_all(&dir).unwrap();
        let only = ServerTls { cert: Some(dir.join("c.pem")), key: None, dir: dir.clone() };
        assert!(load(&only).err().unwrap().contains("go together"));
        let missing =
            ServerTls { cert: Some(dir.join("c.pem")), key: Some(dir.join("k.pem")), dir: dir.clone() };
        let e = load(&missing).err().unwrap();
        assert!(e.contains("cannot read the certificate file") && e.contains("no such file"), "{e}");
        let (c1, _) = make(&["localhost".into()]).unwrap();
        let (_, k2) = make(&["localhost".into()]).unwrap();
        std::fs::write(dir.join("c.pem"), c1).unwrap();
        std::fs::write(dir.join("k.pem"), "not a key").unwrap();
        let e = load(&missing).err().unwrap();
        assert!(e.contains("holds no private key"), "{e}");
        std::fs::write(dir.join("k.pem"), k2).unwrap();
        let e = load(&missing).err().unwrap();
        assert!(e.contains("do not go together") && e.contains("not the certificate's key"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
