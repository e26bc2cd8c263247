//! The keyboard help (F1, or the "?" button): every shortcut of the window in one list, over the window,
//! closed by Escape, F1 again, its Close button or a click beside it.

use egui::{Context, RichText};

use super::keys;

/// The shortcuts, as (keys, what they do), in the order shown. Keys held with Ctrl are written as this
/// system writes them (Cmd on macOS).
pub fn shortcuts(ctx: &Context) -> Vec<(String, &'static str)> {
    let k = |s: &egui::KeyboardShortcut| ctx.format_shortcut(s);
    // egui writes Ctrl+plus as "Ctrl++": spelled out, as the footer does.
    let cmd = if ctx.os().is_mac() { "Cmd" } else { "Ctrl" };
    vec![
        ("Tab / Shift+Tab".into(), "Move to the next / previous control"),
        ("Space or Enter".into(), "Press the button, tick the box, choose the option the keyboard is on"),
        ("Enter".into(), "In a field of the start screen: Start server / Connect"),
        ("Enter".into(), "In the send box: send the line (the keyboard stays there)"),
        (k(&keys::FIND), "Find in the history (again: back to the find field)"),
        (
            format!("Enter / Shift+Enter, {} / {}", k(&keys::FIND_NEXT), k(&keys::FIND_PREVIOUS)),
            "Next / previous match",
        ),
        ("Escape".into(), "Close the find bar (or this help); the keyboard goes back to the send box"),
        ("Enter".into(), "Step mode, nothing else focused: make the next socket call"),
        (format!("{cmd}+plus / {cmd}+minus"), "Zoom in / out (also in projector mode)"),
        (format!("{cmd}+0"), "Normal size"),
        (k(&egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::C)), "Copy the selected text"),
        (k(&keys::HELP), "Show or hide this help"),
        (k(&keys::QUIT), "Quit"),
    ]
}

/// The "?" button beside the theme button; named for screen readers, since "?" says little.
pub fn help_button(ui: &mut egui::Ui, open: &mut bool) -> egui::Response {
    let r = ui.add(egui::Button::new("?").selected(*open));
    let ctx = ui.ctx();
    let name = keys::with_keys(ctx, "Keyboard shortcuts", &keys::HELP);
    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, r.enabled(), &name));
    if r.clicked() {
        *open = !*open;
    }
    // The shortcuts people look for first, where the pointer is.
    let cmd = if ctx.os().is_mac() { "Cmd" } else { "Ctrl" };
    let tip = format!(
        "{name}\n{}\n{}\nZoom ({cmd}+plus, {cmd}+minus, {cmd}+0)",
        keys::with_keys(ctx, "Find in the history", &keys::FIND),
        keys::with_keys(ctx, "Quit", &keys::QUIT),
    );
    r.on_hover_text(tip)
}

/// F1 opens or closes the help; call once a frame, before drawing. True when it did.
pub fn keys(ctx: &Context, open: &mut bool) -> bool {
    let f1 = ctx.input_mut(|i| i.consume_shortcut(&keys::HELP));
    if f1 {
        *open = !*open;
    }
    f1
}

/// The help over the window, while `open`.
pub fn overlay(ctx: &Context, open: &mut bool) {
    if !*open {
        return;
    }
    let mut close = false;
    // As wide as it reads well, narrower in a small window (520 x 360 at least): the words wrap and the
    // list scrolls, so Close stays on screen.
    let screen = ctx.content_rect();
    let width = (screen.width() - 64.0).clamp(200.0, 600.0);
    let frame = egui::Frame::popup(&ctx.global_style()).inner_margin(14.0);
    let modal = egui::Modal::new(egui::Id::unique("keyboard help")).frame(frame).show(ctx, |ui| {
        ui.set_width(width);
        ui.heading("Keyboard shortcuts");
        ui.add_space(6.0);
        let keys_w = (width * 0.4).clamp(110.0, 240.0);
        egui::ScrollArea::vertical().max_height((screen.height() - 190.0).max(80.0)).show(ui, |ui| {
            for (keys, what) in shortcuts(ui.ctx()) {
                ui.horizontal_top(|ui| {
                    ui.allocate_ui(egui::vec2(keys_w, 0.0), |ui| {
                        ui.set_width(keys_w);
                        ui.add(egui::Label::new(RichText::new(keys).monospace().strong()).wrap());
                    });
                    ui.add(egui::Label::new(what).wrap());
                });
                ui.add_space(2.0);
            }
        });
        ui.add_space(6.0);
        ui.label(
            RichText::new(
                "In the chat view Tab goes from the send box to Send, the recipient, the top bar, the \
                 client list, the find bar and the Socket calls panel.",
            )
            .weak(),
        );
        ui.add_space(6.0);
        let c = ui.button("Close").on_hover_text("Escape or F1");
        // The keyboard comes to the help (it would otherwise stay on a control behind it): on Close, so
        // Enter or Space closes too.
        let ctx = ui.ctx();
        let behind = ctx
            .memory(|m| m.focused())
            .is_none_or(|f| ctx.read_response(f).is_none_or(|r| r.layer_id != ui.layer_id()));
        if behind {
            c.request_focus();
        }
        close = c.clicked();
    });
    if close || modal.should_close() {
        *open = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list names every key the window's code reacts to: a shortcut added to the code and not to
    /// the help fails here.
    #[test]
    fn the_list_names_every_key_the_window_reacts_to() {
        let ctx = Context::default();
        let listed: String = shortcuts(&ctx).iter().map(|(k, _)| format!("{k} ")).collect();
        let sources = [
            include_str!("mod.rs"),
            include_str!("view.rs"),
            include_str!("start.rs"),
            include_str!("find.rs"),
            include_str!("keys.rs"),
            include_str!("calls/mod.rs"),
        ];
        for src in sources {
            for (i, _) in src.match_indices("Key::") {
                let name: String =
                    src[i + 5..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let shown = name.as_str();
                assert!(
                    listed.contains(shown),
                    "Key::{name} is used in the window but the F1 help does not name it: {listed}"
                );
            }
        }
    }
}
