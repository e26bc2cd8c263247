//! `window`: the transcript's memory per message and the chat view's frame time, in-process.

use super::rtt::report_latency;
use super::*;

fn rss_kib() -> u64 {
    proc_status(std::process::id()).map_or(0, |s| s.0)
}

/// Memory per stored message, and with `--store gui` the time of the window's UI pass over that history.
///
/// One store per run: memory freed by a first store would be reused by a second and hide its growth.
pub(super) fn window(a: &WindowArgs) -> Res<()> {
    use sockchat::model::{Event, Message, Origin, Peer, Transcript, now};
    let peers: Vec<Arc<Peer>> = (0..100u16)
        .map(|i| {
            let mut p = Peer::new(u64::from(i), ([127, 0, 0, 1], 40000 + i).into());
            p.host = Some("localhost".into());
            Arc::new(p)
        })
        .collect();
    let time = now();
    let mut line = Vec::new();
    let mut make = |i: usize| -> Res<Event> {
        line.clear();
        payload_line(i % 100, i, a.len + 1, &mut line);
        line.pop();
        let text = String::from_utf8(line.clone()).map_err(|e| e.to_string())?;
        let origin = Origin::Remote { from: peers[i % 100].clone(), relayed: false };
        Ok(Event::Message(Message { seq: i as u64, time, origin, text, truncated: false, private: false }))
    };
    let before = rss_kib();
    let t0 = Instant::now();
    let report = |what: &str, n: usize, fill: Duration| {
        let grown = rss_kib().saturating_sub(before);
        println!(
            "{what}: {n} messages of {} bytes stored in {:.2} s; RSS +{:.1} MB = {:.0} bytes per message",
            a.len,
            fill.as_secs_f64(),
            grown as f64 / 1024.0,
            (grown * 1024) as f64 / n as f64
        );
    };
    match a.store {
        Store::Model => {
            let mut t = Transcript::new();
            for i in 0..a.messages {
                t.push(make(i)?);
            }
            report("model::Transcript", t.message_count(), t0.elapsed());
        }
        #[cfg(feature = "gui")]
        Store::Gui => {
            // The window keeps 200,000 lines (`HistoryLimit`); lifted here, so the figures are for a history
            // five times longer than it keeps, as before the bound.
            let unbounded = sockchat::gui::chat::HistoryLimit { entries: usize::MAX, text_bytes: usize::MAX };
            let mut log = sockchat::gui::chat::ChatLog::with_limit(unbounded);
            let none = |_| None;
            for i in 0..a.messages {
                log.push(make(i)?, &none);
            }
            report("gui::chat::ChatLog (the window's history)", log.len(), t0.elapsed());
            let mut i = a.messages;
            let mut more = |log: &mut sockchat::gui::chat::ChatLog| {
                if let Ok(ev) = make(i) {
                    log.push(ev, &none);
                }
                i += 1;
            };
            ui_pass(&mut log, a.frames, a.per_frame, &mut more);
        }
        #[cfg(not(feature = "gui"))]
        Store::Gui => return Err("built without the gui feature".into()),
    }
    Ok(())
}

/// Frames of the chat view on a headless egui context, following the bottom as the window does: idle
/// frames (layouts cached), busy frames (`per_frame` new messages before each), and resizes (rewrap).
#[cfg(feature = "gui")]
fn ui_pass(
    log: &mut sockchat::gui::chat::ChatLog,
    frames: usize,
    per_frame: usize,
    more: &mut dyn FnMut(&mut sockchat::gui::chat::ChatLog),
) {
    let ctx = egui::Context::default();
    let mut f = 0;
    let mut frame = |log: &mut sockchat::gui::chat::ChatLog, width: f32| {
        f += 1;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(width, 800.0))),
            time: Some(f64::from(f) / 60.0),
            ..Default::default()
        };
        let t0 = Instant::now();
        let out = ctx.run_ui(input, |ui| log.show(ui));
        let t1 = Instant::now();
        let shapes = out.shapes.len();
        let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
        let t2 = Instant::now();
        let verts: usize = prims
            .iter()
            .map(|p| match &p.primitive {
                egui::epaint::Primitive::Mesh(m) => m.vertices.len(),
                egui::epaint::Primitive::Callback(_) => 0,
            })
            .sum();
        (t1 - t0, t2 - t1, shapes, verts)
    };
    let (first, _, _, _) = frame(log, 1280.0);
    println!("first frame (fonts loaded, rows rewrapped to the view): {:.2} ms", first.as_secs_f64() * 1e3);
    for busy in [false, true] {
        let (mut pass, mut tess) = (Vec::new(), Vec::new());
        let mut last = (0, 0);
        for _ in 0..frames.max(1) {
            if busy {
                for _ in 0..per_frame {
                    more(log);
                }
            }
            let (p, t, shapes, verts) = frame(log, 1280.0);
            pass.push(p);
            tess.push(t);
            last = (shapes, verts);
        }
        let what =
            if busy { format!("busy, {per_frame} new messages per frame") } else { "idle".to_string() };
        println!("{what}: {} shapes, {} vertices per frame (visible rows only)", last.0, last.1);
        report_latency(&format!("  UI pass ({what})"), pass);
        report_latency(&format!("  tessellation ({what})"), tess);
    }
    let (resize, _, _, _) = frame(log, 1000.0);
    println!("resize frame, 1280 -> 1000 px (rows still fit): {:.2} ms", resize.as_secs_f64() * 1e3);
    // The worst case: every row is wider than the view, so every row is built and wrapped.
    let (narrow, _, _, _) = frame(log, 600.0);
    println!("resize frame, 1000 -> 600 px (every row wraps): {:.2} ms", narrow.as_secs_f64() * 1e3);
    let (back, _, _, _) = frame(log, 1280.0);
    println!("resize frame, 600 -> 1280 px (every row unwraps): {:.2} ms", back.as_secs_f64() * 1e3);
}
