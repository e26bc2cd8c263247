//! The wire format: newline-terminated UTF-8 lines, decoded incrementally from arbitrary read chunks.
//!
//! Lines end at `\n`, `\r\n` or a lone `\r` (old telnet clients). Decoding keeps at most `max_len` bytes of
//! one line in memory: past that the line is cut, delivered marked `truncated`, and the rest up to the next
//! line end is skipped. Text is made safe for a terminal and a window here, once, so nothing downstream sees
//! raw control bytes: invalid UTF-8 becomes U+FFFD, NUL bytes are dropped (C clients send whole buffers),
//! and other control characters are written in caret notation (`^[` for ESC).

/// Default longest line kept, in bytes.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

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
    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut(Line)) {
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
            self.take(&data[..pos], out);
            if self.skipping {
                self.skipping = false;
            } else {
                self.emit(false, out);
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
    fn take(&mut self, bytes: &[u8], out: &mut impl FnMut(Line)) {
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

    fn emit(&mut self, truncated: bool, out: &mut impl FnMut(Line)) {
        if self.buf.is_empty() {
            return;
        }
        let text = sanitize(&self.buf);
        self.buf.clear();
        if !text.trim().is_empty() {
            out(Line { text, truncated });
        }
    }

    /// The peer closed: a last line without a line end is still a line (nothing accepted is lost).
    pub fn finish(&mut self, out: &mut impl FnMut(Line)) {
        if !self.skipping && !self.buf.is_empty() {
            self.emit(false, out);
        }
        self.buf.clear();
        self.skipping = false;
        self.after_cr = false;
    }
}

/// Bytes to safe display text: lossy UTF-8, NULs dropped, control characters in caret notation.
pub fn sanitize(bytes: &[u8]) -> String {
    // Printable ASCII, nearly every chat line, needs neither the lossy UTF-8 pass nor escaping.
    if bytes.iter().all(|b| (0x20..0x7f).contains(b))
        && let Ok(s) = String::from_utf8(bytes.to_vec())
    {
        return s;
    }
    let s = String::from_utf8_lossy(bytes);
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.into_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_safe(&mut out, c);
    }
    out
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
        // C1 controls (CSI and friends) and bidi overrides that could reorder what a reader sees.
        '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        }
        _ => out.push(c),
    }
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
    fn encode_keeps_one_line() {
        assert_eq!(encode_line("a\nb\rc"), b"a b c\n");
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
            for l in &whole {
                prop_assert!(!l.text.chars().any(|c| c.is_control()));
                prop_assert!(!l.text.is_empty());
            }
        }
    }
}
