//! Find in history (Ctrl+F, Cmd+F on macOS): a bar above the chat view that highlights the entries
//! holding a word, counts them ("3 of 17") and steps through them.
//!
//! The history can hold hundreds of thousands of entries and a full scan of a million takes longer than a
//! frame in a debug build, so the search runs a slice at a time: each frame scans entries for at most
//! [`FRAME_BUDGET`] and the bar says "searching..." until it has reached the newest. Lines that arrive
//! while the bar is open are scanned as they come, on the next frame. The matching itself
//! ([`Needle`], [`search`]) is plain string work, tested without egui.

use std::time::{Duration, Instant};

use egui::Key;

use super::chat::ChatLog;
use super::keys::{self, Group, TabStop};

/// Time a frame may spend scanning the history: a small part of a 60 Hz frame.
pub const FRAME_BUDGET: Duration = Duration::from_millis(4);
/// Entries scanned between two looks at the clock.
const SLICE: usize = 256;

/// What is searched for, folded for a case-insensitive match once rather than per line.
pub struct Needle {
    lower: String,
    ascii: bool,
}

impl Needle {
    pub fn new(query: &str) -> Self {
        Needle { lower: query.to_lowercase(), ascii: query.is_ascii() }
    }

    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }

    /// Whether `hay` holds the needle, ignoring case. An ASCII needle (the usual case) is compared byte by
    /// byte with ASCII folding and no allocation; its bytes can only match ASCII bytes of `hay`, so a
    /// match never splits a character. Any other needle compares the lowercased line.
    pub fn is_in(&self, hay: &str) -> bool {
        let n = self.lower.as_bytes();
        let Some(&first) = n.first() else { return false };
        if !self.ascii {
            return hay.to_lowercase().contains(&self.lower);
        }
        let h = hay.as_bytes();
        if h.len() < n.len() {
            return false;
        }
        (0..=h.len() - n.len()).any(|i| {
            h[i].to_ascii_lowercase() == first && h[i + 1..i + n.len()].eq_ignore_ascii_case(&n[1..])
        })
    }
}

/// The indices of the lines that hold `query`, ignoring case; none for an empty query.
pub fn search<'a>(lines: impl IntoIterator<Item = &'a str>, query: &str) -> Vec<usize> {
    let needle = Needle::new(query);
    if needle.is_empty() {
        return Vec::new();
    }
    lines.into_iter().enumerate().filter(|(_, l)| needle.is_in(l)).map(|(i, _)| i).collect()
}

/// The find bar's state. The matches themselves live in the [`ChatLog`] (`found`), which draws them.
#[derive(Default)]
pub struct FindBar {
    pub open: bool,
    pub query: String,
    /// Put the keyboard on the field on the next frame.
    focus: bool,
    /// The query the matches in the log are for (the field may have changed since).
    searched: String,
    /// The number of the next entry to scan.
    scanned: usize,
    /// Index in `ChatLog::found` of the current match.
    current: Option<usize>,
}

impl FindBar {
    /// Opens the bar (or takes the keyboard back to it, if open) with the field focused.
    pub fn show_bar(&mut self) {
        self.open = true;
        self.focus = true;
    }

    /// Closes the bar and clears the highlights.
    pub fn close(&mut self, log: &mut ChatLog) {
        self.open = false;
        self.searched.clear();
        self.current = None;
        log.found.clear();
        log.found_current = None;
    }

    /// Whether entries are left to scan for the current query.
    pub fn searching(&self, log: &ChatLog) -> bool {
        !self.searched.is_empty() && self.scanned < log.next_number()
    }

    /// Runs the search on for at most `budget`: restarts it if the query changed, drops matches that
    /// left the history, and scans entries not yet looked at.
    pub fn step(&mut self, log: &mut ChatLog, budget: Duration) {
        if self.query != self.searched {
            self.searched.clone_from(&self.query);
            self.scanned = 0;
            self.current = None;
            log.found.clear();
        }
        let gone = log.found.partition_point(|&n| n < log.trimmed());
        if gone > 0 {
            log.found.drain(..gone);
            self.current = self.current.map(|c| c.saturating_sub(gone));
        }
        let needle = Needle::new(&self.searched);
        if needle.is_empty() {
            self.scanned = log.next_number();
        }
        let start = Instant::now();
        let mut hits = Vec::new();
        while self.scanned < log.next_number() && start.elapsed() < budget {
            let mut left = SLICE;
            self.scanned = log.scan(self.scanned, |n, text| {
                if needle.is_in(text) {
                    hits.push(n);
                }
                left -= 1;
                left > 0
            });
        }
        log.found.append(&mut hits);
        if self.current.is_none() && !log.found.is_empty() {
            self.go(log, 0);
        }
        if self.current.is_some_and(|c| c >= log.found.len()) {
            self.current = None;
        }
        log.found_current = self.current.and_then(|c| log.found.get(c).copied());
    }

