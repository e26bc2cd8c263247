//! The command line. Without `--headless` the window opens (already started when a role is given).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use ipnet::IpNet;

use crate::access::{AccessList, parse_flag_list};
use crate::codec::DEFAULT_MAX_LINE;
use crate::engine::discovery::AnnounceConfig;
use crate::engine::{ClientConfig, DEFAULT_MAX_PER_ADDRESS, DEFAULT_ROOM_BYTE_RATE, Mode, ServerConfig};

#[derive(Debug, Parser)]
#[command(
    name = "sockchat",
    version,
    about = "TCP chat: one-way, duplex and room, in a window or a terminal",
    long_about = "TCP chat: one-way, duplex and room, in a window or a terminal.\n\n\
        With no command the window opens on its start screen. `sockchat server` and `sockchat client` open \
        it already started, or run in the terminal with --headless. Peers may be plain `nc` or `telnet` \
        clients: the wire format is one UTF-8 line per message."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Role>,
}

#[derive(Debug, Subcommand)]
pub enum Role {
    /// Listen for clients and show each message with the sender's host, ip:port and name.
    Server(ServerArgs),
    /// Connect to a server; lines typed are sent.
    Client(ClientArgs),
    /// List the sockchat servers announced on this network (multicast DNS), then exit: 0 when at least
    /// one was found, 1 when none was, 2 when browsing could not start.
    Servers(ServersArgs),
}

#[derive(Debug, Args)]
pub struct ServersArgs {
    /// Seconds to listen for announcements (1 to 60).
    #[arg(long, value_name = "SECS", default_value_t = 3, value_parser = wait_secs, allow_negative_numbers = true)]
    pub wait: u64,
    /// One JSON object per server instead of text.
    #[arg(long)]
    pub json: bool,
    /// Look only on this network interface (e.g. eth0, wlan0).
    #[arg(long, value_name = "NAME")]
    pub interface: Option<String>,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Run in the terminal: events on stdout, lines from stdin are sent.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: one JSON object per event and line instead of text.
    #[arg(long, requires = "headless")]
    pub json: bool,
    /// Window: projector mode (large type, high contrast, the server's addresses on top); remembered.
    #[arg(long, conflicts_with = "headless")]
    pub present: bool,
    /// Append every event to FILE as JSON lines, flushed per event.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Longest line kept, in bytes (64 to 16777216); longer lines are cut and marked.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE, value_parser = line_bytes,
        allow_negative_numbers = true)]
    pub max_line: usize,
    /// Show the socket calls behind the chat (`# accept(fd 3) = fd 7 from ...`; `"event": "call"` in JSON).
    #[arg(long)]
    pub trace: bool,
    /// As --trace, and each set-up call (getaddrinfo, socket, bind, listen, accept, connect) waits for
    /// Enter before it is made (type `run` and Enter to stop waiting). For showing a class, step by step.
    #[arg(long)]
    pub step: bool,
}

