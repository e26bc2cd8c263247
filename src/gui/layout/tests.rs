//! The chat view at the window's smallest size and through resizes (egui_kittest), fed made-up histories:
//! a session without an engine gets the events a real one would send.
//!
//! The checks read the accesskit tree: each key control's rectangle must lie inside the window and
//! overlap no other, whatever the size, the mode (normal or projector) and the role.

use std::sync::Arc;

use egui::Rect;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use crate::engine::{ClientConfig, Mode, ServerConfig};
use crate::gui::{Session, SockchatApp, StartRequest};
use crate::model::{self, Event, Message, Origin, Peer};
use crate::trust::Fingerprint;

const SMALL: [f32; 2] = [520.0, 360.0];

fn harness(request: StartRequest, size: [f32; 2], present: bool) -> Harness<'static, SockchatApp> {
    let mut h = Harness::builder().with_size(size).with_max_steps(200).build_eframe(move |cc| {
        let mut app = SockchatApp::new(Some(cc), None).with_native_dialogs(false).with_present(present);
        app.session = Some(Session::without_engine(request.clone()));
        app
    });
    // The start screen's spinner repaints until the first event makes the session live.
    h.run_steps(2);
    h
}

fn feed(h: &mut Harness<'static, SockchatApp>, events: impl IntoIterator<Item = Event>) {
    let s = h.state_mut().session.as_mut().expect("a session");
    for ev in events {
        s.apply(ev);
    }
    h.run();
}

fn peer(id: u64, port: u16, name: &str) -> Arc<Peer> {
    let mut p = Peer::new(id, ([192, 0, 2, 50 + id as u8], port).into());
    p.name = Some(name.into());
    p.host = Some(format!("{name}-laptop.lan"));
    Arc::new(p)
}

fn line(from: &Arc<Peer>, seq: u64, text: String) -> Event {
    Event::Message(Message {
        seq,
        time: model::now(),
        origin: Origin::Remote { from: from.clone(), relayed: false },
        text,
        truncated: false,
        private: false,
    })
}

/// Line `i` of a history whose lines wrap differently at every width: every third is long.
fn text(i: u64) -> String {
    let tail =
        if i.is_multiple_of(3) { " and then some words that go on and on ".repeat(3) } else { String::new() };
    format!("line number {i:04}{tail}")
}

/// A room server on two addresses with three clients and `lines` lines from them.
fn server(size: [f32; 2], present: bool, lines: u64) -> Harness<'static, SockchatApp> {
    server_tls(size, present, lines, None)
}

/// As [`server`], serving TLS with certificate `tls` (its fingerprint under the addresses) if given.
fn server_tls(
    size: [f32; 2],
    present: bool,
    lines: u64,
    tls: Option<Fingerprint>,
) -> Harness<'static, SockchatApp> {
    let cfg = ServerConfig { addr: "[::]:7878".into(), mode: Mode::Room, ..Default::default() };
    let mut h = harness(StartRequest::Server(cfg), size, present);
    let addrs = vec!["192.0.2.10:7878".parse().unwrap(), "[2001:db8::10]:7878".parse().unwrap()];
    let mut evs = vec![Event::Listening {
        time: model::now(),
        addr: "[::]:7878".parse().unwrap(),
        addrs,
        fds: None,
        tls,
    }];
    let peers = [peer(1, 40001, "ann"), peer(2, 40002, "bob"), peer(3, 40003, "carl")];
    for p in &peers {
        evs.push(Event::Connected { time: model::now(), peer: p.clone() });
    }
    evs.extend((0..lines).map(|i| line(&peers[i as usize % 3], i, text(i))));
    feed(&mut h, evs);
    h
}

/// A client connected to a server, with `lines` lines from it.
fn client(size: [f32; 2], present: bool, lines: u64) -> Harness<'static, SockchatApp> {
    let cfg = ClientConfig { addr: "192.0.2.10:7878".into(), ..Default::default() };
    let mut h = harness(StartRequest::Client(cfg), size, present);
    let mut srv = Peer::new(0, "192.0.2.10:7878".parse().unwrap());
    srv.server = true;
    let srv = Arc::new(srv);
    let mut evs = vec![Event::Connected { time: model::now(), peer: srv.clone() }];
    evs.extend((0..lines).map(|i| line(&srv, i, text(i))));
    feed(&mut h, evs);
    h
}

