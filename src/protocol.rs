//! The two things sockchat peers say beyond plain lines (PROTOCOL.md): a display name, and the original
//! sender of a line a room server relays. Both are ordinary readable lines, so `nc` and the C programs
//! still work; a plain peer just sees them as text.

use std::borrow::Cow;
use std::net::SocketAddr;

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;

use crate::codec::MAX_GROWTH;
use crate::model::Peer;

const NAME_PREFIX: &str = "/name ";
const RELAY_PREFIX: &str = "[from ";
const PRIVATE_PREFIX: &str = "[private] ";

/// Longest display name kept, in characters.
pub const MAX_NAME: usize = 32;

/// What a server tells its clients as it is stopped on purpose, so they can say so rather than report
/// a connection closed for no reason.
pub const STOPPING_NOTICE: &str = "sockchat: the server is stopping";

/// What a TLS server tells a client that spoke plain text before closing it: a plain client shows it
/// (`nc`, `server.c`'s client), and a sockchat client says why it was closed in its place.
pub const TLS_ONLY_NOTICE: &str = "sockchat: this server uses TLS (encryption): connect with --tls";

/// How every greeting begins: a sockchat client sends its `/name` only after a line that starts so, since
/// a plain server (`server.c`) would show the `/name` line as a message.
pub const GREETING_PREFIX: &str = "sockchat: hello";

/// The line a duplex or room server sends each client first: it tells a sockchat client that names are
/// understood, and a person on `nc` what this is and how to be named. A one-way server sends none (see
/// PROTOCOL.md): its clients need not read, and a client that closes with unread bytes resets the
/// connection, which throws away what it had not yet sent.
pub fn greeting(mode: &str) -> String {
    format!("{GREETING_PREFIX}, this is a sockchat {mode} server; /name NAME sets your name")
}

/// Whether a line from the server is its greeting.
pub fn is_greeting(line: &str) -> bool {
    line.starts_with(GREETING_PREFIX)
}

/// Longest host name a relay label carries, in bytes: the most a DNS name can be (RFC 1035).
pub const MAX_HOST: usize = 253;

/// Longest `ip:port` text: `[`, an IPv6 address (45 at most, with an embedded IPv4 one), `%` and a zone
/// id (a `u32`: 10 digits), `]:` and a port (5).
const MAX_ADDR: usize = 1 + 45 + 1 + 10 + 2 + 5;

/// Longest `[from ADDR HOST NAME] ` label a room server puts before a relayed line: [`MAX_NAME`]
/// characters of up to 4 bytes each.
pub const MAX_RELAY_PREFIX: usize = RELAY_PREFIX.len() + MAX_ADDR + 1 + MAX_HOST + 1 + MAX_NAME * 4 + 2;

/// The line limit a sockchat client's decoder needs so that a line a server with limit `max` accepted
/// whole arrives whole: room for the relay label, and for the server's escapes (a received byte becomes
/// at most [`MAX_GROWTH`] bytes of text).
pub fn relayed_line_limit(max: usize) -> usize {
    max.saturating_mul(MAX_GROWTH).saturating_add(MAX_RELAY_PREFIX)
}

/// Characters a name drops: they show as nothing, or as a blank, so they only serve to pass one name off
/// as another. Format characters (zero-width space, bidi marks, soft hyphen...), default-ignorable code
/// points (Hangul fillers, variation selectors...), unassigned code points, NUL (C clients' padding), and
/// the blank braille pattern, which draws nothing but is neither a space nor ignorable.
fn invisible_in_name(c: char) -> bool {
    c == '\0'
        || c == '\u{2800}'
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || matches!(
            CodePointMapData::<GeneralCategory>::new().get(c),
            GeneralCategory::Format | GeneralCategory::Unassigned
        )
}

