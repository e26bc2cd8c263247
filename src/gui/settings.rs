//! What the start screen remembers between runs, and the checks it runs on every keystroke.

use serde::{Deserialize, Serialize};

use crate::addr::{DEFAULT_PORT, parse_host_port, parse_port};
use crate::engine::Mode;

/// Key under which eframe's storage keeps [`Settings`].
pub const STORAGE_KEY: &str = "sockchat-settings";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RoleChoice {
    #[default]
    Server,
    Client,
}

/// The start screen's fields. Plain strings, so a half-typed value survives a restart as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub role: RoleChoice,
    /// Empty means every interface.
    pub server_host: String,
    pub server_port: String,
    pub mode: Mode,
    pub client_host: String,
    pub client_port: String,
    pub name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            role: RoleChoice::Server,
            server_host: String::new(),
            server_port: DEFAULT_PORT.to_string(),
            mode: Mode::Duplex,
            client_host: "127.0.0.1".into(),
            client_port: DEFAULT_PORT.to_string(),
            name: String::new(),
        }
    }
}

/// `host` and `port` as one address string the engine accepts; IPv6 literals get their brackets.
pub fn join_host_port(host: &str, port: &str) -> String {
    let host = host.trim();
    let port = port.trim();
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits an address given on the command line back into the two fields the form shows.
pub fn split_host_port(addr: &str) -> (String, String) {
    match parse_host_port(addr) {
        Ok(hp) => (hp.host, hp.port.to_string()),
        Err(_) => (addr.to_string(), String::new()),
    }
}

/// Server fields: the listen address to hand the engine, or why it cannot be used yet.
pub fn check_server(host: &str, port: &str) -> Result<String, String> {
    parse_port(port)?;
    if host.trim().contains(char::is_whitespace) {
        return Err("host must not contain spaces".into());
    }
    let addr = join_host_port(host, port);
    parse_host_port(&addr)?;
    Ok(addr)
}

/// Client fields: the server address to connect to, or why it cannot be used yet.
pub fn check_client(host: &str, port: &str) -> Result<String, String> {
    if host.trim().is_empty() {
        return Err("host is empty: type the server's name or IP address".into());
    }
    if host.trim().contains(char::is_whitespace) {
        return Err("host must not contain spaces".into());
    }
    if parse_port(port)? == 0 {
        return Err("port 0 cannot be connected to: use the server's port".into());
    }
    let addr = join_host_port(host, port);
    parse_host_port(&addr)?;
    Ok(addr)
}

/// A display name may not hold a line break (it travels as one protocol line).
pub fn check_name(name: &str) -> Result<Option<String>, String> {
    let n = name.trim();
    if n.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok((!n.is_empty()).then(|| n.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_with_reasons() {
        assert_eq!(check_server("", "7000"), Ok(":7000".into()));
        assert_eq!(check_server("::1", "0"), Ok("[::1]:0".into()));
        assert_eq!(check_server("127.0.0.1", "70000"), Err("port out of range: use 0 to 65535".into()));
        assert_eq!(check_client(" ", "1"), Err("host is empty: type the server's name or IP address".into()));
        assert!(check_client("h", "").unwrap_err().contains("port is empty"));
        assert!(check_client("h", "0").is_err());
        assert_eq!(check_client("example.org", "80"), Ok("example.org:80".into()));
        assert_eq!(check_name("  "), Ok(None));
        assert!(check_name("a\u{7}b").is_err());
    }

    #[test]
    fn split_undoes_join() {
        assert_eq!(split_host_port("[::1]:9"), ("::1".into(), "9".into()));
        assert_eq!(split_host_port("7000"), (String::new(), "7000".into()));
    }
}
