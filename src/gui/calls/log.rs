//! What the "Socket calls" panel knows: the calls of one session in the order they started, their lanes,
//! which `recv` carried which chat message, the kernel's TCP state, and what step mode waits for. Pure
//! state, no egui: the panel draws it and tests drive it with made-up calls.
//!
//! A message is linked to its bytes by replaying the connection's byte stream: the engine sends a
//! message right after the `recv` that completed it, so the bytes since the previous message's line end,
//! up to the next line end, are that message's (blank lines and `/name` lines are not messages and are
//! skipped). Where bytes are missing (merged in a flood, not recorded, or dropped for room) or are
//! ciphertext (a TLS connection), the message is linked to the last `recv` before it on its connection,
//! without a byte range.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::calls::{Call, CallState, Lane, TcpConn};
use crate::engine::Step;
use crate::model::PeerId;

/// Calls kept; older ones leave in blocks of a tenth.
pub const MAX_CALLS: usize = 10_000;
/// Bytes of `recv`/`send` data kept; the oldest calls lose theirs first.
pub const MAX_BYTES: usize = 4 << 20;
/// Columns of the timeline's lane gutter; further connections share the last one.
pub const MAX_COLS: usize = 12;

/// A lane of one engine run: a restart (Start again, Reconnect) starts new lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LaneKey {
    pub run: u32,
    pub lane: Lane,
}

/// One row of the timeline: a call as it stands now.
#[derive(Debug, Clone)]
pub struct Row {
    /// The latest record of the call (a `Waiting` call is replaced when it returns).
    pub call: Arc<Call>,
    pub run: u32,
    /// When the window got its `Waiting` record: a waiting call's live elapsed time runs from here.
    pub since: Instant,
    /// When the call started (engine microseconds): rows are in the order calls started.
    pub start_us: u64,
    /// Chat entries (by [`crate::gui::chat::ChatLog`] number) whose bytes this `recv` carried.
    pub msgs: Vec<usize>,
    /// Its bytes were dropped to keep the history within [`MAX_BYTES`].
    pub bytes_dropped: bool,
}

impl Row {
    pub fn key(&self) -> LaneKey {
        LaneKey { run: self.run, lane: self.call.lane }
    }
}

/// A lane as the timeline shows it.
#[derive(Debug, Clone)]
pub struct LaneInfo {
    pub key: LaneKey,
    /// `listening socket`, or the peer as the chat names it.
    pub title: String,
    pub addr: Option<SocketAddr>,
    pub fd: Option<i32>,
    /// The connection has ended: its lane stays, greyed.
    pub closed: bool,
    /// Rows (absolute numbers) of its first and last call.
    pub first: u64,
    pub last: u64,
    /// Its column in the gutter.
    pub col: usize,
    /// TLS: its `recv`/`send` bytes are records of ciphertext, so no message can be found in them.
    pub encrypted: bool,
}

/// Which bytes made one message: the `recv` calls that carried it (by call id) and where in the first
/// and the last of them it starts and ends. `range` is `None` where the bytes were not there to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgLink {
    pub key: LaneKey,
    pub recvs: Vec<u64>,
    /// Offset of its first byte in the first recv, and one past its last byte (the line end included)
    /// in the last recv.
    pub range: Option<(usize, usize)>,
}

/// What is selected in the panel or the chat; the other side is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    /// A call, by its (run-adjusted) id.
    Call(u64),
    /// A chat entry, by its number.
    Message(usize),
}

/// The bytes of one connection not yet matched to a message.
#[derive(Debug, Default)]
struct Stream {
    /// `recv`s with bytes since the last message ended, oldest first.
    open: VecDeque<u64>,
    /// Offset in `open[0]` where the next message starts.
    off: usize,
    /// A `recv` without bytes came since: the byte ranges cannot be trusted until the next clean start.
    gap: bool,
    /// The last `recv` on the lane, bytes or not.
    last: Option<u64>,
}

