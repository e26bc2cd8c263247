//! Load, faults and hostile input over real loopback sockets: the server keeps serving everyone else,
//! loses nothing it accepted, and says what happened.

mod common;

use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use common::*;
use sockchat::access::{AccessList, parse_list};
use sockchat::engine::{ClientConfig, Command, Engine, Mode, ServerConfig};
use sockchat::model::{DisconnectReason, Event, Origin, Target};

fn cfg(mode: Mode) -> ServerConfig {
    ServerConfig { addr: "127.0.0.1:0".into(), mode, ..ServerConfig::default() }
}

fn disconnect_reason(engine: &Engine, addr: SocketAddr) -> DisconnectReason {
    match wait_for(engine.events(), |e| matches!(e, Event::Disconnected { peer, .. } if peer.addr == addr)) {
        Event::Disconnected { reason, .. } => reason,
        _ => unreachable!(),
    }
}

fn texts(engine: &Engine, n: usize) -> Vec<(String, bool)> {
    messages(engine.events(), n).into_iter().map(|m| (m.text, m.truncated)).collect()
}

#[test]
fn line_far_over_the_limit_is_cut_and_the_next_line_is_whole() {
    let (engine, addr) = server_with(ServerConfig { max_line: 1024, ..cfg(Mode::OneWay) });
    let mut c = Raw::connect(addr);
    let big = vec![b'x'; 4 * 1024 * 1024];
    c.send(&big);
    c.send(b"\nafter\n");
    let got = texts(&engine, 2);
    assert_eq!(got[0], ("x".repeat(1024), true));
    assert_eq!(got[1], ("after".to_string(), false));
    engine.stop();
}

#[test]
fn stream_with_no_newline_at_all_is_one_cut_message_and_others_are_served() {
    let (engine, addr) = server_with(ServerConfig { max_line: 4096, ..cfg(Mode::OneWay) });
    let mut flood = Raw::connect(addr);
    let chunk = vec![b'y'; 64 * 1024];
    for _ in 0..64 {
        flood.send(&chunk);
    }
    let mut other = Raw::connect(addr);
    other.send(b"i am fine\n");
    flood.stream.shutdown(Shutdown::Write).unwrap();
    let got = messages(engine.events(), 2);
    let (cut, fine): (Vec<_>, Vec<_>) = got.iter().partition(|m| m.truncated);
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0].text.len(), 4096);
    assert_eq!(fine[0].text, "i am fine");
    engine.stop();
}

#[test]
fn invalid_utf8_nul_and_control_characters_are_made_harmless() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"bad \xff\xfe utf8\n");
    let mut cbuf = b"from C".to_vec();
    cbuf.resize(128, 0);
    c.send(&cbuf);
    c.send(b"\n\x1b]0;pwned\x07 \x1b[2J\x9b\x08\x7f end\n");
    let got = texts(&engine, 3);
    assert_eq!(got[0].0, "bad \u{fffd}\u{fffd} utf8");
    assert_eq!(got[1].0, "from C");
    assert_eq!(got[2].0, "^[]0;pwned^G ^[[2J\u{fffd}^H^? end");
    for (t, _) in &got {
        assert!(!t.chars().any(char::is_control), "{t:?}");
    }
    engine.stop();
}

#[test]
fn crlf_lone_cr_and_empty_lines() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"\r\n\n  \nwin\r\nold mac\runix\n\n");
    c.send(b"end\n");
    let got: Vec<String> = texts(&engine, 4).into_iter().map(|t| t.0).collect();
    assert_eq!(got, ["win", "old mac", "unix", "end"]);
    engine.stop();
}

#[test]
fn half_close_in_one_way_mode_delivers_everything_then_disconnects() {
    let (engine, addr) = server(Mode::OneWay);
    let mut c = Raw::connect(addr);
    c.send(b"one\ntwo\nthree without newline");
    c.stream.shutdown(Shutdown::Write).unwrap();
    let got: Vec<String> = texts(&engine, 3).into_iter().map(|t| t.0).collect();
    assert_eq!(got, ["one", "two", "three without newline"]);
    // Nothing will ever be sent to it, so its EOF is its end.
    assert_eq!(disconnect_reason(&engine, c.local()), DisconnectReason::Closed);
    assert!(c.closed());
    engine.stop();
}

