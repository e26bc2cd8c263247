//! The command line. Without `--headless` the window opens (already started when a role is given).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::access::{AccessList, parse_list};
use crate::codec::DEFAULT_MAX_LINE;
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
}

#[derive(Debug, Args)]
pub struct Common {
    /// Run in the terminal: events on stdout, lines from stdin are sent.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: one JSON object per event and line instead of text.
    #[arg(long, requires = "headless")]
    pub json: bool,
    /// Append every event to FILE as JSON lines, flushed per event.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Longest line kept, in bytes; longer lines are cut and marked.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE)]
    pub max_line: usize,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Listen address: PORT, HOST:PORT, [IPV6]:PORT, [IPV6%IFACE]:PORT (default: every interface, port 7878).
    #[arg(value_name = "ADDR", default_value = "7878")]
    pub addr: String,
    /// one-way: clients talk, the server listens. duplex: the server can answer. room: lines are relayed to all.
    #[arg(long, value_enum, default_value_t = Mode::OneWay)]
    pub mode: Mode,
    /// Most clients at once; more get a "server full" line and are closed.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_clients: usize,
    /// Most connections at once from one IP address, 1 to 65535; more get a "too many connections" line
    /// and are closed. A class behind one NAT shares an address: raise it to the class size there.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PER_ADDRESS as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_per_address: u16,
    /// Close a client that sends no line for SECS seconds (an unfinished or blank line does not count).
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Room mode: lines per second one client may have relayed (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub room_rate: u32,
    /// Room mode: bytes of text per second one client may have relayed (0: no limit).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_ROOM_BYTE_RATE)]
    pub room_byte_rate: u32,
    /// Only these addresses or CIDR blocks may connect (comma-separated, repeatable).
    #[arg(long, value_name = "LIST")]
    pub allow: Vec<String>,
    /// These addresses or CIDR blocks are refused (comma-separated, repeatable).
    #[arg(long, value_name = "LIST")]
    pub deny: Vec<String>,
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
    /// Seconds to wait for the connection.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub connect_timeout: u64,
    #[command(flatten)]
    pub common: Common,
}

impl ServerArgs {
    pub fn config(&self) -> Result<ServerConfig, String> {
        let list = |v: &[String]| -> Result<Vec<_>, String> {
            let mut all = Vec::new();
            for s in v {
                all.extend(parse_list(s)?);
            }
            Ok(all)
        };
        Ok(ServerConfig {
            addr: self.addr.clone(),
            mode: self.mode,
            max_line: self.common.max_line.max(1),
            max_clients: self.max_clients,
            max_per_address: usize::from(self.max_per_address),
            idle_timeout: self.idle_timeout.filter(|s| *s > 0).map(Duration::from_secs),
            room_rate: (self.room_rate > 0).then_some(self.room_rate),
            room_byte_rate: (self.room_byte_rate > 0).then_some(self.room_byte_rate),
            access: AccessList { allow: list(&self.allow)?, deny: list(&self.deny)? },
            ..ServerConfig::default()
        })
    }
}

impl ClientArgs {
    pub fn config(&self) -> ClientConfig {
        ClientConfig {
            addr: self.addr.clone(),
            name: self.name.clone(),
            connect_timeout: Duration::from_secs(self.connect_timeout.max(1)),
            max_line: self.common.max_line.max(1),
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
    fn json_needs_headless_and_bad_lists_are_named() {
        assert!(Cli::try_parse_from(["sockchat", "client", "h:1", "--json"]).is_err());
        let cli = Cli::try_parse_from(["sockchat", "server", "--deny", "x.y"]).unwrap();
        let Some(Role::Server(s)) = cli.command else { panic!("not a server") };
        assert_eq!(s.config().unwrap_err(), "'x.y' is not an address or CIDR block");
    }
}
