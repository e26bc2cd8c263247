use clap::Parser;

use sockchat::cli::{Cli, Role};
use sockchat::engine::Engine;
use sockchat::headless::{self, Format};
use sockchat::log::EventLog;

fn main() {
    // Before any thread starts: afterwards the local UTC offset cannot be read safely.
    sockchat::model::init_local_offset();
    tune_allocator();
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Role::Server(s)) if s.common.headless => match s.config() {
            Ok(cfg) => headless_run(Engine::server(cfg, None), headless::Role::Server, &s.common),
            Err(e) => {
                eprintln!("sockchat: {e}");
                2
            }
        },
        Some(Role::Client(c)) if c.common.headless => {
            headless_run(Engine::client(c.config(), None), headless::Role::Client, &c.common)
        }
        Some(Role::Servers(a)) => sockchat::servers::run(&a),
        other => sockchat_gui(other),
    };
    std::process::exit(code);
}

fn headless_run(engine: Engine, role: headless::Role, common: &sockchat::cli::Common) -> i32 {
    let log = match &common.log {
        Some(p) => match EventLog::open(p) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("sockchat: cannot open log file {}: {e}", p.display());
                return 2;
            }
        },
        None => None,
    };
    let format = if common.json { Format::Json } else { Format::Text };
    headless::run(engine, role, format, log, common.max_line.max(1))
}

/// Opens the window: on the start screen, or already started when a role was given.
#[cfg(feature = "gui")]
fn sockchat_gui(role: Option<Role>) -> i32 {
    let (start, log, present) = match role {
        None => (None, None, false),
        Some(Role::Server(s)) => match s.config() {
            Ok(cfg) => (Some(sockchat::gui::StartRequest::Server(cfg)), s.common.log, s.common.present),
            Err(e) => {
                eprintln!("sockchat: {e}");
                return 2;
            }
        },
        Some(Role::Client(c)) => {
            (Some(sockchat::gui::StartRequest::Client(c.config())), c.common.log, c.common.present)
        }
        Some(Role::Servers(a)) => return sockchat::servers::run(&a),
    };
    sockchat::gui::run(start, log, present)
}

#[cfg(not(feature = "gui"))]
fn sockchat_gui(_role: Option<Role>) -> i32 {
    eprintln!("sockchat: built without the window (feature `gui`); add --headless");
    2
}

/// Lines are allocated on reader threads and freed on the printing or GUI thread, so glibc's per-thread
/// arenas keep growing their heaps in small steps: ingest profiles showed `sysmalloc` and `mprotect` at ~8 %
/// of the readers' time. Growing 16 MiB at a time took ingest from 4.0 to 4.6 M lines/s (BENCHMARKS.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
