//! Projector mode ("Present"): the window as a classroom reads it from the back row.
//!
//! It scales the text styles rather than egui's zoom factor, so the zoom keys (Ctrl+plus, Ctrl+minus,
//! Ctrl+0) stay the user's own on top of it: Ctrl+0 resets the zoom, not the projector mode. Everything
//! drawn with a text style (chat rows, bar, footer, client list, buttons) grows together, and the chat
//! view's virtual scrolling measures its rows from the monospace style each frame, so it agrees with the
//! larger font. Contrast goes up: pure black or white behind text of the opposite colour, brighter weak
//! text, thicker strokes.

use std::sync::Arc;

use egui::{Color32, Style, Theme};

/// How much larger every text style gets.
pub const TEXT_SCALE: f32 = 1.6;

/// The zoom keys, for the hint in the footer and the Present button's tooltip.
pub const ZOOM_HINT: &str = "Ctrl+plus / Ctrl+minus: zoom, Ctrl+0: normal size";

/// `base` in projector dress.
pub fn presented(base: &Style) -> Style {
    let mut s = base.clone();
    for font in s.text_styles.values_mut() {
        font.size = (font.size * TEXT_SCALE).round();
    }
    let sp = &mut s.spacing;
    sp.item_spacing *= 1.3;
    sp.button_padding *= 1.4;
    sp.interact_size.y = (sp.interact_size.y * TEXT_SCALE).round();
    sp.icon_width *= TEXT_SCALE;
    sp.icon_width_inner *= TEXT_SCALE;
    let v = &mut s.visuals;
    let (bg, ink) =
        if v.dark_mode { (Color32::BLACK, Color32::WHITE) } else { (Color32::WHITE, Color32::BLACK) };
    v.panel_fill = bg;
    v.window_fill = bg;
    v.extreme_bg_color = bg;
    v.override_text_color = Some(ink);
    v.weak_text_alpha = 0.8;
    v.weak_text_color = None;
    v.widgets.noninteractive.bg_stroke.width = 2.0;
    for w in [&mut v.widgets.inactive, &mut v.widgets.hovered, &mut v.widgets.active] {
        w.fg_stroke.width = w.fg_stroke.width.max(1.5);
        w.bg_stroke = egui::Stroke::new(1.5, ink.gamma_multiply(0.6));
    }
    s
}

/// The styles the window had before projector mode first changed them, to go back to.
#[derive(Default)]
pub struct PresentStyle {
    base: Option<[Arc<Style>; 2]>,
    applied: Option<bool>,
}

impl PresentStyle {
    /// Puts `ctx` in projector dress (`on`) or back; does nothing when it already is. The change shows
    /// from the next frame, which it asks for.
    pub fn apply(&mut self, ctx: &egui::Context, on: bool) {
        if self.applied == Some(on) {
            return;
        }
        let base = self.base.get_or_insert_with(|| [ctx.style_of(Theme::Dark), ctx.style_of(Theme::Light)]);
        for (theme, b) in [(Theme::Dark, &base[0]), (Theme::Light, &base[1])] {
            ctx.set_style_of(theme, if on { presented(b) } else { (**b).clone() });
        }
        self.applied = Some(on);
        ctx.request_repaint();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_grows_and_contrast_goes_up_in_both_themes() {
        for theme in [Theme::Dark, Theme::Light] {
            let base = Style { visuals: theme.default_visuals(), ..Style::default() };
            let p = presented(&base);
            for (ts, font) in &base.text_styles {
                assert!(p.text_styles[ts].size >= font.size * 1.5, "{ts:?}");
            }
            let ink = p.visuals.text_color();
            let bg = p.visuals.panel_fill;
            assert!(
                ink == Color32::WHITE && bg == Color32::BLACK
                    || ink == Color32::BLACK && bg == Color32::WHITE
            );
        }
    }
}
