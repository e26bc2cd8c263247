//! The panel driven as a person would (egui_kittest), fed made-up calls: a session without an engine gets
//! the events a real one would send, in the order it sends them.

use std::sync::Arc;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use crate::calls::{Call, CallState, Lane, TcpConn};
use crate::engine::{ClientConfig, ServerConfig, Step, TraceMode};
use crate::gui::{Session, SockchatApp, StartRequest};
use crate::model::{self, Event, Message, Origin, Peer};

fn app(request: StartRequest) -> Harness<'static, SockchatApp> {
    let mut h = Harness::builder().with_size([1280.0, 800.0]).build_eframe(move |cc| {
        let mut app = SockchatApp::new(Some(cc), None).with_native_dialogs(false);
        app.settings.calls_open = true;
        app.session = Some(Session::without_engine(request.clone()));
        app
    });
    h.run_steps(1);
    h
}

fn server() -> Harness<'static, SockchatApp> {
    let mut h = app(StartRequest::Server(ServerConfig { addr: "[::]:7878".into(), ..Default::default() }));
    let addr = "[::]:7878".parse().unwrap();
    feed(&mut h, Event::Listening { time: model::now(), addr, addrs: vec![addr], fds: None, tls: None });
    h
}

fn feed(h: &mut Harness<'static, SockchatApp>, ev: Event) {
    h.state_mut().session.as_mut().expect("a session").apply(ev);
    h.run_steps(2);
}

/// What a node says: a label's text is its value, a row's its label.
fn text(n: &egui_kittest::Node<'_>) -> String {
    let a = n.accesskit_node();
    a.label().or_else(|| a.value()).unwrap_or_default()
}

/// A timeline row drawn highlighted (egui tells accessibility tools "toggled").
fn on(n: &egui_kittest::Node<'_>) -> bool {
    n.accesskit_node().toggled() == Some(egui::accesskit::Toggled::True)
}

fn session<'a>(h: &'a Harness<'static, SockchatApp>) -> &'a Session {
    h.state().session.as_ref().expect("a session")
}

fn call(id: u64, lane: Lane, name: &'static str, args: &str, state: CallState, data: Option<&[u8]>) -> Event {
    let call = Call {
        id,
        us: id * 1_000,
        thread: "sockchat-test".into(),
        name,
        args: args.into(),
        fd: Some(if lane == Lane::Listener { 3 } else { 7 }),
        peer: matches!(lane, Lane::Conn(_)).then(|| "127.0.0.1:40266".parse().unwrap()),
        lane,
        state,
        data: data.map(Arc::from),
        lost_before: 0,
    };
    Event::Call { time: model::now(), call: Arc::new(call) }
}

fn ok(result: &str) -> CallState {
    CallState::Returned { result: result.into(), took_us: 10 }
}

fn ann() -> Arc<Peer> {
    let mut p = Peer::new(1, "127.0.0.1:40266".parse().unwrap());
    p.name = Some("ann".into());
    Arc::new(p)
}

fn message(from: &Arc<Peer>, seq: u64, text: &str) -> Event {
    let origin = Origin::Remote { from: from.clone(), relayed: false };
    Event::Message(Message {
        seq,
        time: model::now(),
        origin,
        text: text.into(),
        truncated: false,
        private: false,
    })
}

/// A client `ann` whose "hello" came split over two recvs, then "bye" in a third.
fn split_line(h: &mut Harness<'static, SockchatApp>) {
    let ann = ann();
    feed(h, call(4, Lane::Listener, "accept", "fd 3", ok("fd 7 from 127.0.0.1:40266"), None));
    feed(h, Event::Connected { time: model::now(), peer: ann.clone() });
    feed(h, call(5, Lane::Conn(1), "recv", "fd 7, 16384", ok("3 bytes"), Some(b"hel")));
    feed(h, call(6, Lane::Conn(1), "recv", "fd 7, 16384", ok("4 bytes"), Some(b"lo\r\n")));
    feed(h, message(&ann, 1, "hello"));
    feed(h, call(7, Lane::Conn(1), "recv", "fd 7, 16384", ok("4 bytes"), Some(b"bye\n")));
    feed(h, message(&ann, 2, "bye"));
}

