//! A connection's TCP state as the kernel keeps it: what `ss -ti` shows, for the client list and the
//! status bar. A class sees a client that closed its side sit in CLOSE_WAIT until the server closes too.
//!
//! Linux answers `getsockopt(TCP_INFO)`; elsewhere the state is "not available" rather than guessed.

use std::net::TcpStream;

use crate::calls::{Lane, TcpConn};

#[cfg(unix)]
fn fd_of(s: &TcpStream) -> i32 {
    use std::os::fd::AsRawFd;
    s.as_raw_fd()
}

#[cfg(not(unix))]
fn fd_of(_: &TcpStream) -> i32 {
    -1
}

/// The state and smoothed round-trip time of `s`, for the connection shown as `lane`.
pub(crate) fn probe(s: &TcpStream, lane: Lane) -> TcpConn {
    let fd = fd_of(s);
    let (state, rtt_us) = read(fd);
    TcpConn { lane, fd, state, rtt_us }
}

/// Linux's `tcp_states.h` numbering.
#[cfg(target_os = "linux")]
fn state_name(n: u8) -> Option<&'static str> {
    const NAMES: [&str; 12] = [
        "",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
    ];
    NAMES.get(usize::from(n)).copied().filter(|s| !s.is_empty())
}

#[cfg(target_os = "linux")]
fn read(fd: i32) -> (Option<&'static str>, Option<u32>) {
    // SAFETY: tcp_info is plain integers, so all zeroes is a valid value; the kernel writes at most `len`
    // bytes into it and says how many.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes of the sizes given; a closed fd gives an error.
    let rc = unsafe {
        libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, (&raw mut info).cast(), &raw mut len)
    };
    if rc != 0 {
        return (None, None);
    }
    let rtt = (info.tcpi_state != 10).then_some(info.tcpi_rtt);
    (state_name(info.tcpi_state), rtt)
}

#[cfg(not(target_os = "linux"))]
fn read(_: i32) -> (Option<&'static str>, Option<u32>) {
    (None, None)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{Shutdown, TcpListener};

    #[test]
    fn established_then_close_wait_after_the_peer_shuts_its_side() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        assert_eq!(probe(&s, Lane::Conn(1)).state, Some("ESTABLISHED"));
        assert!(probe(&s, Lane::Conn(1)).rtt_us.is_some());
        c.shutdown(Shutdown::Write).unwrap();
        // End of file on our side means the kernel has taken the peer's FIN.
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        assert_eq!((&s).read(&mut [0u8; 8]).unwrap(), 0);
        assert_eq!(probe(&s, Lane::Conn(1)).state, Some("CLOSE_WAIT"));
        // The side that shut down waits for the other's FIN: one of the two FIN_WAIT states.
        let ours = probe(&c, Lane::Conn(0)).state;
        assert!(matches!(ours, Some("FIN_WAIT1" | "FIN_WAIT2")), "{ours:?}");
    }
}
