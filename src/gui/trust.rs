//! What encryption looks like in the window: the server's fingerprint in type large enough to read aloud,
//! the question a client asks the first time it meets a server (Accept once / Always / Cancel), the lock
//! or "plain" marker in the bar, and a refusal shown in full.
//!
//! Trust on first use is only as good as the comparison people make: the fingerprint is drawn the same
//! way on both screens (sixteen groups of four hex digits on two lines, [`Fingerprint::two_lines`]), so a
//! student can read along with the teacher one group at a time.

use egui::{Color32, FontId, RichText};

use super::SockchatApp;
use crate::trust::{Fingerprint, TlsInfo, TrustAnswer, Trusted};

/// Fingerprint type sizes: normal, projector mode, and the smallest it shrinks to in a narrow window.
const SIZE: f32 = 22.0;
const PRESENT_SIZE: f32 = 40.0;
const MIN_SIZE: f32 = 11.0;

/// How long the Copy button says "Copied".
const COPIED_SECS: f64 = 1.5;

/// The lock beside "TLS" in bars, cards and the list of servers found.
pub const LOCK: &str = "🔒";

/// The two lines of `fp` as large as `want` allows in the width left, never cut: a cut fingerprint
/// would be compared wrong.
fn fitted(ui: &egui::Ui, fp: &Fingerprint, want: f32) -> f32 {
    let (a, _) = fp.two_lines();
    let w = ui.fonts_mut(|f| f.layout_no_wrap(a, FontId::monospace(want), Color32::WHITE).size().x);
    // What is left of the window, too: in a narrow projector window the banner's parent can be wider
    // than the window itself, and a line drawn past its edge would be cut.
    let window_left = ui.ctx().content_rect().right() - ui.cursor().left() - 8.0;
    let room = ui.available_width().min(window_left).max(60.0);
    if w > room { (want * room / w).max(MIN_SIZE) } else { want }
}

/// The two lines, monospace and strong, at `size` (see [`fitted`]).
fn lines(ui: &mut egui::Ui, fp: &Fingerprint, size: f32, ink: Option<Color32>) {
    let (a, b) = fp.two_lines();
    for line in [a, b] {
        let mut t = RichText::new(line).font(FontId::monospace(size)).strong();
        if let Some(c) = ink {
            t = t.color(c);
        }
        ui.add(egui::Label::new(t).wrap_mode(egui::TextWrapMode::Extend));
    }
}

/// A Copy button for `fp` (`SHA256:…`, the form `--fingerprint` reads), saying "Copied" for a moment.
fn copy_button(ui: &mut egui::Ui, fp: &Fingerprint) {
    let id = egui::Id::unique(("sockchat-copy-fingerprint", fp.0));
    let now = ui.input(|i| i.time);
    let at: Option<f64> = ui.data(|d| d.get_temp(id));
    let label = if at.is_some_and(|t| now - t < COPIED_SECS) { "Copied" } else { "Copy" };
    let r = ui
        .button(label)
        .accessible_name("Copy fingerprint")
        .on_hover_text(format!("Copy {fp} to the clipboard"));
    if r.clicked() {
        ui.ctx().copy_text(fp.to_string());
        ui.data_mut(|d| d.insert_temp(id, now));
        ui.ctx().request_repaint_after(std::time::Duration::from_secs_f64(COPIED_SECS));
    }
}

/// The server's fingerprint under the address banner: what students compare, read out one group at a
/// time. `present` picks the projector's type size.
pub fn fingerprint_banner(ui: &mut egui::Ui, fp: &Fingerprint, present: bool) {
    let dark = ui.visuals().dark_mode;
    let (fill, ink) = if dark {
        (Color32::from_rgb(0x14, 0x3a, 0x2a), Color32::WHITE)
    } else {
        (Color32::from_rgb(0xdc, 0xf2, 0xe4), Color32::BLACK)
    };
    egui::Frame::new().fill(fill).corner_radius(6.0).inner_margin(egui::Margin::symmetric(10, 6)).show(
        ui,
        |ui| {
            ui.set_width(ui.available_width());
            let lead = if present { 20.0 } else { 14.0 };
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!("{LOCK} Encrypted. Fingerprint")).color(ink).size(lead).strong(),
                );
                copy_button(ui, fp);
                // Cut (whole on hover) where a narrow projector window has no room for it.
                ui.add(
                    egui::Label::new(
                        RichText::new("clients check it matches theirs").color(ink).size(lead * 0.85),
                    )
                    .truncate(),
                )
                .on_hover_text(
                    "The first time a client connects, its window shows the fingerprint of the server it \
                         reached. If every group matches this one, nobody is in between.",
                );
            });
            let size = fitted(ui, fp, if present { PRESENT_SIZE } else { SIZE });
            lines(ui, fp, size, Some(ink));
        },
    );
}

/// Why a client went on with a server's certificate, in words.
fn trusted_words(t: Trusted) -> &'static str {
    match t {
        Trusted::SystemRoots => "a certificate authority this computer trusts vouches for it",
        Trusted::Known => "it is the one you chose to always trust for this address",
        Trusted::Pinned => "it is the one --fingerprint named",
        Trusted::New => "you accepted it when it was new to this computer",
    }
}

