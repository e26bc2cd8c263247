//! The client start screen's "Servers on this network" list: what a browser has found, live.
//!
//! The list reads [`BrowseEvent`]s from a channel and nothing else, so the window never touches a socket
//! and a test can feed it a fake browser ([`Found::attach`]). The real browser ([`Browser`]) is started
//! only when the app runs for real ([`Found::live`]) and the client form shows, and stopped once a chat
//! opens: browsing costs a few multicast packets a minute, which a chat need not send.

use crossbeam_channel::Receiver;
use egui::RichText;

use super::keys::{Group, TabStop};
use crate::engine::Waker;
use crate::engine::discovery::{
    BrowseEvent, Browser, FoundList, FoundServer, Interface, interfaces, socket_text,
};

/// What to do when a server is not listed, shown under the list.
const NOT_LISTED: &str = "Not listed? Be on the same network as the server (the same Wi-Fi or LAN, not a \
    guest network), and check that the firewalls allow multicast DNS (UDP port 5353) and the server's port. \
    Or type the address shown on the server's window below.";

/// The found servers and where they come from.
#[derive(Default)]
pub struct Found {
    list: FoundList,
    feed: Option<Receiver<BrowseEvent>>,
    browser: Option<Browser>,
    /// Start a real browser when the client form shows.
    pub live: bool,
    /// The machine's interfaces for the server form's "announce on" choice, read once.
    ifaces: Option<Vec<Interface>>,
}

/// A click in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Put this host and port in the form (and its TLS switch: on for a server that says it uses TLS).
    Fill { host: String, port: String, tls: bool },
    /// Fill the form and connect.
    Join { host: String, port: String, tls: bool },
}

impl Found {
    /// Reads servers from `rx` from now on (a test's fake browser, or a real one's channel).
    pub fn attach(&mut self, rx: Receiver<BrowseEvent>) {
        self.list = FoundList::default();
        self.feed = Some(rx);
    }

    /// Starts the real browser if this is a live app and nothing feeds the list yet.
    pub fn ensure_browsing(&mut self, wake: Option<Waker>) {
        if self.live && self.feed.is_none() {
            let (browser, rx) = Browser::start(None, wake);
            self.browser = Some(browser);
            self.attach(rx);
        }
    }

    /// Stops a real browser (a chat has opened); the list empties, since it would go stale.
    pub fn stop_browsing(&mut self) {
        if let Some(b) = self.browser.take() {
            // Joining the browsing thread takes up to a fraction of a second: not on the GUI thread.
            std::thread::spawn(move || drop(b));
            self.feed = None;
            self.list = FoundList::default();
        }
    }

    /// Takes what the browser has reported since the last frame.
    pub fn poll(&mut self) {
        if let Some(rx) = &self.feed {
            for ev in rx.try_iter() {
                self.list.apply(ev);
            }
        }
    }

    pub fn servers(&self) -> &[FoundServer] {
        &self.list.servers
    }

    /// The machine's interfaces (read on first use).
    pub fn interfaces(&mut self) -> &[Interface] {
        self.ifaces.get_or_insert_with(interfaces)
    }
}

fn mode_and_count(s: &FoundServer) -> String {
    let mode = s.mode.map_or("unknown mode", |m| m.label());
    match s.clients {
        Some(1) => format!("{mode} · 1 connected"),
        Some(n) => format!("{mode} · {n} connected"),
        None => mode.to_string(),
    }
}

/// The list; returns what was clicked.
pub fn panel(ui: &mut egui::Ui, found: &Found) -> Option<Pick> {
    let mut pick = None;
    ui.label(RichText::new("Servers on this network").strong());
    if let Some(why) = &found.list.off {
        let text = format!("Looking for servers is off: {why}. Type the server's address below.");
        ui.label(RichText::new(text).color(ui.visuals().warn_fg_color));
    } else if found.servers().is_empty() {
        ui.horizontal(|ui| {
            if found.feed.is_some() {
                ui.spinner();
            }
            ui.label(RichText::new("Looking for servers...").weak());
        });
    }
    // At most about three rows tall, so a room full of servers does not push the form off a small window.
    // (The form sits in a horizontal layout, whose height left is a row's: ask for the list's own.)
    let area = egui::ScrollArea::vertical().max_height(ROWS_HEIGHT).min_scrolled_height(ROWS_HEIGHT);
    area.auto_shrink([false, true]).show(ui, |ui| {
        for (i, s) in found.servers().iter().enumerate() {
            if let Some(p) = row(ui, s, i) {
                pick = Some(p);
            }
        }
    });
    ui.label(RichText::new(NOT_LISTED).weak());
    pick
}

/// Height the list may take before it scrolls.
const ROWS_HEIGHT: f32 = 170.0;

/// One server: name, mode and count, Use and Join; host and address under them. `n`: its place in the
/// list, for the Tab order (the buttons are drawn right to left).
fn row(ui: &mut egui::Ui, s: &FoundServer, n: usize) -> Option<Pick> {
    let slot = u16::try_from(2 * n).unwrap_or(u16::MAX - 1);
    let mut pick = None;
    egui::Frame::group(ui.style()).inner_margin(6.0).show(ui, |ui| {
        ui.set_width(ui.available_width());
        let host = s.best_addr().map(|a| a.to_string()).unwrap_or_default();
        let port = s.port.to_string();
        ui.horizontal(|ui| {
            ui.label(RichText::new(&s.name).strong());
            if s.tls {
                ui.label(RichText::new(format!("{} TLS", super::trust::LOCK)).strong())
                    .on_hover_text("It encrypts (TLS): choosing it turns Encrypt on");
            }
            ui.label(mode_and_count(s));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let ok = !host.is_empty();
                if ui
                    .add_enabled(ok, egui::Button::new("Join"))
                    // Every row's buttons have the same names: the descriptions say which server.
                    .on_hover_text(format!("Connect to {}", s.name))
                    .tab_at(Group::Found, slot + 1)
                    .clicked()
                {
                    pick = Some(Pick::Join { host: host.clone(), port: port.clone(), tls: s.tls });
                }
                if ui
                    .add_enabled(ok, egui::Button::new("Use"))
                    .on_hover_text(format!("Put the address of {} in the form", s.name))
                    .tab_at(Group::Found, slot)
                    .clicked()
                {
                    pick = Some(Pick::Fill { host: host.clone(), port: port.clone(), tls: s.tls });
                }
            });
        });
        let addr = s.best_addr().map_or_else(|| format!("port {}", s.port), |a| socket_text(a, s.port));
        ui.label(RichText::new(format!("{} · {addr}", s.host)).weak());
    });
    pick
}
