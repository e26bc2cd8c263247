//! The wire format: newline-terminated UTF-8 lines, decoded incrementally from arbitrary read chunks.
//!
//! Lines end at `\n`, `\r\n` or a lone `\r` (old telnet clients). Decoding keeps at most `max_len` bytes of
//! one line in memory: past that the line is cut, delivered marked `truncated`, and the rest up to the next
//! line end is skipped. Text is made safe for a terminal and a window here, once, so nothing downstream sees
//! raw control bytes: invalid UTF-8 becomes U+FFFD, NUL bytes are dropped (C clients send whole buffers),
//! other control characters are written in caret notation (`^[` for ESC), and C1 controls, bidi controls
//! and invisible characters as `<U+XXXX>`.

/// Default longest line kept, in bytes.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// Most bytes of safe text one received byte becomes: a 2-byte C1 control or soft hyphen is written as
/// the 8 bytes `<U+009B>`. A client allows for it in relayed lines (see `protocol::relayed_line_limit`).
pub const MAX_GROWTH: usize = 4;

/// One decoded line, already sanitized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub truncated: bool,
}

/// Incremental line splitter; feed it whatever `read` returned.
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    max_len: usize,
    /// The current line overflowed: drop bytes until the next line end.
    skipping: bool,
    /// Last byte seen was `\r`, so a following `\n` belongs to the same line end.
    after_cr: bool,
}

impl LineDecoder {
    pub fn new(max_len: usize) -> Self {
        LineDecoder { buf: Vec::new(), max_len: max_len.max(1), skipping: false, after_cr: false }
    }

    /// Bytes of an unfinished line held right now (never more than `max_len`).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Decodes `data`, calling `out` for every complete non-empty line.
    pub fn feed(&mut self, data: &[u8], out: &mut impl FnMut(Line)) {
        self.feed_raw(data, &mut |bytes, truncated| {
            let mut text = String::with_capacity(bytes.len());
            if push_sanitized(&mut text, bytes) {
                out(Line { text, truncated });
            }
        });
    }

