//! The "Socket calls" panel: beside the chat, the calls the engine really made, as a timeline with one
//! lane for the listening socket and one per connection; a selected call explained for a student (and
//! its bytes shown as a packet viewer would); step mode's "Next call" and "Run".
//!
//! State in [`log`] (no egui), texts in [`explain`] and [`classic`], drawing in [`timeline`], [`bytes`]
//! and here.

pub mod bytes;
pub mod classic;
pub mod explain;
pub mod log;
pub mod timeline;

use egui::{Color32, RichText};

pub use log::{CallLog, LaneInfo, Selected};

use super::keys::{Group, TabStop};
use super::palette::PeerColors;
use super::session::{Phase, Session};
use crate::calls::{Call, CallState, Lane};
use crate::engine::{Step, TraceMode};

/// The start screen's step-mode switch; `TraceMode::Step` when on (the window records calls anyway).
pub fn step_switch(ui: &mut egui::Ui, on: &mut bool) {
    ui.checkbox(on, "Step mode: pause before each set-up call")
        .on_hover_text(
            "Each set-up call (getaddrinfo, socket, setsockopt, bind, listen, each accept, connect) waits \
             in the Socket calls panel until you press Next call (or Enter); Run stops pausing. Chat \
             traffic is never paused.",
        )
        .tab(Group::Form);
}

pub fn trace_mode(step: bool) -> TraceMode {
    if step { TraceMode::Step } else { TraceMode::Off }
}

/// A connection's TCP state for the client list and the status bar: `TCP ESTABLISHED, rtt 0.1 ms`.
pub fn tcp_label(calls: &CallLog, lane: Lane) -> Option<String> {
    let c = calls.tcp_of(lane)?;
    let state = c.state.unwrap_or("state not available");
    Some(match c.rtt_us {
        Some(r) => format!("TCP {state}, rtt {:.1} ms", f64::from(r) / 1e3),
        None => format!("TCP {state}"),
    })
}

/// The colour of a lane: the peer's chat colour, the text colour for our own sockets, grey once closed.
pub fn lane_color(l: &LaneInfo, vis: &egui::Visuals, colors: &PeerColors) -> Color32 {
    if l.closed {
        return vis.weak_text_color().gamma_multiply(0.7);
    }
    match (l.key.lane, l.addr) {
        // Not one of the peers' colours: this program's own sockets.
        (Lane::Setup | Lane::Listener, _) => vis.strong_text_color(),
        (Lane::Conn(_), Some(a)) => colors.color(&a, vis.dark_mode, vis.text_color()),
        (Lane::Conn(_), None) => vis.text_color(),
    }
}

/// The panel, drawn in `ui` (a side panel of the chat view).
pub fn panel(ui: &mut egui::Ui, s: &mut Session) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.heading("Socket calls");
        ui.label(RichText::new("(?)").weak()).on_hover_text(
            "The calls this program really makes on its sockets, as the C functions of the same name, \
             newest at the bottom. One lane (column) for the listening socket and one per connection; a \
             closed connection's lane stays, greyed. Click a call to see what it does, or a chat line \
             to see the recv that brought it.",
        );
    });
    step_bar(ui, s);
    lanes(ui, s);
    if let Some(note) = s.calls.trimmed_note() {
        ui.label(RichText::new(note).small().italics().weak());
    }
    let h = ui.available_height();
    // egui keeps a panel's height in pixels; the detail keeps its share of the panel instead, so a
    // window made taller gives both parts room (not the timeline all of it) and a smaller one keeps both.
    let share_id = egui::Id::unique("call-detail-share");
    let (last_h, share) = ui.data(|d| d.get_temp::<(f32, f32)>(share_id)).unwrap_or((h, 0.4));
    let mut panel = egui::Panel::bottom("call-detail")
        .resizable(true)
        .default_size((h * 0.4).max(100.0))
        .size_range(80.0..=(h - 60.0).max(90.0));
    if (last_h - h).abs() > 0.5 {
        panel = panel.exact_size((h * share).clamp(80.0, (h - 60.0).max(90.0)));
    }
    let shown = panel.show(ui, |ui| {
        egui::ScrollArea::vertical().id_salt("detail").auto_shrink([false, false]).show(ui, |ui| {
            detail(ui, s);
        });
    });
    if h > 0.0 {
        let share = (shown.response.rect.height() / h).clamp(0.05, 0.95);
        ui.data_mut(|d| d.insert_temp(share_id, (h, share)));
    }
    egui::CentralPanel::default().show(ui, |ui| {
        if s.calls.is_empty() {
            ui.label(RichText::new(empty_hint(s)).weak().italics());
        }
        if let Some(n) = timeline::show(ui, &mut s.calls, s.chat.colors()) {
            s.chat.scroll_to(n);
        }
    });
}

