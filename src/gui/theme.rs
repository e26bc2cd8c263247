//! The theme: follow the system, or light or dark by choice. The choice is a setting
//! ([`super::Settings::theme`]), so it is remembered, and egui picks the matching style each frame.
//!
//! Everything the window draws takes its colours from the current style: the peers' colours have a
//! palette per theme ([`super::palette`]), projector mode dresses both themes ([`super::present`]).

use egui::{Context, Response, ThemePreference};

/// Makes `ctx` follow `choice` (egui then asks the system for its theme where the choice is to follow
/// it, and falls back to dark where the system does not say).
pub fn apply(ctx: &Context, choice: ThemePreference) {
    if ctx.options(|o| o.theme_preference) != choice {
        ctx.set_theme(choice);
    }
}

/// The choices, as the menu lists them.
const CHOICES: [(ThemePreference, &str); 3] = [
    (ThemePreference::System, "Follow the system"),
    (ThemePreference::Light, "Light"),
    (ThemePreference::Dark, "Dark"),
];

/// What the button is called: for screen readers, which cannot read its icon, and in its tooltip.
pub fn button_name(choice: ThemePreference) -> &'static str {
    match choice {
        ThemePreference::System => "Theme: follow the system",
        ThemePreference::Light => "Theme: light",
        ThemePreference::Dark => "Theme: dark",
    }
}

/// A small button showing the current choice as an icon, opening a menu of the three. Returns the
/// button's response (for the Tab order).
pub fn theme_button(ui: &mut egui::Ui, choice: &mut ThemePreference) -> Response {
    let icon = match choice {
        ThemePreference::System => "◑",
        ThemePreference::Light => "☀",
        ThemePreference::Dark => "🌙",
    };
    let name = button_name(*choice);
    let mut chosen = false;
    let (button, _) = egui::containers::menu::MenuButton::from_button(egui::Button::new(icon)).ui(ui, |ui| {
        ui.label(egui::RichText::new("Theme").strong());
        for (c, text) in CHOICES {
            if ui.radio_value(choice, c, text).clicked() {
                chosen = true;
                ui.close();
            }
        }
    });
    if chosen {
        // The keyboard goes back to the button, not to nowhere with the menu; the new theme shows now.
        button.request_focus();
        apply(ui.ctx(), *choice);
        ui.ctx().request_repaint();
    }
    // The icon is no name: say what the button is.
    button.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, button.enabled(), name));
    button.on_hover_text(name)
}

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;

    #[test]
    fn the_menu_sets_the_choice_and_the_button_says_it() {
        let mut h = Harness::builder().with_size([300.0, 200.0]).build_ui_state(
            |ui, choice: &mut ThemePreference| {
                theme_button(ui, choice);
                apply(ui.ctx(), *choice);
            },
            ThemePreference::System,
        );
        h.run();
        h.get_by_label("Theme: follow the system").click();
        h.run();
        h.get_by_label("Light").click();
        h.run();
        assert_eq!(*h.state(), ThemePreference::Light);
        assert_eq!(h.ctx.theme(), egui::Theme::Light);
        assert!(h.query_by_label("Light").is_none(), "the menu closes once a theme is chosen");
        h.get_by_label("Theme: light").click();
        h.run();
        h.get_by_label("Dark").click();
        h.run();
        assert_eq!(h.ctx.theme(), egui::Theme::Dark);
        assert!(h.query_by_label("Theme: dark").is_some());
    }
}
