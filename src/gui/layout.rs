//! Width rules for the chat view, so every control fits from the smallest window (520 x 360) to a
//! projector's, in normal and projector type: what the server's client list gets, when it folds away,
//! and which of the top bar's switches fold into its "More" menu.
//!
//! The rules are in points at normal type and grow with projector mode's type ([`scale`]), so the
//! projector's larger buttons and rows fold the same way a narrower window would. Widths of words are
//! measured with the style's fonts rather than guessed, so a longer label (another language, a larger
//! zoom) still fits.

use serde::{Deserialize, Serialize};

use super::present::TEXT_SCALE;

/// Whether the server's client list shows beside the chat; remembered with the settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientList {
    /// Beside the chat when the window has room for both ([`list_fits`]), folded away when not.
    #[default]
    Auto,
    /// Shown by the user in a window too narrow for it: it stays, taking room from the chat.
    Shown,
    /// Hidden by the user: only the toggle shows, at any width.
    Hidden,
}

impl ClientList {
    /// Whether the list shows, when the window has room for it (`fits`) or not.
    pub fn visible(self, fits: bool) -> bool {
        match self {
            ClientList::Auto => fits,
            ClientList::Shown => true,
            ClientList::Hidden => false,
        }
    }

    /// The choice after the toggle is pressed: the other visibility. Showing it in a window that has
    /// room goes back to `Auto`, so it folds again when the window gets narrow.
    pub fn toggled(self, fits: bool) -> ClientList {
        match (self.visible(fits), fits) {
            (true, _) => ClientList::Hidden,
            (false, true) => ClientList::Auto,
            (false, false) => ClientList::Shown,
        }
    }
}

/// How much larger than normal the text is: projector mode's type.
pub fn scale(present: bool) -> f32 {
    if present { TEXT_SCALE } else { 1.0 }
}

/// How much larger than egui's usual the style's body text is (projector mode makes it 1.6).
pub fn type_scale(style: &egui::Style) -> f32 {
    let size = |s: &egui::Style| s.text_styles.get(&egui::TextStyle::Body).map_or(14.0, |f| f.size);
    (size(style) / size(&egui::Style::default())).max(1.0)
}

/// The narrowest the chat may get for the client list beside it (points at normal type): about 50
/// columns of monospace text, time included, before lines wrap every few words.
const CHAT_MIN: f32 = 420.0;
/// The client list's narrowest and widest (points at normal type), and its share of the window between.
const LIST_MIN: f32 = 160.0;
const LIST_MAX: f32 = 270.0;
const LIST_SHARE: f32 = 0.3;
/// Shown in a window with no room for it, the list takes at most this share of the width.
const LIST_MOST: f32 = 0.5;

/// The client list's width in a window `width` points wide: a share of it, within bounds that grow with
/// the type, and never more than half of it.
pub fn list_width(width: f32, present: bool) -> f32 {
    let s = scale(present);
    (width * LIST_SHARE).clamp(LIST_MIN * s, LIST_MAX * s).min(width * LIST_MOST).floor()
}

/// Whether the client list fits beside the chat in `width` points without crowding it.
pub fn list_fits(width: f32, present: bool) -> bool {
    width - list_width(width, present) >= CHAT_MIN * scale(present)
}

/// How many of `items` (widths in points, most important first) fit in `room` beside one another,
/// `gap` apart, keeping `more` points for the menu that holds the rest when not all of them fit.
pub fn fold(room: f32, items: &[f32], gap: f32, more: f32) -> usize {
    let all: f32 = items.iter().map(|w| w + gap).sum();
    if all <= room {
        return items.len();
    }
    let mut used = more + gap;
    let mut n = 0;
    for w in items {
        if used + w + gap > room {
            break;
        }
        used += w + gap;
        n += 1;
    }
    n
}

/// The width of `text` in text style `style`, on one line.
pub fn text_width(ui: &egui::Ui, text: &str, style: egui::TextStyle) -> f32 {
    let font = style.resolve(ui.style());
    ui.fonts_mut(|f| f.layout_no_wrap(text.to_owned(), font, egui::Color32::WHITE).size().x)
}

/// The width of a button (or switch) labelled `text`.
pub fn button_width(ui: &egui::Ui, text: &str) -> f32 {
    let w = text_width(ui, text, egui::TextStyle::Button) + 2.0 * ui.spacing().button_padding.x;
    // A little over, so rounding never pushes the last one out.
    w.max(ui.spacing().interact_size.x) + 1.0
}

#[cfg(test)]
mod rules {
    use super::*;

    #[test]
    fn the_list_shrinks_with_the_window_and_folds_below_a_width() {
        assert_eq!(list_width(1280.0, false), 270.0);
        assert!(list_width(700.0, false) < 270.0 && list_width(700.0, false) >= 160.0);
        assert!(list_fits(1280.0, false) && list_fits(700.0, false));
        assert!(!list_fits(520.0, false), "the chat would be crowded");
        assert!(!list_fits(800.0, true) && list_fits(1280.0, true), "projector type needs more room");
        assert!(list_width(1280.0, true) > list_width(1280.0, false));
        for w in [520.0, 600.0, 800.0] {
            assert!(list_width(w, true) <= w / 2.0);
        }
    }

    #[test]
    fn the_toggle_flips_what_shows_and_auto_comes_back_where_there_is_room() {
        use ClientList::*;
        assert!(Auto.visible(true) && !Auto.visible(false));
        assert_eq!(Auto.toggled(true), Hidden);
        assert_eq!(Hidden.toggled(true), Auto);
        assert_eq!(Auto.toggled(false), Shown);
        assert_eq!(Shown.toggled(false), Hidden);
        assert_eq!(Hidden.toggled(false), Shown);
        assert!(Shown.visible(false) && !Hidden.visible(true));
    }

    #[test]
    fn fold_keeps_the_most_important_items_and_room_for_the_menu() {
        let items = [80.0, 60.0, 50.0, 100.0];
        assert_eq!(fold(1000.0, &items, 8.0, 40.0), 4);
        assert_eq!(fold(80.0 + 60.0 + 50.0 + 100.0 + 32.0, &items, 8.0, 40.0), 4, "exactly room for all");
        // 40 + 8 (menu) + 88 + 68 = 204: two fit, the menu holds the other two.
        assert_eq!(fold(210.0, &items, 8.0, 40.0), 2);
        assert_eq!(fold(100.0, &items, 8.0, 40.0), 0);
    }
}

#[cfg(test)]
mod tests;
