//! One student flooding the server: memory stays bounded whatever the output does, the flooder is slowed
//! down by TCP instead of being buffered, nothing is lost or reordered, the others keep chatting, and a
//! stop is prompt. Loopback only; every flood is bounded in bytes and time.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Raw, WAIT, server_with, wait_for};
use sockchat::engine::{Mode, READER_BYTES, ServerConfig};
use sockchat::model::{Event, Origin};

const BIN: &str = env!("CARGO_BIN_EXE_sockchat");
/// Each flooded line: a number and padding, 64 bytes with its newline.
const LINE: usize = 64;
/// Far more than a server that buffered everything would need to show it: a flood stops here at most.
const FLOOD_CAP: u64 = 1 << 30;

fn numbered(i: u64) -> String {
    format!("n{i:010} {}\n", "x".repeat(LINE - 13))
}

/// A client writing numbered lines as fast as the server takes them, until told to stop.
struct Flooder {
    stop: Arc<AtomicBool>,
    /// Bytes written so far.
    written: Arc<AtomicU64>,
    /// Gets one message the first time a write waits (the server stopped reading) for 300 ms.
    stalled: crossbeam_channel::Receiver<u64>,
    thread: JoinHandle<u64>,
}

impl Flooder {
    fn start(addr: SocketAddr) -> Flooder {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let (tx, stalled) = crossbeam_channel::bounded(1);
        let (s, w) = (stop.clone(), written.clone());
        let thread = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream.set_write_timeout(Some(Duration::from_millis(300))).expect("timeout");
            let mut next = 0u64;
            let mut chunk = Vec::new();
            let mut sent_in_chunk = 0;
            let started = Instant::now();
            while !s.load(Ordering::SeqCst)
                && w.load(Ordering::SeqCst) < FLOOD_CAP
                && started.elapsed() < WAIT
            {
                if sent_in_chunk == chunk.len() {
                    chunk.clear();
                    sent_in_chunk = 0;
                    for _ in 0..1024 {
                        chunk.extend_from_slice(numbered(next).as_bytes());
                        next += 1;
                    }
                }
                match stream.write(&chunk[sent_in_chunk..]) {
                    Ok(n) => {
                        sent_in_chunk += n;
                        w.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        let _ = tx.try_send(w.load(Ordering::SeqCst));
                    }
                    // The server went away (the tests that stop it): the flood is over.
                    Err(_) => return w.load(Ordering::SeqCst) / LINE as u64,
                }
            }
            // Finish the chunk begun, so every line sent is whole.
            // Bounded: a stopped server's socket may sit in FIN-WAIT-2 with a closed window, not reset.
            stream.set_write_timeout(Some(Duration::from_secs(2))).expect("timeout");
            if stream.write_all(&chunk[sent_in_chunk..]).is_ok() {
                w.fetch_add((chunk.len() - sent_in_chunk) as u64, Ordering::SeqCst);
            }
            // Every line is `LINE` bytes: what was written whole.
            w.load(Ordering::SeqCst) / LINE as u64
        });
        Flooder { stop, written, stalled, thread }
    }

    /// Stops writing; returns how many whole lines were sent.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("flooder")
    }
}

