//! What encryption shows to people: a certificate's fingerprint, how a server came to be trusted, and
//! the answer to the question a client asks the first time it meets a server.
//!
//! Pure (no sockets, no TLS library), so the window, the terminal and the tests share one spelling of a
//! fingerprint. The engine's TLS code (`engine::tls`) computes fingerprints and acts on the answers.

use std::fmt;

/// The SHA-256 of a certificate's DER bytes: what two people compare, out loud, to know that a client
/// talks to the server it means and not to a machine in between.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Sixteen groups of four hex digits (`3F2A 9C01 …`): short enough to read aloud one group at a time,
    /// and the hex `openssl x509 -fingerprint -sha256` prints, without its colons.
    pub fn groups(&self) -> Vec<String> {
        self.0.chunks(2).map(|c| format!("{:02X}{:02X}", c[0], c[1])).collect()
    }

    /// The groups on two lines of eight, as the window shows them large.
    pub fn two_lines(&self) -> (String, String) {
        let g = self.groups();
        (g[..8].join(" "), g[8..].join(" "))
    }

    /// Reads `SHA256:` followed by 64 hex digits (any case, with or without `:` or space separators, so
    /// what `openssl` or sockchat printed can be pasted) or by SSH's 43-character unpadded base64.
    /// The prefix may be left out for hex.
    pub fn parse(s: &str) -> Result<Fingerprint, String> {
        let t = s.trim();
        let body = t.strip_prefix("SHA256:").or_else(|| t.strip_prefix("sha256:")).unwrap_or(t);
        let hex: String = body.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let mut out = [0u8; 32];
            for (i, b) in out.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
            }
            return Ok(Fingerprint(out));
        }
        if let Some(bytes) = base64_32(body.trim_end_matches('=')) {
            return Ok(Fingerprint(bytes));
        }
        Err(format!(
            "`{s}` is not a SHA-256 fingerprint: expected SHA256: and 64 hex digits (as the server prints \
             them, spaces and colons allowed) or SSH-style base64"
        ))
    }
}

/// `SHA256:` and the hex groups joined by spaces: the form the terminal prints and `--fingerprint` reads.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SHA256:{}", self.groups().join(":"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Decodes 43 characters of standard unpadded base64 into 32 bytes (SSH's `SHA256:…` form).
fn base64_32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 43 {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut bits: u64 = 0;
    let mut n = 0;
    let mut out = Vec::with_capacity(33);
    for c in s.bytes() {
        bits = (bits << 6) | val(c)? as u64;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out.try_into().ok()
}

/// How a client decides about a server certificate that the system's roots do not vouch for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrustPolicy {
    /// Ask the person (the window): the engine emits `Event::TrustAsk` and waits for `Command::Trust`.
    #[default]
    Ask,
    /// Terminal default: refuse a server not in the known-servers file, printing its fingerprint and how
    /// to accept it (`--fingerprint` or `--accept-new`).
    RefuseUnknown,
    /// `--accept-new`: accept and remember a server seen for the first time (a changed one is still
    /// refused), as `ssh -o StrictHostKeyChecking=accept-new`.
    AcceptNew,
    /// `--fingerprint`: accept exactly this certificate, whatever the known-servers file says.
    Pin(Fingerprint),
}

/// The person's answer to `Event::TrustAsk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustAnswer {
    /// This connection only.
    Once,
    /// This connection, and remember the fingerprint for this host:port in the known-servers file.
    Always,
    /// Do not connect.
    Cancel,
}

/// Why a client went on with a server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trusted {
    /// It verifies against the system's root certificates for the name typed.
    SystemRoots,
    /// Its fingerprint is the one in the known-servers file for this host:port.
    Known,
    /// It is the one `--fingerprint` named.
    Pinned,
    /// Seen for the first time and accepted (by the person, once or always, or by `--accept-new`).
    New,
}

/// What a connection's encryption is, for the lock in the window's bar and the terminal's `connected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: String,
    /// The cipher suite's name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// On a client: the server certificate's fingerprint and why it was trusted. `None` on a server's
    /// peers (clients present no certificate).
    pub server_cert: Option<(Fingerprint, Trusted)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Fingerprint {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(37).wrapping_add(5);
        }
        Fingerprint(b)
    }

    #[test]
    fn display_parses_back_and_groups_read_aloud() {
        let f = sample();
        assert_eq!(Fingerprint::parse(&f.to_string()), Ok(f));
        let g = f.groups();
        assert_eq!(g.len(), 16);
        assert!(g.iter().all(|x| x.len() == 4 && x.chars().all(|c| c.is_ascii_hexdigit())));
        assert_eq!(g[0], "052A");
        let (a, b) = f.two_lines();
        assert_eq!(format!("{a} {b}"), g.join(" "));
    }

    #[test]
    fn openssl_colons_and_lower_case_hex_are_read() {
        let f = sample();
        let colons: Vec<String> = f.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(Fingerprint::parse(&colons.join(":")), Ok(f));
        assert_eq!(Fingerprint::parse(&format!("sha256:{}", colons.concat())), Ok(f));
    }

    #[test]
    fn ssh_base64_is_read() {
        // SHA-256 of the empty string, as hex and in SSH's unpadded base64.
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let b64 = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
        assert_eq!(Fingerprint::parse(b64), Fingerprint::parse(hex));
        assert!(Fingerprint::parse(hex).is_ok());
    }

    #[test]
    fn bad_fingerprints_are_refused_with_words() {
        for bad in ["", "SHA256:", "SHA256:abc", &"g".repeat(64), &"A".repeat(63), "SHA256:!!"] {
            let e = Fingerprint::parse(bad).unwrap_err();
            assert!(e.contains("not a SHA-256 fingerprint"), "{bad}: {e}");
        }
    }
}
