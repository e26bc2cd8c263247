//! The window driven as a person would (egui_kittest): clicks, typing, Enter, against a real engine on
//! loopback with raw `TcpStream`/`TcpListener` peers on the other side.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::window::*;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use sockchat::gui::{Phase, SockchatApp, StartRequest};
use sockchat::model::Peer;

#[test]
fn server_shows_a_raw_clients_message_with_host_and_port_and_answers_it() {
    let mut h = app();
    let addr = start_server(&mut h, "duplex");

    let mut peer = TcpStream::connect(addr).unwrap();
    let me = peer.local_addr().unwrap();
    peer.write_all(b"/name zed\nhello from the test\n").unwrap();
    wait_for(&mut h, "the message", |h| has_text(h, "hello from the test"));

    let line = h.get_by_label_contains("hello from the test").value().unwrap_or_default();
    assert!(line.contains(&format!("({me})")), "no ip:port in {line:?}");
    assert!(line.contains("zed"), "no display name in {line:?}");
    let host = line.split_whitespace().nth(1).unwrap_or_default();
    assert!(host == "localhost" || host == "127.0.0.1", "no host in {line:?}");
    wait_for(&mut h, "the client list", |h| has_text(h, "Clients (1)"));

    // Duplex: the send box is live and Enter sends to everyone.
    let edit = h.get_by_label("Message");
    assert!(!edit.accesskit_node().is_disabled());
    edit.focus();
    h.run_steps(1);
    h.get_by_label("Message").type_text("welcome, zed");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    let mut r = BufReader::new(peer.try_clone().unwrap());
    assert!(sockchat::protocol::is_greeting(&read_line_within(&mut r)), "the window's server greets");
    assert_eq!(read_line_within(&mut r).trim_end(), "welcome, zed");
    wait_for(&mut h, "our own line", |h| has_text(h, "you (server) -> everyone: welcome, zed"));

    // Disconnect from the list closes the client's connection.
    h.get_by_label("Disconnect").click();
    wait_for(&mut h, "the list to empty", |h| has_text(h, "Clients (0)"));
    let mut rest = String::new();
    let n = r.read_line(&mut rest).expect("EOF, not an error");
    assert_eq!(n, 0, "still connected: {rest:?}");
}

#[test]
fn client_sends_typed_text_on_enter_and_keeps_focus() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel::<String>();
    let (conn_tx, conn_rx) = mpsc::channel::<TcpStream>();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(2) {
            let Ok(mut conn) = conn else { return };
            // It greets as a sockchat server does, so the window sends the name.
            let _ = writeln!(conn, "{}", sockchat::protocol::greeting("duplex"));
            let _ = conn_tx.send(conn.try_clone().unwrap());
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(conn).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
    });

    let mut h = app();
    h.get_by_label("Client").click();
    h.run_steps(2);
    set_field(&mut h, "Server host", "127.0.0.1");
    set_field(&mut h, "Server port", &port.to_string());
    set_field(&mut h, "Your name", "tess");
    h.get_by_label("Connect").click();
    wait_for(&mut h, "the connection", |h| h.state().in_chat());
    wait_for(&mut h, "focus on the send box", |h| h.get_by_label("Message").is_focused());

    h.get_by_label("Message").type_text("hi server");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while !got.iter().any(|l| l == "hi server") {
        let left = deadline.saturating_duration_since(Instant::now());
        got.push(rx.recv_timeout(left).unwrap_or_else(|_| panic!("server got only {got:?}")));
    }
    assert!(got.contains(&"/name tess".to_string()), "{got:?}");
    wait_for(&mut h, "focus kept after sending", |h| h.get_by_label("Message").is_focused());
    assert_eq!(h.get_by_label("Message").value().unwrap_or_default(), "");

    // The server goes away: a clear state and a Reconnect that works.
    let conn = conn_rx.recv_timeout(DEADLINE).unwrap();
    conn.shutdown(std::net::Shutdown::Both).unwrap();
    drop(conn);
    wait_for(&mut h, "the server-gone state", |h| has_text(h, "The server went away"));
    assert!(h.get_by_label("Message").accesskit_node().is_disabled());
    h.get_by_label("Reconnect").click();
    wait_for(&mut h, "the reconnection", |h| {
        h.state().session.as_ref().is_some_and(|s| s.phase == Phase::Live)
    });
    conn_rx.recv_timeout(DEADLINE).expect("a second connection");
}

