//! Drawing the chat view: laying out the visible display lines (`show_rows`), the highlights, and the
//! button back to the newest line.

use super::*;

impl ChatLog {
    /// Display line `sub` of a body built by [`Self::build`], with the time (or its indent) in front.
    pub(super) fn layout_line(
        &self,
        body: &Body,
        time: &str,
        sub: usize,
        font: &FontId,
        vis: &egui::Visuals,
    ) -> Option<LayoutJob> {
        let mut range = None;
        let mut k = 0;
        body.wrap(self.cols, |r| {
            if k == sub {
                range = Some(r);
            }
            k += 1;
        });
        let range = range?;
        let dim = vis.weak_text_color();
        let mut job = LayoutJob::default();
        job.wrap.max_width = f32::INFINITY;
        let fmt = |color| TextFormat { font_id: font.clone(), color, ..Default::default() };
        if sub == 0 {
            job.append(time, 0.0, fmt(dim));
            job.append(" ", 0.0, fmt(dim));
        } else {
            job.append(&" ".repeat(TIME_COLS), 0.0, fmt(dim));
        }
        let own = if vis.dark_mode {
            Color32::from_rgb(0x9a, 0xe6, 0xb4)
        } else {
            Color32::from_rgb(0x1f, 0x6f, 0x3f)
        };
        let sys = if vis.dark_mode {
            Color32::from_rgb(0xb8, 0xb8, 0xb8)
        } else {
            Color32::from_rgb(0x5a, 0x5a, 0x5a)
        };
        for (r, p) in &body.segs {
            let a = r.start.max(range.start);
            let b = r.end.min(range.end);
            if a >= b {
                continue;
            }
            let mut f = fmt(match p {
                Paint::Who(addr) => self.colors.color(addr, vis.dark_mode, vis.weak_text_color()),
                Paint::Own => own,
                Paint::Text => vis.strong_text_color(),
                Paint::System => sys,
                Paint::Error => vis.error_fg_color,
            });
            if matches!(p, Paint::System) {
                f.italics = true;
            }
            job.append(&body.text[a..b], 0.0, f);
        }
        Some(job)
    }

