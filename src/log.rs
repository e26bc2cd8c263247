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
            log.record(&Event::Listening {
                time: now(),
                addr: format!("127.0.0.1:{port}").parse().unwrap(),
                fds: None,
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
        log.record(&Event::Listening { time: now(), addr: "127.0.0.1:1".parse().unwrap(), fds: None });
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
