//! Browsing for servers: found, updated (a client came or went) and lost (a goodbye, or its records
//! expired), as [`BrowseEvent`]s on a crossbeam channel, so the window and the terminal read them the way
//! they read the chat engine's events, and tests can feed the window a fake browser.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;
use mdns_sd::{IfKind, ResolvedService, ServiceDaemon, ServiceEvent};

use super::{SERVICE_TYPE, address_rank, check_interface, clean_name};
use crate::engine::{Mode, Waker};

/// A server seen on the network, as its announcement describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FoundServer {
    /// The DNS-SD instance name: what tells two servers apart (the display name need not).
    pub id: String,
    /// The display name (TXT `name`); the instance name where the TXT record has none.
    pub name: String,
    /// Its `.local.` host name, without the trailing dot.
    pub host: String,
    /// Where it can be reached, the address to try first first (IPv4, routable, loopback last).
    pub addrs: Vec<IpAddr>,
    pub port: u16,
    /// `None` for a mode this version does not know (a newer server).
    pub mode: Option<Mode>,
    /// Connected clients, as last announced.
    pub clients: Option<u32>,
    pub version: String,
    /// It serves TLS (TXT `tls=1`): a client choosing it turns its TLS switch on.
    pub tls: bool,
}

impl FoundServer {
    /// The address to fill the form with: the first one announced.
    pub fn best_addr(&self) -> Option<IpAddr> {
        self.addrs.first().copied()
    }

    fn from_resolved(r: &ResolvedService) -> FoundServer {
        let txt = |k: &str| r.get_property_val_str(k).map(clean_name);
        let mut addrs: Vec<IpAddr> = r.get_addresses().iter().map(|a| a.to_ip_addr()).collect();
        addrs.sort_by_key(|a| (address_rank(*a), *a));
        addrs.dedup();
        let instance = r.get_fullname().strip_suffix(SERVICE_TYPE).unwrap_or(r.get_fullname());
        let instance = instance.trim_end_matches('.').replace("\\ ", " ");
        FoundServer {
            id: r.get_fullname().to_string(),
            name: txt("name").filter(|n| !n.is_empty()).unwrap_or_else(|| clean_name(&instance)),
            host: clean_name(r.get_hostname().trim_end_matches('.')),
            addrs,
            port: r.get_port(),
            mode: txt("mode").and_then(|m| Mode::ALL.into_iter().find(|x| x.label() == m)),
            clients: txt("clients").and_then(|c| c.parse().ok()),
            version: txt("version").unwrap_or_default(),
            tls: txt("tls").is_some_and(|v| v == "1"),
        }
    }
}

/// What a browser reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowseEvent {
    /// A server not seen before.
    Found(FoundServer),
    /// A server seen before with something changed (its client count, mostly).
    Updated(FoundServer),
    /// A server said goodbye, or its announcement expired. Carries its `id`.
    Lost(String),
    /// Browsing cannot work, and why; nothing more comes.
    Off(String),
}

/// Handle to a browsing thread; dropping it stops browsing.
pub struct Browser {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the browsing thread checks whether it was stopped, at most.
const STOP_POLL: Duration = Duration::from_millis(200);

impl Browser {
    /// Starts browsing on every interface, or only on `interface`. Events go to the returned channel;
    /// `wake` is called after each, so a window repaints at once.
    pub fn start(interface: Option<&str>, wake: Option<Waker>) -> (Browser, Receiver<BrowseEvent>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let send = move |ev: BrowseEvent| {
            let _ = tx.send(ev);
            if let Some(w) = &wake {
                w();
            }
        };
        let interface = interface.map(str::to_string);
        let flag = stop.clone();
        // The daemon is made on the browsing thread too: the caller may be a window's frame, which must
        // not wait on sockets and interface lists.
        let thread = std::thread::Builder::new()
            .name("sockchat-browse".into())
            .spawn(move || match open(interface.as_deref()) {
                Ok((daemon, events)) => {
                    relay(&events, &flag, send);
                    if let Ok(done) = daemon.shutdown() {
                        let _ = done.recv_timeout(Duration::from_secs(1));
                    }
                }
                Err(why) => send(BrowseEvent::Off(why)),
            })
            .map_err(|e| eprintln!("sockchat: cannot start the browsing thread: {e}"))
            .ok();
        (Browser { stop, thread }, rx)
    }

