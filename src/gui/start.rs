//! The start screen: role, address, mode or name, validated as typed; engine failures shown in words.

use std::time::Duration;

use egui::RichText;

use super::found::{self, Found, Pick};
use super::keys::{Group, TabStop};
use super::settings::{self, RoleChoice};
use super::{SockchatApp, StartRequest};
use crate::engine::{ClientConfig, Mode, ServerConfig};

fn mode_help(m: Mode) -> &'static str {
    match m {
        Mode::OneWay => "clients talk, the server only listens",
        Mode::Duplex => "the server can answer one client or everyone",
        Mode::Room => "every client's line goes to every other client too",
    }
}

/// A text field with a visible label that also names it for screen readers (and tests).
fn field(ui: &mut egui::Ui, label: &str, value: &mut String, hint: &str, width: f32) -> egui::Response {
    let l = ui.label(label);
    let r = ui
        .add(egui::TextEdit::singleline(value).hint_text(hint).desired_width(width))
        .labelled_by(l.id)
        .tab(Group::Form);
    ui.end_row();
    r
}

/// The row under the fields: why they cannot be used yet, or (weak) what they will do.
fn problem<T>(ui: &mut egui::Ui, check: &Result<T, String>, ok: impl FnOnce(&T) -> String) {
    ui.label("");
    match check {
        Err(e) => ui.label(RichText::new(e).color(ui.visuals().error_fg_color)),
        Ok(v) => ui.label(RichText::new(ok(v)).weak()),
    };
    ui.end_row();
}

