//! The terminal mode run as a process, checked through its `--json` and text output.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::proc::{BIN, Proc};
use common::{Raw, WAIT};
use serde_json::Value;

fn listening(p: &Proc) -> SocketAddr {
    let v = p.event("listening");
    v["addr"].as_str().expect("addr").parse().expect("socket address")
}

#[test]
fn json_server_reports_messages_with_peer_and_sends_stdin_lines() {
    let mut p = Proc::spawn(&["server", "127.0.0.1:0", "--mode", "duplex", "--headless", "--json"]);
    let addr = listening(&p);
    assert_ne!(addr.port(), 0, "the real port is reported");
    let mut c = Raw::connect(addr);
    let v = p.event("connected");
    assert_eq!(v["peer"]["addr"], c.local().to_string());
    c.send(b"hello \x1b[2J json\n");
    let v = p.event("message");
    assert_eq!(v["text"], "hello ^[[2J json");
    assert_eq!(v["peer"]["addr"], c.local().to_string());
    assert!(v["time"].as_str().is_some_and(|t| t.len() >= 20), "{v}");
    assert!(v["peer"].get("host").is_some() && v["peer"].get("name").is_some());
    p.type_line("reply from the server");
    assert!(sockchat::protocol::is_greeting(&c.line()));
    assert_eq!(c.line(), "reply from the server");
    p.interrupt();
    let (code, err) = p.finish();
    assert_eq!(code, 0, "Ctrl-C stops cleanly: {err}");
    assert!(c.closed(), "clients are closed on stop");
}

#[test]
fn a_server_bound_to_one_address_gives_that_address_to_clients() {
    // (A wildcard's interface addresses are chosen by a unit test from made-up interface lists: tests
    // listen on loopback only.)
    let p = Proc::spawn(&["server", "127.0.0.1:0", "--headless", "--json"]);
    let v = p.event("listening");
    assert_eq!(v["addrs"], serde_json::json!([v["addr"]]), "{v}");
    p.interrupt();
    p.finish();
}

#[test]
fn text_output_names_host_port_and_name() {
    let p = Proc::spawn(&["server", "127.0.0.1:0", "--headless", "--json"]);
    let addr = listening(&p);
    p.interrupt();
    p.finish();
    let p = Proc::spawn(&["server", &addr.to_string(), "--headless"]);
    let first = p.line();
    assert!(first.contains(&format!("* listening on {addr} (open-file limit ")), "{first}");
    let mut c = Raw::connect(addr);
    c.send(b"/name zoe\nhi from zoe\n");
    let port = c.local().to_string();
    let msg = loop {
        let l = p.line();
        if l.contains("hi from zoe") {
            break l;
        }
    };
    // `HH:MM:SS host (ip:port) name: text`
    assert!(msg.contains(&format!("({port}) zoe: hi from zoe")), "{msg}");
    assert_eq!(msg.as_bytes()[2], b':');
    p.interrupt();
    assert_eq!(p.finish().0, 0);
}

#[test]
fn eof_on_stdin_keeps_the_server_running() {
    let mut p = Proc::spawn(&["server", "127.0.0.1:0", "--headless", "--json"]);
    drop(p.stdin.take());
    let addr = listening(&p);
    let mut c = Raw::connect(addr);
    c.send(b"still listening\n");
    assert_eq!(p.event("message")["text"], "still listening");
    p.interrupt();
    assert_eq!(p.finish().0, 0);
}

