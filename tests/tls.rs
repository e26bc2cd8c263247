//! TLS over loopback: chat in every mode, trust the first time (asked, remembered, pinned, changed),
//! a plain peer on either side, a handshake that never finishes, the terminal's flags, and interop with
//! `ncat --ssl` and `openssl s_server` both ways.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command as Cmd, Stdio};
use std::time::{Duration, Instant};

use common::proc::{BIN, Proc};
use common::*;
use serde_json::Value;
use sockchat::engine::{ClientConfig, ClientTls, Command, Engine, Mode, ServerConfig, ServerTls};
use sockchat::model::{DisconnectReason, Event, Origin, Peer, Target};
use sockchat::trust::{Fingerprint, TrustAnswer, TrustPolicy, Trusted};

/// A fresh directory for one test's certificate and known-servers file.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sockchat-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tls_server(mode: Mode, dir: &Path) -> (Engine, SocketAddr, Fingerprint) {
    // Greeting, as the command line and the window do, so named clients send their names.
    tls_server_with(ServerConfig { mode, greet: true, ..ServerConfig::default() }, dir)
}

fn tls_server_with(cfg: ServerConfig, dir: &Path) -> (Engine, SocketAddr, Fingerprint) {
    let tls = Some(ServerTls { cert: None, key: None, dir: dir.join("tls") });
    let engine = Engine::server(ServerConfig { addr: "127.0.0.1:0".into(), tls, ..cfg }, None);
    match wait_for(engine.events(), |e| matches!(e, Event::Listening { .. } | Event::Error { .. })) {
        Event::Listening { addr, tls: Some(fp), .. } => (engine, addr, fp),
        other => panic!("TLS server did not start: {other:?}"),
    }
}

fn tls_client(addr: SocketAddr, name: Option<&str>, policy: TrustPolicy, dir: &Path) -> Engine {
    let tls = Some(ClientTls { known_servers: dir.join("known_servers"), policy });
    Engine::client(
        ClientConfig { addr: addr.to_string(), name: name.map(Into::into), tls, ..ClientConfig::default() },
        None,
    )
}

/// The client's `Connected`, or a panic with what came instead.
fn connected(engine: &Engine) -> Peer {
    match wait_for(engine.events(), |e| {
        matches!(e, Event::Connected { .. } | Event::Error { fatal: true, .. })
    }) {
        Event::Connected { peer, .. } => (*peer).clone(),
        other => panic!("not connected: {other:?}"),
    }
}

/// The client's fatal error text, or a panic if it connected.
fn fatal(engine: &Engine) -> String {
    match wait_for(engine.events(), |e| {
        matches!(e, Event::Connected { .. } | Event::Error { fatal: true, .. })
    }) {
        Event::Error { text, .. } => text,
        other => panic!("expected a fatal error: {other:?}"),
    }
}

fn server_sees(engine: &Engine, n: usize) -> Vec<Peer> {
    (0..n)
        .map(|_| match wait_for(engine.events(), |e| matches!(e, Event::Connected { .. })) {
            Event::Connected { peer, .. } => (*peer).clone(),
            _ => unreachable!(),
        })
        .collect()
}

fn refused(engine: &Engine) -> String {
    match wait_for(engine.events(), |e| matches!(e, Event::Refused { .. })) {
        Event::Refused { reason, .. } => reason,
        _ => unreachable!(),
    }
}

