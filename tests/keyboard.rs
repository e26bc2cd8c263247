//! The window by keyboard alone and through a screen reader's eyes (egui_kittest's AccessKit tree): the
//! Tab order of the start screen and the chat view, Space and Enter on what has the focus, the F1 help,
//! and a name on every control.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::window::{DEADLINE, app, app_with_browser, found_server, has_text, wait_for};
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use sockchat::engine::discovery::BrowseEvent;
use sockchat::gui::SockchatApp;

/// The name of the control the keyboard is on, or "nothing".
fn focused(h: &Harness<'static, SockchatApp>) -> String {
    let root = h.root().accesskit_node().id();
    h.root()
        .children_recursive()
        .map(|n| n.accesskit_node())
        .find(|n| n.is_focused() && n.id() != root)
        .map_or_else(
            || "nothing".into(),
            |n| n.label().unwrap_or_else(|| format!("{:?} without a name", n.role())),
        )
}

fn press(h: &mut Harness<'static, SockchatApp>, key: Key) {
    h.key_press(key);
    h.run_steps(2);
}

fn shift_tab(h: &mut Harness<'static, SockchatApp>) {
    h.key_press_modifiers(Modifiers::SHIFT, Key::Tab);
    h.run_steps(2);
}

/// Typing, as the keyboard sends it to the focused field (replacing what it held).
fn type_over(h: &mut Harness<'static, SockchatApp>, text: &str) {
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.event(egui::Event::Text(text.into()));
    h.run_steps(2);
}

/// Presses Tab until the focus is on `name` (at most 40 times).
fn tab_to(h: &mut Harness<'static, SockchatApp>, name: &str) {
    for _ in 0..40 {
        if focused(h) == name {
            return;
        }
        press(h, Key::Tab);
    }
    panic!("Tab never reached {name:?}");
}

/// Presses Tab `n` times and names where the focus went each time.
fn tab_walk(h: &mut Harness<'static, SockchatApp>, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            press(h, Key::Tab);
            focused(h)
        })
        .collect()
}

fn read_line_within(r: &mut BufReader<TcpStream>) -> String {
    r.get_ref().set_read_timeout(Some(DEADLINE)).unwrap();
    let mut line = String::new();
    r.read_line(&mut line).expect("a line before the deadline");
    line
}

const CORNER: [&str; 2] = ["Theme: follow the system", "Keyboard shortcuts (F1)"];

#[test]
fn the_start_screen_and_a_servers_chat_view_are_used_by_keyboard_alone() {
    let mut h = app();
    h.run_steps(2);
    let form = [
        "Server",
        "Client",
        "Listen host",
        "Listen port",
        "one-way",
        "duplex",
        "room",
        "Announce on the local network",
        "Listed as",
        "Announce on",
        "Limits and access",
        "Log every event to",
        "Step mode: pause before each set-up call",
        "Start server",
    ];
    let mut want: Vec<&str> = form.iter().chain(&CORNER).copied().collect();
    want.push("Server");
    assert_eq!(tab_walk(&mut h, want.len()), want, "the start screen's Tab order, wrapping round");
    shift_tab(&mut h);
    assert_eq!(focused(&h), CORNER[1], "Shift+Tab goes back, wrapping");

    // Fill the form and start: Tab to a field, type; Space picks the mode; Enter on the button starts.
    tab_walk(&mut h, 3);
    assert_eq!(focused(&h), "Listen host");
    type_over(&mut h, "127.0.0.1");
    tab_walk(&mut h, 1);
    type_over(&mut h, "0");
    assert_eq!(tab_walk(&mut h, 3).last().map(String::as_str), Some("room"));
    press(&mut h, Key::Space);
    assert_eq!(h.state().settings.mode, sockchat::engine::Mode::Room, "Space chose the mode");
    tab_to(&mut h, "Start server");
    press(&mut h, Key::Enter);
    wait_for(&mut h, "the server", |h| h.state().in_chat());
    let addr: SocketAddr = h.state().session.as_ref().and_then(|s| s.local_addr).expect("listening");
    let peer = TcpStream::connect(addr).unwrap();
    wait_for(&mut h, "the client", |h| has_text(h, "Clients (1)"));

    // The chat view: the send box first, then Send, the recipient, the bar left to right (the server's
    // Client list switch among its switches), the address to copy, the client list.
    let chat = [
        "Message",
        "Send",
        "To",
        "Stop server",
        "Client list",
        "Socket calls",
        "Save transcript...",
        "Present",
        CORNER[0],
        CORNER[1],
        "Copy",
        "Send to this one",
        "Disconnect",
        "Message",
    ];
    assert_eq!(tab_walk(&mut h, chat.len()), chat, "the chat view's Tab order, wrapping round");

    // Type and send with Enter; the keyboard stays in the send box.
    h.event(egui::Event::Text("hello class".into()));
    press(&mut h, Key::Enter);
    let mut r = BufReader::new(peer.try_clone().unwrap());
    assert!(sockchat::protocol::is_greeting(&read_line_within(&mut r)), "the window's server greets first");
    assert_eq!(read_line_within(&mut r).trim_end(), "hello class");
    wait_for(&mut h, "the send box to keep the keyboard", |h| focused(h) == "Message");

    // The theme menu by keyboard: Space opens it, Tab goes into it, Space chooses.
    tab_to(&mut h, CORNER[0]);
    press(&mut h, Key::Space);
    assert!(h.query_by_label("Light").is_some(), "Space opened the theme menu");
    assert_eq!(tab_walk(&mut h, 2), ["Follow the system", "Light"]);
    press(&mut h, Key::Space);
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    assert!(!h.ctx.global_style().visuals.dark_mode, "the window is light");
    assert_eq!(focused(&h), "Theme: light", "the keyboard is back on the button");

    // F1 shows the help with the keyboard on its Close; Escape and F1 close it; the send box has the keys.
    press(&mut h, Key::F1);
    assert!(has_text(&h, "Show or hide this help"), "F1 opened the help");
    assert_eq!(focused(&h), "Close");
    press(&mut h, Key::Escape);
    assert!(!has_text(&h, "Show or hide this help"), "Escape closed it");
    press(&mut h, Key::F1);
    assert!(has_text(&h, "Show or hide this help"));
    press(&mut h, Key::F1);
    assert!(!has_text(&h, "Show or hide this help"), "F1 again closed it");
    wait_for(&mut h, "the send box to have the keyboard again", |h| focused(h) == "Message");

    // Back from the send box to the client list's last button, and Space disconnects that client.
    shift_tab(&mut h);
    assert_eq!(focused(&h), "Disconnect");
    press(&mut h, Key::Space);
    wait_for(&mut h, "the client to go", |h| has_text(h, "Clients (0)"));
    let mut rest = Vec::new();
    r.get_ref().set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(r.read_to_end(&mut rest).expect("end of file, not an error"), 0, "closed by the server");
}