fn empty_hint(s: &Session) -> &'static str {
    match &s.phase {
        Phase::Starting if s.stepping() => "Waiting for the first call...",
        _ if s.is_running() => "No calls yet.",
        _ => "No calls were recorded.",
    }
}

/// Step mode: the paused call, and Next call / Run (Enter is Next call when no text field has focus).
fn step_bar(ui: &mut egui::Ui, s: &mut Session) {
    let Some(row) = s.calls.paused() else { return };
    let text = format!("{}({})", row.call.name, row.call.args);
    let answered = s.calls.answered().is_some();
    let mut answer = None;
    egui::Frame::new()
        .fill(ui.visuals().warn_fg_color.gamma_multiply(0.15))
        .stroke(egui::Stroke::new(1.0, ui.visuals().warn_fg_color))
        .corner_radius(4.0)
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("Step mode: the next call, not made yet").strong());
            ui.label(RichText::new(&text).monospace().color(ui.visuals().strong_text_color()));
            ui.horizontal(|ui| {
                let next = ui
                    .add_enabled(!answered, egui::Button::new(RichText::new("Next call").strong()))
                    .on_hover_text("Make this call now (Enter)")
                    .tab(Group::Calls);
                if next.clicked() {
                    answer = Some(Step::Next);
                }
                if ui
                    .add_enabled(!answered, egui::Button::new("Run"))
                    .on_hover_text("Stop pausing: make every call at once from now on")
                    .tab(Group::Calls)
                    .clicked()
                {
                    answer = Some(Step::Run);
                }
                if answered {
                    ui.spinner();
                }
            });
        });
    // Only with the keyboard on nothing: Enter on a focused button presses that button, not this one too.
    let enter = ui.ctx().memory(|m| m.focused().is_none())
        && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Enter));
    if enter && !answered {
        answer = Some(Step::Next);
    }
    if let Some(a) = answer {
        s.step(a);
    }
}

/// The legend: each lane's colour, who it is, its fd and (while the panel is open) its TCP state.
fn lanes(ui: &mut egui::Ui, s: &Session) {
    const SHOWN: usize = 24;
    let vis = ui.visuals().clone();
    let all = s.calls.lanes();
    // The newest lanes matter most; older closed ones are summed up.
    let skip = all.len().saturating_sub(SHOWN);
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        if skip > 0 {
            ui.label(RichText::new(format!("{skip} older lanes")).small().weak());
        }
        for l in &all[skip..] {
            let color = lane_color(l, &vis, s.chat.colors());
            let mut text = l.title.clone();
            if let Some(fd) = l.fd {
                text.push_str(&format!(" fd {fd}"));
            }
            if l.closed {
                text.push_str(" (closed)");
            } else if l.key.run == s.calls.key(l.key.lane).run
                && let Some(t) = tcp_label(&s.calls, l.key.lane)
            {
                text.push_str(&format!(", {t}"));
            }
            // One label per lane (dot and text in one job, monospace for the dot's glyph), so the row
            // wraps between lanes and never grows the panel.
            let font = egui::FontId::monospace(11.0);
            let mut job = egui::text::LayoutJob::default();
            job.append("\u{25cf} ", 0.0, egui::TextFormat::simple(font.clone(), color));
            let text_color = if l.closed { color } else { vis.text_color() };
            job.append(&text, 0.0, egui::TextFormat::simple(font, text_color));
            ui.label(job);
        }
    });
}

