//! A read's lines handed over as one piece.

use std::sync::Arc;

use time::OffsetDateTime;

use super::{Message, Origin, Peer};

/// The lines one peer's read brought, as the engine hands them over under load: one text buffer and one
/// channel send for the whole read instead of an allocation and a send per line (see BENCHMARKS.md).
///
/// Line `i` is the message numbered `first_seq + i`; all share the sender, the time and `relayed`.
/// [`LineBatch::messages`] gives them as ordinary [`Message`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineBatch {
    pub first_seq: u64,
    pub time: OffsetDateTime,
    pub from: Arc<Peer>,
    pub relayed: bool,
    /// Every line of the batch was sent to us only (see [`Message::private`]).
    pub private: bool,
    text: String,
    /// End of each line in `text`, and whether that line was cut.
    ends: Vec<(usize, bool)>,
}

impl LineBatch {
    pub fn new(first_seq: u64, time: OffsetDateTime, from: Arc<Peer>, relayed: bool) -> Self {
        LineBatch { first_seq, time, from, relayed, private: false, text: String::new(), ends: Vec::new() }
    }

    /// A batch that will take about `bytes` of text, so building it does not reallocate.
    pub fn with_capacity(mut self, bytes: usize, lines: usize) -> Self {
        self.text.reserve(bytes);
        self.ends.reserve(lines);
        self
    }

    pub fn push(&mut self, text: &str, truncated: bool) {
        self.text.push_str(text);
        self.ends.push((self.text.len(), truncated));
    }

    /// Builds the next line in place: `f` appends its text to the buffer and says whether to keep it.
    /// This is how the server sanitizes straight from the socket's bytes into the batch.
    pub fn push_with(&mut self, truncated: bool, f: impl FnOnce(&mut String) -> bool) -> bool {
        let start = self.text.len();
        if f(&mut self.text) {
            self.ends.push((self.text.len(), truncated));
            true
        } else {
            self.text.truncate(start);
            false
        }
    }

    /// The last line pushed, if any.
    pub fn last(&self) -> Option<&str> {
        let n = self.ends.len();
        let end = self.ends.last()?.0;
        let start = if n >= 2 { self.ends[n - 2].0 } else { 0 };
        Some(&self.text[start..end])
    }

    /// Takes the last line back out (a command, not a message).
    pub fn pop(&mut self) -> Option<(String, bool)> {
        let (end, cut) = self.ends.pop()?;
        let start = self.ends.last().map_or(0, |e| e.0);
        let line = self.text[start..end].to_string();
        self.text.truncate(start);
        Some((line, cut))
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Each line's text and whether it was cut, in order.
    pub fn lines(&self) -> impl Iterator<Item = (&str, bool)> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&(end, cut)| {
            let s = &self.text[start..end];
            start = end;
            (s, cut)
        })
    }

    /// Line `i` as a [`Message`].
    pub fn message(&self, i: usize) -> Option<Message> {
        let &(end, truncated) = self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1].0 };
        Some(Message {
            seq: self.first_seq + i as u64,
            time: self.time,
            origin: Origin::Remote { from: self.from.clone(), relayed: self.relayed },
            text: self.text[start..end].to_string(),
            truncated,
            private: self.private,
        })
    }

    pub fn messages(&self) -> impl Iterator<Item = Message> + '_ {
        (0..self.len()).filter_map(|i| self.message(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::peer;
    use time::macros::datetime;

    #[test]
    fn a_line_batch_gives_back_each_line_as_its_own_numbered_message() {
        let from = peer(Some("localhost"), Some("ann"));
        let t = datetime!(2026-11-25 15:04:05 UTC);
        let mut b = LineBatch::new(0, t, from.clone(), true);
        assert!(b.is_empty() && b.last().is_none());
        b.push("first", false);
        assert!(b.push_with(true, |s| {
            s.push_str("second");
            true
        }));
        assert!(!b.push_with(false, |s| {
            s.push_str("dropped");
            false
        }));
        b.push("/name x", false);
        assert_eq!(b.last(), Some("/name x"));
        assert_eq!(b.pop(), Some(("/name x".to_string(), false)));
        b.push("third", false);
        b.first_seq = 40;
        assert_eq!(b.len(), 3);
        assert_eq!(b.text_len(), "firstsecondthird".len());
        assert_eq!(b.lines().collect::<Vec<_>>(), [("first", false), ("second", true), ("third", false)]);
        let ms: Vec<Message> = b.messages().collect();
        assert_eq!(ms.iter().map(|m| m.seq).collect::<Vec<_>>(), [40, 41, 42]);
        assert_eq!(ms[1].text, "second");
        assert!(ms[1].truncated && !ms[2].truncated);
        assert!(
            ms.iter()
                .all(|m| m.time == t && m.origin == Origin::Remote { from: from.clone(), relayed: true })
        );
        assert_eq!(b.message(3), None);
    }
}