#[test]
fn a_clients_start_screen_and_chat_view_are_used_by_keyboard_alone() {
    let (mut h, browser, listener, port) = app_with_browser();
    browser.send(BrowseEvent::Found(found_server("Room 101", "192.0.2.7", 7999, 1))).unwrap();
    browser.send(BrowseEvent::Found(found_server("Lab B", "127.0.0.1", port, 1))).unwrap();
    h.run_steps(2);
    press(&mut h, Key::Tab);
    press(&mut h, Key::Tab);
    assert_eq!(focused(&h), "Client");
    press(&mut h, Key::Space);
    assert!(has_text(&h, "Room 101") && has_text(&h, "Lab B"));

    // The form first, then each found server's Use and Join, row by row.
    let walk = [
        "Server host",
        "Server port",
        "Your name",
        "Log every event to",
        "Step mode: pause before each set-up call",
        "Connect",
        "Use",
        "Join",
        "Use",
        "Join",
        CORNER[0],
        CORNER[1],
        "Server",
    ];
    assert_eq!(tab_walk(&mut h, walk.len()), walk);

    // Back to the name field, type a name; then Join on the second server by keyboard.
    tab_walk(&mut h, 4);
    assert_eq!(focused(&h), "Your name");
    type_over(&mut h, "kim");
    for _ in 0..6 {
        press(&mut h, Key::Tab);
    }
    assert_eq!(focused(&h), "Use");
    press(&mut h, Key::Space);
    assert_eq!(h.state().settings.client_port, port.to_string(), "Use filled the form from Lab B");
    assert!(h.state().session.is_none());
    press(&mut h, Key::Tab);
    assert_eq!(focused(&h), "Join");
    let accepted = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    press(&mut h, Key::Enter);
    wait_for(&mut h, "the chat", |h| h.state().in_chat());
    let mut conn = accepted.join().unwrap().expect("the server was reached");
    // It greets as a sockchat server does, so the window sends the name.
    writeln!(conn, "{}", sockchat::protocol::greeting("duplex")).unwrap();
    wait_for(&mut h, "the send box to have the keyboard", |h| focused(h) == "Message");

    let chat = [
        "Send",
        "Disconnect",
        "Socket calls",
        "Save transcript...",
        "Present",
        CORNER[0],
        CORNER[1],
        "Message",
    ];
    assert_eq!(tab_walk(&mut h, chat.len()), chat, "a client's chat view, wrapping round");
    h.event(egui::Event::Text("hi from the keys".into()));
    press(&mut h, Key::Enter);
    let mut r = BufReader::new(conn);
    let mut got = Vec::new();
    while !got.iter().any(|l: &String| l == "hi from the keys") {
        got.push(read_line_within(&mut r).trim_end().to_string());
    }
    assert!(got.contains(&"/name kim".to_string()), "{got:?}");
}

