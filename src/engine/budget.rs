//! How much the engine may hand its user before the user has taken it: the bound that keeps a flood
//! from growing memory when the output (a pipe, a slow log, a busy window) cannot keep up.
//!
//! Every delivery costs its size in bytes (about). A sender (a client's reader thread) waits for room
//! before it delivers, so it stops reading its socket and TCP's flow control slows the flooding peer
//! down: nothing is dropped and nothing reordered. Two bounds apply: one per reader, so one flooder holds
//! at most a little of the queue and the lines of the other clients never wait behind much of it, and
//! one for the whole engine. A delivery always goes through when its sender has nothing queued, so a
//! batch larger than a bound still moves.
//!
//! Stopping closes the budget: waiting senders give up at once, and lines delivered from then on are
//! dropped and counted (the user asked to stop; they are the lines "not shown"), while other events
//! still pass so every connection's end is reported.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::Duration;

/// The whole engine's bound: far above what one reader may hold, so it only binds when many flood.
pub const ENGINE_BYTES: usize = 32 * 1024 * 1024;
/// One reader's bound: a few reads' worth. Lines of a quiet client wait behind at most this much of a
/// flooder's.
pub const READER_BYTES: usize = 128 * 1024;

/// Longest a waiting sender sleeps before it looks again; only a safety net, wake-ups are direct.
const RECHECK: Duration = Duration::from_millis(250);

/// One sender's share: what it has queued and not yet taken, and where it waits for room.
#[derive(Default)]
pub(crate) struct Owner {
    used: AtomicUsize,
    waiting: AtomicBool,
    lock: Mutex<()>,
    room: Condvar,
}

impl Owner {
    fn wake(&self) {
        let _g = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.room.notify_all();
    }
}

pub(crate) struct Budget {
    cap: usize,
    per_owner: usize,
    used: AtomicUsize,
    closed: AtomicBool,
    /// Senders waiting for the engine-wide bound (rare: only when many flood at once).
    waiters: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
    /// Every owner, so closing wakes the ones waiting.
    owners: Mutex<Vec<Weak<Owner>>>,
    dropped: AtomicU64,
}

/// What a delivery holds of the budget; given back when dropped, that is when the user has taken it off
/// the channel (or the channel is gone).
pub(crate) struct Held {
    budget: Arc<Budget>,
    owner: Option<Arc<Owner>>,
    cost: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give_back(self.owner.as_deref(), self.cost);
    }
}

impl Budget {
    pub(crate) fn new(cap: usize, per_owner: usize) -> Arc<Budget> {
        Arc::new(Budget {
            cap,
            per_owner,
            used: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
            owners: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        })
    }

    /// A share for one sender (a reader thread). Only that thread may take from it.
    pub(crate) fn owner(&self) -> Arc<Owner> {
        let o = Arc::new(Owner::default());
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        owners.retain(|w| w.strong_count() > 0);
        owners.push(Arc::downgrade(&o));
        o
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Wakes every waiting sender and makes every later [`take`](Self::take) give up at once.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        {
            let _g = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.room.notify_all();
        }
        let owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for o in owners.iter().filter_map(Weak::upgrade) {
            o.wake();
        }
    }

