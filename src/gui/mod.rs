//! The desktop window (eframe/egui): a start screen, then the chat view of one server or client session.
//!
//! The window never touches a socket or a file: the engine runs on its own threads and wakes the window
//! per event; saving and file dialogs run on worker threads (see [`save`]).

mod banner;
pub mod calls;
pub mod chat;
mod clients;
pub mod find;
pub mod forget;
mod forms;
pub mod found;
pub mod help;
pub mod keys;
pub mod layout;
pub mod palette;
pub mod present;
pub mod save;
pub mod session;
pub mod settings;
mod start;
pub mod theme;
mod tls_form;
mod trust;
mod view;

use std::sync::Arc;

use crate::engine::Waker;
pub use session::{Phase, Session, StartRequest};
pub use settings::{RoleChoice, Settings};

/// The application state; everything the window shows is derived from it each frame.
pub struct SockchatApp {
    pub settings: Settings,
    /// Why the last start failed, in words, shown on the start screen until the next attempt.
    pub start_error: Option<String>,
    /// The form as it was when `start_error` happened: the error is about those fields, so it goes once
    /// they change (another role, a new port, a field now invalid for a reason of its own).
    start_error_form: Option<settings::Settings>,
    /// With a start error about a changed certificate: the offer to forget the remembered one.
    pub forget: Option<forget::Forget>,
    /// Messages received while the window was not focused, and how many had been received when it last
    /// was: the title shows the first, as chat programs do in the taskbar.
    unseen: u64,
    seen_at: u64,
    pub session: Option<Session>,
    pub save: save::SaveFlow,
    /// Servers found on the LAN, for the client start screen.
    pub found: found::Found,
    wake: Option<Waker>,
    title: String,
    /// `--log FILE`: every session's events are appended there.
    log: Option<std::path::PathBuf>,
    /// Projector mode's styles, applied when `settings.present` changes.
    present_style: present::PresentStyle,
    /// The keyboard help (F1) is open.
    pub help_open: bool,
    /// The server form's certificate Browse dialogs.
    tls_form: tls_form::TlsForm,
    /// Where the forms are kept per role (see [`forms`]); off unless given a file.
    forms: forms::FormStore,
}

impl SockchatApp {
    /// `cc` is `None` only in tests that build the app by hand; `start` comes from the command line.
    pub fn new(cc: Option<&eframe::CreationContext<'_>>, start: Option<StartRequest>) -> Self {
        let mut settings = Settings::default();
        let mut wake: Option<Waker> = None;
        if let Some(cc) = cc {
            if let Some(stored) =
                cc.storage.and_then(|s| eframe::get_value::<Settings>(s, settings::STORAGE_KEY))
            {
                settings = stored;
            }
            let ctx = cc.egui_ctx.clone();
            wake = Some(Arc::new(move || ctx.request_repaint()));
        }
        let mut app = SockchatApp {
            settings,
            start_error: None,
            start_error_form: None,
            forget: None,
            unseen: 0,
            seen_at: 0,
            session: None,
            save: save::SaveFlow::default(),
            found: found::Found::default(),
            wake,
            title: String::new(),
            log: None,
            present_style: present::PresentStyle::default(),
            help_open: false,
            tls_form: Default::default(),
            forms: Default::default(),
        };
        app.begin(start);
        app
    }

