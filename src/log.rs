//! The continuous log: every event appended to a file as a JSON line as it happens, so a crash keeps the
//! history. Writing happens on a thread of its own so the window never waits on disk; the file is flushed
//! whenever nothing more is waiting, so a burst costs a few large writes rather than one per event.
//!
//! What waits for the writer is bounded in bytes ([`QUEUE_BYTES`]): a log that falls behind makes
//! [`EventLog::record`] wait, which holds up the engine's user and, through the engine's own bound, the
//! readers, so a flood is slowed down to what the disk takes rather than piling up in memory or being
//! dropped. The window never waits: it asks [`EventLog::has_room`] before it takes an event.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::engine::{Budget, Held};
use crate::model::{Event, LineBatch, to_json};

/// Bytes of events that may wait for the log's writer.
pub const QUEUE_BYTES: usize = 1024 * 1024;

/// About the bytes a JSON line takes beyond its text: what waits is counted as it will be written, so
/// the queue drains in a known time even into a slow file.
const LINE_COST: usize = 200;

/// Room kept for one more entry when [`EventLog::has_room`] says yes: more than the longest line.
const ENTRY_ROOM: usize = 512 * 1024;

enum Entry {
    Event(Event),
    Lines(LineBatch),
}

pub struct EventLog {
    path: PathBuf,
    tx: Option<Sender<(Entry, Held)>>,
    queue: Arc<Budget>,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// Closes when the writer has ended.
    ended: Receiver<()>,
}

impl EventLog {
    /// Opens (creating or appending) before returning, so a bad path is reported at once.
    pub fn open(path: &Path) -> io::Result<EventLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        // Bounded by `queue` in bytes, not by the channel in entries: an entry may be one event or a batch.
        let (tx, rx) = crossbeam_channel::unbounded();
        let (end_tx, ended) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new().name("sockchat-log".into()).spawn(move || {
            let r = write_all(file, &rx);
            drop(end_tx);
            r
        })?;
        let queue = Budget::new(QUEUE_BYTES, QUEUE_BYTES);
        Ok(EventLog { path: path.to_path_buf(), tx: Some(tx), queue, thread: Some(thread), ended })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues an event, waiting while the writer is [`QUEUE_BYTES`] behind.
    pub fn record(&self, ev: &Event) {
        let cost = LINE_COST + if let Event::Message(m) = ev { m.text.len() } else { 0 };
        self.queue_entry(Entry::Event(ev.clone()), cost);
    }

    /// Queues a batch of received lines whole (the terminal mode's fast path), waiting like `record`.
    pub fn record_lines(&self, b: &LineBatch) {
        self.queue_entry(Entry::Lines(b.clone()), LINE_COST * b.len() + b.text_len());
    }

    fn queue_entry(&self, e: Entry, cost: usize) {
        if let (Some(tx), Some(held)) = (&self.tx, self.queue.take(None, cost)) {
            let _ = tx.send((e, held));
        }
    }

    /// Whether one more event (of any length) can be recorded now without waiting.
    pub fn has_room(&self) -> bool {
        self.queue.used() + ENTRY_ROOM <= QUEUE_BYTES
    }

    /// Writes what is queued and reports the first write error, if any.
    pub fn close(mut self) -> io::Result<()> {
        self.finish()
    }

    /// [`close`](Self::close), waiting at most `limit` for what is queued to be written (a stop must be
    /// prompt even when the log is a slow pipe). Past it, the rest is abandoned and that is the error.
    pub fn close_within(mut self, limit: Duration) -> io::Result<()> {
        self.tx = None;
        match self.ended.recv_timeout(limit) {
            Err(RecvTimeoutError::Timeout) => {
                drop(self.thread.take());
                Err(io::Error::other(
                    "the log file is taking writes too slowly; its last events may be missing",
                ))
            }
            _ => self.finish(),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("log writer panicked")),
            None => Ok(()),
        }
    }
}

fn write_all(file: File, rx: &Receiver<(Entry, Held)>) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let line = |out: &mut BufWriter<File>, ev: &Event| -> io::Result<()> {
        serde_json::to_writer(&mut *out, &to_json(ev))?;
        out.write_all(b"\n")
    };
    for (entry, held) in rx {
        match &entry {
            Entry::Event(ev) => line(&mut out, ev)?,
            Entry::Lines(b) => b.messages().try_for_each(|m| line(&mut out, &Event::Message(m)))?,
        }
        // Room for the next only once this one is in the buffer: what waits stays within the bound.
        drop((entry, held));
        if rx.is_empty() {
            out.flush()?;
        }
    }
    out.flush()?;
    out.get_ref().sync_data()
}

impl Drop for EventLog {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::now;

    #[test]
    fn appends_one_json_line_per_event_across_opens() {
        let dir = std::env::temp_dir().join(format!("sockchat-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let _ = std::fs::remove_file(&path);
        for port in [1, 2] {
            let log = EventLog::open(&path).unwrap();
            log.record(&Event::Listening { time: now(), addr: format!("127.0.0.1:{port}").parse().unwrap() });
            log.close().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let addrs: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["addr"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(addrs, ["127.0.0.1:1", "127.0.0.1:2"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_path_fails_at_open() {
        assert!(EventLog::open(Path::new("/nonexistent-dir/x/y.log")).is_err());
    }
}