/// Below the timeline: the selected call explained, or the selected message's bytes.
fn detail(ui: &mut egui::Ui, s: &mut Session) {
    match s.calls.selected {
        None => {
            ui.label(
                RichText::new(
                    "Click a call to see what it does, what it waits for, what can go wrong and the line \
                     of the classic server.c / client.c that makes it. Click a chat line to see the recv \
                     calls that brought its bytes.",
                )
                .weak(),
            );
        }
        Some(Selected::Call(id)) => {
            let Some(row) = s.calls.by_id(id).cloned() else {
                ui.label(RichText::new("That call has left the history.").weak());
                return;
            };
            call_detail(ui, s, &row);
        }
        Some(Selected::Message(n)) => message_detail(ui, s, n),
    }
}

fn call_detail(ui: &mut egui::Ui, s: &mut Session, row: &log::Row) {
    let c = &row.call;
    ui.label(RichText::new(c.describe()).monospace().strong());
    let mut facts = format!("thread {}", c.thread);
    if let Some(fd) = c.fd {
        facts.push_str(&format!(" · fd {fd}"));
    }
    if let Some(p) = c.peer {
        facts.push_str(&format!(" · peer {p}"));
    }
    facts.push_str(&format!(" · started at {}", timeline::clock(row.start_us)));
    ui.label(RichText::new(facts).small().weak());
    if c.lost_before > 0 {
        ui.label(
            RichText::new(format!(
                "{} calls just before this one were not recorded: the window was behind.",
                c.lost_before
            ))
            .small()
            .color(ui.visuals().warn_fg_color),
        );
    }
    if let CallState::Merged { count, bytes, span_us } = c.state {
        ui.label(format!(
            "{count} {}() calls moved {bytes} bytes in {:.1} s: faster than anyone can read, so they are \
             summed into this one entry (past 20 calls a second on one connection).",
            c.name,
            span_us as f64 / 1e6
        ));
    }
    ui.add_space(4.0);
    explanation(ui, c, s.calls.server, s.calls.encrypted(c.lane));
    if matches!(c.name, "recv" | "send" | "writev") {
        ui.add_space(6.0);
        if row.bytes_dropped {
            ui.label(RichText::new("Its bytes are gone: only the last few MiB are kept.").weak());
        } else if let Some(d) = &c.data {
            ui.label(RichText::new(format!("The {} bytes it carried:", d.len())).strong());
            let ranges = message_ranges(&s.calls, s.calls.id_of(row), &row.msgs);
            bytes::show(ui, d, &ranges);
            bytes::legend(ui);
        }
        if !row.msgs.is_empty() {
            let n = row.msgs.len();
            ui.label(
                RichText::new(if n == 1 {
                    "It carried bytes of 1 chat message (highlighted in the chat).".to_string()
                } else {
                    format!("It carried bytes of {n} chat messages (highlighted in the chat).")
                })
                .small(),
            );
        }
    }
}

/// The byte ranges of `msgs` within the recv `id`.
fn message_ranges(calls: &CallLog, id: u64, msgs: &[usize]) -> Vec<std::ops::Range<usize>> {
    let len = calls.by_id(id).and_then(|r| r.call.data.as_ref()).map_or(0, |d| d.len());
    msgs.iter()
        .filter_map(|m| calls.link(*m))
        .filter_map(|l| {
            let (start, end) = l.range?;
            let first = l.recvs.first() == Some(&id);
            let last = l.recvs.last() == Some(&id);
            Some((if first { start } else { 0 })..(if last { end } else { len }))
        })
        .collect()
}

