//! The engine over real loopback sockets: every mode, many clients, IPv6, abrupt ends, clean stops.

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use sockchat::engine::{ClientConfig, Command, Engine, Mode, ServerConfig};
use sockchat::model::{DisconnectReason, Event, Origin, Target};

fn connected_id(engine: &Engine, addr: SocketAddr) -> u64 {
    match wait_for(engine.events(), |e| matches!(e, Event::Connected { peer, .. } if peer.addr == addr)) {
        Event::Connected { peer, .. } => peer.id,
        _ => unreachable!(),
    }
}

#[test]
fn one_way_server_shows_each_line_with_sender_address() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    connected_id(&engine, c.local());
    c.send(b"hello server\r\nsecond\n");
    let m = messages(engine.events(), 2);
    assert_eq!(m[0].text, "hello server");
    assert_eq!(m[1].text, "second");
    assert!(m[0].seq < m[1].seq);
    let Origin::Remote { from, relayed: false } = &m[0].origin else {
        panic!("not remote: {:?}", m[0].origin)
    };
    assert_eq!(from.addr, c.local(), "message names the client's ip:port");
    engine.stop();
}

#[test]
fn host_name_comes_from_reverse_lookup_like_getnameinfo() {
    let expected = dns_lookup::lookup_addr(&"127.0.0.1".parse().unwrap()).ok();
    let (engine, addr) = server(Mode::OneWay);
    let c = Raw::connect(addr);
    let id = connected_id(&engine, c.local());
    match expected {
        Some(name) => {
            let ev =
                wait_for(engine.events(), |e| matches!(e, Event::PeerUpdated { peer, .. } if peer.id == id));
            let Event::PeerUpdated { peer, .. } = ev else { unreachable!() };
            assert_eq!(peer.host.as_deref(), Some(name.as_str()));
        }
        None => eprintln!("127.0.0.1 has no reverse name on this machine; the engine must not invent one"),
    }
    engine.stop();
}

#[test]
fn one_way_server_cannot_send_and_says_so() {
    let (engine, addr) = server(Mode::OneWay);
    let c = Raw::connect(addr);
    connected_id(&engine, c.local());
    engine.send(Command::Send { to: Target::All, text: "nope".into() });
    let ev = wait_for(engine.events(), |e| matches!(e, Event::Error { .. }));
    let Event::Error { text, fatal, .. } = ev else { unreachable!() };
    assert!(text.contains("one-way"), "{text}");
    assert!(!fatal);
    engine.stop();
}

#[test]
fn duplex_server_sends_to_all_or_to_one() {
    let (engine, addr) = server(Mode::Duplex);
    let mut a = Raw::connect(addr);
    let mut b = Raw::connect(addr);
    let ida = connected_id(&engine, a.local());
    connected_id(&engine, b.local());
    engine.send(Command::Send { to: Target::All, text: "to everyone".into() });
    assert_eq!(a.line(), "to everyone");
    assert_eq!(b.line(), "to everyone");
    engine.send(Command::Send { to: Target::One(ida), text: "just a".into() });
    engine.send(Command::Send { to: Target::All, text: "marker".into() });
    assert_eq!(a.line(), "[private] just a", "marked private on the wire (PROTOCOL.md)");
    assert_eq!(a.line(), "marker");
    assert_eq!(b.line(), "marker", "b must not get a's private line");
    // Our own messages are in the event stream too, naming their target.
    let ev = wait_for(engine.events(), |e| matches!(e, Event::Message(m) if m.text == "just a"));
    let Event::Message(m) = ev else { unreachable!() };
    assert_eq!(m.origin, Origin::Local { to: Some(Target::One(ida)) });
    engine.stop();
}

#[test]
fn sending_to_nobody_is_an_error_not_a_lost_message() {
    let (engine, _addr) = server(Mode::Duplex);
    engine.send(Command::Send { to: Target::All, text: "anyone?".into() });
    let ev = wait_for(engine.events(), |e| matches!(e, Event::Error { .. } | Event::Message(_)));
    assert!(matches!(&ev, Event::Error { text, .. } if text.contains("nobody is connected")), "{ev:?}");
    engine.stop();
}

