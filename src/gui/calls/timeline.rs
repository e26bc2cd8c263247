//! The timeline: one row per call, newest at the bottom, following new calls like the chat does. A gutter
//! on the left draws the lanes (the listening socket, then one column per connection) as a sequence
//! diagram does, with a dot on the lane that made the call.

use egui::{Align2, Color32, FontId, Sense, Stroke, TextStyle};

use super::log::{CallLog, Row, Selected};
use super::{LaneInfo, lane_color};
use crate::calls::CallState;
use crate::gui::palette::PeerColors;

const COL_W: f32 = 11.0;

/// `+12.345 s` since the engine started.
pub fn clock(us: u64) -> String {
    format!("+{:.3} s", us as f64 / 1e6)
}

/// A row's text: the call as C would print it, a waiting call with its live elapsed time.
pub fn row_text(row: &Row) -> String {
    let c = &row.call;
    let mut t = String::new();
    if c.lost_before > 0 {
        t.push_str(&format!("[{} not recorded] ", c.lost_before));
    }
    match &c.state {
        CallState::Waiting => {
            t.push_str(&format!("{}({}) waiting {:.1} s", c.name, c.args, row.since.elapsed().as_secs_f64()));
        }
        CallState::Paused => t.push_str(&format!("NEXT: {}({}), paused", c.name, c.args)),
        _ => t.push_str(&c.describe()),
    }
    t
}

/// Draws the rows; returns the chat entry to bring into view when a `recv` that carried one was clicked.
pub fn show(ui: &mut egui::Ui, calls: &mut CallLog, colors: &PeerColors) -> Option<usize> {
    let font = TextStyle::Monospace.resolve(ui.style());
    let row_h = ui.fonts_mut(|f| f.row_height(&font)).max(14.0) + 2.0;
    let (base, end) = calls.span();
    let total = (end - base) as usize;
    let vis = ui.visuals().clone();
    let cols = calls.lanes().iter().map(|l| l.col + 1).max().unwrap_or(1);
    let gutter = cols as f32 * COL_W + 4.0;
    let highlight = calls.call_highlight();
    let mut clicked = None;
    let mut waiting_shown = false;
    ui.spacing_mut().item_spacing.y = 0.0;
    let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]).stick_to_bottom(true);
    if let Some(abs) = calls.reveal.take() {
        area = area.vertical_scroll_offset((abs.saturating_sub(base) as f32 - 3.0).max(0.0) * row_h);
    }
    area.show_rows(ui, row_h, total, |ui, range| {
        for i in range {
            let abs = base + i as u64;
            let Some(row) = calls.row(abs) else { continue };
            let id = calls.id_of(row);
            let text = row_text(row);
            waiting_shown |= row.call.is_waiting();
            let (rect, resp) = ui.allocate_exact_size([ui.available_width(), row_h].into(), Sense::click());
            let selected = highlight.contains(&id);
            resp.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &text));
            let resp = crate::gui::keys::TabStop::tab(resp, crate::gui::keys::Group::Calls);
            let p = ui.painter_at(rect);
            if selected {
                p.rect_filled(rect, 2.0, vis.selection.bg_fill);
            } else if resp.hovered() {
                p.rect_filled(rect, 2.0, vis.widgets.hovered.weak_bg_fill);
            }
            let own = calls.lanes().iter().find(|l| l.key == row.key());
            gutter_at(&p, rect, abs, (calls.lanes(), own), &vis, colors);
            // Right-aligned, so the calls start in one column however long the session.
            let time = format!("{:>10}", clock(row.start_us));
            let tx = rect.left() + gutter;
            let small = FontId::monospace(font.size * 0.85);
            p.text(
                [tx, rect.center().y].into(),
                Align2::LEFT_CENTER,
                &time,
                small.clone(),
                vis.weak_text_color(),
            );
            let tw = ui.fonts_mut(|f| f.glyph_width(&small, '0')) * (time.len() as f32 + 1.0);
            let color = text_color(row, own, selected, &vis);
            p.text([tx + tw, rect.center().y].into(), Align2::LEFT_CENTER, &text, font.clone(), color);
            if resp.clicked() {
                clicked = Some((id, row.msgs.first().copied()));
            }
            // A narrow panel cuts long rows: the whole call shows on hover.
            resp.on_hover_text(text);
        }
    });
    if waiting_shown {
        // The elapsed time of a waiting call ticks.
        ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
    }
    let (id, msg) = clicked?;
    calls.selected = Some(Selected::Call(id));
    msg
}

fn text_color(row: &Row, own: Option<&LaneInfo>, selected: bool, vis: &egui::Visuals) -> Color32 {
    if selected {
        return vis.selection.stroke.color;
    }
    match &row.call.state {
        CallState::Failed { .. } => vis.error_fg_color,
        CallState::Waiting | CallState::Paused => vis.warn_fg_color,
        CallState::Merged { .. } => vis.weak_text_color(),
        CallState::Returned { .. } if own.is_some_and(|l| l.closed) => vis.weak_text_color(),
        CallState::Returned { .. } => vis.text_color(),
    }
}

/// The lanes alive at row `abs`: a line through the row for each, a dot on the call's own lane.
fn gutter_at(
    p: &egui::Painter,
    rect: egui::Rect,
    abs: u64,
    (lanes, own): (&[LaneInfo], Option<&LaneInfo>),
    vis: &egui::Visuals,
    colors: &PeerColors,
) {
    let x = |col: usize| rect.left() + 2.0 + col as f32 * COL_W + COL_W / 2.0;
    let cy = rect.center().y;
    for l in lanes {
        let ends = if l.closed { l.last } else { u64::MAX };
        if abs < l.first || abs > ends {
            continue;
        }
        let top = if abs == l.first { cy } else { rect.top() };
        let bottom = if abs == ends { cy } else { rect.bottom() };
        let stroke = Stroke::new(if l.closed { 1.0 } else { 2.0 }, lane_color(l, vis, colors));
        p.line_segment([[x(l.col), top].into(), [x(l.col), bottom].into()], stroke);
    }
    if let Some(l) = own {
        p.circle_filled([x(l.col), cy].into(), 4.0, lane_color(l, vis, colors));
    }
}
