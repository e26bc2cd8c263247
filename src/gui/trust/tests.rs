//! The window's side of TLS driven as a person would (egui_kittest), fed the events the engine would
//! send: no certificate or handshake is needed to see what the window makes of them.

use std::sync::Arc;

use crossbeam_channel::Receiver;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use crate::engine::{ClientConfig, Command, ServerConfig};
use crate::gui::session::Phase;
use crate::gui::{Session, SockchatApp, StartRequest};
use crate::model::{self, Event, Peer};
use crate::trust::{Fingerprint, TlsInfo, TrustAnswer, Trusted};

fn fp() -> Fingerprint {
    let mut b = [0u8; 32];
    for (i, x) in b.iter_mut().enumerate() {
        *x = (i as u8).wrapping_mul(53).wrapping_add(0x3f);
    }
    Fingerprint(b)
}

fn app(size: [f32; 2], session: Session) -> Harness<'static, SockchatApp> {
    let mut slot = Some(session);
    let mut h = Harness::builder().with_size(size).build_eframe(move |cc| {
        let mut app = SockchatApp::new(Some(cc), None).with_native_dialogs(false);
        app.session = slot.take();
        app
    });
    h.run_steps(1);
    h
}

fn feed(h: &mut Harness<'static, SockchatApp>, ev: Event) {
    h.state_mut().session.as_mut().expect("a session").apply(ev);
    h.run_steps(2);
}

fn tls_server(size: [f32; 2], present: bool) -> Harness<'static, SockchatApp> {
    let cfg = ServerConfig { addr: "[::]:7878".into(), ..Default::default() };
    let mut h = app(size, Session::without_engine(StartRequest::Server(cfg)));
    h.state_mut().settings.present = present;
    let addrs = vec!["192.0.2.1:7878".parse().unwrap()];
    let addr = "[::]:7878".parse().unwrap();
    feed(&mut h, Event::Listening { time: model::now(), addr, addrs, fds: None, tls: Some(fp()) });
    h.run_steps(2);
    h
}

fn client() -> (Harness<'static, SockchatApp>, Receiver<Command>) {
    let cfg = ClientConfig { addr: "lab-pc:7878".into(), ..Default::default() };
    let (s, rx) = Session::without_engine_tapped(StartRequest::Client(cfg));
    (app([1000.0, 700.0], s), rx)
}

fn server_peer(tls: Option<TlsInfo>) -> Arc<Peer> {
    let mut p = Peer::new(0, "192.0.2.1:7878".parse().unwrap());
    p.server = true;
    p.host = Some("lab-pc".into());
    p.tls = tls;
    Arc::new(p)
}

#[test]
fn the_server_bar_shows_the_fingerprint_large_in_groups_with_a_copy_button() {
    let (one, two) = fp().two_lines();
    assert!(one.starts_with("3F74 A9DE"), "{one}");
    for (size, present) in [([1280.0, 800.0], false), ([520.0, 360.0], false), ([520.0, 360.0], true)] {
        let mut h = tls_server(size, present);
        let (a, b) = (h.get_by_label(&one).rect(), h.get_by_label(&two).rect());
        let addr = h.get_by_label("192.0.2.1:7878").rect();
        assert!(a.bottom() <= b.top() + 0.5, "two lines, the first on top: {a:?} {b:?}");
        assert!(a.right() <= size[0] && b.right() <= size[0], "{size:?} present {present}: cut {a:?}");
        assert!(addr.bottom() <= a.top(), "under the address to connect to");
        assert!(b.bottom() < size[1] * 0.75, "{size:?} present {present}: the chat keeps room below {b:?}");
        if size[0] > 1000.0 {
            // Larger than the body text (a row of ~14 px), to be read aloud across a room.
            assert!(a.height() > 20.0, "{a:?}");
        }
        h.get_by_label("Copy fingerprint").click();
        h.run_steps(1);
        let copied =
            h.output().platform_output.commands.contains(&egui::OutputCommand::CopyText(fp().to_string()));
        assert!(copied, "{:?}", h.output().platform_output.commands);
    }
    // The empty client list's example command is one that can connect to a TLS server.
    let h = tls_server([1280.0, 800.0], false);
    assert!(h.query_by_label_contains("ncat --ssl 192.0.2.1 7878").is_some(), "plain nc in the hint");
    // Projector type is larger still.
    let normal = tls_server([1280.0, 800.0], false).get_by_label(&one).rect().height();
    let big = tls_server([1280.0, 800.0], true).get_by_label(&one).rect().height();
    assert!(big > 1.6 * normal, "{big} vs {normal}");
}