#[test]
fn room_relays_with_original_sender_to_sockchat_and_plain_clients() {
    // Greeting, as the command line and the window do: ann sends her name only when greeted.
    let (server, addr) = server_with(ServerConfig {
        addr: "127.0.0.1:0".into(),
        mode: Mode::Room,
        greet: true,
        ..Default::default()
    });
    let ann = Engine::client(
        ClientConfig { addr: addr.to_string(), name: Some("ann".into()), ..ClientConfig::default() },
        None,
    );
    let bob = Engine::client(ClientConfig { addr: addr.to_string(), ..ClientConfig::default() }, None);
    wait_for(ann.events(), |e| matches!(e, Event::Connected { .. }));
    wait_for(bob.events(), |e| matches!(e, Event::Connected { .. }));
    let mut plain = Raw::connect(addr);
    assert!(sockchat::protocol::is_greeting(&plain.line()), "a plain client reads the greeting first");
    // Three connects, and ann's name announcement, before anyone talks.
    let (mut connects, mut named) = (0, false);
    wait_for(server.events(), |e| {
        match e {
            Event::Connected { .. } => connects += 1,
            Event::PeerUpdated { peer, .. } if peer.name.as_deref() == Some("ann") => named = true,
            _ => {}
        }
        connects == 3 && named
    });

    ann.send(Command::Send { to: Target::All, text: "hi room".into() });
    let m = &messages(bob.events(), 1)[0];
    let Origin::Remote { from, relayed } = &m.origin else { panic!("{m:?}") };
    assert!(relayed);
    assert_eq!(m.text, "hi room");
    assert_eq!(from.name.as_deref(), Some("ann"));
    let srv = &messages(server.events(), 1)[0];
    let Origin::Remote { from: ann_at_server, .. } = &srv.origin else { panic!() };
    assert_eq!(from.addr, ann_at_server.addr, "bob can tell ann's ip:port");

    let line = plain.line();
    assert!(line.starts_with(&format!("[from {} ", ann_at_server.addr)), "{line}");
    assert!(line.ends_with(" ann] hi room"), "{line}");

    // A plain client's line reaches the sockchat clients, and the sender does not get its own line back.
    plain.send(b"from nc\n");
    let m = &messages(ann.events(), 1)[0];
    assert_eq!(m.text, "from nc");
    let Origin::Remote { from, relayed: true } = &m.origin else { panic!() };
    assert_eq!(from.addr, plain.local());
    // The server's own text goes to all, unprefixed.
    server.send(Command::Send { to: Target::All, text: "server says".into() });
    assert_eq!(plain.line(), "server says");
    let m = &messages(ann.events(), 1)[0];
    assert!(matches!(&m.origin, Origin::Remote { relayed: false, .. }));
    assert_eq!(m.text, "server says");
    ann.stop();
    bob.stop();
    server.stop();
}