    /// Decodes `data`, calling `out` with each complete line's raw bytes (not yet sanitized, possibly
    /// blank) and whether it was cut: the allocation-free form for callers that sanitize into their own
    /// buffer with [`push_sanitized`].
    pub fn feed_raw(&mut self, mut data: &[u8], out: &mut impl FnMut(&[u8], bool)) {
        if self.after_cr && !data.is_empty() {
            self.after_cr = false;
            if data[0] == b'\n' {
                data = &data[1..];
            }
        }
        while !data.is_empty() {
            let Some(pos) = memchr::memchr2(b'\n', b'\r', data) else {
                self.take(data, out);
                break;
            };
            if self.buf.is_empty() && !self.skipping && pos <= self.max_len {
                // The whole line is in this read: hand it over without copying it into `buf`.
                if pos > 0 {
                    out(&data[..pos], false);
                }
            } else {
                self.take(&data[..pos], out);
                if self.skipping {
                    self.skipping = false;
                } else {
                    self.emit(false, out);
                }
            }
            let mut next = pos + 1;
            if data[pos] == b'\r' {
                match data.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            data = &data[next..];
        }
    }

    /// Adds bytes to the current line, cutting it at `max_len`.
    fn take(&mut self, bytes: &[u8], out: &mut impl FnMut(&[u8], bool)) {
        if self.skipping {
            return;
        }
        let room = self.max_len - self.buf.len();
        if bytes.len() <= room {
            self.buf.extend_from_slice(bytes);
        } else {
            self.buf.extend_from_slice(&bytes[..room]);
            self.emit(true, out);
            self.skipping = true;
        }
    }

    fn emit(&mut self, truncated: bool, out: &mut impl FnMut(&[u8], bool)) {
        if !self.buf.is_empty() {
            out(&self.buf, truncated);
            self.buf.clear();
        }
    }

    /// The peer closed: a last line without a line end is still a line (nothing accepted is lost).
    pub fn finish(&mut self, out: &mut impl FnMut(Line)) {
        self.finish_raw(&mut |bytes, truncated| {
            let mut text = String::with_capacity(bytes.len());
            if push_sanitized(&mut text, bytes) {
                out(Line { text, truncated });
            }
        });
    }

    /// [`finish`](Self::finish) for [`feed_raw`](Self::feed_raw) callers.
    pub fn finish_raw(&mut self, out: &mut impl FnMut(&[u8], bool)) {
        if !self.skipping {
            self.emit(false, out);
        }
        self.buf.clear();
        self.skipping = false;
        self.after_cr = false;
    }
}

/// True when every byte is printable ASCII. Written without an early exit per byte so the compiler can
/// check 32 bytes at a time: it runs once over nearly every byte received.
fn printable_ascii(bytes: &[u8]) -> bool {
    let ok = |b: &u8| b.wrapping_sub(0x20) < 0x5f;
    let mut chunks = bytes.chunks_exact(32);
    for c in &mut chunks {
        if !c.iter().fold(true, |all, b| all & ok(b)) {
            return false;
        }
    }
    chunks.remainder().iter().all(ok)
}

/// Appends the safe text of one line to `out` (lossy UTF-8, NULs dropped, control characters in caret
/// notation). A line that is blank once made safe
/// is not a message: then nothing is appended and the answer is false.
pub fn push_sanitized(out: &mut String, bytes: &[u8]) -> bool {
    let start = out.len();
    push_safe_text(out, bytes);
    if out[start..].trim_start().is_empty() {
        out.truncate(start);
        return false;
    }
    true
}

/// Bytes to safe display text: lossy UTF-8, NULs dropped, control characters in caret notation.
fn push_safe_text(out: &mut String, bytes: &[u8]) {
    // Printable ASCII, nearly every chat line, needs neither the lossy UTF-8 pass nor escaping.
    if printable_ascii(bytes)
        && let Ok(s) = std::str::from_utf8(bytes)
    {
        return out.push_str(s);
    }
    out.reserve(bytes.len() + 8);
    for c in String::from_utf8_lossy(bytes).chars() {
        push_safe(out, c);
    }
}

fn push_safe(out: &mut String, c: char) {
    match c {
        '\0' => {}
        '\t' => out.push(' '),
        '\u{1}'..='\u{1f}' => {
            out.push('^');
            out.push((c as u8 + 0x40) as char);
        }
        '\u{7f}' => out.push_str("^?"),
        c if escaped(c) => {
            use std::fmt::Write;
            let _ = write!(out, "<U+{:04X}>", c as u32);
        }
        _ => out.push(c),
    }
}

/// Characters a line shows as `<U+XXXX>`: C1 controls (CSI and friends); bidi overrides, embeddings,
/// isolates and marks, which reorder what a reader sees; and invisible ones that hide or split text, or
/// break lines in a terminal or an `nc` reader: zero-width space and joiners, word joiner and the
/// invisible operators, BOM, soft hyphen, Mongolian vowel separator, line and paragraph separators, and
/// interlinear annotation marks. Names drop them instead (`protocol::clean_name`).
fn escaped(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}'
            | '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// Text with its line ends turned to spaces: what one line on the wire can carry.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\n', '\r']) { text.replace(['\n', '\r'], " ").into() } else { text.into() }
}

/// A line of ours made safe to put on the wire: line ends inside it would split it, so they become spaces.
pub fn encode_line(text: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(text.len() + 1);
    for b in text.bytes() {
        v.push(if b == b'\n' || b == b'\r' { b' ' } else { b });
    }
    v.push(b'\n');
    v
}

