//! A line's text as the chat view lays it out: its parts and how each is painted, and wrapping to the
//! view's width in characters (the view's font is monospace, so characters are columns).

use std::ops::Range;

use super::Paint;

/// A line's body (who and text, without the time) and how its parts are painted; one buffer is reused
/// for every line built in a pass.
#[derive(Default)]
pub(super) struct Body {
    pub(super) text: String,
    /// Byte ranges of `text` in order, and how each is painted.
    pub(super) segs: Vec<(Range<usize>, Paint)>,
    /// `text` is ASCII, so characters are bytes.
    pub(super) ascii: bool,
}

impl Body {
    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.segs.clear();
        self.ascii = true;
    }

    pub(super) fn add(&mut self, s: &str, p: Paint) {
        let a = self.text.len();
        self.ascii &= push_printable(&mut self.text, s);
        self.mark(a, p);
    }

    /// [`Self::add`] for text known to be printable (a literal, a cached label): nothing to check.
    pub(super) fn add_clean(&mut self, s: &str, ascii: bool, p: Paint) {
        let a = self.text.len();
        self.text.push_str(s);
        self.ascii &= ascii;
        self.mark(a, p);
    }

    /// Paints `text[a..]` with `p`, as part of the last segment if that is painted the same.
    pub(super) fn mark(&mut self, a: usize, p: Paint) {
        let b = self.text.len();
        match self.segs.last_mut() {
            Some((r, q)) if *q == p && r.end == a => r.end = b,
            _ if a < b => self.segs.push((a..b, p)),
            _ => {}
        }
    }

    pub(super) fn chars(&self) -> usize {
        if self.ascii { self.text.len() } else { self.text.chars().count() }
    }

    /// Calls `f` with the byte range of each display line of `text` at `width` characters.
    pub(super) fn wrap(&self, width: usize, f: impl FnMut(Range<usize>)) {
        if self.ascii { wrap_ascii(self.text.as_bytes(), width, f) } else { wrap_chars(&self.text, width, f) }
    }

    pub(super) fn lines(&self, width: usize) -> usize {
        let mut n = 0;
        self.wrap(width, |_| n += 1);
        n
    }
}

/// Appends `s` with control characters as spaces, since they would break the one-row-per-line layout;
/// returns whether what it appended is ASCII.
pub(super) fn push_printable(out: &mut String, s: &str) -> bool {
    // Printable ASCII, the usual case, is checked 16 bytes at a time (a fold has no early exit to stop
    // that).
    if s.bytes().fold(true, |ok, b| ok & (b.wrapping_sub(0x20) < 0x5f)) {
        out.push_str(s);
        return true;
    }
    out.extend(s.chars().map(|c| if c.is_control() { ' ' } else { c }));
    s.is_ascii()
}

/// Calls `f` with the byte range of each wrapped line of ASCII `b`, at most `width` characters each,
/// breaking after the last space in reach, if any: a line is `width` bytes cut after its last space.
pub(super) fn wrap_ascii(b: &[u8], width: usize, mut f: impl FnMut(Range<usize>)) {
    let width = width.max(1);
    let mut start = 0;
    while b.len() - start > width {
        let end = start + width;
        let cut = memchr::memrchr(b' ', &b[start..end]).map_or(end, |k| start + k + 1);
        f(start..cut);
        start = cut;
    }
    f(start..b.len());
}

/// [`wrap_ascii`] for any text, counting characters.
pub(super) fn wrap_chars(s: &str, width: usize, mut f: impl FnMut(Range<usize>)) {
    let width = width.max(1);
    if s.is_empty() {
        f(0..0);
        return;
    }
    let mut start = 0;
    let mut count = 0;
    let mut last_space: Option<usize> = None;
    let mut iter = s.char_indices().peekable();
    while let Some((_, c)) = iter.next() {
        count += 1;
        let next = iter.peek().map_or(s.len(), |(j, _)| *j);
        if c == ' ' {
            last_space = Some(next);
        }
        if count == width && next < s.len() {
            let cut = match last_space {
                Some(sp) if sp > start && sp < next => sp,
                _ => next,
            };
            f(start..cut);
            start = cut;
            count = s[cut..next].chars().count();
            last_space = None;
        }
    }
    f(start..s.len());
}

/// Display lines of a body of `chars` characters: arithmetic unless it is wider than the view.
pub(super) fn lines_of(chars: u32, cols: usize, body: impl FnOnce() -> usize) -> usize {
    if chars as usize <= cols { 1 } else { body() }
}