/// With nobody taking the server's events, a flooder is held back by TCP after a bounded amount; a quiet
/// client's line then comes out after little of the flood; and once the events are taken every flooded
/// line arrives, whole, in order, none missing.
#[test]
fn a_flooder_is_slowed_down_not_buffered_and_loses_nothing() {
    let cfg = ServerConfig { addr: "127.0.0.1:0".into(), mode: Mode::OneWay, ..ServerConfig::default() };
    let (engine, addr) = server_with(cfg);
    let ev = engine.events();
    let flood = Flooder::start(addr);
    wait_for(ev, |e| matches!(e, Event::Connected { .. }));
    let at_stall =
        flood.stalled.recv_timeout(WAIT).expect("the flooder is held back while nobody reads events");
    // What the server took: its share of the event queue, the read buffer and the sockets' buffers (a few
    // MB on Linux); a server that buffered everything takes the whole flood.
    assert!(at_stall < 64 << 20, "the server took {at_stall} bytes before holding the flooder back");
    assert!(engine.queued_bytes() <= 2 * READER_BYTES, "queued: {}", engine.queued_bytes());

    let mut quiet = Raw::connect(addr);
    quiet.send(b"hello from the quiet one\n");
    // The quiet line waits behind at most the flooder's share of the queue, not behind the flood.
    let mut flooded_before = 0u64;
    let mut expect = 0u64;
    let quiet_port = quiet.local().port();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the quiet line did not arrive");
        let Ok(Event::Message(m)) = ev.recv_timeout(WAIT) else { continue };
        let Origin::Remote { from, .. } = &m.origin else { continue };
        if from.addr.port() == quiet_port {
            assert_eq!(m.text, "hello from the quiet one");
            break;
        }
        assert_eq!(m.text, numbered(expect).trim_end(), "flooded lines in order, none missing");
        expect += 1;
        flooded_before += 1;
    }
    let bound = (4 * READER_BYTES / LINE) as u64 + 2048;
    assert!(
        flooded_before < bound,
        "{flooded_before} flooded lines came before the quiet one (bound {bound})"
    );

    let sent = flood.finish();
    while expect < sent {
        match ev.recv_timeout(WAIT) {
            Ok(Event::Message(m)) => {
                assert_eq!(m.text, numbered(expect).trim_end(), "flooded lines in order, none missing");
                expect += 1;
            }
            Ok(_) => {}
            Err(e) => panic!("only {expect} of {sent} flooded lines arrived: {e}"),
        }
    }
    engine.stop();
}

