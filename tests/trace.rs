//! The socket-call trace over real loopback sockets: the calls a server and a client make, in order,
//! with real descriptors and results, their failures as C names them, step mode, and the terminal's
//! `--trace` output.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use crossbeam_channel::RecvTimeoutError;
use serde_json::Value;
use sockchat::calls::{Call, CallState, Lane};
use sockchat::engine::{ClientConfig, Command, Engine, Events, Mode, ServerConfig, Step, TraceMode};
use sockchat::model::{Event, Origin};

/// Events up to and including the first that `stop` matches.
fn until(events: &Events, mut stop: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(ev) => {
                let done = stop(&ev);
                seen.push(ev);
                if done {
                    return seen;
                }
            }
            Err(e) => panic!("{e:?} before the awaited event; so far: {seen:#?}"),
        }
    }
}

fn calls(evs: &[Event]) -> Vec<Arc<Call>> {
    evs.iter()
        .filter_map(|e| match e {
            Event::Call { call, .. } => Some(call.clone()),
            _ => None,
        })
        .collect()
}

/// `name(args) = result` for each call that has ended, and `name(args) ...` for one that waits.
fn lines(calls: &[Arc<Call>]) -> Vec<String> {
    calls.iter().map(|c| c.describe()).collect()
}

fn fd_in(result: &str) -> i32 {
    let rest = result.strip_prefix("fd ").unwrap_or_else(|| panic!("no fd in '{result}'"));
    rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no fd in '{result}'"))
}

fn result(c: &Call) -> &str {
    match &c.state {
        CallState::Returned { result, .. } => result,
        s => panic!("{} did not return: {s:?}", c.describe()),
    }
}

fn traced_server(mode: Mode) -> (Engine, SocketAddr, Vec<Arc<Call>>) {
    let cfg =
        ServerConfig { addr: "127.0.0.1:0".into(), mode, trace: TraceMode::On, ..ServerConfig::default() };
    let engine = Engine::server(cfg, None);
    let evs = until(engine.events(), |e| matches!(e, Event::Listening { .. } | Event::Error { .. }));
    let Some(Event::Listening { addr, .. }) = evs.last() else { panic!("no listening: {evs:#?}") };
    (engine, *addr, calls(&evs))
}

/// The descriptor `fd` of this process is a socket bound to `addr`: the trace names real descriptors.
#[cfg(unix)]
fn fd_is_bound_to(fd: i32, addr: SocketAddr) -> bool {
    use std::os::fd::BorrowedFd;
    // SAFETY: the descriptor is open (the engine holds it while it runs) and only borrowed for a query.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    socket2::SockRef::from(&b).local_addr().ok().and_then(|a| a.as_socket()) == Some(addr)
}

