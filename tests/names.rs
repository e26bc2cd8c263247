//! Names people can trust, over real loopback sockets: one name per connected client, no lookalikes, no
//! half escapes, and relayed senders a client can tell apart.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::*;
use sockchat::engine::{ClientConfig, Engine, Mode, ServerConfig};
use sockchat::model::{Event, Origin, Peer};

/// Sends `/name WANTED` and returns what the server made of it: `Ok(peer)` when renamed, `Err(text)` when
/// the server's user was told the name was refused.
fn ask_name(engine: &Engine, c: &mut Raw, wanted: &str) -> Result<Peer, String> {
    c.send(format!("/name {wanted}\n").as_bytes());
    let me = c.local();
    let ev = wait_for(engine.events(), |e| match e {
        // A reverse lookup's answer is a `PeerUpdated` too, but never names an unnamed client.
        Event::PeerUpdated { peer, .. } => peer.addr == me && peer.name.is_some(),
        Event::Error { peer: Some(peer), .. } => peer.addr == me,
        _ => false,
    });
    match ev {
        Event::PeerUpdated { peer, .. } => Ok((*peer).clone()),
        Event::Error { text, .. } => Err(text),
        _ => unreachable!(),
    }
}

fn connect(engine: &Engine, addr: SocketAddr) -> Raw {
    let c = Raw::connect(addr);
    let me = c.local();
    wait_for(engine.events(), |e| matches!(e, Event::Connected { peer, .. } if peer.addr == me));
    c
}

#[test]
fn a_second_bob_is_refused_and_told_why_then_gets_the_name_once_bob_leaves() {
    // One-way: there a client that closes is gone at once (duplex and room keep a half-closed one).
    let (engine, addr) = server(Mode::OneWay);
    let mut bob = connect(&engine, addr);
    assert_eq!(ask_name(&engine, &mut bob, "bob").map(|p| p.name), Ok(Some("bob".into())));
    let mut other = connect(&engine, addr);
    let why = ask_name(&engine, &mut other, "bob").expect_err("a connected client's name is refused");
    assert!(why.contains("'bob'"), "{why}");
    let note = other.line();
    assert!(note.starts_with("sockchat: name 'bob' refused"), "the client is told: {note}");

    // Released on disconnect: once bob has gone, the name is free again.
    let bob_at = bob.local();
    drop(bob);
    wait_for(engine.events(), |e| matches!(e, Event::Disconnected { peer, .. } if peer.addr == bob_at));
    let p = ask_name(&engine, &mut other, "bob").expect("bob left, so the name is free");
    assert_eq!(p.name.as_deref(), Some("bob"));
    engine.stop();
}

#[test]
fn lookalikes_of_a_connected_name_are_refused() {
    let (engine, addr) = server(Mode::Room);
    let mut bob = connect(&engine, addr);
    ask_name(&engine, &mut bob, "bob").expect("bob is free");
    let mut mallory = connect(&engine, addr);
    for lookalike in [
        "b\u{200b}ob", // zero-width space
        "\u{200f}bob", // right-to-left mark
        "b\u{43e}b",   // Cyrillic o
        "bob\u{2800}", // blank braille pattern
        "\u{2800}\u{2800}bob",
        "\u{feff}b\u{ad}ob",
    ] {
        let got = ask_name(&engine, &mut mallory, lookalike);
        assert!(got.is_err(), "{lookalike:?} passed as {got:?}");
        let note = mallory.line();
        assert!(note.starts_with("sockchat: name '"), "{lookalike:?}: {note}");
        assert!(note.contains("refused"), "{lookalike:?}: {note}");
    }
    // A name of its own is fine.
    assert_eq!(ask_name(&engine, &mut mallory, "mallory").map(|p| p.name), Ok(Some("mallory".into())));
    engine.stop();
}

#[test]
fn a_long_name_is_never_cut_inside_an_escape_and_the_client_is_told_its_name() {
    let (engine, addr) = server(Mode::Duplex);
    let mut c = connect(&engine, addr);
    let x31 = "x".repeat(31);
    let p = ask_name(&engine, &mut c, &format!("{x31}\u{202e}abcdef")).expect("a free name");
    assert_eq!(p.name, Some(format!("{x31}a")), "the override is dropped and the cut comes after");
    let note = c.line();
    assert_eq!(
        note,
        format!(
            "sockchat: your name is '{x31}a': names keep at most 32 characters, without spaces, brackets or \
             invisible characters"
        )
    );
    engine.stop();
}

#[test]
fn relayed_senders_get_distinct_stable_ids_on_a_client() {
    let (server, addr) = server(Mode::Room);
    let client = Engine::client(ClientConfig { addr: addr.to_string(), ..ClientConfig::default() }, None);
    let server_id = match wait_for(client.events(), |e| matches!(e, Event::Connected { .. })) {
        Event::Connected { peer, .. } => peer.id,
        _ => unreachable!(),
    };
    wait_for(server.events(), |e| matches!(e, Event::Connected { .. }));
    let mut a = connect(&server, addr);
    let mut b = connect(&server, addr);
    let mut ids: HashMap<SocketAddr, Vec<u64>> = HashMap::new();
    for (i, text) in ["a1", "b1", "a2", "b2"].into_iter().enumerate() {
        let c = if i % 2 == 0 { &mut a } else { &mut b };
        c.send(format!("{text}\n").as_bytes());
        let m = &messages(client.events(), 1)[0];
        assert_eq!(m.text, text);
        let Origin::Remote { from, relayed: true } = &m.origin else { panic!("not relayed: {m:?}") };
        ids.entry(from.addr).or_default().push(from.id);
    }
    let (ia, ib) = (&ids[&a.local()], &ids[&b.local()]);
    assert_eq!(ia[0], ia[1], "one sender keeps its id");
    assert_eq!(ib[0], ib[1], "one sender keeps its id");
    assert_ne!(ia[0], ib[0], "two senders, two ids");
    for id in [ia[0], ib[0]] {
        assert_ne!(id, 0, "not the 0 every relayed sender had");
        assert_ne!(id, server_id, "not the server's own id");
    }
    client.stop();
    server.stop();
}

