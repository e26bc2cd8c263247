//! Terminal mode: the same engine, events printed one per line on stdout, stdin lines sent.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::calls::CallState;
use crate::codec::{Line, LineDecoder};
use crate::engine::{Command, Delivery, Engine, Step, TraceMode};
use crate::log::EventLog;
use crate::model::{self, Event, LineBatch, Origin, Peer, PeerId, Target};
use time::OffsetDateTime;

/// How long a stop may wait for a blocked stdout before the process exits anyway.
const STUCK_OUTPUT: std::time::Duration = std::time::Duration::from_secs(3);

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Prints events; keeps the peer table so messages we send to one client name it.
pub struct Printer {
    format: Format,
    peers: HashMap<PeerId, Arc<Peer>>,
    /// Each sender's label, rebuilt only when the engine hands out a new snapshot of the peer.
    labels: HashMap<PeerId, (Arc<Peer>, String)>,
    /// The `HH:MM:SS` column for the second last printed.
    clock: Option<((u8, u8, u8), String)>,
}

impl Printer {
    pub fn new(format: Format) -> Self {
        Printer { format, peers: HashMap::new(), labels: HashMap::new(), clock: None }
    }

    /// A received message, written straight into `out` from cached parts: the same text as
    /// [`model::format_line`], without its five allocations per line (the profile of `sockchat-load ingest`
    /// showed formatting as most of the printing thread's time, and that thread limits ingest).
    fn write_remote(
        &mut self,
        out: &mut impl Write,
        time: OffsetDateTime,
        from: &Arc<Peer>,
        relayed: bool,
        private: bool,
        lines: impl Iterator<Item = (impl AsRef<str>, bool)>,
    ) -> io::Result<()> {
        let hms = time.to_hms();
        let clock = match &mut self.clock {
            Some((k, s)) if *k == hms => s,
            slot => &mut slot.insert((hms, model::clock(time))).1,
        };
        let label = match self.labels.get(&from.id) {
            Some((p, l)) if Arc::ptr_eq(p, from) => l,
            _ => &self.labels.entry(from.id).insert_entry((from.clone(), from.label())).into_mut().1,
        };
        for (text, truncated) in lines {
            out.write_all(clock.as_bytes())?;
            out.write_all(b" ")?;
            out.write_all(label.as_bytes())?;
            if relayed {
                out.write_all(b" (relayed)")?;
            }
            if private {
                out.write_all(model::PRIVATE_TO_YOU.as_bytes())?;
            }
            out.write_all(b": ")?;
            out.write_all(text.as_ref().as_bytes())?;
            if truncated {
                out.write_all(b" [cut: line over the length limit]")?;
            }
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Writes a batch of received lines: one line each, as [`write`](Self::write) would for their messages.
    pub fn write_lines(&mut self, out: &mut impl Write, b: &LineBatch) -> io::Result<()> {
        match self.format {
            Format::Text => self.write_remote(out, b.time, &b.from, b.relayed, b.private, b.lines()),
            Format::Json => b.messages().try_for_each(|m| self.write(out, &Event::Message(m))),
        }
    }

    /// Writes the event's line, if it has one (host-name updates alone are not printed).
    pub fn write(&mut self, out: &mut impl Write, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Connected { peer, .. } => {
                self.peers.insert(peer.id, peer.clone());
            }
            Event::PeerUpdated { peer, .. } => {
                let change = model::peer_change(self.peers.get(&peer.id).map(|p| &**p), peer);
                self.peers.insert(peer.id, peer.clone());
                match (change, self.format) {
                    (None, _) => return Ok(()),
                    (Some(line), Format::Text) => {
                        out.write_all(line.as_bytes())?;
                        return out.write_all(b"\n");
                    }
                    (Some(_), Format::Json) => {}
                }
            }
            Event::Disconnected { peer, .. } => {
                self.peers.remove(&peer.id);
                self.labels.remove(&peer.id);
            }
            // The call's result follows at once; its start is worth a line only where it may wait long.
            Event::Call { call, .. }
                if self.format == Format::Text
                    && call.is_waiting()
                    && matches!(call.name, "recv" | "send" | "writev") =>
            {
                return Ok(());
            }
            // The fatal error that follows says it all in words; programs get the facts in JSON.
            Event::TrustChanged { .. } if self.format == Format::Text => return Ok(()),
            Event::Message(m) if self.format == Format::Text => {
                if let Origin::Remote { from, relayed } = &m.origin {
                    let line = std::iter::once((m.text.as_str(), m.truncated));
                    return self.write_remote(out, m.time, from, *relayed, m.private, line);
                }
            }
            _ => {}
        }
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut *out, &model::to_json(ev))?;
                out.write_all(b"\n")
            }
            Format::Text => {
                let peers = &self.peers;
                let line = model::format_line(ev, &|id| peers.get(&id).map(|p| p.label()));
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")
            }
        }
    }
}

