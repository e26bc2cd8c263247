//! The server's client list: a card per client (name, host, address, since when, TCP state when the
//! calls panel is open) with "Send to this one" and Disconnect, and the cards of those that just left.

use egui::RichText;

use super::Session;
use super::calls;
use super::keys::{Group, TabStop};
use super::session::{Phase, StartRequest};
use crate::calls::Lane;
use crate::engine::Mode;
use crate::model::{self, Target};

/// Draws the list in `ui` (a side panel); `calls_open` adds each connection's TCP state.
pub(super) fn list(ui: &mut egui::Ui, s: &mut Session, present: bool, calls_open: bool) {
    let dark = ui.visuals().dark_mode;
    let weak = ui.visuals().weak_text_color();
    ui.add_space(6.0);
    ui.heading(format!("Clients ({})", s.clients.len()));
    if let StartRequest::Server(cfg) = &s.request
        && !present
    {
        ui.label(RichText::new(format!("at most {}", cfg.max_clients)).weak())
            .on_hover_text("More are told the server is full and closed (Limits and access)");
    }
    ui.add_space(4.0);
    if s.clients.is_empty() {
        let hint = match (&s.phase, s.reachable.first()) {
            (Phase::Live, Some(a)) => {
                // A TLS server: plain `nc` would only be refused.
                let cmd = if s.fingerprint.is_some() { "ncat --ssl" } else { "nc" };
                format!(
                    "No one yet. Clients connect to an address above, for example:\n{cmd} {} {}",
                    a.ip(),
                    a.port()
                )
            }
            _ => "No clients.".to_string(),
        };
        ui.label(RichText::new(hint).weak());
    }
    let mut drop_id = None;
    let mut new_target = None;
    let list = egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        // Live clients and, in their places, those that just left (see `Session::departed`).
        let mut ids: Vec<crate::model::PeerId> = s.clients.keys().chain(s.departed.keys()).copied().collect();
        ids.sort_unstable();
        for id in &ids {
            let Some(c) = s.clients.get(id) else {
                if let Some(c) = s.departed.get(id) {
                    departed_card(ui, *id, c);
                }
                continue;
            };
            let chosen = s.target == Target::One(*id);
            let card = egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    let (rect, _) = ui.allocate_exact_size([10.0, 10.0].into(), egui::Sense::hover());
                    ui.painter().circle_filled(
                        rect.center(),
                        5.0,
                        s.chat.colors().color(&c.peer.addr, dark, weak),
                    );
                    let title = c.peer.name.clone().unwrap_or_else(|| c.peer.host_or_ip());
                    ui.label(RichText::new(title).strong());
                    super::trust::card_lock(ui, c.peer.tls.as_ref());
                });
                ui.label(format!("{}  ({})", c.peer.host_or_ip(), c.peer.addr));
                if !present {
                    ui.label(RichText::new(format!("since {}", model::clock(c.since))).weak());
                }
                if let Some(tcp) = calls_open.then(|| calls::tcp_label(&s.calls, Lane::Conn(*id))).flatten() {
                    ui.label(RichText::new(tcp).small().weak())
                        .on_hover_text("The kernel's state of this TCP connection and its round-trip time");
                }
                if c.peer.done_sending {
                    ui.label(RichText::new("finished sending: still receiving").italics().weak())
                        .on_hover_text(
                            "It shut down its side of the connection (TCP half-close). It stays \
                             here until it closes, which the server learns when it next sends to it.",
                        );
                }
                ui.horizontal_wrapped(|ui| {
                    if s.mode().is_some_and(Mode::server_can_send) {
                        let label = if chosen { "Sending to this one" } else { "Send to this one" };
                        if ui.selectable_label(chosen, label).tab(Group::Clients).clicked() {
                            new_target = Some(if chosen { Target::All } else { Target::One(*id) });
                        }
                    }
                    // The same words on every card: the description says whose (screen readers
                    // read it after the name).
                    if ui
                        .button("Disconnect")
                        .on_hover_text(format!("Close the connection of {}", c.peer.label()))
                        .tab(Group::Clients)
                        .clicked()
                    {
                        drop_id = Some(*id);
                    }
                });
            });
            // Its height, for its place-holder if it leaves (see `departed_card`).
            ui.ctx().data_mut(|d| d.insert_temp(card_key(*id), card.response.rect.height()));
        }
    });
    if !s.departed.is_empty() && !ui.rect_contains_pointer(list.inner_rect) {
        s.departed.clear();
    }
    if let Some(id) = drop_id {
        s.disconnect_client(id);
    }
    if let Some(t) = new_target {
        s.target = t;
        s.focus_send = true;
    }
}

/// A client that has left, kept in its place (greyed, no buttons) while the pointer is on the list.
/// As tall as the card was, so the cards below keep their places.
fn departed_card(ui: &mut egui::Ui, id: crate::model::PeerId, c: &super::session::ClientEntry) {
    let was = ui.ctx().data(|d| d.get_temp::<f32>(card_key(id)));
    let drawn = egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        let title = c.peer.name.clone().unwrap_or_else(|| c.peer.host_or_ip());
        ui.label(RichText::new(title).strong().weak());
        ui.label(RichText::new(format!("{}  ({})", c.peer.host_or_ip(), c.peer.addr)).weak());
        ui.label(RichText::new("left").italics().weak());
    });
    if let Some(h) = was {
        ui.add_space((h - drawn.response.rect.height()).max(0.0));
    }
}

fn card_key(id: crate::model::PeerId) -> egui::Id {
    egui::Id::unique(("client card height", id))
}
