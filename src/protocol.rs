//! The two things sockchat peers say beyond plain lines (PROTOCOL.md): a display name, and the original
//! sender of a line a room server relays. Both are ordinary readable lines, so `nc` and the C programs
//! still work; a plain peer just sees them as text.

use std::net::SocketAddr;

use crate::model::Peer;

const NAME_PREFIX: &str = "/name ";
const RELAY_PREFIX: &str = "[from ";

/// Longest display name kept, in characters.
pub const MAX_NAME: usize = 32;

/// A display name as it can travel: trimmed, no spaces or brackets, at most [`MAX_NAME`] characters.
pub fn clean_name(raw: &str) -> Option<String> {
    let name: String = raw
        .trim()
        .chars()
        .take(MAX_NAME)
        .map(|c| if c.is_whitespace() || c == ']' || c == '[' || c.is_control() { '_' } else { c })
        .collect();
    (!name.is_empty() && name != "-").then_some(name)
}

/// The line a client sends to name itself.
pub fn name_line(name: &str) -> Option<String> {
    clean_name(name).map(|n| format!("{NAME_PREFIX}{n}"))
}

/// `Some(name)` when a received line is a name announcement.
pub fn parse_name(line: &str) -> Option<Option<String>> {
    line.strip_prefix(NAME_PREFIX).map(clean_name)
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
pub fn relay_prefix(from: &Peer) -> String {
    format!(
        "{RELAY_PREFIX}{} {} {}] ",
        from.addr,
        from.host.as_deref().unwrap_or("-"),
        from.name.as_deref().unwrap_or("-")
    )
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

/// The server's own text must not be mistaken for a relay, so a leading `[from ` gets a space before it.
pub fn escape_own(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(RELAY_PREFIX) { format!(" {text}").into() } else { text.into() }
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
}