/// `ncat HOST PORT < /dev/null`: a student who only listens.
#[test]
fn half_closed_client_keeps_receiving_in_duplex_until_it_closes() {
    let (engine, addr) = server(Mode::Duplex);
    let mut c = Raw::connect(addr);
    let me = c.local();
    c.send(b"one\nlast words");
    c.stream.shutdown(Shutdown::Write).unwrap();
    // The unfinished last line arrives at EOF, so by then the server has seen the half-close.
    let got: Vec<String> = texts(&engine, 2).into_iter().map(|t| t.0).collect();
    assert_eq!(got, ["one", "last words"]);
    // The server's user is told it finished sending, not that it left.
    wait_for(
        engine.events(),
        |e| matches!(e, Event::PeerUpdated { peer, .. } if peer.addr == me && peer.done_sending),
    );
    engine.send(Command::Send { to: Target::All, text: "still there?".into() });
    assert_eq!(c.line(), "still there?");
    engine.send(Command::Send { to: Target::One(1), text: "just you".into() });
    assert_eq!(c.line(), "[private] just you");
    let before: Vec<Event> = engine.events().try_iter().collect();
    assert!(!before.iter().any(|e| matches!(e, Event::Disconnected { .. })), "{before:?}");
    // Now it closes for good: nothing tells the server until it sends again, and the reset that
    // answers that send ends the client as closed.
    drop(c);
    engine.send(Command::Send { to: Target::All, text: "anyone?".into() });
    assert_eq!(disconnect_reason(&engine, me), DisconnectReason::Closed);
    engine.stop();
}

#[test]
fn half_closed_client_in_a_room_gets_relays_and_stop_ends_it_at_once() {
    let (engine, addr) = server(Mode::Room);
    let mut listener = Raw::connect(addr);
    listener.stream.shutdown(Shutdown::Write).unwrap();
    let mut talker = Raw::connect(addr);
    wait_for(engine.events(), |e| matches!(e, Event::Connected { peer, .. } if peer.addr == talker.local()));
    talker.send(b"hello listener\n");
    let l = listener.line();
    assert!(l.starts_with(&format!("[from {} ", talker.local())) && l.ends_with("] hello listener"), "{l}");
    // The half-closed client's reader must not hold the stop up (it waits on the socket, not a read).
    let t = std::time::Instant::now();
    engine.stop();
    assert!(t.elapsed() < Duration::from_secs(2), "stop took {:?}", t.elapsed());
    assert!(listener.closed());
}

#[test]
fn reset_mid_line_is_reported_and_other_clients_continue() {
    let (engine, addr) = server(Mode::Duplex);
    let mut stay = Raw::connect(addr);
    let mut c = Raw::connect(addr);
    c.send(b"whole\n");
    assert_eq!(texts(&engine, 1)[0].0, "whole");
    c.send(b"half a li");
    socket2::SockRef::from(&c.stream).set_linger(Some(Duration::ZERO)).unwrap();
    let gone = c.local();
    drop(c);
    let reason = disconnect_reason(&engine, gone);
    assert!(
        matches!(&reason, DisconnectReason::Error(e) if e.contains("reset"))
            || reason == DisconnectReason::Closed,
        "{reason:?}"
    );
    engine.send(Command::Send { to: Target::All, text: "still on".into() });
    assert_eq!(stay.line(), "still on");
    engine.stop();
}

