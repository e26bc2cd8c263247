use super::*;

pub(crate) fn call(
    id: u64,
    lane: Lane,
    name: &'static str,
    state: CallState,
    data: Option<&[u8]>,
) -> Arc<Call> {
    Arc::new(Call {
        id,
        us: id * 1000,
        thread: "sockchat-r1".into(),
        name,
        args: "fd 7, 16384".into(),
        fd: Some(7),
        peer: Some("127.0.0.1:40266".parse().unwrap()),
        lane,
        state,
        data: data.map(Arc::from),
        lost_before: 0,
    })
}

fn ret(n: usize) -> CallState {
    CallState::Returned { result: format!("{n} bytes"), took_us: 5 }
}

fn recv(id: u64, data: &[u8]) -> Arc<Call> {
    call(id, Lane::Conn(1), "recv", ret(data.len()), Some(data))
}

#[test]
fn a_waiting_call_becomes_its_result_in_place() {
    let mut log = CallLog::new(true);
    log.push(call(1, Lane::Listener, "accept", CallState::Waiting, None));
    log.push(call(2, Lane::Setup, "getnameinfo", ret(0), None));
    log.push(call(1, Lane::Listener, "accept", ret(7), None));
    assert_eq!(log.len(), 2);
    assert_eq!(log.row(0).unwrap().call.name, "accept");
    assert!(matches!(log.row(0).unwrap().call.state, CallState::Returned { .. }));
}

#[test]
fn a_line_split_over_two_recvs_links_to_both_with_its_byte_range() {
    let mut log = CallLog::new(true);
    log.push(recv(1, b"/name ann\nhel"));
    log.push(recv(2, b"lo\r\nbye\n"));
    log.message(Lane::Conn(1), 10, "hello");
    log.message(Lane::Conn(1), 11, "bye");
    let l = log.link(10).unwrap();
    assert_eq!(l.recvs, [1, 2]);
    assert_eq!(l.range, Some((10, 4)));
    let l = log.link(11).unwrap();
    assert_eq!(l.recvs, [2]);
    assert_eq!(l.range, Some((4, 8)));
    assert_eq!(log.by_id(2).unwrap().msgs, [10, 11]);
    log.selected = Some(Selected::Call(2));
    assert_eq!(log.chat_highlight(), HashSet::from([10, 11]));
    log.select_message(10);
    assert_eq!(log.call_highlight(), HashSet::from([1, 2]));
    assert_eq!(log.reveal, Some(1));
}

#[test]
fn blank_lines_are_skipped_and_a_merged_recv_links_without_a_range() {
    let mut log = CallLog::new(true);
    log.push(recv(1, b"\n\r\nhi\n"));
    log.message(Lane::Conn(1), 3, "hi");
    assert_eq!(log.link(3).unwrap().range, Some((3, 6)));
    log.push(call(2, Lane::Conn(1), "recv", CallState::Merged { count: 50, bytes: 900, span_us: 1 }, None));
    log.message(Lane::Conn(1), 4, "flood");
    assert_eq!(log.link(4).unwrap(), &MsgLink { key: log.key(Lane::Conn(1)), recvs: vec![2], range: None });
}

#[test]
fn history_and_bytes_are_bounded_and_say_so() {
    let mut log = CallLog::new(true);
    let big = vec![b'x'; 64 * 1024];
    for id in 1..=(MAX_CALLS as u64 + 5) {
        log.push(recv(id, &big));
    }
    assert!(log.len() <= MAX_CALLS);
    assert!(log.bytes <= MAX_BYTES);
    assert_eq!(log.lanes().len(), 1);
    let note = log.trimmed_note().unwrap();
    assert!(note.contains("older calls left") && note.contains("bytes are gone"), "{note}");
    assert!(log.row(log.span().1 - 1).unwrap().call.data.is_some());
}

#[test]
fn a_restart_keeps_the_old_lanes_greyed_and_ids_apart() {
    let mut log = CallLog::new(false);
    log.push(call(1, Lane::Conn(0), "connect", ret(0), None));
    log.restarted();
    log.push(call(1, Lane::Conn(0), "connect", ret(0), None));
    assert_eq!(log.len(), 2);
    assert_eq!(log.lanes().len(), 2);
    assert!(log.lanes()[0].closed && !log.lanes()[1].closed);
}

#[test]
fn a_paused_call_waits_for_one_answer() {
    let mut log = CallLog::new(true);
    log.push(call(1, Lane::Setup, "socket", CallState::Paused, None));
    assert_eq!(log.paused().unwrap().call.name, "socket");
    log.answer(Step::Next);
    assert_eq!(log.answered(), Some(Step::Next));
    log.push(call(1, Lane::Setup, "socket", ret(3), None));
    assert!(log.paused().is_none() && log.answered().is_none());
}

#[test]
fn a_closed_connection_keeps_its_lane_and_frees_its_column() {
    let mut log = CallLog::new(true);
    log.push(call(1, Lane::Conn(1), "recv", ret(0), Some(b"")));
    log.push(call(2, Lane::Conn(1), "close", ret(0), None));
    log.push(call(3, Lane::Conn(2), "recv", CallState::Waiting, None));
    let l = log.lanes();
    assert!(l[0].closed && !l[1].closed);
    assert_eq!(l[0].col, l[1].col);
}

#[test]
fn lanes_of_connections_gone_from_the_history_leave_it() {
    let mut log = CallLog::new(true);
    for id in 1..=(MAX_CALLS as u64 + 1) {
        let lane = Lane::Conn(id);
        log.push(call(id, lane, "close", ret(0), None));
    }
    assert!(log.lanes().len() <= MAX_CALLS, "{} lanes kept", log.lanes().len());
    assert!(log.lanes().iter().all(|l| l.last >= log.span().0));
}

#[test]
fn over_tls_a_message_is_linked_to_its_recv_without_a_byte_range() {
    // Ciphertext that happens to hold line ends: on a plain lane they would be cut into "lines".
    let cipher = b"\x17\x03\x03\x00\x2a\x9c\nhello\x8e\x11\n\x02";
    let mut log = CallLog::new(true);
    log.push(recv(1, cipher));
    log.name_lane(1, "ann".into(), "127.0.0.1:40266".parse().unwrap());
    log.encrypt_lane(1);
    assert!(log.encrypted(Lane::Conn(1)));
    log.message(Lane::Conn(1), 10, "hello");
    let l = log.link(10).unwrap();
    assert_eq!((l.recvs.as_slice(), l.range), (&[1][..], None));
    assert_eq!(log.by_id(1).unwrap().msgs, [10]);
    // A plain lane beside it still gets its ranges.
    log.push(call(2, Lane::Conn(2), "recv", ret(6), Some(b"hello\n")));
    log.message(Lane::Conn(2), 11, "hello");
    assert_eq!(log.link(11).unwrap().range, Some((0, 6)));
    assert!(!log.encrypted(Lane::Conn(2)));
}