/// A display name as it can travel and be told apart: invisible characters removed (see
/// [`invisible_in_name`]), NFC, trimmed, spaces, brackets and control characters turned into `_`, then cut to
/// [`MAX_NAME`] characters. Cutting comes last, by whole characters, so no removed character or escape is
/// ever half kept (names hold no `<U+XXXX>` escapes: what a line would escape, a name drops).
pub fn clean_name(raw: &str) -> Option<String> {
    let visible: String = raw.chars().filter(|&c| !invisible_in_name(c)).nfc().collect();
    let name: String = visible
        .trim()
        .chars()
        .map(|c| if c.is_whitespace() || c == ']' || c == '[' || c.is_control() { '_' } else { c })
        .take(MAX_NAME)
        .collect();
    (!name.is_empty() && name != "-").then_some(name)
}

/// What two names that look alike have in common (the UTS #39 skeleton: `bob` with a Cyrillic `о` has the
/// skeleton of `bob`), so a server can refuse a name that passes for one in use.
pub fn name_key(name: &str) -> String {
    unicode_security::skeleton(name).collect()
}

/// The line a client sends to name itself.
pub fn name_line(name: &str) -> Option<String> {
    clean_name(name).map(|n| format!("{NAME_PREFIX}{n}"))
}

/// `Some(name)` when a received line is a name announcement.
pub fn parse_name(line: &str) -> Option<Option<String>> {
    line.strip_prefix(NAME_PREFIX).map(clean_name)
}

/// The name asked for, as typed, when a received line's raw bytes are a name announcement. A server cleans
/// names from the raw bytes rather than from the line as shown, where invisible characters are already
/// written as `<U+XXXX>` escapes, which a name would keep as text (and a cut could split).
pub fn name_request(line: &[u8]) -> Option<Cow<'_, str>> {
    line.strip_prefix(NAME_PREFIX.as_bytes()).map(String::from_utf8_lossy)
}

/// How a room server passes a client's line on: `[from ADDR HOST NAME] TEXT`, `-` for unknown parts.
pub fn relay_line(from: &Peer, text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 48);
    push_relay_line(&mut out, from, text);
    out.pop();
    // Built from `str`s and ASCII only, so always UTF-8.
    String::from_utf8_lossy(&out).into_owned()
}

/// [`relay_line`] and its line end appended to `out`, without building the line on its own first.
pub fn push_relay_line(out: &mut Vec<u8>, from: &Peer, text: &str) {
    push_relay_text(out, relay_prefix(from).as_bytes(), text);
}

/// The `[from ADDR HOST NAME] ` label of a sender's relayed lines. A room server makes it once per read
/// and per rename, not per line: formatting the address per line showed in the relay profile.
///
/// The host is cut to [`MAX_HOST`] bytes and the name to [`MAX_NAME`] characters (a server's names are
/// never longer), so the label is never longer than [`MAX_RELAY_PREFIX`], which clients allow for.
pub fn relay_prefix(from: &Peer) -> String {
    let host = from.host.as_deref().map_or("-", |h| {
        let mut end = h.len().min(MAX_HOST);
        while !h.is_char_boundary(end) {
            end -= 1;
        }
        &h[..end]
    });
    let name =
        from.name.as_deref().map_or("-", |n| n.char_indices().nth(MAX_NAME).map_or(n, |(i, _)| &n[..i]));
    format!("{RELAY_PREFIX}{} {host} {name}] ", from.addr)
}

/// A relayed line from its label (see [`relay_prefix`]) and text, line end included, appended to `out`.
pub fn push_relay_text(out: &mut Vec<u8>, prefix: &[u8], text: &str) {
    out.extend_from_slice(prefix);
    // Decoded lines never hold a line end; any other text gets them turned into spaces.
    if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none() {
        out.extend_from_slice(text.as_bytes());
    } else {
        out.extend(text.bytes().map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
    }
    out.push(b'\n');
}

/// The server's own text to everyone must not be mistaken for a relay or a private line, so a leading
/// `[from ` or `[private] ` gets a space before it.
pub fn escape_own(text: &str) -> Cow<'_, str> {
    if text.starts_with(RELAY_PREFIX) || text.starts_with(PRIVATE_PREFIX) {
        format!(" {text}").into()
    } else {
        text.into()
    }
}