    /// Stops browsing and waits for the thread (at most [`STOP_POLL`] and the daemon's shutdown).
    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn open(interface: Option<&str>) -> Result<(ServiceDaemon, mdns_sd::Receiver<ServiceEvent>), String> {
    if let Some(why) = interface.and_then(check_interface) {
        return Err(why);
    }
    let daemon = ServiceDaemon::new().map_err(|e| format!("cannot start multicast DNS: {e}"))?;
    let fail = |e: mdns_sd::Error| format!("multicast DNS failed: {e}");
    let setup = || -> Result<_, String> {
        if let Some(name) = interface {
            daemon.disable_interface(IfKind::All).map_err(fail)?;
            daemon.enable_interface(IfKind::Name(name.to_string())).map_err(fail)?;
        }
        daemon.browse(SERVICE_TYPE).map_err(fail)
    };
    match setup() {
        Ok(events) => Ok((daemon, events)),
        Err(e) => {
            let _ = daemon.shutdown();
            Err(e)
        }
    }
}

/// Turns the daemon's events into [`BrowseEvent`]s: only resolved services count as found (before that
/// there is no address to connect to), and an update that changes nothing is not reported.
fn relay(events: &mdns_sd::Receiver<ServiceEvent>, stop: &AtomicBool, send: impl Fn(BrowseEvent)) {
    let mut known: HashMap<String, FoundServer> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let ev = match events.recv_timeout(STOP_POLL) {
            Ok(ev) => ev,
            Err(mdns_sd::RecvTimeoutError::Timeout) => continue,
            Err(mdns_sd::RecvTimeoutError::Disconnected) => {
                send(BrowseEvent::Off("the multicast DNS daemon stopped".into()));
                break;
            }
        };
        match ev {
            ServiceEvent::ServiceResolved(r) => {
                let s = FoundServer::from_resolved(&r);
                match known.insert(s.id.clone(), s.clone()) {
                    None => send(BrowseEvent::Found(s)),
                    Some(old) if old != s => send(BrowseEvent::Updated(s)),
                    Some(_) => {}
                }
            }
            ServiceEvent::ServiceRemoved(_, id) if known.remove(&id).is_some() => send(BrowseEvent::Lost(id)),
            ServiceEvent::SearchStopped(_) => break,
            _ => {}
        }
    }
}

/// The servers a stream of [`BrowseEvent`]s leaves standing, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoundList {
    pub servers: Vec<FoundServer>,
    /// Why browsing is off, once it is.
    pub off: Option<String>,
}

impl FoundList {
    pub fn apply(&mut self, ev: BrowseEvent) {
        match ev {
            BrowseEvent::Found(s) | BrowseEvent::Updated(s) => {
                match self.servers.iter_mut().find(|o| o.id == s.id) {
                    Some(o) => *o = s,
                    None => self.servers.push(s),
                }
            }
            BrowseEvent::Lost(id) => self.servers.retain(|s| s.id != id),
            BrowseEvent::Off(why) => self.off = Some(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: &str, clients: u32) -> FoundServer {
        FoundServer {
            id: id.into(),
            name: id.into(),
            host: "h.local".into(),
            addrs: vec![],
            port: 1,
            mode: Some(Mode::Room),
            clients: Some(clients),
            version: "0".into(),
            tls: false,
        }
    }

    #[test]
    fn a_list_follows_found_updated_and_lost() {
        let mut l = FoundList::default();
        l.apply(BrowseEvent::Found(server("a", 0)));
        l.apply(BrowseEvent::Found(server("b", 0)));
        l.apply(BrowseEvent::Updated(server("a", 3)));
        assert_eq!(
            l.servers.iter().map(|s| (s.id.as_str(), s.clients)).collect::<Vec<_>>(),
            [("a", Some(3)), ("b", Some(0))]
        );
        l.apply(BrowseEvent::Lost("a".into()));
        assert_eq!(l.servers.len(), 1);
        l.apply(BrowseEvent::Off("no".into()));
        assert_eq!(l.off.as_deref(), Some("no"));
    }
}
