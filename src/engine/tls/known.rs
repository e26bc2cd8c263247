//! The known-servers file: one `host:port SHA256:…` line per server a client has accepted "always", as
//! SSH's `known_hosts` keeps host keys. Plain text, so a person can read it and delete a line.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::trust::Fingerprint;

/// The file's entries, as read at one connection's start.
#[derive(Debug, Default)]
pub struct KnownServers {
    pub path: PathBuf,
    /// (line number from 1, `host:port`, fingerprint).
    entries: Vec<(usize, String, Fingerprint)>,
}

/// What the file says about one server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Unknown,
    Same,
    /// The file has another fingerprint for this server, on `line`.
    Changed {
        known: Fingerprint,
        line: usize,
    },
}

/// The file's key for a server: the host as typed (lower case; an IPv6 address in brackets) and port.
pub fn key(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

impl KnownServers {
    /// Reads the file; a missing one is empty. Lines it cannot read (comments, blanks, damage) are
    /// skipped, never fatal: one bad line must not lock a person out of every server.
    pub fn load(path: &Path) -> Result<KnownServers, String> {
        if path.as_os_str().is_empty() {
            return Ok(KnownServers::default());
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read the known-servers file {}: {e}", path.display())),
        };
        let entries = text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| {
                let l = l.trim();
                if l.starts_with('#') {
                    return None;
                }
                let (k, f) = l.split_once(char::is_whitespace)?;
                Some((i + 1, k.to_ascii_lowercase(), Fingerprint::parse(f).ok()?))
            })
            .collect();
        Ok(KnownServers { path: path.to_path_buf(), entries })
    }

    pub fn lookup(&self, key: &str, fp: &Fingerprint) -> Lookup {
        let mine: Vec<_> = self.entries.iter().filter(|(_, k, _)| k == key).collect();
        if mine.iter().any(|(_, _, f)| f == fp) {
            return Lookup::Same;
        }
        match mine.first() {
            Some((line, _, known)) => Lookup::Changed { known: *known, line: *line },
            None => Lookup::Unknown,
        }
    }
}

/// Adds `key fp` to the file (making it and its directory when needed).
pub fn remember(path: &Path, key: &str, fp: &Fingerprint) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err(format!("cannot remember the server: {}", super::NO_CONFIG_DIR));
    }
    let fail = |e: std::io::Error| format!("cannot remember the server in {}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(fail)?;
    writeln!(f, "{key} {fp}").map_err(fail)
}

/// Removes every line for `key` from the file (what a person does by hand after the server's owner has
/// confirmed a new certificate), so the next connection meets the server as new. Returns how many lines
/// went; the file is replaced whole, so a crash midway leaves the old one.
pub fn forget(path: &Path, key: &str) -> Result<usize, String> {
    let fail = |e: std::io::Error| format!("cannot change the known-servers file {}: {e}", path.display());
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(fail(e)),
    };
    let key = key.to_ascii_lowercase();
    let theirs = |l: &str| {
        let l = l.trim();
        !l.starts_with('#') && l.split_whitespace().next().is_some_and(|k| k.to_ascii_lowercase() == key)
    };
    let kept: Vec<&str> = text.lines().filter(|l| !theirs(l)).collect();
    let gone = text.lines().count() - kept.len();
    if gone > 0 {
        let tmp = path.with_extension("new");
        let mut out = kept.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        std::fs::write(&tmp, out).map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)?;
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_back_and_a_different_fingerprint_names_its_line() {
        let path = std::env::temp_dir().join(format!("sockchat-known-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (a, b) = (Fingerprint([1; 32]), Fingerprint([2; 32]));
        assert_eq!(KnownServers::load(&path).unwrap().lookup("lab:7878", &a), Lookup::Unknown);
        std::fs::write(&path, "# comment\n\ngarbage line\n").unwrap();
        remember(&path, &key("LAB", 7878), &a).unwrap();
        remember(&path, &key("::1", 7), &b).unwrap();
        let k = KnownServers::load(&path).unwrap();
        assert_eq!(k.lookup("lab:7878", &a), Lookup::Same);
        assert_eq!(k.lookup("lab:7878", &b), Lookup::Changed { known: a, line: 4 });
        assert_eq!(k.lookup("[::1]:7", &b), Lookup::Same);
        assert_eq!(k.lookup("lab:7879", &a), Lookup::Unknown);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn forgetting_a_server_removes_its_lines_only() {
        let path = std::env::temp_dir().join(format!("sockchat-forget-{}", std::process::id()));
        let (a, b) = (Fingerprint([1; 32]), Fingerprint([2; 32]));
        std::fs::write(&path, "# kept comment\n").unwrap();
        remember(&path, "lab:7878", &a).unwrap();
        remember(&path, "other:7878", &b).unwrap();
        remember(&path, "LAB:7878", &b).unwrap();
        assert_eq!(forget(&path, "lab:7878"), Ok(2));
        let k = KnownServers::load(&path).unwrap();
        assert_eq!(k.lookup("lab:7878", &b), Lookup::Unknown);
        assert_eq!(k.lookup("other:7878", &b), Lookup::Same);
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("# kept comment\n"));
        assert_eq!(forget(&path, "lab:7878"), Ok(0));
        let _ = std::fs::remove_file(&path);
        assert_eq!(forget(&path, "lab:7878"), Ok(0), "no file: nothing to forget");
    }
}
