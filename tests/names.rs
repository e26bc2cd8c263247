//! Names people can trust, over real loopback sockets: one name per connected client, no lookalikes, no
//! half escapes, and relayed senders a client can tell apart.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::*;
use sockchat::engine::{ClientConfig, Engine, Mode};
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