#[test]
fn the_panel_shows_lanes_and_a_waiting_accept_with_its_elapsed_time() {
    let mut h = server();
    feed(&mut h, call(1, Lane::Setup, "socket", "AF_INET6, SOCK_STREAM", ok("fd 3"), None));
    feed(&mut h, call(2, Lane::Setup, "listen", "fd 3, 128", ok("0"), None));
    feed(&mut h, call(3, Lane::Listener, "accept", "fd 3", CallState::Waiting, None));
    assert_eq!(h.get_all_by_label("Socket calls").count(), 2, "the bar's switch and the panel's title");
    assert!(h.query_by_label_contains("socket(AF_INET6, SOCK_STREAM) = fd 3").is_some());
    let waiting = text(&h.get_by_label_contains("accept(fd 3) waiting"));
    let secs = waiting.rsplit("waiting ").next().and_then(|t| t.strip_suffix(" s"));
    assert!(secs.is_some_and(|t| t.parse::<f64>().is_ok()), "no elapsed time in {waiting:?}");
    assert!(h.query_by_label_contains("listening socket fd 3").is_some(), "no listener lane");

    // It returns: the same row now shows the result, no longer waiting.
    feed(&mut h, call(3, Lane::Listener, "accept", "fd 3", ok("fd 7 from 127.0.0.1:40266"), None));
    assert!(h.query_by_label_contains("accept(fd 3) waiting").is_none());
    assert!(h.query_by_label_contains("accept(fd 3) = fd 7 from 127.0.0.1:40266").is_some());
    assert_eq!(session(&h).calls.len(), 3);
}

#[test]
fn a_flood_shows_merged_and_calls_not_recorded_say_so() {
    let mut h = server();
    split_line(&mut h);
    let merged = CallState::Merged { count: 4120, bytes: 86_520, span_us: 1_000_000 };
    feed(&mut h, call(8, Lane::Conn(1), "recv", "fd 7", merged, None));
    let Event::Call { call: c, time } =
        call(9, Lane::Conn(1), "recv", "fd 7", ok("5 bytes"), Some(b"late\n"))
    else {
        unreachable!()
    };
    let lost = Arc::new(Call { lost_before: 3, ..(*c).clone() });
    feed(&mut h, Event::Call { time, call: lost });
    assert!(h.query_by_label_contains("x 4120 = 86520 bytes in 1.0 s (merged").is_some());
    assert!(h.query_by_label_contains("[3 not recorded] recv(fd 7) = 5 bytes").is_some());
    assert!(h.query_by_label_contains("3 calls were not recorded").is_some(), "no note above the timeline");
}

#[test]
fn a_closed_connection_keeps_its_lane_greyed() {
    let mut h = server();
    split_line(&mut h);
    let lane = |h: &Harness<'static, SockchatApp>| text(&h.get_by_label_contains("ann fd 7"));
    assert!(!lane(&h).contains("(closed)"));
    feed(&mut h, call(8, Lane::Conn(1), "recv", "fd 7, 16384", ok("0 bytes (end of file)"), Some(b"")));
    feed(&mut h, call(9, Lane::Conn(1), "close", "fd 7", ok("0"), None));
    let reason = model::DisconnectReason::Closed;
    feed(&mut h, Event::Disconnected { time: model::now(), peer: ann(), reason });
    assert!(lane(&h).contains("(closed)"), "{}", lane(&h));
    assert!(session(&h).calls.lanes().iter().any(|l| l.closed && l.key.lane == Lane::Conn(1)));
    // Its calls stay in the timeline.
    assert!(h.query_all_by_label_contains("recv(fd 7, 16384) = 4 bytes").next().is_some());
}

