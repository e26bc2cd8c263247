//! `flood`: what one student flooding the server costs the person running it.
//!
//! One client writes 64-byte lines as fast as the server takes them, while the server's output is read at
//! a fixed slow rate (a slow terminal, a pipe into a slow program) or, with `--output log`, while its
//! `--log` file is a FIFO read at that rate. Reported per run: the server's peak memory, the flooder's
//! rate (which a bounded server holds to what the output takes), the room round trip of two quiet clients
//! during the flood (sockchat only: `ncat -lk` relays nothing), and how long Ctrl-C takes to end it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::{Common, Kind, Res, connect, free_port, kinds, listening, proc_status, sockchat_bin};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
pub enum Output {
    /// Text on stdout, read slowly.
    Text,
    /// `--json` on stdout, read slowly (ncat: its plain output).
    Json,
    /// `--log FIFO` read slowly, stdout read at full speed (ncat: `-o FIFO`).
    Log,
}

#[derive(Args, Clone)]
pub struct FloodArgs {
    /// Seconds the flood lasts.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Bytes per second the slow output is read at.
    #[arg(long, default_value_t = 1_000_000)]
    rate: usize,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    common: Common,
}

/// Bytes per flooded line, newline included.
const LINE: usize = 64;

/// Reads `from` at about `rate` bytes a second until it ends.
fn read_at(from: impl Read + Send + 'static, rate: usize) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(from);
        let tick = Duration::from_millis(20);
        let mut buf = vec![0u8; (rate / 50).max(1)];
        let mut next = Instant::now();
        // Pacing: each tick takes at most one buffer's worth.
        while matches!(r.read(&mut buf), Ok(n) if n > 0) {
            next += tick;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    });
}

struct Run {
    peak_kib: u64,
    flood_bytes: u64,
    secs: f64,
    rtt: Vec<Duration>,
    stop: Option<Duration>,
    note: String,
}

