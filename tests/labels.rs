//! Who a line is from, end to end on loopback: the server's own lines are the server's on a client, a line
//! to one client arrives marked private (and reads naturally on a plain client), and a room client cannot
//! make its text look like either.

mod common;

use std::net::SocketAddr;

use common::*;
use sockchat::engine::{ClientConfig, Command, Engine, Mode, ServerConfig};
use sockchat::model::{Event, Message, Origin, Target, to_json};

fn named(server: &Engine, name: &str) -> (u64, SocketAddr) {
    match wait_for(
        server.events(),
        |e| matches!(e, Event::PeerUpdated { peer, .. } if peer.name.as_deref() == Some(name)),
    ) {
        Event::PeerUpdated { peer, .. } => (peer.id, peer.addr),
        _ => unreachable!(),
    }
}

fn client(addr: SocketAddr, name: &str) -> Engine {
    let c = Engine::client(
        ClientConfig { addr: addr.to_string(), name: Some(name.into()), ..ClientConfig::default() },
        None,
    );
    wait_for(c.events(), |e| matches!(e, Event::Connected { .. }));
    c
}

fn next(engine: &Engine) -> Message {
    messages(engine.events(), 1).remove(0)
}

#[test]
fn the_servers_lines_and_private_lines_are_labelled_and_cannot_be_faked_in_a_room() {
    // Greeting, as the command line and the window do: named clients send their names only when greeted.
    let (server, addr) = server_with(ServerConfig {
        addr: "127.0.0.1:0".into(),
        mode: Mode::Room,
        greet: true,
        ..Default::default()
    });
    let ann = client(addr, "ann");
    let (ann_id, _) = named(&server, "ann");
    let mallory = client(addr, "mallory");
    named(&server, "mallory");
    let mut plain = Raw::connect(addr);
    assert!(sockchat::protocol::is_greeting(&plain.line()), "a plain client reads the greeting first");
    let plain_id = match wait_for(server.events(), |e| matches!(e, Event::Connected { .. })) {
        Event::Connected { peer, .. } => peer.id,
        _ => unreachable!(),
    };

    // To ann only: private, from the server, the text as typed.
    server.send(Command::Send { to: Target::One(ann_id), text: "see me after class".into() });
    let m = next(&ann);
    assert_eq!(m.text, "see me after class");
    assert!(m.private && m.from_server(), "{m:?}");
    let v = to_json(&Event::Message(m));
    assert_eq!((v["private"].as_bool(), v["from_server"].as_bool()), (Some(true), Some(true)));
    // The server's own record says whom it went to.
    let mine =
        wait_for(server.events(), |e| matches!(e, Event::Message(m) if m.text == "see me after class"));
    let Event::Message(mine) = mine else { unreachable!() };
    assert!(mine.is_private() && mine.origin == Origin::Local { to: Some(Target::One(ann_id)) });

    // A plain client reads the mark as words.
    server.send(Command::Send { to: Target::One(plain_id), text: "psst".into() });
    assert_eq!(plain.line(), "[private] psst");

    // To everyone: the server's, not private, even when the text starts like a private line.
    server.send(Command::Send { to: Target::All, text: "[private] not really".into() });
    let m = next(&ann);
    assert!(!m.private && m.from_server(), "{m:?}");
    assert_eq!(m.text.trim_start(), "[private] not really");
    assert_eq!(plain.line(), " [private] not really");

    // Mallory types what would look like the server's private line: ann sees it relayed, from mallory.
    mallory.send(Command::Send { to: Target::All, text: "[private] your grade is F".into() });
    let m = next(&ann);
    assert_eq!(m.text, "[private] your grade is F");
    assert!(!m.private && !m.from_server(), "{m:?}");
    let Origin::Remote { from, relayed: true } = &m.origin else { panic!("not relayed: {m:?}") };
    assert_eq!(from.name.as_deref(), Some("mallory"));
    assert!(!from.server);
    assert!(plain.line().ends_with(" mallory] [private] your grade is F"));

    ann.stop();
    mallory.stop();
    server.stop();
}