#[test]
fn burst_of_connects_and_disconnects_leaves_the_server_serving() {
    const THREADS: usize = 4;
    const EACH: usize = 100;
    let (engine, addr) =
        server_with(ServerConfig { max_clients: 1000, max_per_address: 1000, ..cfg(Mode::OneWay) });
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let mut c = Raw::connect(addr);
                    match i % 3 {
                        0 => c.send(format!("burst {t} {i}\n").as_bytes()),
                        1 => socket2::SockRef::from(&c.stream).set_linger(Some(Duration::ZERO)).unwrap(),
                        _ => {}
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let total = THREADS * EACH;
    let (mut connects, mut disconnects, mut msgs) = (0, 0, 0);
    wait_for(engine.events(), |e| {
        match e {
            Event::Connected { .. } => connects += 1,
            Event::Disconnected { .. } => disconnects += 1,
            Event::Message(_) => msgs += 1,
            _ => {}
        }
        connects == total && disconnects == total
    });
    // Lines sent before an orderly close are never lost; a reset may drop unread data, so those send none.
    let sent = THREADS * EACH.div_ceil(3);
    assert!(msgs <= sent);
    let mut late = Raw::connect(addr);
    late.send(b"after the storm\n");
    let mut rest = Vec::new();
    let m = wait_for(engine.events(), |e| {
        rest.push(e.clone());
        matches!(e, Event::Message(m) if m.text == "after the storm")
    });
    msgs += rest.iter().filter(|e| matches!(e, Event::Message(_))).count();
    assert!(matches!(m, Event::Message(_)));
    assert_eq!(msgs, sent + 1, "every line sent before a clean close arrived");
    engine.stop();
}

#[test]
fn a_peer_that_never_reads_is_dropped_and_others_keep_up() {
    let (engine, addr) = server_with(ServerConfig {
        send_queue_bytes: 2 * 1024 * 1024,
        send_timeout: Duration::from_secs(30),
        ..cfg(Mode::Duplex)
    });
    let stuck = Raw::connect(addr);
    let mut reader = Raw::connect(addr);
    let stuck_addr = stuck.local();
    wait_for(engine.events(), |e| matches!(e, Event::Connected { peer, .. } if peer.addr == reader.local()));
    const LINES: usize = 400;
    let line = "z".repeat(60 * 1024);
    let (got_tx, got) = crossbeam_channel::unbounded();
    let recv = std::thread::spawn(move || {
        (0..LINES)
            .map(|_| {
                let n = reader.line().len();
                let _ = got_tx.send(());
                n
            })
            .sum::<usize>()
    });
    // Stay at most 8 lines (480 KiB) ahead of the reading client, well inside its 2 MiB queue, however
    // slowly a busy machine schedules it; the stuck client falls behind without bound and hits the limit.
    for i in 0..LINES {
        if i >= 8 {
            got.recv_timeout(WAIT).expect("the reading client keeps receiving");
        }
        engine.send(Command::Send { to: Target::All, text: line.clone() });
    }
    let reason = disconnect_reason(&engine, stuck_addr);
    assert!(matches!(&reason, DisconnectReason::Policy(p) if p.starts_with("not reading")), "{reason:?}");
    assert_eq!(recv.join().unwrap(), LINES * line.len(), "the reading client got every line");
    drop(stuck);
    engine.stop();
}

#[test]
fn a_peer_that_accepts_nothing_is_dropped_after_the_send_timeout() {
    let (engine, addr) = server_with(ServerConfig {
        send_queue_bytes: 1 << 30,
        send_timeout: Duration::from_millis(500),
        ..cfg(Mode::Duplex)
    });
    let stuck = Raw::connect(addr);
    wait_for(engine.events(), |e| matches!(e, Event::Connected { .. }));
    let line = "w".repeat(60 * 1024);
    // Far more than loopback socket buffers hold, so the writer blocks and times out.
    for _ in 0..400 {
        engine.send(Command::Send { to: Target::All, text: line.clone() });
    }
    let reason = disconnect_reason(&engine, stuck.local());
    assert!(matches!(&reason, DisconnectReason::Policy(p) if p.contains("nothing accepted")), "{reason:?}");
    engine.stop();
}

#[test]
fn over_the_client_limit_gets_a_server_full_line() {
    let (engine, addr) = server_with(ServerConfig { max_clients: 2, ..cfg(Mode::OneWay) });
    let a = Raw::connect(addr);
    let b = Raw::connect(addr);
    for _ in 0..2 {
        wait_for(engine.events(), |e| matches!(e, Event::Connected { .. }));
    }
    let mut third = Raw::connect(addr);
    turned_away(
        &engine,
        &mut third,
        "sockchat: server full (2 clients), try again later",
        "server full (2 clients)",
    );
    // A place frees up when one leaves.
    drop(a);
    wait_for(engine.events(), |e| matches!(e, Event::Disconnected { .. }));
    let mut fourth = Raw::connect(addr);
    fourth.send(b"in\n");
    assert_eq!(texts(&engine, 1)[0].0, "in");
    drop(b);
    engine.stop();
}

/// `peer` was told `line`, closed, and shown to the server's user as refused for `reason`.
fn turned_away(engine: &sockchat::engine::Engine, peer: &mut Raw, line: &str, reason: &str) {
    assert_eq!(peer.line(), line);
    assert!(peer.closed());
    let ev = wait_for(engine.events(), |e| matches!(e, Event::Refused { .. }));
    assert!(
        matches!(ev, Event::Refused { addr, reason: ref r, .. } if addr == peer.local() && r == reason),
        "{ev:?}"
    );
}

#[test]
fn one_address_cannot_take_every_place() {
    let (engine, addr) = server_with(ServerConfig { max_per_address: 3, ..cfg(Mode::OneWay) });
    let mut three: Vec<Raw> = (0..3).map(|_| Raw::connect(addr)).collect();
    for _ in 0..3 {
        wait_for(engine.events(), |e| matches!(e, Event::Connected { .. }));
    }
    let mut fourth = Raw::connect(addr);
    turned_away(
        &engine,
        &mut fourth,
        "sockchat: too many connections from your address (3), close one and try again",
        "too many connections from this address (3)",
    );
    // Another machine still gets in: 127.0.0.2 is loopback too on Linux (macOS has only 127.0.0.1).
    let other = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if other.bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into()).is_ok() {
        other.connect(&addr.into()).unwrap();
        let mut other = Raw::from_stream(other.into());
        other.send(b"from another address\n");
        assert_eq!(texts(&engine, 1)[0].0, "from another address");
    }
    // A place from that address frees up when one of its connections leaves.
    let gone = three.pop().unwrap();
    let gone_addr = gone.local();
    drop(gone);
    disconnect_reason(&engine, gone_addr);
    let mut again = Raw::connect(addr);
    again.send(b"back in\n");
    assert_eq!(texts(&engine, 1)[0].0, "back in");
    drop(three);
    engine.stop();
}

