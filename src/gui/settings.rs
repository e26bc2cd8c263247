//! What the start screen remembers between runs, and the checks it runs on every keystroke.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::access::{AccessList, parse_list};
use crate::addr::{DEFAULT_PORT, parse_host_port, parse_port, split_host_field};
use crate::cli::{CLIENTS, IDLE_SECS, PER_ADDRESS};
use crate::engine::discovery::AnnounceConfig;
use crate::engine::{Mode, ServerConfig};

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
    /// Server limits, as typed (see [`check_limits`]).
    pub max_clients: String,
    /// Most connections from one address, in [`PER_ADDRESS`].
    pub max_per_address: String,
    /// Seconds, in [`IDLE_SECS`]; empty means never.
    pub idle_timeout: String,
    /// Room mode lines per second per client; empty or 0 means no limit.
    pub room_rate: String,
    /// Room mode bytes per second per client; empty or 0 means no limit.
    pub room_byte_rate: String,
    pub allow: String,
    pub deny: String,
    /// Append every event to `log_path` (the window's `--log`).
    pub log_on: bool,
    pub log_path: String,
    /// The "Socket calls" panel is open beside the chat.
    pub calls_open: bool,
    /// Step mode for the next start; not remembered, so a later start never pauses unexpectedly.
    #[serde(skip)]
    pub step: bool,
    /// Announce a started server on the LAN (off: `--no-announce`).
    pub announce: bool,
    /// The name the server is listed under; empty: the host name.
    pub announce_name: String,
    /// The interface to announce on; empty: every one.
    pub announce_interface: String,
    /// Projector mode (the session's Present switch, `--present`). Missing from older settings: off.
    pub present: bool,
    /// The server's client list: beside the chat where there is room, or as the user toggled it.
    pub client_list: super::layout::ClientList,
    /// Follow the system's theme, or light or dark (the theme button). Missing from older settings:
    /// follow the system.
    pub theme: egui::ThemePreference,
    /// Serve TLS ("Encrypt (TLS)" on the server form); the PEM files below, both empty: a certificate
    /// made for this machine and kept (see `gui::tls_form`).
    pub server_tls: bool,
    pub tls_cert: String,
    pub tls_key: String,
    /// Connect with TLS ("Encrypt (TLS)" on the client form).
    pub client_tls: bool,
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
            max_clients: ServerConfig::default().max_clients.to_string(),
            max_per_address: ServerConfig::default().max_per_address.to_string(),
            idle_timeout: String::new(),
            room_rate: ServerConfig::default().room_rate.map_or(String::new(), |r| r.to_string()),
            room_byte_rate: ServerConfig::default().room_byte_rate.map_or(String::new(), |r| r.to_string()),
            allow: String::new(),
            deny: String::new(),
            log_on: false,
            log_path: default_log_path(),
            calls_open: false,
            step: false,
            announce: true,
            announce_name: String::new(),
            announce_interface: String::new(),
            present: false,
            client_list: Default::default(),
            theme: egui::ThemePreference::System,
            server_tls: false,
            tls_cert: String::new(),
            tls_key: String::new(),
            client_tls: false,
        }
    }
}

fn default_log_path() -> String {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join("sockchat-events.jsonl").to_string_lossy().into_owned()
}

/// The server's limits and access lists, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_clients: usize,
    pub max_per_address: usize,
    pub idle_timeout: Option<Duration>,
    pub room_rate: Option<u32>,
    pub room_byte_rate: Option<u32>,
    pub access: AccessList,
}

impl Limits {
    pub fn apply(self, cfg: &mut ServerConfig) {
        cfg.max_clients = self.max_clients;
        cfg.max_per_address = self.max_per_address;
        cfg.idle_timeout = self.idle_timeout;
        cfg.room_rate = self.room_rate;
        cfg.room_byte_rate = self.room_byte_rate;
        cfg.access = self.access;
    }
}