/// The calls of one session.
#[derive(Debug, Default)]
pub struct CallLog {
    rows: VecDeque<Row>,
    /// Absolute number of `rows[0]`.
    base: u64,
    by_id: HashMap<u64, u64>,
    lanes: Vec<LaneInfo>,
    links: HashMap<usize, MsgLink>,
    link_order: VecDeque<usize>,
    streams: HashMap<LaneKey, Stream>,
    /// Bytes of call data held, and the first row that may still hold some.
    bytes: usize,
    bytes_from: u64,
    /// Rows that left the history; whether any row lost its bytes.
    trimmed: u64,
    bytes_dropped: bool,
    /// Calls the engine could not record (its trace reader was behind).
    pub lost: u64,
    tcp: HashMap<LaneKey, TcpConn>,
    /// Engine runs so far (a restart adds one): ids and lanes of different runs never mix.
    run: u32,
    /// The paused call (step mode), and the answer already given to it.
    paused: Option<u64>,
    answered: Option<Step>,
    pub selected: Option<Selected>,
    /// Scroll the timeline to this row on the next frame.
    pub reveal: Option<u64>,
    /// Whether this session is a server (the explanations quote server.c, else client.c).
    pub server: bool,
}

/// Ids of different runs apart: the engine numbers its calls from 1 each time it starts.
const RUN_SHIFT: u32 = 40;