/// A stop does not wait for a user who is not taking events: the readers held back give up, and the lines
/// they held are counted as not shown.
#[test]
fn stop_is_prompt_while_a_flooder_is_held_back() {
    let cfg = ServerConfig { addr: "127.0.0.1:0".into(), mode: Mode::Room, ..ServerConfig::default() };
    let (engine, addr) = server_with(cfg);
    let flood = Flooder::start(addr);
    flood.stalled.recv_timeout(WAIT).expect("the flooder is held back while nobody reads events");
    let ev = engine.events().clone();
    engine.request_stop();
    // Every engine thread ends (the channel closes) though the queue was full and nobody drained it.
    let mut shown = 0u64;
    let deadline = Instant::now() + WAIT;
    loop {
        match ev.recv_deadline(deadline) {
            Ok(Event::Message(_)) => shown += 1,
            Ok(_) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("the engine did not end: {e}"),
        }
    }
    assert!(engine.lines_not_shown() > 0, "the held-back reader's lines are counted ({shown} shown)");
    let _ = flood.finish();
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reads `from` at about `rate` bytes a second (a slow terminal or a pipe into a slow program), passing
/// on the first line, which names the listening address.
fn slow_reader(from: impl Read + Send + 'static, rate: usize) -> crossbeam_channel::Receiver<String> {
    let (tx, first) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut r = BufReader::new(from);
        let mut line = String::new();
        if r.read_line(&mut line).is_ok() {
            let _ = tx.send(line);
        }
        let mut buf = vec![0u8; rate / 50];
        // The pause sets the pace; it synchronises nothing.
        while matches!(r.read(&mut buf), Ok(n) if n > 0) {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    first
}

/// The documented bound on a flooded server's memory, with room for the process's own (under 10 MB).
const RSS_BOUND_KIB: u64 = 100 * 1024;

/// A `sockchat server --headless` whose output (and, with `log_fifo`, its log) is read at 1 MB/s while one
/// client floods: its memory stays under the bound, two other clients' room round trip stays quick, and
/// Ctrl-C ends it promptly, saying how many lines were not shown.
fn flood_a_slow_output(extra: &[&str], log_fifo: Option<&std::path::Path>) {
    let mut args = vec!["server", "127.0.0.1:0", "--mode", "room", "--room-rate", "0", "--headless"];
    args.extend_from_slice(extra);
    let fifo_arg;
    if let Some(f) = log_fifo {
        fifo_arg = f.display().to_string();
        args.extend_from_slice(&["--log", &fifo_arg]);
    }
    let mut child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockchat");
    let _guard = KillOnDrop(child.id());
    if let Some(f) = log_fifo {
        // Opening a FIFO for reading waits for the writer: the server opens it at start.
        let path = f.to_path_buf();
        std::thread::spawn(move || {
            if let Ok(file) = std::fs::File::open(&path) {
                drop(slow_reader(file, 1_000_000));
            }
        });
    }
    let out = child.stdout.take().expect("stdout");
    let first = slow_reader(out, if log_fifo.is_some() { 50_000_000 } else { 1_000_000 });
    let first = first.recv_timeout(WAIT).expect("the listening line");
    let addr: SocketAddr = if first.trim_start().starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(&first).expect("json");
        v["addr"].as_str().expect("addr").parse().expect("address")
    } else {
        first.split_whitespace().find_map(|t| t.parse().ok()).expect("an address on the listening line")
    };

    let mut a = Raw::connect(addr);
    // `a` takes its share of the room's relays too, or it would be closed as not reading.
    let mut a_in = a.stream.try_clone().expect("clone");
    std::thread::spawn(move || std::io::copy(&mut a_in, &mut std::io::sink()));
    let mut b = Raw::connect(addr);
    // Connected is not yet admitted: until the server has taken `b` in, `a`'s lines are not relayed to it.
    // So `a` says a line until `b` gets it, before the flood starts.
    b.stream.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    let synced = Instant::now();
    'sync: loop {
        assert!(synced.elapsed() < WAIT, "{args:?}: b never got a line from a");
        a.send(b"sync\n");
        let mut l = String::new();
        while matches!(b.try_line(&mut l), Ok(true)) {
            if l.ends_with("] sync") {
                break 'sync;
            }
            l.clear();
        }
    }
    b.stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let flood = Flooder::start(addr);
    let started = Instant::now();
    let mut max_rss = 0;
    let mut worst_rtt = Duration::ZERO;
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let t = Instant::now();
        a.send(format!("ping {i}\n").as_bytes());
        // The flooder's relayed lines reach `b` too; skip them.
        let mut seen = 0;
        loop {
            let mut l = String::new();
            match b.try_line(&mut l) {
                Ok(true) => seen += 1,
                other => panic!(
                    "{args:?}: ping {i} never came back ({seen} lines seen meanwhile, last {l:?}): {other:?}"
                ),
            }
            if l.ends_with(&format!("] ping {i}")) {
                break;
            }
        }
        worst_rtt = worst_rtt.max(t.elapsed());
        max_rss = max_rss.max(rss_kib(child.id()).unwrap_or(0));
        i += 1;
    }
    let sent = flood.written.load(Ordering::SeqCst);
    assert!(max_rss < RSS_BOUND_KIB, "{args:?}: RSS reached {max_rss} KiB after {sent} bytes flooded");
    assert!(
        worst_rtt < Duration::from_secs(1),
        "{args:?}: a room round trip took {worst_rtt:?} during the flood"
    );

    let asked = Instant::now();
    let ok = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(ok.success());
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(asked.elapsed() < WAIT, "{args:?}: did not exit after Ctrl-C");
        // Polling a child's exit has no channel to wait on; a short pause keeps this loop cheap.
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = asked.elapsed();
    let mut err = String::new();
    let _ = child.stderr.take().expect("stderr").read_to_string(&mut err);
    assert!(took < Duration::from_secs(2), "{args:?}: Ctrl-C took {took:?} ({err})");
    if log_fifo.is_none() {
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
    }
    assert!(err.contains("received lines were not shown"), "{args:?}: stderr: {err}");
    let _ = flood.finish();
}

struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-9", &self.0.to_string()]).stderr(Stdio::null()).status();
    }
}

#[test]
fn text_output_read_slowly_keeps_memory_bounded() {
    flood_a_slow_output(&[], None);
}

#[test]
fn json_output_read_slowly_keeps_memory_bounded() {
    flood_a_slow_output(&["--json"], None);
}

#[test]
fn a_slow_log_keeps_memory_bounded() {
    let dir = std::env::temp_dir().join(format!("sockchat-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("log.fifo");
    let _ = std::fs::remove_file(&fifo);
    let ok = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(ok.success());
    flood_a_slow_output(&["--json"], Some(&fifo));
    let _ = std::fs::remove_dir_all(&dir);
}
