//! What each socket call is, in a few sentences a student follows: what it does, what it waits for, what
//! can go wrong, where the classic C program makes it, and where sockchat does it differently.
//!
//! Kept as data, one entry per call name the engine records, so a teacher can read (and correct) them in
//! one place, and a test checks that no call the engine records is left without one.

use super::classic::Program;

/// One call's explanation.
#[derive(Debug)]
pub struct Explain {
    pub name: &'static str,
    /// What it does.
    pub does: &'static str,
    /// What it blocks on, if anything.
    pub blocks: &'static str,
    /// What can go wrong, with the errno names the trace shows.
    pub wrong: &'static str,
    /// Where the classic programs make the same call: the program and a piece of the line.
    pub c_lines: &'static [(Program, &'static str)],
    /// Where sockchat differs from the classic program, plainly; empty when it does the same.
    pub differs: &'static str,
}

/// Every call the engine records, in the order a server makes them.
pub const ALL: &[Explain] = &[
    Explain {
        name: "getaddrinfo",
        does: "Turns a host name and a port into addresses a socket can use: asks the resolver (the hosts \
               file, then DNS) and returns a list, IPv6 and IPv4, to try in order.",
        blocks: "Can wait for a name server (seconds if it is slow or unreachable).",
        wrong: "An unknown host name (EAI_NONAME), or no answer from DNS (EAI_AGAIN).",
        c_lines: &[(Program::Server, "getaddrinfo("), (Program::Client, "getaddrinfo(")],
        differs: "sockchat skips it for a literal IP address such as 127.0.0.1 or ::1: there is nothing \
                  to look up. It runs on the engine's thread, so the window never waits for DNS.",
    },
    Explain {
        name: "socket",
        does: "Asks the kernel for a new TCP endpoint (SOCK_STREAM) and returns a file descriptor: a small \
               number, like the one open() returns for a file, that every later call uses.",
        blocks: "Never.",
        wrong: "EMFILE when the process has no file descriptors left; EAFNOSUPPORT when the system has no \
                IPv6.",
        c_lines: &[(Program::Server, "= socket("), (Program::Client, "= socket(")],
        differs: "The server asks for an IPv6 socket (AF_INET6) that also takes IPv4 connections; the \
                  classic server asks for IPv4 (AF_INET) only.",
    },
    Explain {
        name: "setsockopt",
        does: "Sets an option on a socket. SO_REUSEADDR lets a restarted server bind its port again while \
               old connections still sit in TIME_WAIT; IPV6_V6ONLY = 0 makes an IPv6 socket take IPv4 \
               clients too (they show as ::ffff:a.b.c.d).",
        blocks: "Never.",
        wrong: "EINVAL or ENOPROTOOPT for an option the system does not have.",
        c_lines: &[(Program::Server, "setsockopt(")],
        differs: "sockchat also turns IPV6_V6ONLY off so one socket on [::] serves IPv6 and IPv4 \
                  (dual-stack); the classic server binds IPv4 only and needs no such option.",
    },
    Explain {
        name: "bind",
        does: "Gives the socket its local address and port: the one clients will connect to. [::] or \
               0.0.0.0 means every interface of this machine.",
        blocks: "Never.",
        wrong: "EADDRINUSE: another program (or an old connection in TIME_WAIT, without SO_REUSEADDR) holds \
                the port. EACCES: ports below 1024 need root. EADDRNOTAVAIL: the address is not this \
                machine's.",
        c_lines: &[(Program::Server, "bind(")],
        differs: "sockchat binds [::] (dual-stack) and falls back to 0.0.0.0 where IPv6 is off; the classic \
                  server binds an IPv4 address only.",
    },
    Explain {
        name: "listen",
        does: "Turns the socket into a listening one: the kernel now completes TCP handshakes on its own and \
               queues the new connections (up to the backlog) until accept() takes them.",
        blocks: "Never.",
        wrong: "Rarely fails; a full backlog later makes new clients wait or be refused.",
        c_lines: &[(Program::Server, "listen(")],
        differs: "",
    },
    Explain {
        name: "accept",
        does: "Takes the next finished connection from the listening socket's queue and returns a new file \
               descriptor for talking to that one client, and the client's address. The listening socket \
               stays open for the next one.",
        blocks: "Waits until a client connects. A client's connect() succeeds as soon as the kernel has \
                 queued it, even before accept() runs: that is the backlog.",
        wrong: "EMFILE when the server is out of file descriptors (the client stays queued); ECONNABORTED \
                when the client gave up before it was taken.",
        c_lines: &[(Program::Server, "= accept(")],
        differs: "The classic server fork()s a child process per client and reaps finished children on \
                  SIGCHLD with waitpid(). sockchat starts a thread per client instead (pthread_create), \
                  plus a writer thread, all in one process sharing the client list.",
    },
    Explain {
        name: "getnameinfo",
        does: "The reverse lookup: turns the client's IP address into a host name (from the hosts file or \
               DNS), to show who is there.",
        blocks: "Can wait for a name server, for seconds.",
        wrong: "No name for the address (the IP is shown instead), or a slow DNS.",
        c_lines: &[(Program::Server, "getnameinfo(")],
        differs: "The classic server calls it right after accept(), so a slow DNS holds up every new client. \
                  sockchat runs it on a thread of its own and shows the IP until the name comes.",
    },
    Explain {
        name: "pthread_create",
        does: "Starts a thread: here, the one that reads this client's lines (and one that writes to it), \
               so each client is served while the others are.",
        blocks: "Never.",
        wrong: "EAGAIN when the system cannot start one more thread.",
        c_lines: &[(Program::Server, "fork()")],
        differs: "The classic server calls fork() here: a whole child process per client, which the parent \
                  must reap when it ends (SIGCHLD, waitpid) or it stays a zombie. Threads share the \
                  process, so sockchat can list every client and relay between them.",
    },
    Explain {
        name: "recv",
        does: "Copies the bytes that have arrived on the connection into the program's buffer and returns \
               how many. TCP is a byte stream: one recv can bring half a line or ten lines; the program \
               finds the line ends itself.",
        blocks: "Waits until at least one byte has arrived (or the peer closes).",
        wrong: "0 means the peer closed its side (end of file). ECONNRESET: the peer reset the connection \
                (it crashed, or closed with data unread).",
        c_lines: &[(Program::Server, "recv("), (Program::Client, "recv(")],
        differs: "sockchat reads up to 16 KiB at once and splits lines itself, so long lines and fast \
                  senders cost few calls; the classic program reads 255 bytes and prints them as they \
                  come, line or not.",
    },
    Explain {
        name: "send",
        does: "Copies bytes into the kernel's send buffer for this connection and returns how many it took; \
               TCP delivers them later, in order.",
        blocks: "Waits while the send buffer is full, that is while the peer does not read.",
        wrong: "EPIPE or ECONNRESET: the peer has closed. A short count: only part was taken, the rest \
                must be sent again.",
        c_lines: &[(Program::Client, "send(")],
        differs: "sockchat never lets one slow client hold up the others: what does not fit at once goes to \
                  that client's writer thread.",
    },
    Explain {
        name: "writev",
        does: "send() with several buffers at once: many queued lines in one call, so a busy connection \
               costs few calls.",
        blocks: "Waits while the send buffer is full (the peer does not read).",
        wrong: "EPIPE or ECONNRESET: the peer has closed. A client that takes nothing for 10 s is closed as \
                not reading.",
        c_lines: &[(Program::Client, "send(")],
        differs: "The classic program has no writer thread: its send() simply waits. In sockchat, lines that \
                  do not fit the socket at once wait in a queue that this client's writer thread sends \
                  with writev().",
    },
    Explain {
        name: "shutdown",
        does: "Closes one direction of the connection: SHUT_WR says \"I have nothing more to send\" (the \
               peer's recv returns 0) while still reading what comes back. TCP calls this a half-close.",
        blocks: "Never.",
        wrong: "ENOTCONN when the connection is already gone.",
        c_lines: &[(Program::Client, "shutdown(")],
        differs: "",
    },
    Explain {
        name: "close",
        does: "Releases the file descriptor. For a connection, the kernel then sends what is left and a FIN; \
               the side that closes first keeps the port in TIME_WAIT for a while.",
        blocks: "Never (the kernel finishes sending in the background).",
        wrong: "Closing a socket with unread data sends a reset (the peer sees ECONNRESET).",
        c_lines: &[(Program::Server, "close(cfd);"), (Program::Client, "close(fd)")],
        differs: "",
    },
    Explain {
        name: "connect",
        does: "Connects the socket to the server's address: the TCP handshake (SYN, SYN-ACK, ACK). It \
               succeeds once the server's kernel has queued the connection, before its accept() runs.",
        blocks: "Waits for the handshake: a round trip, or until the timeout when no answer comes.",
        wrong: "ECONNREFUSED: nothing listens on that port. ETIMEDOUT: no answer (a firewall, a wrong \
                address). EHOSTUNREACH / ENETUNREACH: no route.",
        c_lines: &[(Program::Client, "connect(")],
        differs: "sockchat tries each address getaddrinfo returned, in order, with a timeout (5 s), and \
                  shows every attempt; the classic client tries only the first.",
    },
];

