//! The chat view: status bar, the server's client list, the history, and the send box.

use egui::{Color32, RichText};

use super::SockchatApp;
use super::banner::address_banner;
use super::calls;
use super::keys::{self, Group, TabStop};
use super::layout;
use super::present::ZOOM_HINT;
use super::save::Format;
use super::session::Phase;
use crate::calls::Lane;
use crate::engine::Mode;
use crate::model::Target;

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
        let calls_open = self.settings.calls_open;
        let present = self.settings.present;
        // The calls panel's usual width, as it opens (see below): the list and the chat share the rest.
        let calls_w = if calls_open { calls_width(ui.available_width()) } else { 0.0 };
        let list_fits = layout::list_fits(ui.available_width() - calls_w, present);
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
                    // Drawn right to left: the slots give the Tab order left to right. The help and the
                    // theme are small and always there; the switches that fit beside the status and the
                    // session's own buttons follow, and the rest fold into "More" (least needed first)
                    // rather than running over the status.
                    super::help::help_button(ui, &mut self.help_open).tab_at(Group::Bar, 9);
                    super::theme::theme_button(ui, &mut self.settings.theme).tab_at(Group::Bar, 8);
                    let gap = ui.spacing().item_spacing.x;
                    let ends = match &s.phase {
                        Phase::Ended(_) => {
                            let again = if is_server { "Start again" } else { "Reconnect" };
                            layout::button_width(ui, "Back to start") + layout::button_width(ui, again) + gap
                        }
                        Phase::Live | Phase::Starting => {
                            layout::button_width(ui, if is_server { "Stop server" } else { "Disconnect" })
                        }
                        Phase::Stopping => ui.spacing().interact_size.y,
                    };
                    // The TLS marker before the status (a client's lock or "plain", a TLS server's lock).
                    let marker = if s.phase == Phase::Live && (!is_server || s.fingerprint.is_some()) {
                        let m = if s.server.as_ref().is_some_and(|p| p.tls.is_none()) && !is_server {
                            "plain".to_string()
                        } else {
                            format!("{} TLS", super::trust::LOCK)
                        };
                        layout::text_width(ui, &m, egui::TextStyle::Body) + gap
                    } else {
                        0.0
                    };
                    let status_w = layout::text_width(ui, &text, egui::TextStyle::Body)
                        .min(110.0 * layout::scale(present))
                        + gap
                        + marker;
                    let room = ui.available_width() - ends - status_w - 2.0 * gap - 6.0;
                    let switches: Vec<Switch> = [
                        is_server.then_some(Switch::Clients),
                        Some(Switch::Present),
                        Some(Switch::Calls),
                        (!present).then_some(Switch::Save),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    let widths: Vec<f32> =
                        switches.iter().map(|w| layout::button_width(ui, w.label())).collect();
                    let shown = layout::fold(room, &widths, gap, layout::button_width(ui, "More"));
                    let mut bar = Bar {
                        settings: &mut self.settings,
                        save_busy: self.save.busy(),
                        list_fits,
                        action: &mut action,
                    };
                    if shown < switches.len() {
                        ui.menu_button("More", |ui| {
                            // A menu keeps egui's own Tab order (see `keys`).
                            for w in &switches[shown..] {
                                bar.switch(ui, *w, None);
                            }
                        })
                        .response
                        .on_hover_text("The switches there is no room for in this window")
                        .tab_at(Group::Bar, 7);
                    }
                    // Drawn right to left, in the order they always were.
                    for w in [Switch::Present, Switch::Save, Switch::Calls, Switch::Clients] {
                        if switches[..shown].contains(&w) {
                            bar.switch(ui, w, Some(w.slot()));
                        }
                    }
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

        // Beside the chat, full height, where the window has room for both. Shown in a window too narrow
        // for it, it goes beside the history only (see the central panel below): the find bar and the send
        // row keep the window's width, which their controls need, in projector type most of all.
        let list_shown = is_server && self.settings.client_list.visible(list_fits);
        let list_w = layout::list_width(ui.available_width() - calls_w, present);
        if list_shown && list_fits {
            egui::Panel::right("clients")
                .resizable(false)
                .exact_size(list_w)
                .show(ui, |ui| super::clients::list(ui, s, present, calls_open));
        }

        if calls_open {
            let w = ui.available_width();
            egui::Panel::right("calls")
                .default_size(calls_width(w))
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
                    let k = layout::scale(present);
                    let w = (ui.available_width() * 0.25).clamp(80.0 * k, 220.0 * k);
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
                // The send box gets what is left once the Send button has its room, measured in this
                // style's type (projector type makes the button wider).
                let send_w = layout::button_width(ui, "Send").max(70.0);
                let gap = ui.spacing().item_spacing.x;
                let edit = egui::TextEdit::singleline(&mut s.draft)
                    .hint_text(hint)
                    .desired_width((ui.available_width() - send_w - gap).max(40.0));
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
            // The footer reads on a projector too: body size there, not the small style. One row: the
            // zoom keys are cut where the window is narrow (whole on hover), as a second row of them would
            // take a row from the history of a small window.
            let footer = |t: &str| if present { RichText::new(t).weak() } else { RichText::new(t).small().weak() };
            ui.horizontal(|ui| {
                ui.label(footer(&entries(s.chat.len())));
                ui.add(egui::Label::new(footer(ZOOM_HINT)).truncate()).on_hover_text(ZOOM_HINT);
            });
            if let Some((ok, msg)) = &self.save.status {
                let c = if *ok { ui.visuals().weak_text_color() } else { ui.visuals().error_fg_color };
                // Body size and whole: the outcome of a save is read here, not in fine print.
                ui.label(RichText::new(msg).color(c));
            }
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
        egui::CentralPanel::default().show(ui, |ui| {
            if list_shown && !list_fits {
                egui::Panel::right("clients")
                    .resizable(false)
                    .exact_size(list_w)
                    .show(ui, |ui| super::clients::list(ui, s, present, calls_open));
            }
            s.chat.show(ui)
        });
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

/// The calls panel's width as it opens beside the chat in a window `w` points wide.
fn calls_width(w: f32) -> f32 {
    (w * 0.42).clamp(260.0, 560.0)
}

/// A switch of the top bar, in the bar or in its "More" menu.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Switch {
    Clients,
    Present,
    Calls,
    Save,
}

impl Switch {
    fn label(self) -> &'static str {
        match self {
            Switch::Clients => "Client list",
            Switch::Present => "Present",
            Switch::Calls => "Socket calls",
            Switch::Save => "Save transcript...",
        }
    }

    /// Its place in the bar's Tab order, left to right after the session's own buttons (slots 0 and 1).
    fn slot(self) -> u16 {
        match self {
            Switch::Clients => 3,
            Switch::Calls => 4,
            Switch::Save => 5,
            Switch::Present => 6,
        }
    }
}

