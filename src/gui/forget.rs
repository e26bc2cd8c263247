//! A changed certificate, made something a person can act on in the window. The engine refuses a server
//! whose certificate differs from the one remembered for it, and says why; the way out (once the
//! server's owner has read out the new fingerprint) is to forget the old one, which SSH users do by
//! editing a file. Here it is a button under the refusal, and the next Connect asks about the new
//! certificate as at a first meeting, so the fingerprint is still compared before anything is sent.

use std::path::PathBuf;

use crossbeam_channel::Receiver;
use egui::RichText;

use crate::trust::Fingerprint;

/// What the engine said about the certificate (`Event::TrustChanged`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The known-servers file's key, `host:port` as typed.
    pub server: String,
    pub now: Fingerprint,
    pub file: PathBuf,
}

/// The offer to forget the remembered certificate, and how it went.
#[derive(Debug)]
pub struct Forget {
    pub changed: Changed,
    state: State,
}

#[derive(Debug)]
enum State {
    Offered,
    Working(Receiver<Result<usize, String>>),
    Done(Result<usize, String>),
}

impl Forget {
    pub fn new(changed: Changed) -> Forget {
        Forget { changed, state: State::Offered }
    }

    /// Whether the remembered certificate is gone (the next connection will ask).
    pub fn forgotten(&self) -> bool {
        matches!(self.state, State::Done(Ok(_)))
    }

    /// On a thread of its own: the window's thread does no file work.
    fn start(&mut self) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (file, key) = (self.changed.file.clone(), self.changed.server.clone());
        let spawned = std::thread::Builder::new().name("sockchat-forget".into()).spawn(move || {
            let _ = tx.send(crate::engine::tls::known::forget(&file, &key));
        });
        self.state = match spawned {
            Ok(_) => State::Working(rx),
            Err(e) => State::Done(Err(format!("cannot start the thread that changes the file: {e}"))),
        };
    }

    /// Takes the worker's answer when it has come.
    pub fn poll(&mut self) {
        if let State::Working(rx) = &self.state
            && let Ok(r) = rx.try_recv()
        {
            self.state = State::Done(r);
        }
    }

    /// Under the refusal on the start screen.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        match &self.state {
            State::Offered => {
                ui.label(
                    "Only if the person who runs the server confirms that its fingerprint is now this one:",
                );
                let (a, b) = self.changed.now.two_lines();
                ui.label(RichText::new(format!("{a}\n{b}")).monospace().strong());
                if ui.button("Forget the remembered certificate").clicked() {
                    self.start();
                }
            }
            State::Working(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Forgetting...");
                });
                ui.ctx().request_repaint_after(std::time::Duration::from_millis(50));
            }
            State::Done(Ok(_)) => {
                ui.label(
                    RichText::new(format!(
                        "Forgotten. Connect again: the window will show {}'s fingerprint and ask, as the \
                         first time.",
                        self.changed.server
                    ))
                    .strong(),
                );
            }
            State::Done(Err(e)) => {
                ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
            }
        }
    }
}