impl SockchatApp {
    pub(super) fn start_screen(&mut self, ui: &mut egui::Ui) {
        let starting = self.session.is_some();
        egui::CentralPanel::default().show(ui, |ui| {
            // The theme and the keyboard help, in the corner where the chat view's bar has them.
            egui::Area::new(egui::Id::unique("start-corner"))
                .anchor(egui::Align2::RIGHT_TOP, [-8.0, 8.0])
                .show(ui.ctx(), |ui| {
                    ui.horizontal(|ui| {
                        super::theme::theme_button(ui, &mut self.settings.theme).tab(Group::Corner);
                        super::help::help_button(ui, &mut self.help_open).tab(Group::Corner);
                    });
                });
            // Scrolls when the window is too short for the form (and the list of servers found).
            egui::ScrollArea::vertical().auto_shrink(false).show(ui, |ui| {
                ui.vertical_centered(|ui| {
                    ui.add_space(24.0);
                    ui.heading(RichText::new("sockchat").size(28.0).strong());
                    ui.label("Chat over TCP with people on your network.");
                    ui.add_space(16.0);
                });
                let width = 460.0_f32.min(ui.available_width());
                let left = ((ui.available_width() - width) / 2.0).max(0.0);
                ui.horizontal(|ui| {
                    ui.add_space(left);
                    ui.vertical(|ui| {
                        ui.set_width(width);
                        egui::Frame::group(ui.style()).inner_margin(16.0).show(ui, |ui| {
                            ui.set_width(width - 34.0);
                            ui.add_enabled_ui(!starting, |ui| self.form(ui));
                        });
                        ui.add_space(10.0);
                        if let Some(s) = &self.session {
                            let mut cancel = false;
                            ui.horizontal(|ui| {
                                ui.spinner();
                                let what = if s.request.is_server() {
                                    "Starting the server on"
                                } else {
                                    "Connecting to"
                                };
                                ui.label(format!("{what} {}...", s.request.addr()));
                                cancel = ui.button("Cancel").tab(Group::Form).clicked();
                            });
                            if cancel {
                                // Dropping the session stops its engine off this thread.
                                self.session = None;
                            }
                        } else if self.start_error.is_some()
                            && self.start_error_form.as_ref() != Some(&self.settings)
                        {
                            self.start_error = None;
                            self.forget = None;
                        } else if let Some(e) = &self.start_error {
                            egui::Frame::new()
                                .fill(ui.visuals().error_fg_color.gamma_multiply(0.15))
                                .stroke(egui::Stroke::new(1.0, ui.visuals().error_fg_color))
                                .corner_radius(4.0)
                                .inner_margin(10.0)
                                .show(ui, |ui| {
                                    ui.set_width(width - 22.0);
                                    ui.label(RichText::new(e).color(ui.visuals().strong_text_color()));
                                    match &mut self.forget {
                                        Some(f) => f.ui(ui),
                                        None => {
                                            ui.label(
                                                RichText::new("Change the fields above and try again.")
                                                    .weak(),
                                            );
                                        }
                                    }
                                });
                        }
                    });
                });
            });
        });
        if starting {
            // Keep the spinner turning while the engine binds or connects.
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
    }

    fn form(&mut self, ui: &mut egui::Ui) {
        let s = &mut self.settings;
        ui.horizontal(|ui| {
            ui.label(RichText::new("I want to be the").strong());
            ui.selectable_value(&mut s.role, RoleChoice::Server, "Server").tab(Group::Form);
            ui.selectable_value(&mut s.role, RoleChoice::Client, "Client").tab(Group::Form);
        });
        ui.add_space(8.0);
        let mut submit = false;
        let log;
        let request = match s.role {
            RoleChoice::Server => {
                let mut check = Ok(String::new());
                egui::Grid::new("server-form").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
                    let a = field(ui, "Listen host", &mut s.server_host, "every interface", 260.0);
                    let b = field(ui, "Listen port", &mut s.server_port, "7878", 90.0);
                    if a.lost_focus() {
                        settings::move_port_out_of_host(&mut s.server_host, &mut s.server_port);
                    }
                    submit |= entered(ui, &a) || entered(ui, &b);
                    check = settings::check_server(&s.server_host, &s.server_port);
                    problem(ui, &check, |_| match s.server_port.trim() {
                        "0" => "port 0: the system picks a free port".into(),
                        _ => "once it runs, the window shows the addresses to give clients".into(),
                    });
                    ui.label("Mode");
                    ui.vertical(|ui| {
                        for m in Mode::ALL {
                            ui.radio_value(&mut s.mode, m, m.label()).tab(Group::Form);
                        }
                    });
                    ui.end_row();
                    ui.label("");
                    ui.label(RichText::new(mode_help(s.mode)).italics());
                    ui.end_row();
                });
                announce_row(ui, s, &mut self.found);
                let tls = self.tls_form.server_rows(ui, s, self.save.native, self.wake.clone());
                let section = egui::CollapsingHeader::new("Limits and access").id_salt("limits");
                let limits_section = section.show(ui, |ui| {
                    egui::Grid::new("limits-form").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
                        field(ui, "Most clients", &mut s.max_clients, "256", 90.0);
                        field(ui, "Most per address", &mut s.max_per_address, "16", 90.0);
                        field(ui, "Idle timeout (s)", &mut s.idle_timeout, "never", 90.0);
                        field(ui, "Room rate (lines/s)", &mut s.room_rate, "no limit", 90.0);
                        field(ui, "Room rate (bytes/s)", &mut s.room_byte_rate, "no limit", 90.0);
                        field(ui, "Allow only", &mut s.allow, "everyone, or e.g. 192.168.1.0/24, ::1", 260.0);
                        field(ui, "Deny", &mut s.deny, "nobody", 260.0);
                    });
                });
                limits_section.header_response.tab(Group::Form);
                // Shown outside the section, so a bad value is seen even when it is collapsed.
                let limits = settings::check_limits(s);
                if let Err(e) = &limits {
                    ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
                }
                log = log_row(ui, s);
                super::calls::step_switch(ui, &mut s.step);
                ui.add_space(8.0);
                let ok = check.is_ok() && limits.is_ok() && log.is_ok() && tls.is_ok();
                submit |= ui
                    .add_enabled(ok, egui::Button::new("Start server").min_size([140.0, 28.0].into()))
                    .on_hover_text("Enter in a field starts it too")
                    .tab(Group::Form)
                    .clicked();
                match (check, limits, tls) {
                    (Ok(addr), Ok(limits), Ok(tls)) => {
                        let trace = super::calls::trace_mode(s.step);
                        let announce = settings::announce_config(s);
                        let mut cfg = ServerConfig {
                            addr,
                            mode: s.mode,
                            trace,
                            announce,
                            greet: true,
                            tls,
                            ..Default::default()
                        };
                        limits.apply(&mut cfg);
                        Some(StartRequest::Server(cfg))
                    }
                    _ => None,
                }
            }
            RoleChoice::Client => {
                self.found.ensure_browsing(self.wake.clone());
                match found::panel(ui, &self.found) {
                    Some(Pick::Fill { host, port, tls }) => {
                        (s.client_host, s.client_port, s.client_tls) = (host, port, tls);
                    }
                    Some(Pick::Join { host, port, tls }) => {
                        (s.client_host, s.client_port, s.client_tls) = (host, port, tls);
                        submit = true;
                    }
                    None => {}
                }
                ui.add_space(8.0);
                let mut check = Ok(String::new());
                let mut name = Ok(None);
                egui::Grid::new("client-form").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
                    let a = field(ui, "Server host", &mut s.client_host, "name, IP or host:port", 260.0);
                    let b = field(ui, "Server port", &mut s.client_port, "7878", 90.0);
                    // A pasted `host:port` keeps its port in the host field while it is being edited (the
                    // check below already uses it); leaving the field moves it to the port field.
                    if a.lost_focus() {
                        settings::move_port_out_of_host(&mut s.client_host, &mut s.client_port);
                    }
                    check = settings::check_client(&s.client_host, &s.client_port);
                    problem(ui, &check, |a| format!("will connect to {a}"));
                    let c = field(ui, "Your name", &mut s.name, "optional", 260.0);
                    name = settings::check_name(&s.name);
                    problem(ui, &name, |n| match n {
                        Some(_) => "the server shows this name next to your address".into(),
                        None => "without a name the server shows only your address".into(),
                    });
                    submit |= entered(ui, &a) || entered(ui, &b) || entered(ui, &c);
                });
                super::tls_form::client_row(ui, s);
                log = log_row(ui, s);
                super::calls::step_switch(ui, &mut s.step);
                ui.add_space(8.0);
                let ok = check.is_ok() && name.is_ok() && log.is_ok();
                submit |= ui
                    .add_enabled(ok, egui::Button::new("Connect").min_size([140.0, 28.0].into()))
                    .on_hover_text("Enter in a field connects too")
                    .tab(Group::Form)
                    .clicked();
                match (check, name) {
                    (Ok(addr), Ok(name)) => {
                        let trace = super::calls::trace_mode(s.step);
                        let tls = super::tls_form::client_tls(s);
                        Some(StartRequest::Client(ClientConfig {
                            addr,
                            name,
                            trace,
                            tls,
                            ..Default::default()
                        }))
                    }
                    _ => None,
                }
            }
        };
        if submit && let (Some(req), Ok(log)) = (request, log) {
            self.log = log;
            self.forms.save(&self.settings, Some(self.settings.role));
            self.start(req);
        }
    }
}