/// The lock (encrypted) or "plain" marker for a connection, with the details on hover.
pub fn lock_marker(ui: &mut egui::Ui, tls: Option<&TlsInfo>) -> egui::Response {
    match tls {
        Some(t) => {
            let green = if ui.visuals().dark_mode {
                Color32::from_rgb(0x7f, 0xd8, 0x8f)
            } else {
                Color32::from_rgb(0x1e, 0x7a, 0x34)
            };
            let mut hover = format!("Encrypted: {}, {}", t.version, t.cipher);
            if let Some((fp, why)) = &t.server_cert {
                hover.push_str(&format!(
                    "\nServer certificate: {fp}\nTrusted because {}",
                    trusted_words(*why)
                ));
            }
            ui.label(RichText::new(format!("{LOCK} TLS")).color(green).strong()).on_hover_text(hover)
        }
        None => ui
            .label(RichText::new("plain").weak())
            .on_hover_text("Not encrypted: anyone on the network can read these lines"),
    }
}

/// The bar's marker: a client's connection (lock or "plain"), or a server's serving TLS.
pub fn bar_marker(ui: &mut egui::Ui, s: &super::Session) {
    if !s.request.is_server() {
        lock_marker(ui, s.server.as_ref().and_then(|p| p.tls.as_ref()));
    } else if let Some(fp) = &s.fingerprint {
        let green = ui.visuals().strong_text_color();
        ui.label(RichText::new(format!("{LOCK} TLS")).color(green).strong()).on_hover_text(format!(
            "Serving TLS. The certificate's fingerprint, for clients to compare:\n{fp}"
        ));
    }
}

/// A client's card marker on the server, small, for an encrypted connection: the lock with its word
/// (the lock glyph alone is a blot at card size, seen in a real window).
pub fn card_lock(ui: &mut egui::Ui, tls: Option<&TlsInfo>) {
    if let Some(t) = tls {
        ui.label(RichText::new(format!("{LOCK} TLS")).small().weak())
            .accessible_name("encrypted (TLS)")
            .on_hover_text(format!("Encrypted: {}, {}", t.version, t.cipher));
    }
}

/// Why the session ended, in full and where people look: a refused certificate's explanation (what
/// changed, what to do) does not fit the bar's one line.
pub fn ended_notice(ui: &mut egui::Ui, why: &str) {
    let red = ui.visuals().error_fg_color;
    egui::Frame::new()
        .fill(red.gamma_multiply(0.15))
        .stroke(egui::Stroke::new(1.0, red))
        .corner_radius(4.0)
        .inner_margin(10.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            // Long: it scrolls rather than pushing the chat out of a small window.
            egui::ScrollArea::vertical().max_height(ui.ctx().content_rect().height() * 0.4).show(ui, |ui| {
                ui.label(RichText::new(why).color(ui.visuals().strong_text_color()));
            });
        });
}

/// The question, in plain words.
fn question(server: &str) -> String {
    format!(
        "This computer has not met {server} before, so it cannot tell by itself that this is the server \
         you mean. Compare the fingerprint below, group by group, with the one on the server's screen (the \
         teacher's window shows it under \"Connect to\")."
    )
}

const IF_DIFFERENT: &str = "If any group differs, press Cancel: another machine may be in between.";

/// The trust dialog; returns the answer once one is given (Escape is Cancel).
pub fn trust_dialog(ctx: &egui::Context, server: &str, fp: &Fingerprint) -> Option<TrustAnswer> {
    let mut answer = None;
    let screen = ctx.content_rect();
    let width = (screen.width() - 40.0).clamp(200.0, 560.0);
    let modal = egui::Modal::new(egui::Id::unique("sockchat-trust")).show(ctx, |ui| {
        ui.set_width(width);
        egui::ScrollArea::vertical().max_height((screen.height() - 60.0).max(120.0)).show(ui, |ui| {
            ui.heading("Is this the right server?");
            ui.add_space(4.0);
            ui.label(question(server));
            ui.add_space(6.0);
            ui.label(RichText::new(format!("{server}'s fingerprint")).strong());
            let size = fitted(ui, fp, SIZE);
            lines(ui, fp, size, None);
            ui.add_space(6.0);
            ui.label(RichText::new(IF_DIFFERENT).color(ui.visuals().warn_fg_color));
            ui.add_space(8.0);
            ui.horizontal_wrapped(|ui| {
                if ui
                    .button(RichText::new("Accept once").strong())
                    .on_hover_text("Connect this time; ask again next time")
                    .clicked()
                {
                    answer = Some(TrustAnswer::Once);
                }
                if ui
                    .button("Always accept")
                    .on_hover_text(format!(
                        "Connect, and remember this fingerprint for {server}: next time connect without asking, \
                         and refuse loudly if it ever changes"
                    ))
                    .clicked()
                {
                    answer = Some(TrustAnswer::Always);
                }
                if ui.button("Cancel").accessible_name("Cancel, do not connect").on_hover_text("Do not connect (Escape)").clicked() {
                    answer = Some(TrustAnswer::Cancel);
                }
            });
        });
    });
    // Escape cancels; a click beside the dialog does not (too easy to do by accident).
    if answer.is_none()
        && modal.is_top_modal
        && ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
    {
        answer = Some(TrustAnswer::Cancel);
    }
    answer
}

impl SockchatApp {
    /// Shows the trust dialog while the engine waits for an answer, and sends the answer.
    pub(super) fn trust_ui(&mut self, ui: &mut egui::Ui) {
        let Some(s) = &mut self.session else { return };
        let Some((server, fp)) = s.trust_ask.clone() else { return };
        if let Some(a) = trust_dialog(ui.ctx(), &server, &fp) {
            s.trust(a);
        }
    }
}

#[cfg(test)]
mod tests;