#[test]
fn idle_timeout_counts_lines_not_a_trickle_of_bytes() {
    let idle = Duration::from_secs(1);
    let (engine, addr) = server_with(ServerConfig { idle_timeout: Some(idle), ..cfg(Mode::OneWay) });
    let start = std::time::Instant::now();
    let trickler = Raw::connect(addr);
    let talker = Raw::connect(addr);
    let (t_addr, k_addr) = (trickler.local(), talker.local());
    // One byte, or one whole line, every 300 ms: only the line counts as saying something. Each stops
    // when its connection is closed, or after 3.6 s, and hands its connection back still open.
    let pace = |mut c: Raw, bytes: &'static [u8]| {
        std::thread::spawn(move || {
            for _ in 0..12 {
                if std::io::Write::write_all(&mut c.stream, bytes).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            c
        })
    };
    let trickle = pace(trickler, b"x");
    let talk = pace(talker, b"tick\n");
    let mut talker_gone = false;
    let ev = wait_for(engine.events(), |e| {
        talker_gone |= matches!(e, Event::Disconnected { peer, .. } if peer.addr == k_addr);
        matches!(e, Event::Disconnected { peer, .. } if peer.addr == t_addr)
    });
    let took = start.elapsed();
    let Event::Disconnected { reason, .. } = ev else { unreachable!() };
    assert_eq!(reason, DisconnectReason::Policy("idle: no line received for 1 s".into()));
    assert!(took < Duration::from_secs(3), "closed after {took:?}, with a byte every 300 ms");
    assert!(!talker_gone, "a client sending a line every 300 ms is not idle");
    drop(trickle.join().unwrap());
    // The talker stops after 3.6 s, and is idle a second later.
    let talker = talk.join().unwrap();
    let reason = disconnect_reason(&engine, k_addr);
    assert!(matches!(&reason, DisconnectReason::Policy(p) if p.starts_with("idle")), "{reason:?}");
    drop(talker);
    engine.stop();
}