/// What the top bar's switches change.
struct Bar<'a> {
    settings: &'a mut super::Settings,
    save_busy: bool,
    list_fits: bool,
    action: &'a mut Action,
}

impl Bar<'_> {
    /// Draws switch `w`; in the bar's Tab order at `slot`, or in egui's own (inside the "More" menu).
    fn switch(&mut self, ui: &mut egui::Ui, w: Switch, slot: Option<u16>) {
        let r = match w {
            Switch::Present => ui.toggle_value(&mut self.settings.present, w.label()).on_hover_text(format!(
                "Projector mode: large type, high contrast, the addresses on top. {ZOOM_HINT}."
            )),
            // Less chrome on a projector: saving waits until the lesson is over.
            Switch::Save => {
                let r = ui.add_enabled(!self.save_busy, egui::Button::new(w.label()));
                if r.clicked() {
                    *self.action = Action::Save;
                }
                r
            }
            Switch::Calls => ui
                .toggle_value(&mut self.settings.calls_open, w.label())
                .on_hover_text("Show the socket calls behind the chat, live"),
            Switch::Clients => {
                let mut on = self.settings.client_list.visible(self.list_fits);
                let tip = if self.list_fits {
                    "Show or hide the list of connected clients"
                } else {
                    "Show or hide the list of connected clients (folded away: the window is narrow)"
                };
                let r = ui.toggle_value(&mut on, w.label()).on_hover_text(tip);
                if r.clicked() {
                    self.settings.client_list = self.settings.client_list.toggled(self.list_fits);
                }
                r
            }
        };
        if let Some(slot) = slot {
            r.tab_at(Group::Bar, slot);
        }
    }
}

fn entries(n: usize) -> String {
    if n == 1 { "1 entry".into() } else { format!("{n} entries") }
}
