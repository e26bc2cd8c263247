//! The chat view: every event as a line (time, who, text), wrapped to the view's width, drawn with
//! `show_rows` so only the visible lines are laid out however long the history grows.
//!
//! An entry costs its shared event plus a character count and a display-line offset: a line's text and
//! colours are built only when it is drawn, so the history takes little more than the transcript does,
//! and the colours are always the current theme's. Lines use the monospace font, so a line's wrapped
//! height follows from its characters, and one that fits the width (the usual case) is one display line
//! without looking at its text: that keeps a resize cheap at a million entries.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use egui::text::LayoutJob;
use egui::{Color32, FontId, TextFormat, TextStyle, TextWrapMode};
use time::OffsetDateTime;

use super::palette::PeerColors;
use crate::model::{self, Event, Message, Origin, PeerId, Target};

mod draw;
mod text;
use text::{Body, lines_of, push_printable};
#[cfg(test)]
use text::{wrap_ascii, wrap_chars};

/// Width of the time column, `HH:MM:SS` and a space; continuation lines are indented by as much.
const TIME_COLS: usize = 9;
/// Narrowest body width we wrap to, so a tiny window still shows words, not single letters. Small enough
/// that a row fits the chat beside the client list in projector type at the smallest window.
const MIN_BODY_COLS: usize = 8;
const CUT: &str = " [cut: line over the length limit]";

/// How an entry looks; own, peer and system lines differ at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Own,
    Peer,
    System,
    Error,
}

/// How a part of a line is painted; turned into a colour of the current theme when drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paint {
    Who(SocketAddr),
    Own,
    Text,
    System,
    Error,
}

/// A line that is not a transcript entry (a peer's rename, a log file that would not open).
struct Note {
    /// Its index among all entries.
    at: usize,
    time: OffsetDateTime,
    text: Box<str>,
}

enum Entry<'a> {
    /// An event and its index in `events`.
    Event(usize, &'a Event),
    Note(&'a Note),
}

impl Entry<'_> {
    fn time(&self) -> OffsetDateTime {
        match self {
            Entry::Event(_, ev) => ev.time(),
            Entry::Note(n) => n.time,
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Entry::Event(_, Event::Message(m)) => match m.origin {
                Origin::Local { .. } => Kind::Own,
                Origin::Remote { .. } => Kind::Peer,
            },
            Entry::Event(_, Event::Error { .. }) => Kind::Error,
            _ => Kind::System,
        }
    }
}

/// Peer labels already formatted, by the peer's address in memory. A peer is a snapshot that never
/// changes, and the log holds every event (so every peer it labels) as long as it lives, so an address
/// cannot be reused for another peer while the log keeps labels for it. Stored printable, with whether
/// they are ASCII.
type Labels = HashMap<usize, (String, bool), BuildHasherDefault<PtrHash>>;

/// Hashes an address with one multiplication: a rewrap looks a label up per wrapped row.
#[derive(Default)]
struct PtrHash(u64);

