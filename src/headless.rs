//! Terminal mode: the same engine, events printed one per line on stdout, stdin lines sent.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::codec::{Line, LineDecoder};
use crate::engine::{Command, Engine};
use crate::log::EventLog;
use crate::model::{self, Event, Peer, PeerId, Target};

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
}

impl Printer {
    pub fn new(format: Format) -> Self {
        Printer { format, peers: HashMap::new() }
    }

    /// Writes the event's line, if it has one (host-name updates alone are not printed).
    pub fn write(&mut self, out: &mut impl Write, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Connected { peer, .. } => {
                self.peers.insert(peer.id, peer.clone());
            }
            Event::PeerUpdated { peer } => {
                let renamed = self.peers.get(&peer.id).is_some_and(|old| old.name != peer.name);
                self.peers.insert(peer.id, peer.clone());
                if !renamed {
                    return Ok(());
                }
            }
            Event::Disconnected { peer, .. } => {
                self.peers.remove(&peer.id);
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
    let stop = engine.commands();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop.send(Command::Stop);
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
            let mut send =
                |line: Line| open &= cmds.send(Command::Send { to: Target::All, text: line.text }).is_ok();
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

    let mut printer = Printer::new(format);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut failed = false;
    let events = engine.events().clone();
    while let Ok(first) = events.recv() {
        // Print what has piled up, then flush once: a busy server prints in blocks, an idle one at once.
        for ev in std::iter::once(first).chain(events.try_iter()) {
            if let Event::Error { fatal: true, text, .. } = &ev {
                failed = true;
                eprintln!("sockchat: {text}");
            }
            if let Some(l) = &log {
                l.record(&ev);
            }
            if printer.write(&mut out, &ev).is_err() {
                // stdout closed (a pipe reader went away): nothing more can be shown, so stop.
                engine.request_stop();
            }
        }
        if out.flush().is_err() {
            engine.request_stop();
        }
    }
    drop(out);
    engine.stop();
    if let Some(l) = log
        && let Err(e) = l.close()
    {
        eprintln!("sockchat: log file: {e}");
        failed = true;
    }
    i32::from(failed)
}
