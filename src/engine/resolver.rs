//! Reverse DNS (`getnameinfo`) on a thread of its own, so a slow name server never delays accept or messages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use super::{EventSink, PeerSlot, update_peer};
use crate::model::Event;

type Cache = Arc<Mutex<HashMap<IpAddr, Option<String>>>>;

/// A lookup to make, and a channel closed when it has been answered (or given up).
type Job = (PeerSlot, Option<Sender<()>>);

pub struct Resolver {
    tx: Option<Sender<Job>>,
    /// Answers so far, per address: many clients share one machine, and a known name can be shown at once.
    cache: Cache,
    thread: Option<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

impl Resolver {
    pub(crate) fn new(sink: EventSink) -> Resolver {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let cache: Cache = Arc::default();
        let answers = cache.clone();
        let thread = std::thread::Builder::new()
            .name("sockchat-dns".into())
            .spawn(move || {
                for (slot, _answered) in rx {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let ip = slot.lock().map(|p| p.addr.ip()).unwrap_or_else(|e| e.into_inner().addr.ip());
                    let known = answers.lock().unwrap_or_else(PoisonError::into_inner).get(&ip).cloned();
                    let host = known.unwrap_or_else(|| {
                        let h = dns_lookup::lookup_addr(&ip).ok();
                        answers.lock().unwrap_or_else(PoisonError::into_inner).insert(ip, h.clone());
                        h
                    });
                    if let Some(h) = host {
                        let peer = update_peer(&slot, |p| p.host = Some(h));
                        sink.emit(Event::PeerUpdated { time: crate::model::now(), peer });
                    }
                }
            })
            .ok();
        Resolver { tx: Some(tx), cache, thread, stopping }
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

    /// Drops pending lookups and waits for the one in flight.
    pub fn stop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.stop();
    }
}