#[test]
fn a_plain_server_shows_no_fingerprint() {
    let cfg = ServerConfig { addr: "[::]:7878".into(), ..Default::default() };
    let mut h = app([1000.0, 700.0], Session::without_engine(StartRequest::Server(cfg)));
    let addr = "[::]:7878".parse().unwrap();
    let addrs = vec!["192.0.2.1:7878".parse().unwrap()];
    feed(&mut h, Event::Listening { time: model::now(), addr, addrs, fds: None, tls: None });
    assert!(h.query_by_label("Copy fingerprint").is_none());
    assert!(h.query_by_label_contains("Fingerprint").is_none());
    assert!(h.query_by_label_contains("nc 192.0.2.1 7878").is_some());
    assert!(h.query_by_label_contains("--ssl").is_none());
}

/// The dialog for a first meeting; `press` answers it; the command the engine gets is checked.
fn answer(press: impl FnOnce(&mut Harness<'static, SockchatApp>), want: TrustAnswer) {
    let (mut h, rx) = client();
    let (one, two) = fp().two_lines();
    assert!(h.query_by_label("Is this the right server?").is_none());
    feed(&mut h, Event::TrustAsk { time: model::now(), server: "lab-pc:7878".into(), fingerprint: fp() });
    assert!(h.query_by_label("Is this the right server?").is_some(), "{want:?}: no dialog");
    assert!(h.query_by_label_contains("has not met lab-pc:7878 before").is_some());
    assert!(h.query_by_label_contains("the one on the server's screen").is_some());
    assert!(h.query_by_label(&one).is_some() && h.query_by_label(&two).is_some());
    assert!(rx.try_recv().is_err(), "nothing is sent before an answer");
    press(&mut h);
    h.run_steps(2);
    assert_eq!(rx.try_recv().ok(), Some(Command::Trust(want)));
    assert!(h.query_by_label("Is this the right server?").is_none(), "{want:?}: the dialog stays");
    assert!(rx.try_recv().is_err(), "one answer only");
}

#[test]
fn the_trust_dialog_sends_each_answer_and_escape_cancels() {
    answer(|h| h.get_by_label("Accept once").click(), TrustAnswer::Once);
    answer(|h| h.get_by_label("Always accept").click(), TrustAnswer::Always);
    answer(|h| h.get_by_label("Cancel, do not connect").click(), TrustAnswer::Cancel);
    answer(|h| h.key_press(egui::Key::Escape), TrustAnswer::Cancel);
}

#[test]
fn the_trust_dialog_fits_a_small_window() {
    let cfg = ClientConfig { addr: "lab-pc:7878".into(), ..Default::default() };
    let (s, _rx) = Session::without_engine_tapped(StartRequest::Client(cfg));
    let mut h = app([520.0, 360.0], s);
    feed(&mut h, Event::TrustAsk { time: model::now(), server: "lab-pc:7878".into(), fingerprint: fp() });
    let (one, _) = fp().two_lines();
    let line = h.get_by_label(&one).rect();
    assert!(line.left() >= 0.0 && line.right() <= 520.0, "{line:?}");
    for b in ["Accept once", "Always accept", "Cancel, do not connect"] {
        let r = h.get_by_label(b).rect();
        assert!(r.right() <= 520.0 && r.bottom() <= 360.0, "{b} off screen: {r:?}");
    }
}

#[test]
fn the_clients_bar_shows_a_lock_with_details_or_plain() {
    let info = TlsInfo {
        version: "TLS 1.3".into(),
        cipher: "TLS13_AES_256_GCM_SHA384".into(),
        server_cert: Some((fp(), Trusted::Known)),
    };
    let (mut h, _rx) = client();
    feed(&mut h, Event::Connected { time: model::now(), peer: server_peer(Some(info)) });
    let lock = format!("{} TLS", super::LOCK);
    assert!(h.query_by_label("plain").is_none());
    h.get_by_label(&lock).hover();
    // Past the tooltip's delay (each step is a quarter of a second).
    h.run_steps(4);
    let tip = h.get_by_label_contains("Encrypted: TLS 1.3, TLS13_AES_256_GCM_SHA384");
    let tip = tip.accesskit_node().value().or(tip.accesskit_node().label()).unwrap_or_default();
    assert!(tip.contains(&fp().to_string()), "{tip}");
    assert!(tip.contains("always trust"), "{tip}");

    let (mut h, _rx) = client();
    feed(&mut h, Event::Connected { time: model::now(), peer: server_peer(None) });
    assert!(h.query_by_label("plain").is_some());
    assert!(h.query_by_label(&lock).is_none());
}

#[test]
fn a_refused_certificate_is_explained_in_full_not_cut_in_the_bar() {
    let why = "! the certificate of lab-pc:7878 has CHANGED since you chose to always trust it: it was \
               SHA256:3F74:... and is now SHA256:0000:... This happens when the server made a new certificate, \
               or when another machine pretends to be it. Ask the person running the server to read its \
               fingerprint to you; if it is the new one, delete the line for lab-pc:7878 from known_servers.";
    let (mut h, _rx) = client();
    feed(&mut h, Event::Connected { time: model::now(), peer: server_peer(None) });
    feed(&mut h, Event::Error { time: model::now(), peer: None, text: why.into(), fatal: true });
    h.state_mut().session.as_mut().unwrap().phase = Phase::Ended(why.into());
    h.run_steps(2);
    // Whole, wrapped over several lines, above the chat (not only one of its lines, nor cut in the bar).
    let chat = h.get_by_label_contains("connected: server lab-pc").rect();
    let shown =
        h.get_all_by_label(why).map(|n| n.rect()).find(|r| r.height() > 40.0 && r.bottom() <= chat.top());
    let r = shown.expect("the full explanation, wrapped, above the chat");
    assert!(r.right() <= 1000.0, "{r:?}");
}

#[test]
fn a_changed_certificate_can_be_forgotten_from_the_start_screen() {
    let file = std::env::temp_dir().join(format!("sockchat-forget-gui-{}", std::process::id()));
    let old = Fingerprint([7; 32]);
    std::fs::write(&file, format!("lab-pc:7878 {old}\nother:7878 {old}\n")).unwrap();
    let (mut h, _rx) = client();
    let why = "WARNING: lab-pc:7878 presented a DIFFERENT certificate from the one remembered for it";
    let changed = Event::TrustChanged {
        time: model::now(),
        server: "lab-pc:7878".into(),
        remembered: old,
        now: fp(),
        file: file.clone(),
        line: 1,
    };
    feed(&mut h, changed);
    feed(&mut h, Event::Error { time: model::now(), peer: None, text: why.into(), fatal: true });
    h.state_mut().session.as_mut().unwrap().phase = Phase::Ended(why.into());
    h.run_steps(2);
    assert!(h.state().session.is_none(), "back on the start screen");
    assert!(h.query_by_label_contains("Could not connect: WARNING").is_some());
    // The new fingerprint to compare is shown with the offer, as the server's window shows it.
    let (a, b) = fp().two_lines();
    assert!(h.query_by_label(&format!("{a}\n{b}")).is_some(), "the new fingerprint beside the button");
    h.get_by_label("Forget the remembered certificate").click();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.query_by_label_contains("Forgotten. Connect again").is_none() {
        assert!(std::time::Instant::now() < deadline, "never forgotten");
        h.run_steps(1);
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("other:7878 {old}\n"));
    let _ = std::fs::remove_file(&file);
}