#[test]
fn tls_chat_works_in_every_mode() {
    let dir = temp_dir("modes");
    for mode in Mode::ALL {
        let (server, addr, fp) = tls_server(mode, &dir);
        let a = tls_client(addr, Some("ann"), TrustPolicy::Pin(fp), &dir);
        let b = tls_client(addr, Some("ben"), TrustPolicy::Pin(fp), &dir);
        for c in [&a, &b] {
            let peer = connected(c);
            let tls = peer.tls.expect("the client's server peer says TLS");
            assert_eq!(tls.version, "TLS 1.3");
            assert_eq!(tls.server_cert, Some((fp, Trusted::Pinned)));
        }
        // Both connected and, but in one-way mode (no greeting, so no names), both named; a name can
        // come before the other client's connect, so they are counted together.
        let (mut peers, mut names) = (Vec::new(), 0);
        let want_names = if mode == Mode::OneWay { 0 } else { 2 };
        wait_for(server.events(), |e| {
            match e {
                Event::Connected { peer, .. } => peers.push((**peer).clone()),
                Event::PeerUpdated { peer, .. } if peer.name.is_some() => names += 1,
                _ => {}
            }
            peers.len() == 2 && names == want_names
        });
        for p in peers {
            let tls = p.tls.expect("the server's client peers say TLS");
            assert_eq!((tls.version.as_str(), tls.server_cert), ("TLS 1.3", None));
        }
        a.send(Command::Send { to: Target::All, text: format!("hello in {}", mode.label()) });
        let m = messages(server.events(), 1);
        assert_eq!(m[0].text, format!("hello in {}", mode.label()));
        match mode {
            Mode::OneWay => {}
            Mode::Duplex => {
                server.send(Command::Send { to: Target::All, text: "from the server".into() });
                for c in [&a, &b] {
                    assert_eq!(messages(c.events(), 1)[0].text, "from the server");
                }
            }
            Mode::Room => {
                let got = messages(b.events(), 1);
                assert_eq!(got[0].text, "hello in room");
                let Origin::Remote { from, relayed: true } = &got[0].origin else { panic!("{got:?}") };
                assert_eq!(from.name.as_deref(), Some("ann"), "the relay label crossed TLS");
            }
        }
        a.stop();
        b.stop();
        server.stop();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn trust_ask(engine: &Engine) -> (String, Fingerprint) {
    match wait_for(engine.events(), |e| {
        matches!(e, Event::TrustAsk { .. } | Event::Error { fatal: true, .. })
    }) {
        Event::TrustAsk { server, fingerprint, .. } => (server, fingerprint),
        other => panic!("expected a question: {other:?}"),
    }
}

#[test]
fn first_use_asks_and_once_always_cancel_do_what_they_say() {
    let dir = temp_dir("ask");
    let (server, addr, fp) = tls_server(Mode::Duplex, &dir);
    let file = dir.join("known_servers");

    let c = tls_client(addr, None, TrustPolicy::Ask, &dir);
    assert_eq!(trust_ask(&c), (format!("127.0.0.1:{}", addr.port()), fp));
    c.send(Command::Trust(TrustAnswer::Cancel));
    assert!(fatal(&c).contains("was not accepted"));
    c.stop();

    let c = tls_client(addr, None, TrustPolicy::Ask, &dir);
    trust_ask(&c);
    c.send(Command::Trust(TrustAnswer::Once));
    assert_eq!(connected(&c).tls.unwrap().server_cert, Some((fp, Trusted::New)));
    assert!(!file.exists(), "once is not remembered");
    c.stop();

    let c = tls_client(addr, None, TrustPolicy::Ask, &dir);
    trust_ask(&c);
    c.send(Command::Trust(TrustAnswer::Always));
    connected(&c);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.trim(), format!("127.0.0.1:{} {fp}", addr.port()));
    c.stop();

    // Known now: no question.
    let c = tls_client(addr, None, TrustPolicy::Ask, &dir);
    assert_eq!(connected(&c).tls.unwrap().server_cert, Some((fp, Trusted::Known)));
    c.send(Command::Send { to: Target::All, text: "known and trusted".into() });
    let m = messages(server.events(), 1);
    assert_eq!(m[0].text, "known and trusted");
    c.stop();
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pinned_fingerprint_connects_and_a_wrong_one_is_refused() {
    let dir = temp_dir("pin");
    let (server, addr, fp) = tls_server(Mode::Duplex, &dir);
    let c = tls_client(addr, None, TrustPolicy::Pin(fp), &dir);
    assert_eq!(connected(&c).tls.unwrap().server_cert, Some((fp, Trusted::Pinned)));
    c.stop();
    let wrong = Fingerprint([0x42; 32]);
    let c = tls_client(addr, None, TrustPolicy::Pin(wrong), &dir);
    let why = fatal(&c);
    assert!(why.contains(&fp.to_string()) && why.contains("--fingerprint"), "{why}");
    assert!(refused(&server).contains("did not accept this server's certificate"));
    c.stop();
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_changed_certificate_is_refused_with_what_to_do() {
    let dir = temp_dir("changed");
    let (server, addr, fp) = tls_server(Mode::Duplex, &dir);
    let file = dir.join("known_servers");
    let old = Fingerprint([7; 32]);
    std::fs::write(&file, format!("127.0.0.1:{} {old}\n", addr.port())).unwrap();
    for policy in [TrustPolicy::Ask, TrustPolicy::AcceptNew, TrustPolicy::RefuseUnknown] {
        let c = tls_client(addr, None, policy, &dir);
        // First the facts, for the window's offer to forget the old one; then the refusal in words.
        match wait_for(c.events(), |e| matches!(e, Event::TrustChanged { .. } | Event::Error { .. })) {
            Event::TrustChanged { server, remembered, now, file: f, line, .. } => {
                assert_eq!((server, remembered, now), (format!("127.0.0.1:{}", addr.port()), old, fp));
                assert_eq!((f, line), (file.clone(), 1));
            }
            other => panic!("expected the changed certificate's facts: {other:?}"),
        }
        let why = fatal(&c);
        assert!(why.contains("DIFFERENT"), "{why}");
        assert!(why.contains(&fp.to_string()) && why.contains(&old.to_string()), "{why}");
        assert!(why.contains(&format!("delete line 1 of {}", file.display())), "{why}");
        c.stop();
    }
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_plain_client_at_a_tls_server_is_refused_and_told_why() {
    let dir = temp_dir("plain-client");
    let (server, addr, _) = tls_server(Mode::Duplex, &dir);
    let mut raw = Raw::connect(addr);
    raw.send(b"/name plain\nhello?\n");
    assert_eq!(refused(&server), "it spoke plain text, not TLS (this server uses --tls)");
    assert_eq!(raw.line(), "sockchat: this server uses TLS (encryption): connect with --tls");
    assert!(raw.closed());
    // A sockchat client without --tls says why it was closed, instead of "closed by peer".
    let plain = Engine::client(ClientConfig { addr: addr.to_string(), ..ClientConfig::default() }, None);
    connected(&plain);
    plain.send(Command::Send { to: Target::All, text: "hello?".into() });
    match wait_for(plain.events(), |e| matches!(e, Event::Disconnected { .. })) {
        Event::Disconnected { reason: DisconnectReason::Policy(why), .. } => {
            assert!(why.starts_with("the server uses TLS (encryption); connect again with --tls"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(refused(&server), "it spoke plain text, not TLS (this server uses --tls)");
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_first_line_that_shares_a_segment_with_the_handshake_end_is_read_at_once() {
    // rustls decrypts the line along with the client's Finished during the server's handshake; a reader
    // that went straight to `recv` would wait for bytes that never come (this client sends nothing more).
    let dir = temp_dir("segment");
    let (server, addr, fp) = tls_server(Mode::OneWay, &dir);
    let pin = ClientTls { known_servers: dir.join("known_servers"), policy: TrustPolicy::Pin(fp) };
    let verifier = sockchat::engine::tls::verify::Verifier::new(addr.to_string(), &pin).unwrap();
    let config = sockchat::engine::tls::verify::client_config(verifier).unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    // By hand up to the point where only our Finished is left to send.
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(&mut sock).unwrap();
        }
        conn.read_tls(&mut sock).unwrap();
        conn.process_new_packets().unwrap();
    }
    conn.writer().write_all(b"first line\n").unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    // Finished and the line's record in one write: one segment on loopback.
    sock.write_all(&out).unwrap();
    assert_eq!(messages(server.events(), 1)[0].text, "first line");
    drop(sock);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tls_client_at_a_plain_server_gets_a_clear_error() {
    let (server, addr) = common::server(Mode::Duplex);
    let dir = temp_dir("plain-server");
    let c = tls_client(addr, None, TrustPolicy::AcceptNew, &dir);
    let why = fatal(&c);
    assert!(why.contains("plain server (started without --tls)"), "{why}");
    c.stop();
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stalled_handshake_is_closed_after_the_timeout_and_holds_up_no_one() {
    let dir = temp_dir("stall");
    let (server, addr, fp) = tls_server(Mode::Duplex, &dir);
    let started = Instant::now();
    // Connects and says nothing: no handshake ever.
    let mut stalled = Raw::connect(addr);
    let c = tls_client(addr, None, TrustPolicy::Pin(fp), &dir);
    connected(&c);
    c.send(Command::Send { to: Target::All, text: "not held up".into() });
    assert_eq!(messages(server.events(), 1)[0].text, "not held up");
    assert!(started.elapsed() < Duration::from_secs(9), "the chat went on during the stalled handshake");
    let why = refused(&server);
    assert!(why.starts_with("no TLS handshake within 10 s"), "{why}");
    assert!(started.elapsed() >= Duration::from_secs(10));
    assert!(stalled.closed());
    c.stop();
    // A stop does not wait for a handshake in progress either.
    let _second = Raw::connect(addr);
    let t = Instant::now();
    server.stop();
    assert!(t.elapsed() < Duration::from_secs(3), "stop took {:?}", t.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_made_certificate_keeps_its_fingerprint_across_restarts() {
    let dir = temp_dir("restart");
    let (first, _, fp1) = tls_server(Mode::Duplex, &dir);
    first.stop();
    let (second, _, fp2) = tls_server(Mode::Duplex, &dir);
    second.stop();
    assert_eq!(fp1, fp2);
    assert!(dir.join("tls/cert.pem").exists() && dir.join("tls/key.pem").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idle_timeout_and_not_reading_rules_hold_over_tls() {
    let dir = temp_dir("rules");
    let cfg = ServerConfig {
        mode: Mode::Duplex,
        idle_timeout: Some(Duration::from_secs(1)),
        ..ServerConfig::default()
    };
    let (server, addr, fp) = tls_server_with(cfg, &dir);
    let c = tls_client(addr, None, TrustPolicy::Pin(fp), &dir);
    connected(&c);
    let ev = wait_for(server.events(), |e| matches!(e, Event::Disconnected { .. }));
    let Event::Disconnected { reason: DisconnectReason::Policy(why), .. } = ev else { panic!("{ev:?}") };
    assert!(why.contains("idle"), "{why}");
    c.stop();
    server.stop();

    // A TLS client that stops reading (openssl s_client, stopped with SIGSTOP) is closed once its
    // queue passes the bound, as over plain TCP.
    let cfg = ServerConfig { mode: Mode::Duplex, send_queue_bytes: 64 * 1024, ..ServerConfig::default() };
    let (server, addr, _) = tls_server_with(cfg, &dir);
    let mut s_client = Cmd::new("openssl")
        .args(["s_client", "-quiet", "-connect", &addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl");
    server_sees(&server, 1);
    assert!(Cmd::new("kill").args(["-STOP", &s_client.id().to_string()]).status().unwrap().success());
    let line = "x".repeat(1000);
    let deadline = Instant::now() + WAIT;
    let why = loop {
        assert!(Instant::now() < deadline, "a client that does not read was never closed");
        server.send(Command::Send { to: Target::All, text: line.clone() });
        match server.events().recv_timeout(Duration::from_millis(5)) {
            Ok(Event::Disconnected { reason, .. }) => break reason,
            _ => continue,
        }
    };
    assert!(matches!(&why, DisconnectReason::Policy(w) if w.contains("not reading")), "{why:?}");
    let _ = s_client.kill();
    let _ = s_client.wait();
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- processes: the terminal's flags, and interop with ncat and openssl ----

/// The next message the client received (its own lines are message events too).
fn incoming(c: &Proc) -> serde_json::Value {
    loop {
        let v = c.event("message");
        if v["dir"] == "in" {
            return v;
        }
    }
}

fn tls_server_process(dir: &Path, mode: &str) -> (Proc, SocketAddr, String) {
    let p = Proc::sockchat(
        dir,
        &["server", "127.0.0.1:0", "--tls", "--mode", mode, "--headless", "--json", "--no-announce"],
    );
    let v = p.event("listening");
    let addr = v["addr"].as_str().unwrap().parse().unwrap();
    let fp = v["fingerprint"].as_str().expect("fingerprint in JSON").to_string();
    (p, addr, fp)
}

#[test]
fn the_terminal_refuses_an_unknown_server_until_pinned_or_accepted() {
    let dir = temp_dir("terminal");
    let (srv_dir, cli_dir) = (dir.join("server"), dir.join("client"));
    // One-way: a client whose input ends is then closed by the server, so the client process exits.
    let (server, addr, fp) = tls_server_process(&srv_dir, "one-way");
    let addr = addr.to_string();

    let c = Proc::sockchat(&cli_dir, &["client", &addr, "--tls", "--headless"]);
    let (code, err) = c.finish();
    assert_ne!(code, 0);
    assert!(err.contains("not a known server") && err.contains(&fp), "{err}");
    assert!(err.contains(&format!("--fingerprint {fp}")) && err.contains("--accept-new"), "{err}");

    let mut c = Proc::sockchat(&cli_dir, &["client", &addr, "--tls", "--fingerprint", &fp, "--headless"]);
    let line = c.line_with("* connected");
    assert!(line.contains("TLS 1.3") && line.contains("the one given with --fingerprint"), "{line}");
    c.type_line("pinned hello");
    assert_eq!(server.event("message")["text"], "pinned hello");
    assert_eq!(c.finish().0, 0);
    assert!(!cli_dir.join("known_servers").exists(), "a pin is not remembered");

    let c = Proc::sockchat(&cli_dir, &["client", &addr, "--tls", "--accept-new", "--headless", "--json"]);
    let v = c.event("connected");
    assert_eq!(v["peer"]["tls"]["version"], "TLS 1.3");
    assert_eq!(v["peer"]["tls"]["trusted"], "new");
    assert_eq!(v["peer"]["tls"]["fingerprint"], fp.as_str());
    assert_eq!(c.finish().0, 0);
    let known = std::fs::read_to_string(cli_dir.join("known_servers")).unwrap();
    assert_eq!(known.trim(), format!("{addr} {fp}"));

    // Remembered: plain --tls goes on.
    let c = Proc::sockchat(&cli_dir, &["client", &addr, "--tls", "--headless", "--json"]);
    assert_eq!(c.event("connected")["peer"]["tls"]["trusted"], "known");
    assert_eq!(c.finish().0, 0);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A certificate authority of the test's own and a server certificate it signed for localhost and
/// 127.0.0.1, written to `dir`: (CA file, certificate, key, the certificate's fingerprint).
fn ca_signed_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "sockchat test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "sockchat test server");
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let leaf = leaf.signed_by(&key, &ca).unwrap();
    let (ca_file, cert, key_file) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let fp = sockchat::engine::tls::fingerprint(leaf.der()).to_string();
    (ca_file, cert, key_file, fp)
}

#[test]
fn a_certificate_the_system_roots_vouch_for_is_accepted_without_asking() {
    let dir = temp_dir("roots");
    let (srv_dir, cli_dir) = (dir.join("server"), dir.join("client"));
    std::fs::create_dir_all(&srv_dir).unwrap();
    let (ca, cert, key, fp) = ca_signed_files(&srv_dir);
    let (cert, key) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let server = Proc::sockchat(
        &srv_dir,
        &["server", "127.0.0.1:0", "--tls", "--cert", &cert, "--key", &key, "--mode", "one-way"]
            .into_iter()
            .chain(["--headless", "--json", "--no-announce"])
            .collect::<Vec<_>>(),
    );
    let port = server.event("listening")["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap().port();
    // SSL_CERT_FILE takes the place of the system's store for the roots loader: the test's CA is then
    // the client's only root, as a real CA is for a real server.
    let client = |roots: &Path| {
        Proc::spawn_cmd(
            Cmd::new(BIN)
                .env("SOCKCHAT_CONFIG_DIR", &cli_dir)
                .env("SSL_CERT_FILE", roots)
                .env_remove("SSL_CERT_DIR")
                .args(["client", &format!("localhost:{port}"), "--tls", "--headless", "--json"]),
        )
    };
    let mut c = client(&ca);
    let v = c.event("connected");
    assert_eq!(v["peer"]["tls"]["trusted"], "system_roots", "{v}");
    assert_eq!(v["peer"]["tls"]["fingerprint"], fp.as_str());
    c.type_line("vouched for");
    assert_eq!(server.event("message")["text"], "vouched for");
    assert_eq!(c.finish().0, 0);
    assert!(!cli_dir.join("known_servers").exists(), "a CA-vouched server needs no remembering");
    // Without that root the same server is one the user has never seen: refused, not asked.
    let empty = dir.join("no-roots.pem");
    std::fs::write(&empty, "").unwrap();
    let (code, err) = client(&empty).finish();
    assert_ne!(code, 0);
    assert!(err.contains("not a known server") && err.contains(&fp), "{err}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A free loopback port for a program that cannot report the one it got from port 0 (ncat, openssl).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A certificate for 127.0.0.1 in `dir` (cert.pem, key.pem) and its fingerprint.
fn cert_files(dir: &Path) -> (PathBuf, PathBuf, String) {
    let (cert, key) = sockchat::engine::tls::cert::make(&["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, &cert).unwrap();
    std::fs::write(&k, key).unwrap();
    let (chain, _) = sockchat::engine::tls::cert::read_pair(&c, &k).unwrap();
    (c, k, sockchat::engine::tls::fingerprint(chain[0].as_ref()).to_string())
}

/// Connects `sockchat client --tls --fingerprint` to a TLS listener started by `listener` on `port`,
/// retrying while it is not listening yet.
fn client_to(dir: &Path, port: u16, fp: &str) -> Proc {
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + WAIT;
    loop {
        let c = Proc::sockchat(dir, &["client", &addr, "--tls", "--fingerprint", fp, "--headless", "--json"]);
        let v: Value = serde_json::from_str(&c.line()).unwrap();
        if v["event"] == "connected" {
            return c;
        }
        assert!(Instant::now() < deadline, "never connected: {v}");
        // The listener is still starting: it has no way to say when it is ready.
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ncat_ssl_chats_with_a_sockchat_tls_server() {
    let dir = temp_dir("ncat-client");
    let (mut server, addr, _) = tls_server_process(&dir, "duplex");
    let mut ncat = Proc::spawn_cmd(Cmd::new("ncat").args(["--ssl", "127.0.0.1", &addr.port().to_string()]));
    server.event("connected");
    ncat.type_line("hello from ncat");
    let v = server.event("message");
    assert_eq!(v["text"], "hello from ncat");
    assert!(v["peer"]["tls"]["version"].as_str().unwrap().starts_with("TLS 1."), "{v}");
    server.type_line("hello ncat");
    assert!(sockchat::protocol::is_greeting(&ncat.line()), "the server greets first, over TLS too");
    assert_eq!(ncat.line(), "hello ncat");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sockchat_client_chats_with_an_ncat_ssl_listener() {
    let dir = temp_dir("ncat-server");
    let (cert, key, fp) = cert_files(&dir);
    let port = free_port();
    let ncat = Cmd::new("ncat")
        .args(["--ssl", "--ssl-cert"])
        .arg(&cert)
        .arg("--ssl-key")
        .arg(&key)
        .args(["-l", "127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ncat");
    let mut ncat = Proc::spawn_child(ncat);
    let mut c = client_to(&dir, port, &fp);
    c.type_line("hello ncat listener");
    assert_eq!(ncat.line(), "hello ncat listener");
    ncat.type_line("hello sockchat");
    assert_eq!(incoming(&c)["text"], "hello sockchat");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sockchat_client_chats_with_openssl_s_server_over_tls_1_3_and_1_2() {
    let dir = temp_dir("s-server");
    let (cert, key, fp) = cert_files(&dir);
    for (flag, version) in [("-tls1_3", "TLS 1.3"), ("-tls1_2", "TLS 1.2")] {
        let port = free_port();
        let s = Cmd::new("openssl")
            .args(["s_server", "-quiet", flag, "-accept", &format!("127.0.0.1:{port}"), "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl");
        let mut s = Proc::spawn_child(s);
        let mut c = client_to(&dir, port, &fp);
        c.type_line("hello openssl");
        assert_eq!(s.line(), "hello openssl");
        s.type_line("hello sockchat");
        let v = incoming(&c);
        assert_eq!(v["text"], "hello sockchat");
        assert_eq!(v["peer"]["tls"]["version"], version, "{v}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