/// The room's `[from ADDR HOST NAME] ` label and the server's escapes make a relayed line longer than the
/// line the server accepted: a default client must still get it whole.
#[test]
fn a_line_of_exactly_the_limit_arrives_whole_at_a_sockchat_client_in_a_room() {
    use sockchat::codec::DEFAULT_MAX_LINE;
    let (server, addr) = server(Mode::Room);
    let client = Engine::client(ClientConfig { addr: addr.to_string(), ..ClientConfig::default() }, None);
    wait_for(client.events(), |e| matches!(e, Event::Connected { .. }));
    wait_for(server.events(), |e| matches!(e, Event::Connected { .. }));
    let mut sender = Raw::connect(addr);
    connected_id(&server, sender.local());
    sender.send(format!("/name {}\n", "n".repeat(32)).as_bytes());
    wait_for(server.events(), |e| matches!(e, Event::PeerUpdated { peer, .. } if peer.name.is_some()));
    let plain = "y".repeat(DEFAULT_MAX_LINE);
    // C1 controls: 2 bytes each on the wire, 8 (`<U+009B>`) once the server has made them safe.
    let escaped = "\u{9b}".repeat(DEFAULT_MAX_LINE / 2);
    for line in [&plain, &escaped] {
        assert_eq!(line.len(), DEFAULT_MAX_LINE);
        sender.send(format!("{line}\n").as_bytes());
        let at_server = &messages(server.events(), 1)[0];
        assert!(!at_server.truncated, "the server accepted it whole");
        let m = &messages(client.events(), 1)[0];
        assert!(!m.truncated, "cut on the way: {} of {} bytes", m.text.len(), at_server.text.len());
        assert_eq!(m.text, at_server.text);
        assert!(matches!(&m.origin, Origin::Remote { relayed: true, .. }));
    }
    client.stop();
    server.stop();
}

#[test]
fn fifty_concurrent_clients_each_message_once_in_order() {
    const CLIENTS: usize = 60;
    const LINES: usize = 200;
    let (engine, addr) = server_with(ServerConfig {
        addr: "127.0.0.1:0".into(),
        max_per_address: CLIENTS,
        ..ServerConfig::default()
    });
    let handles: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(addr);
                let mut payload = Vec::new();
                for j in 0..LINES {
                    payload.extend_from_slice(format!("c{i} {j}\n").as_bytes());
                }
                // Odd chunk sizes so lines straddle reads.
                for chunk in payload.chunks(37 + i) {
                    c.send(chunk);
                }
                c.local()
            })
        })
        .collect();
    let addrs: Vec<SocketAddr> = handles.into_iter().map(|h| h.join().expect("client thread")).collect();
    let mut per_client: HashMap<SocketAddr, Vec<String>> = HashMap::new();
    for m in messages(engine.events(), CLIENTS * LINES) {
        let Origin::Remote { from, .. } = &m.origin else { unreachable!() };
        per_client.entry(from.addr).or_default().push(m.text);
    }
    assert_eq!(per_client.len(), CLIENTS);
    for (i, a) in addrs.iter().enumerate() {
        let want: Vec<String> = (0..LINES).map(|j| format!("c{i} {j}")).collect();
        assert_eq!(per_client[a], want, "client {i}: every line once, in order");
    }
    engine.stop();
}

#[test]
fn ipv6_loopback_server_and_client() {
    let (server, addr) =
        server_with(ServerConfig { addr: "[::1]:0".into(), mode: Mode::Duplex, ..ServerConfig::default() });
    assert!(addr.is_ipv6());
    let client =
        Engine::client(ClientConfig { addr: format!("[::1]:{}", addr.port()), ..Default::default() }, None);
    wait_for(client.events(), |e| matches!(e, Event::Connected { peer, .. } if peer.addr == addr));
    client.send(Command::Send { to: Target::All, text: "over v6".into() });
    let m = &messages(server.events(), 1)[0];
    let Origin::Remote { from, .. } = &m.origin else { panic!() };
    assert!(from.addr.is_ipv6());
    assert!(from.addr.to_string().starts_with("[::1]:"));
    server.send(Command::Send { to: Target::All, text: "back".into() });
    assert_eq!(messages(client.events(), 1)[0].text, "back");
    client.stop();
    server.stop();
}

#[test]
fn every_interface_takes_ipv4_and_ipv6_and_shows_plain_ipv4() {
    let (server, addr) = server_with(ServerConfig { addr: "0".into(), ..ServerConfig::default() });
    let mut v4 = Raw::connect(SocketAddr::new("127.0.0.1".parse().unwrap(), addr.port()));
    v4.send(b"v4\n");
    let m = &messages(server.events(), 1)[0];
    let Origin::Remote { from, .. } = &m.origin else { panic!() };
    assert_eq!(from.addr, v4.local(), "no ::ffff: prefix on IPv4 peers");
    if addr.is_ipv6() {
        let mut v6 = Raw::connect(SocketAddr::new("::1".parse().unwrap(), addr.port()));
        v6.send(b"v6\n");
        assert_eq!(messages(server.events(), 1)[0].text, "v6");
    }
    server.stop();
}

