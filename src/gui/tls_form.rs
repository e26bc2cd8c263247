//! The start screen's encryption controls: the "Encrypt (TLS)" switch of both forms, and the server's
//! optional own certificate and key, with Browse buttons whose file dialogs run on worker threads.
//!
//! The window only names files here; the engine reads them (and makes, keeps and checks certificates).

use std::path::PathBuf;

use crossbeam_channel::{Receiver, TryRecvError};
use egui::RichText;

use super::settings::Settings;
use crate::engine::{ClientTls, ServerTls};
use crate::trust::TrustPolicy;

/// The server's TLS settings for the engine, or why the fields cannot be used yet; `Ok(None)`: plain.
pub fn server_tls(s: &Settings) -> Result<Option<ServerTls>, String> {
    if !s.server_tls {
        return Ok(None);
    }
    let some = |v: &str| Some(PathBuf::from(v.trim())).filter(|p| !p.as_os_str().is_empty());
    let (cert, key) = (some(&s.tls_cert), some(&s.tls_key));
    if cert.is_some() != key.is_some() {
        return Err("own certificate: give both the certificate and its key, or neither".into());
    }
    let dir = crate::engine::tls::cert_dir().ok_or(crate::engine::tls::NO_CONFIG_DIR)?;
    Ok(Some(ServerTls { cert, key, dir }))
}

/// The client's TLS settings: the window asks the person about a server it does not know.
pub fn client_tls(s: &Settings) -> Option<ClientTls> {
    s.client_tls.then(|| ClientTls {
        // No home directory: no file, so nothing is remembered and every server is asked about.
        known_servers: crate::engine::tls::known_servers_file().unwrap_or_default(),
        policy: TrustPolicy::Ask,
    })
}

/// Copies a started server's TLS back into the form (a command-line start).
pub fn remember_server(s: &mut Settings, tls: Option<&ServerTls>) {
    s.server_tls = tls.is_some();
    let shown = |p: Option<&PathBuf>| p.map_or(String::new(), |p| p.display().to_string());
    if let Some(t) = tls {
        (s.tls_cert, s.tls_key) = (shown(t.cert.as_ref()), shown(t.key.as_ref()));
    }
}

/// Which field a file dialog fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Cert,
    Key,
}

/// A Browse button's dialog, open on a worker thread.
#[derive(Default)]
pub struct TlsForm {
    picking: Option<(Which, Receiver<Option<PathBuf>>)>,
    /// Whether a file dialog can open on this desktop, looked up once (see `save::dialog_possible`).
    dialogs: Option<bool>,
}

impl TlsForm {
    /// Puts a path the dialog chose into its field.
    fn poll(&mut self, s: &mut Settings) {
        let Some((which, rx)) = &self.picking else { return };
        match rx.try_recv() {
            Ok(Some(p)) => {
                let field = if *which == Which::Cert { &mut s.tls_cert } else { &mut s.tls_key };
                *field = p.display().to_string();
                self.picking = None;
            }
            Ok(None) | Err(TryRecvError::Disconnected) => self.picking = None,
            Err(TryRecvError::Empty) => {}
        }
    }

    /// Opens the desktop's file dialog off the window's thread; `wake` repaints when it answers.
    fn browse(&mut self, which: Which, wake: Option<crate::engine::Waker>) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let title = if which == Which::Cert { "Certificate (PEM)" } else { "Private key (PEM)" };
        let spawned = std::thread::Builder::new().name("sockchat-tls-dialog".into()).spawn(move || {
            let picked = rfd::FileDialog::new()
                .set_title(title)
                .add_filter("PEM", &["pem", "crt", "cer", "key"])
                .add_filter("Any file", &["*"])
                .pick_file();
            let _ = tx.send(picked);
            if let Some(w) = wake {
                w();
            }
        });
        if spawned.is_ok() {
            self.picking = Some((which, rx));
        }
    }

    /// The server form's rows: the switch, and when it is on the own-certificate fields. Returns the
    /// check of those fields (shown under them when it fails).
    pub fn server_rows(
        &mut self,
        ui: &mut egui::Ui,
        s: &mut Settings,
        dialogs: bool,
        wake: Option<crate::engine::Waker>,
    ) -> Result<Option<ServerTls>, String> {
        self.poll(s);
        if self.picking.is_some() {
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(200));
        }
        ui.checkbox(&mut s.server_tls, "Encrypt (TLS)").on_hover_text(
            "Clients must turn on Encrypt too. The first time, each compares the fingerprint this window \
             shows with the one their window shows, so nobody can listen in between",
        );
        if s.server_tls {
            egui::Grid::new("tls-form").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
                for which in [Which::Cert, Which::Key] {
                    let (label, value, hint) = match which {
                        Which::Cert => ("Certificate", &mut s.tls_cert, "optional: a PEM file"),
                        Which::Key => ("Key", &mut s.tls_key, "with the certificate"),
                    };
                    let l = ui.label(label);
                    ui.horizontal(|ui| {
                        let w = (ui.available_width() - 90.0).clamp(120.0, 260.0);
                        ui.add(egui::TextEdit::singleline(value).hint_text(hint).desired_width(w))
                            .labelled_by(l.id);
                        let possible = *self.dialogs.get_or_insert_with(super::save::dialog_possible);
                        let open = dialogs && possible && self.picking.is_none();
                        let what = if which == Which::Cert { "certificate" } else { "key" };
                        let b = ui
                            .add_enabled(open, egui::Button::new("Browse..."))
                            .accessible_name(format!("Browse for the {what} file"))
                            .on_hover_text(format!("Choose the {what} file (PEM)"))
                            .on_disabled_hover_text("No file dialog can open here: type the path");
                        if b.clicked() {
                            self.browse(which, wake.clone());
                        }
                    });
                    ui.end_row();
                }
            });
        }
        let check = server_tls(s);
        match &check {
            Err(e) => {
                ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
            }
            Ok(Some(t)) if t.cert.is_none() => {
                let dir = t.dir.display();
                let text = format!("without files: a certificate made for this machine, kept in {dir}");
                ui.label(RichText::new(text).weak());
            }
            Ok(_) => {}
        }
        check
    }
}

/// The client form's switch.
pub fn client_row(ui: &mut egui::Ui, s: &mut Settings) {
    ui.checkbox(&mut s.client_tls, "Encrypt (TLS)").on_hover_text(
        "For a server started with Encrypt on. The first time, compare the fingerprint your window shows \
         with the one on the server's screen",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_needs_its_key_and_empty_means_a_made_one() {
        let mut s = Settings::default();
        assert_eq!(server_tls(&s), Ok(None));
        s.server_tls = true;
        let made = server_tls(&s).unwrap().unwrap();
        assert!(made.cert.is_none() && made.key.is_none() && made.dir.ends_with("sockchat/tls"));
        s.tls_cert = " /etc/ssl/me.pem ".into();
        assert!(server_tls(&s).unwrap_err().contains("both the certificate and its key"));
        s.tls_key = "/etc/ssl/me.key".into();
        let own = server_tls(&s).unwrap().unwrap();
        assert_eq!(own.cert, Some(PathBuf::from("/etc/ssl/me.pem")));
        assert!(client_tls(&s).is_none());
        s.client_tls = true;
        let c = client_tls(&s).unwrap();
        assert_eq!(c.policy, TrustPolicy::Ask);
        assert!(c.known_servers.ends_with("sockchat/known_servers"));
    }
}