/// A plain server, as `server.c` is: it says nothing first. `greet` makes it say a sockchat greeting.
fn plain_server(greet: Option<&str>) -> (std::net::TcpListener, SocketAddr, Option<String>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    (l, addr, greet.map(str::to_string))
}

fn named_client(addr: SocketAddr) -> Engine {
    let cfg = ClientConfig { addr: addr.to_string(), name: Some("ann".into()), ..ClientConfig::default() };
    let engine = Engine::client(cfg, None);
    wait_for(engine.events(), |e| matches!(e, Event::Connected { .. }));
    engine
}

#[test]
fn a_named_client_says_its_name_only_to_a_server_that_greets() {
    use sockchat::engine::Command;
    use sockchat::model::Target;
    // server.c: no greeting, so the first line it gets is the user's, and the user is told why.
    let (l, addr, _) = plain_server(None);
    let client = named_client(addr);
    let mut srv = Raw::from_stream(l.accept().expect("accept").0);
    client.send(Command::Send { to: Target::All, text: "hello".into() });
    assert_eq!(srv.line(), "hello", "a plain server never sees /name");
    let told = wait_for(client.events(), |e| matches!(e, Event::Error { .. }));
    let Event::Error { text, fatal, .. } = told else { unreachable!() };
    assert!(!fatal && text.contains("your name was not sent"), "{text}");
    client.stop();

    // A server that greets gets the name first, and the greeting is not shown as a message.
    let (l, addr, hello) = plain_server(Some(&sockchat::protocol::greeting("duplex")));
    let client = named_client(addr);
    let mut srv = Raw::from_stream(l.accept().expect("accept").0);
    srv.send(format!("{}\nfirst words\n", hello.unwrap_or_default()).as_bytes());
    assert_eq!(srv.line(), "/name ann");
    let m = messages(client.events(), 1);
    assert_eq!(m[0].text, "first words", "the greeting is the protocol's, not a message");
    client.stop();
}

#[test]
fn duplex_and_room_servers_greet_and_a_one_way_server_sends_nothing() {
    let greeting =
        |mode| ServerConfig { addr: "127.0.0.1:0".into(), mode, greet: true, ..ServerConfig::default() };
    for mode in [Mode::Duplex, Mode::Room] {
        let (engine, addr) = server_with(greeting(mode));
        let mut c = connect(&engine, addr);
        let hello = c.line();
        assert!(sockchat::protocol::is_greeting(&hello), "{mode:?}: {hello}");
        assert!(hello.contains(mode.label()) && hello.contains("/name"), "{hello}");
        engine.stop();
    }
    // One-way: its clients need not read, and unread bytes would make their close a reset.
    let (engine, addr) = server_with(greeting(Mode::OneWay));
    let mut c = connect(&engine, addr);
    c.send(b"x\n");
    c.stream.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut rest = String::new();
    assert!(!c.try_line(&mut rest).expect("read"), "a one-way server sent {rest:?}");
    engine.stop();
}

#[test]
fn a_sockchat_client_is_named_by_a_sockchat_server() {
    let cfg = ServerConfig {
        addr: "127.0.0.1:0".into(),
        mode: Mode::Duplex,
        greet: true,
        ..ServerConfig::default()
    };
    let (engine, addr) = server_with(cfg);
    let client = named_client(addr);
    let ev =
        wait_for(engine.events(), |e| matches!(e, Event::PeerUpdated { peer, .. } if peer.name.is_some()));
    let Event::PeerUpdated { peer, .. } = ev else { unreachable!() };
    assert_eq!(peer.name.as_deref(), Some("ann"));
    client.stop();
    engine.stop();
}

#[test]
fn lines_typed_before_the_greeting_wait_for_the_name_and_the_end_waits_for_them() {
    use sockchat::engine::Command;
    use sockchat::model::Target;
    let (l, addr, hello) = plain_server(Some(&sockchat::protocol::greeting("room")));
    let client = named_client(addr);
    let mut srv = Raw::from_stream(l.accept().expect("accept").0);
    // Typed and ended before the server has greeted (as `echo hi | sockchat client --name ann` can).
    client.send(Command::Send { to: Target::All, text: "early".into() });
    client.send(Command::Finish);
    srv.send(format!("{}\n", hello.unwrap_or_default()).as_bytes());
    assert_eq!(srv.line(), "/name ann", "the name goes first");
    assert_eq!(srv.line(), "early", "then what was typed meanwhile");
    let mut rest = String::new();
    assert!(!srv.try_line(&mut rest).expect("read"), "then the end of sending, nothing lost: {rest:?}");
    client.stop();
}
