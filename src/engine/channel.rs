//! The event channel between the engine and its user: what travels on it, the engine's sending side
//! (numbering, the byte budget, the wake-up) and the user's receiving side.

use super::*;

/// What travels on the event channel: one event, or all the lines one read brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Event(Event),
    Lines(LineBatch),
}

/// The receiving end of an engine's events.
///
/// [`recv`](Self::recv) and friends hand out one [`Event`] at a time, unpacking batches of lines into
/// `Event::Message`s; [`recv_delivery`](Self::recv_delivery) hands batches over whole, for a consumer (the
/// terminal printer) that keeps up with a flood by never making a `Message` per line. Clones share the
/// channel and the batch being unpacked, so every event goes to exactly one of them.
#[derive(Clone)]
pub struct Events {
    pub(super) rx: Receiver<Parcel>,
    /// Batches partly handed out, each with the index of its next line. A queue, not one slot: clones on
    /// different threads may each take a batch from the channel at the same time.
    pending: Arc<Mutex<VecDeque<(LineBatch, usize)>>>,
}

impl Events {
    pub(super) fn new(rx: Receiver<Parcel>) -> Self {
        Events { rx, pending: Arc::default() }
    }

    /// The next line of a batch being unpacked, if any.
    fn next_pending(&self) -> Option<Event> {
        let mut g = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (batch, i) = g.front_mut()?;
        let m = batch.message(*i);
        *i += 1;
        if *i >= batch.len() {
            g.pop_front();
        }
        m.map(Event::Message)
    }

    pub(super) fn unpack(&self, d: Delivery) -> Option<Event> {
        match d {
            Delivery::Event(ev) => Some(ev),
            Delivery::Lines(b) => {
                let first = b.message(0).map(Event::Message);
                if b.len() > 1 {
                    self.pending.lock().unwrap_or_else(PoisonError::into_inner).push_back((b, 1));
                }
                first
            }
        }
    }

    /// The next event: a pending line first, else what `take` gets from the channel, unpacked.
    fn next<E>(&self, mut take: impl FnMut(&Receiver<Parcel>) -> Result<Parcel, E>) -> Result<Event, E> {
        loop {
            if let Some(ev) = self.next_pending() {
                return Ok(ev);
            }
            if let Some(ev) = self.unpack(take(&self.rx)?.open()) {
                return Ok(ev);
            }
        }
    }

    pub fn recv(&self) -> Result<Event, RecvError> {
        self.next(Receiver::recv)
    }

    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        self.next(Receiver::try_recv)
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        self.recv_deadline(std::time::Instant::now() + timeout)
    }

    pub fn recv_deadline(&self, deadline: std::time::Instant) -> Result<Event, RecvTimeoutError> {
        self.next(|rx| rx.recv_deadline(deadline))
    }

    /// Events already queued, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).is_empty() && self.rx.is_empty()
    }

    /// The next delivery as sent: a batch stays whole (a partly unpacked one gives its next line alone).
    pub fn recv_delivery(&self) -> Result<Delivery, RecvError> {
        match self.next_pending() {
            Some(ev) => Ok(Delivery::Event(ev)),
            None => self.rx.recv().map(Parcel::open),
        }
    }

    pub fn try_recv_delivery(&self) -> Result<Delivery, TryRecvError> {
        match self.next_pending() {
            Some(ev) => Ok(Delivery::Event(ev)),
            None => self.rx.try_recv().map(Parcel::open),
        }
    }
}

/// What travels on the channel: a delivery and the share of the budget it holds until taken off.
pub(crate) struct Parcel {
    pub(super) d: Delivery,
    pub(super) _held: Held,
}

impl Parcel {
    /// The delivery; the budget it held is given back here, as the user takes it.
    pub(super) fn open(self) -> Delivery {
        self.d
    }
}

