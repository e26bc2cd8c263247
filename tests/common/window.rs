//! The window under egui_kittest for the GUI tests: a harness the size of a small desktop window, and
//! frames run until something shows (bounded, so a window that never gets there fails the test).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sockchat::engine::discovery::{BrowseEvent, FoundServer};
use sockchat::gui::SockchatApp;
use sockchat::model::{Event, Message, Origin, Peer};

/// Long enough for a loaded CI machine to bring a real engine up on loopback.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The window on its start screen, with native file dialogs off (a test has no one to answer them).
pub fn app() -> Harness<'static, SockchatApp> {
    Harness::builder()
        .with_size([1000.0, 700.0])
        .build_eframe(|cc| SockchatApp::new(Some(cc), None).with_native_dialogs(false))
}

/// The window with a network browser the test feeds, and a real listener on loopback for a found
/// server to point at: (window, browser, listener, its port).
pub fn app_with_browser() -> (Harness<'static, SockchatApp>, Sender<BrowseEvent>, TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (browser, rx) = crossbeam_channel::unbounded();
    let mut h = app();
    h.state_mut().found.attach(rx);
    (h, browser, listener, port)
}

/// Runs frames until `cond` holds; fails with `what` after [`DEADLINE`].
pub fn wait_for(
    h: &mut Harness<'static, SockchatApp>,
    what: &str,
    cond: impl Fn(&Harness<'static, SockchatApp>) -> bool,
) {
    let start = Instant::now();
    loop {
        h.run_steps(1);
        if cond(h) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        // The engine's events arrive on other threads; a frame per few ms keeps this loop cheap.
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn has_text(h: &Harness<'static, SockchatApp>, text: &str) -> bool {
    h.query_by_label_contains(text).is_some()
}

/// A message from `from`, as the engine would hand it over: for feeding a history without a network.
pub fn received(from: &std::sync::Arc<Peer>, seq: u64, text: String) -> Event {
    let origin = Origin::Remote { from: from.clone(), relayed: false };
    Event::Message(Message {
        seq,
        time: sockchat::model::now(),
        origin,
        text,
        truncated: false,
        private: false,
    })
}

pub fn set_field(h: &mut Harness<'static, SockchatApp>, label: &str, value: &str) {
    h.get_by_label(label).set_text_value_accesskit(value);
    h.run_steps(2);
}

/// Start screen -> Server -> 127.0.0.1:0 in `mode` -> Start; returns the port actually bound.
pub fn start_server(h: &mut Harness<'static, SockchatApp>, mode: &str) -> SocketAddr {
    h.get_by_label("Server").click();
    h.run_steps(2);
    set_field(h, "Listen host", "127.0.0.1");
    set_field(h, "Listen port", "0");
    h.get_by_label(mode).click();
    h.run_steps(2);
    h.get_by_label("Start server").click();
    wait_for(h, "the server to listen", |h| h.state().in_chat());
    let addr = h.state().session.as_ref().and_then(|s| s.local_addr).expect("listening address");
    wait_for(h, "the status bar", |h| has_text(h, &format!("Listening on {addr}")));
    addr
}

pub fn read_line_within(r: &mut BufReader<TcpStream>) -> String {
    r.get_ref().set_read_timeout(Some(DEADLINE)).unwrap();
    let mut line = String::new();
    r.read_line(&mut line).expect("a line before the deadline");
    line
}

/// A server as discovery would report it.
pub fn found_server(name: &str, ip: &str, port: u16, clients: u32) -> FoundServer {
    FoundServer {
        id: format!("{name} (lab:{port})._sockchat._tcp.local."),
        name: name.into(),
        host: "lab-pc.local".into(),
        addrs: vec![ip.parse().unwrap()],
        port,
        mode: Some(sockchat::engine::Mode::Room),
        clients: Some(clients),
        version: "0.1.0".into(),
        tls: false,
    }
}
