//! The address banner: where students connect, in type large enough to read off a projector, each
//! address with a Copy button.
//!
//! A server on a wildcard (`[::]`) is reachable at every interface's address; `Listening on [::]:7878`
//! tells a student nothing. The banner shows what the engine chose (`Event::Listening`'s `addrs`: IPv4
//! first, then IPv6). In a small window it folds to the first address and a "+N more" button; a long
//! address shrinks to the width rather than being cut, since a cut address is a wrong address.

use std::net::SocketAddr;

use egui::{Color32, FontId, RichText};

use super::keys::{Group, TabStop};

/// How long the Copy button says "Copied".
const COPIED_SECS: f64 = 1.5;

/// Banner type sizes in points: normal and projector (present) mode. The smallest a long address may
/// shrink to before it wraps instead.
const SIZE: f32 = 22.0;
const PRESENT_SIZE: f32 = 44.0;
const MIN_SIZE: f32 = 12.0;

/// Shows the banner for `addrs`; `present` picks the projector's type size.
pub fn address_banner(ui: &mut egui::Ui, addrs: &[SocketAddr], present: bool) {
    if addrs.is_empty() {
        return;
    }
    let id = egui::Id::unique("sockchat-address-banner");
    let expanded: bool = ui.data(|d| d.get_temp(id.with("expanded")).unwrap_or(false));
    let dark = ui.visuals().dark_mode;
    let (fill, ink) = if dark {
        (Color32::from_rgb(0x12, 0x2e, 0x4d), Color32::WHITE)
    } else {
        (Color32::from_rgb(0xdd, 0xea, 0xf8), Color32::BLACK)
    };
    egui::Frame::new().fill(fill).corner_radius(6.0).inner_margin(egui::Margin::symmetric(10, 6)).show(
        ui,
        |ui| {
            ui.set_width(ui.available_width());
            // Narrow windows show one address unless asked for all; wide ones up to two.
            let narrow = ui.available_width() < 700.0;
            let fold_at = if narrow { 1 } else { 2 };
            let shown = if expanded { addrs.len() } else { addrs.len().min(fold_at) };
            let mut toggle = false;
            // The address matters more than the words before it when room is short.
            let lead_size = if present && !narrow { 24.0 } else { 14.0 };
            for (i, a) in addrs[..shown].iter().enumerate() {
                let lead = RichText::new(if i == 0 { "Connect to" } else { "or" }).color(ink).size(lead_size);
                let more = (i == 0 && !expanded && addrs.len() > shown).then(|| addrs.len() - shown);
                let size = fitted_size(ui, a, present, ink, lead_size, more);
                // One row as tall as the address, so the words and buttons centre on it.
                let row = egui::vec2(
                    ui.available_width(),
                    ui.fonts_mut(|f| f.row_height(&FontId::monospace(size))),
                );
                ui.allocate_ui_with_layout(row, egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    ui.label(lead);
                    address_row(ui, id, a, size, ink, more, &mut toggle);
                });
            }
            if expanded
                && addrs.len() > fold_at
                && ui.small_button("Show fewer").tab(Group::Addresses).clicked()
            {
                toggle = true;
            }
            if toggle {
                ui.data_mut(|d| d.insert_temp(id.with("expanded"), !expanded));
            }
        },
    );
}

/// The type size for `addr` on a row of the banner: the full size when it fits beside the words before it
/// and its buttons, else smaller (down to [`MIN_SIZE`]), since a cut address is a wrong address.
fn fitted_size(
    ui: &egui::Ui,
    addr: &SocketAddr,
    present: bool,
    ink: Color32,
    lead: f32,
    more: Option<usize>,
) -> f32 {
    let want = if present { PRESENT_SIZE } else { SIZE };
    let text_w = |t: String, font: FontId| ui.fonts_mut(|f| f.layout_no_wrap(t, font, ink).size().x);
    let gap = ui.spacing().item_spacing.x;
    let button_font = egui::TextStyle::Button.resolve(ui.style());
    let pad = 2.0 * ui.spacing().button_padding.x + gap;
    let mut taken = text_w("Connect to".into(), FontId::proportional(lead)) + gap;
    taken += text_w("Copied".into(), button_font.clone()) + pad;
    if let Some(n) = more {
        taken += text_w(format!("+{n} more"), button_font) + pad;
    }
    let room = (ui.available_width() - taken - gap).max(80.0);
    let w = text_w(addr.to_string(), FontId::monospace(want));
    if w > room { (want * room / w).max(MIN_SIZE) } else { want }
}