fn open_find(h: &mut Harness<'static, SockchatApp>, query: &str) {
    let s = h.state_mut().session.as_mut().expect("a session");
    s.find.show_bar();
    s.find.query = query.into();
    h.run();
}

fn window(h: &Harness<'static, SockchatApp>) -> Rect {
    h.ctx.content_rect()
}

/// A history entry as laid out: its line number, the rectangle of its rows drawn, and whether its first
/// row (the one with the time) is among them.
#[derive(Debug, Clone, Copy)]
struct Shown {
    number: u64,
    rect: Rect,
    whole_top: bool,
}

/// The history entries laid out, top to bottom. A row is a label starting with the time (an entry's
/// first row) or with the time's indent (a continuation: narrow windows and projector type wrap an entry
/// over several rows, "line number" on one and "0055" on the next); an entry's rows are joined to read its
/// number.
fn rows(h: &Harness<'static, SockchatApp>) -> Vec<(u64, Rect)> {
    entries(h).into_iter().map(|e| (e.number, e.rect)).collect()
}

const INDENT: &str = "         ";

/// Whether `t` starts as an entry's first row does: with the time.
fn is_time(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() > 9 && b[2] == b':' && b[5] == b':' && b[8] == b' ' && t[..2].bytes().all(|c| c.is_ascii_digit())
}

/// The chat's rows laid out (each a label: the time or its indent, then text), top to bottom.
fn chat_rows(h: &Harness<'static, SockchatApp>) -> Vec<(String, Rect)> {
    let mut lines: Vec<(String, Rect)> = h
        .query_all_by_role(egui::accesskit::Role::Label)
        .filter_map(|n| Some((n.accesskit_node().value()?.to_string(), n.rect())))
        .filter(|(t, _)| is_time(t) || t.starts_with(INDENT))
        .collect();
    lines.sort_by(|a, b| a.1.top().total_cmp(&b.1.top()));
    lines
}

fn entries(h: &Harness<'static, SockchatApp>) -> Vec<Shown> {
    let lines = chat_rows(h);
    let mut groups: Vec<(String, Rect, bool)> = Vec::new();
    for (t, r) in lines {
        match groups.last_mut() {
            Some((text, rect, _)) if !is_time(&t) => {
                text.push_str(&t[INDENT.len()..]);
                *rect = rect.union(r);
            }
            _ => {
                let first = is_time(&t);
                groups.push((t, r, first));
            }
        }
    }
    groups
        .into_iter()
        .filter_map(|(t, rect, whole_top)| {
            let at = t.find("line number ")? + "line number ".len();
            Some(Shown { number: t.get(at..at + 4)?.parse().ok()?, rect, whole_top })
        })
        .collect()
}

/// The status in the top bar: the server's mode, or whom a client is connected to.
fn status(h: &Harness<'static, SockchatApp>) -> Rect {
    // The top bar's is the topmost (a chat row can say the same words).
    h.query_all_by(|n| n.value().is_some_and(|v| v.ends_with(" mode") || v.starts_with("Connected to")))
        .map(|n| n.rect())
        .min_by(|a, b| a.top().total_cmp(&b.top()))
        .expect("the status")
}