impl Common {
    pub fn trace_mode(&self) -> crate::engine::TraceMode {
        use crate::engine::TraceMode;
        match (self.step, self.trace) {
            (true, _) => TraceMode::Step,
            (false, true) => TraceMode::On,
            (false, false) => TraceMode::Off,
        }
    }
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Listen address: PORT, HOST:PORT, [IPV6]:PORT, [IPV6%IFACE]:PORT (default: every interface, port 7878).
    #[arg(value_name = "ADDR", default_value = "7878")]
    pub addr: String,
    /// one-way: clients talk, the server listens. duplex: the server can answer. room: lines are relayed to all.
    #[arg(long, value_enum, default_value_t = Mode::Duplex)]
    pub mode: Mode,
    /// Most clients at once (1 to 100000); more get a "server full" line and are closed.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clients, allow_negative_numbers = true)]
    pub max_clients: usize,
    /// Most connections at once from one IP address (1 to 65535); more get a "too many connections" line
    /// and are closed. A class behind one NAT shares an address: raise it to the class size there.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PER_ADDRESS, value_parser = per_address,
          allow_negative_numbers = true)]
    pub max_per_address: usize,
    /// Close a client that sends no line for SECS seconds, 1 to 86400 (an unfinished or blank line does
    /// not count).
    #[arg(long, value_name = "SECS", value_parser = idle_secs, allow_negative_numbers = true)]
    pub idle_timeout: Option<u64>,
    /// Room mode: lines per second one client may have relayed (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub room_rate: u32,
    /// Room mode: bytes of text per second one client may have relayed (0: no limit).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_ROOM_BYTE_RATE)]
    pub room_byte_rate: u32,
    /// Only these addresses or CIDR blocks may connect (comma-separated, repeatable).
    #[arg(long, value_name = "LIST", value_parser = net_list)]
    pub allow: Vec<NetList>,
    /// These addresses or CIDR blocks are refused (comma-separated, repeatable).
    #[arg(long, value_name = "LIST", value_parser = net_list)]
    pub deny: Vec<NetList>,
    /// Do not announce this server on the local network (it is announced by default, so `sockchat servers`
    /// and the window's client screen list it).
    #[arg(long)]
    pub no_announce: bool,
    /// Duplex and room: do not greet clients. The greeting is how a sockchat client learns it may send its
    /// name; without it, names come only from `/name` typed by hand. For a classic client that reads one
    /// line per line it sends, which would otherwise see the greeting as the first answer.
    #[arg(long)]
    pub no_greeting: bool,
    /// The name the server is listed under on the local network (default: this machine's host name).
    #[arg(long, value_name = "NAME", conflicts_with = "no_announce")]
    pub name: Option<String>,
    /// Announce only on this network interface (e.g. eth0 rather than a VPN or a virtual machine's bridge).
    #[arg(long, value_name = "NAME", conflicts_with = "no_announce")]
    pub interface: Option<String>,
    /// Encrypt with TLS. Without --cert/--key a self-signed certificate is made at the first start and
    /// kept (its fingerprint, shown on the listening line, stays the same); clients need --tls too.
    #[arg(long)]
    pub tls: bool,
    /// TLS: the certificate (chain) to serve, a PEM file, instead of the one sockchat makes.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    pub cert: Option<std::path::PathBuf>,
    /// TLS: the certificate's private key, a PEM file.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    pub key: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Server address: HOST:PORT, [IPV6]:PORT or, link-local, [IPV6%IFACE]:PORT.
    #[arg(value_name = "HOST:PORT")]
    pub addr: String,
    /// Display name the server shows for you.
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds to wait for the connection (1 to 600).
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = connect_secs,
        allow_negative_numbers = true)]
    pub connect_timeout: u64,
    /// Connect with TLS. A server whose certificate the system's roots do not vouch for must be known
    /// (accepted before), pinned with --fingerprint, or accepted with --accept-new; otherwise the window
    /// shows its fingerprint and asks, and the terminal (--headless) refuses it and prints the
    /// fingerprint to compare.
    #[arg(long)]
    pub tls: bool,
    /// TLS: accept exactly the certificate with this fingerprint (SHA256:..., as the server prints it).
    #[arg(long, value_name = "SHA256:...", requires = "tls", value_parser = crate::trust::Fingerprint::parse)]
    pub fingerprint: Option<crate::trust::Fingerprint>,
    /// TLS: accept a server seen for the first time and remember it (a changed certificate is still
    /// refused), like ssh's StrictHostKeyChecking=accept-new.
    #[arg(long, requires = "tls", conflicts_with = "fingerprint")]
    pub accept_new: bool,
    #[command(flatten)]
    pub common: Common,
}

/// One `--allow` or `--deny` value, checked as it is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetList(pub Vec<IpNet>);

fn net_list(s: &str) -> Result<NetList, String> {
    parse_flag_list(s).map(NetList)
}

/// The range a numeric setting may take, shared by the flags and the window's form. Values outside make
/// the server useless (0 clients, 1-byte lines, an instant idle timeout) or unbounded (a line as long as
/// memory), so they are refused rather than quietly adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub min: u64,
    pub max: u64,
    pub unit: &'static str,
}