/// How the server sends its own text to one client only: `[private] TEXT`. Only the first prefix counts
/// on the receiving side, so the text needs no escaping (`[private] [from ...]` is private text, not a
/// relay).
pub fn private_line(text: &str) -> String {
    format!("{PRIVATE_PREFIX}{text}")
}

/// The text of a line the server sent to us only; `None` for anything else. A client checks this only on
/// lines that are not relays: a room client's `[private] ...` reaches the others behind its `[from ...]`
/// label, so no client can make its line look private (or look like the server's).
pub fn parse_private(line: &str) -> Option<&str> {
    line.strip_prefix(PRIVATE_PREFIX)
}

/// A relayed line's original sender and text; `None` for anything else.
#[derive(Debug, PartialEq, Eq)]
pub struct Relayed<'a> {
    pub addr: SocketAddr,
    pub host: Option<String>,
    pub name: Option<String>,
    pub text: &'a str,
}

pub fn parse_relay(line: &str) -> Option<Relayed<'_>> {
    let rest = line.strip_prefix(RELAY_PREFIX)?;
    let (head, text) = rest.split_once("] ")?;
    let mut parts = head.split(' ');
    let addr = parts.next()?.parse().ok()?;
    let opt = |s: &str| (s != "-").then(|| s.to_string());
    let host = opt(parts.next()?);
    let name = opt(parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Relayed { addr, host, name, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_for_the_wire() {
        assert_eq!(clean_name("  Ann Lee "), Some("Ann_Lee".into()));
        assert_eq!(clean_name("a]b[c"), Some("a_b_c".into()));
        assert_eq!(clean_name("   "), None);
        assert_eq!(clean_name("-"), None);
        assert_eq!(clean_name(&"x".repeat(100)).map(|n| n.chars().count()), Some(MAX_NAME));
        assert_eq!(name_line("bob"), Some("/name bob".into()));
        assert_eq!(parse_name("/name bob"), Some(Some("bob".into())));
        assert_eq!(parse_name("/name  "), Some(None));
        assert_eq!(parse_name("hello /name bob"), None);
    }

    #[test]
    fn names_drop_invisible_characters_and_are_normalized() {
        for disguised in
            ["b\u{200b}ob", "\u{200f}bob", "bob\u{2800}", "\u{2800}bob", "\u{feff}b\u{ad}ob\u{2060}"]
        {
            assert_eq!(clean_name(disguised).as_deref(), Some("bob"), "{disguised:?}");
        }
        assert_eq!(clean_name("\u{202e}bob\u{202c}").as_deref(), Some("bob"));
        assert_eq!(
            clean_name("b\u{3164}ob\u{fe0f}").as_deref(),
            Some("bob"),
            "Hangul filler, variation selector"
        );
        assert_eq!(clean_name("\u{200b} \u{2800}"), None, "nothing visible is no name");
        assert_eq!(clean_name("bob\0\0\0").as_deref(), Some("bob"), "C clients' NUL padding");
        assert_eq!(clean_name("e\u{301}va").as_deref(), Some("\u{e9}va"), "NFC");
        assert_eq!(clean_name("a\u{7}b").as_deref(), Some("a_b"));
    }

    #[test]
    fn names_are_cut_after_cleaning_by_whole_characters_never_inside_an_escape() {
        let x31 = "x".repeat(31);
        assert_eq!(clean_name(&format!("{x31}\u{202e}abc")), Some(format!("{x31}a")));
        assert_eq!(clean_name(&format!("{}ann", "\u{200b}".repeat(40))).as_deref(), Some("ann"));
        let wide = clean_name(&"\u{1f600}".repeat(40)).unwrap();
        assert_eq!(wide.chars().count(), MAX_NAME);
        assert_eq!(name_request(b"/name \xe2\x80\x8bbob").as_deref(), Some("\u{200b}bob"));
        assert_eq!(name_request(b"hello"), None);
    }

    #[test]
    fn lookalike_names_share_a_key() {
        assert_eq!(name_key("bob"), name_key("b\u{43e}b"), "Cyrillic o");
        assert_eq!(name_key("paypal"), name_key("p\u{430}yp\u{430}l"));
        assert_eq!(name_key("ann"), name_key("ann"));
        assert_ne!(name_key("bob"), name_key("rob"));
    }

    #[test]
    fn the_longest_relay_label_fits_the_documented_bound() {
        let mut p =
            Peer::new(1, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535".parse().unwrap());
        p.host = Some(format!("{}\u{e9}", "h".repeat(MAX_HOST - 1)));
        p.name = Some("\u{1f600}".repeat(MAX_NAME + 5));
        let label = relay_prefix(&p);
        assert!(label.len() <= MAX_RELAY_PREFIX, "{} > {MAX_RELAY_PREFIX}", label.len());
        let line = format!("{label}hi");
        let r = parse_relay(&line).unwrap();
        assert_eq!(r.host.as_deref(), Some("h".repeat(MAX_HOST - 1).as_str()), "cut at a character boundary");
        assert_eq!(r.name.map(|n| n.chars().count()), Some(MAX_NAME));
        assert_eq!(relayed_line_limit(usize::MAX), usize::MAX);
        assert_eq!(relayed_line_limit(10), 10 * MAX_GROWTH + MAX_RELAY_PREFIX);
    }

    #[test]
    fn relay_round_trips_with_and_without_host_and_name() {
        let mut p = Peer::new(1, "[::1]:4000".parse().unwrap());
        let line = relay_line(&p, "hi there] x");
        assert_eq!(line, "[from [::1]:4000 - -] hi there] x");
        let r = parse_relay(&line).unwrap();
        assert_eq!(r, Relayed { addr: p.addr, host: None, name: None, text: "hi there] x" });
        p.host = Some("localhost".into());
        p.name = Some("ann".into());
        let r2 = relay_line(&p, "yo");
        let r = parse_relay(&r2).unwrap();
        assert_eq!((r.host.as_deref(), r.name.as_deref(), r.text), (Some("localhost"), Some("ann"), "yo"));
        let mut wire = b"before\n".to_vec();
        push_relay_line(&mut wire, &p, "yo");
        assert_eq!(wire, format!("before\n{r2}\n").into_bytes());
    }

    #[test]
    fn plain_lines_and_spoofs_are_not_relays() {
        assert_eq!(parse_relay("hello"), None);
        assert_eq!(parse_relay("[from nonsense] x"), None);
        assert_eq!(parse_relay(&escape_own("[from 1.2.3.4:5 h n] fake")), None);
        assert_eq!(escape_own("plain"), "plain");
    }

    #[test]
    fn private_lines_round_trip_and_cannot_be_faked() {
        assert_eq!(private_line("see me after class"), "[private] see me after class");
        assert_eq!(parse_private(&private_line("see me")), Some("see me"));
        assert_eq!(parse_private(&private_line("[private] x")), Some("[private] x"), "only the first counts");
        let inner = private_line("[from 1.2.3.4:5 h n] x");
        assert_eq!(parse_relay(&inner), None, "private text that looks like a relay is not one");
        assert_eq!(parse_private(&inner), Some("[from 1.2.3.4:5 h n] x"));
        // The server's text to everyone that starts like a private line is escaped, so it is not one.
        assert_eq!(escape_own("[private] to all"), " [private] to all");
        assert_eq!(parse_private(&escape_own("[private] to all")), None);
        assert_eq!(parse_private("hello [private] x"), None);
        assert_eq!(parse_private("[private]x"), None);
        // A client's own "[private] ..." reaches the others relayed: the relay label comes first.
        let p = Peer::new(1, "127.0.0.1:4000".parse().unwrap());
        let relayed = relay_line(&p, "[private] fake");
        assert_eq!(parse_private(&relayed), None);
        assert_eq!(parse_relay(&relayed).map(|r| r.text), Some("[private] fake"));
    }
}
