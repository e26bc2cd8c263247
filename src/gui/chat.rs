//! The chat view: every event as a line (time, who, text), wrapped to the view's width, drawn with
//! `show_rows` so only the visible lines are laid out however long the history grows.
//!
//! Lines use the monospace font, so a line's wrapped height is known from its length alone: that is what
//! lets 100,000+ entries scroll smoothly without measuring each one.

use std::ops::Range;
use std::sync::Arc;

use egui::text::LayoutJob;
use egui::{Color32, FontId, TextFormat, TextStyle, TextWrapMode};

use crate::model::{self, Event, Origin, PeerId, Target};

/// Width of the time column, `HH:MM:SS` and a space; continuation lines are indented by as much.
const TIME_COLS: usize = 9;
/// Narrowest body width we wrap to, so a tiny window still shows words, not single letters.
const MIN_BODY_COLS: usize = 16;

/// How an entry looks; own, peer and system lines differ at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Own,
    Peer,
    System,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paint {
    Who(Color32),
    Own,
    Text,
    System,
    Error,
}

struct Row {
    kind: Kind,
    time: String,
    body: String,
    /// Byte ranges of `body` and how each is painted.
    segs: Vec<(Range<usize>, Paint)>,
}

/// The history shown in the window, in arrival order.
pub struct ChatLog {
    events: Vec<Arc<Event>>,
    rows: Vec<Row>,
    /// `line_start[i]` is the first display line of entry `i`; one extra element holds the total.
    line_start: Vec<usize>,
    /// Body width `line_start` was computed for.
    cols: usize,
}

/// A colour per peer, from its address, so the same connection keeps its colour all session long.
pub fn peer_color(addr: &std::net::SocketAddr, dark: bool) -> Color32 {
    const DARK: [Color32; 8] = [
        Color32::from_rgb(0x6c, 0xb6, 0xff),
        Color32::from_rgb(0xff, 0xa6, 0x57),
        Color32::from_rgb(0x7e, 0xe7, 0x87),
        Color32::from_rgb(0xf7, 0x8c, 0xc6),
        Color32::from_rgb(0xd2, 0xa8, 0xff),
        Color32::from_rgb(0x56, 0xd4, 0xdd),
        Color32::from_rgb(0xe3, 0xd0, 0x6a),
        Color32::from_rgb(0xff, 0x7b, 0x72),
    ];
    const LIGHT: [Color32; 8] = [
        Color32::from_rgb(0x09, 0x5b, 0xc2),
        Color32::from_rgb(0xb3, 0x4d, 0x00),
        Color32::from_rgb(0x1a, 0x7f, 0x37),
        Color32::from_rgb(0xbf, 0x39, 0x89),
        Color32::from_rgb(0x82, 0x50, 0xdf),
        Color32::from_rgb(0x0a, 0x7d, 0x86),
        Color32::from_rgb(0x8a, 0x6d, 0x00),
        Color32::from_rgb(0xcf, 0x22, 0x2e),
    ];
    // FNV-1a: stable across runs, unlike the std hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in addr.to_string().bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let i = (h % 8) as usize;
    if dark { DARK[i] } else { LIGHT[i] }
}

/// Control characters would break the one-row-per-line layout; show them as spaces.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Calls `f` with the byte range of each wrapped line of `s`, at most `width` characters each,
/// breaking after a space when one is in reach.
fn wrap(s: &str, width: usize, mut f: impl FnMut(Range<usize>)) {
    let width = width.max(1);
    if s.is_empty() {
        f(0..0);
        return;
    }
    let mut start = 0;
    let mut count = 0;
    let mut last_space: Option<usize> = None;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        count += 1;
        let next = iter.peek().map_or(s.len(), |(j, _)| *j);
        if c == ' ' {
            last_space = Some(next);
        }
        if count == width && next < s.len() {
            let cut = match last_space {
                Some(sp) if sp > start && sp < next => sp,
                _ => next,
            };
            f(start..cut);
            start = cut;
            count = s[cut..next].chars().count();
            last_space = None;
        }
        let _ = i;
    }
    f(start..s.len());
}

fn line_count(s: &str, width: usize) -> usize {
    let mut n = 0;
    wrap(s, width, |_| n += 1);
    n
}