/// `--max-clients`: each client costs three file descriptors and two threads, so far more than any room
/// needs would only run the process out of either (the server warns when the descriptor limit is lower).
pub const CLIENTS: Bound = Bound { min: 1, max: 100_000, unit: "" };
/// `--max-line`: a 64-byte line still holds a sentence; 16 MiB is far past any chat line.
pub const LINE_BYTES: Bound = Bound { min: 64, max: 16 * 1024 * 1024, unit: " bytes" };
/// `--max-per-address`: a whole class behind one NAT fits; past that the per-address rule means nothing.
pub const PER_ADDRESS: Bound = Bound { min: 1, max: 65_535, unit: "" };
/// `--idle-timeout`: up to a day.
pub const IDLE_SECS: Bound = Bound { min: 1, max: 86_400, unit: " s" };
/// `sockchat servers --wait`: announcements answer within a second or two; a minute is plenty.
pub const WAIT_SECS: Bound = Bound { min: 1, max: 60, unit: " s" };
/// `--connect-timeout`: up to ten minutes.
pub const CONNECT_SECS: Bound = Bound { min: 1, max: 600, unit: " s" };

impl Bound {
    /// `from 1 to 100000`, as the error messages say it.
    pub fn describe(&self) -> String {
        format!("from {} to {}{}", self.min, self.max, self.unit)
    }

    /// A whole number in range. Negative and huge numbers get the range too, not a parse error's words.
    pub fn parse<T: TryFrom<u64>>(&self, s: &str) -> Result<T, String> {
        let t = s.trim();
        let out = || format!("must be {}", self.describe());
        let n = match t.parse::<i128>() {
            Ok(n) => u64::try_from(n).ok().filter(|n| (self.min..=self.max).contains(n)).ok_or_else(out)?,
            Err(e)
                if matches!(
                    e.kind(),
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
                ) =>
            {
                return Err(out());
            }
            Err(_) => return Err(format!("not a whole number; must be {}", self.describe())),
        };
        T::try_from(n).map_err(|_| out())
    }
}

fn clients(s: &str) -> Result<usize, String> {
    CLIENTS.parse(s)
}

fn per_address(s: &str) -> Result<usize, String> {
    PER_ADDRESS.parse(s)
}

fn line_bytes(s: &str) -> Result<usize, String> {
    LINE_BYTES.parse(s)
}

fn idle_secs(s: &str) -> Result<u64, String> {
    IDLE_SECS.parse(s)
}

fn wait_secs(s: &str) -> Result<u64, String> {
    WAIT_SECS.parse(s)
}

fn connect_secs(s: &str) -> Result<u64, String> {
    CONNECT_SECS.parse(s)
}

impl ServerArgs {
    pub fn config(&self) -> Result<ServerConfig, String> {
        let list = |v: &[NetList]| v.iter().flat_map(|l| l.0.iter().copied()).collect();
        Ok(ServerConfig {
            addr: self.addr.clone(),
            mode: self.mode,
            max_line: self.common.max_line,
            max_clients: self.max_clients,
            max_per_address: self.max_per_address,
            idle_timeout: self.idle_timeout.map(Duration::from_secs),
            room_rate: (self.room_rate > 0).then_some(self.room_rate),
            room_byte_rate: (self.room_byte_rate > 0).then_some(self.room_byte_rate),
            access: AccessList { allow: list(&self.allow), deny: list(&self.deny) },
            announce: (!self.no_announce)
                .then(|| AnnounceConfig { name: self.name.clone(), interface: self.interface.clone() }),
            trace: self.common.trace_mode(),
            greet: !self.no_greeting,
            tls: self.tls_config()?,
            ..ServerConfig::default()
        })
    }

    fn tls_config(&self) -> Result<Option<crate::engine::ServerTls>, String> {
        if !self.tls {
            return Ok(None);
        }
        let dir = match (&self.cert, crate::engine::tls::cert_dir()) {
            (_, Some(d)) => d,
            // With --cert/--key nothing is kept, so a missing config directory does not matter.
            (Some(_), None) => std::path::PathBuf::new(),
            (None, None) => return Err(crate::engine::tls::NO_CONFIG_DIR.into()),
        };
        Ok(Some(crate::engine::ServerTls { cert: self.cert.clone(), key: self.key.clone(), dir }))
    }
}

