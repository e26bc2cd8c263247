//! Reverse DNS (`getnameinfo`) on a thread of its own, so a slow name server never delays accept or messages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::{EventSink, PeerSlot, update_peer};
use crate::calls::Lane;
use crate::model::Event;

type Cache = Arc<Mutex<HashMap<IpAddr, Option<String>>>>;

/// A lookup to make, and a channel closed when it has been answered (or given up).
type Job = (PeerSlot, Option<Sender<()>>);

/// How a name is found; `getnameinfo` except in tests, which need a slow name server.
pub(crate) type Lookup = Arc<dyn Fn(IpAddr) -> Option<String> + Send + Sync>;

/// How long `stop` waits for a lookup in flight before leaving it behind.
const STOP_WAIT: Duration = Duration::from_millis(100);

pub struct Resolver {
    tx: Option<Sender<Job>>,
    /// Answers so far, per address: many clients share one machine, and a known name can be shown at once.
    cache: Cache,
    thread: Option<JoinHandle<()>>,
    /// Closes when the thread ends.
    ended: Receiver<()>,
    /// Where answers are told; emptied by `stop`, so the event channel can close while a lookup hangs.
    sink: Arc<Mutex<Option<EventSink>>>,
    stopping: Arc<AtomicBool>,
}

impl Resolver {
    pub(crate) fn new(sink: EventSink) -> Resolver {
        Self::with_lookup(sink, Arc::new(|ip| dns_lookup::lookup_addr(&ip).ok()))
    }

    pub(crate) fn with_lookup(sink: EventSink, lookup: Lookup) -> Resolver {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let (ended_tx, ended) = crossbeam_channel::bounded::<()>(0);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let cache: Cache = Arc::default();
        let answers = cache.clone();
        let sink = Arc::new(Mutex::new(Some(sink)));
        let tell = sink.clone();
        let thread = std::thread::Builder::new()
            .name("sockchat-dns".into())
            .spawn(move || {
                let _ended = ended_tx;
                for (slot, _answered) in rx {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let ip = slot.lock().map(|p| p.addr.ip()).unwrap_or_else(|e| e.into_inner().addr.ip());
                    let known = answers.lock().unwrap_or_else(PoisonError::into_inner).get(&ip).cloned();
                    let host = known.unwrap_or_else(|| {
                        // The event sender is let go during the lookup, which may hang (see `stop`).
                        let sink = || tell.lock().unwrap_or_else(PoisonError::into_inner).clone();
                        let (id, addr) = slot.lock().map(|p| (p.id, p.addr)).unwrap_or_else(|e| {
                            let p = e.into_inner();
                            (p.id, p.addr)
                        });
                        let rec = sink().and_then(|s| {
                            let mut rec = s.call("getnameinfo", Lane::Conn(id), None, Some(addr), || {
                                format!("{ip}, NI_NAMEREQD")
                            });
                            s.waiting(&mut rec);
                            rec
                        });
                        let h = lookup(ip);
                        if let Some(s) = sink() {
                            s.returned(rec, || match &h {
                                Some(name) => format!("\"{name}\""),
                                None => "EAI_NONAME: no name for this address (shown as the IP)".into(),
                            });
                        }
                        answers.lock().unwrap_or_else(PoisonError::into_inner).insert(ip, h.clone());
                        h
                    });
                    if let Some(h) = host {
                        let peer = update_peer(&slot, |p| p.host = Some(h));
                        if let Some(sink) = &*tell.lock().unwrap_or_else(PoisonError::into_inner) {
                            sink.emit(Event::PeerUpdated { time: crate::model::now(), peer });
                        }
                    }
                }
            })
            .ok();
        Resolver { tx: Some(tx), cache, thread, ended, sink, stopping }
    }

    /// The name already found for `ip`: `Some(None)` when it is known to have none, `None` when not asked yet.
    pub(crate) fn cached(&self, ip: IpAddr) -> Option<Option<String>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).get(&ip).cloned()
    }

    /// Looks the peer's address up in the background; the slot is updated and `PeerUpdated` sent if it has
    /// a name. `answered` is dropped once the slot holds the answer, so a reader can wait for it.
    pub(crate) fn lookup(&self, slot: PeerSlot, answered: Option<Sender<()>>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((slot, answered));
        }
    }

    /// Drops pending lookups and stops telling answers. The thread is joined if it ends within
    /// [`STOP_WAIT`]; a lookup stuck on a slow name server (seconds) is left to finish on its own, holding
    /// no socket and no event sender, so stopping (and Ctrl-C in the terminal) does not wait for it.
    pub fn stop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.tx = None;
        *self.sink.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if let Some(t) = self.thread.take()
            && !matches!(
                self.ended.recv_timeout(STOP_WAIT),
                Err(crossbeam_channel::RecvTimeoutError::Timeout)
            )
        {
            let _ = t.join();
        }
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Peer;

    #[test]
    fn stop_does_not_wait_for_a_hanging_lookup_and_lets_the_event_channel_close() {
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let (started_tx, started) = crossbeam_channel::unbounded::<()>();
        let (release, released) = crossbeam_channel::bounded::<()>(0);
        let slow: Lookup = Arc::new(move |_| {
            let _ = started_tx.send(());
            let _ = released.recv(); // a name server that answers only when the test says so
            Some("late.example".into())
        });
        let sink = EventSink::new(ev_tx, None, super::super::Budget::new(1 << 20, 1 << 20), None);
        let mut r = Resolver::with_lookup(sink, slow);
        let slot: PeerSlot = Arc::new(Mutex::new(Arc::new(Peer::new(1, "192.0.2.1:4000".parse().unwrap()))));
        r.lookup(slot.clone(), None);
        started.recv_timeout(Duration::from_secs(20)).expect("the lookup started");
        let (done_tx, done) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            r.stop();
            let _ = done_tx.send(());
        });
        done.recv_timeout(Duration::from_secs(20)).expect("stop returned while the lookup still hangs");
        // No sender is left with the hanging thread: the channel is closed, not merely empty.
        assert!(matches!(
            ev_rx.recv_timeout(Duration::from_secs(20)),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected)
        ));
        drop(release); // the lookup returns; its answer goes nowhere
    }
}
