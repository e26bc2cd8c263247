//! File descriptors: how many clients the process can hold, and saying so.
//!
//! Each client holds one descriptor, shared by its reader and writer threads (it held three, a clone for
//! each thread, until the socket-call trace wanted the one fd `server.c` shows). Many systems start programs with a soft limit of 1,024 or less although the hard limit allows far more;
//! under `ulimit -n 64` only 19 clients fitted and every further `accept` failed. So the server raises the
//! soft limit to the hard one at start, says what that allows, and reports a shortage at most once a second.

use std::time::{Duration, Instant};

use crate::model::FdRoom;

/// Descriptors one client holds.
pub const FDS_PER_CLIENT: u64 = 1;

/// Descriptors kept out of the count for everything else the process opens later: the log file, name
/// lookups, accepting a connection only to refuse it, a file dialog.
const SPARE: u64 = 16;

/// Clients that fit in `limit` descriptors when `open` are already in use.
pub fn clients_for(limit: u64, open: u64) -> u64 {
    limit.saturating_sub(open.saturating_add(SPARE)) / FDS_PER_CLIENT
}

/// Raises the soft open-file limit as far as the platform allows, and says how many clients fit in it.
/// `None` where the limit cannot be read.
#[cfg(unix)]
pub fn raise() -> Option<FdRoom> {
    let before = get()?;
    let target = ceiling(before.rlim_max);
    let mut raised_from = None;
    if before.rlim_cur < target {
        let want = libc::rlimit { rlim_cur: target, rlim_max: before.rlim_max };
        // SAFETY: setrlimit reads the struct we pass and changes only this process's limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            raised_from = Some(wide(before.rlim_cur));
        }
    }
    let now = get()?.rlim_cur;
    // Unlimited is u64::MAX in FdRoom whatever the platform spells it as (macOS: i64::MAX).
    let (limit, clients) = if now == libc::RLIM_INFINITY {
        (u64::MAX, u64::MAX)
    } else {
        (wide(now), clients_for(wide(now), open_now()))
    };
    Some(FdRoom { limit, raised_from, clients })
}

#[cfg(not(unix))]
pub fn raise() -> Option<FdRoom> {
    None
}

/// `rlim_t` is u64 on Linux and macOS but signed on some BSDs, whose "unlimited" is its maximum.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn wide(v: libc::rlim_t) -> u64 {
    v as u64
}

#[cfg(unix)]
fn get() -> Option<libc::rlimit> {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0).then_some(r)
}

/// The highest soft limit setrlimit takes: the hard limit, except on macOS, which refuses more than
/// `kern.maxfilesperproc` (and reports an unlimited hard limit).
#[cfg(all(unix, not(target_os = "macos")))]
fn ceiling(hard: libc::rlim_t) -> libc::rlim_t {
    hard
}

#[cfg(target_os = "macos")]
fn ceiling(hard: libc::rlim_t) -> libc::rlim_t {
    let mut per_proc: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>();
    // SAFETY: the name is NUL-terminated; the kernel writes at most `len` bytes into `per_proc`.
    let ok = unsafe {
        libc::sysctlbyname(
            c"kern.maxfilesperproc".as_ptr(),
            (&raw mut per_proc).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    } == 0;
    // OPEN_MAX (10240) is what older releases accept when the sysctl cannot be read.
    let cap = if ok && per_proc > 0 { per_proc as libc::rlim_t } else { 10_240 };
    hard.min(cap)
}

/// Descriptors open now, counted in /dev/fd (Linux and macOS); a small guess elsewhere.
#[cfg(unix)]
fn open_now() -> u64 {
    std::fs::read_dir("/dev/fd").map_or(8, |d| d.count() as u64)
}

/// Whether an `accept` error means the process or the system is out of descriptors.
pub fn is_shortage(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Lets one report through per `period`; counts what it holds back, so the next report can say how many.
/// The clock is passed in, so the rule is tested without waiting.
#[derive(Debug)]
pub struct Throttle {
    period: Duration,
    last: Option<Instant>,
    held: u64,
}

impl Throttle {
    pub fn new(period: Duration) -> Self {
        Throttle { period, last: None, held: 0 }
    }

    /// `Some(n)` when this occurrence is to be reported, `n` being how many were held back since the last
    /// report; `None` when it is held back.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|t| now.saturating_duration_since(t) < self.period) {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortage_is_reported_once_a_period_with_what_was_held_back() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut th = Throttle::new(Duration::from_secs(1));
        // Ten failures a second (the old 100 ms back-off) for 2.5 s: three reports, not 25.
        let reports: Vec<(u64, u64)> =
            (0..25).filter_map(|i| th.hit(ms(i * 100)).map(|held| (i * 100, held))).collect();
        assert_eq!(reports, [(0, 0), (1000, 9), (2000, 9)]);
        // After a quiet spell the next one goes out at once, with what was held since the last report.
        assert_eq!(th.hit(ms(9000)), Some(4));
        assert_eq!(th.hit(ms(9001)), None);
    }

    #[test]
    fn clients_are_counted_one_descriptor_each_after_what_is_open() {
        assert_eq!(clients_for(64, 8), 64 - 8 - SPARE);
        assert_eq!(clients_for(10, 8), 0);
        assert_eq!(clients_for(u64::MAX, u64::MAX), 0);
    }

    #[cfg(unix)]
    #[test]
    fn raising_leaves_the_soft_limit_at_the_ceiling() {
        let room = raise().expect("getrlimit works on unix");
        let now = get().unwrap();
        assert_eq!(wide(now.rlim_cur), room.limit);
        assert_eq!(now.rlim_cur, ceiling(now.rlim_max));
        assert!(room.clients > 0);
    }
}