    fn go(&mut self, log: &mut ChatLog, index: usize) {
        self.current = Some(index);
        if let Some(&n) = log.found.get(index) {
            log.found_current = Some(n);
            log.scroll_to(n);
        }
    }

    /// Moves to the next match (`forward`) or the previous one, wrapping at either end.
    pub fn advance(&mut self, log: &mut ChatLog, forward: bool) {
        let len = log.found.len();
        if len == 0 {
            return;
        }
        let next = match self.current {
            None => 0,
            Some(c) if forward => (c + 1) % len,
            Some(c) => (c + len - 1) % len,
        };
        self.go(log, next);
    }

    /// "3 of 17", "no matches", with "searching..." while the scan goes on.
    pub fn status(&self, log: &ChatLog) -> String {
        let searching = if self.searching(log) { " (searching...)" } else { "" };
        if self.searched.is_empty() {
            return String::new();
        }
        match (self.current, log.found.len()) {
            (_, 0) if searching.is_empty() => "no matches".into(),
            (_, 0) => "searching...".into(),
            (Some(c), n) => format!("{} of {n}{searching}", c + 1),
            (None, n) => format!("{n} matches{searching}"),
        }
    }

    /// Draws the bar and handles its keys; returns true when it was closed (the caller gives the keyboard
    /// back to the send box).
    pub fn ui(&mut self, ui: &mut egui::Ui, log: &mut ChatLog) -> bool {
        let mut closed = false;
        // Shift+F3 before F3: `consume_key` ignores an extra Shift.
        let back_f3 = ui.input_mut(|i| i.consume_shortcut(&keys::FIND_PREVIOUS));
        let f3 = ui.input_mut(|i| i.consume_shortcut(&keys::FIND_NEXT));
        ui.horizontal(|ui| {
            let l = ui.label("Find");
            // The field gets what the buttons and a short count leave, up to its usual width, so the bar
            // fits a small window and projector type; the count is cut ("…", whole on hover) before it.
            let k = super::layout::type_scale(ui.style());
            let gap = ui.spacing().item_spacing.x;
            let buttons: f32 =
                ["Previous", "Next", "Close"].iter().map(|b| super::layout::button_width(ui, b) + gap).sum();
            let count = super::layout::text_width(ui, "99 of 999", egui::TextStyle::Body) + gap;
            let field = (ui.available_width() - buttons - count - gap).clamp(80.0 * k, 220.0 * k);
            let edit = egui::TextEdit::singleline(&mut self.query)
                .hint_text("word in the history")
                .desired_width(field);
            let r = ui
                .add(edit)
                .labelled_by(l.id)
                .on_hover_text(keys::with_keys(ui.ctx(), "Find in the history", &keys::FIND))
                .tab(Group::Find);
            if self.focus {
                r.request_focus();
                self.focus = false;
            }
            let (enter, shift, escape) =
                ui.input(|i| (i.key_pressed(Key::Enter), i.modifiers.shift, i.key_pressed(Key::Escape)));
            self.step(log, FRAME_BUDGET);
            let mut step = None;
            if r.lost_focus() && enter {
                step = Some(!shift);
                // Enter moves on and leaves the keyboard in the field, for the next Enter.
                r.request_focus();
            }
            if back_f3 {
                step = Some(false);
            } else if f3 {
                step = Some(true);
            }
            if ui.button("Previous").on_hover_text("Shift+Enter or Shift+F3").tab(Group::Find).clicked() {
                step = Some(false);
            }
            if ui.button("Next").on_hover_text("Enter or F3").tab(Group::Find).clicked() {
                step = Some(true);
            }
            if let Some(forward) = step {
                self.advance(log, forward);
            }
            if self.searching(log) {
                ui.ctx().request_repaint();
            }
            // Close at the right end; the count takes what is left between.
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("Close").on_hover_text("Escape").tab(Group::Find).clicked() || escape {
                    closed = true;
                }
                let status = self.status(log);
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    let r = ui.add(egui::Label::new(status.as_str()).truncate());
                    if !status.is_empty() {
                        r.on_hover_text(&status);
                    }
                });
            });
        });
        if closed {
            self.close(log);
        }
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::chat::HistoryLimit;
    use crate::model::{self, Event, Message, Origin, Peer};
    use std::sync::Arc;

    #[test]
    fn search_ignores_case_and_finds_every_line() {
        let lines = ["Hello there", "nothing", "say HELLO", "héllo", "hel lo", "xxhElLoxx"];
        assert_eq!(search(lines, "hello"), vec![0, 2, 5]);
        assert_eq!(search(lines, "HÉLLO"), vec![3], "a non-ASCII needle folds case too");
        assert_eq!(search(lines, "absent"), Vec::<usize>::new());
        assert_eq!(search(lines, ""), Vec::<usize>::new(), "an empty query matches nothing");
        assert!(!Needle::new("hello world").is_in("hello"), "a needle longer than the line");
    }

    #[test]
    fn search_finds_matches_in_many_lines() {
        let lines: Vec<String> =
            (0..10_000).map(|i| format!("line {i} {}", if i % 7 == 0 { "Ping" } else { "x" })).collect();
        let found = search(lines.iter().map(String::as_str), "ping");
        assert_eq!(found.len(), 10_000usize.div_ceil(7));
        assert!(found.iter().all(|i| i % 7 == 0));
    }

    fn message(from: &Arc<Peer>, i: usize, text: String) -> Event {
        Event::Message(Message {
            seq: i as u64,
            time: model::now(),
            origin: Origin::Remote { from: from.clone(), relayed: false },
            text,
            truncated: false,
            private: false,
        })
    }

    /// A million entries: how long a full scan takes, and that the bar's per-frame step stays near its
    /// budget however long the scan, while reaching the right count over frames.
    /// `cargo test --lib gui::find -- --nocapture` prints the figures.
    #[test]
    fn a_million_lines_are_searched_a_slice_per_frame() {
        const N: usize = 1_000_000;
        let mut log = ChatLog::with_limit(HistoryLimit { entries: N, text_bytes: 1 << 30 });
        let from = Arc::new(Peer::new(1, ([127, 0, 0, 1], 5000).into()));
        for i in 0..N {
            let text = if i % 1000 == 0 {
                format!("message {i} with a Needle")
            } else {
                format!("message {i} of the flood")
            };
            log.push(message(&from, i, text), &|_| None);
        }
        assert_eq!(log.len(), N);

        let start = Instant::now();
        let needle = Needle::new("needle");
        let mut all = 0;
        let mut next = 0;
        while next < log.next_number() {
            next = log.scan(next, |_, t| {
                all += usize::from(needle.is_in(t));
                true
            });
        }
        let full = start.elapsed();
        assert_eq!(all, N / 1000);

        let mut bar = FindBar { query: "NEEDLE".into(), ..Default::default() };
        let (mut frames, mut steps) = (0, Vec::new());
        while frames == 0 || bar.searching(&log) {
            let t = Instant::now();
            bar.step(&mut log, FRAME_BUDGET);
            steps.push(t.elapsed());
            frames += 1;
            assert!(frames < 100_000, "the search does not end");
        }
        steps.sort();
        let (median, longest) = (steps[steps.len() / 2], steps[steps.len() - 1]);
        let over = steps.iter().filter(|t| **t > FRAME_BUDGET * 2).count();
        println!(
            "find over {N} lines: full scan {full:?}; across frames: {frames} frames, median step \
             {median:?}, longest {longest:?}, {over} over twice the budget (budget {FRAME_BUDGET:?})"
        );
        assert_eq!(log.found.len(), N / 1000);
        assert_eq!(bar.status(&log), format!("1 of {}", N / 1000));
        assert!(frames > 1, "the scan is spread over frames");
        // How long the steps take is printed, not asserted: wall-clock bounds fail at random on a shared
        // machine, so the figures go to BENCHMARKS.md ("Find in history") instead.
    }
}