#[test]
fn last_line_without_newline_arrives_before_disconnect() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"first\nlast words");
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let m = messages(engine.events(), 2);
    assert_eq!(m[1].text, "last words");
    let ev = wait_for(engine.events(), |e| matches!(e, Event::Disconnected { .. }));
    assert!(matches!(ev, Event::Disconnected { reason: DisconnectReason::Closed, .. }), "{ev:?}");
    engine.stop();
}

#[test]
fn reset_connection_is_reported_as_lost() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"before\n");
    assert_eq!(messages(engine.events(), 1)[0].text, "before");
    // SO_LINGER 0 makes close send RST: the peer vanished mid-conversation.
    socket2::SockRef::from(&c.stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(c);
    let ev = wait_for(engine.events(), |e| matches!(e, Event::Disconnected { .. }));
    let Event::Disconnected { reason, .. } = ev else { unreachable!() };
    assert_eq!(reason, DisconnectReason::Error("connection reset by peer".into()));
    engine.stop();
}

#[test]
fn disconnect_command_closes_one_client() {
    let (engine, addr) = server(Mode::Duplex);
    let mut a = Raw::connect(addr);
    let mut b = Raw::connect(addr);
    let ida = connected_id(&engine, a.local());
    connected_id(&engine, b.local());
    engine.send(Command::Disconnect(ida));
    assert!(a.closed());
    let ev = wait_for(engine.events(), |e| matches!(e, Event::Disconnected { .. }));
    assert!(
        matches!(ev, Event::Disconnected { reason: DisconnectReason::ByUs, ref peer, .. } if peer.id == ida)
    );
    engine.send(Command::Send { to: Target::All, text: "still here".into() });
    assert_eq!(b.line(), "still here");
    engine.stop();
}

#[test]
fn stop_closes_clients_joins_threads_and_frees_the_port() {
    let (engine, addr) = server(Mode::Duplex);
    let mut clients: Vec<Raw> = (0..3).map(|_| Raw::connect(addr)).collect();
    for _ in 0..3 {
        wait_for(engine.events(), |e| matches!(e, Event::Connected { .. }));
    }
    let events = engine.events().clone();
    engine.stop();
    for c in &mut clients {
        assert!(c.closed(), "client was closed by stop");
    }
    let rest = wait_closed(&events);
    let gone = rest
        .iter()
        .filter(|e| matches!(e, Event::Disconnected { reason: DisconnectReason::ByUs, .. }))
        .count();
    assert_eq!(gone, 3, "each client's end is reported: {rest:?}");
    // The listening socket is gone: the same port binds again at once.
    TcpListener::bind(addr).expect("port is free after stop");
}

#[test]
fn clients_are_told_the_server_is_stopping_and_a_sockchat_client_says_so() {
    let (engine, addr) = server(Mode::Duplex);
    let mut raw = Raw::connect(addr);
    wait_for(engine.events(), |e| matches!(e, Event::Connected { .. }));
    let client = Engine::client(ClientConfig { addr: addr.to_string(), ..ClientConfig::default() }, None);
    wait_for(client.events(), |e| matches!(e, Event::Connected { .. }));
    wait_for(engine.events(), |e| matches!(e, Event::Connected { .. }));
    engine.stop();
    assert_eq!(raw.line(), "sockchat: the server is stopping", "a plain client reads it as a line");
    assert!(raw.closed());
    let rest = wait_closed(client.events());
    let reasons: Vec<&DisconnectReason> = rest
        .iter()
        .filter_map(|e| match e {
            Event::Disconnected { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [&DisconnectReason::ServerStopped], "{rest:#?}");
    assert_eq!(reasons[0].describe(), "the server was stopped");
    assert!(!rest.iter().any(|e| matches!(e, Event::Message(_))), "the notice is not shown as a message");
}

#[test]
fn restart_on_the_same_port_works_at_once() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"x\n");
    messages(engine.events(), 1);
    engine.stop();
    // The old connection may sit in TIME_WAIT; SO_REUSEADDR lets the new server bind anyway.
    let (again, addr2) = server_with(ServerConfig { addr: addr.to_string(), ..ServerConfig::default() });
    assert_eq!(addr, addr2);
    let mut c2 = Raw::connect(addr2);
    c2.send(b"y\n");
    assert_eq!(messages(again.events(), 1)[0].text, "y");
    again.stop();
}