fn start(kind: Kind, a: &FloodArgs, port: u16, fifo: &Path) -> Res<Child> {
    let mut cmd = match kind {
        Kind::Sockchat => {
            let mut c = Command::new(sockchat_bin(&a.common)?);
            c.args([
                "server",
                &format!("127.0.0.1:{port}"),
                "--mode",
                "room",
                "--room-rate",
                "0",
                "--headless",
            ]);
            match a.output {
                Output::Text => {}
                Output::Json => {
                    c.arg("--json");
                }
                Output::Log => {
                    c.arg("--log").arg(fifo);
                }
            }
            c
        }
        Kind::Ncat => {
            let mut c = Command::new("ncat");
            c.args(["-lk", "127.0.0.1", &port.to_string()]);
            if a.output == Output::Log {
                c.arg("-o").arg(fifo);
            }
            c
        }
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {kind:?}: {e}"))?;
    if a.output == Output::Log {
        // Opening a FIFO for reading waits for its writer, which the server is.
        let (path, rate) = (fifo.to_path_buf(), a.rate);
        std::thread::spawn(move || {
            if let Ok(f) = std::fs::File::open(path) {
                read_at(f, rate);
            }
        });
    }
    let stdout = child.stdout.take().ok_or("no stdout")?;
    read_at(stdout, if a.output == Output::Log { 1 << 30 } else { a.rate });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listening(port) {
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("{kind:?} did not start listening"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child)
}

fn flood_once(kind: Kind, a: &FloodArgs, fifo: &Path) -> Res<Run> {
    let port = free_port()?;
    let mut child = start(kind, a, port, fifo)?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let flooder = {
        let mut s = connect(addr)?;
        let (stop, written) = (stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut chunk = Vec::new();
            for i in 0..1024u64 {
                let _ = writeln!(chunk, "n{i:010} {}", "x".repeat(LINE - 13));
            }
            let _ = s.set_write_timeout(Some(Duration::from_millis(100)));
            while !stop.load(Ordering::Relaxed) {
                match s.write(&chunk) {
                    Ok(n) => {
                        written.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                }
            }
        })
    };
    // Two quiet clients: `a` says a line every 50 ms, `b` times its relay (sockchat's room only).
    let mut rtt = Vec::new();
    let t0 = Instant::now();
    let mut peak = 0;
    let quiet = match kind {
        Kind::Sockchat => {
            let qa = connect(addr)?;
            let mut drain = qa.try_clone().map_err(|e| e.to_string())?;
            std::thread::spawn(move || std::io::copy(&mut drain, &mut std::io::sink()));
            let qb = connect(addr)?;
            let _ = qb.set_read_timeout(Some(Duration::from_secs(1)));
            Some((qa, BufReader::new(qb)))
        }
        Kind::Ncat => None,
    };
    let mut quiet = quiet;
    let mut i = 0u64;
    let mut lost = None;
    let mut missed = 0u64;
    while t0.elapsed() < Duration::from_secs(a.secs) {
        if let Some((qa, qb)) = &mut quiet {
            let sent = Instant::now();
            let mut ok = qa.write_all(format!("ping {i}\n").as_bytes()).is_ok();
            let want = format!("] ping {i}\n");
            let mut line = String::new();
            let mut seen = false;
            // A ping said before the server has admitted `b` is never relayed to it: give up on one after a
            // while and count it, rather than wait for ever.
            while ok && !seen && sent.elapsed() < Duration::from_secs(5) {
                line.clear();
                match qb.read_line(&mut line) {
                    Ok(0) => ok = false,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => ok = false,
                    Ok(_) => seen = line.ends_with(&want),
                }
            }
            if ok {
                if seen {
                    rtt.push(sent.elapsed());
                } else {
                    missed += 1;
                }
                i += 1;
            } else {
                // Closed by the server as not reading (the flood relayed faster than it could read), or
                // reset: the flood goes on, measured without it.
                lost = Some(t0.elapsed());
                quiet = None;
            }
        }
        peak = peak.max(proc_status(pid).map_or(0, |s| s.0));
        std::thread::sleep(Duration::from_millis(50));
    }
    let secs = t0.elapsed().as_secs_f64();
    let flood_bytes = written.load(Ordering::Relaxed);
    peak = peak.max(proc_status(pid).map_or(0, |s| s.1));
    let asked = Instant::now();
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    let mut stop_took = None;
    while asked.elapsed() < Duration::from_secs(20) {
        if matches!(child.try_wait(), Ok(Some(_))) {
            stop_took = Some(asked.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    stop.store(true, Ordering::Relaxed);
    let _ = flooder.join();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let mut note = err.lines().last().unwrap_or("").to_string();
    if missed > 0 {
        note = format!("{missed} pings never came back; {note}");
    }
    if let Some(t) = lost {
        note = format!("quiet client lost its connection after {:.1} s; {note}", t.as_secs_f64());
    }
    Ok(Run { peak_kib: peak, flood_bytes, secs, rtt, stop: stop_took, note })
}

pub fn flood(a: &FloodArgs) -> Res<()> {
    println!(
        "flood: one client, {LINE}-byte lines, {} s; {:?} output read at {} B/s",
        a.secs, a.output, a.rate
    );
    let dir = std::env::temp_dir().join(format!("sockchat-load-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let fifo: PathBuf = dir.join("log.fifo");
    for kind in kinds(a.common.target, a.common.runs) {
        if kind == Kind::Ncat && a.output == Output::Json {
            continue;
        }
        let _ = std::fs::remove_file(&fifo);
        if a.output == Output::Log {
            let ok = Command::new("mkfifo").arg(&fifo).status().map_err(|e| format!("mkfifo: {e}"))?;
            if !ok.success() {
                return Err("mkfifo failed".into());
            }
        }
        let r = flood_once(kind, a, &fifo)?;
        let mut rtt = r.rtt.clone();
        rtt.sort();
        let pct = |p: f64| rtt.get(((rtt.len() as f64 * p) as usize).min(rtt.len().saturating_sub(1)));
        let ms =
            |d: Option<&Duration>| d.map_or("-".to_string(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3));
        println!(
            "{:>8}: peak RSS {:>6.1} MB  flooder {:>7.2} MB/s  quiet round trip p50 {} max {}  Ctrl-C {}  {}",
            kind.name(),
            r.peak_kib as f64 / 1024.0,
            r.flood_bytes as f64 / r.secs / 1e6,
            ms(pct(0.5)),
            ms(rtt.last()),
            r.stop.map_or("did not exit".to_string(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3)),
            r.note
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
