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
mod ingest;
mod relay;
mod rtt;
mod tls;
mod window;

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
    /// Connections one at a time, each timed until it could carry a line (with --tls: the handshake).
    Handshake(HandshakeArgs),
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
    /// Both servers serve TLS (`sockchat --tls`, `ncat --ssl`) with one certificate made for the run, and
    /// every client makes a TLS handshake, pinning it (ingest, relay, handshake).
    #[arg(long)]
    tls: bool,
}

#[derive(Args, Clone)]
struct HandshakeArgs {
    /// Connections, made one after another.
    #[arg(short = 'n', long, default_value_t = 200)]
    connections: usize,
    #[command(flatten)]
    common: Common,
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
        Mode::Ingest(a) => ingest::ingest(&a),
        Mode::Relay(a) => relay::relay(&a),
        Mode::Latency(a) => rtt::latency(&a),
        Mode::Rtt(a) => rtt::rtt(&a),
        Mode::Many(a) => ingest::many(&a),
        Mode::Handshake(a) => tls::handshake(&a),
        Mode::Window(a) => window::window(&a),
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

    /// `ncat -lk` (one-way: clients' bytes to stdout) or `ncat -l --chat` (room); `--ssl` with `tls`.
    fn ncat(
        port: u16,
        chat: bool,
        max_clients: usize,
        patterns: &[&str],
        tls: Option<&tls::Tls>,
    ) -> Res<Server> {
        let mut args: Vec<String> = vec!["-l".into()];
        args.extend(tls.map(tls::Tls::ncat_args).unwrap_or_default());
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

/// `--tls`: the certificate for this run, made once.
fn tls_for(c: &Common) -> Res<Option<tls::Tls>> {
    if c.tls { tls::Tls::new().map(Some) } else { Ok(None) }
}

/// The sockchat server's extra flags: `--server-arg`s and, with `--tls`, the certificate.
fn sockchat_extra(c: &Common, tls: Option<&tls::Tls>) -> Vec<String> {
    let mut v = c.server_args.clone();
    v.extend(tls.map(tls::Tls::sockchat_args).unwrap_or_default());
    v
}

type Halves = (Box<dyn Read + Send>, Box<dyn Write + Send>);

/// A client connection as a reading and a writing half (each for its own thread), over TLS with `tls`.
fn open(addr: SocketAddr, tls: Option<&tls::Tls>, read_timeout: Option<Duration>) -> Res<Halves> {
    open_at(addr, tls, read_timeout).map(|(_, h)| h)
}

/// [`open`], and the connection's local port (what a room server's relay label names).
fn open_at(addr: SocketAddr, tls: Option<&tls::Tls>, read_timeout: Option<Duration>) -> Res<(u16, Halves)> {
    let s = connect(addr)?;
    let _ = s.set_read_timeout(read_timeout);
    let port = s.local_addr().map(|a| a.port()).unwrap_or(0);
    Ok((
        port,
        match tls {
            Some(t) => {
                let (r, w) = t.handshake(s)?;
                (Box::new(r), Box::new(w))
            }
            None => (Box::new(s.try_clone().map_err(|e| format!("clone socket: {e}"))?), Box::new(s)),
        },
    ))
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
