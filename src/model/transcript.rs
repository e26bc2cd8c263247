//! The session's history, for saving.

use super::{Event, PeerId, format_line, to_json};

/// Everything that happened, in order. `PeerUpdated` is folded into the peer table, not stored.
#[derive(Debug, Default)]
pub struct Transcript {
    entries: Vec<Event>,
    messages: usize,
}

impl Transcript {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event; returns false for events that are not transcript entries.
    pub fn push(&mut self, ev: Event) -> bool {
        if matches!(ev, Event::PeerUpdated { .. }) {
            return false;
        }
        if matches!(ev, Event::Message(_)) {
            self.messages += 1;
        }
        self.entries.push(ev);
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn message_count(&self) -> usize {
        self.messages
    }

    pub fn get(&self, i: usize) -> Option<&Event> {
        self.entries.get(i)
    }

    pub fn entries(&self) -> &[Event] {
        &self.entries
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.messages = 0;
    }

    /// Plain text, one line per entry, as the terminal mode prints it.
    pub fn to_text(&self, peer_name: &dyn Fn(PeerId) -> Option<String>) -> String {
        let mut s = String::new();
        for e in &self.entries {
            s.push_str(&format_line(e, peer_name));
            s.push('\n');
        }
        s
    }

    /// JSON lines, one object per entry, as `--json` prints them.
    pub fn to_json_lines(&self) -> String {
        let mut s = String::new();
        for e in &self.entries {
            s.push_str(&to_json(e).to_string());
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{NONE, msg, peer};
    use crate::model::{Origin, Target, now};
    use serde_json::Value;

    #[test]
    fn transcript_keeps_order_and_skips_peer_updates() {
        let mut t = Transcript::new();
        let addr = "0.0.0.0:1".parse().unwrap();
        assert!(t.push(Event::Listening { time: now(), addr, addrs: vec![], fds: None, tls: None }));
        assert!(!t.push(Event::PeerUpdated { time: now(), peer: peer(None, None) }));
        assert!(t.push(msg(Origin::Local { to: Some(Target::All) }, "a")));
        assert!(t.push(msg(Origin::Local { to: Some(Target::All) }, "b")));
        assert_eq!(t.len(), 3);
        assert_eq!(t.message_count(), 2);
        let text = t.to_text(NONE);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].ends_with("* listening on 0.0.0.0:1"));
        assert!(lines[2].ends_with("-> all: b"));
        let jl = t.to_json_lines();
        let parsed: Vec<Value> = jl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(parsed[1]["text"], "a");
        t.clear();
        assert!(t.is_empty());
    }
}