impl CallLog {
    pub fn new(server: bool) -> Self {
        CallLog { server, ..Default::default() }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Absolute number of the first row kept, and one past the last.
    pub fn span(&self) -> (u64, u64) {
        (self.base, self.base + self.rows.len() as u64)
    }

    pub fn row(&self, abs: u64) -> Option<&Row> {
        self.rows.get(usize::try_from(abs.checked_sub(self.base)?).ok()?)
    }

    pub fn row_of(&self, id: u64) -> Option<u64> {
        self.by_id.get(&id).copied()
    }

    pub fn by_id(&self, id: u64) -> Option<&Row> {
        self.row(self.row_of(id)?)
    }

    pub fn lanes(&self) -> &[LaneInfo] {
        &self.lanes
    }

    pub fn lane(&self, key: LaneKey) -> Option<&LaneInfo> {
        self.lanes.iter().find(|l| l.key == key)
    }

    pub fn link(&self, msg: usize) -> Option<&MsgLink> {
        self.links.get(&msg)
    }

    /// What the history says about what it no longer holds, if anything.
    pub fn trimmed_note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.trimmed > 0 {
            parts.push(format!(
                "{} older calls left this list (it keeps the newest {MAX_CALLS})",
                self.trimmed
            ));
        }
        if self.bytes_dropped {
            parts.push(format!("older calls' bytes are gone (it keeps the last {} MiB)", MAX_BYTES >> 20));
        }
        if self.lost > 0 {
            parts.push(format!("{} calls were not recorded while the window was behind", self.lost));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// The engine starts again (Start again, Reconnect): the old run's lanes close, its ids stay apart.
    pub fn restarted(&mut self) {
        for l in &mut self.lanes {
            l.closed = true;
        }
        self.run += 1;
        self.streams.clear();
        self.tcp.clear();
        self.paused = None;
        self.answered = None;
    }

    /// The key of `lane` in the current run.
    pub fn key(&self, lane: Lane) -> LaneKey {
        LaneKey { run: self.run, lane }
    }

    fn id(&self, engine_id: u64) -> u64 {
        (u64::from(self.run) << RUN_SHIFT) | engine_id
    }

    /// A call from the engine: a new row, or a new state for a call already shown (same id).
    pub fn push(&mut self, call: Arc<Call>) {
        self.lost += call.lost_before;
        let id = self.id(call.id);
        let key = self.key(call.lane);
        let abs = match self.by_id.get(&id).copied().filter(|&a| self.row(a).is_some()) {
            Some(abs) => {
                let i = (abs - self.base) as usize;
                let row = &mut self.rows[i];
                if row.call.state == CallState::Paused {
                    row.since = Instant::now();
                    row.start_us = call.us;
                }
                self.bytes += call.data.as_ref().map_or(0, |d| d.len());
                self.bytes -= row.call.data.as_ref().map_or(0, |d| d.len());
                row.call = call.clone();
                abs
            }
            None => {
                let abs = self.base + self.rows.len() as u64;
                self.bytes += call.data.as_ref().map_or(0, |d| d.len());
                self.rows.push_back(Row {
                    call: call.clone(),
                    run: self.run,
                    since: Instant::now(),
                    start_us: call.us,
                    msgs: Vec::new(),
                    bytes_dropped: false,
                });
                self.by_id.insert(id, abs);
                abs
            }
        };
        self.touch_lane(key, &call, abs);
        match &call.state {
            CallState::Paused => {
                self.paused = Some(id);
                self.answered = None;
            }
            _ if self.paused == Some(id) => {
                self.paused = None;
                self.answered = None;
            }
            _ => {}
        }
        if call.name == "recv" {
            self.recv(key, id, &call);
        }
        self.trim();
    }

    fn touch_lane(&mut self, key: LaneKey, call: &Call, abs: u64) {
        let closing = matches!(call.name, "close") && !matches!(call.state, CallState::Paused);
        if let Some(l) = self.lanes.iter_mut().find(|l| l.key == key) {
            l.last = l.last.max(abs);
            if l.fd.is_none() {
                l.fd = call.fd;
            }
            if l.addr.is_none() {
                l.addr = call.peer;
            }
            if closing && matches!(key.lane, Lane::Conn(_)) {
                l.closed = true;
            }
            return;
        }
        let title = match key.lane {
            Lane::Setup => "set-up".to_string(),
            Lane::Listener => "listening socket".to_string(),
            Lane::Conn(_) if !self.server => "connection to the server".to_string(),
            Lane::Conn(id) => call.peer.map_or_else(|| format!("client #{id}"), |p| p.to_string()),
        };
        let col = match key.lane {
            Lane::Setup | Lane::Listener => 0,
            Lane::Conn(_) => (1..MAX_COLS)
                .find(|c| !self.lanes.iter().any(|l| l.col == *c && !l.closed))
                .unwrap_or(MAX_COLS - 1),
        };
        self.lanes.push(LaneInfo {
            key,
            title,
            addr: call.peer,
            fd: call.fd,
            closed: closing && matches!(key.lane, Lane::Conn(_)),
            first: abs,
            last: abs,
            col,
            encrypted: false,
        });
    }

    /// A peer's label, once the chat knows it (connected, renamed).
    pub fn name_lane(&mut self, peer: PeerId, title: String, addr: SocketAddr) {
        let key = self.key(Lane::Conn(peer));
        if let Some(l) = self.lanes.iter_mut().find(|l| l.key == key) {
            l.title = title;
            l.addr = Some(addr);
        } else {
            let abs = self.base + self.rows.len() as u64;
            let col = (1..MAX_COLS)
                .find(|c| !self.lanes.iter().any(|l| l.col == *c && !l.closed))
                .unwrap_or(MAX_COLS - 1);
            let info = LaneInfo {
                key,
                title,
                addr: Some(addr),
                fd: None,
                closed: false,
                first: abs,
                last: abs,
                col,
                encrypted: false,
            };
            self.lanes.push(info);
        }
    }

    /// The connection is TLS (the chat's `connected` says so): its messages are linked to the `recv` that
    /// completed them, without a byte range, since the bytes are ciphertext.
    pub fn encrypt_lane(&mut self, peer: PeerId) {
        let key = self.key(Lane::Conn(peer));
        if let Some(l) = self.lanes.iter_mut().find(|l| l.key == key) {
            l.encrypted = true;
        }
    }

    /// Whether the lane's bytes are ciphertext.
    pub fn encrypted(&self, lane: Lane) -> bool {
        self.lane(self.key(lane)).is_some_and(|l| l.encrypted)
    }

    /// The connection ended (the chat's `disconnected`): its lane greys.
    pub fn close_lane(&mut self, peer: PeerId) {
        let key = self.key(Lane::Conn(peer));
        if let Some(l) = self.lanes.iter_mut().find(|l| l.key == key) {
            l.closed = true;
        }
        self.tcp.remove(&key);
        self.streams.remove(&key);
    }

    fn recv(&mut self, key: LaneKey, id: u64, call: &Call) {
        let s = self.streams.entry(key).or_default();
        match &call.state {
            CallState::Returned { .. } => {
                s.last = Some(id);
                match &call.data {
                    Some(d) if !d.is_empty() => s.open.push_back(id),
                    Some(_) => {}
                    None => s.gap = true,
                }
            }
            CallState::Merged { .. } => {
                s.last = Some(id);
                s.gap = true;
            }
            _ => {}
        }
        // A line with no end in sight: keep the newest part only.
        while s.open.len() > 256 {
            s.open.pop_front();
            s.off = 0;
            s.gap = true;
        }
    }

    /// A message arrived from `peer` as chat entry `msg`; links it to the `recv`s that carried it.
    pub fn message(&mut self, lane: Lane, msg: usize, text: &str) {
        let key = self.key(lane);
        let encrypted = self.encrypted(lane);
        let Some(mut s) = self.streams.remove(&key) else { return };
        let link = if encrypted || s.gap || s.open.is_empty() {
            s.gap = false;
            s.open.clear();
            s.off = 0;
            s.last.map(|r| MsgLink { key, recvs: vec![r], range: None })
        } else {
            self.cut(&mut s, text).map(|(recvs, range)| MsgLink { key, recvs, range: Some(range) })
        };
        self.streams.insert(key, s);
        let Some(link) = link else { return };
        for r in &link.recvs {
            if let Some(abs) = self.row_of(*r)
                && let Some(i) = abs.checked_sub(self.base)
                && let Some(row) = self.rows.get_mut(i as usize)
            {
                row.msgs.push(msg);
            }
        }
        self.links.insert(msg, link);
        self.link_order.push_back(msg);
        while self.link_order.len() > MAX_CALLS * 4 {
            if let Some(old) = self.link_order.pop_front() {
                self.links.remove(&old);
            }
        }
    }

    /// Takes the next message's line from the stream: the first line (to its `\n`) that ends with
    /// `text`, skipping blank and command lines; else the first non-blank one; the rest of the bytes if
    /// no line end has come (a cut or unfinished line).
    fn cut(&self, s: &mut Stream, text: &str) -> Option<(Vec<u64>, (usize, usize))> {
        let datas: Vec<Arc<[u8]>> = s
            .open
            .iter()
            .map(|id| self.by_id(*id).and_then(|r| r.call.data.clone()))
            .collect::<Option<_>>()?;
        // Lines as (first recv, start, last recv, end), across recv boundaries.
        let mut lines = Vec::new();
        let (mut i, mut off) = (0, s.off);
        while i < datas.len() {
            let (start_i, start) = (i, off);
            let mut bytes = Vec::new();
            let mut end = None;
            while i < datas.len() {
                let d = &datas[i][off.min(datas[i].len())..];
                match d.iter().position(|&b| b == b'\n') {
                    Some(p) => {
                        bytes.extend_from_slice(&d[..p]);
                        end = Some((i, off + p + 1));
                        off += p + 1;
                        if off >= datas[i].len() {
                            i += 1;
                            off = 0;
                        }
                        break;
                    }
                    None => {
                        bytes.extend_from_slice(d);
                        i += 1;
                        off = 0;
                    }
                }
            }
            let (last_i, last_end) = end.unwrap_or((datas.len() - 1, datas[datas.len() - 1].len()));
            lines.push((start_i, start, last_i, last_end, bytes));
            if end.is_none() || lines.len() > 64 {
                break;
            }
        }
        let line_text = |b: &[u8]| String::from_utf8_lossy(b).trim_end_matches('\r').to_string();
        let blank = |b: &[u8]| line_text(b).trim().is_empty();
        let want = text.trim_end();
        let pick = lines
            .iter()
            .position(|l| !blank(&l.4) && !want.is_empty() && line_text(&l.4).ends_with(want))
            .or_else(|| lines.iter().position(|l| !blank(&l.4) && !line_text(&l.4).starts_with("/name")))
            .or_else(|| lines.iter().position(|l| !blank(&l.4)))?;
        let (a, start, b, end, _) = lines[pick];
        let recvs: Vec<u64> = s.open.iter().skip(a).take(b - a + 1).copied().collect();
        // Consume up to the message's end.
        let consumed = b;
        for _ in 0..consumed {
            s.open.pop_front();
        }
        s.off = end;
        if s.open.front().is_some_and(|id| {
            self.by_id(*id).and_then(|r| r.call.data.as_ref()).is_some_and(|d| end >= d.len())
        }) {
            s.open.pop_front();
            s.off = 0;
        }
        Some((recvs, (start, end)))
    }

    /// Keeps the history within [`MAX_CALLS`] and [`MAX_BYTES`].
    fn trim(&mut self) {
        while self.bytes > MAX_BYTES {
            let Some(i) = self.bytes_from.checked_sub(self.base) else {
                self.bytes_from = self.base;
                continue;
            };
            let Some(row) = self.rows.get_mut(i as usize) else { break };
            if let Some(d) = &row.call.data {
                self.bytes -= d.len();
                let mut c = (*row.call).clone();
                c.data = None;
                row.call = Arc::new(c);
                row.bytes_dropped = true;
                self.bytes_dropped = true;
            }
            self.bytes_from += 1;
        }
        if self.rows.len() <= MAX_CALLS {
            return;
        }
        let n = MAX_CALLS / 10;
        for row in self.rows.drain(..n) {
            self.by_id.remove(&((u64::from(row.run) << RUN_SHIFT) | row.call.id));
            self.bytes -= row.call.data.as_ref().map_or(0, |d| d.len());
        }
        self.base += n as u64;
        self.trimmed += n as u64;
        self.bytes_from = self.bytes_from.max(self.base);
        // A closed connection whose calls have all left goes too: a long session's lanes stay few.
        let base = self.base;
        self.lanes.retain(|l| !(l.closed && l.last < base));
    }

    /// The kernel's view of each connection (`Event::Tcp`).
    pub fn tcp(&mut self, conns: Vec<TcpConn>) {
        let run = self.run;
        self.tcp.retain(|k, _| k.run != run);
        for c in conns {
            self.tcp.insert(LaneKey { run, lane: c.lane }, c);
        }
    }

    /// A connection's last probed TCP state, for the client list and the status bar.
    pub fn tcp_of(&self, lane: Lane) -> Option<&TcpConn> {
        self.tcp.get(&self.key(lane))
    }

    /// Step mode: the call waiting for "Next call", unless it has been answered already.
    pub fn paused(&self) -> Option<&Row> {
        self.paused.and_then(|id| self.by_id(id))
    }

    pub fn answered(&self) -> Option<Step> {
        self.answered
    }

    /// The user answered the paused call: the buttons wait for the engine's next record, so a double
    /// click does not answer the next pause too.
    pub fn answer(&mut self, s: Step) {
        self.answered = Some(s);
    }

    /// Chat entries to highlight for the selection.
    pub fn chat_highlight(&self) -> HashSet<usize> {
        match self.selected {
            Some(Selected::Message(m)) => HashSet::from([m]),
            Some(Selected::Call(id)) => {
                self.by_id(id).map(|r| r.msgs.iter().copied().collect()).unwrap_or_default()
            }
            None => HashSet::new(),
        }
    }

    /// Calls (by id) to highlight for the selection.
    pub fn call_highlight(&self) -> HashSet<u64> {
        match self.selected {
            Some(Selected::Message(m)) => {
                self.links.get(&m).map(|l| l.recvs.iter().copied().collect()).unwrap_or_default()
            }
            Some(Selected::Call(id)) => HashSet::from([id]),
            None => HashSet::new(),
        }
    }

    /// Selects a chat message; the timeline scrolls to the `recv` that completed it.
    pub fn select_message(&mut self, msg: usize) {
        self.selected = Some(Selected::Message(msg));
        self.reveal = self.links.get(&msg).and_then(|l| l.recvs.last()).and_then(|id| self.row_of(*id));
    }

    /// The id the panel selects a row by.
    pub fn id_of(&self, row: &Row) -> u64 {
        (u64::from(row.run) << RUN_SHIFT) | row.call.id
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