#[test]
fn one_way_disables_the_send_box_and_duplex_enables_it() {
    let mut h = app();
    start_server(&mut h, "one-way");
    assert!(h.get_by_label("Message").accesskit_node().is_disabled());
    assert!(has_text(&h, "One-way mode: clients talk, the server only listens"));
    assert!(h.query_by_label("To").is_none(), "no target choice in one-way mode");

    h.get_by_label("Stop server").click();
    wait_for(&mut h, "the stop", |h| has_text(h, "Server stopped."));
    h.get_by_label("Back to start").click();
    h.run_steps(2);
    start_server(&mut h, "room");
    assert!(!h.get_by_label("Message").accesskit_node().is_disabled());
    assert!(!has_text(&h, "One-way mode"));
    assert!(h.query_by_label("To").is_some());
}

#[test]
fn a_port_in_use_is_reported_in_words_and_the_user_can_retry() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut h = app();
    h.get_by_label("Server").click();
    h.run_steps(2);
    set_field(&mut h, "Listen host", "127.0.0.1");
    set_field(&mut h, "Listen port", &port.to_string());
    h.get_by_label("Start server").click();
    wait_for(&mut h, "the error", |h| has_text(h, "port already in use"));
    let err = h.get_by_label_contains("port already in use").value().unwrap_or_default();
    assert!(err.starts_with("Could not start the server"), "{err}");
    assert!(!h.state().in_chat());

    // The error is about that form: another role does not show it, nor does coming back.
    h.get_by_label("Client").click();
    h.run_steps(2);
    assert!(!has_text(&h, "port already in use"), "an old error stays after switching role");
    h.get_by_label("Server").click();
    h.run_steps(2);
    assert!(!has_text(&h, "port already in use"));

    // A new validation error is the only one shown.
    h.get_by_label("Start server").click();
    wait_for(&mut h, "the error again", |h| has_text(h, "port already in use"));
    set_field(&mut h, "Listen port", "abc");
    h.run_steps(2);
    assert!(has_text(&h, "is not a number"));
    assert!(!has_text(&h, "port already in use"), "the old error stays beside a new one");

    // Fix the port and go again.
    set_field(&mut h, "Listen port", "0");
    assert!(!h.get_by_label("Start server").accesskit_node().is_disabled());
    h.get_by_label("Start server").click();
    wait_for(&mut h, "the retry to listen", |h| h.state().in_chat());
}

#[test]
fn fields_are_checked_as_typed() {
    let mut h = app();
    h.get_by_label("Client").click();
    h.run_steps(2);
    set_field(&mut h, "Server host", "");
    assert!(has_text(&h, "host is empty"));
    assert!(h.get_by_label("Connect").accesskit_node().is_disabled());
    set_field(&mut h, "Server host", "127.0.0.1");
    set_field(&mut h, "Server port", "70000");
    assert!(has_text(&h, "port out of range"));
    assert!(h.get_by_label("Connect").accesskit_node().is_disabled());
    set_field(&mut h, "Server port", "7000");
    assert!(!h.get_by_label("Connect").accesskit_node().is_disabled());
}

#[test]
fn a_hundred_thousand_entries_lay_out_only_the_visible_rows() {
    let mut h = app();
    start_server(&mut h, "duplex");
    let from = std::sync::Arc::new(Peer::new(1, "127.0.0.1:5555".parse().unwrap()));
    {
        let s = h.state_mut().session.as_mut().unwrap();
        for i in 0..100_000u64 {
            s.apply(received(&from, i, format!("message number {i}")));
        }
    }
    let t = Instant::now();
    h.run_steps(3);
    let per_frame = t.elapsed() / 3;
    // The view follows the end, and only a screenful of rows exists in the UI tree.
    assert!(has_text(&h, "message number 99999"));
    let rows = h.query_all_by_label_contains("message number ").count();
    assert!(rows > 10 && rows < 200, "{rows} rows laid out");
    assert!(per_frame < Duration::from_secs(2), "a frame took {per_frame:?}");
}