#[test]
fn clicking_a_message_highlights_its_recvs_and_a_recv_its_messages() {
    let mut h = server();
    split_line(&mut h);
    h.get_by_label_contains("ann: hello").click();
    h.run_steps(2);
    let selected =
        |h: &Harness<'static, SockchatApp>, text: &str| h.get_all_by_label_contains(text).any(|n| on(&n));
    assert!(selected(&h, "= 3 bytes") && selected(&h, "= 4 bytes"), "the recvs of hello are not highlighted");
    assert!(!h.get_all_by_label_contains("bye").any(|n| on(&n)));

    // The other way: the third recv carried "bye", which the chat highlights.
    let rows: Vec<_> = h.get_all_by_label("recv(fd 7, 16384) = 4 bytes").collect();
    assert_eq!(rows.len(), 2);
    rows[1].click();
    h.run_steps(2);
    let s = session(&h);
    let bye = s.chat.next_number() - 1;
    assert_eq!(s.chat.highlight, std::collections::HashSet::from([bye]));
    assert!(h.query_by_label_contains("It carried bytes of 1 chat message").is_some());
}

#[test]
fn the_bytes_view_shows_a_split_line_in_hex_with_its_line_end_marked() {
    let mut h = server();
    split_line(&mut h);
    h.get_by_label_contains("ann: hello").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("arrived in 2 recv calls").is_some());
    assert!(h.query_by_label_contains("0000  68 65 6c").is_some(), "no hex of the first recv");
    let second = text(&h.get_by_label_contains("0000  6c 6f 0d 0a"));
    assert!(second.ends_with("lo\u{2190}\u{21b5}"), "line end not marked in {second:?}");
    let link = session(&h).calls.link(session(&h).chat.next_number() - 2).cloned().expect("a link");
    assert_eq!(link.range, Some((0, 4)));
}

#[test]
fn selecting_accept_explains_it_with_fork_and_threads() {
    let mut h = server();
    split_line(&mut h);
    h.get_by_label_contains("accept(fd 3) = fd 7").click();
    h.run_steps(2);
    let differs = text(&h.get_by_label_contains("fork()"));
    assert!(differs.contains("thread"), "{differs:?}");
    assert!(h.query_by_label_contains("In the classic server.c").is_some());
    assert!(h.query_by_label_contains("accept(lfd").is_some(), "no line of server.c");
}

#[test]
fn over_tls_a_recv_says_its_bytes_are_ciphertext_and_a_message_points_at_none() {
    let mut h = server();
    let mut p = (*ann()).clone();
    p.tls = Some(crate::trust::TlsInfo {
        version: "TLS 1.3".into(),
        cipher: "TLS13_AES_256_GCM_SHA384".into(),
        server_cert: None,
    });
    let ann = Arc::new(p);
    feed(&mut h, call(4, Lane::Listener, "accept", "fd 3", ok("fd 7 from 127.0.0.1:40266"), None));
    feed(&mut h, Event::Connected { time: model::now(), peer: ann.clone() });
    // One TLS record that carried "hello": header, ciphertext (a line end among it), tag.
    let record = b"\x17\x03\x03\x00\x1c\x5e\x0ah\x91\x0a\x33\x0c\xaa\xbb\xcc\xdd\xee\xff\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa";
    feed(&mut h, call(5, Lane::Conn(1), "recv", "fd 7, 16384", ok("33 bytes"), Some(record)));
    feed(&mut h, message(&ann, 1, "hello"));
    h.get_by_label_contains("recv(fd 7, 16384) = 33 bytes").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("encrypted (TLS), so the bytes are TLS records").is_some());
    h.get_by_label_contains("ann: hello").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("as ciphertext, so no byte of it can be pointed at").is_some());
    let link = session(&h).calls.link(session(&h).chat.next_number() - 1).cloned().expect("a link");
    assert_eq!((link.recvs.len(), link.range), (1, None), "linked to its recv, no byte range");
}