/// What stdin's lines do, and what its end does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Lines go to every client; end of input leaves the server running.
    Server,
    /// Lines go to the server; end of input closes our side once sent.
    Client,
}

/// Runs until the engine ends (Ctrl-C, a fatal error, or the server going away). Returns the exit code.
pub fn run(engine: Engine, role: Role, format: Format, log: Option<EventLog>, max_line: usize) -> i32 {
    let cmds = engine.commands();
    let stop = engine.stopper();
    let stepping = (engine.trace_mode() == TraceMode::Step)
        .then(|| (engine.stepper(), Arc::new(AtomicBool::new(false))));
    let step_in = stepping.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        stop.stop();
        // The stop itself takes well under a second; only an output nobody reads (a pipe whose reader is
        // suspended) can hold the last write. Do not wait on it for ever.
        std::thread::sleep(STUCK_OUTPUT);
        eprintln!("sockchat: stopped; output is not being read, so exiting without writing it");
        std::process::exit(0);
    }) {
        eprintln!("sockchat: cannot catch Ctrl-C: {e}");
    }
    // Detached on purpose: a blocking read of stdin cannot be interrupted, and it ends with the process.
    let _ = std::thread::Builder::new().name("sockchat-stdin".into()).spawn(move || {
        // The same decoder as the network side: bounded lines, CRLF, NULs and control bytes handled alike.
        let mut dec = LineDecoder::new(max_line);
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        let mut open = true;
        while open {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            let mut send = |line: Line| {
                // Step mode: Enter makes the paused call, `run` stops pausing; other lines are chat.
                if let Some((stepper, paused)) = &step_in {
                    let word = line.text.trim();
                    if word.is_empty() {
                        return stepper.step(Step::Next);
                    }
                    if word == "run" && paused.load(Ordering::Relaxed) {
                        return stepper.step(Step::Run);
                    }
                }
                open &= cmds.send(Command::Send { to: Target::All, text: line.text }).is_ok();
            };
            if n == 0 {
                dec.finish(&mut send);
                break;
            }
            dec.feed(&buf[..n], &mut send);
        }
        if role == Role::Client {
            let _ = cmds.send(Command::Finish);
        }
    });

    let stopping = engine.stopper();
    let mut printer = Printer::new(format);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut failed = false;
    let events = engine.events().clone();
    let mut hinted = false;
    let mut show = |printer: &mut Printer, ev: &Event, out: &mut io::BufWriter<_>| {
        if let Event::Error { fatal: true, text, .. } = ev {
            failed = true;
            eprintln!("sockchat: {text}");
            // Said on stderr, where a person looks for why the program stopped; text output does not say
            // it twice, while --json keeps it as an event for programs.
            if format == Format::Text {
                if let Some(l) = &log {
                    l.record(ev);
                }
                return Ok(());
            }
        }
        if let Some(l) = &log {
            l.record(ev);
        }
        if let (Event::Call { call, .. }, Some((_, paused))) = (ev, &stepping) {
            let now = call.state == CallState::Paused;
            if now && !std::mem::replace(&mut hinted, true) {
                eprintln!(
                    "sockchat: step mode: press Enter to make the call shown, or type run and Enter to go on without stopping"
                );
            }
            paused.store(now, Ordering::Relaxed);
        }
        printer.write(out, ev)
    };
    // Received lines still queued when a stop was asked for: skipped, so the stop is prompt, and counted.
    let mut skipped = 0u64;
    while let Ok(first) = events.recv_delivery() {
        // Print what has piled up, then flush once: a busy server prints in blocks, an idle one at once.
        let more = std::iter::from_fn(|| events.try_recv_delivery().ok());
        for d in std::iter::once(first).chain(more) {
            let shown = match d {
                Delivery::Lines(b) if stopping.is_stopping() => {
                    skipped += b.len() as u64;
                    Ok(())
                }
                Delivery::Event(Event::Message(m))
                    if stopping.is_stopping() && matches!(m.origin, Origin::Remote { .. }) =>
                {
                    skipped += 1;
                    Ok(())
                }
                Delivery::Event(ev) => show(&mut printer, &ev, &mut out),
                // A batch stays whole on the way to stdout and to the log: no `Message` is made per line.
                Delivery::Lines(b) => {
                    if let Some(l) = &log {
                        l.record_lines(&b);
                    }
                    printer.write_lines(&mut out, &b)
                }
            };
            if shown.is_err() {
                // stdout closed (a pipe reader went away): nothing more can be shown, so stop.
                engine.request_stop();
            }
        }
        if out.flush().is_err() {
            engine.request_stop();
        }
    }
    drop(out);
    let not_shown = skipped + engine.lines_not_shown();
    engine.stop();
    if not_shown > 0 {
        eprintln!("sockchat: stopped; {not_shown} received lines were not shown");
    }
    // After Ctrl-C the log gets half a second to catch up, so a slow log file cannot hold the stop.
    let closed = match log {
        Some(l) if stopping.is_stopping() => l.close_within(std::time::Duration::from_millis(500)),
        Some(l) => l.close(),
        None => Ok(()),
    };
    if let Err(e) = closed {
        eprintln!("sockchat: log file: {e}");
        failed = true;
    }
    i32::from(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DisconnectReason, Message};

    fn msg(from: &Arc<Peer>, relayed: bool, text: &str, truncated: bool) -> Event {
        let origin = Origin::Remote { from: from.clone(), relayed };
        Event::Message(Message {
            seq: 1,
            time: model::now(),
            origin,
            text: text.into(),
            truncated,
            private: false,
        })
    }

    /// The cached fast path for received messages must print exactly what `format_line` says.
    #[test]
    fn received_lines_match_format_line_across_renames() {
        let mut p = Printer::new(Format::Text);
        let mut out = Vec::new();
        let mut want = String::new();
        let mut peer = Arc::new(Peer::new(4, "127.0.0.1:5000".parse().unwrap()));
        let none = |_: PeerId| None;
        let mut events = vec![Event::Connected { time: model::now(), peer: peer.clone() }];
        events.push(msg(&peer, false, "plain", false));
        events.push(msg(&peer, true, "relayed and cut", true));
        let mut named = (*peer).clone();
        named.host = Some("localhost".into());
        named.name = Some("ann".into());
        peer = Arc::new(named);
        events.push(Event::PeerUpdated { time: model::now(), peer: peer.clone() });
        events.push(msg(&peer, false, "after rename", false));
        events.push(Event::Disconnected {
            time: model::now(),
            peer: peer.clone(),
            reason: DisconnectReason::Closed,
        });
        for ev in &events {
            p.write(&mut out, ev).unwrap();
            if !matches!(ev, Event::PeerUpdated { .. }) {
                want.push_str(&model::format_line(ev, &none));
                want.push('\n');
            }
        }
        let got = String::from_utf8(out).unwrap();
        let got: Vec<&str> = got.lines().filter(|l| !l.contains("peer is now known")).collect();
        assert_eq!(got, want.lines().collect::<Vec<_>>());
        assert!(want.contains("localhost (127.0.0.1:5000) ann: after rename"));
    }

    /// A batch prints exactly what its messages would, one by one.
    #[test]
    fn a_batch_prints_like_its_messages() {
        let from = Arc::new(Peer::new(2, "[::1]:7000".parse().unwrap()));
        for (format, relayed) in
            [(Format::Text, false), (Format::Text, true), (Format::Json, false), (Format::Json, true)]
        {
            let mut b = LineBatch::new(10, model::now(), from.clone(), relayed);
            b.push("one", false);
            b.push("two cut", true);
            b.push("three", false);
            let (mut batched, mut single) = (Vec::new(), Vec::new());
            Printer::new(format).write_lines(&mut batched, &b).unwrap();
            let mut p = Printer::new(format);
            for m in b.messages() {
                p.write(&mut single, &Event::Message(m)).unwrap();
            }
            assert_eq!(String::from_utf8(batched).unwrap(), String::from_utf8(single.clone()).unwrap());
            assert_eq!(single.iter().filter(|c| **c == b'\n').count(), 3);
            let mark = if format == Format::Text { "(relayed)" } else { "\"relayed\":true" };
            assert_eq!(String::from_utf8_lossy(&single).contains(mark), relayed);
        }
    }

    /// A client prints the server's lines as the server's, and a line only it got as private.
    #[test]
    fn the_servers_private_lines_are_labelled_in_text_and_json() {
        let mut server = Peer::new(0, "127.0.0.1:17900".parse().unwrap());
        server.server = true;
        server.host = Some("localhost".into());
        let server = Arc::new(server);
        for private in [false, true] {
            let mut b = LineBatch::new(1, model::now(), server.clone(), false);
            b.private = private;
            b.push("see me after class", false);
            let mut text = Vec::new();
            Printer::new(Format::Text).write_lines(&mut text, &b).unwrap();
            let text = String::from_utf8(text).unwrap();
            let want = if private {
                "server localhost (127.0.0.1:17900) (private: to you only): see me after class\n"
            } else {
                "server localhost (127.0.0.1:17900): see me after class\n"
            };
            assert!(text.ends_with(want), "{text:?}");
            let mut json = Vec::new();
            Printer::new(Format::Json).write_lines(&mut json, &b).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!((v["private"].as_bool(), v["from_server"].as_bool()), (Some(private), Some(true)));
            assert_eq!(v["peer"]["server"], true);
        }
        // A relayed line is never the server's, whatever its sender's flag.
        let m = Message {
            seq: 0,
            time: model::now(),
            origin: Origin::Remote { from: server, relayed: true },
            text: "x".into(),
            truncated: false,
            private: false,
        };
        assert!(!m.from_server());
    }
}