/// One address at `size`, with its Copy button (and a "+N more" button on the first row).
fn address_row(
    ui: &mut egui::Ui,
    id: egui::Id,
    addr: &SocketAddr,
    size: f32,
    ink: Color32,
    more: Option<usize>,
    toggle: &mut bool,
) {
    let text = addr.to_string();
    ui.label(RichText::new(&text).font(FontId::monospace(size)).color(ink).strong());
    let now = ui.input(|i| i.time);
    let copied_at: Option<f64> = ui.data(|d| d.get_temp(id.with(("copied", addr))));
    let recent = copied_at.is_some_and(|t| now - t < COPIED_SECS);
    let label = if recent { "Copied" } else { "Copy" };
    let r = ui.button(label).on_hover_text(format!("Copy {text} to the clipboard")).tab(Group::Addresses);
    if r.clicked() {
        ui.ctx().copy_text(text.clone());
        ui.data_mut(|d| d.insert_temp(id.with(("copied", addr)), now));
        ui.ctx().request_repaint_after(std::time::Duration::from_secs_f64(COPIED_SECS));
    }
    if let Some(n) = more
        && ui
            .button(format!("+{n} more"))
            .on_hover_text("Show every address this server is reachable at")
            .tab(Group::Addresses)
            .clicked()
    {
        *toggle = true;
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    fn banner(width: f32, list: Vec<SocketAddr>, present: bool) -> Harness<'static> {
        Harness::builder().with_size([width, 300.0]).build_ui(move |ui| address_banner(ui, &list, present))
    }

    fn copied(h: &Harness<'_>) -> Vec<String> {
        let cmds = &h.output().platform_output.commands;
        cmds.iter()
            .filter_map(|c| match c {
                egui::OutputCommand::CopyText(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_address_shows_with_a_copy_button_that_copies_it() {
        let mut h = banner(1000.0, addrs(&["192.0.2.1:7878", "[2001:db8::1]:7878"]), false);
        h.run();
        assert!(h.query_by_label("Connect to").is_some());
        assert!(h.query_by_label("192.0.2.1:7878").is_some());
        assert!(h.query_by_label("[2001:db8::1]:7878").is_some());
        let copy: Vec<_> = h.query_all_by_label("Copy").collect();
        assert_eq!(copy.len(), 2);
        copy[1].click();
        h.step();
        assert_eq!(copied(&h), ["[2001:db8::1]:7878"]);
        h.step();
        assert!(h.query_by_label("Copied").is_some(), "the button says it worked");
    }

    #[test]
    fn a_small_window_folds_the_rest_behind_more() {
        let list = addrs(&["192.0.2.1:7878", "198.51.100.7:7878", "[2001:db8::1]:7878"]);
        let mut h = banner(520.0, list, false);
        h.run();
        assert!(h.query_by_label("198.51.100.7:7878").is_none());
        h.get_by_label("+2 more").click();
        h.run();
        assert!(h.query_by_label("198.51.100.7:7878").is_some());
        assert!(h.query_by_label("[2001:db8::1]:7878").is_some());
        h.get_by_label("Show fewer").click();
        h.run();
        assert!(h.query_by_label("[2001:db8::1]:7878").is_none());
    }

    #[test]
    fn a_long_address_shrinks_to_the_width_rather_than_being_cut() {
        let long = "[2001:db8:1234:5678:9abc:def0:1234:5678]:65535";
        for present in [false, true] {
            let mut h = banner(520.0, addrs(&[long]), present);
            h.run();
            let r = h.get_by_label(long).rect();
            assert!(r.right() <= 520.0, "present {present}: {r:?}");
            assert!(h.get_by_label("Copy").rect().right() <= 520.0);
        }
    }

    #[test]
    fn present_mode_uses_larger_type() {
        let height = |present| {
            let mut h = banner(1280.0, addrs(&["192.0.2.1:7878"]), present);
            h.run();
            h.get_by_label("192.0.2.1:7878").rect().height()
        };
        assert!(height(true) > 1.8 * height(false));
    }
}