#[test]
fn save_transcript_falls_back_to_a_path_and_writes_json_lines() {
    let mut h = app();
    let addr = start_server(&mut h, "duplex");
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.write_all(b"line to keep\n").unwrap();
    wait_for(&mut h, "the message", |h| has_text(h, "line to keep"));

    let dir = std::env::temp_dir().join(format!("sockchat-gui-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.jsonl");
    h.get_by_label("Save transcript...").click();
    h.run_steps(2);
    h.get_by_label("JSON lines").click();
    h.run_steps(1);
    set_field(&mut h, "File", path.to_str().unwrap());
    h.get_by_label("Save").click();
    wait_for(&mut h, "the save", |h| has_text(h, "Saved "));
    let text = std::fs::read_to_string(&path).unwrap();
    let msgs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "message")
        .collect();
    assert_eq!(msgs.len(), 1, "{text}");
    assert_eq!(msgs[0]["text"], "line to keep");
    assert_eq!(msgs[0]["peer"]["addr"], peer.local_addr().unwrap().to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn started_from_the_command_line_it_listens_at_once_and_logs_every_event() {
    let dir = std::env::temp_dir().join(format!("sockchat-gui-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("events.jsonl");
    let cfg = sockchat::engine::ServerConfig {
        addr: "127.0.0.1:0".into(),
        mode: sockchat::engine::Mode::Room,
        ..Default::default()
    };
    let log_path = log.clone();
    let mut h = Harness::builder().with_size([1000.0, 700.0]).build_eframe(move |cc| {
        SockchatApp::with_start(Some(cc), Some(StartRequest::Server(cfg)), Some(log_path))
            .with_native_dialogs(false)
    });
    wait_for(&mut h, "the server to listen", |h| h.state().in_chat());
    assert_eq!(h.state().settings.mode, sockchat::engine::Mode::Room, "the form remembers what was started");
    let addr = h.state().session.as_ref().and_then(|s| s.local_addr).unwrap();
    assert!(h.state().title().starts_with(&format!("sockchat - server on {addr} (room)")));
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.write_all(b"logged line\n").unwrap();
    wait_for(&mut h, "the message", |h| has_text(h, "logged line"));
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let kinds: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["event"].as_str().unwrap_or_default().to_string())
            .collect();
        if kinds.iter().any(|k| k == "message") {
            assert_eq!(kinds[0], "listening", "{kinds:?}");
            assert!(kinds.contains(&"connected".to_string()), "{kinds:?}");
            break;
        }
        assert!(start.elapsed() < DEADLINE, "log has only {kinds:?}");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(h);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn limits_and_access_from_the_form_reach_the_engine() {
    let mut h = app();
    h.get_by_label("Server").click();
    h.run_steps(2);
    h.get_by_label("Limits and access").click();
    h.run_steps(2);
    set_field(&mut h, "Deny", "10.0.0.0/8 nonsense");
    assert!(has_text(&h, "deny: 'nonsense' is not an address or CIDR block"));
    assert!(h.get_by_label("Start server").accesskit_node().is_disabled(), "a bad list blocks Start");
    set_field(&mut h, "Deny", "10.0.0.0/8");
    set_field(&mut h, "Most clients", "1");
    let addr = start_server(&mut h, "one-way");
    let first = TcpStream::connect(addr).unwrap();
    wait_for(&mut h, "the first client", |h| has_text(h, "Clients (1)"));
    let second = TcpStream::connect(addr).unwrap();
    let mut r = BufReader::new(second);
    assert_eq!(read_line_within(&mut r).trim_end(), "sockchat: server full (1 clients), try again later");
    let who = r.get_ref().local_addr().unwrap();
    wait_for(&mut h, "the refusal in the chat", |h| has_text(h, &format!("refused {who}: server full")));
    drop(first);
}

#[test]
fn scrolling_up_stops_following_and_jump_to_latest_comes_back() {
    let mut h = app();
    start_server(&mut h, "duplex");
    let from = std::sync::Arc::new(Peer::new(1, "127.0.0.1:5555".parse().unwrap()));
    let feed = |h: &mut Harness<'static, SockchatApp>, range: std::ops::Range<u64>| {
        let s = h.state_mut().session.as_mut().unwrap();
        for i in range {
            s.apply(received(&from, i, format!("line number {i:04}")));
        }
    };
    feed(&mut h, 0..1000);
    h.run_steps(3);
    assert!(has_text(&h, "line number 0999"), "following the newest line");
    assert!(!has_text(&h, "Jump to latest"));

    h.hover_at(egui::pos2(300.0, 300.0));
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 3000.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(10);
    assert!(!has_text(&h, "line number 0999"), "scrolled up, away from the newest line");
    assert!(has_text(&h, "Jump to latest"));

    // New lines no longer move the view; the button counts them.
    feed(&mut h, 1000..1005);
    h.run_steps(3);
    assert!(!has_text(&h, "line number 1004"));
    assert!(has_text(&h, "Jump to latest (5 new)"));

    h.get_by_label_contains("Jump to latest").click();
    h.run_steps(5);
    assert!(has_text(&h, "line number 1004"), "back at the newest line");
    assert!(!has_text(&h, "Jump to latest"));
    // And following again: the next line shows without scrolling.
    feed(&mut h, 1005..1006);
    h.run_steps(3);
    assert!(has_text(&h, "line number 1005"));
}

/// A flood into the window: the history stays within its limit, older lines leave with a marker that
/// says how many, no line is lost on the way (every one is either shown or counted as left), and a saved
/// transcript says what it no longer holds.
#[test]
fn a_flood_keeps_the_history_bounded_and_says_how_much_left() {
    use sockchat::gui::chat::{ChatLog, HistoryLimit};
    let mut h = app();
    let addr = start_server(&mut h, "one-way");
    let limit = HistoryLimit { entries: 1_000, text_bytes: 1 << 20 };
    h.state_mut().session.as_mut().unwrap().chat = ChatLog::with_limit(limit);
    let lines = 50_000u64;
    let flood = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut all = Vec::new();
        for i in 0..lines {
            all.extend_from_slice(format!("flood {i}\n").as_bytes());
        }
        s.write_all(&all).unwrap();
        s
    });
    let start = Instant::now();
    loop {
        h.run_steps(1);
        let chat = &h.state().session.as_ref().unwrap().chat;
        assert!(chat.len() <= limit.entries, "{} entries kept", chat.len());
        if has_text(&h, &format!("flood {}", lines - 1)) {
            break;
        }
        assert!(start.elapsed() < DEADLINE * 3, "the last flooded line did not show");
    }
    let _peer = flood.join().unwrap();
    let chat = &h.state().session.as_ref().unwrap().chat;
    // `connected` and every line (`listening` came before the history was swapped for a small one): each
    // is either still in the history or counted as left.
    assert_eq!(chat.trimmed() + chat.len(), lines as usize + 1, "connected and every line");
    let note = chat.trimmed_note().expect("a note once lines have left");
    assert!(note.starts_with(&format!("{} earlier lines left", chat.trimmed())), "{note}");
    assert!(has_text(&h, "earlier lines left this history"));

    let s = h.state().session.as_ref().unwrap();
    let text = sockchat::gui::save::render(
        &s.chat.events(),
        &s.known,
        sockchat::gui::save::Format::Text,
        Some(&note),
    );
    assert!(text.starts_with(&format!("# {note}\n")));
    assert!(text.trim_end().ends_with(&format!("flood {}", lines - 1)));
}

/// The client list's colour dots as drawn in the last frame, top to bottom.
fn dot_colours(h: &Harness<'static, SockchatApp>) -> Vec<egui::Color32> {
    fn walk(shape: &egui::Shape, out: &mut Vec<(f32, egui::Color32)>) {
        match shape {
            egui::Shape::Vec(v) => v.iter().for_each(|s| walk(s, out)),
            egui::Shape::Circle(c) if c.radius == 5.0 => out.push((c.center.y, c.fill)),
            _ => {}
        }
    }
    let mut dots = Vec::new();
    for c in &h.output().shapes {
        walk(&c.shape, &mut dots);
    }
    dots.sort_by(|a, b| a.0.total_cmp(&b.0));
    dots.into_iter().map(|d| d.1).collect()
}

fn distinct(colours: &[egui::Color32]) -> usize {
    colours.iter().collect::<std::collections::HashSet<_>>().len()
}

#[test]
fn twelve_clients_get_twelve_colours_and_one_that_leaves_frees_its_colour() {
    let mut h = Harness::builder()
        .with_size([1000.0, 1900.0])
        .build_eframe(|cc| SockchatApp::new(Some(cc), None).with_native_dialogs(false));
    let addr = start_server(&mut h, "room");
    let mut clients: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(addr).unwrap()).collect();
    wait_for(&mut h, "twelve clients", |h| has_text(h, "Clients (12)"));
    h.run_steps(2);
    let dots = dot_colours(&h);
    assert_eq!(dots.len(), 12, "one dot per client: {dots:?}");
    assert_eq!(distinct(&dots), 12, "twelve connected clients, twelve colours: {dots:?}");

    // The server closes the fifth (a client that only closes its side would stay, finished sending).
    h.get_all_by_label("Disconnect").nth(4).unwrap().click();
    wait_for(&mut h, "the leaver to go", |h| has_text(h, "Clients (11)"));
    h.run_steps(2);
    let left = dot_colours(&h);
    assert_eq!(left.len(), 11);
    let freed: Vec<_> = dots.iter().filter(|c| !left.contains(c)).collect();
    assert_eq!(freed, [&dots[4]], "the others keep their colours");

    clients.push(TcpStream::connect(addr).unwrap());
    wait_for(&mut h, "the newcomer", |h| has_text(h, "Clients (12)"));
    h.run_steps(2);
    let now = dot_colours(&h);
    assert_eq!(distinct(&now), 12, "{now:?}");
    assert_eq!(now.last(), Some(&dots[4]), "the newcomer (last in the list) gets the freed colour");
}