/// Limits fields: what the engine gets, or why a field cannot be used yet. The ranges are the flags'.
pub fn check_limits(s: &Settings) -> Result<Limits, String> {
    let max_clients = CLIENTS
        .parse::<usize>(&s.max_clients)
        .map_err(|_| format!("most clients: a whole number {}", CLIENTS.describe()))?;
    let max_per_address = PER_ADDRESS
        .parse::<usize>(&s.max_per_address)
        .map_err(|_| format!("most per address: a whole number {}", PER_ADDRESS.describe()))?;
    let idle_timeout = match s.idle_timeout.trim() {
        "" => None,
        t => match IDLE_SECS.parse::<u64>(t) {
            Ok(secs) => Some(Duration::from_secs(secs)),
            Err(_) => {
                return Err(format!(
                    "idle timeout: whole seconds {}, or empty for never",
                    IDLE_SECS.describe()
                ));
            }
        },
    };
    let room_rate = match s.room_rate.trim() {
        "" | "0" => None,
        r => match r.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => return Err("room rate: lines per second, or empty for no limit".into()),
        },
    };
    let room_byte_rate = match s.room_byte_rate.trim() {
        "" | "0" => None,
        r => match r.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => return Err("room bytes: bytes per second, or empty for no limit".into()),
        },
    };
    let allow = parse_list(&s.allow).map_err(|e| format!("allow: {e}"))?;
    let deny = parse_list(&s.deny).map_err(|e| format!("deny: {e}"))?;
    Ok(Limits {
        max_clients,
        max_per_address,
        idle_timeout,
        room_rate,
        room_byte_rate,
        access: AccessList { allow, deny },
    })
}

/// Copies a started server's limits back into the form (a command-line start, or Back).
pub fn remember_limits(s: &mut Settings, cfg: &ServerConfig) {
    let list = |v: &[ipnet::IpNet]| v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    s.max_clients = cfg.max_clients.to_string();
    s.max_per_address = cfg.max_per_address.to_string();
    s.idle_timeout = cfg.idle_timeout.map_or(String::new(), |d| d.as_secs().to_string());
    s.room_rate = cfg.room_rate.map_or(String::new(), |r| r.to_string());
    s.room_byte_rate = cfg.room_byte_rate.map_or(String::new(), |r| r.to_string());
    s.allow = list(&cfg.access.allow);
    s.deny = list(&cfg.access.deny);
    s.announce = cfg.announce.is_some();
    if let Some(a) = &cfg.announce {
        s.announce_name = a.name.clone().unwrap_or_default();
        s.announce_interface = a.interface.clone().unwrap_or_default();
    }
}

/// The announcement a started server makes, from the form's switch, name and interface.
pub fn announce_config(s: &Settings) -> Option<AnnounceConfig> {
    let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    s.announce
        .then(|| AnnounceConfig { name: some(&s.announce_name), interface: some(&s.announce_interface) })
}

