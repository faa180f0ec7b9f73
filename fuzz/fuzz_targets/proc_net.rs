//! `/proc/<pid>/net/tcp` and `tcp6`: `parse::proc_net::parse_table`.
//!
//! Input: byte 0 picks the table (bit 0: 0 = tcp, 1 = tcp6), bytes 1–2 the
//! state set (little-endian mask of sock_diag bits; 0 means every state),
//! the rest is the table.
//!
//! Asserts: no panic; every socket kept is of the table's protocol and
//! address family and in the state set; parsing with a state set keeps
//! exactly the sockets that parsing with every state keeps and the set
//! holds, and reports no more malformed lines; the malformed-line report is
//! within the table; each socket, written back as the kernel prints it,
//! parses to the same socket.
#![no_main]

use std::fmt::Write as _;
use std::net::IpAddr;

use cnetstat::model::{Proto, Socket, StateSet};
use cnetstat::parse::proc_net::parse_table;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[kind, mask_lo, mask_hi], table)) = data.split_first_chunk::<3>() else {
        return;
    };
    let proto = if kind & 1 == 0 {
        Proto::Tcp
    } else {
        Proto::Tcp6
    };
    let mask = u32::from(u16::from_le_bytes([mask_lo, mask_hi]));
    let states = if mask == 0 {
        StateSet::ALL
    } else {
        StateSet(mask)
    };

    let mut all = Vec::new();
    let all_bad = parse_table(table, proto, StateSet::ALL, &mut all);
    let mut kept = Vec::new();
    let kept_bad = parse_table(table, proto, states, &mut kept);

    let lines = table.split(|&b| b == b'\n').count();
    for bad in [&all_bad, &kept_bad].into_iter().flatten() {
        assert!(bad.count >= 1 && bad.first_line >= 2 && bad.first_line <= lines);
        assert!(bad.count < lines);
    }
    assert!(all.len() + all_bad.as_ref().map_or(0, |b| b.count) <= lines.saturating_sub(1));
    let filtered: Vec<Socket> = all
        .iter()
        .copied()
        .filter(|s| states.contains(s.state))
        .collect();
    assert_eq!(
        kept, filtered,
        "a state set keeps what it holds of every state's sockets"
    );
    assert!(kept_bad.as_ref().map_or(0, |b| b.count) <= all_bad.as_ref().map_or(0, |b| b.count));

    for socket in &all {
        assert_eq!(socket.proto, proto);
        assert_eq!(socket.local.is_ipv4(), proto == Proto::Tcp);
        assert_eq!(socket.remote.is_ipv4(), proto == Proto::Tcp);
        assert_eq!((socket.cookie, socket.cgroup_id), (0, 0));
        if socket.expires_ms % 10 != 0 {
            // Saturated: more ticks than u32 milliseconds hold.
            assert_eq!(socket.expires_ms, u32::MAX);
            continue;
        }
        let line = kernel_line(socket);
        let mut again = Vec::new();
        let bad = parse_table(line.as_bytes(), proto, StateSet::ALL, &mut again);
        assert!(bad.is_none(), "{line:?}");
        assert_eq!(again, [*socket], "{line:?}");
    }
});

/// A header and the socket's line as tcp4_seq_show / tcp6_seq_show print it.
fn kernel_line(s: &Socket) -> String {
    let mut line = String::from("  sl  local_address rem_address   st\n   0: ");
    for (address, port) in [(s.local, s.local_port), (s.remote, s.remote_port)] {
        match address {
            IpAddr::V4(v4) => write!(line, "{:08X}", u32::from_ne_bytes(v4.octets())),
            IpAddr::V6(v6) => v6.octets().chunks_exact(4).try_for_each(|word| {
                write!(line, "{:08X}", u32::from_ne_bytes(word.try_into().unwrap()))
            }),
        }
        .unwrap();
        write!(line, ":{port:04X} ").unwrap();
    }
    writeln!(
        line,
        "{:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} 1 0000000000000000 100 0 0 10 0",
        s.state as u8,
        s.tx_queue,
        s.rx_queue,
        s.timer as u8,
        s.expires_ms / 10,
        s.retransmits,
        s.uid,
        0,
        s.inode,
    )
    .unwrap();
    line
}