#[test]
fn the_servers_private_line_is_marked_in_both_windows() {
    // Wide enough that the server's line, which names the client in full, is one row.
    let mut srv = Harness::builder()
        .with_size([1600.0, 700.0])
        .build_eframe(|cc| SockchatApp::new(Some(cc), None).with_native_dialogs(false));
    let addr = start_server(&mut srv, "duplex");
    let mut cli = app();
    cli.get_by_label("Client").click();
    cli.run_steps(2);
    set_field(&mut cli, "Server host", "127.0.0.1");
    set_field(&mut cli, "Server port", &addr.port().to_string());
    set_field(&mut cli, "Your name", "tess");
    cli.get_by_label("Connect").click();
    wait_for(&mut cli, "the connection", |h| h.state().in_chat());
    wait_for(&mut srv, "tess in the list", |h| {
        h.state()
            .session
            .as_ref()
            .is_some_and(|s| s.clients.values().any(|c| c.peer.name.as_deref() == Some("tess")))
    });

    srv.get_by_label("Send to this one").click();
    srv.run_steps(2);
    srv.get_by_label("Message").focus();
    srv.run_steps(1);
    srv.get_by_label("Message").type_text("see me after class");
    srv.key_press(egui::Key::Enter);
    wait_for(&mut srv, "the server's line", |h| has_text(h, "see me after class"));
    let own = srv.get_by_label_contains("see me after class").value().unwrap_or_default();
    assert!(own.contains(" you (server) -> ") && own.contains(" tess only (private): "), "{own:?}");

    wait_for(&mut cli, "the private line at the client", |h| has_text(h, "see me after class"));
    let got = cli.get_by_label_contains("see me after class").value().unwrap_or_default();
    assert!(got.contains(&format!(" ({addr}) (private: to you only): see me after class")), "{got:?}");
    assert!(got.split_whitespace().nth(1) == Some("server"), "labelled as the server's: {got:?}");

    // Back to everyone: still the server's, no longer private.
    srv.get_by_label("Sending to this one").click();
    srv.run_steps(2);
    srv.get_by_label("Message").focus();
    srv.run_steps(1);
    srv.get_by_label("Message").type_text("hello all");
    srv.key_press(egui::Key::Enter);
    wait_for(&mut srv, "the line to all", |h| has_text(h, "you (server) -> everyone: hello all"));
    wait_for(&mut cli, "the line to all at the client", |h| has_text(h, "hello all"));
    let got = cli.get_by_label_contains("hello all").value().unwrap_or_default();
    assert!(got.contains(&format!(" ({addr}): hello all")) && !got.contains("private"), "{got:?}");
    assert!(got.split_whitespace().nth(1) == Some("server"), "{got:?}");
}