#[test]
fn idle_clients_are_closed_with_a_reason() {
    let (engine, addr) =
        server_with(ServerConfig { idle_timeout: Some(Duration::from_millis(300)), ..cfg(Mode::OneWay) });
    let mut c = Raw::connect(addr);
    let reason = disconnect_reason(&engine, c.local());
    assert!(matches!(&reason, DisconnectReason::Policy(p) if p.starts_with("idle")), "{reason:?}");
    assert!(c.closed());
    engine.stop();
}

#[test]
fn room_rate_limit_stops_one_client_drowning_the_room_without_losing_lines() {
    let (engine, addr) = server_with(ServerConfig { room_rate: Some(5), ..cfg(Mode::Room) });
    let mut loud = Raw::connect(addr);
    let mut other = Raw::connect(addr);
    wait_for(engine.events(), |e| matches!(e, Event::Connected { peer, .. } if peer.addr == other.local()));
    let mut burst = String::new();
    for i in 0..50 {
        burst.push_str(&format!("spam {i}\n"));
    }
    loud.send(burst.as_bytes());
    // The server shows all 50: it accepted them.
    assert_eq!(texts(&engine, 50).len(), 50);
    assert!(loud.line().starts_with("sockchat: slow down: over 5 lines/s"));
    // The room got the burst allowance, not the flood: a marker from the server follows at most a few lines.
    engine.send(Command::Send { to: Target::All, text: "marker".into() });
    let mut relayed = 0;
    loop {
        let l = other.line();
        if l == "marker" {
            break;
        }
        assert!(l.ends_with(&format!("] spam {relayed}")), "{l}");
        relayed += 1;
    }
    assert!((5..50).contains(&relayed), "relayed {relayed}");
    engine.stop();
}

#[test]
fn room_byte_rate_stops_long_lines_drowning_the_room() {
    let (engine, addr) = server_with(ServerConfig {
        room_rate: Some(1000),
        room_byte_rate: Some(16 * 1024),
        ..cfg(Mode::Room)
    });
    let mut loud = Raw::connect(addr);
    let mut other = Raw::connect(addr);
    wait_for(engine.events(), |e| matches!(e, Event::Connected { peer, .. } if peer.addr == other.local()));
    let body = "x".repeat(8000);
    let mut burst = String::new();
    for i in 0..20 {
        burst.push_str(&format!("big {i} {body}\n"));
    }
    // 160 KB at once: 20 lines is far under 1,000 lines/s, and ten times the bytes a second allowed.
    loud.send(burst.as_bytes());
    assert_eq!(texts(&engine, 20).len(), 20, "the server shows every line it accepted");
    assert_eq!(loud.line(), "sockchat: slow down: over 16384 bytes/s, your lines are not being relayed");
    engine.send(Command::Send { to: Target::All, text: "marker".into() });
    let mut relayed = 0;
    loop {
        let l = other.line();
        if l == "marker" {
            break;
        }
        assert!(l.ends_with(&format!("] big {relayed} {body}")), "{}", &l[..l.len().min(80)]);
        relayed += 1;
    }
    // A second's allowance, plus the line that went into debt, plus what refilled meanwhile (about 3).
    assert!((2..=10).contains(&relayed), "relayed {relayed} of 20");
    engine.stop();
}

