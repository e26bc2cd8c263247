//! LAN discovery over multicast DNS, on loopback only, each test inside a network namespace of its own.
//!
//! Each test re-runs itself (this test binary, that one test) under `unshare -n`, with `lo` up and
//! multicast switched on, so announcements and queries cannot reach the machine's real network: inside,
//! the test first checks that loopback is the only interface. Where `unshare` cannot make a namespace
//! (not root, no `unshare` or `ip`), the tests say so loudly and skip, or fail where `CI` or
//! `SOCKCHAT_REQUIRE_NETNS=1` is set (CI runs as root, where a skip would hide a broken discovery).

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::Value;
use sockchat::engine::discovery::{AnnounceConfig, BrowseEvent, Browser, FoundServer};
use sockchat::engine::{Mode, ServerConfig};
use sockchat::model::Event;

const BIN: &str = env!("CARGO_BIN_EXE_sockchat");
const INSIDE: &str = "SOCKCHAT_TEST_IN_NETNS";
const DEADLINE: Duration = Duration::from_secs(15);

/// True in the re-run inside the namespace (run the test's body); false in the outer run, which has
/// then run the body in a namespace and checked that it passed (or skipped, loudly, where it cannot).
fn in_own_netns(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        let names: Vec<String> =
            if_addrs::get_if_addrs().unwrap_or_default().into_iter().map(|i| i.name).collect();
        assert!(names.iter().all(|n| n == "lo"), "the namespace must hold loopback only, not {names:?}");
        assert!(!names.is_empty(), "loopback is not up in the namespace");
        return true;
    }
    let required =
        std::env::var_os("CI").is_some() || std::env::var("SOCKCHAT_REQUIRE_NETNS").is_ok_and(|v| v == "1");
    let probe = Command::new("unshare").args(["-n", "ip", "link", "set", "lo", "up"]).output();
    if let Err(why) = probe.as_ref().map_err(ToString::to_string).and_then(|o| {
        o.status.success().then_some(()).ok_or_else(|| String::from_utf8_lossy(&o.stderr).trim().to_string())
    }) {
        let msg = format!(
            "DISCOVERY TEST `{test}` NOT RUN: cannot make a network namespace with `unshare -n` ({why}); \
             run the tests as root with util-linux and iproute2 installed"
        );
        assert!(!required, "{msg}");
        eprintln!("\n*** {msg} ***\n");
        return false;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let script = "ip link set lo up && ip link set lo multicast on && exec \"$0\" \"$@\"";
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .expect("run the test in a namespace");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "in the namespace, `{test}` failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "`{test}` did not run in the namespace:\n{stdout}\n{stderr}");
    false
}

/// The next browse event `pred` accepts, within the deadline; panics with what came instead.
fn next_event(
    rx: &Receiver<BrowseEvent>,
    what: &str,
    mut pred: impl FnMut(&BrowseEvent) -> bool,
) -> BrowseEvent {
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        match rx.recv_deadline(deadline) {
            Ok(ev) if pred(&ev) => return ev,
            Ok(ev) => seen.push(ev),
            Err(e) => panic!("no {what} ({e}); events so far: {seen:#?}"),
        }
    }
}

fn found(ev: BrowseEvent) -> FoundServer {
    match ev {
        BrowseEvent::Found(s) | BrowseEvent::Updated(s) => s,
        other => panic!("not a server: {other:?}"),
    }
}

#[test]
fn an_announced_server_is_found_follows_its_clients_and_is_lost_when_it_stops() {
    if !in_own_netns("an_announced_server_is_found_follows_its_clients_and_is_lost_when_it_stops") {
        return;
    }
    let announce = Some(AnnounceConfig { name: Some("Room 101".into()), interface: None });
    // Every interface, as a teacher's server listens: the announcement carries each interface's addresses.
    let (engine, addr) = common::server_with(ServerConfig {
        addr: "0".into(),
        mode: Mode::Room,
        announce,
        ..Default::default()
    });
    let port = addr.port();
    let (browser, rx) = Browser::start(None, None);
    let s = found(next_event(&rx, "server found", |e| matches!(e, BrowseEvent::Found(s) if s.port == port)));
    assert_eq!((s.name.as_str(), s.mode, s.clients), ("Room 101", Some(Mode::Room), Some(0)));
    assert_eq!(s.version, env!("CARGO_PKG_VERSION"));
    assert!(s.addrs.contains(&"127.0.0.1".parse().unwrap()), "addresses: {:?}", s.addrs);

    // A client comes: the count in the list follows.
    let ip = s.best_addr().expect("an address");
    let _c = TcpStream::connect((ip, port)).expect("connect to the found address");
    let s2 =
        found(next_event(&rx, "count 1", |e| matches!(e, BrowseEvent::Updated(u) if u.clients == Some(1))));
    assert_eq!(s2.id, s.id);

    // The server stops: its goodbye takes it off the list at once, not when its records expire.
    let stopped = Instant::now();
    engine.stop();
    next_event(&rx, "server lost", |e| matches!(e, BrowseEvent::Lost(id) if *id == s.id));
    assert!(stopped.elapsed() < Duration::from_secs(5), "lost after {:?}", stopped.elapsed());
    drop(browser);
}