#[test]
fn the_detail_keeps_its_share_of_the_panel_when_the_window_grows_or_shrinks() {
    let mut h = server();
    split_line(&mut h);
    h.get_by_label_contains("accept(fd 3) = fd 7").click();
    h.run_steps(2);
    // How far above the window's bottom the explanation starts: the detail's height, less its heading.
    let room = |h: &mut Harness<'static, SockchatApp>, height: f32| {
        h.set_size(egui::vec2(1280.0, height));
        h.run_steps(3);
        height - h.get_by_label("What it does:").rect().top()
    };
    let tall = room(&mut h, 800.0);
    let short = room(&mut h, 400.0);
    assert!(short < 0.7 * tall && short < 150.0, "the detail kept {short} of 400 px (had {tall} of 800)");
    let taller = room(&mut h, 1000.0);
    assert!(taller > 2.0 * short, "a taller window gave the detail {taller} px (had {short})");
}

#[test]
fn step_mode_shows_the_paused_call_and_next_call_answers_it_once() {
    let cfg = ClientConfig { addr: "127.0.0.1:7878".into(), trace: TraceMode::Step, ..Default::default() };
    let mut h = app(StartRequest::Client(cfg));
    assert!(h.state().in_chat(), "step mode shows the panel before the connection is up");
    feed(&mut h, call(1, Lane::Setup, "socket", "AF_INET, SOCK_STREAM", CallState::Paused, None));
    // In the step bar and, as the next call, in the timeline.
    assert_eq!(h.get_all_by_label_contains("socket(AF_INET, SOCK_STREAM)").count(), 2);
    h.get_by_label("Next call").click();
    h.run_steps(2);
    assert_eq!(session(&h).calls.answered(), Some(Step::Next));
    assert!(h.get_by_label("Next call").accesskit_node().is_disabled(), "a second click would skip a pause");

    // The engine makes it; the next one pauses; Enter answers it, Run ends the pauses.
    feed(&mut h, call(1, Lane::Setup, "socket", "AF_INET, SOCK_STREAM", ok("fd 3"), None));
    assert!(h.query_by_label("Next call").is_none());
    feed(&mut h, call(2, Lane::Setup, "connect", "fd 3, 127.0.0.1:7878", CallState::Paused, None));
    h.key_press(egui::Key::Enter);
    h.run_steps(1);
    assert_eq!(session(&h).calls.answered(), Some(Step::Next));
    feed(&mut h, call(2, Lane::Setup, "connect", "fd 3, 127.0.0.1:7878", CallState::Waiting, None));
    feed(&mut h, call(3, Lane::Setup, "recv", "fd 3", CallState::Paused, None));
    h.get_by_label("Run").click();
    h.run_steps(1);
    assert_eq!(session(&h).calls.answered(), Some(Step::Run));
}

#[test]
fn tcp_state_shows_in_the_client_list() {
    let mut h = server();
    split_line(&mut h);
    let conn = TcpConn { lane: Lane::Conn(1), fd: 7, state: Some("CLOSE_WAIT"), rtt_us: Some(120) };
    feed(&mut h, Event::Tcp { time: model::now(), conns: vec![conn] });
    assert!(h.query_by_label("TCP CLOSE_WAIT, rtt 0.1 ms").is_some(), "not in the client list");
}

#[test]
fn tcp_state_shows_in_the_clients_status_bar() {
    let cfg = ClientConfig { addr: "127.0.0.1:7878".into(), ..Default::default() };
    let mut h = app(StartRequest::Client(cfg));
    let server = Arc::new(Peer::new(0, "127.0.0.1:7878".parse().unwrap()));
    feed(&mut h, Event::Connected { time: model::now(), peer: server });
    let conn = TcpConn { lane: Lane::Conn(0), fd: 3, state: Some("ESTABLISHED"), rtt_us: Some(80) };
    feed(&mut h, Event::Tcp { time: model::now(), conns: vec![conn] });
    assert!(h.query_by_label_contains("|  TCP ESTABLISHED, rtt 0.1 ms").is_some());
}

