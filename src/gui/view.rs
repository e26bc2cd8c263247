//! The chat view: status bar, the server's client list, the history, and the send box.

use egui::{Color32, RichText};

use super::SockchatApp;
use super::banner::address_banner;
use super::calls;
use super::keys::{self, Group, TabStop};
use super::present::ZOOM_HINT;
use super::save::Format;
use super::session::{Phase, StartRequest};
use crate::calls::Lane;
use crate::engine::Mode;
use crate::model::{self, Target};

/// What the top bar asks for; applied after drawing so no borrow of the session is held.
enum Action {
    None,
    Stop,
    Restart,
    Back,
    Save,
}

impl SockchatApp {
    pub(super) fn chat_view(&mut self, ui: &mut egui::Ui) {
        let mut action = Action::None;
        let Some(s) = &mut self.session else { return };
        let is_server = s.request.is_server();
        let dark = ui.visuals().dark_mode;
        let calls_open = self.settings.calls_open;
        // A narrow window cannot hold chat, client list and calls side by side: the calls panel wins.
        let narrow = calls_open && ui.available_width() < 900.0;
        let weak = ui.visuals().weak_text_color();
        let present = self.settings.present;
        // Before any panel, so the send box never sees Ctrl+F.
        if ui.input_mut(|i| i.consume_shortcut(&keys::FIND)) {
            s.find.show_bar();
        }

        egui::Panel::top("status").show(ui, |ui| {
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                let (badge, color) = if is_server {
                    ("SERVER", Color32::from_rgb(0x2b, 0x6c, 0xb0))
                } else {
                    ("CLIENT", Color32::from_rgb(0xb0, 0x6a, 0x2b))
                };
                egui::Frame::new()
                    .fill(color)
                    .corner_radius(4.0)
                    .inner_margin(egui::Margin::symmetric(6, 2))
                    .show(ui, |ui| ui.label(RichText::new(badge).strong().color(Color32::WHITE)));
                let short = present || ui.available_width() < 700.0;
                let (text, bad) = match (&s.phase, &s.request) {
                    (Phase::Starting, _) => ("Starting...".to_string(), false),
                    // Projector mode or a narrow window: the banner below says where, in larger type.
                    (Phase::Live, super::StartRequest::Server(c)) if short && !s.reachable.is_empty() => {
                        (format!("{} mode", c.mode.label()), false)
                    }
                    (Phase::Live, super::StartRequest::Server(c)) => (
                        format!(
                            "Listening on {}  |  {} mode",
                            s.local_addr.map_or_else(|| c.addr.clone(), |a| a.to_string()),
                            c.mode.label()
                        ),
                        false,
                    ),
                    (Phase::Live, super::StartRequest::Client(c)) => {
                        let mut t = match &s.server {
                            Some(p) => format!("Connected to {}", p.label()),
                            None => format!("Connected to {}", c.addr),
                        };
                        if let Some(tcp) =
                            calls_open.then(|| calls::tcp_label(&s.calls, Lane::Conn(0))).flatten()
                        {
                            t.push_str(&format!("  |  {tcp}"));
                        }
                        (t, false)
                    }
                    (Phase::Stopping, _) => ("Stopping...".to_string(), false),
                    (Phase::Ended(why), _) => (why.clone(), true),
                };
                let color = if bad { ui.visuals().error_fg_color } else { ui.visuals().strong_text_color() };
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    // Drawn right to left: the slots give the Tab order left to right.
                    super::help::help_button(ui, &mut self.help_open).tab_at(Group::Bar, 6);
                    super::theme::theme_button(ui, &mut self.settings.theme).tab_at(Group::Bar, 5);
                    ui.toggle_value(&mut self.settings.present, "Present")
                        .on_hover_text(format!(
                            "Projector mode: large type, high contrast, the addresses on top. {ZOOM_HINT}."
                        ))
                        .tab_at(Group::Bar, 4);
                    // Less chrome on a projector: saving waits until the lesson is over.
                    if !present {
                        let save = ui
                            .add_enabled(!self.save.busy(), egui::Button::new("Save transcript..."))
                            .tab_at(Group::Bar, 3);
                        if save.clicked() {
                            action = Action::Save;
                        }
                    }
                    ui.toggle_value(&mut self.settings.calls_open, "Socket calls")
                        .on_hover_text("Show the socket calls behind the chat, live")
                        .tab_at(Group::Bar, 2);
                    ui.separator();
                    match &s.phase {
                        Phase::Ended(_) => {
                            if ui.button("Back to start").tab_at(Group::Bar, 1).clicked() {
                                action = Action::Back;
                            }
                            let again = if is_server { "Start again" } else { "Reconnect" };
                            if ui.button(RichText::new(again).strong()).tab(Group::Bar).clicked() {
                                action = Action::Restart;
                            }
                        }
                        Phase::Live | Phase::Starting => {
                            let stop = if is_server { "Stop server" } else { "Disconnect" };
                            if ui.button(stop).tab(Group::Bar).clicked() {
                                action = Action::Stop;
                            }
                        }
                        Phase::Stopping => {
                            ui.spinner();
                        }
                    }
                    // The status takes what the buttons leave, cut with "…" (whole on hover) rather than
                    // running under them in a narrow window or in projector type.
                    ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                        if s.phase == Phase::Live {
                            super::trust::bar_marker(ui, s);
                        }
                        ui.add(egui::Label::new(RichText::new(&text).color(color)).truncate())
                            .on_hover_text(&text);
                    });
                });
            });
            ui.add_space(2.0);
        });

        if let (Phase::Ended(why), Some(_)) = (&s.phase, &s.fatal_error) {
            egui::Panel::top("ended").show(ui, |ui| super::trust::ended_notice(ui, why));
        }

        if is_server && s.phase == Phase::Live && (!s.reachable.is_empty() || s.fingerprint.is_some()) {
            egui::Panel::top("addresses").show(ui, |ui| {
                ui.add_space(4.0);
                address_banner(ui, &s.reachable, present);
                if let Some(fp) = &s.fingerprint {
                    ui.add_space(4.0);
                    super::trust::fingerprint_banner(ui, fp, present);
                }
                ui.add_space(4.0);
            });
        }

        if is_server && !narrow {
            // At most about half a narrow window, so the chat keeps room (projector type is wide).
            let most = (ui.available_width() * 0.45).max(200.0);
            egui::Panel::right("clients").default_size(270.0).min_size(200.0).max_size(most).show(ui, |ui| {
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
                            format!("No one yet. Clients connect to an address above, for example:\n{cmd} {} {}", a.ip(), a.port())
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
                                let (rect, _) =
                                    ui.allocate_exact_size([10.0, 10.0].into(), egui::Sense::hover());
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
                                    let label =
                                        if chosen { "Sending to this one" } else { "Send to this one" };
                                    if ui.selectable_label(chosen, label).tab(Group::Clients).clicked() {
                                        new_target =
                                            Some(if chosen { Target::All } else { Target::One(*id) });
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
            });
        }

        if calls_open {
            let w = ui.available_width();
            egui::Panel::right("calls")
                .default_size((w * 0.42).clamp(260.0, 560.0))
                .size_range(220.0..=(w * 0.7).max(240.0))
                .show(ui, |ui| calls::panel(ui, s));
            s.probe_tcp();
            ui.ctx().request_repaint_after(std::time::Duration::from_secs(1));
        }

        egui::Panel::bottom("send").show(ui, |ui| {
            ui.add_space(6.0);
            let one_way = s.mode() == Some(Mode::OneWay);
            if one_way {
                ui.label(
                    RichText::new("One-way mode: clients talk, the server only listens. Start in duplex or room mode to answer.")
                        .italics(),
                );
            }
            let enabled = s.can_send();
            ui.horizontal(|ui| {
                if is_server && !one_way {
                    let l = ui.label("To");
                    let current = match s.target {
                        Target::All => "Everyone".to_string(),
                        // Short: the name, else ip:port; the full label is in the list and the drop-down.
                        Target::One(id) => s.clients.get(&id).map_or_else(
                            || "Everyone".into(),
                            |c| c.peer.name.clone().unwrap_or_else(|| c.peer.addr.to_string()),
                        ),
                    };
                    // Narrow windows shrink the target box (its long labels truncated) before the send box.
                    let w = (ui.available_width() * 0.3).clamp(90.0, 220.0);
                    egui::ComboBox::from_id_salt("target")
                        .selected_text(current)
                        .width(w)
                        .truncate()
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut s.target, Target::All, "Everyone");
                            for (id, c) in &s.clients {
                                ui.selectable_value(&mut s.target, Target::One(*id), c.peer.label());
                            }
                        })
                        .response
                        .labelled_by(l.id)
                        .tab(Group::Target);
                }
                let l = ui.label("Message");
                let hint = if one_way {
                    "sending is off in one-way mode"
                } else if enabled {
                    "type and press Enter"
                } else {
                    "not connected"
                };
                let send_w = 70.0;
                let edit = egui::TextEdit::singleline(&mut s.draft)
                    .hint_text(hint)
                    .desired_width((ui.available_width() - send_w - 8.0).max(60.0));
                let r = ui.add_enabled(enabled, edit).labelled_by(l.id).tab(Group::Send);
                let mut send = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                send |= ui
                    .add_enabled(enabled, egui::Button::new("Send").min_size([send_w, 0.0].into()))
                    .on_hover_text("Send the line (Enter in the box)")
                    .tab(Group::Send)
                    .clicked();
                if send && s.send_draft() {
                    s.focus_send = true;
                }
                if enabled && s.focus_send {
                    r.request_focus();
                    s.focus_send = false;
                }
            });
            ui.horizontal_wrapped(|ui| {
                // The footer reads on a projector too: body size there, not the small style.
                let footer = |t: &str| if present { RichText::new(t).weak() } else { RichText::new(t).small().weak() };
                ui.label(footer(&entries(s.chat.len())));
                ui.label(footer(ZOOM_HINT));
                if let Some((ok, msg)) = &self.save.status {
                    let c = if *ok { ui.visuals().weak_text_color() } else { ui.visuals().error_fg_color };
                    // Body size: the outcome of a save is read here, not in fine print.
                    ui.label(RichText::new(msg).color(c));
                }
            });
            ui.add_space(2.0);
        });

        if s.find.open {
            egui::Panel::top("find").show(ui, |ui| {
                if s.find.ui(ui, &mut s.chat) {
                    s.focus_send = true;
                }
            });
        }
        s.chat.highlight = if calls_open { s.calls.chat_highlight() } else { Default::default() };
        egui::CentralPanel::default().show(ui, |ui| s.chat.show(ui));
        if let Some(n) = s.chat.clicked.take()
            && calls_open
        {
            s.calls.select_message(n);
        }

        match action {
            Action::None => {}
            Action::Stop => s.stop(),
            Action::Restart => s.restart(),
            Action::Back => self.session = None,
            Action::Save => self.save.begin(self.wake.clone()),
        }
    }

    /// The in-window save form: the fallback where no native dialog opens.
    pub(super) fn save_form(&mut self, ui: &mut egui::Ui) {
        // Saved or cancelled: typing goes to the send box again, not into nothing.
        if std::mem::take(&mut self.save.closed)
            && let Some(s) = &mut self.session
        {
            s.focus_send = true;
        }
        if !self.save.form_open {
            return;
        }
        let mut open = true;
        let mut go = false;
        let mut cancel = false;
        egui::Window::new("Save transcript")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .min_width(520.0)
            .show(ui.ctx(), |ui| {
                if let Some(n) = &self.save.form_note {
                    ui.label(RichText::new(n).color(ui.visuals().warn_fg_color));
                }
                let mut f = self.save.form_format;
                ui.horizontal(|ui| {
                    ui.label("Format");
                    ui.radio_value(&mut f, Format::Text, "Plain text");
                    ui.radio_value(&mut f, Format::JsonLines, "JSON lines");
                });
                if f != self.save.form_format {
                    self.save.set_form_format(f);
                }
                ui.horizontal(|ui| {
                    let l = ui.label("File");
                    let r = ui
                        .add(egui::TextEdit::singleline(&mut self.save.form_path).desired_width(460.0))
                        .labelled_by(l.id);
                    if std::mem::take(&mut self.save.focus_path) {
                        r.request_focus();
                    }
                    go |= r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                });
                if let Some(e) = &self.save.form_error {
                    ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
                }
                ui.horizontal(|ui| {
                    let can = !self.save.form_path.trim().is_empty() && !self.save.busy();
                    go |= ui.add_enabled(can, egui::Button::new("Save")).clicked();
                    cancel = ui.button("Cancel").clicked();
                    if self.save.form_saving {
                        ui.spinner();
                    }
                });
            });
        if go && !self.save.busy() && !self.save.form_path.trim().is_empty() {
            let path = std::path::PathBuf::from(self.save.form_path.trim());
            let format = self.save.form_format;
            self.save.form_error = None;
            self.save.form_saving = true;
            self.write_transcript(path, format);
        } else if cancel || !open {
            self.save.form_open = false;
            self.save.form_saving = false;
            self.save.closed = true;
        }
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

fn entries(n: usize) -> String {
    if n == 1 { "1 entry".into() } else { format!("{n} entries") }
}