#[test]
fn deny_and_allow_lists_refuse_at_once_and_log_the_address() {
    let acl = AccessList { allow: vec![], deny: parse_list("127.0.0.0/8").unwrap() };
    let (engine, addr) = server_with(ServerConfig { access: acl, ..cfg(Mode::OneWay) });
    let mut c = Raw::connect(addr);
    assert!(c.closed());
    let ev = wait_for(engine.events(), |e| matches!(e, Event::Refused { .. }));
    assert!(
        matches!(ev, Event::Refused { addr, ref reason, .. } if addr == c.local() && reason.contains("deny"))
    );
    engine.stop();

    let only_v6 = AccessList { allow: parse_list("::1").unwrap(), deny: vec![] };
    let (engine, addr) = server_with(ServerConfig { addr: "0".into(), access: only_v6, ..cfg(Mode::OneWay) });
    if addr.is_ipv6() {
        let mut v4 = Raw::connect(SocketAddr::new("127.0.0.1".parse().unwrap(), addr.port()));
        assert!(v4.closed());
        let ev = wait_for(engine.events(), |e| matches!(e, Event::Refused { .. }));
        assert!(matches!(ev, Event::Refused { ref reason, .. } if reason.contains("allow")));
        let mut v6 = Raw::connect(SocketAddr::new("::1".parse().unwrap(), addr.port()));
        v6.send(b"v6 allowed\n");
        assert_eq!(texts(&engine, 1)[0].0, "v6 allowed");
    }
    engine.stop();
}

#[test]
fn a_v4_mapped_deny_rule_refuses_ipv4_clients_on_dual_stack_and_ipv4_listeners() {
    for listen in ["[::]:0", "127.0.0.1:0"] {
        for rule in ["::ffff:127.0.0.1", "::ffff:0:0/96"] {
            let acl = AccessList { allow: vec![], deny: parse_list(rule).unwrap() };
            let (engine, addr) = match listen {
                "[::]:0" => {
                    let engine = Engine::server(
                        ServerConfig { addr: listen.into(), access: acl, ..cfg(Mode::OneWay) },
                        None,
                    );
                    match wait_for(engine.events(), |e| {
                        matches!(e, Event::Listening { .. } | Event::Error { .. })
                    }) {
                        Event::Listening { addr, .. } => (engine, addr),
                        other => {
                            eprintln!("no IPv6 here ({other:?}): the dual-stack case is skipped");
                            continue;
                        }
                    }
                }
                _ => server_with(ServerConfig { addr: listen.into(), access: acl, ..cfg(Mode::OneWay) }),
            };
            let mut c = Raw::connect(SocketAddr::new("127.0.0.1".parse().unwrap(), addr.port()));
            assert!(c.closed(), "{listen}, deny {rule}: the client was let in");
            let ev = wait_for(engine.events(), |e| matches!(e, Event::Refused { .. } | Event::Message(_)));
            assert!(
                matches!(&ev, Event::Refused { addr, reason, .. } if *addr == c.local() && reason.contains("deny")),
                "{listen}, deny {rule}: {ev:?}"
            );
            engine.stop();
        }
    }
}

#[test]
fn client_reconnects_after_the_server_restarts() {
    let (server1, addr) = server(Mode::Duplex);
    let ccfg = ClientConfig { addr: addr.to_string(), ..ClientConfig::default() };
    let client = Engine::client(ccfg.clone(), None);
    wait_for(client.events(), |e| matches!(e, Event::Connected { .. }));
    server1.stop();
    let rest = wait_closed(client.events());
    assert!(rest.iter().any(|e| matches!(e, Event::Disconnected { .. })), "{rest:?}");
    let (server2, addr2) = server_with(ServerConfig { addr: addr.to_string(), ..cfg(Mode::Duplex) });
    assert_eq!(addr, addr2);
    let again = Engine::client(ccfg, None);
    wait_for(again.events(), |e| matches!(e, Event::Connected { .. }));
    again.send(Command::Send { to: Target::All, text: "back".into() });
    let m = &messages(server2.events(), 1)[0];
    assert!(matches!(&m.origin, Origin::Remote { .. }) && m.text == "back");
    again.stop();
    server2.stop();
}