#[test]
fn the_clients_lane_names_the_server_once_and_its_host_when_known() {
    let cfg = ClientConfig { addr: "127.0.0.1:7878".into(), ..Default::default() };
    let mut h = app(StartRequest::Client(cfg));
    let mut server = Peer::new(0, "127.0.0.1:7878".parse().unwrap());
    server.server = true;
    feed(&mut h, call(1, Lane::Conn(0), "recv", "fd 3, 16384", CallState::Waiting, None));
    feed(&mut h, Event::Connected { time: model::now(), peer: Arc::new(server.clone()) });
    let title = |h: &Harness<'static, SockchatApp>| {
        session(h).calls.lanes().iter().find(|l| l.key.lane == Lane::Conn(0)).map(|l| l.title.clone())
    };
    assert_eq!(title(&h).as_deref(), Some("server 127.0.0.1:7878"));
    server.host = Some("lab-pc".into());
    feed(&mut h, Event::PeerUpdated { time: model::now(), peer: Arc::new(server) });
    assert_eq!(title(&h).as_deref(), Some("server lab-pc (127.0.0.1:7878)"));
}

// Against the real engine on loopback: what the panel shows comes from the calls really made.

fn live_app() -> Harness<'static, SockchatApp> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| SockchatApp::new(Some(cc), None).with_native_dialogs(false))
}

