//! "Save transcript...": the native dialog (rfd) and the write both run on worker threads, so the window
//! never waits on a portal or a disk; where no dialog can open, a path field in the window takes over.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};

use crate::model::{Event, Peer, PeerId, Transcript};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    JsonLines,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::JsonLines => "jsonl",
        }
    }

    /// `.jsonl` / `.json` mean JSON lines; anything else is plain text.
    pub fn from_path(p: &Path) -> Format {
        match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("jsonl" | "json" | "ndjson") => Format::JsonLines,
            _ => Format::Text,
        }
    }
}

/// The transcript as a file's bytes. `note` says what the history no longer holds (it is bounded), and
/// opens the file: a `#` line in text, a `note` object in JSON lines.
pub fn render(
    events: &[Arc<Event>],
    peers: &HashMap<PeerId, Arc<Peer>>,
    format: Format,
    note: Option<&str>,
) -> String {
    let mut t = Transcript::new();
    for e in events {
        t.push((**e).clone());
    }
    let body = match format {
        Format::Text => t.to_text(&|id| peers.get(&id).map(|p| p.label())),
        Format::JsonLines => t.to_json_lines(),
    };
    match (note, format) {
        (None, _) => body,
        (Some(n), Format::Text) => format!("# {n}\n{body}"),
        (Some(n), Format::JsonLines) => {
            format!("{}\n{body}", serde_json::json!({ "event": "note", "text": n }))
        }
    }
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`: a reader never sees
/// half a transcript, and a failed write leaves any older file as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{}.{}-{nanos}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `~/sockchat-transcript-YYYYMMDD-HHMMSS.txt` (the current directory when there is no home).
pub fn default_path(format: Format) -> PathBuf {
    let t = crate::model::now();
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(format!("sockchat-transcript-{}.{}", crate::model::file_stamp(t), format.extension()))
}

/// Whether a native dialog has a chance: a desktop portal needs a session bus, the fallback needs zenity.
pub(super) fn dialog_possible() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("zenity").is_file()))
}

/// Why a save failed, in words a person can act on; the system's own words follow for the rest.
fn failure_words(path: &Path, e: &std::io::Error) -> String {
    let folder = path.parent().map_or_else(String::new, |p| p.display().to_string());
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => format!("the folder {folder} does not exist"),
        std::io::ErrorKind::PermissionDenied => format!("you may not write in {folder}"),
        std::io::ErrorKind::IsADirectory => "that is a folder: add a file name".into(),
        std::io::ErrorKind::StorageFull => "the disk is full".into(),
        std::io::ErrorKind::ReadOnlyFilesystem => "that disk is read-only".into(),
        _ => {
            let words = e.to_string();
            words.split(" (os error").next().unwrap_or(&words).to_lowercase()
        }
    };
    format!("Could not save to {}: {why}", path.display())
}

/// A dialog that answers "no file" faster than a person could have cancelled it did not really open.
const TOO_FAST: Duration = Duration::from_millis(700);

enum Pick {
    Chosen(PathBuf),
    Cancelled,
}

/// State of the save flow, polled every frame.
pub struct SaveFlow {
    /// Try rfd first (off in tests, which must not pop up desktop dialogs).
    pub native: bool,
    /// The in-window form is showing (fallback, or chosen by the user).
    pub form_open: bool,
    pub form_path: String,
    pub form_format: Format,
    /// Why the form is showing instead of a dialog, if it is a fallback.
    pub form_note: Option<String>,
    /// The path field takes the keyboard when the form opens, so a typed path and Enter save at once.
    pub focus_path: bool,
    /// The form's own save is being written: the form stays open until it is done, and closes only if
    /// it worked.
    pub form_saving: bool,
    /// Why the form's last save failed, in words, shown next to the path.
    pub form_error: Option<String>,
    /// The form closed after a save or a cancel: the chat's send box takes the keyboard back.
    pub closed: bool,
    picking: Option<(Receiver<Pick>, Instant)>,
    writing: Option<Receiver<Result<(PathBuf, usize), String>>>,
    /// Last outcome, shown in the status line: (ok, words).
    pub status: Option<(bool, String)>,
}

impl Default for SaveFlow {
    fn default() -> Self {
        SaveFlow {
            native: true,
            form_open: false,
            form_path: String::new(),
            form_format: Format::Text,
            form_note: None,
            focus_path: false,
            form_saving: false,
            form_error: None,
            closed: false,
            picking: None,
            writing: None,
            status: None,
        }
    }
}

impl SaveFlow {
    pub fn busy(&self) -> bool {
        self.picking.is_some() || self.writing.is_some()
    }

    /// "Save transcript..." pressed: a native dialog on a worker thread, or the form straight away.
    pub fn begin(&mut self, wake: Option<crate::engine::Waker>) {
        if self.busy() {
            return;
        }
        if !self.native || !dialog_possible() {
            let note = self.native.then(|| {
                "No file dialog can open on this desktop (no desktop portal or zenity); type a path instead."
                    .to_string()
            });
            self.open_form(note);
            return;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new().name("sockchat-dialog".into()).spawn(move || {
            let picked = rfd::FileDialog::new()
                .set_title("Save transcript")
                .add_filter("Plain text", &["txt"])
                .add_filter("JSON lines", &["jsonl"])
                .set_file_name(
                    default_path(Format::Text)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                )
                .save_file();
            let _ = tx.send(match picked {
                Some(p) => Pick::Chosen(p),
                None => Pick::Cancelled,
            });
            if let Some(w) = wake {
                w();
            }
        });
        match spawned {
            Ok(_) => self.picking = Some((rx, Instant::now())),
            Err(e) => self.open_form(Some(format!("Cannot open a file dialog ({e}); type a path instead."))),
        }
    }

    fn open_form(&mut self, note: Option<String>) {
        self.form_open = true;
        self.focus_path = true;
        self.form_error = None;
        self.form_note = note;
        self.form_path = default_path(self.form_format).display().to_string();
    }

    /// Switches the form's format, and the path's extension with it when it still has the other one.
    pub fn set_form_format(&mut self, f: Format) {
        let old = self.form_format;
        self.form_format = f;
        let p = PathBuf::from(&self.form_path);
        if p.extension().and_then(|e| e.to_str()) == Some(old.extension()) {
            self.form_path = p.with_extension(f.extension()).display().to_string();
        }
    }

    /// Starts writing on a worker thread; `events` and `peers` are snapshots, cheap to take.
    pub fn write(
        &mut self,
        path: PathBuf,
        format: Format,
        events: Vec<Arc<Event>>,
        peers: HashMap<PeerId, Arc<Peer>>,
        note: Option<String>,
        wake: Option<crate::engine::Waker>,
    ) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new().name("sockchat-save".into()).spawn(move || {
            let text = render(&events, &peers, format, note.as_deref());
            let r = write_atomic(&path, text.as_bytes())
                .map(|()| (path.clone(), events.len()))
                .map_err(|e| failure_words(&path, &e));
            let _ = tx.send(r);
            if let Some(w) = wake {
                w();
            }
        });
        match spawned {
            Ok(_) => {
                self.writing = Some(rx);
                self.status = Some((true, "Saving transcript...".into()));
            }
            Err(e) => self.status = Some((false, format!("Could not start saving: {e}"))),
        }
    }

    /// Collects worker results; returns a path the dialog chose, for the caller to write.
    pub fn poll(&mut self) -> Option<PathBuf> {
        let mut chosen = None;
        if let Some((rx, started)) = &self.picking {
            match rx.try_recv() {
                Ok(Pick::Chosen(p)) => {
                    chosen = Some(p);
                    self.picking = None;
                }
                Ok(Pick::Cancelled) if started.elapsed() < TOO_FAST => {
                    self.picking = None;
                    self.open_form(Some(
                        "The file dialog could not open (no desktop portal?); type a path instead.".into(),
                    ));
                }
                Ok(Pick::Cancelled) | Err(TryRecvError::Disconnected) => self.picking = None,
                Err(TryRecvError::Empty) => {}
            }
        }
        if let Some(rx) = &self.writing {
            match rx.try_recv() {
                Ok(Ok((p, n))) => {
                    self.writing = None;
                    let what = if n == 1 { "1 entry".to_string() } else { format!("{n} entries") };
                    self.status = Some((true, format!("Saved {what} to {}", p.display())));
                    if std::mem::take(&mut self.form_saving) {
                        self.form_open = false;
                        self.closed = true;
                    }
                }
                Ok(Err(e)) => {
                    self.writing = None;
                    if std::mem::take(&mut self.form_saving) {
                        // The form stays, with the reason beside the path, to fix and try again.
                        self.form_error = Some(e);
                        self.focus_path = true;
                        self.status = None;
                    } else {
                        self.status = Some((false, e));
                    }
                }
                Err(TryRecvError::Disconnected) => {
                    self.writing = None;
                    self.status = Some((false, "Saving stopped unexpectedly".into()));
                }
                Err(TryRecvError::Empty) => {}
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("sockchat-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.txt");
        write_atomic(&p, b"one\n").unwrap();
        write_atomic(&p, b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        assert!(write_atomic(&dir.join("missing/x.txt"), b"x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn format_follows_extension() {
        assert_eq!(Format::from_path(Path::new("a.JSONL")), Format::JsonLines);
        assert_eq!(Format::from_path(Path::new("a.log")), Format::Text);
    }
}