/// The log file to use, if logging is on.
pub fn check_log(s: &Settings) -> Result<Option<PathBuf>, String> {
    if !s.log_on {
        return Ok(None);
    }
    match s.log_path.trim() {
        "" => Err("log file: type a path, or turn logging off".into()),
        p => Ok(Some(PathBuf::from(p))),
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

/// A port typed in the host field (`host:port`, `[v6]:port`), moved into the port field; true when one
/// was. The form calls it when the host field loses focus, never while it is being typed in, so a
/// half-typed `host:` or `[fe80::` is left as it is.
pub fn move_port_out_of_host(host: &mut String, port: &mut String) -> bool {
    match split_host_field(host) {
        Ok(f) if f.port.is_some() => {
            *port = f.port.map_or(String::new(), |p| p.to_string());
            *host = f.host;
            true
        }
        _ => false,
    }
}

/// The host to use and its port: a port typed with the host wins over the port field, since it is what
/// was typed or pasted last (the form moves it there once the host field loses focus).
fn host_and_port(host: &str, port: &str) -> Result<(String, u16), String> {
    if host.trim().contains(char::is_whitespace) {
        return Err("host must not contain spaces".into());
    }
    let f = split_host_field(host)?;
    let port = match f.port {
        Some(p) => p,
        None => parse_port(port)?,
    };
    Ok((f.host, port))
}

/// Server fields: the listen address to hand the engine, or why it cannot be used yet.
pub fn check_server(host: &str, port: &str) -> Result<String, String> {
    let (host, port) = host_and_port(host, port)?;
    let addr = join_host_port(&host, &port.to_string());
    parse_host_port(&addr)?;
    Ok(addr)
}

/// Client fields: the server address to connect to, or why it cannot be used yet.
pub fn check_client(host: &str, port: &str) -> Result<String, String> {
    if host.trim().is_empty() {
        return Err("host is empty: type the server's name or IP address".into());
    }
    let (host, port) = host_and_port(host, port)?;
    if port == 0 {
        return Err("port 0 cannot be connected to: use the server's port".into());
    }
    let addr = join_host_port(&host, &port.to_string());
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
    fn announcing_is_on_for_old_settings_and_follows_the_switch() {
        let old: Settings = serde_json::from_str(r#"{"role":"Client","name":"ann"}"#).unwrap();
        assert_eq!(announce_config(&old), Some(AnnounceConfig::default()));
        let mut s = Settings { announce_name: " Room 101 ".into(), announce_interface: "eth0".into(), ..old };
        let want = AnnounceConfig { name: Some("Room 101".into()), interface: Some("eth0".into()) };
        assert_eq!(announce_config(&s), Some(want.clone()));
        s.announce = false;
        assert_eq!(announce_config(&s), None);
        let cfg = ServerConfig { announce: Some(want), ..ServerConfig::default() };
        remember_limits(&mut s, &cfg);
        assert!(s.announce && s.announce_interface == "eth0");
    }

    #[test]
    fn limits_are_checked_with_reasons() {
        let mut s = Settings::default();
        let l = check_limits(&s).unwrap();
        assert_eq!((l.max_clients, l.idle_timeout, l.room_rate), (256, None, Some(50)));
        assert_eq!((l.max_per_address, l.room_byte_rate), (16, Some(65536)));
        s.max_clients = "0".into();
        assert!(check_limits(&s).unwrap_err().starts_with("most clients"));
        s.max_clients = "3".into();
        for bad in ["0", "", "65536", "x"] {
            s.max_per_address = bad.into();
            assert!(check_limits(&s).unwrap_err().starts_with("most per address"), "{bad}");
        }
        s.max_per_address = "40".into();
        s.room_byte_rate = "lots".into();
        assert!(check_limits(&s).unwrap_err().starts_with("room bytes"));
        s.room_byte_rate = "0".into();
        s.idle_timeout = "90".into();
        s.room_rate = "".into();
        s.allow = "10.0.0.0/8, ::1".into();
        let l = check_limits(&s).unwrap();
        assert_eq!(
            (l.idle_timeout, l.room_rate, l.access.allow.len()),
            (Some(Duration::from_secs(90)), None, 2)
        );
        s.deny = "nope".into();
        assert_eq!(check_limits(&s).unwrap_err(), "deny: 'nope' is not an address or CIDR block");
        s.deny = String::new();
        let mut cfg = ServerConfig::default();
        s.deny = "10.1.0.0/16".into();
        check_limits(&s).unwrap().apply(&mut cfg);
        let mut back = Settings::default();
        remember_limits(&mut back, &cfg);
        assert_eq!((back.max_clients.as_str(), back.deny.as_str()), ("3", "10.1.0.0/16"));
        assert_eq!((back.max_per_address.as_str(), back.room_byte_rate.as_str()), ("40", ""));
    }

    #[test]
    fn limits_out_of_range_and_lists_of_separators_are_refused() {
        let refused = |f: &dyn Fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            check_limits(&s).map(|_| ()).unwrap_err()
        };
        for n in ["0", "-5", "100001", "many", ""] {
            assert_eq!(
                refused(&|s| s.max_clients = n.into()),
                "most clients: a whole number from 1 to 100000",
                "{n:?}"
            );
        }
        for t in ["0", "-1", "86401", "soon"] {
            assert_eq!(
                refused(&|s| s.idle_timeout = t.into()),
                "idle timeout: whole seconds from 1 to 86400 s, or empty for never",
                "{t:?}"
            );
        }
        assert!(refused(&|s| s.allow = ",".into()).starts_with("allow: ','"));
        assert!(refused(&|s| s.deny = " , ".into()).starts_with("deny: ' , '"));
        // Blank still means no list, and the ends of the ranges are taken.
        let s = Settings {
            max_clients: "100000".into(),
            idle_timeout: "86400".into(),
            allow: "  ".into(),
            deny: "::ffff:10.0.0.0/104".into(),
            ..Settings::default()
        };
        let l = check_limits(&s).unwrap();
        assert_eq!((l.max_clients, l.idle_timeout), (100_000, Some(Duration::from_secs(86_400))));
        assert!(l.access.allow.is_empty());
        assert_eq!(l.access.deny[0].to_string(), "10.0.0.0/8");
    }

    #[test]
    fn log_path_is_needed_only_when_logging() {
        let mut s = Settings { log_path: " ".into(), ..Settings::default() };
        assert_eq!(check_log(&s), Ok(None));
        s.log_on = true;
        assert!(check_log(&s).is_err());
        s.log_path = "/tmp/x.jsonl".into();
        assert_eq!(check_log(&s), Ok(Some(PathBuf::from("/tmp/x.jsonl"))));
    }

    #[test]
    fn a_port_typed_with_the_host_is_used_and_moved_to_its_field() {
        assert_eq!(check_client("localhost:17900", "7878"), Ok("localhost:17900".into()));
        assert_eq!(check_client("[fe80::1%eth0]:9", ""), Ok("[fe80::1%eth0]:9".into()));
        assert_eq!(check_client("::1", "80"), Ok("[::1]:80".into()));
        assert_eq!(check_server("0.0.0.0:9000", "7878"), Ok("0.0.0.0:9000".into()));
        assert!(check_client("localhost:0", "7878").unwrap_err().starts_with("port 0"));
        assert!(check_client("a:b:c:x", "1").unwrap_err().contains("host:port, or [IPv6]:port"));
        let (mut host, mut port) = ("[2001:db8::1]:8080".to_string(), "7878".to_string());
        assert!(move_port_out_of_host(&mut host, &mut port));
        assert_eq!((host.as_str(), port.as_str()), ("2001:db8::1", "8080"));
        for half in ["localhost:", "[fe80::", "example.org", "::1"] {
            let (mut host, mut port) = (half.to_string(), "7878".to_string());
            assert!(!move_port_out_of_host(&mut host, &mut port), "{half}");
            assert_eq!((host.as_str(), port.as_str()), (half, "7878"));
        }
    }

    #[test]
    fn settings_from_before_the_theme_switch_load_and_follow_the_system() {
        let chosen =
            Settings { theme: egui::ThemePreference::Light, name: "ann".into(), ..Settings::default() };
        let mut old = serde_json::to_value(&chosen).unwrap();
        assert_eq!(old["theme"], "Light");
        let back: Settings = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(back.theme, egui::ThemePreference::Light, "a choice is kept");
        old.as_object_mut().unwrap().remove("theme");
        let back: Settings = serde_json::from_value(old).unwrap();
        assert_eq!((back.theme, back.name.as_str()), (egui::ThemePreference::System, "ann"));
    }

    #[test]
    fn split_undoes_join() {
        assert_eq!(split_host_port("[::1]:9"), ("::1".into(), "9".into()));
        assert_eq!(split_host_port("7000"), (String::new(), "7000".into()));
    }
}