impl ClientArgs {
    pub fn config(&self) -> ClientConfig {
        ClientConfig {
            addr: self.addr.clone(),
            name: self.name.clone(),
            connect_timeout: Duration::from_secs(self.connect_timeout),
            max_line: self.common.max_line,
            trace: self.common.trace_mode(),
            tls: self.tls.then(|| crate::engine::ClientTls {
                // Empty when there is no config directory: the engine then says so if it needs the file.
                known_servers: crate::engine::tls::known_servers_file().unwrap_or_default(),
                policy: match (self.fingerprint, self.accept_new) {
                    (Some(f), _) => crate::trust::TrustPolicy::Pin(f),
                    (None, true) => crate::trust::TrustPolicy::AcceptNew,
                    // The terminal has no one to ask while it connects; the window shows the dialog.
                    (None, false) if self.common.headless => crate::trust::TrustPolicy::RefuseUnknown,
                    (None, false) => crate::trust::TrustPolicy::Ask,
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn server_flags_become_config() {
        let cli = Cli::try_parse_from([
            "sockchat",
            "server",
            "[::1]:0",
            "--mode",
            "room",
            "--max-clients",
            "3",
            "--max-per-address",
            "2",
            "--room-byte-rate",
            "0",
            "--allow",
            "127.0.0.0/8,::1",
            "--deny",
            "127.0.0.9",
            "--headless",
            "--json",
        ])
        .unwrap();
        let Some(Role::Server(s)) = cli.command else { panic!("not a server") };
        let cfg = s.config().unwrap();
        assert_eq!(cfg.mode, Mode::Room);
        assert_eq!(cfg.max_clients, 3);
        assert_eq!((cfg.max_per_address, cfg.room_byte_rate), (2, None));
        assert_eq!(cfg.access.allow.len(), 2);
        assert_eq!(cfg.access.deny.len(), 1);
        assert!(s.common.json);
    }

    #[test]
    fn per_address_limit_has_a_default_and_a_range() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["sockchat", "server"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args).map(|c| match c.command {
                Some(Role::Server(s)) => s.config().unwrap(),
                _ => panic!("not a server"),
            })
        };
        let cfg = parse(&[]).unwrap();
        assert_eq!((cfg.max_per_address, cfg.room_byte_rate), (16, Some(65536)));
        assert_eq!(parse(&["--max-per-address", "65535"]).unwrap().max_per_address, 65535);
        for bad in ["0", "65536"] {
            let e = parse(&["--max-per-address", bad]).unwrap_err().to_string();
            assert!(e.contains("--max-per-address"), "{bad}: {e}");
        }
    }

    #[test]
    fn announcing_is_on_unless_turned_off() {
        let server = |extra: &[&str]| {
            let args = ["sockchat", "server"].iter().chain(extra).copied();
            match Cli::try_parse_from(args).map(|c| c.command) {
                Ok(Some(Role::Server(s))) => s.config().map_err(|e| e.to_string()),
                Ok(other) => panic!("not a server: {other:?}"),
                Err(e) => Err(e.to_string()),
            }
        };
        assert_eq!(server(&[]).unwrap().announce, Some(AnnounceConfig::default()));
        let named = server(&["--name", "Room 101", "--interface", "eth0"]).unwrap().announce;
        assert_eq!(
            named,
            Some(AnnounceConfig { name: Some("Room 101".into()), interface: Some("eth0".into()) })
        );
        assert_eq!(server(&["--no-announce"]).unwrap().announce, None);
        assert!(server(&["--no-announce", "--interface", "eth0"]).is_err());
        let servers = Cli::try_parse_from(["sockchat", "servers", "--json"]).unwrap();
        let Some(Role::Servers(a)) = servers.command else { panic!("not servers") };
        assert_eq!((a.wait, a.json), (3, true));
        assert!(parse_error(&["sockchat", "servers", "--wait", "0"]).contains("must be from 1 to 60 s"));
    }

    #[test]
    fn json_needs_headless_and_bad_lists_are_named() {
        assert!(Cli::try_parse_from(["sockchat", "client", "h:1", "--json"]).is_err());
        let e = Cli::try_parse_from(["sockchat", "server", "--deny", "x.y"]).unwrap_err().to_string();
        assert!(e.contains("'x.y' is not an address or CIDR block"), "{e}");
    }

    fn parse_error(args: &[&str]) -> String {
        match Cli::try_parse_from(args) {
            Ok(cli) => panic!("{args:?} accepted: {cli:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn lists_that_name_nothing_are_refused() {
        for flag in ["--allow", "--deny"] {
            for value in ["", ",", " , "] {
                let e = parse_error(&["sockchat", "server", flag, value]);
                assert!(e.contains("give addresses or CIDR blocks"), "{flag} {value:?}: {e}");
            }
        }
        let cli = Cli::try_parse_from([
            "sockchat",
            "server",
            "--deny",
            "::ffff:127.0.0.1",
            "--deny",
            "10.0.0.0/8,",
        ])
        .unwrap();
        let Some(Role::Server(s)) = cli.command else { panic!("not a server") };
        let deny: Vec<String> = s.config().unwrap().access.deny.iter().map(ToString::to_string).collect();
        assert_eq!(deny, ["127.0.0.1/32", "10.0.0.0/8"]);
    }

    #[test]
    fn odd_numbers_are_refused_with_the_range() {
        let cases: &[(&[&str], &str)] = &[
            (&["server", "--max-clients", "0"], "must be from 1 to 100000"),
            (&["server", "--max-clients", "-5"], "must be from 1 to 100000"),
            (&["server", "--max-clients", "100001"], "must be from 1 to 100000"),
            (&["server", "--max-clients", "lots"], "not a whole number; must be from 1 to 100000"),
            (&["server", "--max-line", "0"], "must be from 64 to 16777216 bytes"),
            (&["server", "--max-line", "18446744073709551615"], "must be from 64 to 16777216 bytes"),
            (&["server", "--max-line", "99999999999999999999999999999999999999999"], "must be from 64"),
            (&["client", "h:1", "--max-line", "-1"], "must be from 64 to 16777216 bytes"),
            (&["server", "--idle-timeout", "0"], "must be from 1 to 86400 s"),
            (&["server", "--idle-timeout", "-5"], "must be from 1 to 86400 s"),
            (&["client", "h:1", "--connect-timeout", "0"], "must be from 1 to 600 s"),
            (&["client", "h:1", "--connect-timeout", "601"], "must be from 1 to 600 s"),
        ];
        for (args, want) in cases {
            let all: Vec<&str> = std::iter::once("sockchat").chain(args.iter().copied()).collect();
            let e = parse_error(&all);
            assert!(e.contains(want), "{args:?}: {e}");
            assert!(!e.contains("-- -"), "{args:?}: the '-- -5' hint is for another case: {e}");
        }
    }

    #[test]
    fn numbers_at_the_ends_of_their_ranges_are_taken() {
        let cli = Cli::try_parse_from([
            "sockchat",
            "server",
            "--max-clients",
            "100000",
            "--max-line",
            "64",
            "--idle-timeout",
            "86400",
        ])
        .unwrap();
        let Some(Role::Server(s)) = cli.command else { panic!("not a server") };
        let cfg = s.config().unwrap();
        assert_eq!((cfg.max_clients, cfg.max_line), (100_000, 64));
        assert_eq!(cfg.idle_timeout, Some(Duration::from_secs(86_400)));
        let cli = Cli::try_parse_from([
            "sockchat",
            "client",
            "h:1",
            "--connect-timeout",
            "600",
            "--max-line",
            "16777216",
        ])
        .unwrap();
        let Some(Role::Client(c)) = cli.command else { panic!("not a client") };
        assert_eq!((c.config().connect_timeout.as_secs(), c.config().max_line), (600, 16 << 20));
    }

    #[test]
    fn an_unknown_tls_server_is_asked_about_in_the_window_and_refused_in_the_terminal() {
        use crate::trust::TrustPolicy;
        let policy = |extra: &[&str]| {
            let args = ["sockchat", "client", "lab-pc:7878", "--tls"].iter().chain(extra).copied();
            let Ok(Some(Role::Client(c))) = Cli::try_parse_from(args).map(|c| c.command) else {
                panic!("not a client: {extra:?}")
            };
            c.config().tls.map(|t| t.policy)
        };
        assert_eq!(policy(&[]), Some(TrustPolicy::Ask));
        assert_eq!(policy(&["--headless"]), Some(TrustPolicy::RefuseUnknown));
        assert_eq!(policy(&["--accept-new"]), Some(TrustPolicy::AcceptNew));
        let fp = "SHA256:".to_string() + &["00"; 32].join(":");
        assert!(matches!(policy(&["--headless", "--fingerprint", &fp]), Some(TrustPolicy::Pin(_))));
    }
}