/// Added to `recv`, `send` and `writev` on a TLS connection: what its bytes are.
pub const OVER_TLS: &str = "This connection is encrypted (TLS), so the bytes are TLS records, not the \
    chat's text: each starts with a 5-byte header (23 = 0x17 for application data, the version 3 3, then \
    the length) followed by the encrypted bytes and a 16-byte tag that proves nobody changed them. \
    sockchat hands what recv brought to rustls, which checks and decrypts it, and finds the lines in what \
    comes out; a line to send is encrypted first. Anyone watching the network sees only these bytes.";

/// The explanation of `name`, if there is one.
pub fn of(name: &str) -> Option<&'static Explain> {
    ALL.iter().find(|e| e.name == name)
}

/// The classic line to show: the role's own program first (a server's recv is in server.c).
pub fn c_line(e: &Explain, server: bool) -> Option<(Program, &'static str)> {
    let own = if server { Program::Server } else { Program::Client };
    e.c_lines.iter().find(|(p, _)| *p == own).or_else(|| e.c_lines.first()).copied()
}

#[cfg(test)]
mod tests {
    use super::super::classic::excerpt;
    use super::*;

    /// The calls the engine records, taken from its source: the name literal among the first two
    /// arguments of each recording call (`sink.call("accept", ...)`, `.quick("close", ...)`,
    /// `flow.add("recv", ...)`, `made(sink, "connect", ...)`, `set_up("bind", ...)`).
    fn recorded_names() -> Vec<String> {
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine")];
        let mut files = Vec::new();
        // The engine's modules and their sub-modules (`server/accept.rs`).
        while let Some(dir) = dirs.pop() {
            for f in std::fs::read_dir(dir).expect("src/engine").flatten() {
                if f.path().is_dir() { dirs.push(f.path()) } else { files.push(f.path()) }
            }
        }
        let mut names = Vec::new();
        for f in files {
            let src = std::fs::read_to_string(&f).unwrap_or_default();
            for pat in [".call(", ".quick(", ".add(", "made(", "set_up("] {
                for (i, _) in src.match_indices(pat) {
                    let rest = &src[i + pat.len()..];
                    let (Some(q), close) = (rest.find('"'), rest.find(')')) else { continue };
                    if close.is_some_and(|c| c < q) || rest[..q].matches(',').count() > 1 {
                        continue;
                    }
                    let lit = &rest[q + 1..];
                    let name = &lit[..lit.find('"').unwrap_or(0)];
                    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                        names.push(name.to_string());
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn every_call_the_engine_records_is_explained() {
        let recorded = recorded_names();
        // The scan itself works: it finds calls made in each of the engine's recording styles.
        for n in ["accept", "bind", "recv", "writev"] {
            assert!(recorded.iter().any(|r| r == n), "the scan missed {n}: {recorded:?}");
        }
        for n in recorded {
            assert!(of(&n).is_some(), "the engine records {n}() but the panel cannot explain it");
        }
        for n in [
            "getaddrinfo",
            "socket",
            "setsockopt",
            "bind",
            "listen",
            "accept",
            "getnameinfo",
            "pthread_create",
            "recv",
            "send",
            "writev",
            "shutdown",
            "close",
            "connect",
        ] {
            assert!(of(n).is_some(), "no explanation for {n}");
        }
    }

    #[test]
    fn each_points_at_a_real_line_of_the_classic_programs() {
        for e in ALL {
            assert!(!e.does.is_empty() && !e.blocks.is_empty() && !e.wrong.is_empty(), "{}", e.name);
            for (p, marker) in e.c_lines {
                assert!(excerpt(*p, marker, 1).is_some(), "{}: {marker:?} not in {}", e.name, p.file());
            }
            assert!(c_line(e, true).is_some() && c_line(e, false).is_some(), "{}", e.name);
        }
        let (line, around) = excerpt(Program::Server, "= accept(", 1).unwrap();
        assert!(around.iter().any(|(n, l)| *n == line && l.contains("accept(lfd")));
    }

    #[test]
    fn accept_says_how_sockchat_differs_from_the_forking_server() {
        let a = of("accept").unwrap();
        assert!(a.differs.contains("fork()") && a.differs.contains("thread"));
        assert!(a.differs.contains("SIGCHLD"));
        assert!(of("bind").unwrap().differs.contains("[::]"));
        assert!(of("getnameinfo").unwrap().differs.contains("thread of its own"));
        assert!(of("getaddrinfo").unwrap().differs.contains("literal IP"));
    }
}
