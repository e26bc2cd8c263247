//! Load generator: measures sockchat (and ncat, on the same load) for BENCHMARKS.md.
//!
//! Every mode is bounded by `--timeout`, talks to 127.0.0.1 only, and stops the servers it started. Servers
//! are started as child processes with stdout piped into this tool, which is how it knows when a server has
//! printed every line. `latency` and `window` run the library in-process instead, because what they measure
//! (the engine's event channel, the transcript) has no wire to watch.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use memchr::memmem;

mod flood;

/// Every payload line starts with this, so output lines that carry a payload are easy to count.
const MARK: &str = "@ld@";

type Res<T> = Result<T, String>;

#[derive(Parser)]
#[command(
    name = "sockchat-load",
    about = "Load and latency measurements for sockchat vs ncat (see BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// C clients x K lines to a one-way server that prints them; msgs/s until all are printed.
    Ingest(LoadArgs),
    /// C clients x K lines into a room; every client reads the others' lines; deliveries/s, line integrity.
    Relay(LoadArgs),
    /// In-process: a TCP client writes a line, time until the engine's event channel yields the message.
    Latency(LatencyArgs),
    /// Wire round trip through a room server: client A writes, client B reads; p50/p99.
    Rtt(RttArgs),
    /// Many clients connected at once, each sends a few lines; server RSS.
    Many(LoadArgs),
    /// Memory per stored message in a transcript of N messages.
    Window(WindowArgs),
    /// One client floods while the server's output (or log) is read slowly: peak RSS, the flooder's
    /// rate, quiet clients' round trip, and how long Ctrl-C takes.
    Flood(flood::FloodArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Target {
    Sockchat,
    Ncat,
    /// sockchat then ncat, alternating per run, with the ratio of their medians.
    Both,
}

#[derive(Args, Clone)]
struct Common {
    #[arg(long, value_enum, default_value_t = Target::Both)]
    target: Target,
    /// Repetitions per target; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Give up on one run after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// The sockchat binary (default: next to this tool, rebuilt first when run through cargo).
    #[arg(long)]
    sockchat: Option<PathBuf>,
    /// One more argument for the sockchat server, repeatable: `--server-arg=--trace` measures the trace.
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    server_args: Vec<String>,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Clients.
    #[arg(short, long, default_value_t = 100)]
    clients: usize,
    /// Lines per client.
    #[arg(short, long, default_value_t = 10_000)]
    lines: usize,
    /// Bytes per line on the wire, newline included.
    #[arg(short = 'L', long, default_value_t = 64)]
    len: usize,
    /// relay: clients only count the payloads they receive, without checking them, so the figure shows the
    /// servers with as little client work as possible (integrity is not reported then).
    #[arg(long)]
    count_only: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Clone)]
