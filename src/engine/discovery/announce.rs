//! A running server's announcement: registered when the server listens, its client count kept current,
//! unregistered (a goodbye packet, so browsers drop it at once rather than at TTL expiry) when it stops.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};
use mdns_sd::{DaemonEvent, IfKind, ServiceDaemon, ServiceInfo};

use super::{AnnounceConfig, SERVICE_TYPE, check_interface, host_name, instance_name, mdns_host};
use crate::engine::{EventSink, Mode};

/// Re-announcements of the client count are at least this far apart: a burst of 400 connects costs a
/// few packets, not 400, and the list is still current within a second.
const MIN_UPDATE_GAP: Duration = Duration::from_secs(1);

/// How long a stop waits for the daemon to confirm the goodbye and its own shutdown.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// The server's side of the client count: set on every connect and disconnect, never blocks.
#[derive(Clone)]
pub(crate) struct ClientCount {
    n: Arc<AtomicUsize>,
    poke: Sender<()>,
}

impl ClientCount {
    pub(crate) fn set(&self, n: usize) {
        self.n.store(n, Ordering::Relaxed);
        // Full means an update is already pending, which will read the newest count.
        let _ = self.poke.try_send(());
    }
}

/// Handle to the announcing thread.
pub(crate) struct Announcer {
    count: ClientCount,
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Announcer {
    /// Announces the server listening on `local`. Failures are reported on `sink` as non-fatal errors
    /// ("discovery is off: ...") and the server goes on.
    pub(crate) fn start(
        cfg: &AnnounceConfig,
        local: SocketAddr,
        mode: Mode,
        tls: bool,
        sink: EventSink,
    ) -> Announcer {
        let (poke, poked) = crossbeam_channel::bounded(1);
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let count = ClientCount { n: Arc::default(), poke };
        let n = count.n.clone();
        let cfg = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("sockchat-announce".into())
            .spawn(move || {
                if let Err(why) = announce(&cfg, local, (mode, tls), &n, &poked, &stopped, &sink) {
                    sink.error(
                        None,
                        format!("discovery is off: {why}; clients can still connect by address"),
                        false,
                    );
                }
            })
            .map_err(|e| eprintln!("sockchat: cannot start the announcing thread: {e}"))
            .ok();
        Announcer { count, stop, thread }
    }

    pub(crate) fn count(&self) -> ClientCount {
        self.count.clone()
    }

    /// Says goodbye on the network and ends the thread.
    pub(crate) fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.try_send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the announcement says; rebuilt for every client-count update.
struct Record {
    instance: String,
    host: String,
    ip: Option<IpAddr>,
    port: u16,
    name: String,
    mode: Mode,
    /// Serves TLS: `tls=1` in the TXT record, so a client that picks it turns TLS on.
    tls: bool,
    /// Interfaces the announcement is limited to (`IfKind::All` when not limited).
    on: IfKind,
}

impl Record {
    fn info(&self, clients: usize) -> Result<ServiceInfo, String> {
        let mut txt = vec![
            ("mode", self.mode.label().to_string()),
            ("name", super::cut(&self.name, 200).to_string()),
            ("clients", clients.to_string()),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
        ];
        if self.tls {
            txt.push(("tls", "1".to_string()));
        }
        let info = match self.ip {
            Some(ip) => ServiceInfo::new(SERVICE_TYPE, &self.instance, &self.host, ip, self.port, &txt[..]),
            // Listening on every interface: the daemon fills in each interface's addresses, and follows
            // them as they change (a laptop joining the Wi-Fi after the server started).
            None => ServiceInfo::new(SERVICE_TYPE, &self.instance, &self.host, (), self.port, &txt[..])
                .map(ServiceInfo::enable_addr_auto),
        };
        let mut info = info.map_err(|e| format!("cannot build the announcement: {e}"))?;
        info.set_interfaces(vec![self.on.clone()]);
        Ok(info)
    }
}

/// The thread's body: register, keep the count current until stopped, then unregister. `served` is the
/// server's mode and whether it speaks TLS: what the TXT record tells browsers.
fn announce(
    cfg: &AnnounceConfig,
    local: SocketAddr,
    served: (Mode, bool),
    n: &AtomicUsize,
    poked: &Receiver<()>,
    stopped: &Receiver<()>,
    sink: &EventSink,
) -> Result<(), String> {
    let (mode, tls) = served;
    let host = host_name();
    let name = cfg
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| host.clone(), String::from);
    // A server bound to one address is reachable only there: announce on that address's interface alone.
    let ip = Some(local.ip()).filter(|ip| !ip.is_unspecified());
    let on = match (ip, &cfg.interface) {
        (Some(ip), _) => IfKind::Addr(ip),
        (None, Some(ifname)) => {
            if let Some(why) = check_interface(ifname) {
                return Err(why);
            }
            IfKind::Name(ifname.clone())
        }
        (None, None) => IfKind::All,
    };
    let rec = Record {
        instance: instance_name(&name, &host, local.port()),
        host: mdns_host(&host),
        ip,
        port: local.port(),
        name,
        mode,
        tls,
        on,
    };
    let daemon = ServiceDaemon::new().map_err(|e| format!("cannot start multicast DNS: {e}"))?;
    let result = run(&daemon, &rec, n, poked, stopped, sink);
    let done = daemon.shutdown().ok();
    if let Some(rx) = done {
        let _ = rx.recv_timeout(STOP_WAIT);
    }
    result
}

fn run(
    daemon: &ServiceDaemon,
    rec: &Record,
    n: &AtomicUsize,
    poked: &Receiver<()>,
    stopped: &Receiver<()>,
    sink: &EventSink,
) -> Result<(), String> {
    let fail = |e: mdns_sd::Error| format!("multicast DNS failed: {e}");
    if !matches!(rec.on, IfKind::All) {
        daemon.disable_interface(IfKind::All).map_err(fail)?;
        daemon.enable_interface(rec.on.clone()).map_err(fail)?;
    }
    let monitor = daemon.monitor().map_err(fail)?;
    let mut said = n.load(Ordering::Relaxed);
    let info = rec.info(said)?;
    let fullname = info.get_fullname().to_string();
    daemon.register(info).map_err(fail)?;
    let mut last = Instant::now();
    let mut pending = false;
    let mut warned = false;
    loop {
        let wait =
            if pending { MIN_UPDATE_GAP.saturating_sub(last.elapsed()) } else { Duration::from_millis(500) };
        select! {
            recv(stopped) -> _ => break,
            recv(poked) -> _ => pending = true,
            default(wait) => {}
        }
        // The daemon reports send failures (no route for multicast, an interface gone) here; say the
        // first one so the teacher knows why students may not see the server.
        while let Ok(ev) = monitor.try_recv() {
            if let DaemonEvent::Error(e) = ev
                && !std::mem::replace(&mut warned, true)
            {
                sink.error(None, format!("discovery may not reach the network: {e}"), false);
            }
        }
        if pending && last.elapsed() >= MIN_UPDATE_GAP {
            pending = false;
            let now = n.load(Ordering::Relaxed);
            if now != said {
                said = now;
                last = Instant::now();
                daemon.register(rec.info(now)?).map_err(fail)?;
            }
        }
    }
    // The goodbye: browsers drop the server now instead of when its records expire (75 minutes for PTR).
    if let Ok(rx) = daemon.unregister(&fullname) {
        let _ = rx.recv_timeout(STOP_WAIT);
    }
    Ok(())
}