/// The harness panics on a glyph its fonts lack, so drawing these lines at all shows that emoji have
/// glyphs; the font check says it of each character in both families.
#[test]
fn emoji_in_lines_names_the_list_and_the_send_box_are_drawn_with_glyphs() {
    let mut h = app();
    let addr = start_server(&mut h, "duplex");
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.write_all("/name ann🎉\nparty 🎉 time 😀 ❤ 👍 😊\n".as_bytes()).unwrap();
    wait_for(&mut h, "the emoji line", |h| has_text(h, "party 🎉 time 😀 ❤ 👍 😊"));
    wait_for(&mut h, "the emoji name in the list", |h| h.query_all_by_label("ann🎉").next().is_some());
    h.get_by_label("Message").focus();
    h.run_steps(1);
    h.get_by_label("Message").type_text("thanks 🙏");
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    let mut r = BufReader::new(peer.try_clone().unwrap());
    assert!(sockchat::protocol::is_greeting(&read_line_within(&mut r)));
    assert_eq!(read_line_within(&mut r).trim_end(), "thanks 🙏");
    wait_for(&mut h, "our emoji line", |h| has_text(h, "you (server) -> everyone: thanks 🙏"));
    for family in [egui::FontFamily::Monospace, egui::FontFamily::Proportional] {
        let font = egui::FontId::new(14.0, family);
        for c in "🎉😀❤👍😊🙏".chars() {
            assert!(h.ctx.fonts_mut(|f| f.has_glyph(&font, c)), "no glyph for {c:?} in {font:?}");
        }
    }
}
