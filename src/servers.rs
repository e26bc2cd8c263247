//! `sockchat servers`: the servers announced on this network, listed in the terminal.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::cli::ServersArgs;
use crate::engine::discovery::{BrowseEvent, Browser, FoundList, FoundServer, socket_text};

/// What to check when nothing shows up: the usual causes on a school or office network.
pub const NOT_FOUND_HINT: &str = "check that this machine is on the same network (same Wi-Fi or LAN, \
    not a guest network) and that the firewalls on both machines allow multicast DNS (UDP port 5353) and \
    the server's TCP port; otherwise type the address shown on the server's window";

/// Browses for `--wait` seconds and prints what is still announced then. Returns the exit code: 0 when
/// at least one server was found, 1 when none was, 2 when browsing could not start.
pub fn run(args: &ServersArgs) -> i32 {
    let (browser, events) = Browser::start(args.interface.as_deref(), None);
    let mut list = FoundList::default();
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    while let Ok(ev) = events.recv_deadline(deadline) {
        let off = matches!(ev, BrowseEvent::Off(_));
        list.apply(ev);
        if off {
            break;
        }
    }
    drop(browser);
    if let Some(why) = &list.off {
        eprintln!("sockchat: cannot look for servers: {why}");
        return 2;
    }
    let mut out = std::io::stdout().lock();
    for s in &list.servers {
        let line = if args.json { json(s).to_string() } else { text(s) };
        if writeln!(out, "{line}").is_err() {
            return 2;
        }
    }
    if list.servers.is_empty() {
        eprintln!("sockchat: no server found in {} s: {NOT_FOUND_HINT}", args.wait);
        return 1;
    }
    0
}

fn mode(s: &FoundServer) -> &'static str {
    s.mode.map_or("?", |m| m.label())
}

/// `Room 101  lab-pc.local  192.168.1.20:7878  room  3 connected`
pub fn text(s: &FoundServer) -> String {
    let addr = s.best_addr().map_or_else(|| format!("?:{}", s.port), |a| socket_text(a, s.port));
    let clients = s.clients.map_or_else(|| "?".to_string(), |n| n.to_string());
    format!("{}  {}  {addr}  {}  {clients} connected", s.name, s.host, mode(s))
}

/// One object per server: `name`, `host`, `addr` (the one to try first, `ip:port`), `addrs` (all),
/// `port`, `mode`, `clients`, `version`, `id` (the DNS-SD instance).
pub fn json(s: &FoundServer) -> serde_json::Value {
    serde_json::json!({
        "name": s.name,
        "host": s.host,
        "addr": s.best_addr().map(|a| socket_text(a, s.port)),
        "addrs": s.addrs.iter().map(|a| socket_text(*a, s.port)).collect::<Vec<_>>(),
        "port": s.port,
        "mode": s.mode.map(|m| m.label()),
        "clients": s.clients,
        "version": s.version,
        "id": s.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Mode;

    #[test]
    fn a_server_is_one_line_or_one_object() {
        let s = FoundServer {
            id: "Room (lab:7878)._sockchat._tcp.local.".into(),
            name: "Room".into(),
            host: "lab.local".into(),
            addrs: vec!["192.168.1.20".parse().unwrap(), "fe80::1".parse().unwrap()],
            port: 7878,
            mode: Some(Mode::Room),
            clients: Some(3),
            version: "0.1.0".into(),
            tls: false,
        };
        assert_eq!(text(&s), "Room  lab.local  192.168.1.20:7878  room  3 connected");
        let j = json(&s);
        assert_eq!(j["addr"], "192.168.1.20:7878");
        assert_eq!(j["addrs"][1], "[fe80::1]:7878");
        assert_eq!((j["mode"].as_str(), j["clients"].as_u64()), (Some("room"), Some(3)));
    }
}