/// The chat view's visible band: below the bars above it, above the send row.
fn chat_band(h: &Harness<'static, SockchatApp>) -> (f32, f32) {
    let find = h.query_by_role_and_label(egui::accesskit::Role::TextInput, "Find").map(|f| f.rect().bottom());
    let top = status(h).bottom().max(find.unwrap_or(0.0));
    (top, h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Message").rect().top())
}

/// Whether the newest line, `last`, is drawn whole inside the chat view.
fn newest_shows(h: &Harness<'static, SockchatApp>, last: u64) -> Result<(), String> {
    let (_, bottom) = chat_band(h);
    let rows = rows(h);
    match rows.iter().find(|(n, _)| *n == last) {
        Some((_, r)) if r.top() >= 0.0 && r.bottom() <= bottom + 0.5 && r.bottom() > bottom - 80.0 => Ok(()),
        Some((_, r)) => {
            Err(format!("line {last} is laid out at {r:?}, outside the view (its foot at {bottom})"))
        }
        None => Err(format!(
            "line {last} is not laid out; rows: {:?}",
            rows.iter().map(|r| r.0).collect::<Vec<_>>()
        )),
    }
}

#[test]
fn after_a_resize_the_newest_lines_still_show() {
    for present in [false, true] {
        let mut h = client([1000.0, 700.0], present, 400);
        assert_eq!(newest_shows(&h, 399), Ok(()), "present {present}, before any resize");
        for size in [SMALL, [1280.0, 800.0], [800.0, 600.0], SMALL, [1000.0, 700.0]] {
            h.set_size(size.into());
            h.run();
            assert_eq!(newest_shows(&h, 399), Ok(()), "present {present}, resized to {size:?}");
        }
    }
}

#[test]
fn a_resize_keeps_the_line_being_read_at_the_top() {
    let mut h = client([1000.0, 700.0], false, 400);
    // Up the history to line 150 (the find bar brings it near the top), as one reading it would be. The
    // view then starts in the second row of line 147, which wraps over more rows in a narrower window.
    open_find(&mut h, "number 0150");
    // The first line that starts in the view, and how far below the view's top it starts.
    let first_whole = |h: &Harness<'static, SockchatApp>| {
        let (top, _) = chat_band(h);
        let e = entries(h).into_iter().find(|e| e.whole_top && e.rect.top() >= top - 0.5)?;
        Some((e.number, e.rect.top() - top))
    };
    let (reading, below) = first_whole(&h).expect("rows in view");
    assert!((140..=150).contains(&reading), "found line 150, the view starts at line {reading}");
    for size in [SMALL, [1280.0, 800.0], [700.0, 500.0], [1000.0, 700.0]] {
        h.set_size(size.into());
        h.run();
        let (now, at) = first_whole(&h).expect("rows in view");
        assert_eq!(now, reading, "resized to {size:?}: the first line in view");
        // Where it was: not pushed down by the rows of the line above it, rewrapped.
        assert!(
            (at - below).abs() < 2.0,
            "resized to {size:?}: line {now} starts {at} below the top, was {below}"
        );
    }
}

/// Every pair of `named` rectangles is apart and each is inside `win`.
fn fit(win: Rect, named: &[(&str, Rect)]) -> Result<(), String> {
    for (name, r) in named {
        if r.width() < 1.0 || !win.expand(0.5).contains_rect(*r) {
            return Err(format!("{name} at {r:?} is not inside the window {win:?}"));
        }
    }
    for (i, (a, ra)) in named.iter().enumerate() {
        for (b, rb) in &named[i + 1..] {
            let both = ra.intersect(*rb);
            if both.width() > 0.5 && both.height() > 0.5 {
                return Err(format!("{a} at {ra:?} overlaps {b} at {rb:?}"));
            }
        }
    }
    Ok(())
}

fn key_controls(h: &Harness<'static, SockchatApp>, server: bool) -> Vec<(&'static str, Rect)> {
    use egui::accesskit::Role;
    let stop = if server { "Stop server" } else { "Disconnect" };
    let mut v = vec![
        ("status", status(h)),
        ("stop", h.get_by_role_and_label(Role::Button, stop).rect()),
        ("send box", h.get_by_role_and_label(Role::TextInput, "Message").rect()),
        ("Send", h.get_by_role_and_label(Role::Button, "Send").rect()),
        ("find field", h.get_by_role_and_label(Role::TextInput, "Find").rect()),
        ("Next", h.get_by_role_and_label(Role::Button, "Next").rect()),
        ("Close", h.get_by_role_and_label(Role::Button, "Close").rect()),
    ];
    // The client list's toggle, in the bar, or in "More" where projector type leaves no room for it.
    if server {
        match h.query_by_label("Client list") {
            Some(t) => v.push(("client list toggle", t.rect())),
            None => v.push(("More", h.get_by_role_and_label(Role::Button, "More").rect())),
        }
    }
    v
}

