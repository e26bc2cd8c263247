//! The window under egui_kittest for the GUI tests: a harness the size of a small desktop window, and
//! frames run until something shows (bounded, so a window that never gets there fails the test).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sockchat::gui::SockchatApp;

/// Long enough for a loaded CI machine to bring a real engine up on loopback.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The window on its start screen, with native file dialogs off (a test has no one to answer them).
pub fn app() -> Harness<'static, SockchatApp> {
    Harness::builder()
        .with_size([1000.0, 700.0])
        .build_eframe(|cc| SockchatApp::new(Some(cc), None).with_native_dialogs(false))
}

/// Runs frames until `cond` holds; fails with `what` after [`DEADLINE`].
pub fn wait_for(
    h: &mut Harness<'static, SockchatApp>,
    what: &str,
    cond: impl Fn(&Harness<'static, SockchatApp>) -> bool,
) {
    let start = Instant::now();
    loop {
        h.run_steps(1);
        if cond(h) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        // The engine's events arrive on other threads; a frame per few ms keeps this loop cheap.
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn has_text(h: &Harness<'static, SockchatApp>, text: &str) -> bool {
    h.query_by_label_contains(text).is_some()
}
