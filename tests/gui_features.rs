//! The window around the chat, driven as a person would (egui_kittest): servers found on the network,
//! the address banner, projector mode, the unread count, the save form, the client list, find in
//! history, the theme, TLS on the forms, and settings kept per role.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;

use common::window::*;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use sockchat::engine::discovery::{BrowseEvent, FoundServer};
use sockchat::gui::{SockchatApp, StartRequest};
use sockchat::model::{Event, Peer};

#[test]
fn found_servers_fill_the_form_join_and_leave_the_list() {
    // A real server to join, on loopback; the "browser" is a channel the test feeds.
    let (mut h, browser, listener, port) = app_with_browser();
    h.get_by_label("Client").click();
    h.run_steps(2);
    assert!(has_text(&h, "Looking for servers"), "an empty list says it is looking");
    assert!(has_text(&h, "UDP port 5353"), "the list says what to check when a server is missing");

    let far = found_server("Room 101", "192.0.2.7", 7999, 3);
    browser.send(BrowseEvent::Found(far.clone())).unwrap();
    browser.send(BrowseEvent::Found(found_server("Lab B", "127.0.0.1", port, 0))).unwrap();
    h.run_steps(2);
    assert!(has_text(&h, "Room 101") && has_text(&h, "room · 3 connected"));
    assert!(has_text(&h, "lab-pc.local · 192.0.2.7:7999"));

    // One click fills host and port.
    h.get_all_by_label("Use").next().expect("a Use button").click();
    h.run_steps(2);
    let s = &h.state().settings;
    assert_eq!((s.client_host.as_str(), s.client_port.as_str()), ("192.0.2.7", "7999"));
    assert!(!h.state().in_chat() && h.state().session.is_none(), "Use only fills the form");

    // A client joins it: the count follows. Then it goes away and leaves the list.
    browser.send(BrowseEvent::Updated(found_server("Room 101", "192.0.2.7", 7999, 4))).unwrap();
    h.run_steps(2);
    assert!(has_text(&h, "room · 4 connected"));
    browser.send(BrowseEvent::Lost(far.id)).unwrap();
    h.run_steps(2);
    assert!(!has_text(&h, "Room 101"), "a lost server leaves the list");
    assert!(has_text(&h, "Lab B"));

    // Join fills the form and connects.
    h.get_by_label("Join").click();
    listener.set_nonblocking(false).unwrap();
    let (tx, accepted) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(listener.accept().map(|(s, _)| s));
    });
    wait_for(&mut h, "the chat to open", |h| h.state().in_chat());
    assert!(accepted.recv_timeout(DEADLINE).expect("the server was reached").is_ok());
    assert_eq!(h.state().settings.client_port, port.to_string());
}

#[test]
fn a_browser_that_cannot_start_says_why_and_the_form_still_works() {
    let (browser, rx) = crossbeam_channel::unbounded();
    let mut h = app();
    h.state_mut().found.attach(rx);
    h.get_by_label("Client").click();
    browser.send(BrowseEvent::Off("cannot start multicast DNS: no network".into())).unwrap();
    h.run_steps(2);
    assert!(has_text(&h, "Looking for servers is off: cannot start multicast DNS: no network"));
    assert!(!h.get_by_label("Connect").accesskit_node().is_disabled(), "the typed address still works");
}

// ---- In the classroom: the address banner, host:port in the form, projector mode (issue 10) ----