#[test]
fn at_the_smallest_size_every_key_control_fits_and_none_overlaps() {
    for present in [false, true] {
        for is_server in [true, false] {
            let mut h = if is_server { server(SMALL, present, 40) } else { client(SMALL, present, 40) };
            open_find(&mut h, "number 003");
            let what = format!("{} present {present}", if is_server { "server" } else { "client" });
            assert_eq!(fit(window(&h), &key_controls(&h, is_server)), Ok(()), "{what}");
            if is_server && h.query_by_label("Client list").is_none() {
                h.get_by_label("More").click();
                h.run();
                let toggle = h.get_by_label("Client list").rect();
                assert_eq!(fit(window(&h), &[("client list toggle in More", toggle)]), Ok(()), "{what}");
            }
        }
    }
}

#[test]
fn a_tls_server_in_projector_type_at_the_smallest_size_still_shows_its_newest_line() {
    // Addresses and fingerprint above, send row and footer below: the history between is less than
    // egui's smallest scroll view (64 points), and still settles (no frame after frame of repaints) with
    // the newest line in it. The footer takes one row, the zoom keys cut rather than wrapped onto a
    // second below a four-digit count.
    let mut h = server_tls(SMALL, true, 1001, Some(Fingerprint([0x5a; 32])));
    assert!(h.query_by_label("Copy fingerprint").is_some(), "the fingerprint shows");
    assert_eq!(newest_shows(&h, 1000), Ok(()));
    let count = h.get_by_label_contains(" entries").rect();
    let keys = h.get_by_label_contains("Ctrl+0").rect();
    let one_row = (keys.top() - count.top()).abs() < 1.0 && (keys.bottom() - count.bottom()).abs() < 1.0;
    assert!(one_row, "one footer row: the count at {count:?}, the zoom keys at {keys:?}");
    assert!(keys.right() <= window(&h).right() + 0.5, "the zoom keys cut at the window's edge: {keys:?}");
    // The find bar open too leaves the history less than a row: still following, the newest line's
    // last row at the view's foot.
    open_find(&mut h, "no such words");
    let (top, bottom) = chat_band(&h);
    assert!(bottom - top < 64.0, "less than egui's smallest scroll view: {top}..{bottom}");
    let (text, last) = chat_rows(&h).pop().expect("a row laid out");
    // The newest entry ends with its number; the send row's margin lies between the view and the box.
    let at_foot = last.bottom() <= bottom + 0.5 && last.bottom() > bottom - 24.0;
    assert!(text.ends_with("1000") && at_foot, "the last row {text:?} at {last:?}, the send box at {bottom}");
}

#[test]
fn shown_in_a_window_too_narrow_for_it_the_list_leaves_the_find_bar_and_send_row_their_width() {
    use egui::accesskit::Role;
    for present in [false, true] {
        let mut h = server(SMALL, present, 40);
        assert!(h.query_by_label_contains("Clients (").is_none(), "folded away at 520 px");
        if h.query_by_label("Client list").is_none() {
            h.get_by_label("More").click();
            h.run();
        }
        h.get_by_label("Client list").click();
        h.run();
        open_find(&mut h, "number 003");
        let mut named = vec![
            ("list heading", h.get_by_label_contains("Clients (").rect()),
            ("To", h.get_by_role_and_label(Role::ComboBox, "To").rect()),
            ("send box", h.get_by_role_and_label(Role::TextInput, "Message").rect()),
            ("Send", h.get_by_role_and_label(Role::Button, "Send").rect()),
            ("find field", h.get_by_role_and_label(Role::TextInput, "Find").rect()),
            ("Previous", h.get_by_role_and_label(Role::Button, "Previous").rect()),
            ("Next", h.get_by_role_and_label(Role::Button, "Next").rect()),
            ("Close", h.get_by_role_and_label(Role::Button, "Close").rect()),
        ];
        // The cards' buttons as far as the list shows them (it scrolls).
        let (_, foot) = chat_band(&h);
        for b in h.get_all_by_label("Disconnect").map(|n| n.rect()).filter(|r| r.bottom() <= foot) {
            named.push(("a card's Disconnect", b));
        }
        assert_eq!(fit(window(&h), &named), Ok(()), "present {present}");
        for (n, r) in rows(&h) {
            let list = named[0].1;
            assert!(r.right() <= list.left(), "present {present}: line {n} runs under the list: {r:?}");
        }
    }
}