/// Runs frames until `cond` holds, for at most 10 s.
fn wait_for(
    h: &mut Harness<'static, SockchatApp>,
    what: &str,
    cond: impl Fn(&Harness<'static, SockchatApp>) -> bool,
) {
    let start = std::time::Instant::now();
    loop {
        h.run_steps(1);
        if cond(h) {
            return;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn start_live_server(h: &mut Harness<'static, SockchatApp>, step: bool) {
    h.get_by_label("Server").click();
    h.run_steps(1);
    h.get_by_label("Listen host").set_text_value_accesskit("127.0.0.1");
    h.get_by_label("Listen port").set_text_value_accesskit("0");
    h.get_by_label("duplex").click();
    if step {
        h.get_by_label("Step mode: pause before each set-up call").click();
    }
    h.run_steps(2);
    h.get_by_label("Start server").click();
    h.run_steps(2);
}

#[test]
fn step_mode_from_the_start_screen_pauses_each_set_up_call_and_a_client_connects_before_accept() {
    let mut h = live_app();
    start_live_server(&mut h, true);
    assert!(h.state().settings.calls_open, "step mode opens the panel");
    // socket, setsockopt, bind, listen: each waits for Next call.
    let mut made = Vec::new();
    while session(&h).local_addr.is_none() {
        wait_for(&mut h, "a paused call", |h| {
            h.query_by_label("Next call").is_some_and(|n| !n.accesskit_node().is_disabled())
                || h.state()
                    .session
                    .as_ref()
                    .is_some_and(|s| s.calls.paused().is_some_and(|r| r.call.name == "accept"))
        });
        let name = session(&h).calls.paused().map(|r| r.call.name).unwrap_or_default();
        if name == "accept" {
            break;
        }
        made.push(name);
        h.get_by_label("Next call").click();
        h.run_steps(1);
        assert!(made.len() < 12, "too many pauses: {made:?}");
    }
    assert_eq!(made.first(), Some(&"socket"), "{made:?}");
    assert!(made.contains(&"bind") && made.contains(&"listen"), "{made:?}");
    wait_for(&mut h, "listening", |h| h.state().session.as_ref().is_some_and(|s| s.local_addr.is_some()));
    wait_for(&mut h, "accept to pause", |h| {
        h.state().session.as_ref().is_some_and(|s| s.calls.paused().is_some_and(|r| r.call.name == "accept"))
    });
    let addr = session(&h).local_addr.expect("listening");
    // The backlog: the kernel completes the handshake although accept() has not run.
    let peer = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5));
    assert!(peer.is_ok(), "connect before accept: {peer:?}");
    assert!(session(&h).clients.is_empty());
    h.get_by_label("Run").click();
    wait_for(&mut h, "the client in the list", |h| {
        h.state().session.as_ref().is_some_and(|s| s.clients.len() == 1)
    });
    assert!(h.query_by_label("Next call").is_none(), "Run ends the pauses");
}

#[test]
fn a_real_line_sent_in_two_writes_shows_both_recvs_and_the_tcp_state() {
    use std::io::Write;
    let mut h = live_app();
    h.state_mut().settings.calls_open = true;
    start_live_server(&mut h, false);
    wait_for(&mut h, "listening", |h| h.state().session.as_ref().is_some_and(|s| s.local_addr.is_some()));
    let addr = session(&h).local_addr.expect("listening");
    let mut peer = std::net::TcpStream::connect(addr).unwrap();
    peer.set_nodelay(true).unwrap();
    let recvs = |h: &Harness<'static, SockchatApp>| {
        let s = h.state().session.as_ref().expect("a session");
        let (a, b) = s.calls.span();
        (a..b)
            .filter(|r| s.calls.row(*r).is_some_and(|r| r.call.name == "recv" && r.call.data.is_some()))
            .count()
    };
    peer.write_all(b"half a li").unwrap();
    wait_for(&mut h, "the first recv", |h| recvs(h) == 1);
    peer.write_all(b"ne\n").unwrap();
    wait_for(&mut h, "the message", |h| h.query_by_label_contains(": half a line").is_some());
    h.get_by_label_contains(": half a line").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("arrived in 2 recv calls").is_some());
    assert!(h.query_by_label_contains("6e 65 0a").is_some(), "no hex of the second recv");

    // The kernel's state, asked for once a second while the panel is open.
    wait_for(&mut h, "ESTABLISHED", |h| h.query_all_by_label_contains("TCP ESTABLISHED").next().is_some());
    // The client closes its side: the server's end waits in CLOSE_WAIT until the server closes.
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    wait_for(&mut h, "CLOSE_WAIT", |h| h.query_all_by_label_contains("TCP CLOSE_WAIT").next().is_some());
}

#[test]
fn in_step_mode_a_failing_bind_stays_on_screen_with_its_errno() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut h = live_app();
    h.get_by_label("Server").click();
    h.run_steps(1);
    h.get_by_label("Listen host").set_text_value_accesskit("127.0.0.1");
    h.get_by_label("Listen port").set_text_value_accesskit(&port.to_string());
    h.get_by_label("Step mode: pause before each set-up call").click();
    h.run_steps(2);
    h.get_by_label("Start server").click();
    let failed =
        |h: &Harness<'static, SockchatApp>| h.query_all_by_label_contains("EADDRINUSE").next().is_some();
    for _ in 0..10 {
        wait_for(&mut h, "a pause or the failure", |h| {
            failed(h) || h.query_by_label("Next call").is_some_and(|n| !n.accesskit_node().is_disabled())
        });
        if failed(&h) {
            break;
        }
        h.get_by_label("Next call").click();
        h.run_steps(1);
    }
    assert!(failed(&h), "no bind = EADDRINUSE in the panel");
    wait_for(&mut h, "the session to end", |h| {
        h.state().session.as_ref().is_some_and(|s| matches!(s.phase, crate::gui::Phase::Ended(_)))
    });
    assert!(h.state().in_chat(), "the failure went back to the start screen, taking the calls with it");
    assert!(h.query_by_label("Back to start").is_some());
    drop(taken);
}