/// The decoder's promises, checked on one input: shared by the fuzz target (`fuzz/`) and the corpus
/// regression test (`tests/fuzz_corpus.rs`). Panics when a promise is broken.
///
/// The first byte picks the line limit, the second seeds how the rest is cut into reads.
#[doc(hidden)]
pub fn check(data: &[u8]) {
    let [limit, seed, rest @ ..] = data else { return };
    let max = if limit & 0x80 != 0 { DEFAULT_MAX_LINE } else { usize::from(*limit) + 1 };
    let decode = |chunks: &mut dyn Iterator<Item = &[u8]>| {
        let mut d = LineDecoder::new(max);
        let mut lines = Vec::new();
        for c in chunks {
            d.feed(c, &mut |l| lines.push(l));
            assert!(d.pending() <= max, "held {} bytes over the limit {max}", d.pending());
        }
        d.finish(&mut |l| lines.push(l));
        lines
    };
    let whole = decode(&mut std::iter::once(rest));
    // Read sizes from a small LCG: 1 to 17 bytes, so line ends and UTF-8 sequences straddle reads.
    let mut state = u32::from(*seed) | 1;
    let mut at = 0;
    let mut pieces = Vec::new();
    while at < rest.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = (1 + (state >> 16) as usize % 17).min(rest.len() - at);
        pieces.push(&rest[at..at + n]);
        at += n;
    }
    let split = decode(&mut pieces.into_iter());
    assert_eq!(whole, split, "the way bytes are split into reads changed the lines");
    for l in &whole {
        assert!(!l.text.trim().is_empty(), "blank line delivered");
        assert!(!l.text.chars().any(char::is_control), "control character reached the text: {:?}", l.text);
        assert!(!l.text.chars().any(escaped), "invisible character reached the text: {:?}", l.text);
        assert!(l.text.len() <= max.saturating_mul(MAX_GROWTH), "text grew past {MAX_GROWTH} x {max} bytes");
        assert!(!l.text.contains(['\n', '\r']));
        // What peers say beyond plain lines must parse without panicking, whatever the text.
        let _ = crate::protocol::parse_relay(&l.text);
        let _ = crate::protocol::parse_name(&l.text);
        let _ = crate::addr::parse_host_port(&l.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_chunks(max: usize, chunks: &[&[u8]]) -> Vec<Line> {
        let mut d = LineDecoder::new(max);
        let mut v = Vec::new();
        for c in chunks {
            d.feed(c, &mut |l| v.push(l));
        }
        d.finish(&mut |l| v.push(l));
        v
    }

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn lf_crlf_and_lone_cr_all_end_lines() {
        let l = decode_chunks(100, &[b"a\nb\r\nc\rd\n"]);
        assert_eq!(texts(&l), ["a", "b", "c", "d"]);
    }

    #[test]
    fn crlf_split_across_reads_is_one_line_end() {
        let l = decode_chunks(100, &[b"a\r", b"\nb\r", b"", b"\nc"]);
        assert_eq!(texts(&l), ["a", "b", "c"]);
    }

    #[test]
    fn empty_and_blank_lines_are_not_messages() {
        let l = decode_chunks(100, &[b"\n\n   \r\n\t\nx\n"]);
        assert_eq!(texts(&l), ["x"]);
    }

    #[test]
    fn last_line_without_newline_is_kept_at_close() {
        let l = decode_chunks(100, &[b"one\ntw", b"o"]);
        assert_eq!(texts(&l), ["one", "two"]);
    }

    #[test]
    fn long_line_is_cut_and_rest_skipped_with_bounded_memory() {
        let mut d = LineDecoder::new(8);
        let mut v = Vec::new();
        for _ in 0..1000 {
            d.feed(b"0123456789", &mut |l| v.push(l));
            assert!(d.pending() <= 8);
        }
        d.feed(b"tail\nnext\n", &mut |l| v.push(l));
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], Line { text: "01234567".into(), truncated: true });
        assert_eq!(v[1], Line { text: "next".into(), truncated: false });
    }

    #[test]
    fn line_of_exactly_max_is_whole() {
        let l = decode_chunks(4, &[b"abcd\nabcde\n"]);
        assert_eq!(l[0], Line { text: "abcd".into(), truncated: false });
        assert_eq!(l[1], Line { text: "abcd".into(), truncated: true });
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let l = decode_chunks(100, &[b"caf\xc3\xa9 \xff\xfe ok\n"]);
        assert_eq!(texts(&l), ["café \u{fffd}\u{fffd} ok"]);
    }

    #[test]
    fn nul_padding_from_c_clients_is_stripped() {
        let mut buf = b"hello".to_vec();
        buf.resize(256, 0);
        let l = decode_chunks(1000, &[&buf]);
        assert_eq!(texts(&l), ["hello"]);
    }

    #[test]
    fn control_characters_are_shown_not_executed() {
        let l = decode_chunks(100, &[b"\x1b[31mred\x07\x7f\x08 \xc2\x9b \xe2\x80\xae\n"]);
        assert_eq!(texts(&l), ["^[[31mred^G^?^H <U+009B> <U+202E>"]);
        for line in &l {
            assert!(!line.text.chars().any(|c| c.is_control()));
        }
    }

    #[test]
    fn invisible_characters_are_shown_not_hidden() {
        let hidden =
            "a\u{200b}b\u{200c}\u{200d}\u{2060}\u{feff}\u{ad}\u{200e}\u{200f}\u{61c}\u{2028}\u{2029}z";
        let l = decode_chunks(100, &[hidden.as_bytes(), b"\n"]);
        assert_eq!(
            texts(&l),
            ["a<U+200B>b<U+200C><U+200D><U+2060><U+FEFF><U+00AD><U+200E><U+200F><U+061C><U+2028><U+2029>z"]
        );
        // Visible text beyond ASCII is untouched.
        assert_eq!(
            texts(&decode_chunks(100, &["caf\u{e9} \u{43e} \u{1f600}\n".as_bytes()])),
            ["caf\u{e9} \u{43e} \u{1f600}"]
        );
    }

    #[test]
    fn safe_text_grows_at_most_max_growth_times() {
        for c in ["\u{9b}", "\u{ad}", "\u{61c}", "\u{200b}", "\u{feff}", "\u{1b}", "\u{ff}"] {
            let raw: &[u8] = if c == "\u{ff}" { b"\xff" } else { c.as_bytes() };
            let mut out = String::new();
            push_sanitized(&mut out, raw);
            assert!(out.len() <= raw.len() * MAX_GROWTH, "{c:?} became {out:?}");
        }
    }

    #[test]
    fn encode_keeps_one_line() {
        assert_eq!(encode_line("a\nb\rc"), b"a b c\n");
    }

    #[test]
    fn printable_ascii_agrees_with_the_plain_test_for_every_byte_and_length() {
        for len in [0usize, 1, 31, 32, 33, 64, 95] {
            for b in 0..=255u8 {
                for at in [0, len / 2, len.saturating_sub(1)] {
                    let mut v = vec![b'a'; len];
                    if len > 0 {
                        v[at] = b;
                    }
                    let want = v.iter().all(|c| (0x20..0x7f).contains(c));
                    assert_eq!(printable_ascii(&v), want, "byte {b:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn push_sanitized_appends_safe_text_or_nothing_for_blank_lines() {
        let mut s = String::from("kept|");
        assert!(!push_sanitized(&mut s, b"   "));
        assert!(!push_sanitized(&mut s, b"\t \0"));
        assert!(!push_sanitized(&mut s, "\u{3000}".as_bytes()));
        assert_eq!(s, "kept|");
        assert!(push_sanitized(&mut s, b" hi\x1b[1m"));
        assert!(push_sanitized(&mut s, b"\xff"));
        assert_eq!(s, "kept| hi^[[1m\u{fffd}");
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_lines(
            data in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(0u8), Just(0x1b), Just(0xff), Just(0xc3), Just(0xa9), 0x20u8..0x7f],
                0..400),
            cuts in proptest::collection::vec(0usize..400, 0..20),
            max in 1usize..40,
        ) {
            let whole = decode_chunks(max, &[&data]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for c in cuts {
                chunks.push(&data[at..c]);
                at = c;
            }
            chunks.push(&data[at..]);
            let split = decode_chunks(max, &chunks);
            prop_assert_eq!(&whole, &split);
            // The bytes-level form with the shared buffer gives the same lines as the `Line` form.
            let mut d = LineDecoder::new(max);
            let (mut buf, mut ends) = (String::new(), Vec::new());
            let mut push = |b: &[u8], cut: bool| {
                if push_sanitized(&mut buf, b) {
                    ends.push((buf.len(), cut));
                }
            };
            for c in &chunks {
                d.feed_raw(c, &mut push);
            }
            d.finish_raw(&mut push);
            let mut start = 0;
            let raw: Vec<Line> = ends.iter().map(|&(end, truncated)| {
                let text = buf[start..end].to_string();
                start = end;
                Line { text, truncated }
            }).collect();
            prop_assert_eq!(&whole, &raw);
            for l in &whole {
                prop_assert!(!l.text.chars().any(|c| c.is_control()));
                prop_assert!(!l.text.is_empty());
            }
        }
    }
}