#[test]
fn a_server_shows_the_calls_of_server_c_with_its_real_descriptors() {
    let (engine, addr, setup) = traced_server(Mode::OneWay);
    let done: Vec<&Arc<Call>> = setup.iter().filter(|c| !c.is_waiting()).collect();
    let names: Vec<&str> = done.iter().map(|c| c.name).collect();
    assert_eq!(names, ["socket", "setsockopt", "bind", "listen"], "{:#?}", lines(&setup));
    let fd = fd_in(result(done[0]));
    assert!(fd > 2, "a real descriptor, past stdin/out/err: {fd}");
    assert_eq!(done[1].args, format!("fd {fd}, SOL_SOCKET, SO_REUSEADDR, 1"));
    assert_eq!(done[2].args, format!("fd {fd}, 127.0.0.1:0"));
    assert_eq!(done[3].args, format!("fd {fd}, 1024"));
    assert!(done.iter().all(|c| c.lane == Lane::Setup && !result(c).is_empty()));
    #[cfg(unix)]
    assert!(fd_is_bound_to(fd, addr), "fd {fd} is the listening socket on {addr}");

    // A client comes: accept() was waiting on the listening fd, and returns the client's own fd.
    let mut c = Raw::connect(addr);
    let evs = until(engine.events(), |e| matches!(e, Event::Connected { .. }));
    let accepted = calls(&evs);
    let waiting = accepted.iter().find(|c| c.name == "accept" && c.is_waiting()).expect("accept waits");
    assert_eq!(waiting.args, format!("fd {fd}"));
    assert_eq!(waiting.lane, Lane::Listener);
    let ret = accepted.iter().find(|c| c.name == "accept" && !c.is_waiting()).expect("accept returns");
    assert_eq!(ret.id, waiting.id, "a call's start and end share an id");
    let cfd = fd_in(result(ret));
    assert!(result(ret).ends_with(&format!("from {}", c.local())), "{}", ret.describe());
    assert_ne!(cfd, fd);

    // Its bytes: one recv on the client's fd carries them, before the message they make.
    c.send(b"hi\n");
    let evs = until(engine.events(), |e| matches!(e, Event::Message(_)));
    let recv = calls(&evs).into_iter().rfind(|c| c.name == "recv" && !c.is_waiting()).expect("a recv");
    assert_eq!(recv.fd, Some(cfd), "the reader reads the descriptor accept returned");
    assert_eq!(recv.peer, Some(c.local()));
    assert_eq!(result(&recv), "3 bytes");
    assert_eq!(recv.data.as_deref(), Some(&b"hi\n"[..]));
    let Some(Event::Message(m)) = evs.last() else { unreachable!() };
    assert_eq!(m.text, "hi");
    let threads: Vec<String> = calls(&evs).iter().map(|c| c.thread.to_string()).collect();
    assert!(threads.iter().any(|t| t.starts_with("sockchat-r")), "recv is the reader thread's: {threads:?}");

    // The client closes: recv returns 0, then the server shuts down and closes that fd.
    c.stream.shutdown(Shutdown::Both).expect("shutdown");
    let evs = until(
        engine.events(),
        |e| matches!(e, Event::Call { call, .. } if call.name == "close" && call.fd == Some(cfd)),
    );
    let ended = calls(&evs);
    let eof = ended.iter().find(|c| c.name == "recv" && !c.is_waiting()).expect("recv at the end");
    assert!(result(eof).starts_with("0: end of file"), "{}", eof.describe());
    let tail: Vec<&str> =
        ended.iter().filter(|c| c.fd == Some(cfd) && !c.is_waiting()).map(|c| c.name).collect();
    assert_eq!(tail, ["recv", "shutdown", "close"], "{:#?}", lines(&ended));
    engine.stop();
}

#[test]
fn a_port_in_use_fails_at_bind_with_eaddrinuse_and_the_socket_is_closed() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let cfg =
        ServerConfig { addr: format!("127.0.0.1:{port}"), trace: TraceMode::On, ..ServerConfig::default() };
    let engine = Engine::server(cfg, None);
    let evs = wait_closed(engine.events());
    let all = calls(&evs);
    let bind = all.iter().find(|c| c.name == "bind").expect("bind was tried");
    let CallState::Failed { errno, meaning, .. } = &bind.state else { panic!("{}", bind.describe()) };
    assert_eq!(errno, "EADDRINUSE");
    assert_eq!(meaning, "address already in use");
    let closed = all.iter().find(|c| c.name == "close").expect("the socket is closed");
    assert_eq!(closed.fd, bind.fd);
    assert!(evs.iter().any(|e| matches!(e, Event::Error { fatal: true, .. })));
}

#[test]
fn a_client_shows_getaddrinfo_and_each_refused_connect() {
    // A port nobody listens on: bound, then let go.
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let cfg =
        ClientConfig { addr: format!("localhost:{port}"), trace: TraceMode::On, ..ClientConfig::default() };
    let engine = Engine::client(cfg, None);
    let all = calls(&wait_closed(engine.events()));
    assert_eq!(all[0].name, "getaddrinfo");
    assert_eq!(all[0].args, format!("\"localhost\", \"{port}\""));
    let gai = all.iter().find(|c| c.name == "getaddrinfo" && !c.is_waiting()).expect("getaddrinfo returns");
    let tried = result(gai).split(", ").count();
    let connects: Vec<&Arc<Call>> = all.iter().filter(|c| c.name == "connect" && !c.is_waiting()).collect();
    assert_eq!(connects.len(), tried, "each address getaddrinfo gave is tried: {:#?}", lines(&all));
    for c in &connects {
        let CallState::Failed { errno, .. } = &c.state else { panic!("{}", c.describe()) };
        assert_eq!(errno, "ECONNREFUSED");
        let closes = all.iter().filter(|x| x.name == "close" && x.fd == c.fd).count();
        assert_eq!(closes, 1, "the refused socket is closed: {:#?}", lines(&all));
    }
}