#[test]
fn port_in_use_is_a_fatal_error_in_words() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let engine =
        Engine::server(ServerConfig { addr: format!("127.0.0.1:{port}"), ..Default::default() }, None);
    let all = wait_closed(engine.events());
    assert!(
        matches!(&all[..], [Event::Error { fatal: true, text, .. }] if text.starts_with("port already in use")),
        "{all:?}"
    );
}

#[test]
fn client_talks_to_a_plain_server_and_sees_it_go() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Engine::client(
        ClientConfig {
            addr: format!("localhost:{}", addr.port()),
            name: Some("bob smith".into()),
            ..Default::default()
        },
        None,
    );
    let (server_side, _) = listener.accept().unwrap();
    server_side.set_read_timeout(Some(WAIT)).unwrap();
    let mut srv = Raw::from_stream(server_side);
    let ev = wait_for(client.events(), |e| matches!(e, Event::Connected { .. }));
    let Event::Connected { peer, .. } = ev else { unreachable!() };
    assert_eq!(peer.host.as_deref(), Some("localhost"), "the name the user typed");
    // It greets as a sockchat server does, so the name (cleaned) is sent.
    srv.send(format!("{}\n", sockchat::protocol::greeting("duplex")).as_bytes());
    assert_eq!(srv.line(), "/name bob_smith");
    client.send(Command::Send { to: Target::All, text: "hi\nthere".into() });
    assert_eq!(srv.line(), "hi there", "a line end inside a message cannot split it");
    srv.send(b"welcome\n");
    assert_eq!(messages(client.events(), 1)[0].text, "welcome");
    drop(srv);
    let rest = wait_closed(client.events());
    assert!(
        rest.iter().any(|e| matches!(e, Event::Disconnected { reason: DisconnectReason::Closed, .. })),
        "{rest:?}"
    );
}

#[test]
fn refused_and_unknown_host_are_fatal_errors_in_words() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused =
        Engine::client(ClientConfig { addr: format!("127.0.0.1:{port}"), ..Default::default() }, None);
    let all = wait_closed(refused.events());
    assert!(
        matches!(&all[..], [Event::Error { fatal: true, text, .. }] if text.contains("connection refused")),
        "{all:?}"
    );
    let unknown =
        Engine::client(ClientConfig { addr: "no-such-host.invalid:7".into(), ..Default::default() }, None);
    let all = wait_closed(unknown.events());
    assert!(
        matches!(&all[..], [Event::Error { fatal: true, text, .. }] if text.starts_with("unknown host")),
        "{all:?}"
    );
    let bad = Engine::client(ClientConfig { addr: "7878".into(), ..Default::default() }, None);
    let all = wait_closed(bad.events());
    assert!(
        matches!(&all[..], [Event::Error { fatal: true, text, .. }] if text.contains("needs a host")),
        "{all:?}"
    );
}