    /// Keeps the forms in `path` from now on, per role (see [`forms`]), and loads what it holds.
    pub fn with_forms_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        if let Some(p) = path {
            self.forms = forms::FormStore::at(p);
            self.settings = self.forms.load(&self.settings);
        }
        self
    }

    /// Waits (briefly) until the forms saved so far are on disk: for tests, and a window closing.
    pub fn flush_forms(&mut self) {
        self.forms.flush();
    }

    /// Starts a command-line request, copied into the form (and its role's form saved) first.
    fn begin(&mut self, start: Option<StartRequest>) {
        if let Some(req) = start {
            self.remember(&req);
            self.forms.save(&self.settings, Some(self.settings.role));
            self.start(req);
        }
    }

    /// Like [`Self::new`], starting `start` with `--log` already in effect.
    pub fn with_start(
        cc: Option<&eframe::CreationContext<'_>>,
        start: Option<StartRequest>,
        log: Option<std::path::PathBuf>,
    ) -> Self {
        let mut app = Self::new(cc, None).with_log(log);
        app.begin(start);
        app
    }

    /// Appends every event of every session to `path` as JSON lines (`--log`).
    pub fn with_log(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.log = path;
        self
    }

    /// `--present`: projector mode on from the start (and remembered, like the switch).
    pub fn with_present(mut self, on: bool) -> Self {
        self.settings.present |= on;
        self
    }

    /// Tests turn native file dialogs off so nothing pops up on a developer's desktop.
    pub fn with_native_dialogs(mut self, on: bool) -> Self {
        self.save.native = on;
        self
    }

    /// Copies a command-line request into the form, so Back shows what was started.
    fn remember(&mut self, req: &StartRequest) {
        if let Some(p) = &self.log {
            self.settings.log_on = true;
            self.settings.log_path = p.display().to_string();
        }
        match req {
            StartRequest::Server(c) => {
                self.settings.role = RoleChoice::Server;
                let (h, p) = settings::split_host_port(&c.addr);
                self.settings.server_host = h;
                self.settings.server_port = p;
                self.settings.mode = c.mode;
                settings::remember_limits(&mut self.settings, c);
                tls_form::remember_server(&mut self.settings, c.tls.as_ref());
            }
            StartRequest::Client(c) => {
                self.settings.role = RoleChoice::Client;
                let (h, p) = settings::split_host_port(&c.addr);
                self.settings.client_host = h;
                self.settings.client_port = p;
                self.settings.name = c.name.clone().unwrap_or_default();
                self.settings.client_tls = c.tls.is_some();
            }
        }
    }

    pub fn start(&mut self, req: StartRequest) {
        self.start_error = None;
        self.forget = None;
        let trace = match &req {
            StartRequest::Server(c) => c.trace,
            StartRequest::Client(c) => c.trace,
        };
        // Asked for the calls (--trace, --step, the step switch): show them.
        if trace != crate::engine::TraceMode::Off {
            self.settings.calls_open = true;
        }
        self.session = Some(Session::start(req, self.wake.clone(), self.log.as_deref()));
    }

    /// Which screen shows: the chat view once a session has come up, the start screen before.
    pub fn in_chat(&self) -> bool {
        // Step mode shows the chat view (and the calls panel) from the first paused call.
        self.session.as_ref().is_some_and(|s| s.ever_live || s.stepping())
    }

    /// The window title: app, role and address, after the count of unseen messages when there are any.
    pub fn title(&self) -> String {
        let unseen = if self.unseen > 0 { format!("({}) ", self.unseen) } else { String::new() };
        unseen
            + &match &self.session {
                Some(s) if s.ever_live => match &s.request {
                    StartRequest::Server(c) => {
                        let addr = s.local_addr.map_or_else(|| c.addr.clone(), |a| a.to_string());
                        format!("sockchat - server on {addr} ({})", c.mode.label())
                    }
                    StartRequest::Client(c) => format!("sockchat - client of {}", c.addr),
                },
                _ => "sockchat".into(),
            }
    }

    /// Counts what arrived while the window was not focused; focusing it marks everything seen.
    fn count_unseen(&mut self, focused: bool) {
        let received = self.session.as_ref().map_or(0, |s| s.received);
        if received < self.seen_at {
            // A new session counts from zero.
            self.seen_at = 0;
        }
        if focused {
            self.unseen = 0;
        } else {
            self.unseen += received - self.seen_at;
        }
        self.seen_at = received;
    }

    /// Drains the engine and the save workers; runs before each frame and on each wake-up.
    pub fn poll(&mut self) {
        self.found.poll();
        if self.in_chat() {
            self.found.stop_browsing();
        }
        if let Some(s) = &mut self.session {
            s.poll();
            if let Some(why) = s.failed_to_start() {
                let what =
                    if s.request.is_server() { "Could not start the server" } else { "Could not connect" };
                self.start_error = Some(format!("{what}: {why}"));
                self.start_error_form = Some(self.settings.clone());
                self.forget = s.trust_changed.clone().map(forget::Forget::new);
                self.session = None;
            }
        }
        if let Some(path) = self.save.poll() {
            self.write_transcript(path.clone(), save::Format::from_path(&path));
        }
    }

    /// Typing goes to the send box again once the help is closed, as after the find bar or the save form.
    fn help_closed(&mut self) {
        if let Some(s) = &mut self.session {
            s.focus_send = true;
        }
    }

    fn write_transcript(&mut self, path: std::path::PathBuf, format: save::Format) {
        let Some(s) = &self.session else { return };
        let events = s.chat.events();
        let peers = s.known.clone();
        let note = s.chat.trimmed_note();
        self.save.write(path, format, events, peers, note, self.wake.clone());
    }
}

