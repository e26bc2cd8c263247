//! The continuous log: every event appended to a file as a JSON line as it happens, so a crash keeps the
//! history. Writing happens on a thread of its own so the window never waits on disk; the file is flushed
//! whenever nothing more is waiting, so a burst costs a few large writes rather than one per event.
//!
//! What waits for the writer is bounded in bytes ([`QUEUE_BYTES`]): a log that falls behind makes
//! [`EventLog::record`] wait, which holds up the engine's user and, through the engine's own bound, the
//! readers, so a flood is slowed down to what the disk takes rather than piling up in memory or being
//! dropped. The window never waits: it uses [`EventLog::try_record`] and keeps what does not fit yet.

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

fn event_cost(ev: &Event) -> usize {
    LINE_COST + if let Event::Message(m) = ev { m.text.len() } else { 0 }
}

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
    ///
    /// A chat log holds what students typed, so a new one is readable by its owner only (0600). A symbolic
    /// link is refused rather than followed: in a shared directory another user could have planted one to
    /// have the log overwrite or grow a file of theirs, or of ours.
    pub fn open(path: &Path) -> io::Result<EventLog> {
        #[cfg(unix)]
        fn open_private(path: &Path) -> io::Result<File> {
            use std::os::unix::fs::OpenOptionsExt;
            let opened = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path);
            opened.map_err(|e| {
                // O_NOFOLLOW's error (ELOOP, EMLINK on the BSDs) says "too many levels of symbolic links".
                match std::fs::symlink_metadata(path) {
                    Ok(m) if m.file_type().is_symlink() => io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the path is a symbolic link, which is refused for a log: give the file's real path",
                    ),
                    _ => e,
                }
            })
        }
        #[cfg(not(unix))]
        fn open_private(path: &Path) -> io::Result<File> {
            OpenOptions::new().create(true).append(true).open(path)
        }
        let file = open_private(path)?;
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
        self.queue_entry(Entry::Event(ev.clone()), event_cost(ev));
    }

    /// Queues an event if the writer has room for it now; false (and nothing queued) otherwise. For the
    /// window, whose thread must never wait on the disk.
    pub fn try_record(&self, ev: &Event) -> bool {
        let Some(tx) = &self.tx else { return true };
        match self.queue.try_take(event_cost(ev)) {
            Some(held) => {
                let _ = tx.send((Entry::Event(ev.clone()), held));
                true
            }
            None => false,
        }
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
            log.record(&Event::Listening {
                time: now(),
                addr: format!("127.0.0.1:{port}").parse().unwrap(),
                addrs: vec![],
                fds: None,
                tls: None,
            });
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

    /// A fresh directory of this test's own, removed at the end.
    #[cfg(unix)]
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sockchat-log-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn a_new_log_is_private_and_an_existing_one_is_appended_to() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let path = dir.join("events.jsonl");
        EventLog::open(&path).unwrap().close().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
        std::fs::write(&path, "kept\n").unwrap();
        let log = EventLog::open(&path).unwrap();
        log.record(&Event::Listening {
            time: now(),
            addr: "127.0.0.1:1".parse().unwrap(),
            addrs: vec![],
            fds: None,
            tls: None,
        });
        log.close().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("kept\n{") && text.lines().count() == 2, "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_refused_and_its_target_left_alone() {
        let dir = scratch("link");
        let target = dir.join("precious");
        std::fs::write(&target, "untouched").unwrap();
        let link = dir.join("events.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.join("dangling.jsonl");
        std::os::unix::fs::symlink(dir.join("not-yet"), &dangling).unwrap();
        for path in [&link, &dangling] {
            let err = EventLog::open(path).err().expect("a symlink must be refused");
            assert!(err.to_string().contains("is a symbolic link"), "{err}");
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
        assert!(!dir.join("not-yet").exists(), "a dangling link must not create its target");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
