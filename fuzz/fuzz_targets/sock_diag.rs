//! sock_diag netlink replies: `netlink::sock_diag::parse_messages` on one
//! datagram.
//!
//! Asserts: no panic; each socket's addresses are of its protocol's
//! family; a `Malformed` error points inside the datagram; the sockets
//! found, encoded again as `inet_diag_msg` replies (with the cgroup id
//! attribute when there is one) and followed by `NLMSG_DONE`, parse back
//! to the same sockets and `Done`.
#![no_main]

use std::net::IpAddr;

use cnetstat::model::{Proto, Socket};
use cnetstat::netlink::sock_diag::{parse_messages, DiagError, Progress};
use libfuzzer_sys::fuzz_target;

/// linux/inet_diag.h: replies to a TCPDIAG_GETSOCK dump carry its type.
const TCPDIAG_GETSOCK: u16 = 18;
const INET_DIAG_CGROUP_ID: u16 = 21;

fuzz_target!(|data: &[u8]| {
    let mut sockets = Vec::new();
    match parse_messages(data, &mut sockets) {
        Ok(_) | Err(DiagError::Kernel(_)) => {}
        Err(DiagError::Malformed { offset, problem }) => {
            assert!(offset < data.len(), "{offset} {problem}");
        }
        Err(other) => panic!("a datagram cannot give {other:?}"),
    }
    for socket in &sockets {
        assert_eq!(socket.local.is_ipv4(), socket.proto == Proto::Tcp);
        assert_eq!(socket.remote.is_ipv4(), socket.proto == Proto::Tcp);
    }

    let mut datagram = Vec::new();
    for socket in &sockets {
        encode(socket, &mut datagram);
    }
    let mut done = header(libc::NLMSG_DONE as u16, 4);
    done.extend_from_slice(&0i32.to_ne_bytes());
    datagram.extend_from_slice(&done);
    let mut again = Vec::new();
    assert_eq!(
        parse_messages(&datagram, &mut again).unwrap(),
        Progress::Done
    );
    assert_eq!(again, sockets);
});

fn header(kind: u16, payload_len: usize) -> Vec<u8> {
    let mut header = Vec::with_capacity(16 + payload_len);
    header.extend_from_slice(&(16 + payload_len as u32).to_ne_bytes());
    header.extend_from_slice(&kind.to_ne_bytes());
    header.extend_from_slice(&0x2u16.to_ne_bytes()); // NLM_F_MULTI
    header.extend_from_slice(&1u32.to_ne_bytes()); // seq
    header.extend_from_slice(&0u32.to_ne_bytes()); // pid
    header
}

/// One reply message as the kernel's inet_sk_diag_fill writes it.
fn encode(s: &Socket, out: &mut Vec<u8>) {
    let with_cgroup = s.cgroup_id != 0;
    let mut msg = header(TCPDIAG_GETSOCK, 72 + if with_cgroup { 12 } else { 0 });
    let family = match s.proto {
        Proto::Tcp => libc::AF_INET,
        Proto::Tcp6 => libc::AF_INET6,
    };
    msg.extend_from_slice(&[family as u8, s.state as u8, s.timer as u8, s.retransmits]);
    msg.extend_from_slice(&s.local_port.to_be_bytes());
    msg.extend_from_slice(&s.remote_port.to_be_bytes());
    for address in [s.local, s.remote] {
        let mut bytes = [0u8; 16];
        match address {
            IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => bytes = v6.octets(),
        }
        msg.extend_from_slice(&bytes);
    }
    msg.extend_from_slice(&7u32.to_ne_bytes()); // interface
    msg.extend_from_slice(&(s.cookie as u32).to_ne_bytes());
    msg.extend_from_slice(&((s.cookie >> 32) as u32).to_ne_bytes());
    for word in [s.expires_ms, s.rx_queue, s.tx_queue, s.uid] {
        msg.extend_from_slice(&word.to_ne_bytes());
    }
    let inode = u32::try_from(s.inode).expect("sock_diag inodes are 32 bits");
    msg.extend_from_slice(&inode.to_ne_bytes());
    if with_cgroup {
        msg.extend_from_slice(&12u16.to_ne_bytes());
        msg.extend_from_slice(&INET_DIAG_CGROUP_ID.to_ne_bytes());
        msg.extend_from_slice(&s.cgroup_id.to_ne_bytes());
    }
    out.extend_from_slice(&msg);
}
