//! Where sockchat keeps what must outlive a run: a server's certificate (so its fingerprint stays the
//! same, and people who compared it once need not compare it again) and a client's known servers.

use std::path::PathBuf;

/// `$SOCKCHAT_CONFIG_DIR` if set (tests, and people who keep their files elsewhere), else the platform's
/// configuration directory and `sockchat`: `$XDG_CONFIG_HOME/sockchat` or `~/.config/sockchat` on Linux
/// and the BSDs, `~/Library/Application Support/sockchat` on macOS, `%APPDATA%\sockchat` on Windows.
/// `None` when none of these can be known (no home directory): callers say so instead of guessing.
pub fn config_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = env("SOCKCHAT_CONFIG_DIR") {
        return Some(d);
    }
    let base = if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library").join("Application Support"))
    } else if cfg!(windows) {
        env("APPDATA")
    } else {
        env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config")))
    };
    base.map(|b| b.join("sockchat"))
}

/// The directory a made server certificate is kept in: `tls/` in [`config_dir`].
pub fn cert_dir() -> Option<PathBuf> {
    config_dir().map(|d| d.join("tls"))
}

/// The client's known-servers file: `known_servers` in [`config_dir`].
pub fn known_servers_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("known_servers"))
}

/// What to tell a person when [`config_dir`] is `None`.
pub const NO_CONFIG_DIR: &str =
    "cannot tell where to keep sockchat's files (no HOME): set SOCKCHAT_CONFIG_DIR to a directory";