/// A `sockchat server` process, and the port from its `listening` event.
struct ServerProc(Child);

impl ServerProc {
    fn start(extra: &[&str]) -> (ServerProc, u16) {
        let mut child = Command::new(BIN)
            .args(["server", "0", "--headless", "--json"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sockchat server");
        let out = child.stdout.take().expect("stdout");
        let proc = ServerProc(child);
        let mut first = String::new();
        BufReader::new(out).read_line(&mut first).expect("a line from the server");
        let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("not JSON: {first}: {e}"));
        assert_eq!(v["event"], "listening", "{v}");
        let port = v["addr"].as_str().and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse().ok());
        (proc, port.expect("a port in `listening`"))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn servers(wait: &str) -> (Output, Vec<Value>) {
    let out =
        Command::new(BIN).args(["servers", "--json", "--wait", wait]).output().expect("run sockchat servers");
    let listed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (out, listed)
}

#[test]
fn sockchat_servers_json_lists_a_running_server() {
    if !in_own_netns("sockchat_servers_json_lists_a_running_server") {
        return;
    }
    let (server, port) = ServerProc::start(&["--mode", "duplex", "--name", "Lab B"]);
    let (out, listed) = servers("3");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(listed.len(), 1, "{listed:?}");
    let s = &listed[0];
    assert_eq!(
        (s["name"].as_str(), s["mode"].as_str(), s["port"].as_u64()),
        (Some("Lab B"), Some("duplex"), Some(port.into()))
    );
    assert_eq!(s["addr"], format!("127.0.0.1:{port}"));
    assert_eq!(s["clients"], 0);
    drop(server);
}

#[test]
fn no_announce_announces_nothing() {
    if !in_own_netns("no_announce_announces_nothing") {
        return;
    }
    let (_quiet, quiet_port) = ServerProc::start(&["--mode", "room", "--no-announce"]);
    let (out, listed) = servers("3");
    assert!(listed.is_empty(), "a --no-announce server was listed: {listed:?}");
    assert_eq!(out.status.code(), Some(1), "none found is exit code 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no server found") && err.contains("UDP port 5353"), "{err}");

    // The same browser, in the same namespace, does see an announced one: the silence above was the flag's.
    let (_loud, loud_port) = ServerProc::start(&["--mode", "room"]);
    let (out, listed) = servers("3");
    assert_eq!(out.status.code(), Some(0));
    let ports: Vec<u64> = listed.iter().filter_map(|s| s["port"].as_u64()).collect();
    assert_eq!(ports, [u64::from(loud_port)], "quiet server on {quiet_port}");
}

#[test]
fn a_failed_announcement_is_a_notice_and_the_server_chats_on() {
    if !in_own_netns("a_failed_announcement_is_a_notice_and_the_server_chats_on") {
        return;
    }
    let announce = Some(AnnounceConfig { name: None, interface: Some("nosuch0".into()) });
    let (engine, addr) = common::server_with(ServerConfig {
        addr: "0".into(),
        mode: Mode::Duplex,
        announce,
        ..Default::default()
    });
    let notice = common::wait_for(engine.events(), |e| matches!(e, Event::Error { .. }));
    let Event::Error { text, fatal, .. } = notice else { unreachable!() };
    assert!(!fatal, "{text}");
    assert!(text.starts_with("discovery is off: no network interface named 'nosuch0'"), "{text}");
    assert!(text.contains("lo"), "the notice names the interfaces there are: {text}");

    let mut c = common::Raw::connect(SocketAddr::new("127.0.0.1".parse().unwrap(), addr.port()));
    c.send(b"still here\n");
    let got = common::messages(engine.events(), 1);
    assert_eq!(got[0].text, "still here");
}