#[test]
fn a_client_and_server_agree_on_what_crossed() {
    let (server, addr, _) = traced_server(Mode::Duplex);
    let cfg = ClientConfig { addr: addr.to_string(), trace: TraceMode::On, ..ClientConfig::default() };
    let client = Engine::client(cfg, None);
    let evs = until(client.events(), |e| matches!(e, Event::Connected { .. }));
    let names: Vec<&str> = calls(&evs).iter().filter(|c| !c.is_waiting()).map(|c| c.name).collect();
    assert_eq!(names, ["socket", "connect"], "a literal address needs no getaddrinfo");
    let sent_from = calls(&evs)[0].clone();
    let fd = fd_in(result(&sent_from));
    until(server.events(), |e| matches!(e, Event::Connected { .. }));
    client.send(Command::Send { to: sockchat::model::Target::All, text: "ping".into() });
    let evs = until(
        client.events(),
        |e| matches!(e, Event::Call { call, .. } if call.name == "send" && !call.is_waiting()),
    );
    let send = calls(&evs).pop().expect("send");
    assert_eq!(send.fd, Some(fd));
    assert_eq!(result(&send), "5");
    assert_eq!(send.data.as_deref(), Some(&b"ping\n"[..]));
    let evs = until(server.events(), |e| matches!(e, Event::Message(_)));
    let recv = calls(&evs).into_iter().rfind(|c| c.name == "recv" && !c.is_waiting()).expect("recv");
    assert_eq!(recv.data.as_deref(), Some(&b"ping\n"[..]));
    // The server answers through the client's socket: a send (or the writer's writev) on its fd.
    server.send(Command::Send { to: sockchat::model::Target::All, text: "pong".into() });
    let evs = until(
        server.events(),
        |e| matches!(e, Event::Call { call, .. } if matches!(call.name, "send" | "writev") && !call.is_waiting()),
    );
    let out = calls(&evs).pop().expect("send");
    assert_eq!(out.fd, recv.fd);
    let evs = until(
        client.events(),
        |e| matches!(e, Event::Message(m) if matches!(m.origin, Origin::Remote { .. })),
    );
    let got = calls(&evs).into_iter().rfind(|c| c.name == "recv" && !c.is_waiting()).expect("client recv");
    assert_eq!(got.data.as_deref(), Some(&b"pong\n"[..]));
    assert_eq!(got.lane, Lane::Conn(0));
    client.stop();
    server.stop();
}

#[test]
fn without_trace_no_call_is_recorded() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"quiet\n");
    let evs = until(engine.events(), |e| matches!(e, Event::Message(_)));
    assert!(calls(&evs).is_empty());
    engine.stop();
}

#[test]
fn step_mode_holds_each_setup_call_until_next_and_run_lets_the_rest_go() {
    let cfg = ServerConfig { addr: "127.0.0.1:0".into(), trace: TraceMode::Step, ..ServerConfig::default() };
    let engine = Engine::server(cfg, None);
    let first = until(engine.events(), |e| matches!(e, Event::Call { .. }));
    let paused = calls(&first).pop().expect("a call");
    assert_eq!((paused.name, &paused.state), ("socket", &CallState::Paused));
    // Held: nothing more comes until the user answers (bounded look, the pause has no end of its own).
    match engine.events().recv_timeout(Duration::from_millis(300)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("the paused call went ahead on its own: {other:?}"),
    }
    engine.step(Step::Next);
    let evs =
        until(engine.events(), |e| matches!(e, Event::Call { call, .. } if call.state == CallState::Paused));
    let c = calls(&evs);
    assert_eq!((c[0].name, c[0].id), ("socket", paused.id), "the held call is made: {:#?}", lines(&c));
    assert!(result(&c[0]).starts_with("fd "));
    assert_eq!(c.last().map(|c| c.name), Some("setsockopt"), "and the next one is held");
    engine.step(Step::Run);
    let evs = until(engine.events(), |e| matches!(e, Event::Listening { .. }));
    assert!(calls(&evs).iter().all(|c| c.state != CallState::Paused), "Run: no more pauses");
    let Some(Event::Listening { addr, .. }) = evs.last() else { unreachable!() };
    let _c = Raw::connect(*addr);
    until(engine.events(), |e| matches!(e, Event::Connected { .. }));
    engine.stop();
}

