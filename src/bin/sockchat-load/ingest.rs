//! `ingest` and `many`: clients send to a one-way server that prints every line.

use super::*;

pub(super) fn ingest(a: &LoadArgs) -> Res<()> {
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
    let tls = tls_for(&a.common)?;
    let extra = sockchat_extra(&a.common, tls.as_ref());
    for kind in kinds(a.common.target, a.common.runs) {
        let port = free_port()?;
        // sockchat labels each line, so count payload lines; ncat copies bytes, so count newlines.
        let srv = match kind {
            Kind::Sockchat => Server::sockchat(&bin, port, "one-way", a.clients + 16, &[MARK], &extra)?,
            Kind::Ncat => Server::ncat(port, false, a.clients + 16, &["\n"], tls.as_ref())?,
        };
        let (wall, cpu, got) = ingest_once(&srv, a, tls.as_ref())?;
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
fn ingest_once(srv: &Server, a: &LoadArgs, tls: Option<&tls::Tls>) -> Res<(f64, f64, u64)> {
    let total = (a.clients * a.lines) as u64;
    // The reading halves are kept (and never read) so the connections stay whole until the end.
    let (_reads, streams): (Vec<_>, Vec<_>) =
        (0..a.clients).map(|_| open(srv.addr, tls, None)).collect::<Res<Vec<Halves>>>()?.into_iter().unzip();
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

pub(super) fn many(a: &LoadArgs) -> Res<()> {
    if a.common.tls {
        return Err("many does not speak TLS yet; --tls works with ingest, relay and handshake".into());
    }
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
            Kind::Ncat => Server::ncat(port, false, a.clients + 16, &["\n"], None)?,
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