    /// Lines given up because the engine was stopping.
    pub(crate) fn count_dropped(&self, lines: usize) {
        self.dropped.fetch_add(lines as u64, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Bytes queued now, engine-wide.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// A hold on nothing, for the events that pass a closed budget.
    pub(crate) fn unbounded(self: &Arc<Self>) -> Held {
        Held { budget: self.clone(), owner: None, cost: 0 }
    }

    /// Takes `cost` bytes if there is room now (no owner share); never waits.
    pub(crate) fn try_take(self: &Arc<Self>, cost: usize) -> Option<Held> {
        let before = self.used.fetch_add(cost, Ordering::SeqCst);
        if !self.is_closed() && (before == 0 || before + cost <= self.cap) {
            return Some(Held { budget: self.clone(), owner: None, cost });
        }
        self.give_back(None, cost);
        None
    }

    /// Takes `cost` bytes, waiting for room; `None` once the budget is closed.
    pub(crate) fn take(self: &Arc<Self>, owner: Option<&Arc<Owner>>, cost: usize) -> Option<Held> {
        if let Some(o) = owner {
            self.wait_for_owner(o, cost)?;
        }
        loop {
            if self.is_closed() {
                return None;
            }
            let before = self.used.fetch_add(cost, Ordering::SeqCst);
            if before == 0 || before + cost <= self.cap {
                break;
            }
            self.give_back(None, cost);
            let g = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.waiters.fetch_add(1, Ordering::SeqCst);
            let full = self.used.load(Ordering::SeqCst);
            if !self.is_closed() && full != 0 && full + cost > self.cap {
                let _ = self.room.wait_timeout(g, RECHECK);
            }
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(o) = owner {
            o.used.fetch_add(cost, Ordering::SeqCst);
        }
        Some(Held { budget: self.clone(), owner: owner.cloned(), cost })
    }

    /// Waits until the owner's share has room (its own thread is the only one adding to it).
    fn wait_for_owner(&self, o: &Owner, cost: usize) -> Option<()> {
        loop {
            if self.is_closed() {
                return None;
            }
            let used = o.used.load(Ordering::SeqCst);
            if used == 0 || used + cost <= self.per_owner {
                return Some(());
            }
            let g = o.lock.lock().unwrap_or_else(PoisonError::into_inner);
            o.waiting.store(true, Ordering::SeqCst);
            let used = o.used.load(Ordering::SeqCst);
            if !self.is_closed() && used != 0 && used + cost > self.per_owner {
                let _ = o.room.wait_timeout(g, RECHECK);
            }
            o.waiting.store(false, Ordering::SeqCst);
        }
    }

    fn give_back(&self, owner: Option<&Owner>, cost: usize) {
        if let Some(o) = owner {
            o.used.fetch_sub(cost, Ordering::SeqCst);
            if o.waiting.load(Ordering::SeqCst) {
                o.wake();
            }
        }
        self.used.fetch_sub(cost, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.room.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_waits_for_its_own_share_and_others_go_on() {
        let b = Budget::new(1000, 100);
        let (flood, quiet) = (b.owner(), b.owner());
        let first = b.take(Some(&flood), 80).expect("room");
        // Over its share: the flooder's next delivery waits until the first is taken...
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (b2, f2) = (b.clone(), flood.clone());
        let t = std::thread::spawn(move || {
            let held = b2.take(Some(&f2), 80);
            tx.send(held.is_some()).unwrap();
            held
        });
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "the flooder waits");
        // ...while a quiet sender is not held up by it.
        let q = b.take(Some(&quiet), 80).expect("room for the quiet one");
        assert_eq!(b.used(), 160);
        drop(first);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        let second = t.join().unwrap();
        assert_eq!(b.used(), 160);
        drop((q, second));
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn the_engine_bound_holds_and_an_oversized_delivery_still_moves_when_alone() {
        let b = Budget::new(100, 1000);
        let big = b.take(None, 500).expect("alone, so it moves");
        let (tx, rx) = crossbeam_channel::bounded(1);
        let b2 = b.clone();
        let t = std::thread::spawn(move || tx.send(b2.take(None, 10).is_some()).unwrap());
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "full: the next one waits");
        drop(big);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        t.join().unwrap();
    }

    #[test]
    fn closing_wakes_waiting_senders_and_refuses_later_ones() {
        let b = Budget::new(1000, 10);
        let o = b.owner();
        let _held = b.take(Some(&o), 10).expect("room");
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (b2, o2) = (b.clone(), o.clone());
        let t = std::thread::spawn(move || tx.send(b2.take(Some(&o2), 10).is_some()).unwrap());
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        b.close();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false), "woken, and given nothing");
        t.join().unwrap();
        assert!(b.take(None, 1).is_none());
    }

    #[test]
    fn try_take_never_waits() {
        let b = Budget::new(100, 100);
        let first = b.try_take(500).expect("alone, so it moves");
        assert!(b.try_take(1).is_none(), "full: refused at once rather than waiting");
        drop(first);
        assert!(b.try_take(60).is_some());
        b.close();
        assert!(b.try_take(1).is_none());
    }
}