#[test]
fn a_stop_releases_a_paused_call() {
    let cfg = ClientConfig { addr: "127.0.0.1:9".into(), trace: TraceMode::Step, ..ClientConfig::default() };
    let engine = Engine::client(cfg, None);
    let first = until(engine.events(), |e| matches!(e, Event::Call { .. }));
    assert_eq!(calls(&first)[0].state, CallState::Paused);
    engine.request_stop();
    let rest = wait_closed(engine.events());
    assert!(calls(&rest).iter().all(|c| c.name != "connect"), "the held connect is never made");
    assert!(!rest.iter().any(|e| matches!(e, Event::Error { .. })), "a stop is not an error: {rest:#?}");
}

#[cfg(target_os = "linux")]
#[test]
fn tcp_state_shows_established_then_close_wait_for_a_half_closed_client() {
    let (engine, addr) = server(Mode::Duplex);
    let c = Raw::connect(addr);
    until(engine.events(), |e| matches!(e, Event::Connected { .. }));
    engine.send(Command::ProbeTcp);
    let evs = until(engine.events(), |e| matches!(e, Event::Tcp { .. }));
    let Some(Event::Tcp { conns, .. }) = evs.last() else { unreachable!() };
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].state, Some("ESTABLISHED"));
    assert!(conns[0].rtt_us.is_some());
    // Half-closed: the server has read end of file but keeps the connection (duplex) to answer.
    c.stream.shutdown(Shutdown::Write).expect("shutdown");
    until(engine.events(), |e| matches!(e, Event::PeerUpdated { peer, .. } if peer.done_sending));
    engine.send(Command::ProbeTcp);
    let evs = until(engine.events(), |e| matches!(e, Event::Tcp { .. }));
    let Some(Event::Tcp { conns, .. }) = evs.last() else { unreachable!() };
    assert_eq!(conns[0].state, Some("CLOSE_WAIT"));
    engine.stop();
}

#[test]
fn the_terminal_prints_calls_marked_apart_from_messages_and_as_json() {
    let bin = env!("CARGO_BIN_EXE_sockchat");
    for json in [false, true] {
        let mut args = vec!["server", "127.0.0.1:0", "--headless", "--trace"];
        if json {
            args.push("--json");
        }
        let mut child = Process::new(bin)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let (tx, rx) = crossbeam_channel::unbounded();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let next = || rx.recv_timeout(WAIT).expect("output in time");
        let mut seen = Vec::new();
        let addr: SocketAddr = loop {
            let l = next();
            seen.push(l.clone());
            let addr = if json {
                let v: Value = serde_json::from_str(&l).expect("JSON");
                (v["event"] == "listening").then(|| v["addr"].as_str().expect("addr").parse().expect("addr"))
            } else {
                l.split("listening on ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .map(|a| a.parse().expect("addr"))
            };
            if let Some(a) = addr {
                break a;
            }
        };
        let mut c = Raw::connect(addr);
        c.send(b"# not a call\n");
        let mut message = None;
        while message.is_none() {
            let l = next();
            message = if json {
                let v: Value = serde_json::from_str(&l).expect("JSON");
                (v["event"] == "message").then_some(l.clone())
            } else {
                l.contains("not a call").then_some(l.clone())
            };
            seen.push(l);
        }
        let _ = child.kill();
        let _ = child.wait();
        if json {
            let calls: Vec<Value> = seen
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["event"] == "call")
                .collect();
            let bind = calls.iter().find(|v| v["call"] == "bind").expect("bind in JSON");
            assert_eq!(bind["result"], "0");
            assert!(bind["fd"].as_i64().is_some_and(|fd| fd > 2));
            assert!(bind["us"].as_u64().is_some() && bind["thread"].as_str().is_some());
            let recv =
                calls.iter().rfind(|v| v["call"] == "recv" && v.get("result").is_some()).expect("recv");
            assert_eq!(recv["result"], "13 bytes");
            assert_eq!(recv["peer"], c.local().to_string());
            assert!(calls.iter().any(|v| v["call"] == "accept" && v["waiting"] == true));
        } else {
            assert!(seen.iter().any(|l| l.contains(" # bind(fd ") && l.ends_with(") = 0")), "{seen:#?}");
            assert!(
                seen.iter()
                    .any(|l| l.contains(" # accept(fd ") && l.contains(&format!("from {}", c.local())))
            );
            assert!(seen.iter().any(|l| l.contains(" # recv(fd ") && l.ends_with("= 13 bytes")), "{seen:#?}");
            // A message that starts with '#' is still a message: it carries the sender, a call never does.
            let msg = message.expect("message");
            assert!(msg.contains(&format!("({}): # not a call", c.local())), "{msg}");
            assert!(
                !seen.iter().any(|l| l.contains("recv(") && l.contains("waiting")),
                "text skips recv's start"
            );
        }
    }
}