impl Hasher for PtrHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing; the high bits (which hashbrown uses for its tags) depend on every bit of `n`.
        self.0 = (n as u64 ^ (n as u64 >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// How much history the window keeps: the newest entries, within a count and a number of bytes of text,
/// so a flood cannot grow the window's memory without end. Older entries leave in blocks of a tenth, so
/// trimming costs little per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimit {
    pub entries: usize,
    pub text_bytes: usize,
}

impl Default for HistoryLimit {
    /// About 200 B of bookkeeping per entry: at most ~40 MB plus the text.
    fn default() -> Self {
        HistoryLimit { entries: 200_000, text_bytes: 64 * 1024 * 1024 }
    }
}

/// The history shown in the window, in arrival order.
pub struct ChatLog {
    /// The transcript entries, shared with a save in progress.
    events: Vec<Arc<Event>>,
    /// Lines between the events that are not transcript entries, by `Note::at`.
    notes: Vec<Note>,
    /// Names of the clients our messages to one client went to, by index in `events`: fixed when sent,
    /// so a line keeps its text (and its wrapped height) when that client renames itself later.
    targets: Vec<(usize, Box<str>)>,
    /// Characters in each entry's body (saturating); a body no wider than the view is one line.
    chars: Vec<u32>,
    /// `line_start[i]` is the first display line of entry `i`; one extra element holds the total.
    line_start: Vec<usize>,
    /// Body width `line_start` was computed for.
    cols: usize,
    /// Labels of the peers of the events in this log, so drawing and rewrapping format each once.
    labels: Labels,
    /// Entries there were when the user scrolled up from the newest line; `None` while following.
    left_bottom_at: Option<usize>,
    /// While the user reads older lines: the entry (by number) and its wrapped line kept in place through
    /// a rewrap (a resize), and where the view starts from that line's top (zero or less: the rows above
    /// it show). See the end of `show` for which line that is.
    top: Option<(usize, usize, f32)>,
    limit: HistoryLimit,
    /// Bytes of message text held, counted against `limit`.
    text_bytes: usize,
    /// Entries that have left the history, oldest first.
    trimmed: usize,
    /// Where every event is also written, if anywhere: the marker for trimmed lines names it.
    log_path: Option<String>,
    /// Entries (by [`ChatLog::number`]) drawn highlighted: the messages the "Socket calls" panel's
    /// selected `recv` carried.
    pub highlight: HashSet<usize>,
    /// Entries (by number, ascending) the find bar matched, drawn marked; `found_current` the one it is on.
    pub found: Vec<usize>,
    pub found_current: Option<usize>,
    /// The entry (by number) the user clicked in the last frame, for the panel to select.
    pub clicked: Option<usize>,
    /// A display line to scroll into view on the next frame ([`ChatLog::scroll_to`]).
    reveal_line: Option<usize>,
    /// Each peer's colour: a connected peer's is its own (see [`PeerColors`]).
    colors: PeerColors,
}

impl Default for ChatLog {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatLog {
    pub fn new() -> Self {
        ChatLog {
            events: Vec::new(),
            notes: Vec::new(),
            targets: Vec::new(),
            chars: Vec::new(),
            line_start: vec![0],
            cols: MIN_BODY_COLS,
            labels: Labels::default(),
            left_bottom_at: None,
            top: None,
            limit: HistoryLimit::default(),
            text_bytes: 0,
            trimmed: 0,
            log_path: None,
            highlight: HashSet::new(),
            found: Vec::new(),
            found_current: None,
            clicked: None,
            reveal_line: None,
            colors: PeerColors::default(),
        }
    }

    /// Who has which colour: the client list paints its dots with them.
    pub fn colors(&self) -> &PeerColors {
        &self.colors
    }

    pub fn with_limit(limit: HistoryLimit) -> Self {
        ChatLog { limit, ..Self::new() }
    }

    /// Names the log file every event also goes to, for the marker and the saved transcript.
    pub fn set_log_path(&mut self, path: Option<String>) {
        self.log_path = path;
    }

    /// Entries that left the history to keep it within its limit.
    pub fn trimmed(&self) -> usize {
        self.trimmed
    }

    /// What the view and a saved transcript say about lines that left the history, if any did.
    pub fn trimmed_note(&self) -> Option<String> {
        if self.trimmed == 0 {
            return None;
        }
        let n = self.trimmed;
        let lines = if n == 1 { "1 earlier line".to_string() } else { format!("{n} earlier lines") };
        let kept = self.limit.entries;
        let mib = self.limit.text_bytes / (1024 * 1024);
        let log = match &self.log_path {
            Some(p) => format!("; every line is in the log {p}"),
            None => String::new(),
        };
        Some(format!(
            "{lines} left this history, which keeps the newest {kept} lines and {mib} MiB of text{log}"
        ))
    }

    pub fn len(&self) -> usize {
        self.events.len() + self.notes.len()
    }

    /// The number the next entry gets: entries are numbered from the first ever pushed, so a number
    /// stays the same entry's while older ones leave the history.
    pub fn next_number(&self) -> usize {
        self.trimmed + self.len()
    }

    /// Entry `number`'s line as copied, if it is still in the history.
    pub fn text_of(&self, number: usize) -> Option<String> {
        self.line_text(number.checked_sub(self.trimmed)?)
    }

    /// Scrolls so entry `number` shows (the view stops following until the user goes back down).
    pub fn scroll_to(&mut self, number: usize) {
        if let Some(i) = number.checked_sub(self.trimmed).filter(|i| *i < self.chars.len()) {
            self.reveal_line = Some(self.line_start[i]);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands `f` each entry's number and text as drawn after the time, from entry `from` on, until `f`
    /// returns false; returns the number of the entry to go on from. For the find bar.
    pub fn scan(&self, from: usize, mut f: impl FnMut(usize, &str) -> bool) -> usize {
        let (mut labels, mut body) = (Labels::default(), Body::default());
        for i in from.saturating_sub(self.trimmed)..self.len() {
            let Some(e) = self.entry(i) else { break };
            self.build(&e, &mut labels, &mut body);
            if !f(self.trimmed + i, &body.text) {
                return self.trimmed + i + 1;
            }
        }
        self.next_number()
    }

    /// Every transcript entry, for saving; cheap to clone (shared events).
    pub fn events(&self) -> Vec<Arc<Event>> {
        self.events.clone()
    }

    fn entry(&self, i: usize) -> Option<Entry<'_>> {
        match self.notes.binary_search_by_key(&i, |n| n.at) {
            Ok(k) => Some(Entry::Note(&self.notes[k])),
            Err(k) => self.events.get(i - k).map(|ev| Entry::Event(i - k, ev)),
        }
    }

    /// The line as text (time, who, text), as copied to the clipboard.
    pub fn line_text(&self, i: usize) -> Option<String> {
        let e = self.entry(i)?;
        let mut body = Body::default();
        self.build(&e, &mut Labels::default(), &mut body);
        Some(format!("{} {}", model::clock(e.time()), body.text))
    }

    pub fn kind(&self, i: usize) -> Option<Kind> {
        self.entry(i).map(|e| e.kind())
    }

    /// Adds an event; `peer_name` names the target of messages we sent to one client.
    pub fn push(&mut self, ev: Event, peer_name: &dyn Fn(PeerId) -> Option<String>) {
        if let Event::Message(Message { origin: Origin::Local { to: Some(Target::One(id)) }, .. }) = &ev {
            let name = peer_name(*id).unwrap_or_else(|| format!("client #{id}"));
            self.targets.push((self.events.len(), name.into()));
        }
        if let Event::Message(m) = &ev {
            self.text_bytes += m.text.len();
        }
        // A server's clients come and go with these events; a client hears of the room's other senders
        // only as their lines arrive, and never of their leaving.
        match &ev {
            Event::Connected { peer, .. } => _ = self.colors.arrive(peer.addr),
            Event::Disconnected { peer, .. } => self.colors.leave(peer.addr),
            Event::Message(Message { origin: Origin::Remote { from, .. }, .. }) => {
                _ = self.colors.arrive(from.addr);
            }
            _ => {}
        }
        self.events.push(Arc::new(ev));
        self.measure_last();
        self.trim();
    }

    /// Drops the oldest entries once over the limit: a tenth of it at once (or what is over, if more),
    /// so the shifting below happens once per many lines.
    fn trim(&mut self) {
        let len = self.len();
        if len <= self.limit.entries && self.text_bytes <= self.limit.text_bytes {
            return;
        }
        let base = (self.limit.entries / 10).max(1).max(len.saturating_sub(self.limit.entries));
        let (mut k, mut freed) = (0, 0);
        while k < len && (k < base || self.text_bytes - freed > self.limit.text_bytes) {
            if let Some(Entry::Event(_, Event::Message(m))) = self.entry(k) {
                freed += m.text.len();
            }
            k += 1;
        }
        let notes_gone = self.notes.partition_point(|n| n.at < k);
        let events_gone = k - notes_gone;
        self.events.drain(..events_gone);
        self.notes.drain(..notes_gone);
        for n in &mut self.notes {
            n.at -= k;
        }
        let targets_gone = self.targets.partition_point(|t| t.0 < events_gone);
        self.targets.drain(..targets_gone);
        for t in &mut self.targets {
            t.0 -= events_gone;
        }
        self.chars.drain(..k);
        self.line_start.drain(..k);
        let first = self.line_start.first().copied().unwrap_or(0);
        for s in &mut self.line_start {
            *s -= first;
        }
        self.text_bytes -= freed;
        self.trimmed += k;
        self.left_bottom_at = self.left_bottom_at.map(|at| at.saturating_sub(k));
        // Labels are keyed by a peer's address in memory; with its events gone a peer may be freed and the
        // address reused, so they are made again as drawn.
        self.labels.clear();
    }

    /// A system line that is not a transcript entry (a peer's rename).
    pub fn push_line(&mut self, text: &str) {
        self.notes.push(Note { at: self.len(), time: model::now(), text: text.into() });
        self.measure_last();
        self.trim();
    }

    fn measure_last(&mut self) {
        let (mut labels, mut body) = (std::mem::take(&mut self.labels), Body::default());
        let Some(e) = self.len().checked_sub(1).and_then(|i| self.entry(i)) else { return };
        self.build(&e, &mut labels, &mut body);
        self.labels = labels;
        let chars = u32::try_from(body.chars()).unwrap_or(u32::MAX);
        let lines = lines_of(chars, self.cols, || body.lines(self.cols));
        let last = self.line_start.last().copied().unwrap_or(0);
        self.chars.push(chars);
        self.line_start.push(last + lines);
    }

    /// Builds entry `e`'s body into `out`, as it is drawn and copied.
    fn build(&self, e: &Entry<'_>, labels: &mut Labels, out: &mut Body) {
        out.clear();
        let ev = match e {
            Entry::Note(n) => return out.add(&n.text, Paint::System),
            Entry::Event(_, ev) => ev,
        };
        let Event::Message(m) = ev else {
            let p = if matches!(ev, Event::Error { .. }) { Paint::Error } else { Paint::System };
            return out.add(&model::describe(ev, &|_| None), p);
        };
        match &m.origin {
            Origin::Local { to } => {
                // Only a server sends with a target: its lines say they are the server's.
                let you = if to.is_some() { "you (server) -> " } else { "you -> " };
                out.add_clean(you, true, Paint::Own);
                match to {
                    None => out.add_clean("server", true, Paint::Own),
                    Some(Target::All) => out.add_clean("everyone", true, Paint::Own),
                    Some(Target::One(id)) => {
                        let Entry::Event(k, _) = e else { return };
                        match self.targets.binary_search_by_key(k, |t| t.0) {
                            Ok(t) => out.add(&self.targets[t].1, Paint::Own),
                            Err(_) => out.add(&format!("client #{id}"), Paint::Own),
                        }
                        out.add_clean(" only", true, Paint::Own);
                        out.add_clean(model::PRIVATE_MARK, true, Paint::Own);
                    }
                }
                out.add_clean(": ", true, Paint::Own);
            }
            Origin::Remote { from, relayed } => {
                let who = Paint::Who(from.addr);
                let (label, ascii) = labels.entry(Arc::as_ptr(from) as usize).or_insert_with(|| {
                    let mut s = String::new();
                    let ascii = push_printable(&mut s, &from.label());
                    (s, ascii)
                });
                out.add_clean(label, *ascii, who);
                if *relayed {
                    out.add_clean(" (relayed)", true, who);
                }
                if m.private {
                    out.add_clean(model::PRIVATE_TO_YOU, true, who);
                }
                out.add_clean(": ", true, who);
            }
        }
        out.add(&m.text, Paint::Text);
        if m.truncated {
            out.add_clean(CUT, true, Paint::Text);
        }
    }

    /// Recomputes every entry's display lines for a new body width; only bodies wider than `cols` are
    /// built and wrapped, the rest are one line each.
    fn rewrap(&mut self, cols: usize) {
        if cols == self.cols {
            return;
        }
        self.cols = cols;
        let mut starts = std::mem::take(&mut self.line_start);
        starts.clear();
        starts.push(0);
        let (mut labels, mut body) = (std::mem::take(&mut self.labels), Body::default());
        let mut total = 0;
        for (i, &chars) in self.chars.iter().enumerate() {
            total += lines_of(chars, cols, || match self.entry(i) {
                Some(e) => {
                    self.build(&e, &mut labels, &mut body);
                    body.lines(cols)
                }
                None => 1,
            });
            starts.push(total);
        }
        self.line_start = starts;
        self.labels = labels;
    }

    fn total_lines(&self) -> usize {
        self.line_start.last().copied().unwrap_or(0)
    }

    /// Entry and wrapped-line index of display line `line`.
    fn locate(&self, line: usize) -> Option<(usize, usize)> {
        let i = self.line_start.partition_point(|&s| s <= line).checked_sub(1)?;
        (i < self.chars.len()).then(|| (i, line - self.line_start[i]))
    }
}

#[cfg(test)]
mod tests;