#[test]
fn wake_hook_runs_for_every_event() {
    let wakes = Arc::new(AtomicUsize::new(0));
    let w = wakes.clone();
    let engine = Engine::server(
        ServerConfig { addr: "127.0.0.1:0".into(), ..Default::default() },
        Some(Arc::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        })),
    );
    let Event::Listening { addr, .. } = wait_for(engine.events(), |_| true) else { panic!("not listening") };
    let mut c = Raw::connect(addr);
    c.send(b"ping\n");
    messages(engine.events(), 1);
    let events = engine.events().clone();
    engine.stop();
    let rest = wait_closed(&events).len();
    // Listening, Connected, Message (+ host update) and the rest: one wake per delivery (an event, or
    // the lines of one read).
    assert!(wakes.load(Ordering::SeqCst) >= 3 + rest, "wakes {}", wakes.load(Ordering::SeqCst));
}

#[test]
fn a_known_host_name_is_on_the_next_connection_from_the_start() {
    let Ok(name) = dns_lookup::lookup_addr(&"127.0.0.1".parse().unwrap()) else {
        eprintln!("127.0.0.1 has no reverse name on this machine; nothing to cache");
        return;
    };
    let (engine, addr) = server(Mode::OneWay);
    let first = Raw::connect(addr);
    let id = connected_id(&engine, first.local());
    wait_for(engine.events(), |e| matches!(e, Event::PeerUpdated { peer, .. } if peer.id == id));
    let mut second = Raw::connect(addr);
    second.send(b"straight away\n");
    let ev = wait_for(
        engine.events(),
        |e| matches!(e, Event::Connected { peer, .. } if peer.addr == second.local()),
    );
    let Event::Connected { peer, .. } = ev else { unreachable!() };
    assert_eq!(peer.host.as_deref(), Some(name.as_str()), "no wait for a lookup already answered");
    let m = &messages(engine.events(), 1)[0];
    let Origin::Remote { from, .. } = &m.origin else { panic!() };
    assert_eq!(from.host.as_deref(), Some(name.as_str()));
    engine.stop();
}

#[test]
fn lines_of_one_read_keep_their_order_and_names_around_a_rename() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"one\ntwo\n/name zed\nthree\n\nfour\n");
    let mut seen = Vec::new();
    let mut seqs = Vec::new();
    let mut name = None;
    while seen.len() < 5 {
        match wait_for(engine.events(), |e| matches!(e, Event::Message(_) | Event::PeerUpdated { .. })) {
            Event::Message(m) => {
                let Origin::Remote { from, .. } = &m.origin else { panic!("not received: {m:?}") };
                seen.push(format!("{}/{}", m.text, from.name.as_deref().unwrap_or("-")));
                seqs.push(m.seq);
            }
            // Host-name answers are updates too; only a change of name counts here.
            Event::PeerUpdated { peer, .. } if peer.name != name => {
                name.clone_from(&peer.name);
                seen.push(format!("renamed {}", peer.name.as_deref().unwrap_or("")));
            }
            _ => {}
        }
    }
    assert_eq!(seen, ["one/-", "two/-", "renamed zed", "three/zed", "four/zed"]);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "numbered in order: {seqs:?}");
    engine.stop();
}

/// Relayed lines go straight into a socket while it has room and through the writer's queue once it is
/// full; a receiver that reads nothing until its sender is done must still get every line, in order.
#[test]
fn relay_keeps_order_when_a_full_socket_switches_to_the_queue() {
    const LINES: usize = 150_000;
    let cfg = ServerConfig {
        room_rate: None,
        room_byte_rate: None,
        send_queue_bytes: 64 << 20,
        ..ServerConfig { addr: "127.0.0.1:0".into(), mode: Mode::Room, ..ServerConfig::default() }
    };
    let (engine, addr) = server_with(cfg);
    let mut receiver = Raw::connect(addr);
    wait_for(
        engine.events(),
        |e| matches!(e, Event::Connected { peer, .. } if peer.addr == receiver.local()),
    );
    let mut sender = Raw::connect(addr);
    let pad = "x".repeat(80);
    let mut data = String::with_capacity(LINES * 100);
    for i in 0..LINES {
        data.push_str(&format!("{i:08} {pad}\n"));
    }
    // About 20 MB relayed: more than loopback socket buffers hold, so part of it must wait in the queue.
    // Sent from a thread of its own: the server reads only as fast as this test takes its events.
    let writer = std::thread::spawn(move || sender.send(data.as_bytes()));
    let last = format!("{:08} {pad}", LINES - 1);
    wait_for(engine.events(), |e| matches!(e, Event::Message(m) if m.text == last));
    writer.join().expect("sender");
    for i in 0..LINES {
        let l = receiver.line();
        let want = format!("{i:08} {pad}");
        assert!(l.ends_with(&want), "line {i}: {l}");
    }
    engine.stop();
}