impl eframe::App for SockchatApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.poll();
        self.present_style.apply(ctx, self.settings.present);
        theme::apply(ctx, self.settings.theme);
        if help::keys(ctx, &mut self.help_open) && !self.help_open {
            self.help_closed();
        }
        if self.session.as_ref().is_some_and(|s| s.backlogged) {
            // The log's writer is behind: its queue drains on its own thread, with no wake-up for us.
            ctx.request_repaint_after(std::time::Duration::from_millis(15));
        }
        self.count_unseen(ctx.input(|i| i.focused));
        let title = self.title();
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        if ctx.input_mut(|i| i.consume_shortcut(&keys::QUIT)) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let help_was_open = self.help_open;
        // A form, the help or an open drop-down or menu keeps egui's own Tab order, inside it.
        let in_front = self.help_open || self.save.form_open || egui::Popup::is_any_open(ui.ctx());
        keys::begin_frame(ui.ctx(), !in_front);
        if self.in_chat() {
            self.chat_view(ui);
        } else {
            self.start_screen(ui);
        }
        self.save_form(ui);
        help::overlay(ui.ctx(), &mut self.help_open);
        if help_was_open && !self.help_open {
            self.help_closed();
        }
        keys::focus_ring(ui.ctx());
        self.trust_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.forms.is_on() {
            // Only the window-wide fields: each form was written when it was used (see `forms`).
            self.forms.save(&self.settings, None);
        } else {
            eframe::set_value(storage, settings::STORAGE_KEY, &self.settings);
        }
    }
}

/// Opens the window (already started when `start` is given, in projector mode with `present`); returns the
/// process exit code.
pub fn run(start: Option<StartRequest>, log: Option<std::path::PathBuf>, present: bool) -> i32 {
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png"));
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("sockchat")
        .with_app_id("sockchat")
        .with_inner_size([960.0, 640.0])
        .with_min_inner_size([520.0, 360.0]);
    match icon {
        Ok(icon) => viewport = viewport.with_icon(Arc::new(icon)),
        Err(e) => eprintln!("sockchat: cannot load the window icon: {e}"),
    }
    let options = eframe::NativeOptions { viewport, ..Default::default() };
    let result = eframe::run_native(
        "sockchat",
        options,
        Box::new(move |cc| {
            // The forms file before the start, so a command-line start is copied over what it holds.
            let mut app = SockchatApp::new(Some(cc), None)
                .with_forms_file(forms::FormStore::default_path())
                .with_log(log)
                .with_present(present);
            app.begin(start);
            // Only the real window browses the LAN; tests feed the list themselves.
            app.found.live = true;
            Ok(Box::new(app))
        }),
    );
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sockchat: cannot open the window: {e}");
            eprintln!("sockchat: without a display, use --headless to run in the terminal");
            1
        }
    }
}