#[test]
fn client_process_sends_name_and_lines_and_ends_when_input_ends() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut p = Proc::spawn(&["client", &addr.to_string(), "--name", "kim", "--headless", "--json"]);
    let (s, _) = listener.accept().unwrap();
    let mut srv = Raw::from_stream(s);
    let v = p.event("connected");
    assert_eq!(v["peer"]["addr"], addr.to_string());
    srv.send(format!("{}\n", sockchat::protocol::greeting("duplex")).as_bytes());
    assert_eq!(srv.line(), "/name kim", "the name answers the greeting");
    p.type_line("typed line");
    assert_eq!(srv.line(), "typed line");
    let v = p.event("message");
    assert_eq!(
        (v["text"].as_str(), v["dir"].as_str()),
        (Some("typed line"), Some("out")),
        "own lines are events too"
    );
    srv.send(b"from server\n");
    let v = p.event("message");
    assert_eq!((v["text"].as_str(), v["dir"].as_str()), (Some("from server"), Some("in")));
    // End of input: the client closes its side; the server sees EOF, closes, and the client exits.
    drop(p.stdin.take());
    assert!(srv.closed());
    drop(srv);
    let v = p.event("disconnected");
    assert_eq!(v["reason"], "closed by peer");
    assert_eq!(p.finish().0, 0);
}

#[test]
fn two_processes_chat_through_a_room() {
    let p = Proc::spawn(&["server", "127.0.0.1:0", "--mode", "room", "--headless", "--json"]);
    let addr = listening(&p).to_string();
    let mut a = Proc::spawn(&["client", &addr, "--name", "ann", "--headless", "--json"]);
    let b = Proc::spawn(&["client", &addr, "--name", "ben", "--headless", "--json"]);
    a.event("connected");
    b.event("connected");
    // Wait until the server knows both names, so the relay carries ann's name.
    let mut named = 0;
    while named < 2 {
        if p.json()["event"] == "peer" {
            named += 1;
        }
    }
    a.type_line("hello ben");
    let v = b.event("message");
    assert_eq!(v["text"], "hello ben");
    assert_eq!(v["peer"]["name"], "ann");
    assert_eq!(v["relayed"], true);
    let at_server = p.event("message");
    assert_eq!(at_server["peer"]["addr"], v["peer"]["addr"], "ben sees ann's real ip:port");
    for c in [&p, &a, &b] {
        c.interrupt();
    }
    for c in [a, b, p] {
        assert_eq!(c.finish().0, 0);
    }
}

#[test]
fn bad_input_gives_one_clear_line_and_nonzero_exit() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let in_use = taken.local_addr().unwrap().to_string();
    let free_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cases: [(&[&str], &str); 4] = [
        (&["server", "127.0.0.1:99999", "--headless"], "port out of range"),
        (&["server", &in_use, "--headless"], "port already in use"),
        (&["client", &format!("127.0.0.1:{free_port}"), "--headless"], "connection refused"),
        (&["client", "no-such-host.invalid:80", "--headless"], "unknown host"),
    ];
    for (args, want) in cases {
        let (code, err, out) = Proc::spawn(args).finish_with_stdout();
        assert_ne!(code, 0, "{args:?}");
        assert_eq!(err.lines().count(), 1, "one line for {args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!out.iter().any(|l| l.contains(want)), "said once, on stderr, not again on stdout: {out:?}");
        // With --json a program reads the error as an event on stdout; a person still gets the stderr line.
        let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
        let (code, err, out) = Proc::spawn(&json).finish_with_stdout();
        assert_ne!(code, 0, "{json:?}");
        assert_eq!(err.lines().count(), 1, "{json:?}: {err}");
        let events: Vec<Value> = out.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let errors: Vec<&Value> = events.iter().filter(|v| v["event"] == "error").collect();
        assert_eq!(errors.len(), 1, "{json:?}: {out:?}");
        assert_eq!(errors[0]["fatal"], true);
        assert!(errors[0]["text"].as_str().is_some_and(|t| t.contains(want)), "{out:?}");
    }
}