/// Every control a user can act on, with no name a screen reader could say (placeholders and tooltips
/// are not names: a placeholder goes once the field has text, a tooltip is a description; an icon such as
/// "?" or "☀" is no name either: it must hold a letter or a digit).
fn unnamed(h: &Harness<'static, SockchatApp>) -> Vec<String> {
    h.root()
        .children_recursive()
        .map(|n| n.accesskit_node())
        .filter(|n| egui::accessibility::is_input(n.role()) && !n.is_hidden())
        .filter(|n| n.label().is_none_or(|l| !l.chars().any(char::is_alphanumeric)))
        .map(|n| format!("{:?} at {:?} (value {:?})", n.role(), n.raw_bounds(), n.value()))
        .collect()
}

fn assert_named(h: &Harness<'static, SockchatApp>, screen: &str) {
    let controls = h
        .root()
        .children_recursive()
        .filter(|n| egui::accessibility::is_input(n.accesskit_node().role()))
        .count();
    assert!(controls > 3, "{screen}: the walk found only {controls} controls");
    let missing = unnamed(h);
    assert!(missing.is_empty(), "{screen}: controls without a name:\n{}", missing.join("\n"));
    for name in ["Theme: ", CORNER[1]] {
        assert!(h.query_all_by_label_contains(name).next().is_some(), "{screen}: no control named {name:?}");
    }
}

#[test]
fn every_control_of_the_start_screen_and_the_chat_views_has_a_name() {
    let (mut h, browser, listener, port) = app_with_browser();
    h.get_by_label("Limits and access").click();
    h.run_steps(2);
    assert!(h.query_by_label("Most clients").is_some());
    assert_named(&h, "server form");
    h.get_by_label_contains("Theme").click();
    h.run_steps(2);
    assert_named(&h, "server form, theme menu open");
    h.key_press(Key::Escape);
    h.get_by_label("Client").click();
    browser.send(BrowseEvent::Found(found_server("Lab B", "127.0.0.1", port, 1))).unwrap();
    h.run_steps(2);
    assert!(h.query_by_label("Join").is_some());
    assert_named(&h, "client form with a server found");

    // A client's chat view.
    h.get_by_label("Join").click();
    wait_for(&mut h, "the chat", |h| h.state().in_chat());
    let _conn = listener.accept().unwrap();
    h.get_by_label("Socket calls").click();
    h.run_steps(3);
    assert_named(&h, "client chat view with the calls panel");

    // A server's chat view with two clients, the calls panel, the find bar and the help open.
    let mut h = app();
    h.get_by_label("Listen host").set_text_value_accesskit("127.0.0.1");
    h.get_by_label("Listen port").set_text_value_accesskit("0");
    h.run_steps(2);
    h.get_by_label("Start server").click();
    wait_for(&mut h, "the server", |h| h.state().in_chat());
    let addr = h.state().session.as_ref().and_then(|s| s.local_addr).expect("listening");
    let _peers = [TcpStream::connect(addr).unwrap(), TcpStream::connect(addr).unwrap()];
    wait_for(&mut h, "two clients", |h| has_text(h, "Clients (2)"));
    assert_named(&h, "server chat view");
    h.get_by_label("Socket calls").click();
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::F);
    h.run_steps(2);
    assert!(h.query_by_label("Find").is_some());
    assert_named(&h, "server chat view with the calls panel and the find bar");
    h.key_press(Key::F1);
    h.run_steps(2);
    assert!(has_text(&h, "Show or hide this help"));
    assert_named(&h, "the help");
}

/// egui does not scroll to what the keyboard is on; the window does, so a Tab never lands out of sight.
#[test]
fn in_the_smallest_window_tab_brings_the_control_into_view() {
    let mut h = Harness::builder()
        .with_size([520.0, 360.0])
        .build_eframe(|cc| SockchatApp::new(Some(cc), None).with_native_dialogs(false));
    h.run_steps(2);
    let below = h.get_by_label("Start server").rect();
    assert!(below.top() > 360.0, "the test needs the button below the fold: {below:?}");
    tab_to(&mut h, "Start server");
    h.run_steps(3);
    let now = h.get_by_label("Start server").rect();
    assert!(now.top() >= 0.0 && now.bottom() <= 360.0, "Start server is out of sight at {now:?}");
    // And back up: the first control comes back into view.
    tab_to(&mut h, "Server");
    h.run_steps(3);
    let top = h.get_by_label("Server").rect();
    assert!(top.top() >= 0.0 && top.bottom() <= 360.0, "Server is out of sight at {top:?}");
}
