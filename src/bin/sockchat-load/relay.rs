//! `relay`: clients chat through a room; every client checks every line it gets.

use super::*;

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

pub(super) fn relay(a: &LoadArgs) -> Res<()> {
    let bin = sockchat_bin(&a.common)?;
    let deliveries = (a.clients * (a.clients - 1) * a.lines) as u64;
    println!(
        "relay: {} clients x {} lines x {} bytes = {} deliveries",
        a.clients, a.lines, a.len, deliveries
    );
    let mut results = Vec::new();
    let tls = tls_for(&a.common)?;
    let extra = sockchat_extra(&a.common, tls.as_ref());
    for kind in kinds(a.common.target, a.common.runs) {
        let port = free_port()?;
        let srv = match kind {
            Kind::Sockchat => {
                Server::sockchat(&bin, port, "room", a.clients + 16, &["* connected:"], &extra)?
            }
            Kind::Ncat => Server::ncat(port, true, a.clients + 16, &[], tls.as_ref())?,
        };
        let (wall, cpu, integ, done) = relay_once(kind, &srv, a, tls.as_ref())?;
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

fn relay_once(
    kind: Kind,
    srv: &Server,
    a: &LoadArgs,
    tls: Option<&tls::Tls>,
) -> Res<(f64, Cpu, Integrity, bool)> {
    let c = a.clients;
    let timeout = Some(Duration::from_secs(a.common.timeout));
    let mut streams = Vec::with_capacity(c);
    let mut ports = Vec::with_capacity(c);
    for _ in 0..c {
        let (port, halves) = open_at(srv.addr, tls, timeout)?;
        ports.push(port);
        streams.push(halves);
    }
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
    for (i, (s, mut w)) in streams.into_iter().enumerate() {
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
fn count_relayed(mut s: impl Read, want: u64, deadline: Instant) -> (Integrity, bool) {
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
    mut s: impl Read,
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
