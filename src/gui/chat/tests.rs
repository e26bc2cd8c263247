use super::*;
use std::ops::Range;

use crate::gui::palette::slot_color;
use crate::model::Peer;

/// Each wrapped line of `s`, at most `width` characters, cut after the last space in reach if any.
fn wrap(s: &str, width: usize, f: impl FnMut(Range<usize>)) {
    if s.is_ascii() { wrap_ascii(s.as_bytes(), width, f) } else { wrap_chars(s, width, f) }
}

fn lines(s: &str, w: usize) -> Vec<&str> {
    let mut v = Vec::new();
    wrap(s, w, |r| v.push(&s[r]));
    v
}

fn none(_: PeerId) -> Option<String> {
    None
}

fn peer(id: PeerId, port: u16, name: Option<&str>) -> Arc<Peer> {
    let mut p = Peer::new(id, ([127, 0, 0, 1], port).into());
    p.host = Some("localhost".into());
    p.name = name.map(Into::into);
    Arc::new(p)
}

fn msg(origin: Origin, text: &str) -> Event {
    Event::Message(Message {
        seq: 0,
        time: model::now(),
        origin,
        text: text.into(),
        truncated: false,
        private: false,
    })
}

/// One of each kind of entry, short and long, ASCII and not.
fn sample() -> ChatLog {
    let mut log = ChatLog::new();
    let ann = peer(1, 5000, Some("ann"));
    let bob = peer(2, 5001, None);
    let names = |id: PeerId| (id == 2).then(|| "bob".to_string());
    log.push(
        Event::Listening {
            time: model::now(),
            addr: "0.0.0.0:7311".parse().unwrap(),
            addrs: vec![],
            fds: None,
            tls: None,
        },
        &none,
    );
    log.push(Event::Connected { time: model::now(), peer: ann.clone() }, &none);
    log.push(msg(Origin::Remote { from: ann.clone(), relayed: false }, "hi"), &none);
    let long = "the quick brown fox jumps over the lazy dog ".repeat(6);
    log.push(msg(Origin::Remote { from: bob.clone(), relayed: true }, &long), &none);
    log.push(msg(Origin::Remote { from: ann.clone(), relayed: false }, &"x".repeat(150)), &none);
    log.push_line("* ann is now known as annie");
    log.push(msg(Origin::Local { to: Some(Target::One(2)) }, "héllo wörld, ça va? très bien, merci"), &names);
    log.push(
        msg(Origin::Local { to: Some(Target::All) }, "tab\there and a bell\u{7} too, a C1 next\u{85}line"),
        &none,
    );
    log.push(
        Event::Error { time: model::now(), peer: Some(bob), text: "reset ".repeat(20), fatal: false },
        &none,
    );
    log
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
fn ascii_wrap_cuts_where_the_general_one_does() {
    let texts = [
        "a b c d e f g h i j k l m n o p q r s t u v w x y z".to_string(),
        "  leading and  double  spaces  and trailing  ".to_string(),
        "averyveryverylongwordwithnospaces then short ones".to_string(),
        "the quick brown fox jumps over the lazy dog ".repeat(7),
        "x".repeat(100),
        " ".repeat(33),
    ];
    for s in &texts {
        for w in 1..60 {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            wrap(s, w, |r| fast.push(r));
            wrap_chars(s, w, |r| slow.push(r));
            assert_eq!(fast, slow, "{s:?} at {w}");
        }
    }
}

#[test]
fn line_counts_match_the_wrapped_output_at_every_width() {
    let mut log = sample();
    for cols in [16, 17, 23, 40, 64, 100, 300, 20] {
        log.rewrap(cols);
        // Pushed at this width, the counts are the same as rewrapped to it.
        let mut fresh = ChatLog::new();
        fresh.rewrap(cols);
        let mut body = Body::default();
        for i in 0..log.len() {
            let e = log.entry(i).unwrap();
            log.build(&e, &mut Labels::default(), &mut body);
            let n = log.line_start[i + 1] - log.line_start[i];
            assert_eq!(n, lines(&body.text, cols).len(), "entry {i} at {cols}");
            assert_eq!(n == 1, body.text.chars().count() <= cols, "entry {i} at {cols}");
            // Every display line lays out, at most `cols` characters of body each, and together
            // they are the whole body.
            let mut joined = String::new();
            for sub in 0..n {
                let job =
                    log.layout_line(&body, "12:34:56", sub, &FontId::monospace(12.0), &Default::default());
                let text = job.unwrap().text;
                assert!(text.chars().count() <= TIME_COLS + cols, "entry {i} line {sub} at {cols}");
                joined.push_str(&text[TIME_COLS..]);
            }
            assert_eq!(joined, body.text);
            let job = log.layout_line(&body, "12:34:56", n, &FontId::monospace(12.0), &Default::default());
            assert!(job.is_none());
        }
        let names = |id: PeerId| (id == 2).then(|| "bob".to_string());
        for ev in log.events() {
            fresh.push((*ev).clone(), &names);
            if fresh.len() == 5 {
                fresh.push_line("* ann is now known as annie");
            }
        }
        assert_eq!(fresh.line_start, log.line_start, "at {cols}");
    }
    assert!(log.total_lines() > log.len(), "some entries wrap at 20 columns");
}

#[test]
fn notes_sit_between_events_and_are_not_saved() {
    let log = sample();
    assert_eq!(log.len(), 9);
    assert_eq!(log.events().len(), 8);
    assert!(log.line_text(5).unwrap().ends_with(" * ann is now known as annie"));
    assert_eq!(log.kind(5), Some(Kind::System));
    assert!(log.line_text(2).unwrap().ends_with(" localhost (127.0.0.1:5000) ann: hi"));
    assert_eq!(log.kind(2), Some(Kind::Peer));
    assert!(log.line_text(3).unwrap().contains(" localhost (127.0.0.1:5001) (relayed): the quick"));
    assert!(log.line_text(6).unwrap().contains(" you (server) -> bob only (private): héllo wörld"));
    assert_eq!(log.kind(6), Some(Kind::Own));
    assert!(
        log.line_text(7)
            .unwrap()
            .ends_with(" you (server) -> everyone: tab here and a bell  too, a C1 next line")
    );
    assert_eq!(log.kind(8), Some(Kind::Error));
    assert_eq!(log.line_text(9), None);
    assert_eq!(log.kind(9), None);
}

#[test]
fn each_peer_snapshot_keeps_its_own_label() {
    let mut log = ChatLog::new();
    let before = peer(1, 5000, None);
    let mut renamed = (*before).clone();
    renamed.name = Some("ann\u{1b}[31m".into());
    log.push(msg(Origin::Remote { from: before, relayed: false }, "one"), &none);
    log.push(msg(Origin::Remote { from: Arc::new(renamed), relayed: false }, "two"), &none);
    log.rewrap(40);
    assert!(log.line_text(0).unwrap().ends_with(" localhost (127.0.0.1:5000): one"));
    assert!(log.line_text(1).unwrap().ends_with(" localhost (127.0.0.1:5000) ann [31m: two"));
    assert_eq!(log.line_start, [0, 1, 2]);
}

#[test]
fn colours_come_from_the_theme_when_drawn() {
    let mut log = sample();
    // A window's width: at the narrowest wrap the host name itself is cut over two rows.
    log.rewrap(60);
    let mut body = Body::default();
    log.build(&log.entry(2).unwrap(), &mut Labels::default(), &mut body);
    let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    for vis in [egui::Visuals::dark(), egui::Visuals::light()] {
        let job = log.layout_line(&body, "12:34:56", 0, &FontId::monospace(12.0), &vis).unwrap();
        let who = job
            .sections
            .iter()
            .find(|s| job.text[s.byte_range.start.0..s.byte_range.end.0].starts_with("localhost"));
        let slot = log.colors().slot(&addr).unwrap();
        assert_eq!(who.unwrap().format.color, slot_color(slot, vis.dark_mode));
        assert_ne!(slot_color(slot, true), slot_color(slot, false));
    }
}

#[test]
fn display_lines_map_back_to_entries() {
    let mut log = ChatLog::new();
    log.rewrap(10);
    for t in ["a", "0123456789abcdefghij", "b"] {
        log.push(Event::Error { time: model::now(), peer: None, text: t.into(), fatal: false }, &none);
    }
    // "! error: a" fits 10; the second is 29 chars, 3 lines; the third fits.
    assert_eq!(log.total_lines(), 5);
    assert_eq!(log.locate(0), Some((0, 0)));
    assert_eq!(log.locate(3), Some((1, 2)));
    assert_eq!(log.locate(4), Some((2, 0)));
    assert_eq!(log.locate(5), None);
    assert_eq!(log.kind(1), Some(Kind::Error));
}

/// Trimming keeps everything consistent: entries, notes between them, targets of our sends, display
/// lines and the "new since you scrolled up" count, as if the log had begun with the kept entries.
#[test]
fn old_entries_leave_within_the_limit_and_the_rest_stays_consistent() {
    let limit = HistoryLimit { entries: 50, text_bytes: 1 << 20 };
    let mut log = ChatLog::with_limit(limit);
    log.rewrap(20);
    let mut fresh = ChatLog::with_limit(HistoryLimit { entries: usize::MAX, text_bytes: usize::MAX });
    fresh.rewrap(20);
    let ann = |_: PeerId| Some("ann".to_string());
    let mut fresh_at = 0;
    for i in 0..437 {
        let long = if i % 7 == 0 { " and a long tail that wraps over several display lines" } else { "" };
        let ev = match i % 5 {
            0 => msg(Origin::Local { to: Some(Target::One(3)) }, &format!("to ann {i}{long}")),
            _ => msg(Origin::Remote { from: peer(1, 5000, None), relayed: false }, &format!("m{i}{long}")),
        };
        fresh.push(ev.clone(), &ann);
        log.push(ev, &ann);
        if i % 11 == 0 {
            fresh.push_line(&format!("note {i}"));
            log.push_line(&format!("note {i}"));
        }
        if i == 420 {
            log.left_bottom_at = Some(log.len() - 3);
            fresh_at = fresh.len() - 3;
        }
        assert!(log.len() <= limit.entries);
    }
    assert_eq!(log.trimmed() + log.len(), fresh.len());
    let gone = log.trimmed();
    for k in 0..log.len() {
        let (got, want) = (log.line_text(k).unwrap(), fresh.line_text(gone + k).unwrap());
        assert_eq!(got[8..], want[8..], "entry {k}");
    }
    let lines = |l: &ChatLog, k: usize| l.line_start[k + 1] - l.line_start[k];
    assert!((0..log.len()).all(|k| lines(&log, k) == lines(&fresh, gone + k)));
    assert_eq!(log.total_lines(), fresh.total_lines() - fresh.line_start[gone]);
    assert_eq!(log.locate(0), Some((0, 0)));
    // The count of lines new since scrolling up still counts from the same entry.
    assert_eq!(log.len() - log.left_bottom_at.unwrap(), fresh.len() - fresh_at);
    let note = log.trimmed_note().unwrap();
    assert!(note.starts_with(&format!("{gone} earlier lines left this history")), "{note}");
    assert!(!note.contains("log"));
    log.set_log_path(Some("/tmp/x.jsonl".into()));
    assert!(log.trimmed_note().unwrap().ends_with("every line is in the log /tmp/x.jsonl"));
}

#[test]
fn the_text_limit_holds_for_long_lines() {
    let limit = HistoryLimit { entries: 1000, text_bytes: 10_000 };
    let mut log = ChatLog::with_limit(limit);
    for i in 0..100 {
        log.push(
            msg(Origin::Remote { from: peer(1, 5000, None), relayed: false }, &"x".repeat(999 + i % 2)),
            &none,
        );
        assert!(log.text_bytes <= limit.text_bytes, "{} bytes kept", log.text_bytes);
    }
    let kept: usize =
        log.events.iter().map(|e| if let Event::Message(m) = &**e { m.text.len() } else { 0 }).sum();
    assert_eq!(kept, log.text_bytes);
    assert_eq!(log.trimmed() + log.len(), 100);
}

/// A character no font has (here a cuneiform sign and a private-use one) is drawn as a box in its place:
/// the view neither panics nor drops it. The window sets no panicking policy; tests' harnesses do.
#[test]
fn a_glyph_no_font_has_is_a_box_not_a_panic() {
    let ctx = egui::Context::default();
    let mut log = ChatLog::new();
    let text = "cuneiform \u{12000} private \u{e000} end";
    log.push(msg(Origin::Remote { from: peer(1, 5000, Some("x\u{12000}")), relayed: false }, text), &none);
    let font = FontId::monospace(12.0);
    let mut shown = None;
    let mut out = ctx.run_ui(Default::default(), |ui| {
        shown = Some(ui.fonts_mut(|f| f.has_glyph(&font, '\u{12000}')));
        log.show(ui);
        let g = ui.fonts_mut(|f| f.layout_no_wrap("a\u{12000}b".into(), font.clone(), Color32::WHITE));
        let ab = ui.fonts_mut(|f| f.layout_no_wrap("ab".into(), font.clone(), Color32::WHITE));
        assert_eq!(g.rows[0].glyphs.len(), 3, "the missing character keeps a place");
        assert!(g.size().x > ab.size().x, "and that place has a width: a box");
    });
    out.textures_delta.clear();
    assert_eq!(shown, Some(false), "the test needs a character the bundled fonts lack");
}