impl Delivery {
    /// About the bytes it holds: its text, a line end's bookkeeping per line, and the fixed parts.
    fn cost(&self) -> usize {
        const FIXED: usize = 256;
        match self {
            Delivery::Lines(b) => FIXED + b.text_len() + 16 * b.len(),
            Delivery::Event(Event::Message(m)) => FIXED + m.text.len(),
            Delivery::Event(Event::Error { text, .. }) => FIXED + text.len(),
            Delivery::Event(_) => FIXED,
        }
    }
}

/// The engine's side of the event channel: numbers messages, bounds what waits, and wakes the user.
#[derive(Clone)]
pub(crate) struct EventSink {
    pub(super) tx: Sender<Parcel>,
    pub(super) wake: Option<Waker>,
    pub(super) seq: Arc<AtomicU64>,
    pub(super) budget: Arc<Budget>,
    /// The socket-call trace, when it is on ([`trace`]).
    pub(super) trace: Option<Arc<trace::Trace>>,
}

impl EventSink {
    pub(super) fn new(
        tx: Sender<Parcel>,
        wake: Option<Waker>,
        budget: Arc<Budget>,
        trace: Option<Arc<trace::Trace>>,
    ) -> Self {
        EventSink { tx, wake, seq: Arc::new(AtomicU64::new(1)), budget, trace }
    }

    /// A share of the budget for one reader thread (see [`budget`]).
    pub(crate) fn owner(&self) -> Arc<Owner> {
        self.budget.owner()
    }

    fn deliver(&self, d: Delivery) {
        self.deliver_as(None, d);
    }

    /// Queues `d`, first waiting for room in `owner`'s share and the engine's. Once the engine is
    /// stopping, lines are dropped (and counted) and other events pass without waiting.
    fn deliver_as(&self, owner: Option<&Arc<Owner>>, d: Delivery) {
        let held = match self.budget.take(owner, d.cost()) {
            Some(h) => h,
            None => match d {
                Delivery::Lines(b) => return self.budget.count_dropped(b.len()),
                _ => self.budget.unbounded(),
            },
        };
        // A closed channel means nobody listens any more; the engine is being dropped.
        let _ = self.tx.send(Parcel { d, _held: held });
        if let Some(w) = &self.wake {
            w();
        }
    }

    /// [`emit`](Self::emit) from a reader, within its share.
    pub(crate) fn emit_as(&self, owner: &Arc<Owner>, ev: Event) {
        self.deliver_as(Some(owner), Delivery::Event(ev));
    }

    /// [`lines`](Self::lines) from a reader, within its share.
    pub(crate) fn lines_as(&self, owner: &Arc<Owner>, batch: LineBatch) {
        if !batch.is_empty() {
            self.deliver_as(Some(owner), Delivery::Lines(batch));
        }
    }

    pub(crate) fn emit(&self, ev: Event) {
        self.deliver(Delivery::Event(ev));
    }

    /// Reserves `n` message numbers in a row; returns the first.
    pub(crate) fn reserve_seq(&self, n: usize) -> u64 {
        self.seq.fetch_add(n as u64, Ordering::Relaxed)
    }

    /// Sends a batch numbered from [`reserve_seq`](Self::reserve_seq); an empty one is dropped.
    pub(crate) fn lines(&self, batch: LineBatch) {
        if !batch.is_empty() {
            self.deliver(Delivery::Lines(batch));
        }
    }

    pub(crate) fn message(&self, origin: Origin, text: String, truncated: bool) {
        let seq = self.reserve_seq(1);
        self.emit(Event::Message(Message {
            seq,
            time: model::now(),
            origin,
            text,
            truncated,
            private: false,
        }));
    }

    /// The engine is stopping: see [`Stopper::stop`].
    pub(crate) fn close(&self) {
        self.budget.close();
    }

    pub(crate) fn error(&self, peer: Option<Arc<Peer>>, text: String, fatal: bool) {
        self.emit(Event::Error { time: model::now(), peer, text, fatal });
    }
}
