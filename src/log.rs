//! The continuous log: every event appended to a file as a JSON line as it happens, flushed per event,
//! so a crash keeps the history. Writing happens on a thread of its own so the window never waits on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use crate::model::{Event, to_json};

pub struct EventLog {
    path: PathBuf,
    tx: Option<Sender<String>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl EventLog {
    /// Opens (creating or appending) before returning, so a bad path is reported at once.
    pub fn open(path: &Path) -> io::Result<EventLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, rx) = crossbeam_channel::unbounded::<String>();
        let thread =
            std::thread::Builder::new().name("sockchat-log".into()).spawn(move || write_all(file, &rx))?;
        Ok(EventLog { path: path.to_path_buf(), tx: Some(tx), thread: Some(thread) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn record(&self, ev: &Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(to_json(ev).to_string());
        }
    }

    /// Writes what is queued and reports the first write error, if any.
    pub fn close(mut self) -> io::Result<()> {
        self.finish()
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

fn write_all(mut file: File, rx: &crossbeam_channel::Receiver<String>) -> io::Result<()> {
    for mut line in rx {
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.flush()?;
    }
    file.sync_data()
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