#[test]
fn the_first_lines_from_a_new_address_carry_its_host_name() {
    let Ok(name) = dns_lookup::lookup_addr(&"127.0.0.1".parse().unwrap()) else {
        eprintln!("127.0.0.1 has no reverse name on this machine; nothing to wait for");
        return;
    };
    // A fresh server has asked nothing yet, so this lookup starts when the client connects.
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"first words\nsecond words\n");
    for m in messages(engine.events(), 2) {
        let Origin::Remote { from, .. } = &m.origin else { panic!("not received: {m:?}") };
        assert_eq!(from.host.as_deref(), Some(name.as_str()), "{}", m.text);
    }
    engine.stop();
}

#[test]
fn a_client_keeps_each_lines_sender_when_relayed_and_plain_lines_mix_in_one_read() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Engine::client(ClientConfig { addr: addr.to_string(), ..Default::default() }, None);
    let (server_side, _) = listener.accept().unwrap();
    let mut srv = Raw::from_stream(server_side);
    wait_for(client.events(), |e| matches!(e, Event::Connected { .. }));
    srv.send(
        b"hello\n[from 10.0.0.1:5 h1 ann] a\n[from 10.0.0.1:5 h1 ann] b\n[from 10.0.0.2:6 - bob] c\n\
          [from 10.0.0.1:5 h1 ann] d\nplain again\n",
    );
    let got: Vec<String> = messages(client.events(), 6)
        .iter()
        .map(|m| {
            let Origin::Remote { from, relayed } = &m.origin else { panic!("not received: {m:?}") };
            let who = if *relayed {
                format!("{} {}", from.addr, from.name.as_deref().unwrap_or("-"))
            } else {
                "server".to_string()
            };
            format!("{who}: {} #{}", m.text, m.seq)
        })
        .collect();
    let seq0: u64 = got[0].rsplit('#').next().unwrap().parse().unwrap();
    let want: Vec<String> = [
        "server: hello",
        "10.0.0.1:5 ann: a",
        "10.0.0.1:5 ann: b",
        "10.0.0.2:6 bob: c",
        "10.0.0.1:5 ann: d",
        "server: plain again",
    ]
    .iter()
    .enumerate()
    .map(|(i, w)| format!("{w} #{}", seq0 + i as u64))
    .collect();
    assert_eq!(got, want);
    drop(srv);
    wait_closed(client.events());
}

#[test]
fn a_client_we_disconnect_is_not_said_to_have_finished_sending() {
    let (engine, addr) = server(Mode::Duplex);
    let mut c = Raw::connect(addr);
    let id = connected_id(&engine, c.local());
    engine.send(Command::Disconnect(id));
    let rest = {
        let mut seen = Vec::new();
        loop {
            let ev = wait_for(engine.events(), |_| true);
            let done = matches!(ev, Event::Disconnected { .. });
            seen.push(ev);
            if done {
                break seen;
            }
        }
    };
    assert!(
        !rest.iter().any(|e| matches!(e, Event::PeerUpdated { peer, .. } if peer.done_sending)),
        "our own shutdown is not the client's half-close: {rest:#?}"
    );
    assert!(matches!(rest.last(), Some(Event::Disconnected { reason: DisconnectReason::ByUs, .. })));
    assert!(c.closed());
    engine.stop();
}
