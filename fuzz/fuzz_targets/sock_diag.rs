//! sock_diag netlink replies: `netlink::sock_diag::parse_message` on each
//! data message of one datagram, walked by `netlink::message::walk_answer`
//! as `dump_tcp` and `dump_udp` walk them.
//!
//! Input: byte 0 chooses the dump (even: TCP's TCPDIAG_GETSOCK replies,
//! odd: UDP's SOCK_DIAG_BY_FAMILY replies), the rest is one datagram.
//!
//! Asserts: no panic; each socket is of the dump's transport and its
//! addresses of its protocol's family; a `Malformed` points into the message it is about (or, for a
//! bad header, at a byte of the datagram); the sockets found, encoded
//! again as `inet_diag_msg` replies (with the cgroup id attribute when
//! there is one) and followed by `NLMSG_DONE`, parse back to the same
//! sockets, and the walk ends done.
#![no_main]

use std::net::IpAddr;

use cnetstat::model::{Socket, Transport};
use cnetstat::netlink::sock_diag::INET_DIAG_CGROUP_ID;
use cnetstat::netlink::sock_diag::{parse_message, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK};
use cnetstat_fuzz::netlink::{done, message, walk, Attrs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let (reply, transport) = match selector % 2 {
        0 => (TCPDIAG_GETSOCK, Transport::Tcp),
        _ => (SOCK_DIAG_BY_FAMILY, Transport::Udp),
    };
    let mut sockets = Vec::new();
    // A kernel error ends the walk too; the sockets before it stand.
    let _ = walk(data, |m| parse_message(m, reply, transport, &mut sockets));
    for socket in &sockets {
        assert_eq!(socket.proto.transport(), transport);
        assert_eq!(socket.local.is_ipv6(), socket.proto.is_ipv6());
        assert_eq!(socket.remote.is_ipv6(), socket.proto.is_ipv6());
    }

    let mut datagram: Vec<u8> = sockets.iter().flat_map(|s| encode(s, reply)).collect();
    datagram.extend_from_slice(&done());
    let mut again = Vec::new();
    let progress = walk(&datagram, |m| {
        parse_message(m, reply, transport, &mut again)
    })
    .unwrap();
    assert!(progress.done);
    assert_eq!(again, sockets);
});

/// One reply message as the kernel's inet_sk_diag_fill writes it.
fn encode(s: &Socket, reply: u16) -> Vec<u8> {
    let family = if s.proto.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    let mut msg = vec![family as u8, s.state as u8, s.timer as u8, s.retransmits];
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
    let mut attrs = Attrs::default();
    if s.cgroup_id != 0 {
        attrs.add(INET_DIAG_CGROUP_ID, &s.cgroup_id.to_ne_bytes());
    }
    message(reply, &msg, attrs).expect("a socket's reply fits its lengths")
}