    /// Draws the history in the remaining space, following new lines unless the user scrolled up.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        if let Some(note) = self.trimmed_note() {
            ui.label(egui::RichText::new(format!("… {note}")).italics().weak());
        }
        let font = TextStyle::Monospace.resolve(ui.style());
        // A character's advance as the rows are laid out (at this size and scale, as drawn) rather than the
        // font's nominal one, so a row of `cols` characters never runs past the view: 64 of them measured,
        // cached by egui after the first frame.
        let (char_w, row_h) = ui.fonts_mut(|f| {
            let run = f.layout_no_wrap("0".repeat(64), font.clone(), Color32::WHITE).size().x;
            (run / 64.0, f.row_height(&font))
        });
        let scrollbar = ui.spacing().scroll.bar_width + ui.spacing().scroll.bar_outer_margin + 4.0;
        let cols = ((ui.available_width() - scrollbar) / char_w.max(1.0)).floor() as usize;
        self.rewrap(cols.saturating_sub(TIME_COLS).max(MIN_BODY_COLS));
        let vis = ui.visuals().clone();
        let own_bg = if vis.dark_mode {
            Color32::from_rgba_unmultiplied(0x3a, 0x7a, 0x4a, 40)
        } else {
            Color32::from_rgba_unmultiplied(0x3a, 0x9a, 0x5a, 30)
        };
        let err_bg = Color32::from_rgba_unmultiplied(0xd0, 0x30, 0x30, 36);
        let found_bg = Color32::from_rgba_unmultiplied(0xe0, 0xb0, 0x20, 60);
        ui.spacing_mut().item_spacing.y = 1.0;
        // No rubber band: this view sets its offset itself every frame (below), and egui springs an
        // offset past last frame's end back towards it, leaving a velocity that then coasts the view up
        // the history frame after frame. A rewrap that adds rows (a narrower window, larger type) puts the
        // newest line's offset past last frame's end every time.
        ui.spacing_mut().scroll.kinetic.rubber_band = false;
        let total = self.total_lines();
        let mut labels = std::mem::take(&mut self.labels);
        let pitch = row_h + ui.spacing().item_spacing.y;
        // The view's height and the bottom offset as of this frame (a resize changes both). egui is told
        // the same height (its own floor is 64 points): with less room than that (a small window in
        // projector type, with the addresses and the fingerprint above) the two would disagree on the rows
        // to draw, and the check below would ask for another frame every frame.
        let view_h = ui.available_height().max(1.0);
        let content_h = (total as f32 * pitch - ui.spacing().item_spacing.y).max(0.0)
            + ui.spacing().scroll.content_margin.sum().y;
        let bottom = (content_h - view_h).max(0.0);
        // Where the view stands is decided here, before any row is laid out, from this frame's sizes.
        // egui's stick-to-bottom and its clamping act only after the rows are drawn: after a resize
        // (rows rewrapped, the view taller or shorter) the frame would show the rows of the old offset,
        // blank or mid-history, and nothing asks for another frame until the mouse moves.
        let reveal = self.reveal_line.take();
        let offset = if let Some(line) = reveal {
            // Three rows of context above the line, fewer in a view of a few rows (a small window in
            // projector type), where they would push the line out of sight or under "Jump to latest".
            let above = (view_h / pitch / 3.0).floor().clamp(0.0, 3.0);
            Some((line as f32 - above).max(0.0) * pitch)
        } else if self.left_bottom_at.is_none() {
            Some(bottom)
        } else {
            // Reading older lines: the line at the top stays there, however the lines rewrap.
            self.top.and_then(|top| self.anchored(top, pitch))
        };
        // Not sticking to the bottom in the frame that reveals a line: egui would put a view that was
        // following the newest line straight back there, over the offset asked for.
        let mut area = egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .min_scrolled_height(view_h)
            .stick_to_bottom(reveal.is_none());
        if let Some(y) = offset {
            area = area.vertical_scroll_offset(y.clamp(0.0, bottom));
        }
        let mut first_drawn = None;
        let out = area.show_rows(ui, row_h, total, |ui, lines| {
            first_drawn = Some(lines.start);
            let mut body = Body::default();
            // The entry whose body is in `body`: its continuation lines reuse it.
            let mut built: Option<(usize, Kind, String)> = None;
            for line in lines {
                let Some((i, sub)) = self.locate(line) else { continue };
                if built.as_ref().is_none_or(|b| b.0 != i) {
                    let Some(e) = self.entry(i) else { continue };
                    self.build(&e, &mut labels, &mut body);
                    built = Some((i, e.kind(), model::clock(e.time())));
                }
                let Some((_, kind, time)) = &built else { continue };
                let Some(job) = self.layout_line(&body, time, sub, &font, &vis) else { continue };
                let n = self.trimmed + i;
                let bg = match kind {
                    _ if self.found_current == Some(n) => Some(vis.selection.bg_fill),
                    _ if self.found.binary_search(&n).is_ok() => Some(found_bg),
                    _ if self.highlight.contains(&n) => Some(vis.selection.bg_fill),
                    Kind::Own => Some(own_bg),
                    Kind::Error => Some(err_bg),
                    _ => None,
                };
                if let Some(bg) = bg {
                    let spacing = ui.spacing().item_spacing.y;
                    let rect = egui::Rect::from_min_size(
                        ui.cursor().min - egui::vec2(0.0, spacing / 2.0),
                        egui::vec2(ui.available_width(), row_h + spacing),
                    );
                    ui.painter().rect_filled(rect, 0.0, bg);
                }
                let resp = ui.add(egui::Label::new(job).wrap_mode(TextWrapMode::Extend));
                if resp.clicked() {
                    self.clicked = Some(self.trimmed + i);
                }
                resp.context_menu(|ui| {
                    if ui.button("Copy line").clicked() {
                        if let Some(t) = self.line_text(i) {
                            ui.ctx().copy_text(t);
                        }
                        ui.close();
                    }
                });
            }
        });
        self.labels = labels;
        // The wheel or the scroll bar moved the view after the rows were picked: draw again now rather
        // than show the old rows until the next event.
        let y = out.state.clamped_offset().y;
        if first_drawn.is_some_and(|f| f != first_row(y, out.inner_rect.height(), pitch, total)) {
            ui.ctx().request_repaint();
        }
        // The anchor, which a rewrap keeps where it is in the view: the first entry that starts in the view
        // (the one being read; rows above it end one begun above the view, and a narrower window would
        // make more of them), else the first row drawn whole.
        let line = (y / pitch - 0.01).ceil().max(0.0) as usize;
        let h = out.inner_rect.height();
        self.top = self.locate(line).map(|(i, sub)| {
            let next = self.line_start.get(i + 1).copied().filter(|_| i + 1 < self.chars.len());
            match next {
                Some(start) if sub > 0 && (start as f32) * pitch < y + h => {
                    (self.trimmed + i + 1, 0, y - start as f32 * pitch)
                }
                _ => (self.trimmed + i, sub, y - line as f32 * pitch),
            }
        });
        self.jump_button(ui, &out, row_h);
    }

    /// The offset that puts `top` (an entry's number, one of its wrapped lines, where the view starts from
    /// that line's top) at the top of the view, as the lines are wrapped now.
    fn anchored(&self, (number, sub, into): (usize, usize, f32), pitch: f32) -> Option<f32> {
        let Some(i) = number.checked_sub(self.trimmed) else {
            // The line left the history: the oldest one kept is the nearest.
            return Some(0.0);
        };
        let (&start, &end) = (self.line_start.get(i)?, self.line_start.get(i + 1)?);
        let line = start + sub.min(end.saturating_sub(start + 1));
        Some(line as f32 * pitch + into)
    }

    /// While the user reads older lines, a button in the corner says how many came since and goes back
    /// to following the newest (the view stops following as soon as it is scrolled up).
    fn jump_button<R>(
        &mut self,
        ui: &mut egui::Ui,
        out: &egui::scroll_area::ScrollAreaOutput<R>,
        row_h: f32,
    ) {
        let view_h = out.inner_rect.height();
        let offset = out.state.clamped_offset().y;
        let at_bottom = offset + view_h >= out.content_size.y - row_h / 2.0;
        if at_bottom {
            self.left_bottom_at = None;
            return;
        }
        let at = *self.left_bottom_at.get_or_insert(self.len());
        let new = self.len().saturating_sub(at);
        let text = match new {
            0 => "Jump to latest".to_string(),
            1 => "Jump to latest (1 new)".to_string(),
            n => format!("Jump to latest ({n} new)"),
        };
        let font = TextStyle::Button.resolve(ui.style());
        let text_w = ui.fonts_mut(|f| f.layout_no_wrap(text.clone(), font, Color32::WHITE).size().x);
        let pad = ui.spacing().button_padding;
        let size = egui::vec2(text_w + 2.0 * pad.x, ui.spacing().interact_size.y);
        let scrollbar = ui.spacing().scroll.bar_width + ui.spacing().scroll.bar_outer_margin;
        let min = out.inner_rect.right_bottom() - size - egui::vec2(scrollbar + 8.0, 8.0);
        let jump = ui.put(egui::Rect::from_min_size(min, size), egui::Button::new(text));
        if crate::gui::keys::TabStop::tab(jump, crate::gui::keys::Group::History).clicked() {
            // Following again: the next frame puts the newest line at the view's foot.
            self.left_bottom_at = None;
            self.top = None;
            ui.ctx().request_repaint();
        }
    }
}

/// The first row `show_rows` lays out for a view `view_h` high at offset `y` (its own arithmetic).
fn first_row(y: f32, view_h: f32, pitch: f32, total: usize) -> usize {
    let min = (y / pitch).floor().max(0.0) as usize;
    let max = ((y + view_h) / pitch).ceil().max(0.0) as usize + 1;
    if max > total { total.saturating_sub(max.saturating_sub(min)) } else { min }
}