#[test]
fn a_running_server_shows_where_to_connect_with_a_copy_button() {
    let mut h = app();
    let addr = start_server(&mut h, "room");
    // Bound to one address, that is the one to give.
    assert!(has_text(&h, "Connect to"));
    assert!(h.query_by_label(&addr.to_string()).is_some(), "no banner for {addr}");
    h.get_by_label("Copy").click();
    h.run_steps(1);
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .any(|c| *c == egui::OutputCommand::CopyText(addr.to_string()));
    assert!(copied, "{addr} not copied: {:?}", h.output().platform_output.commands);

    // On a wildcard the engine hands every interface's address; a stopped server shows none.
    let others: Vec<SocketAddr> =
        vec!["192.0.2.1:7878".parse().unwrap(), "[2001:db8::1]:7878".parse().unwrap()];
    let wildcard = "[::]:7878".parse().unwrap();
    let ev = Event::Listening {
        time: sockchat::model::now(),
        addr: wildcard,
        addrs: others,
        fds: None,
        tls: None,
    };
    h.state_mut().session.as_mut().unwrap().apply(ev);
    h.run_steps(2);
    assert!(h.query_by_label("192.0.2.1:7878").is_some() && h.query_by_label("[2001:db8::1]:7878").is_some());
    assert_eq!(h.query_all_by_label("Copy").count(), 2);
    h.get_by_label("Stop server").click();
    wait_for(&mut h, "the stop", |h| has_text(h, "Server stopped."));
    assert!(!has_text(&h, "Connect to"), "a stopped server gives no address");
}

#[test]
fn the_host_field_takes_host_port_and_moves_the_port_when_left() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut h = app();
    h.get_by_label("Client").click();
    h.run_steps(2);
    set_field(&mut h, "Server port", "7878");
    // Typed (or pasted) into the host field: left alone while there, already what Connect would use.
    let host = h.get_by_label("Server host");
    host.focus();
    h.run_steps(1);
    set_field(&mut h, "Server host", &format!("127.0.0.1:{port}"));
    assert_eq!(h.state().settings.client_host, format!("127.0.0.1:{port}"));
    assert!(has_text(&h, &format!("will connect to 127.0.0.1:{port}")));
    // Leaving the field splits it.
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
    assert_eq!(h.state().settings.client_host, "127.0.0.1");
    assert_eq!(h.state().settings.client_port, port.to_string());

    // IPv6 in brackets, with a zone; a wrong one says what to type.
    h.get_by_label("Server host").focus();
    h.run_steps(1);
    set_field(&mut h, "Server host", "[fe80::1%lo]:9000");
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
    assert_eq!(h.state().settings.client_host, "fe80::1%lo");
    assert_eq!(h.state().settings.client_port, "9000");
    set_field(&mut h, "Server host", "localhost:80:90");
    assert!(has_text(&h, "type the host alone, or host:port, or [IPv6]:port"));
    assert!(h.get_by_label("Connect").accesskit_node().is_disabled());

    // A pasted host:port connects as it is.
    set_field(&mut h, "Server host", &format!("localhost:{port}"));
    set_field(&mut h, "Server port", "1");
    h.get_by_label("Connect").click();
    wait_for(&mut h, "the connection", |h| h.state().in_chat());
    let (_conn, _) = listener.accept().unwrap();
}

/// The height of the one widget whose label holds `label`: how large its text is drawn.
fn text_height(h: &Harness<'static, SockchatApp>, label: &str) -> f32 {
    h.get_by_label_contains(label).rect().height()
}

/// The same, for the widget labelled exactly `label`.
fn exact_height(h: &Harness<'static, SockchatApp>, label: &str) -> f32 {
    h.get_by_label(label).rect().height()
}

#[test]
fn present_mode_makes_the_text_large_and_puts_the_addresses_on_top() {
    let mut h = app();
    let addr = start_server(&mut h, "duplex");
    let (heading, footer, banner) =
        (text_height(&h, "Clients ("), text_height(&h, " entr"), exact_height(&h, &addr.to_string()));
    assert!(h.query_by_label("Save transcript...").is_some());
    assert!(has_text(&h, "Ctrl+plus / Ctrl+minus: zoom"), "the zoom keys are shown");

    h.get_by_label("Present").click();
    h.run_steps(3);
    assert!(h.state().settings.present);
    assert!(text_height(&h, "Clients (") > 1.4 * heading, "the client list grows");
    assert!(text_height(&h, " entr") > 1.4 * footer, "the footer grows");
    assert!(exact_height(&h, &addr.to_string()) > 1.8 * banner, "the banner grows most");
    assert!(h.query_by_label("Save transcript...").is_none(), "less chrome");
    // The chat rows follow the font: a line sent now is laid out and seen whole.
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.write_all(b"back row\n").unwrap();
    wait_for(&mut h, "the line", |h| has_text(h, "back row"));
    assert!(text_height(&h, "back row") > 1.4 * 14.0, "a chat row is taller than a normal one");

    h.get_by_label("Present").click();
    h.run_steps(3);
    assert!((text_height(&h, "Clients (") - heading).abs() < 0.5, "back to the normal size");
    assert!(h.query_by_label("Save transcript...").is_some());
}