#[test]
fn a_client_turned_away_is_told_and_closed_on_the_listeners_lane() {
    let cfg = ServerConfig {
        addr: "127.0.0.1:0".into(),
        max_clients: 1,
        trace: TraceMode::On,
        ..ServerConfig::default()
    };
    let engine = Engine::server(cfg, None);
    let evs = until(engine.events(), |e| matches!(e, Event::Listening { .. }));
    let Some(Event::Listening { addr, .. }) = evs.last() else { unreachable!() };
    let _first = Raw::connect(*addr);
    until(engine.events(), |e| matches!(e, Event::Connected { .. }));
    let mut second = Raw::connect(*addr);
    let evs = until(engine.events(), |e| matches!(e, Event::Refused { .. }));
    let all = calls(&evs);
    let accepted = all.iter().rfind(|c| c.name == "accept" && !c.is_waiting()).expect("accept");
    let fd = fd_in(result(accepted));
    let after: Vec<&str> = all
        .iter()
        .filter(|c| c.fd == Some(fd) && c.lane == Lane::Listener && c.name != "accept")
        .map(|c| c.name)
        .collect();
    assert_eq!(after, ["send", "shutdown", "close"], "{:#?}", lines(&all));
    assert!(second.line().starts_with("sockchat: server full"));
    engine.stop();
}

#[test]
fn a_disconnect_shuts_the_socket_once_then_closes_it() {
    let (engine, addr, _) = traced_server(Mode::Duplex);
    let mut c = Raw::connect(addr);
    let evs = until(engine.events(), |e| matches!(e, Event::Connected { .. }));
    let Some(Event::Connected { peer, .. }) = evs.last() else { unreachable!() };
    engine.send(Command::Disconnect(peer.id));
    let evs = until(engine.events(), |e| matches!(e, Event::Disconnected { .. }));
    let fd = calls(&evs).iter().find(|c| c.name == "pthread_create").map(|c| c.lane);
    assert_eq!(fd, Some(Lane::Conn(peer.id)));
    let rest = until(engine.events(), |e| matches!(e, Event::Call { call, .. } if call.name == "close"));
    let all: Vec<Arc<Call>> = calls(&evs).into_iter().chain(calls(&rest)).collect();
    let ends: Vec<String> = all
        .iter()
        .filter(|c| c.lane == Lane::Conn(peer.id) && matches!(c.name, "shutdown" | "close"))
        .map(|c| c.describe())
        .collect();
    assert_eq!(ends.len(), 2, "one shutdown, one close: {ends:#?}");
    assert!(ends[0].starts_with("shutdown(") && ends[0].ends_with("= 0"), "{ends:#?}");
    assert!(c.closed());
    engine.stop();
}