/// The continuous log switch: every event appended to a file as it happens.
fn log_row(ui: &mut egui::Ui, s: &mut settings::Settings) -> Result<Option<std::path::PathBuf>, String> {
    ui.horizontal(|ui| {
        let c = ui.checkbox(&mut s.log_on, "Log every event to").tab(Group::Form);
        ui.add_enabled(s.log_on, egui::TextEdit::singleline(&mut s.log_path).desired_width(240.0))
            .labelled_by(c.id)
            .tab(Group::Form);
    });
    let log = settings::check_log(s);
    if let Err(e) = &log {
        ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
    }
    log
}

/// The server form's LAN announcement: on or off, the name it is listed under, the interface it uses.
fn announce_row(ui: &mut egui::Ui, s: &mut settings::Settings, found: &mut Found) {
    ui.checkbox(&mut s.announce, "Announce on the local network")
        .on_hover_text("Clients' start screens and `sockchat servers` list this server")
        .tab(Group::Form);
    ui.add_enabled_ui(s.announce, |ui| {
        egui::Grid::new("announce-form").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
            let host = crate::engine::discovery::host_name();
            field(ui, "Listed as", &mut s.announce_name, &host, 260.0);
            let l = ui.label("Announce on");
            let shown = match s.announce_interface.as_str() {
                "" => "every network".to_string(),
                name => name.to_string(),
            };
            egui::ComboBox::from_id_salt("announce-interface")
                .selected_text(shown)
                .width(260.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut s.announce_interface, String::new(), "every network");
                    for i in found.interfaces() {
                        let addrs: Vec<String> = i.addrs.iter().map(ToString::to_string).collect();
                        let text = format!("{} ({})", i.name, addrs.join(", "));
                        ui.selectable_value(&mut s.announce_interface, i.name.clone(), text);
                    }
                })
                .response
                .labelled_by(l.id)
                .tab(Group::Form);
            ui.end_row();
        });
    });
}

/// Enter in a field starts, like the button.
fn entered(ui: &egui::Ui, r: &egui::Response) -> bool {
    r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
}