/// What the call does, blocks on, can get wrong; the classic program's line; how sockchat differs.
fn explanation(ui: &mut egui::Ui, c: &Call, server: bool, encrypted: bool) {
    let Some(e) = explain::of(c.name) else {
        ui.label(RichText::new(format!("No explanation for {}() yet.", c.name)).weak());
        return;
    };
    let para = |ui: &mut egui::Ui, head: &str, text: &str| {
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 4.0;
            ui.label(RichText::new(head).strong());
            ui.label(text);
        });
    };
    para(ui, "What it does:", e.does);
    para(ui, "Waits for:", e.blocks);
    para(ui, "What can go wrong:", e.wrong);
    if let Some((program, marker)) = explain::c_line(e, server)
        && let Some((line, around)) = classic::excerpt(program, marker, 1)
    {
        ui.label(RichText::new(format!("In the classic {} (line {line}):", program.file())).strong());
        egui::Frame::new().fill(ui.visuals().extreme_bg_color).inner_margin(6.0).corner_radius(3.0).show(
            ui,
            |ui| {
                ui.set_width(ui.available_width());
                for (n, text) in around {
                    let t = RichText::new(format!("{n:>3} {text}")).monospace();
                    ui.label(if n == line {
                        t.strong().color(ui.visuals().strong_text_color())
                    } else {
                        t.weak()
                    });
                }
            },
        );
    }
    if !e.differs.is_empty() {
        para(ui, "sockchat differs:", e.differs);
    }
    if encrypted && matches!(c.name, "recv" | "send" | "writev") {
        para(ui, "Over TLS:", explain::OVER_TLS);
    }
}

fn message_detail(ui: &mut egui::Ui, s: &mut Session, n: usize) {
    let text = s.chat.text_of(n).unwrap_or_else(|| "(no longer in the chat)".into());
    ui.label(RichText::new(text).monospace().strong());
    let Some(link) = s.calls.link(n).cloned() else {
        ui.label(
            RichText::new(
                "No recv is linked to this line: it is not a received message (your own lines leave in \
                 send calls), or it came before its bytes were recorded.",
            )
            .weak(),
        );
        return;
    };
    let k = link.recvs.len();
    ui.label(if k == 1 {
        "Its bytes arrived in 1 recv call; the message's own bytes are highlighted, the line end marked."
            .to_string()
    } else {
        format!(
            "Its bytes arrived in {k} recv calls: TCP is a byte stream, and a line can be split wherever \
             the network and the sender's writes cut it. The message's own bytes are highlighted."
        )
    });
    if link.range.is_none() {
        let why = if s.calls.lane(link.key).is_some_and(|l| l.encrypted) {
            "The connection is encrypted (TLS): the line is inside these bytes, but as ciphertext, so no \
             byte of it can be pointed at."
        } else {
            "Which of the bytes are this message's is not known: the recv was merged in a flood, or its \
             bytes were not kept."
        };
        ui.label(RichText::new(why).small().weak());
    }
    for (i, id) in link.recvs.iter().enumerate() {
        ui.add_space(4.0);
        let Some(row) = s.calls.by_id(*id) else {
            ui.label(RichText::new(format!("recv {} of {k}: left the history", i + 1)).weak());
            continue;
        };
        ui.label(
            RichText::new(format!("recv {} of {k}: {}", i + 1, row.call.describe())).monospace().small(),
        );
        match &row.call.data {
            Some(d) => {
                let range = link.range.map(|(start, end)| {
                    (if i == 0 { start } else { 0 })..(if i + 1 == k { end } else { d.len() })
                });
                bytes::show(ui, d, range.as_slice());
            }
            None => {
                ui.label(RichText::new("its bytes are not kept").small().weak());
            }
        }
    }
    bytes::legend(ui);
}

#[cfg(test)]
mod tests;