#[test]
fn in_a_history_of_a_row_or_two_a_found_line_comes_into_view() {
    // Projector type at 520 x 360 with the addresses, the fingerprint and the find bar: about a row.
    let mut h = server_tls(SMALL, true, 60, Some(Fingerprint([0x5a; 32])));
    open_find(&mut h, "number 0031");
    assert!(h.state().session.as_ref().is_some_and(|s| s.chat.found_current.is_some()), "found");
    // The found line is marked (its rows filled with the selection colour): some of the mark in view.
    let (top, bottom) = chat_band(&h);
    let mark = h.ctx.global_style().visuals.selection.bg_fill;
    let mut marked = Vec::new();
    for c in &h.output().shapes {
        if let egui::Shape::Rect(r) = &c.shape
            && r.fill == mark
        {
            marked.push(r.rect);
        }
    }
    let seen = marked.iter().any(|r| r.bottom() > top + 4.0 && r.top() < bottom - 4.0);
    assert!(seen, "line 31 marked at {marked:?}, the view between {top} and {bottom}");
}

#[test]
fn the_client_list_shrinks_with_the_window_folds_away_and_is_remembered() {
    let heading =
        |h: &Harness<'static, SockchatApp>| h.query_by_label_contains("Clients (").map(|n| n.rect());
    let mut h = server([1280.0, 800.0], false, 40);
    let wide = heading(&h).expect("the list beside the chat in a wide window");
    h.set_size([800.0, 600.0].into());
    h.run();
    let middle = heading(&h).expect("the list at 800 px");
    assert!(middle.left() > 800.0 - 270.0 + 20.0, "narrower at 800 px: starts at {}", middle.left());
    assert!(1280.0 - wide.left() > 800.0 - middle.left(), "the list shrinks with the window");
    h.set_size(SMALL.into());
    h.run();
    assert!(heading(&h).is_none(), "folded away at 520 px");

    // The toggle brings it back beside a chat whose rows stay clear of it, and the choice is remembered.
    h.get_by_label("Client list").click();
    h.run();
    let shown = heading(&h).expect("shown on demand");
    for (n, r) in rows(&h) {
        assert!(r.right() <= shown.left(), "line {n} runs under the list: {r:?}, list at {}", shown.left());
    }
    let mut disk = Memory::default();
    eframe::App::save(h.state_mut(), &mut disk);
    let stored: crate::gui::Settings =
        eframe::get_value(&disk, crate::gui::settings::STORAGE_KEY).expect("settings saved");
    assert_eq!(stored.client_list, h.state().settings.client_list);
    assert_ne!(stored.client_list, crate::gui::Settings::default().client_list, "the choice is stored");
}

#[test]
fn in_projector_type_the_client_list_folds_sooner_and_rows_stay_clear_of_it() {
    let heading =
        |h: &Harness<'static, SockchatApp>| h.query_by_label_contains("Clients (").map(|n| n.rect());
    // 800 px of projector type leave too little for the chat beside the list: it folds away by itself.
    let mut h = server([800.0, 600.0], true, 60);
    assert!(heading(&h).is_none(), "the list folds away at 800 px in projector type");
    h.get_by_label("Client list").click();
    h.run();
    let mut shown = vec![([800.0, 600.0], heading(&h).expect("shown by its toggle"), rows(&h))];
    // 1280 px hold both; the list is wider than at normal type (its text is larger).
    let h = server([1280.0, 800.0], true, 60);
    let list = heading(&h).expect("the list beside the chat at 1280 px");
    assert!(1280.0 - list.left() > 270.0 + 8.0, "wider in projector type: starts at {}", list.left());
    shown.push(([1280.0, 800.0], list, rows(&h)));
    for (size, list, rows) in shown {
        assert!(!rows.is_empty(), "{size:?}: rows laid out");
        for (n, r) in rows {
            assert!(
                r.right() <= list.left(),
                "{size:?}: line {n} runs under the list: {r:?}, list at {list:?}"
            );
        }
    }
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
