//! The start screen's settings on disk, kept per role so two windows do not trample each other.
//!
//! eframe's own storage is read once when a window opens and written whole when it closes: a server
//! window and a client window open at once would each write back the other's fields as they were at
//! start, and the last one closed would win. So the forms live in a file of their own, written only
//! by read, merge and rename: pressing Start writes the server form's fields (and the window-wide ones:
//! role, log, projector mode...), pressing Connect the client form's, and closing a window only the
//! window-wide ones; every write first reads what is on disk now. The file holds the same flat JSON
//! object [`Settings`] always serialised to, so older settings (eframe's key) load as they are and seed
//! the file on its first write.
//!
//! Writes run on a worker thread, in order; reading happens once, as the window opens (where eframe
//! reads its own storage too).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::Sender;
use serde_json::{Map, Value};

use super::settings::{RoleChoice, Settings};

/// The file's name, in eframe's storage folder (`~/.local/share/sockchat/` on Linux).
pub const FILE_NAME: &str = "forms.json";

/// The server form's fields; written when Start server is pressed.
const SERVER_KEYS: &[&str] = &[
    "server_host",
    "server_port",
    "mode",
    "max_clients",
    "max_per_address",
    "idle_timeout",
    "room_rate",
    "room_byte_rate",
    "allow",
    "deny",
    "announce",
    "announce_name",
    "announce_interface",
    "server_tls",
    "tls_cert",
    "tls_key",
];

/// The client form's fields; written when Connect is pressed.
const CLIENT_KEYS: &[&str] = &["client_host", "client_port", "name", "client_tls"];

/// Whether field `key` is written by a save of `role`'s form (`None`: only the window-wide fields,
/// which are every field that belongs to neither form).
fn written_by(key: &str, role: Option<RoleChoice>) -> bool {
    let server = SERVER_KEYS.contains(&key);
    let client = CLIENT_KEYS.contains(&key);
    match role {
        Some(RoleChoice::Server) => !client,
        Some(RoleChoice::Client) => !server,
        None => !server && !client,
    }
}

fn as_object(s: &Settings) -> Map<String, Value> {
    match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// What to write: `disk` (what the file holds now) with `mine`'s fields for `role` laid over it. Without
/// a file yet, the whole of `mine` is the base, so settings carried over from eframe's storage are kept.
pub fn merge(disk: Option<Value>, mine: &Settings, role: Option<RoleChoice>) -> Value {
    let mine = as_object(mine);
    let mut out = match disk {
        Some(Value::Object(m)) => m,
        _ => mine.clone(),
    };
    for (k, v) in mine {
        if written_by(&k, role) {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

/// `base` with every field the file holds laid over it (a field it lacks, or one it cannot read, keeps
/// `base`'s value).
pub fn overlay(base: &Settings, disk: &Value) -> Settings {
    let Value::Object(d) = disk else { return base.clone() };
    let mut m = as_object(base);
    for (k, v) in d {
        let mut one = m.clone();
        one.insert(k.clone(), v.clone());
        // Field by field, so one bad value (a mode from a newer version) costs only itself.
        if serde_json::from_value::<Settings>(Value::Object(one)).is_ok() {
            m.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(Value::Object(m)).unwrap_or_else(|_| base.clone())
}

fn read(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn write(path: &Path, mine: &Settings, role: Option<RoleChoice>) -> Result<(), String> {
    let merged = merge(read(path), mine, role);
    let text = serde_json::to_string_pretty(&merged).map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    super::save::write_atomic(path, text.as_bytes()).map_err(|e| e.to_string())
}

/// A save waiting for the worker: a snapshot of the settings and which form it is for.
type Job = (Settings, Option<RoleChoice>);

struct Worker {
    tx: Sender<Job>,
    done: crossbeam_channel::Receiver<()>,
}

/// The settings file, or none (tests and `cargo test` never touch the user's file unless given one).
#[derive(Default)]
pub struct FormStore {
    path: Option<PathBuf>,
    worker: Option<Worker>,
}

impl FormStore {
    pub fn at(path: PathBuf) -> Self {
        FormStore { path: Some(path), worker: None }
    }

    /// The real window's file, in eframe's storage folder.
    pub fn default_path() -> Option<PathBuf> {
        eframe::storage_dir("sockchat").map(|d| d.join(FILE_NAME))
    }

    pub fn is_on(&self) -> bool {
        self.path.is_some()
    }

    /// `base` with what the file holds laid over it (see [`overlay`]); `base` when there is no file.
    pub fn load(&self, base: &Settings) -> Settings {
        match self.path.as_deref().and_then(read) {
            Some(disk) => overlay(base, &disk),
            None => base.clone(),
        }
    }

    /// Writes `role`'s form and the window-wide fields (`None`: only those), merged into the file.
    pub fn save(&mut self, s: &Settings, role: Option<RoleChoice>) {
        let Some(path) = &self.path else { return };
        if self.worker.is_none() {
            let (tx, rx) = crossbeam_channel::unbounded::<Job>();
            let (done_tx, done) = crossbeam_channel::bounded(1);
            let path = path.clone();
            let spawned = std::thread::Builder::new().name("sockchat-forms".into()).spawn(move || {
                for (s, role) in rx {
                    if let Err(e) = write(&path, &s, role) {
                        eprintln!("sockchat: cannot save the window's settings to {}: {e}", path.display());
                    }
                }
                let _ = done_tx.send(());
            });
            if spawned.is_err() {
                return;
            }
            self.worker = Some(Worker { tx, done });
        }
        if let Some(w) = &self.worker {
            let _ = w.tx.send((s.clone(), role));
        }
    }

    /// Waits (at most two seconds) for the saves asked for so far to be written.
    pub fn flush(&mut self) {
        if let Some(Worker { tx, done }) = self.worker.take() {
            drop(tx);
            let _ = done.recv_timeout(Duration::from_secs(2));
        }
    }
}

/// The window is closing: what it asked to save reaches the disk first.
impl Drop for FormStore {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_writes_its_own_fields_and_the_window_wide_ones() {
        let disk = Settings { server_port: "9000".into(), name: "ann".into(), ..Settings::default() };
        let mine = Settings {
            server_port: "7000".into(),
            name: "bob".into(),
            present: true,
            role: RoleChoice::Client,
            ..Settings::default()
        };
        let on_disk = serde_json::to_value(&disk).unwrap();
        let after = |role| overlay(&Settings::default(), &merge(Some(on_disk.clone()), &mine, role));
        let client = after(Some(RoleChoice::Client));
        assert_eq!((client.server_port.as_str(), client.name.as_str()), ("9000", "bob"));
        assert!(client.present && client.role == RoleChoice::Client);
        let server = after(Some(RoleChoice::Server));
        assert_eq!((server.server_port.as_str(), server.name.as_str()), ("7000", "ann"));
        let closing = after(None);
        assert_eq!(
            (closing.server_port.as_str(), closing.name.as_str(), closing.present),
            ("9000", "ann", true)
        );
        // No file yet: everything is kept.
        let first = overlay(&Settings::default(), &merge(None, &mine, None));
        assert_eq!(first, mine);
    }

    #[test]
    fn old_settings_and_bad_fields_load_field_by_field() {
        let old = serde_json::json!({ "role": "Client", "client_host": "lab", "mode": "Warp", "name": 7 });
        let s = overlay(&Settings::default(), &old);
        assert_eq!((s.role, s.client_host.as_str()), (RoleChoice::Client, "lab"));
        assert_eq!((s.mode, s.name.as_str()), (Settings::default().mode, ""));
    }
}