struct LatencyArgs {
    /// Messages, sent one at a time (each waits for the previous one to arrive).
    #[arg(short, long, default_value_t = 10_000)]
    messages: usize,
    /// Unmeasured messages first.
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Through {
    /// Client A -> room server -> client B (`ncat -l --chat`).
    Room,
    /// Client -> duplex server, printed; this tool, as the person at the server, answers on its stdin
    /// -> the same client (`ncat -l`).
    Duplex,
}

#[derive(Args, Clone)]
struct RttArgs {
    #[arg(short, long, default_value_t = 10_000)]
    messages: usize,
    #[arg(long, value_enum, default_value_t = Through::Room)]
    through: Through,
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    #[command(flatten)]
    common: Common,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Store {
    /// `model::Transcript`, what the engine's events are as data.
    Model,
    /// The window's chat history (`gui::chat::ChatLog`), then its UI pass timed.
    Gui,
}

#[derive(Args, Clone)]
struct WindowArgs {
    #[arg(short, long, default_value_t = 1_000_000)]
    messages: usize,
    #[arg(long, value_enum, default_value_t = Store::Gui)]
    store: Store,
    /// Frames to time, idle and busy each (the first, which loads fonts, is reported apart).
    #[arg(long, default_value_t = 120)]
    frames: usize,
    /// Busy frames: messages arriving before each (100 at 60 frames/s is 6,000 msgs/s on screen).
    #[arg(long, default_value_t = 100)]
    per_frame: usize,
    /// Bytes of text per message.
    #[arg(short = 'L', long, default_value_t = 63)]
    len: usize,
}

fn main() {
    sockchat::model::init_local_offset();
    let cli = Cli::parse();
    let res = match cli.cmd {
        Mode::Ingest(a) => ingest(&a),
        Mode::Relay(a) => relay(&a),
        Mode::Latency(a) => latency(&a),
        Mode::Rtt(a) => rtt(&a),
        Mode::Many(a) => many(&a),
        Mode::Window(a) => window(&a),
        Mode::Flood(a) => flood::flood(&a),
    };
    if let Err(e) = res {
        eprintln!("sockchat-load: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Servers as child processes

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sockchat,
    Ncat,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sockchat => "sockchat",
            Kind::Ncat => "ncat",
        }
    }
}

fn kinds(t: Target, runs: usize) -> Vec<Kind> {
    let each: &[Kind] = match t {
        Target::Sockchat => &[Kind::Sockchat],
        Target::Ncat => &[Kind::Ncat],
        Target::Both => &[Kind::Sockchat, Kind::Ncat],
    };
    (0..runs.max(1)).flat_map(|_| each.iter().copied()).collect()
}

/// The sockchat binary to start; when run through `cargo load` it is rebuilt first so it matches the source.
fn sockchat_bin(c: &Common) -> Res<PathBuf> {
    if let Some(p) = &c.sockchat {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let bin = exe.with_file_name("sockchat");
    if let Some(cargo) = std::env::var_os("CARGO") {
        let release = exe.parent().and_then(|d| d.file_name()).is_some_and(|n| n == "release");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--bin", "sockchat"]);
        if release {
            cmd.arg("--release");
        }
        let st = cmd.status().map_err(|e| format!("cannot run cargo build: {e}"))?;
        if !st.success() {
            return Err("cargo build --bin sockchat failed".into());
        }
    }
    if !bin.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release` first or pass --sockchat",
            bin.display()
        ));
    }
    Ok(bin)
}

fn free_port() -> Res<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A server child whose stdout is counted: `counts[i]` is how many times `patterns[i]` has appeared.
struct Server {
    child: Child,
    /// Held open and never written: both servers would act on end of input.
    _stdin: Option<ChildStdin>,
    counts: Arc<Vec<AtomicU64>>,
    reader: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl Server {
    fn start(program: &PathBuf, args: &[String], port: u16, patterns: &[&str]) -> Res<Server> {
        Self::start_with(program, args, port, patterns, false)
    }

    /// With `operator`, this tool also plays the person at the server: every payload the server prints
    /// is answered at once on its stdin with `reply nNNNNNNN` (for `rtt --through duplex`).
    fn start_with(
        program: &PathBuf,
        args: &[String],
        port: u16,
        patterns: &[&str],
        operator: bool,
    ) -> Res<Server> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let counts: Arc<Vec<AtomicU64>> = Arc::new(patterns.iter().map(|_| AtomicU64::new(0)).collect());
        let pats: Vec<Vec<u8>> = patterns.iter().map(|p| p.as_bytes().to_vec()).collect();
        let c = counts.clone();
        let stdin = child.stdin.take();
        let (reply, keep) = if operator { (stdin, None) } else { (None, stdin) };
        let reader = std::thread::spawn(move || count_output(stdout, &pats, &c, reply));
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let srv = Server { _stdin: keep, child, counts, reader: Some(reader), addr };
        // Up once the port is in LISTEN state. Not probed with a connection: `ncat --chat` quits when a
        // client is gone before it asks for the client's address.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !listening(port) {
            if Instant::now() > deadline {
                return Err(format!("{} did not start listening on {}", program.display(), srv.addr));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(srv)
    }

    fn sockchat(
        bin: &PathBuf,
        port: u16,
        mode: &str,
        max_clients: usize,
        patterns: &[&str],
        extra: &[String],
    ) -> Res<Server> {
        let mut args = vec![
            "server".into(),
            format!("127.0.0.1:{port}"),
            "--mode".into(),
            mode.into(),
            "--headless".into(),
            "--room-rate".into(),
            "0".into(),
            "--room-byte-rate".into(),
            "0".into(),
            "--max-clients".into(),
            max_clients.to_string(),
            // Every load client comes from 127.0.0.1.
            "--max-per-address".into(),
            max_clients.min(65535).to_string(),
        ];
        args.extend(extra.iter().cloned());
        Self::start(bin, &args, port, patterns)
    }

    /// `ncat -lk` (one-way: clients' bytes to stdout) or `ncat -l --chat` (room).
    fn ncat(port: u16, chat: bool, max_clients: usize, patterns: &[&str]) -> Res<Server> {
        let mut args: Vec<String> = vec!["-l".into()];
        args.push(if chat { "--chat".into() } else { "-k".into() });
        args.extend(["-m".into(), max_clients.to_string(), "127.0.0.1".into(), port.to_string()]);
        Self::start(&PathBuf::from("ncat"), &args, port, patterns)
    }

    fn count(&self, i: usize) -> u64 {
        self.counts[i].load(Ordering::Relaxed)
    }

    /// Waits until pattern `i` has appeared `n` times; false at the deadline.
    fn wait_count(&self, i: usize, n: u64, deadline: Instant) -> bool {
        while self.count(i) < n {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// True when a socket listens on 127.0.0.1:`port` (state 0A in /proc/net/tcp).
fn listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| {
        t.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
    })
}

/// Counts patterns in whole output lines (a pattern never spans lines, so chunking cannot split one), and
/// with `reply`, answers each payload line on the server's stdin.
fn count_output(mut r: impl Read, pats: &[Vec<u8>], counts: &[AtomicU64], mut reply: Option<ChildStdin>) {
    let finders: Vec<memmem::Finder<'_>> = pats.iter().map(memmem::Finder::new).collect();
    let mut buf = vec![0u8; 1 << 20];
    let mut have = 0;
    loop {
        if have == buf.len() {
            have = 0; // one line longer than the buffer: not one of ours
        }
        let n = match r.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        have += n;
        let Some(last) = memchr::memrchr(b'\n', &buf[..have]) else { continue };
        let done = &buf[..=last];
        for (f, c) in finders.iter().zip(counts) {
            c.fetch_add(f.find_iter(done).count() as u64, Ordering::Relaxed);
        }
        if let Some(stdin) = &mut reply {
            let mut answers = Vec::new();
            for line in done.split(|b| *b == b'\n') {
                // The payload's sequence tag, ` nNNNNNNN `, after the mark.
                let Some(at) = memmem::find(line, MARK.as_bytes()) else { continue };
                let Some(t) = memmem::find(&line[at..], b" n") else { continue };
                let tag = &line[at + t + 1..];
                if tag.len() >= 8 {
                    answers.extend_from_slice(b"reply ");
                    answers.extend_from_slice(&tag[..8]);
                    answers.push(b'\n');
                }
            }
            if !answers.is_empty() && stdin.write_all(&answers).and_then(|()| stdin.flush()).is_err() {
                reply = None;
            }
        }
        buf.copy_within(last + 1..have, 0);
        have -= last + 1;
    }
}

/// `(VmRSS, VmHWM, Threads)` of a process, in KiB and threads.
fn proc_status(pid: u32) -> Option<(u64, u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let l = s.lines().find(|l| l.starts_with(name))?;
        l[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?, field("Threads:")?))
}

/// User + system CPU seconds a process has used (clock ticks at the usual 100 Hz).
fn proc_cpu(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / 100.0)
}

fn connect(addr: SocketAddr) -> Res<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// One payload line: `@ld@c00001 n0000042 xxxx...\n`, exactly `len` bytes.
fn payload_line(client: usize, seq: usize, len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    let _ = write!(out, "{MARK}c{client:05} n{seq:07} ");
    while out.len() - start < len.saturating_sub(1) {
        out.push(b'x');
    }
    out.push(b'\n');
}

/// A received payload's sender and sequence number, if the text is one whole payload line.
///
/// Parsed by position (`MARK c NNNNN nNNNNNNN xxx...`), without UTF-8 checks or searches: this runs on
/// every line every reader gets, and a slow check would measure this tool rather than the server.
fn parse_payload(text: &[u8], len: usize) -> Option<(usize, usize)> {
    let rest = text.strip_prefix(MARK.as_bytes())?.strip_prefix(b"c")?;
    if text.len() != len - 1 || rest.len() < 15 || &rest[5..7] != b" n" || rest[14] != b' ' {
        return None;
    }
    // No early exit, so the check runs 32 bytes at a time.
    if !rest[15..].iter().fold(true, |all, b| all & (*b == b'x')) {
        return None;
    }
    Some((digits(&rest[..5])?, digits(&rest[7..14])?))
}

/// A decimal number made of ASCII digits only.
fn digits(b: &[u8]) -> Option<usize> {
    b.iter().try_fold(0usize, |n, d| d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0')))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

/// Prints each target's median rate and, with both, sockchat's rate as a multiple of ncat's.
fn summary(unit: &str, results: &[(Kind, f64)]) {
    let mut med = Vec::new();
    for k in [Kind::Sockchat, Kind::Ncat] {
        let mut v: Vec<f64> = results.iter().filter(|r| r.0 == k).map(|r| r.1).collect();
        if !v.is_empty() {
            let n = v.len();
            let m = median(&mut v);
            println!("median {:>8}: {:>12.0} {unit} ({n} runs)", k.name(), m);
            med.push((k, m));
        }
    }
    if let [(_, s), (_, n)] = med[..] {
        println!("ratio sockchat/ncat: {:.2}", s / n);
    }
}

// ---------------------------------------------------------------------------------------------------------
// ingest

fn ingest(a: &LoadArgs) -> Res<()> {
    let bin = sockchat_bin(&a.common)?;
    let total = (a.clients * a.lines) as u64;
    println!(
        "ingest: {} clients x {} lines x {} bytes = {} msgs, {:.1} MB",
        a.clients,
        a.lines,
        a.len,
        total,
        (total as usize * a.len) as f64 / 1e6
    );
    let mut results = Vec::new();
    for kind in kinds(a.common.target, a.common.runs) {
        let port = free_port()?;
        // sockchat labels each line, so count payload lines; ncat copies bytes, so count newlines.
        let srv = match kind {
            Kind::Sockchat => {
                Server::sockchat(&bin, port, "one-way", a.clients + 16, &[MARK], &a.common.server_args)?
            }
            Kind::Ncat => Server::ncat(port, false, a.clients + 16, &["\n"])?,
        };
        let (wall, cpu, got) = ingest_once(&srv, a)?;
        let rate = got as f64 / wall;
        let ok = if got >= total { "" } else { "  INCOMPLETE (timeout)" };
        println!(
            "{:>8}: {:>7.3} s  {:>10.0} msgs/s  {:>7.1} MB/s  server cpu {:>5.2} s{ok}",
            kind.name(),
            wall,
            rate,
            rate * a.len as f64 / 1e6,
            cpu
        );
        if got >= total {
            results.push((kind, rate));
        }
    }
    summary("msgs/s", &results);
    Ok(())
}

/// Connects every client, releases them together, and times until the server has printed every line.
fn ingest_once(srv: &Server, a: &LoadArgs) -> Res<(f64, f64, u64)> {
    let total = (a.clients * a.lines) as u64;
    let streams: Vec<TcpStream> = (0..a.clients).map(|_| connect(srv.addr)).collect::<Res<_>>()?;
    let go = Arc::new(Barrier::new(a.clients + 1));
    let mut senders = Vec::new();
    for (i, mut s) in streams.into_iter().enumerate() {
        let go = go.clone();
        let (lines, len) = (a.lines, a.len);
        senders.push(std::thread::spawn(move || {
            let mut data = Vec::with_capacity(lines * len);
            for n in 0..lines {
                payload_line(i, n, len, &mut data);
            }
            go.wait();
            let start = Instant::now();
            let r = s.write_all(&data);
            (s, r, start)
        }));
    }
    let cpu0 = proc_cpu(srv.pid()).unwrap_or(0.0);
    go.wait();
    srv.wait_count(0, total, Instant::now() + Duration::from_secs(a.common.timeout));
    let end = Instant::now();
    let cpu = proc_cpu(srv.pid()).unwrap_or(0.0) - cpu0;
    let got = srv.count(0);
    // Timed from the first client's first write: after the barrier this thread may be scheduled late.
    let mut t0 = end;
    let mut streams = Vec::new();
    for h in senders {
        let (s, r, start) = h.join().map_err(|_| "sender thread panicked")?;
        r.map_err(|e| format!("send failed: {e}"))?;
        t0 = t0.min(start);
        streams.push(s);
    }
    Ok(((end - t0).as_secs_f64(), cpu, got))
}

// ---------------------------------------------------------------------------------------------------------
// relay

#[derive(Default, Debug)]
struct Integrity {
    /// Payload lines received.
    lines: u64,
    /// Payload lines not whole (cut, joined, or carrying a label in the middle).
    broken: u64,
    /// Whole lines whose label names another client.
    mislabeled: u64,
    /// Whole lines with no label at all (ncat labels each read chunk, so later lines of a chunk have none).
    unlabeled: u64,
    /// Lines from one sender that arrived out of its order.
    reordered: u64,
    /// Bytes the clients received, labels included.
    bytes: u64,
}

fn relay(a: &LoadArgs) -> Res<()> {
    let bin = sockchat_bin(&a.common)?;
    let deliveries = (a.clients * (a.clients - 1) * a.lines) as u64;
    println!(
        "relay: {} clients x {} lines x {} bytes = {} deliveries",
        a.clients, a.lines, a.len, deliveries
    );
    let mut results = Vec::new();
    for kind in kinds(a.common.target, a.common.runs) {
        let port = free_port()?;
        let srv = match kind {
            Kind::Sockchat => Server::sockchat(
                &bin,
                port,
                "room",
                a.clients + 16,
                &["* connected:"],
                &a.common.server_args,
            )?,
            Kind::Ncat => Server::ncat(port, true, a.clients + 16, &[])?,
        };
        let (wall, cpu, integ, done) = relay_once(kind, &srv, a)?;
        let rate = integ.lines as f64 / wall;
        let ok = if done { "" } else { "  INCOMPLETE (timeout or server closed a client)" };
        let checks = if a.count_only {
            "(counted only, not checked)".to_string()
        } else {
            format!(
                "broken {} mislabeled {} unlabeled {} reordered {}",
                integ.broken, integ.mislabeled, integ.unlabeled, integ.reordered
            )
        };
        println!(
            "{:>8}: {:>7.3} s  {:>10.0} deliveries/s  server cpu {:>5.2} s  clients cpu {:>5.2} s  {:>5.0} MB received  lines {} {checks}{ok}",
            kind.name(),
            wall,
            rate,
            cpu.server,
            cpu.clients,
            integ.bytes as f64 / 1e6,
            integ.lines,
        );
        if done {
            results.push((kind, rate));
        }
    }
    summary("deliveries/s", &results);
    Ok(())
}

/// CPU seconds used during a run, by the server and by this tool's clients.
struct Cpu {
    server: f64,
    clients: f64,
}

fn relay_once(kind: Kind, srv: &Server, a: &LoadArgs) -> Res<(f64, Cpu, Integrity, bool)> {
    let c = a.clients;
    let streams: Vec<TcpStream> = (0..c).map(|_| connect(srv.addr)).collect::<Res<_>>()?;
    let ports: Vec<u16> = streams.iter().map(|s| s.local_addr().map(|a| a.port()).unwrap_or(0)).collect();
    // Everyone must be in the room before anyone speaks, or early lines miss late joiners.
    let joined = Instant::now() + Duration::from_secs(10);
    match kind {
        Kind::Sockchat => {
            if !srv.wait_count(0, c as u64, joined) {
                return Err("not every client was admitted to the room".into());
            }
        }
        Kind::Ncat => std::thread::sleep(Duration::from_millis(500)),
    }
    let ports = Arc::new(ports);
    let go = Arc::new(Barrier::new(2 * c + 1));
    let mut handles = Vec::new();
    for (i, s) in streams.into_iter().enumerate() {
        let mut w = s.try_clone().map_err(|e| format!("clone socket: {e}"))?;
        let (go_w, go_r) = (go.clone(), go.clone());
        let (lines, len, timeout, count_only) = (a.lines, a.len, a.common.timeout, a.count_only);
        let ports = ports.clone();
        let sender = std::thread::spawn(move || {
            let mut data = Vec::with_capacity(lines * len);
            for n in 0..lines {
                payload_line(i, n, len, &mut data);
            }
            go_w.wait();
            let start = Instant::now();
            if let Err(e) = w.write_all(&data) {
                eprintln!("client {i}: send failed: {e}");
            }
            start
        });
        let reader = std::thread::spawn(move || {
            let _ = s.set_read_timeout(Some(Duration::from_secs(timeout)));
            go_r.wait();
            let want = ((c - 1) * lines) as u64;
            let deadline = Instant::now() + Duration::from_secs(timeout);
            let r = if count_only {
                count_relayed(s, want, deadline)
            } else {
                read_relayed(s, i, want, len, &ports, deadline)
            };
            (r, Instant::now())
        });
        handles.push((sender, reader));
    }
    let cpu0 = proc_cpu(srv.pid()).unwrap_or(0.0);
    go.wait();
    // Every payload is built before the barrier, so from here this tool's CPU is its clients' sending
    // and checking: what the server's lines cost the other side.
    let tool0 = proc_cpu(std::process::id()).unwrap_or(0.0);
    let mut integ = Integrity::default();
    let mut t0: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    let mut done = true;
    for (sender, reader) in handles {
        // Timed from the first client's first write to the last client's last line.
        let start = sender.join().map_err(|_| "sender thread panicked")?;
        t0 = Some(t0.map_or(start, |t| t.min(start)));
        let ((i, complete), end) = reader.join().map_err(|_| "reader thread panicked")?;
        integ.lines += i.lines;
        integ.broken += i.broken;
        integ.mislabeled += i.mislabeled;
        integ.unlabeled += i.unlabeled;
        integ.reordered += i.reordered;
        integ.bytes += i.bytes;
        done &= complete;
        last = Some(last.map_or(end, |t| t.max(end)));
    }
    let cpu = proc_cpu(srv.pid()).unwrap_or(0.0) - cpu0;
    let tool = proc_cpu(std::process::id()).unwrap_or(0.0) - tool0;
    let wall = match (t0, last) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => f64::NAN,
    };
    Ok((wall, Cpu { server: cpu, clients: tool }, integ, done))
}

/// The sender's port and the text of a sockchat relay line, `[from IP:PORT HOST NAME] TEXT`.
///
/// Parsed by hand rather than with `protocol::parse_relay`, whose allocations made this tool's readers
/// slower for sockchat than for ncat (and with byte searches, not searcher objects made per line: perf
/// showed those as this tool's top cost); the test below keeps the two in agreement.
fn relay_header(line: &[u8]) -> Option<(u16, &[u8])> {
    let rest = line.strip_prefix(b"[from ")?;
    let addr = &rest[..memchr::memchr(b' ', rest)?];
    // Host and name cannot hold `]` (PROTOCOL.md), so the first one after the address closes the header.
    let end = addr.len() + memchr::memchr(b']', &rest[addr.len()..])?;
    let text = rest[end + 1..].strip_prefix(b" ")?;
    let port = digits(&addr[memchr::memrchr(b':', addr)? + 1..])?;
    Some((u16::try_from(port).ok()?, text))
}

/// Reads until `want` payloads have arrived, counting them and nothing else (`--count-only`).
fn count_relayed(mut s: TcpStream, want: u64, deadline: Instant) -> (Integrity, bool) {
    let mut integ = Integrity::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut have = 0;
    let mark = memmem::Finder::new(MARK);
    while integ.lines < want && Instant::now() < deadline {
        let n = match s.read(&mut buf[have..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        have += n;
        integ.bytes += n as u64;
        // A mark split across reads is counted once: only whole lines are searched.
        let done = memchr::memrchr(b'\n', &buf[..have]).map_or(0, |p| p + 1);
        integ.lines += mark.find_iter(&buf[..done]).count() as u64;
        buf.copy_within(done..have, 0);
        have -= done;
        if have == buf.len() {
            have = 0;
        }
    }
    drop(s);
    let done = integ.lines >= want;
    (integ, done)
}

/// Reads until `want` payload lines have arrived, checking each: whole, labeled with its real sender, in order.
///
/// sockchat labels with `[from ADDR HOST NAME] `; ncat `--chat` with `<userN> `, where N is its file
/// descriptor, so for ncat a label is checked for naming the same client every time it appears.
fn read_relayed(
    mut s: TcpStream,
    me: usize,
    want: u64,
    len: usize,
    ports: &[u16],
    deadline: Instant,
) -> (Integrity, bool) {
    let mut integ = Integrity::default();
    let mut next_seq = vec![0usize; ports.len()];
    // Port -> client, by table: a search of the port list per line showed in this tool's profile.
    let mut client_of = vec![usize::MAX; 1 << 16];
    for (c, p) in ports.iter().enumerate() {
        client_of[usize::from(*p)] = c;
    }
    let mut ncat_labels: std::collections::HashMap<Vec<u8>, usize> = Default::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut have = 0;
    let mark = memmem::Finder::new(MARK);
    while integ.lines < want && Instant::now() < deadline {
        if have == buf.len() {
            have = 0;
        }
        let n = match s.read(&mut buf[have..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        have += n;
        integ.bytes += n as u64;
        let mut start = 0;
        while let Some(nl) = memchr::memchr(b'\n', &buf[start..have]) {
            let line = &buf[start..start + nl];
            start += nl + 1;
            let header = relay_header(line);
            // A payload right after the label (or at the start) is the common case; anything else is
            // searched for a payload anywhere, so a line broken by a mid-line label still counts.
            let at_start = header.map_or(line, |h| h.1).starts_with(MARK.as_bytes());
            if !at_start && mark.find(line).is_none() {
                continue; // announcements, server notes
            }
            integ.lines += 1;
            if me == 0 && integ.lines < 4 && std::env::var_os("SOCKCHAT_LOAD_DUMP").is_some() {
                eprintln!("client 0 got: {}", String::from_utf8_lossy(line));
            }
            let (label_ok, text) = if let Some((port, text)) = header {
                (Some(Some(client_of[usize::from(port)]).filter(|c| *c != usize::MAX)), text)
            } else if line.starts_with(b"<") {
                match memmem::find(line, b"> ") {
                    Some(p) => (None, &line[p + 2..]),
                    None => (Some(None), line),
                }
            } else {
                (Some(None), line)
            };
            let bare = label_ok == Some(None) && text.len() == line.len();
            let Some((sender, seq)) = parse_payload(text, len).filter(|(c, _)| *c < ports.len() && *c != me)
            else {
                integ.broken += 1;
                continue;
            };
            let named = match label_ok {
                Some(from) => from == Some(sender),
                None => {
                    let label = line[..line.len() - text.len()].to_vec();
                    *ncat_labels.entry(label).or_insert(sender) == sender
                }
            };
            if bare {
                integ.unlabeled += 1;
            } else if !named {
                integ.mislabeled += 1;
            }
            if seq != next_seq[sender] {
                integ.reordered += 1;
            }
            next_seq[sender] = seq + 1;
        }
        buf.copy_within(start..have, 0);
        have -= start;
    }
    // No shutdown here: this client's sender may not have written yet (its socket is shared), and a
    // shutdown would fail its write with a broken pipe. The socket closes when both halves are dropped.
    drop(s);
    let done = integ.lines >= want;
    if !done {
        let silent: Vec<usize> = (0..ports.len()).filter(|c| *c != me && next_seq[*c] == 0).collect();
        eprintln!("client {me}: got {} of {want} lines; nothing at all from clients {silent:?}", integ.lines);
    }
    (integ, done)
}

// ---------------------------------------------------------------------------------------------------------
// latency (in-process) and rtt (over the wire)

fn report_latency(what: &str, mut v: Vec<Duration>) {
    v.sort_unstable();
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)].as_secs_f64() * 1e6;
    let mean = v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64 * 1e6;
    println!(
        "{what}: n={} mean {:.1} us  p50 {:.1} us  p90 {:.1} us  p99 {:.1} us  p99.9 {:.1} us  max {:.1} us",
        v.len(),
        mean,
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.999),
        p(1.0)
    );
}

/// The path a window sees: socket -> reader thread -> decoder -> event channel, timed from the `write`.
fn latency(a: &LatencyArgs) -> Res<()> {
    use sockchat::engine::{Engine, Mode as SMode, ServerConfig};
    use sockchat::model::Event;
    let cfg = ServerConfig { addr: "127.0.0.1:0".into(), mode: SMode::Duplex, ..ServerConfig::default() };
    let eng = Engine::server(cfg, None);
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let rx = eng.events().clone();
    let next = |rx: &sockchat::engine::Events| {
        rx.recv_deadline(deadline).map_err(|_| "timed out waiting for an engine event".to_string())
    };
    let addr = loop {
        match next(&rx)? {
            Event::Listening { addr, .. } => break addr,
            Event::Error { text, fatal: true, .. } => return Err(text),
            _ => {}
        }
    };
    let mut s = connect(addr)?;
    let mut samples = Vec::with_capacity(a.messages);
    let mut line = Vec::new();
    for i in 0..a.warmup + a.messages {
        line.clear();
        payload_line(0, i, 64, &mut line);
        let want = std::str::from_utf8(&line[..line.len() - 1]).map_err(|e| e.to_string())?.to_string();
        let t0 = Instant::now();
        s.write_all(&line).map_err(|e| format!("write: {e}"))?;
        loop {
            if let Event::Message(m) = next(&rx)?
                && m.text == want
            {
                break;
            }
        }
        if i >= a.warmup {
            samples.push(t0.elapsed());
        }
    }
    drop(s);
    eng.stop();
    report_latency("engine latency (write -> Event::Message on the channel)", samples);
    Ok(())
}

/// Client A writes a line into a room, client B reads it back: both servers' relay path, end to end.
fn rtt(a: &RttArgs) -> Res<()> {
    let bin = sockchat_bin(&a.common)?;
    for kind in kinds(a.common.target, a.common.runs) {
        let port = free_port()?;
        let duplex = a.through == Through::Duplex;
        let srv = match (kind, duplex) {
            (Kind::Sockchat, false) => {
                Server::sockchat(&bin, port, "room", 16, &["* connected:"], &a.common.server_args)?
            }
            (Kind::Ncat, false) => Server::ncat(port, true, 16, &[])?,
            (Kind::Sockchat, true) => {
                let args: Vec<String> =
                    ["server", &format!("127.0.0.1:{port}"), "--mode", "duplex", "--headless"]
                        .map(String::from)
                        .into();
                Server::start_with(&bin, &args, port, &["* connected:"], true)?
            }
            (Kind::Ncat, true) => {
                let args: Vec<String> = ["-l", "127.0.0.1", &port.to_string()].map(String::from).into();
                Server::start_with(&PathBuf::from("ncat"), &args, port, &[], true)?
            }
        };
        let clients = if duplex { 1 } else { 2 };
        let mut tx = connect(srv.addr)?;
        let mut rx = if duplex {
            tx.try_clone().map_err(|e| format!("clone socket: {e}"))?
        } else {
            connect(srv.addr)?
        };
        match kind {
            Kind::Sockchat => {
                srv.wait_count(0, clients, Instant::now() + Duration::from_secs(10));
            }
            Kind::Ncat => std::thread::sleep(Duration::from_millis(300)),
        }
        let deadline = Instant::now() + Duration::from_secs(a.common.timeout);
        let _ = rx.set_read_timeout(Some(Duration::from_secs(a.common.timeout)));
        let mut samples = Vec::with_capacity(a.messages);
        let mut line = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut pending = Vec::new();
        let mark = memmem::Finder::new(MARK);
        for i in 0..a.warmup + a.messages {
            if Instant::now() > deadline {
                return Err(format!("{}: timed out after {i} messages", kind.name()));
            }
            line.clear();
            payload_line(0, i, 64, &mut line);
            let t0 = Instant::now();
            tx.write_all(&line).map_err(|e| format!("write: {e}"))?;
            // Wait for the line carrying this payload (or its answer); anything else is skipped.
            let tag = if duplex { format!("reply n{i:07}") } else { format!("n{i:07} ") };
            'got: loop {
                while let Some(nl) = memchr::memchr(b'\n', &pending) {
                    let l: Vec<u8> = pending.drain(..=nl).collect();
                    if (duplex || mark.find(&l).is_some()) && memmem::find(&l, tag.as_bytes()).is_some() {
                        break 'got;
                    }
                }
                let n = rx.read(&mut buf).map_err(|e| format!("{}: read: {e}", kind.name()))?;
                if n == 0 {
                    return Err(format!("{} closed the connection", kind.name()));
                }
                pending.extend_from_slice(&buf[..n]);
            }
            if i >= a.warmup {
                samples.push(t0.elapsed());
            }
        }
        let what = if duplex {
            "duplex round trip (client write -> server prints -> answer typed -> client read)"
        } else {
            "room round trip (A write -> B read)"
        };
        report_latency(&format!("{:>8} {what}", kind.name()), samples);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// many

fn many(a: &LoadArgs) -> Res<()> {
    let bin = sockchat_bin(&a.common)?;
    let total = (a.clients * a.lines) as u64;
    println!("many: {} clients at once, {} lines each", a.clients, a.lines);
    for kind in kinds(a.common.target, a.common.runs) {
        let port = free_port()?;
        let srv = match kind {
            Kind::Sockchat => Server::sockchat(
                &bin,
                port,
                "one-way",
                a.clients + 16,
                &[MARK, "* connected:"],
                &a.common.server_args,
            )?,
            Kind::Ncat => Server::ncat(port, false, a.clients + 16, &["\n"])?,
        };
        let deadline = Instant::now() + Duration::from_secs(a.common.timeout);
        let t0 = Instant::now();
        let mut streams = Vec::with_capacity(a.clients);
        for i in 0..a.clients {
            streams.push(
                connect(srv.addr).map_err(|e| format!("client {i}: {e} (is `ulimit -n` high enough?)"))?,
            );
        }
        match kind {
            Kind::Sockchat => {
                if !srv.wait_count(1, a.clients as u64, deadline) {
                    return Err(format!("only {} of {} clients admitted", srv.count(1), a.clients));
                }
            }
            Kind::Ncat => std::thread::sleep(Duration::from_millis(500)),
        }
        let connected = t0.elapsed().as_secs_f64();
        let idle = proc_status(srv.pid());
        let t1 = Instant::now();
        let mut line = Vec::new();
        for n in 0..a.lines {
            for (i, s) in streams.iter_mut().enumerate() {
                line.clear();
                payload_line(i, n, a.len, &mut line);
                s.write_all(&line).map_err(|e| format!("client {i}: write: {e}"))?;
            }
        }
        let all = srv.wait_count(0, total, deadline);
        let sent = t1.elapsed().as_secs_f64();
        let busy = proc_status(srv.pid());
        let kb = |v: Option<(u64, u64, u64)>| {
            v.map_or("?".to_string(), |(r, h, t)| {
                format!("RSS {:.1} MB (peak {:.1} MB), {t} threads", r as f64 / 1024.0, h as f64 / 1024.0)
            })
        };
        println!(
            "{:>8}: {} connected in {:.2} s; idle: {}; after {} lines {} in {:.2} s: {}",
            kind.name(),
            a.clients,
            connected,
            kb(idle),
            srv.count(0),
            if all { "all delivered" } else { "NOT all delivered" },
            sent,
            kb(busy)
        );
        drop(streams);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// window

fn rss_kib() -> u64 {
    proc_status(std::process::id()).map_or(0, |s| s.0)
}

/// Memory per stored message, and with `--store gui` the time of the window's UI pass over that history.
///
/// One store per run: memory freed by a first store would be reused by a second and hide its growth.
fn window(a: &WindowArgs) -> Res<()> {
    use sockchat::model::{Event, Message, Origin, Peer, Transcript, now};
    let peers: Vec<Arc<Peer>> = (0..100u16)
        .map(|i| {
            let mut p = Peer::new(u64::from(i), ([127, 0, 0, 1], 40000 + i).into());
            p.host = Some("localhost".into());
            Arc::new(p)
        })
        .collect();
    let time = now();
    let mut line = Vec::new();
    let mut make = |i: usize| -> Res<Event> {
        line.clear();
        payload_line(i % 100, i, a.len + 1, &mut line);
        line.pop();
        let text = String::from_utf8(line.clone()).map_err(|e| e.to_string())?;
        let origin = Origin::Remote { from: peers[i % 100].clone(), relayed: false };
        Ok(Event::Message(Message { seq: i as u64, time, origin, text, truncated: false }))
    };
    let before = rss_kib();
    let t0 = Instant::now();
    let report = |what: &str, n: usize, fill: Duration| {
        let grown = rss_kib().saturating_sub(before);
        println!(
            "{what}: {n} messages of {} bytes stored in {:.2} s; RSS +{:.1} MB = {:.0} bytes per message",
            a.len,
            fill.as_secs_f64(),
            grown as f64 / 1024.0,
            (grown * 1024) as f64 / n as f64
        );
    };
    match a.store {
        Store::Model => {
            let mut t = Transcript::new();
            for i in 0..a.messages {
                t.push(make(i)?);
            }
            report("model::Transcript", t.message_count(), t0.elapsed());
        }
        #[cfg(feature = "gui")]
        Store::Gui => {
            // The window keeps 200,000 lines (`HistoryLimit`); lifted here, so the figures are for a history
            // five times longer than it keeps, as before the bound.
            let unbounded = sockchat::gui::chat::HistoryLimit { entries: usize::MAX, text_bytes: usize::MAX };
            let mut log = sockchat::gui::chat::ChatLog::with_limit(unbounded);
            let none = |_| None;
            for i in 0..a.messages {
                log.push(make(i)?, &none);
            }
            report("gui::chat::ChatLog (the window's history)", log.len(), t0.elapsed());
            let mut i = a.messages;
            let mut more = |log: &mut sockchat::gui::chat::ChatLog| {
                if let Ok(ev) = make(i) {
                    log.push(ev, &none);
                }
                i += 1;
            };
            ui_pass(&mut log, a.frames, a.per_frame, &mut more);
        }
        #[cfg(not(feature = "gui"))]
        Store::Gui => return Err("built without the gui feature".into()),
    }
    Ok(())
}

/// Frames of the chat view on a headless egui context, following the bottom as the window does: idle
/// frames (layouts cached), busy frames (`per_frame` new messages before each), and resizes (rewrap).
#[cfg(feature = "gui")]
fn ui_pass(
    log: &mut sockchat::gui::chat::ChatLog,
    frames: usize,
    per_frame: usize,
    more: &mut dyn FnMut(&mut sockchat::gui::chat::ChatLog),
) {
    let ctx = egui::Context::default();
    let mut f = 0;
    let mut frame = |log: &mut sockchat::gui::chat::ChatLog, width: f32| {
        f += 1;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(width, 800.0))),
            time: Some(f64::from(f) / 60.0),
            ..Default::default()
        };
        let t0 = Instant::now();
        let out = ctx.run_ui(input, |ui| log.show(ui));
        let t1 = Instant::now();
        let shapes = out.shapes.len();
        let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
        let t2 = Instant::now();
        let verts: usize = prims
            .iter()
            .map(|p| match &p.primitive {
                egui::epaint::Primitive::Mesh(m) => m.vertices.len(),
                egui::epaint::Primitive::Callback(_) => 0,
            })
            .sum();
        (t1 - t0, t2 - t1, shapes, verts)
    };
    let (first, _, _, _) = frame(log, 1280.0);
    println!("first frame (fonts loaded, rows rewrapped to the view): {:.2} ms", first.as_secs_f64() * 1e3);
    for busy in [false, true] {
        let (mut pass, mut tess) = (Vec::new(), Vec::new());
        let mut last = (0, 0);
        for _ in 0..frames.max(1) {
            if busy {
                for _ in 0..per_frame {
                    more(log);
                }
            }
            let (p, t, shapes, verts) = frame(log, 1280.0);
            pass.push(p);
            tess.push(t);
            last = (shapes, verts);
        }
        let what =
            if busy { format!("busy, {per_frame} new messages per frame") } else { "idle".to_string() };
        println!("{what}: {} shapes, {} vertices per frame (visible rows only)", last.0, last.1);
        report_latency(&format!("  UI pass ({what})"), pass);
        report_latency(&format!("  tessellation ({what})"), tess);
    }
    let (resize, _, _, _) = frame(log, 1000.0);
    println!("resize frame, 1280 -> 1000 px (rows still fit): {:.2} ms", resize.as_secs_f64() * 1e3);
    // The worst case: every row is wider than the view, so every row is built and wrapped.
    let (narrow, _, _, _) = frame(log, 600.0);
    println!("resize frame, 1000 -> 600 px (every row wraps): {:.2} ms", narrow.as_secs_f64() * 1e3);
    let (back, _, _, _) = frame(log, 1280.0);
    println!("resize frame, 600 -> 1280 px (every row unwraps): {:.2} ms", back.as_secs_f64() * 1e3);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_header_agrees_with_the_protocol() {
        let mut p = sockchat::model::Peer::new(1, "127.0.0.1:4321".parse().expect("addr"));
        p.host = Some("localhost".into());
        let line = sockchat::protocol::relay_line(&p, "@ld@c00001 n0000002 xx");
        let r = sockchat::protocol::parse_relay(&line).expect("relay line");
        assert_eq!(relay_header(line.as_bytes()), Some((r.addr.port(), r.text.as_bytes())));
        assert_eq!(parse_payload(r.text.as_bytes(), 23), Some((1, 2)));
        assert_eq!(relay_header(b"<user5> @ld@c00001"), None);
        let mut v6 = sockchat::model::Peer::new(2, "[::1]:4322".parse().expect("addr"));
        v6.name = Some("ann".into());
        let line = sockchat::protocol::relay_line(&v6, "@ld@c00003 n0000004 x");
        assert_eq!(relay_header(line.as_bytes()), Some((4322, &b"@ld@c00003 n0000004 x"[..])));
        assert_eq!(parse_payload(b"@ld@c00003 n0000004 x", 22), Some((3, 4)));
        assert_eq!(parse_payload(b"@ld@c00003 n0000004 y", 22), None);
        assert_eq!(parse_payload(b"@ld@c0000a n0000004 x", 22), None);
        assert_eq!(parse_payload(b"@ld@c00003 n0000004 x", 23), None);
    }
}