#[test]
fn help_lists_roles_modes_and_flags() {
    let out = Command::new(BIN).args(["server", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for word in
        ["one-way", "duplex", "room", "--headless", "--json", "--max-clients", "--allow", "--deny", "--log"]
    {
        assert!(help.contains(word), "server --help lacks {word}");
    }
}

#[test]
fn log_file_gets_each_event_as_it_happens() {
    let dir = std::env::temp_dir().join(format!("sockchat-cli-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chat.jsonl");
    let log = path.to_str().unwrap();
    let p = Proc::spawn(&["server", "127.0.0.1:0", "--headless", "--json", "--no-announce", "--log", log]);
    let addr = listening(&p);
    let mut c = Raw::connect(addr);
    c.send(b"keep me\n");
    p.event("message");
    // The server is still running: the line must already be on disk (flushed per event).
    let deadline = Instant::now() + WAIT;
    let logged = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("keep me") || Instant::now() > deadline {
            break text;
        }
        // The log is written by another process; there is no channel to wait on, only the file.
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let kinds: Vec<String> = logged
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON line")["event"].as_str().unwrap_or("").to_string()
        })
        .filter(|k| k != "peer")
        .collect();
    assert_eq!(kinds[..3], ["listening", "connected", "message"], "{logged}");
    p.interrupt();
    let (code, err) = p.finish();
    assert_eq!(code, 0, "Ctrl-C stops cleanly: {err}");
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.contains("\"disconnected\""), "stop's disconnects are logged too: {after}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Builds one of the classic C programs in `tests/c/` with the system C compiler.
fn build_c(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sockchat-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c").join(format!("{name}.c"));
    let exe = dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc).arg("-O1").arg("-o").arg(&exe).arg(&src).output().expect("a C compiler (cc)");
    assert!(out.status.success(), "{cc} failed: {}", String::from_utf8_lossy(&out.stderr));
    exe
}

#[test]
fn classic_c_client_talks_to_a_duplex_server() {
    let client = build_c("client");
    let mut p = Proc::spawn(&["server", "127.0.0.1:0", "--mode", "duplex", "--headless", "--json"]);
    let addr = listening(&p);
    let mut c = Command::new(client)
        .args(["127.0.0.1", &addr.port().to_string(), "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Each line goes out as a whole 256-byte buffer, zero-padded: the NULs must not show.
    c.stdin.take().unwrap().write_all(b"hello from C\nsecond line\n").unwrap();
    let first = p.event("message");
    assert_eq!(first["text"], "hello from C");
    assert_eq!(p.event("message")["text"], "second line");
    let c_addr = first["peer"]["addr"].as_str().unwrap().to_string();
    p.type_line("reply to C");
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    // The greeting comes first: a classic client that reads one line per line it sends sees it first.
    let hello = sockchat::protocol::greeting("duplex");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("got: {hello}\ngot: reply to C\n"));
    // Its EOF could be a half-close (it might still listen), so the server keeps it until its next line,
    // which the closed socket answers with a reset.
    p.type_line("anyone there?");
    let gone = p.event("disconnected");
    assert_eq!(gone["reason"], "closed by peer");
    assert_eq!(gone["peer"]["addr"], c_addr);
    p.interrupt();
    assert_eq!(p.finish().0, 0);
}

#[test]
fn sockchat_client_talks_to_a_classic_forking_c_server() {
    let server = build_c("server");
    let mut srv = Command::new(server).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(srv.stdout.take().unwrap()).lines();
    let first = lines.next().expect("C server output").unwrap();
    let port = first.strip_prefix("listening ").expect("listening line").to_string();
    let mut p =
        Proc::spawn(&["client", &format!("127.0.0.1:{port}"), "--name", "rustacean", "--headless", "--json"]);
    let me = p.event("connected");
    assert_eq!(me["peer"]["addr"], format!("127.0.0.1:{port}"));
    p.type_line("hi, C server");
    let got = lines.next().expect("C server output").unwrap();
    // The C server names the sender with getnameinfo: host, then our port. It does not greet, so it is
    // not sent the `/name` line it would show as a message; the user is told.
    assert!(got.ends_with(": hi, C server"), "{got}");
    let told = p.event("error");
    assert!(told["text"].as_str().unwrap_or("").contains("your name was not sent"), "{told}");
    drop(p.stdin.take());
    assert_eq!(p.finish().0, 0);
    let _ = srv.kill();
    let _ = srv.wait();
}

/// `sockchat ARGS` started by `sh` after `ulimit LIMIT_ARGS`, as a user with a low limit would start it.
#[cfg(unix)]
fn under_ulimit(limit: &str, args: &[&str]) -> Proc {
    let script = format!("ulimit {limit} || exit 99; exec \"$0\" \"$@\"");
    Proc::spawn_cmd(Command::new("sh").arg("-c").arg(script).arg(BIN).args(args))
}

#[cfg(unix)]
fn hard_fd_limit() -> u64 {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let hard = r.rlim_max as u64;
    hard
}

#[cfg(unix)]
#[test]
fn a_low_soft_fd_limit_is_raised_to_the_hard_one_and_said_at_listening() {
    let hard = hard_fd_limit();
    if hard <= 64 {
        eprintln!("hard open-file limit {hard}: nothing to raise to");
        return;
    }
    let p = under_ulimit("-Sn 64", &["server", "127.0.0.1:0", "--headless", "--json"]);
    let fds = &p.event("listening")["fds"];
    assert_eq!(fds["raised_from"], 64, "{fds}");
    let limit = fds["limit"].as_u64().expect("a numeric limit");
    #[cfg(target_os = "linux")]
    assert_eq!(limit, hard, "{fds}");
    assert!(limit > 64, "{fds}");
    let clients = fds["clients"].as_u64().expect("a client count");
    assert!(clients > 19 && clients <= limit, "one descriptor per client: {fds}");
    p.interrupt();
    assert_eq!(p.finish().0, 0);

    let p = under_ulimit("-Sn 64", &["server", "127.0.0.1:0", "--headless"]);
    let line = p.line();
    assert!(line.contains(&format!("(open-file limit {limit}, raised from 64: room for ")), "{line}");
}

#[cfg(unix)]
#[test]
fn a_hard_fd_limit_below_max_clients_is_warned_about_at_start() {
    let args = ["server", "127.0.0.1:0", "--headless", "--json", "--no-announce", "--max-clients", "100"];
    let p = under_ulimit("-n 64", &args);
    let fds = p.event("listening")["fds"].clone();
    assert_eq!(fds["limit"], 64, "{fds}");
    assert!(fds["raised_from"].is_null(), "{fds}");
    let fit = fds["clients"].as_u64().expect("a client count");
    assert!((1..64).contains(&fit), "{fds}");
    let warn = p.json();
    assert_eq!((&warn["event"], &warn["fatal"]), (&"error".into(), &false.into()), "{warn}");
    let text = warn["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!(
            "up to 100 clients are allowed, but the open-file limit (64) leaves room for about {fit}"
        )),
        "{text}"
    );
    let args = ["server", "127.0.0.1:0", "--headless", "--json", "--no-announce", "--max-clients", "2"];
    let p = under_ulimit("-n 64", &args);
    let _c = Raw::connect(listening(&p));
    assert_eq!(p.json()["event"], "connected", "no warning when the limit is enough");
}

#[test]
fn the_terminal_server_defaults_to_duplex_like_the_window() {
    let mut p = Proc::spawn(&["server", "127.0.0.1:0", "--headless", "--json"]);
    let mut c = Raw::connect(listening(&p));
    p.event("connected");
    p.type_line("the server answers");
    assert!(sockchat::protocol::is_greeting(&c.line()));
    assert_eq!(c.line(), "the server answers", "without --mode the server can answer");
    p.interrupt();
    assert_eq!(p.finish().0, 0);
}

#[test]
fn a_server_on_loopback_says_it_is_not_announced_and_why() {
    let p = Proc::spawn(&["server", "127.0.0.1:0", "--headless", "--json", "--name", "Room 101"]);
    listening(&p);
    let v = p.event("error");
    assert_eq!(v["fatal"], false, "{v}");
    let text = v["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("not announced on the network: this server listens on 127.0.0.1 only"),
        "{text}"
    );
    // Asked not to announce: nothing to say.
    let quiet = Proc::spawn(&["server", "127.0.0.1:0", "--headless", "--json", "--no-announce"]);
    let addr = listening(&quiet);
    let _c = Raw::connect(addr);
    assert_eq!(quiet.json()["event"], "connected");
}
