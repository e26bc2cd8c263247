//! `latency` (in-process: the engine's event channel) and `rtt` (over the wire, through a room).

use super::*;

pub(super) fn report_latency(what: &str, mut v: Vec<Duration>) {
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
pub(super) fn latency(a: &LatencyArgs) -> Res<()> {
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
pub(super) fn rtt(a: &RttArgs) -> Res<()> {
    if a.common.tls {
        return Err("rtt does not speak TLS yet; --tls works with ingest, relay and handshake".into());
    }
    let bin = sockchat_bin(&a.common)?;
    for kind in kinds(a.common.target, a.common.runs) {
        let port = free_port()?;
        let duplex = a.through == Through::Duplex;
        let srv = match (kind, duplex) {
            (Kind::Sockchat, false) => {
                Server::sockchat(&bin, port, "room", 16, &["* connected:"], &a.common.server_args)?
            }
            (Kind::Ncat, false) => Server::ncat(port, true, 16, &[], None)?,
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
