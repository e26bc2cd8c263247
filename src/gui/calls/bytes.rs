//! The bytes of one `recv` as a packet viewer shows them: offset, hex and text side by side. Line ends are
//! marked (`0a` as `↵`, `0d` as `←`, in their own colour) and a message's own bytes are highlighted, so
//! where `recv` cut the stream and where the lines end can be told apart.

use std::ops::Range;

use egui::text::LayoutJob;
use egui::{Color32, FontId, RichText, TextFormat, TextStyle};

/// Rows shown at most per recv: around the highlighted bytes, or the first ones.
const MAX_ROWS: usize = 24;

/// How one byte shows in the text column.
pub fn text_char(b: u8) -> char {
    match b {
        b'\n' => '↵',
        b'\r' => '←',
        0x20..=0x7e => b as char,
        _ => '·',
    }
}

pub fn is_line_end(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// One row as plain text: `0010  68 65 6c 6c 6f 0d 0a 62  hello←↵b` (the hex padded on a short row).
pub fn row_text(data: &[u8], at: usize, per_row: usize) -> String {
    let end = (at + per_row).min(data.len());
    let mut s = format!("{at:04x}  ");
    for i in at..at + per_row {
        match data.get(i).filter(|_| i < end) {
            Some(b) => s.push_str(&format!("{b:02x} ")),
            None => s.push_str("   "),
        }
    }
    s.push(' ');
    s.extend(data[at..end].iter().map(|&b| text_char(b)));
    s
}

/// The rows to show: all when few, else a window around the first highlighted byte.
pub fn rows_shown(len: usize, per_row: usize, highlight: &[Range<usize>]) -> Range<usize> {
    let rows = len.div_ceil(per_row);
    if rows <= MAX_ROWS {
        return 0..rows;
    }
    let first = highlight.first().map_or(0, |r| r.start / per_row);
    let from = first.saturating_sub(2).min(rows - MAX_ROWS);
    from..from + MAX_ROWS
}

/// Draws `data` with `highlight`ed ranges (a message's bytes).
pub fn show(ui: &mut egui::Ui, data: &[u8], highlight: &[Range<usize>]) {
    let font = TextStyle::Monospace.resolve(ui.style());
    let char_w = ui.fonts_mut(|f| f.glyph_width(&font, '0')).max(1.0);
    // As many bytes a row as fit (16, 8 or 4): offset, 3 columns of hex and 1 of text a byte, gaps.
    let fits = |n: f32| ui.available_width() - 12.0 >= char_w * (7.0 + n * 4.0);
    let per_row = if fits(16.0) {
        16
    } else if fits(8.0) {
        8
    } else {
        4
    };
    let vis = ui.visuals().clone();
    let hl = vis.selection.bg_fill;
    let eol =
        if vis.dark_mode { Color32::from_rgb(0xff, 0xb8, 0x6c) } else { Color32::from_rgb(0xb3, 0x4d, 0x00) };
    let shown = rows_shown(data.len(), per_row, highlight);
    egui::Frame::new().fill(vis.extreme_bg_color).inner_margin(4.0).corner_radius(3.0).show(ui, |ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        if shown.start > 0 {
            ui.label(RichText::new(format!("... {} bytes before", shown.start * per_row)).small().weak());
        }
        for r in shown.clone() {
            let at = r * per_row;
            let job = row_job(data, at, per_row, highlight, &font, &vis, hl, eol);
            ui.add(egui::Label::new(job).wrap_mode(egui::TextWrapMode::Extend));
        }
        let after = data.len().saturating_sub(shown.end * per_row);
        if after > 0 {
            ui.label(RichText::new(format!("... {after} bytes after")).small().weak());
        }
    });
}

/// What the marks mean; once under the byte views.
pub fn legend(ui: &mut egui::Ui) {
    // Monospace: the proportional font has no arrows.
    ui.label(
        RichText::new("0a ↵ is the line end \\n; 0d ← is \\r (telnet and Windows send it first)")
            .monospace()
            .size(11.0)
            .weak(),
    );
}

#[allow(clippy::too_many_arguments)]
fn row_job(
    data: &[u8],
    at: usize,
    per_row: usize,
    highlight: &[Range<usize>],
    font: &FontId,
    vis: &egui::Visuals,
    hl: Color32,
    eol: Color32,
) -> LayoutJob {
    let mut job = LayoutJob::default();
    let fmt = |color: Color32, bg: Option<Color32>| TextFormat {
        font_id: font.clone(),
        color,
        background: bg.unwrap_or(Color32::TRANSPARENT),
        ..Default::default()
    };
    let end = (at + per_row).min(data.len());
    job.append(&format!("{at:04x}  "), 0.0, fmt(vis.weak_text_color(), None));
    let inside = |i: usize| highlight.iter().any(|r| r.contains(&i));
    let color_of = |b: u8| if is_line_end(b) { eol } else { vis.strong_text_color() };
    for i in at..at + per_row {
        match data.get(i).filter(|_| i < end) {
            Some(&b) => {
                let bg = inside(i).then_some(hl);
                job.append(&format!("{b:02x}"), 0.0, fmt(color_of(b), bg));
                // The space between two highlighted bytes is highlighted too, so the message reads as one.
                let bg = (inside(i) && inside(i + 1) && i + 1 < end).then_some(hl);
                job.append(" ", 0.0, fmt(vis.text_color(), bg));
            }
            None => job.append("   ", 0.0, fmt(vis.text_color(), None)),
        }
    }
    job.append(" ", 0.0, fmt(vis.text_color(), None));
    for (i, &b) in data[at..end].iter().enumerate() {
        let bg = inside(at + i).then_some(hl);
        job.append(&text_char(b).to_string(), 0.0, fmt(color_of(b), bg));
    }
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_shows_hex_and_text_with_line_ends_marked() {
        let d = b"hello\r\nbye\n";
        assert_eq!(row_text(d, 0, 8), "0000  68 65 6c 6c 6f 0d 0a 62  hello\u{2190}\u{21b5}b");
        assert_eq!(row_text(d, 8, 8), "0008  79 65 0a                 ye\u{21b5}");
        assert_eq!(text_char(0), '·');
        assert_eq!(text_char(0xc3), '·');
    }

    #[test]
    fn a_long_recv_shows_the_rows_around_the_message() {
        assert_eq!(rows_shown(100, 8, &[]), 0..13);
        let message = [Range { start: 8000, end: 8020 }];
        let r = rows_shown(16384, 16, &message);
        assert!(r.contains(&(8000 / 16)) && r.len() == MAX_ROWS, "{r:?}");
    }
}