/// eframe's storage, in memory: what the window would write to disk on exit.
#[derive(Default)]
struct Memory(std::collections::HashMap<String, String>);

impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.into(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn present_mode_is_remembered_and_starts_the_next_window_large() {
    let mut h = app();
    start_server(&mut h, "duplex");
    let normal = text_height(&h, "Clients (");
    h.get_by_label("Present").click();
    h.run_steps(2);
    let mut disk = Memory::default();
    eframe::App::save(h.state_mut(), &mut disk);
    let stored: sockchat::gui::Settings =
        eframe::get_value(&disk, sockchat::gui::settings::STORAGE_KEY).expect("settings saved");
    assert!(stored.present);

    // The next window reads the same storage at start (leaked: eframe's creation context borrows it for
    // the harness's whole life).
    let disk: &'static Memory = Box::leak(Box::new(disk));
    let mut next = Harness::builder().with_size([1000.0, 700.0]).build_eframe(move |cc| {
        cc.storage = Some(disk);
        let cfg = sockchat::engine::ServerConfig { addr: "127.0.0.1:0".into(), ..Default::default() };
        SockchatApp::new(Some(cc), Some(StartRequest::Server(cfg)))
    });
    wait_for(&mut next, "the server", |h| h.state().in_chat());
    next.run_steps(3);
    assert!(next.state().settings.present);
    assert!(text_height(&next, "Clients (") > 1.4 * normal);
    assert!(has_text(&next, "Connect to"));
}

#[test]
fn the_title_counts_messages_that_arrive_while_the_window_is_not_focused() {
    let mut h = app();
    let addr = start_server(&mut h, "room");
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.write_all(b"seen at once\n").unwrap();
    wait_for(&mut h, "the first line", |h| has_text(h, "seen at once"));
    assert!(h.state().title().starts_with("sockchat - server on"), "{}", h.state().title());

    h.input_mut().focused = false;
    peer.write_all(b"while away 1\nwhile away 2\n").unwrap();
    wait_for(&mut h, "the lines", |h| has_text(h, "while away 2"));
    h.run_steps(2);
    assert!(h.state().title().starts_with("(2) sockchat - server on"), "{}", h.state().title());

    h.input_mut().focused = true;
    h.run_steps(2);
    assert!(
        h.state().title().starts_with("sockchat - server on"),
        "read once focused: {}",
        h.state().title()
    );
}

#[test]
fn the_save_form_takes_enter_keeps_a_failure_open_and_gives_the_keyboard_back() {
    let mut h = app();
    let addr = start_server(&mut h, "duplex");
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.write_all(b"line to keep\n").unwrap();
    wait_for(&mut h, "the message", |h| has_text(h, "line to keep"));
    let dir = std::env::temp_dir().join(format!("sockchat-gui-save-form-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    h.get_by_label("Save transcript...").click();
    h.run_steps(2);
    assert!(h.get_by_label("File").is_focused(), "the path field has the keyboard when the form opens");

    // A folder that does not exist: the form stays open and says so in words beside the path.
    let missing = dir.join("no-such-folder").join("t.txt");
    h.get_by_label("File").set_text_value_accesskit(missing.to_str().unwrap());
    h.get_by_label("File").focus();
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the failure", |h| has_text(h, "does not exist"));
    assert!(h.state().save.form_open, "a failed save keeps the form open");
    assert!(h.query_by_label_contains("os error").is_none(), "the reason is in words");

    // Fixed, Enter saves, the form closes, and typing goes to the send box again.
    let good = dir.join("t.txt");
    h.get_by_label("File").set_text_value_accesskit(good.to_str().unwrap());
    h.get_by_label("File").focus();
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the save", |h| has_text(h, "Saved "));
    h.run_steps(3);
    assert!(!h.state().save.form_open);
    assert!(std::fs::read_to_string(&good).unwrap().contains("line to keep"));
    assert!(h.get_by_label("Message").is_focused(), "the send box has the keyboard back");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn after_a_disconnect_the_next_cards_stay_put_until_the_pointer_leaves_the_list() {
    let mut h = app();
    let addr = start_server(&mut h, "room");
    let _clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    wait_for(&mut h, "three clients", |h| has_text(h, "Clients (3)"));
    h.run_steps(2);
    let before = h.get_all_by_label("Disconnect").nth(1).unwrap().rect();
    h.get_all_by_label("Disconnect").next().unwrap().click();
    wait_for(&mut h, "the first to go", |h| has_text(h, "Clients (2)"));
    h.run_steps(2);
    // The pointer is still where the click was: the card that was second has not moved up under it.
    let buttons: Vec<egui::Rect> = h.get_all_by_label("Disconnect").map(|n| n.rect()).collect();
    assert_eq!(buttons.len(), 2);
    assert_eq!(buttons[0], before, "the next Disconnect button stayed in its place");
    assert!(has_text(&h, "left"), "the leaver's card stays, marked");

    // The pointer leaves the list: the leaver's card goes and the others move up.
    h.hover_at(egui::pos2(10.0, 300.0));
    h.run_steps(2);
    assert!(!has_text(&h, "left"));
    let now = h.get_all_by_label("Disconnect").next().unwrap().rect();
    assert!(now.top() < before.top(), "{now:?} vs {before:?}");
}

/// The fill colours of the rectangles drawn in the last frame between the top bar and the send row: the
/// history's marks, not a switch of the bar shown as on (the Client list toggle) in the same colour.
fn fills(h: &Harness<'static, SockchatApp>) -> Vec<egui::Color32> {
    fn walk(shape: &egui::Shape, out: &mut Vec<(egui::Rect, egui::Color32)>) {
        match shape {
            egui::Shape::Vec(v) => v.iter().for_each(|s| walk(s, out)),
            egui::Shape::Rect(r) => out.push((r.rect, r.fill)),
            _ => {}
        }
    }
    let below = h.get_by_label("Stop server").rect().bottom();
    let above = h.get_by_label("Message").rect().top();
    let mut out = Vec::new();
    for c in &h.output().shapes {
        walk(&c.shape, &mut out);
    }
    out.into_iter().filter(|(r, _)| r.top() >= below && r.bottom() <= above).map(|(_, c)| c).collect()
}

/// Find in history: Ctrl+F opens the bar with the field focused, a word shows "1 of N" and marks the
/// matching lines, Next moves and wraps, and Escape closes the bar and gives the send box the keyboard.
#[test]
fn ctrl_f_finds_in_history_steps_through_matches_and_escape_gives_the_keyboard_back() {
    let mut h = app();
    let addr = start_server(&mut h, "duplex");
    let _peer = TcpStream::connect(addr).unwrap();
    wait_for(&mut h, "the client", |h| h.state().session.as_ref().is_some_and(|s| s.can_send()));
    let from = std::sync::Arc::new(Peer::new(7, "127.0.0.1:5555".parse().unwrap()));
    {
        let s = h.state_mut().session.as_mut().unwrap();
        for i in 0..300u64 {
            let text =
                if [5, 15, 205].contains(&i) { format!("line {i} says Hello") } else { format!("line {i}") };
            s.apply(received(&from, i, text));
        }
    }
    h.run_steps(3);
    assert!(h.query_by_label("Find").is_none(), "no bar before Ctrl+F");

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.run_steps(2);
    assert!(h.get_by_label("Find").is_focused(), "the field has the keyboard when the bar opens");
    h.get_by_label("Find").type_text("hello");
    h.run_steps(3);
    assert!(has_text(&h, "1 of 3"), "the first of three matches");
    let chat = &h.state().session.as_ref().unwrap().chat;
    let first = chat.found_current.expect("a current match");
    assert_eq!(chat.found.len(), 3);
    assert!(chat.text_of(first).unwrap().contains("line 5 says Hello"));
    assert!(has_text(&h, "line 5 says Hello"), "the view scrolled up to the first match");
    let current = h.ctx.global_style().visuals.selection.bg_fill;
    assert_eq!(fills(&h).iter().filter(|c| **c == current).count(), 1, "the current match is marked");

    h.get_by_label("Next").click();
    h.run_steps(2);
    assert!(has_text(&h, "2 of 3"));
    assert!(has_text(&h, "line 15 says Hello"));
    h.get_by_label("Find").focus();
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert!(has_text(&h, "3 of 3"), "Enter moves to the next match");
    h.key_press(egui::Key::F3);
    h.run_steps(2);
    assert!(has_text(&h, "1 of 3"), "past the last match it wraps to the first");
    h.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::F3);
    h.run_steps(2);
    assert!(has_text(&h, "3 of 3"), "Shift+F3 goes back, wrapping");

    h.get_by_label("Find").focus();
    h.run_steps(1);
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    assert!(h.query_by_label("Find").is_none(), "Escape closes the bar");
    assert!(h.state().session.as_ref().unwrap().chat.found.is_empty(), "and clears the marks");
    assert!(!fills(&h).contains(&current), "no line is marked any more");
    assert!(h.get_by_label("Message").is_focused(), "the send box has the keyboard back");
}

#[test]
fn choosing_light_makes_the_window_light_and_the_next_window_starts_light() {
    let mut h = app();
    h.run_steps(2);
    assert_eq!(h.state().settings.theme, egui::ThemePreference::System, "following the system at first");
    h.get_by_label("Theme: follow the system").click();
    h.run_steps(2);
    h.get_by_label("Light").click();
    h.run_steps(2);
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    assert!(!h.ctx.global_style().visuals.dark_mode, "the window is light");
    assert!(h.query_by_label("Theme: light").is_some(), "the button says what is chosen");
    start_server(&mut h, "duplex");
    assert!(!h.ctx.global_style().visuals.dark_mode, "the chat view too");
    let mut disk = Memory::default();
    eframe::App::save(h.state_mut(), &mut disk);
    let stored: sockchat::gui::Settings =
        eframe::get_value(&disk, sockchat::gui::settings::STORAGE_KEY).expect("settings saved");
    assert_eq!(stored.theme, egui::ThemePreference::Light);

    let disk: &'static Memory = Box::leak(Box::new(disk));
    let mut next = Harness::builder().with_size([1000.0, 700.0]).build_eframe(move |cc| {
        cc.storage = Some(disk);
        SockchatApp::new(Some(cc), None)
    });
    next.run_steps(2);
    assert_eq!(next.ctx.theme(), egui::Theme::Light, "the next window starts light");
    assert!(next.query_by_label("Theme: light").is_some());
    next.get_by_label("Theme: light").click();
    next.run_steps(2);
    next.get_by_label("Dark").click();
    next.run_steps(2);
    assert!(next.ctx.global_style().visuals.dark_mode);
}

// ---- Encryption on the start screen (issue 13) and two windows' settings (issue 12) ----

fn toggled(h: &Harness<'static, SockchatApp>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().toggled() == Some(egui::accesskit::Toggled::True)
}

#[test]
fn a_found_tls_server_is_marked_and_choosing_it_turns_encrypt_on() {
    let (mut h, browser, listener, port) = app_with_browser();
    h.get_by_label("Client").click();
    h.run_steps(2);
    assert!(!toggled(&h, "Encrypt (TLS)"), "plain unless asked");

    let plain = found_server("Plain lab", "192.0.2.8", 7878, 0);
    browser.send(BrowseEvent::Found(plain.clone())).unwrap();
    h.run_steps(2);
    assert!(!has_text(&h, "🔒 TLS"), "a plain server has no lock");
    h.get_by_label("Use").click();
    h.run_steps(2);
    assert!(!toggled(&h, "Encrypt (TLS)"));

    browser.send(BrowseEvent::Lost(plain.id)).unwrap();
    let secure = FoundServer { tls: true, ..found_server("Secure lab", "127.0.0.1", port, 1) };
    browser.send(BrowseEvent::Found(secure)).unwrap();
    h.run_steps(2);
    assert!(has_text(&h, "🔒 TLS"), "the list marks a TLS server");
    h.get_by_label("Use").click();
    h.run_steps(2);
    assert!(toggled(&h, "Encrypt (TLS)") && h.state().settings.client_tls);

    // Join connects with TLS, asking the person about a server it does not know.
    h.get_by_label("Join").click();
    h.run_steps(1);
    let request = h.state().session.as_ref().map(|s| s.request.clone());
    let Some(StartRequest::Client(cfg)) = request else { panic!("Join did not connect: {request:?}") };
    let tls = cfg.tls.expect("TLS on");
    assert_eq!(tls.policy, sockchat::trust::TrustPolicy::Ask);
    assert!(tls.known_servers.ends_with("sockchat/known_servers"), "{:?}", tls.known_servers);
    drop(listener);
}

#[test]
fn the_server_forms_own_certificate_needs_its_key() {
    let mut h = app();
    h.get_by_label("Server").click();
    h.run_steps(2);
    assert!(h.query_by_label("Certificate").is_none(), "no file fields while TLS is off");
    h.get_by_label("Encrypt (TLS)").click();
    h.run_steps(2);
    assert!(has_text(&h, "a certificate made for this machine, kept in"));
    set_field(&mut h, "Certificate", "/srv/lab/cert.pem");
    assert!(has_text(&h, "give both the certificate and its key"));
    assert!(h.get_by_label("Start server").accesskit_node().is_disabled());
    set_field(&mut h, "Key", "/srv/lab/key.pem");
    assert!(!h.get_by_label("Start server").accesskit_node().is_disabled());
    assert!(h.query_by_label("Browse for the key file").is_some(), "each Browse button is named");
    let s = &h.state().settings;
    assert!(s.server_tls && s.tls_key == "/srv/lab/key.pem");
}

#[test]
fn a_server_window_and_a_client_window_keep_their_own_settings() {
    let dir = std::env::temp_dir().join(format!("sockchat-forms-{}", std::process::id()));
    let file = dir.join("forms.json");
    let _ = std::fs::remove_file(&file);
    let window = |file: std::path::PathBuf| {
        Harness::builder().with_size([1000.0, 700.0]).build_eframe(move |cc| {
            SockchatApp::new(Some(cc), None).with_native_dialogs(false).with_forms_file(Some(file.clone()))
        })
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Both open at once, on the same settings.
    let mut server = window(file.clone());
    let mut client = window(file.clone());

    start_server(&mut server, "room");
    // Written before the client's Connect (two windows pressing at the same millisecond could still race).
    server.state_mut().flush_forms();
    client.get_by_label("Client").click();
    client.run_steps(2);
    set_field(&mut client, "Server host", "127.0.0.1");
    set_field(&mut client, "Server port", &port.to_string());
    set_field(&mut client, "Your name", "bea");
    client.get_by_label("Connect").click();
    wait_for(&mut client, "the connection", |h| h.state().in_chat());
    let _conn = listener.accept().unwrap();

    // The client window closes first, then the server window, which knew nothing of the client's form.
    for h in [&mut client, &mut server] {
        eframe::App::save(h.state_mut(), &mut Memory::default());
        h.state_mut().flush_forms();
    }
    let next = window(file.clone());
    let s = &next.state().settings;
    assert_eq!((s.server_host.as_str(), s.server_port.as_str()), ("127.0.0.1", "0"), "the server's form");
    assert_eq!(s.mode, sockchat::engine::Mode::Room);
    assert_eq!((s.client_port.as_str(), s.name.as_str()), (port.to_string().as_str(), "bea"), "the client's");
    let _ = std::fs::remove_dir_all(&dir);
}