impl Default for ChatLog {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatLog {
    pub fn new() -> Self {
        ChatLog { events: Vec::new(), rows: Vec::new(), line_start: vec![0], cols: MIN_BODY_COLS }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every entry, for saving; cheap to clone (shared events).
    pub fn events(&self) -> Vec<Arc<Event>> {
        self.events.clone()
    }

    /// The line as text (time, who, text), as copied to the clipboard.
    pub fn line_text(&self, i: usize) -> Option<String> {
        self.rows.get(i).map(|r| format!("{} {}", r.time, r.body))
    }

    pub fn kind(&self, i: usize) -> Option<Kind> {
        self.rows.get(i).map(|r| r.kind)
    }

    /// Adds an event; `peer_name` names the target of messages we sent to one client.
    pub fn push(&mut self, ev: Event, peer_name: &dyn Fn(PeerId) -> Option<String>, dark: bool) {
        let time = model::clock(ev.time());
        let mut body = String::new();
        let mut segs = Vec::new();
        let mut add = |body: &mut String, s: &str, p: Paint| {
            let a = body.len();
            body.push_str(&printable(s));
            segs.push((a..body.len(), p));
        };
        let kind = match &ev {
            Event::Message(m) => {
                let cut = if m.truncated { " [cut: line over the length limit]" } else { "" };
                match &m.origin {
                    Origin::Local { to } => {
                        let to = match to {
                            None => "server".to_string(),
                            Some(Target::All) => "everyone".to_string(),
                            Some(Target::One(id)) => {
                                peer_name(*id).unwrap_or_else(|| format!("client #{id}"))
                            }
                        };
                        add(&mut body, &format!("you -> {to}: "), Paint::Own);
                        add(&mut body, &format!("{}{cut}", m.text), Paint::Text);
                        Kind::Own
                    }
                    Origin::Remote { from, relayed } => {
                        let via = if *relayed { " (relayed)" } else { "" };
                        add(
                            &mut body,
                            &format!("{}{via}: ", from.label()),
                            Paint::Who(peer_color(&from.addr, dark)),
                        );
                        add(&mut body, &format!("{}{cut}", m.text), Paint::Text);
                        Kind::Peer
                    }
                }
            }
            Event::Error { .. } => {
                add(&mut body, &model::describe(&ev, peer_name), Paint::Error);
                Kind::Error
            }
            _ => {
                add(&mut body, &model::describe(&ev, peer_name), Paint::System);
                Kind::System
            }
        };
        self.add_row(Row { kind, time, body, segs });
        self.events.push(Arc::new(ev));
    }

    /// A system line that is not a transcript entry (a peer's rename).
    pub fn push_line(&mut self, text: &str, _dark: bool) {
        let body = printable(text);
        let segs = vec![(0..body.len(), Paint::System)];
        self.add_row(Row { kind: Kind::System, time: model::clock(model::now()), body, segs });
    }

    fn add_row(&mut self, row: Row) {
        let last = self.line_start.last().copied().unwrap_or(0);
        self.line_start.push(last + line_count(&row.body, self.cols));
        self.rows.push(row);
    }

    fn rewrap(&mut self, cols: usize) {
        if cols == self.cols {
            return;
        }
        self.cols = cols;
        let mut total = 0;
        self.line_start.clear();
        self.line_start.push(0);
        for r in &self.rows {
            total += line_count(&r.body, cols);
            self.line_start.push(total);
        }
    }

    fn total_lines(&self) -> usize {
        self.line_start.last().copied().unwrap_or(0)
    }

    /// Entry and wrapped-line index of display line `line`.
    fn locate(&self, line: usize) -> Option<(usize, usize)> {
        let i = self.line_start.partition_point(|&s| s <= line).checked_sub(1)?;
        (i < self.rows.len()).then(|| (i, line - self.line_start[i]))
    }

    fn layout_line(&self, i: usize, sub: usize, font: &FontId, vis: &egui::Visuals) -> Option<LayoutJob> {
        let row = self.rows.get(i)?;
        let mut range = None;
        let mut k = 0;
        wrap(&row.body, self.cols, |r| {
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
            job.append(&row.time, 0.0, fmt(dim));
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
        for (r, p) in &row.segs {
            let a = r.start.max(range.start);
            let b = r.end.min(range.end);
            if a >= b {
                continue;
            }
            let mut f = fmt(match p {
                Paint::Who(c) => *c,
                Paint::Own => own,
                Paint::Text => vis.strong_text_color(),
                Paint::System => sys,
                Paint::Error => vis.error_fg_color,
            });
            if matches!(p, Paint::System) {
                f.italics = true;
            }
            job.append(&row.body[a..b], 0.0, f);
        }
        Some(job)
    }

    /// Draws the history in the remaining space, following new lines unless the user scrolled up.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let font = TextStyle::Monospace.resolve(ui.style());
        let (char_w, row_h) = ui.fonts_mut(|f| (f.glyph_width(&font, '0'), f.row_height(&font)));
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
        ui.spacing_mut().item_spacing.y = 1.0;
        let total = self.total_lines();
        egui::ScrollArea::vertical().auto_shrink([false, false]).stick_to_bottom(true).show_rows(
            ui,
            row_h,
            total,
            |ui, lines| {
                for line in lines {
                    let Some((i, sub)) = self.locate(line) else { continue };
                    let Some(job) = self.layout_line(i, sub, &font, &vis) else { continue };
                    let bg = match self.rows[i].kind {
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
                    resp.context_menu(|ui| {
                        if ui.button("Copy line").clicked() {
                            if let Some(t) = self.line_text(i) {
                                ui.ctx().copy_text(t);
                            }
                            ui.close();
                        }
                    });
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str, w: usize) -> Vec<&str> {
        let mut v = Vec::new();
        wrap(s, w, |r| v.push(&s[r]));
        v
    }

    #[test]
    fn wraps_at_spaces_and_hard_breaks_long_words() {
        assert_eq!(lines("hello world", 20), ["hello world"]);
        assert_eq!(lines("hello world", 8), ["hello ", "world"]);
        assert_eq!(lines("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(lines("", 4), [""]);
        assert_eq!(lines("abcd", 4), ["abcd"]);
        assert_eq!(lines("héllo wörld", 6), ["héllo ", "wörld"]);
        let long = "word ".repeat(50);
        assert!(lines(&long, 17).iter().all(|l| l.chars().count() <= 17));
        assert_eq!(lines(&long, 17).concat(), long);
    }

    #[test]
    fn display_lines_map_back_to_entries() {
        let mut log = ChatLog::new();
        log.rewrap(10);
        let none = |_| None;
        for t in ["a", "0123456789abcdefghij", "b"] {
            log.push(
                Event::Error { time: model::now(), peer: None, text: t.into(), fatal: false },
                &none,
                true,
            );
        }
        // "! error: a" fits 10; the second is 29 chars, 3 lines; the third fits.
        assert_eq!(log.total_lines(), 5);
        assert_eq!(log.locate(0), Some((0, 0)));
        assert_eq!(log.locate(3), Some((1, 2)));
        assert_eq!(log.locate(4), Some((2, 0)));
        assert_eq!(log.locate(5), None);
        assert_eq!(log.kind(1), Some(Kind::Error));
    }
}
