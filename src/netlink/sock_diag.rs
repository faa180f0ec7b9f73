//! Reads the TCP and UDP sockets of the calling thread's network namespace
//! with netlink sock_diag dumps, the binary interface `ss` uses, instead of
//! the /proc/net text: no formatting in the kernel, no parsing of hex here,
//! and the state filter applied by the kernel. The netlink I/O is
//! netlink/socket.rs's; this module declares the requests and the reply.
//!
//! Format (iproute2 include/uapi/linux/{netlink,sock_diag,inet_diag}.h and
//! misc/ss.c): every reply message is an `nlmsghdr` followed by an
//! `inet_diag_msg` (72 bytes, [`msg`]) and attributes, of which
//! INET_DIAG_CGROUP_ID is kept.
//!
//! For TCP we send the older request, `TCPDIAG_GETSOCK` with an
//! `inet_diag_req` (60 bytes: family, src_len, dst_len, ext, the 48-byte
//! sockid, states, dbs), not `SOCK_DIAG_BY_FAMILY` with an
//! `inet_diag_req_v2`. The kernel answers it with both address families
//! from one walk of its socket hash (net/ipv4/inet_diag.c
//! `inet_diag_dump_compat` sets `AF_UNSPEC`), while the newer request needs
//! one dump, and one walk, per family. The hash is shared by every
//! namespace and walked whole, empty buckets included, on every dump, so on
//! a node with many namespaces the walk, not the sockets, dominates: with
//! 262144 buckets, an empty namespace took 0.66 ms to dump this way and
//! 1.34 ms with two `SOCK_DIAG_BY_FAMILY` dumps.
//!
//! UDP has no such compat request (only TCP and DCCP had one), so it is
//! `SOCK_DIAG_BY_FAMILY` with `sdiag_protocol` IPPROTO_UDP, once per family
//! (net/ipv4/udp_diag.c: the walk skips sockets of the other family; the
//! family selects the handler, so AF_UNSPEC is refused). Only bound
//! (hashed) UDP sockets are in the table, in two states: ESTABLISHED once
//! connected, CLOSE otherwise.
//!
//! The netlink socket belongs to the namespace it is created in, so a caller
//! reading another namespace calls [`dump_tcp`] and [`dump_udp`] inside
//! [`crate::collect::netns_enter::in_netns`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::message::{Message, Request, NLM_F_DUMP};
use super::socket::{exchange, NetlinkError};
use super::wire::Malformed;
use crate::model::{Proto, Socket, StateSet, TcpState, Timer, Transport};

/// linux/inet_diag.h; replies carry the request's type.
pub const TCPDIAG_GETSOCK: u16 = 18;
/// `struct inet_diag_req`: family, src_len, dst_len, ext, the 48-byte
/// `inet_diag_sockid`, states (u32), dbs (u32).
const INET_DIAG_REQ_LEN: usize = 60;
const INET_DIAG_REQ_STATES: std::ops::Range<usize> = 52..56;

/// linux/sock_diag.h; replies carry the request's type.
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states (u32),
/// the 48-byte `inet_diag_sockid`.
const INET_DIAG_REQ_V2_LEN: usize = 56;
const INET_DIAG_REQ_V2_STATES: std::ops::Range<usize> = 4..8;
const IPPROTO_UDP: u8 = 17;

/// Appends to `out` every TCP socket, IPv4 and IPv6, of the calling
/// thread's network namespace whose state is in `states`, in the kernel's
/// hash order. On error `out` is left as it was, so the caller can fall
/// back to /proc for this namespace.
pub fn dump_tcp(states: StateSet, out: &mut Vec<Socket>) -> Result<(), NetlinkError> {
    dump(
        "sock_diag TCP dump",
        &tcp_dump_request(states),
        TCPDIAG_GETSOCK,
        Transport::Tcp,
        out,
    )
}

/// Appends to `out` every UDP socket of one address family of the calling
/// thread's network namespace whose state is in `states`; on error `out`
/// is left as it was.
pub fn dump_udp(ipv6: bool, states: StateSet, out: &mut Vec<Socket>) -> Result<(), NetlinkError> {
    let what = if ipv6 {
        "sock_diag UDP dump (IPv6)"
    } else {
        "sock_diag UDP dump (IPv4)"
    };
    dump(
        what,
        &udp_dump_request(ipv6, states),
        SOCK_DIAG_BY_FAMILY,
        Transport::Udp,
        out,
    )
}

fn dump(
    what: &'static str,
    request: &Request,
    reply: u16,
    transport: Transport,
    out: &mut Vec<Socket>,
) -> Result<(), NetlinkError> {
    let kept = out.len();
    let result = exchange(what, libc::NETLINK_SOCK_DIAG, request, |message| {
        parse_message(message, reply, transport, out)
    });
    if result.is_err() {
        out.truncate(kept);
    }
    result.map(|_| ())
}

/// `inet_diag_req` asking for every TCP socket in `states`.
fn tcp_dump_request(states: StateSet) -> Request {
    // Bits above the known states would ask for states the model cannot
    // hold. No TCP socket in the kernel's hashes is in CLOSE but a
    // bound-only one, which only BOUND_INACTIVE asks for, while any state
    // but LISTEN makes the kernel walk the whole established hash: a
    // LISTEN and CLOSE view (-l, for UDP's sake) must not cost that walk.
    let mut mask = states.0 & StateSet::EVERY.0;
    if !states.intersects(StateSet::BOUND_INACTIVE) {
        mask &= !TcpState::Close.bit();
    }
    let mut body = [0u8; INET_DIAG_REQ_LEN];
    // The family is ignored by a dump; AF_INET is what ss sends.
    body[0] = libc::AF_INET as u8;
    body[INET_DIAG_REQ_STATES].copy_from_slice(&mask.to_ne_bytes());
    Request::new(TCPDIAG_GETSOCK, NLM_F_DUMP, &body)
}

/// `inet_diag_req_v2` asking for every UDP socket of one family in `states`.
fn udp_dump_request(ipv6: bool, states: StateSet) -> Request {
    let mut body = [0u8; INET_DIAG_REQ_V2_LEN];
    body[0] = if ipv6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
    body[1] = IPPROTO_UDP;
    body[INET_DIAG_REQ_V2_STATES].copy_from_slice(&(states.0 & StateSet::UDP.0).to_ne_bytes());
    Request::new(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &body)
}

/// Appends the socket one data message describes, if it is one: messages
/// of other types carry no socket, and a state [`TcpState`] does not know
/// can only come from a kernel that reports states beyond the mask asked.
pub fn parse_message(
    message: &Message<'_>,
    reply: u16,
    transport: Transport,
    out: &mut Vec<Socket>,
) -> Result<(), Malformed> {
    if message.kind != reply {
        return Ok(());
    }
    if let Some(socket) = parse_inet_diag_msg(message, transport)? {
        out.push(socket);
    }
    Ok(())
}
/// `struct inet_diag_msg` (linux/inet_diag.h), the fixed part of every
/// reply; attributes follow it.
mod msg {
    use std::ops::Range;

    pub const LEN: usize = 72;
    pub const FAMILY: usize = 0;
    pub const STATE: usize = 1;
    pub const TIMER: usize = 2;
    pub const RETRANS: usize = 3;
    /// Big-endian, as on the wire.
    pub const SPORT: Range<usize> = 4..6;
    pub const DPORT: Range<usize> = 6..8;
    /// 16 bytes; an IPv4 address is the first 4.
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
    /// The cookie as two host-order u32 words, low word first
    /// (net/core/sock_diag.c `sock_diag_save_cookie`).
    pub const COOKIE_LOW: Range<usize> = 44..48;
    pub const COOKIE_HIGH: Range<usize> = 48..52;
    /// Milliseconds until the timer fires.
    pub const EXPIRES: Range<usize> = 52..56;
    pub const RQUEUE: Range<usize> = 56..60;
    pub const WQUEUE: Range<usize> = 60..64;
    pub const UID: Range<usize> = 64..68;
    pub const INODE: Range<usize> = 68..72;
}

/// `enum inet_diag_attr`: the cgroup v2 id of a full socket's creator, a
/// u64 the kernel adds to every full socket's reply (Linux 5.9+).
pub const INET_DIAG_CGROUP_ID: u16 = 21;

/// The socket an `inet_diag_msg` of a `transport` dump describes; None for
/// an unknown state.
fn parse_inet_diag_msg(
    message: &Message<'_>,
    transport: Transport,
) -> Result<Option<Socket>, Malformed> {
    let m: &[u8; msg::LEN] = message
        .payload
        .get(..msg::LEN)
        .and_then(|m| m.try_into().ok())
        .ok_or(message.malformed("inet_diag_msg shorter than 72 bytes"))?;
    let Some(state) = TcpState::from_code(m[msg::STATE]) else {
        return Ok(None);
    };
    let u32_at = |range: std::ops::Range<usize>| {
        u32::from_ne_bytes([m[range.start], m[range.start + 1], m[range.start + 2], m[range.start + 3]])
    };
    let be16_at = |range: std::ops::Range<usize>| u16::from_be_bytes([m[range.start], m[range.start + 1]]);
    let (proto, local, remote) = match libc::c_int::from(m[msg::FAMILY]) {
        libc::AF_INET => {
            let v4 = |range: std::ops::Range<usize>| {
                IpAddr::V4(Ipv4Addr::new(m[range.start], m[range.start + 1], m[range.start + 2], m[range.start + 3]))
            };
            (Proto::new(transport, false), v4(msg::SRC), v4(msg::DST))
        }
        libc::AF_INET6 => {
            let v6 = |range: std::ops::Range<usize>| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&m[range]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            (Proto::new(transport, true), v6(msg::SRC), v6(msg::DST))
        }
        _ => {
            return Err(message.malformed("inet_diag_msg of a family other than AF_INET and AF_INET6"))
        }
    };
    Ok(Some(Socket {
        proto,
        local,
        local_port: be16_at(msg::SPORT),
        remote,
        remote_port: be16_at(msg::DPORT),
        state,
        uid: u32_at(msg::UID),
        inode: u64::from(u32_at(msg::INODE)),
        rx_queue: u32_at(msg::RQUEUE),
        tx_queue: u32_at(msg::WQUEUE),
        timer: Timer::from_code(m[msg::TIMER]),
        expires_ms: u32_at(msg::EXPIRES),
        retransmits: m[msg::RETRANS],
        cookie: u64::from(u32_at(msg::COOKIE_LOW)) | u64::from(u32_at(msg::COOKIE_HIGH)) << 32,
        cgroup_id: cgroup_id(message)?,
    }))
}

/// The INET_DIAG_CGROUP_ID attribute after the message; 0 when absent
/// (time-wait and request sockets, kernels before 5.9).
fn cgroup_id(message: &Message<'_>) -> Result<u64, Malformed> {
    for attr in message.attrs_after(msg::LEN)? {
        let attr = attr?;
        if attr.kind() == INET_DIAG_CGROUP_ID {
            let bytes: [u8; 8] = attr
                .payload()
                .try_into()
                .map_err(|_| attr.malformed("cgroup id attribute is not 8 bytes"))?;
            return Ok(u64::from_ne_bytes(bytes));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::netns_enter::{in_netns, TestNetns};
    use crate::netlink::message::{walk_answer, DumpError};
    use crate::netlink::socket::record_answer;
    use std::io::Read;
    use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
    use std::path::Path;
    use std::time::{Duration, Instant};

    fn sort(sockets: &mut [Socket]) {
        sockets.sort_by_key(|s| (s.proto, s.local, s.local_port, s.remote, s.remote_port));
    }

    /// What identifies a socket and is the same in every dump of it: not
    /// its timer, queues or cookie.
    type Identity = (Proto, IpAddr, u16, IpAddr, u16, TcpState, u32, u64);

    fn identity(s: &Socket) -> Identity {
        (
            s.proto,
            s.local,
            s.local_port,
            s.remote,
            s.remote_port,
            s.state,
            s.uid,
            s.inode,
        )
    }

    fn sorted_identities(sockets: &[Socket]) -> Vec<Identity> {
        let mut identities: Vec<Identity> = sockets.iter().map(identity).collect();
        identities.sort();
        identities
    }

    /// Sockets of every kind the dump must report, made in the calling
    /// thread's namespace. Dropping it closes them.
    struct KnownSockets {
        /// Open sockets with their expected state; their inodes are looked up
        /// in /proc/self/fd.
        open: Vec<(OwnedFd, TcpState)>,
        /// (local, remote) of the sockets left in TIME_WAIT.
        time_wait: Vec<(SocketAddr, SocketAddr)>,
    }

    impl KnownSockets {
        /// A listener on 127.0.0.1 with one connection to it, and one
        /// TIME_WAIT left by the client closing first; a dual-stack listener
        /// on [::] with a connection from ::1, one from 127.0.0.1 (accepted
        /// as a v4-mapped IPv6 socket), and a v4-mapped TIME_WAIT left by
        /// the accepting side closing first.
        fn make() -> KnownSockets {
            let mut open = Vec::new();
            let mut time_wait = Vec::new();
            let mut keep =
                |stream: TcpStream| open.push((OwnedFd::from(stream), TcpState::Established));

            let listener4 = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr4 = listener4.local_addr().unwrap();
            keep(TcpStream::connect(addr4).unwrap());
            keep(listener4.accept().unwrap().0);
            let closes_first = TcpStream::connect(addr4).unwrap();
            let (mut closes_second, _) = listener4.accept().unwrap();
            time_wait.push((closes_first.local_addr().unwrap(), addr4));
            drop(closes_first);
            assert_eq!(closes_second.read(&mut [0u8; 1]).unwrap(), 0);
            drop(closes_second);

            let listener6 = TcpListener::bind("[::]:0").unwrap();
            let port6 = listener6.local_addr().unwrap().port();
            keep(TcpStream::connect(("::1", port6)).unwrap());
            keep(listener6.accept().unwrap().0);
            keep(TcpStream::connect(("127.0.0.1", port6)).unwrap());
            keep(listener6.accept().unwrap().0);
            let mut closes_second = TcpStream::connect(("127.0.0.1", port6)).unwrap();
            let (closes_first, _) = listener6.accept().unwrap();
            time_wait.push((
                closes_first.local_addr().unwrap(),
                closes_first.peer_addr().unwrap(),
            ));
            drop(closes_first);
            assert_eq!(closes_second.read(&mut [0u8; 1]).unwrap(), 0);
            drop(closes_second);

            open.push((OwnedFd::from(listener4), TcpState::Listen));
            open.push((OwnedFd::from(listener6), TcpState::Listen));
            KnownSockets { open, time_wait }
        }

        /// What the dump must report, from the sockets' own addresses and
        /// their `socket:[N]` links, not from any socket table.
        fn expected(&self, states: StateSet) -> Vec<Identity> {
            let row = |local: SocketAddr, remote: SocketAddr, state, inode| {
                let proto = if local.is_ipv4() {
                    Proto::Tcp
                } else {
                    Proto::Tcp6
                };
                (
                    proto,
                    local.ip(),
                    local.port(),
                    remote.ip(),
                    remote.port(),
                    state,
                    0,
                    inode,
                )
            };
            let mut rows = Vec::new();
            for (fd, state) in &self.open {
                let socket = borrow_as_stream(fd);
                let local = socket.local_addr().unwrap();
                // A listener has no peer: the table shows the wildcard, port 0.
                let remote = socket.peer_addr().unwrap_or_else(|_| {
                    SocketAddr::new(
                        if local.is_ipv4() {
                            Ipv4Addr::UNSPECIFIED.into()
                        } else {
                            Ipv6Addr::UNSPECIFIED.into()
                        },
                        0,
                    )
                });
                rows.push(row(local, remote, *state, inode_of(fd)));
            }
            for &(local, remote) in &self.time_wait {
                rows.push(row(local, remote, TcpState::TimeWait, 0));
            }
            rows.retain(|s| states.contains(s.5));
            rows.sort();
            rows
        }
    }

    /// getsockname/getpeername through std, without giving up the fd.
    fn borrow_as_stream(fd: &OwnedFd) -> std::mem::ManuallyDrop<TcpStream> {
        // SAFETY: the TcpStream is never dropped, so the fd stays owned by `fd`.
        std::mem::ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd.as_fd().as_raw_fd()) })
    }

    fn inode_of(fd: &OwnedFd) -> u64 {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        let link = link.to_str().unwrap();
        link.strip_prefix("socket:[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a socket link: {link}"))
    }

    /// Dumps until both TIME_WAITs show: the closing handshake over loopback
    /// finishes quickly but not synchronously.
    fn dump_settled(netns: &TestNetns, states: StateSet) -> Vec<Socket> {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let mut sockets = Vec::new();
            in_netns(netns.path(), || dump_tcp(states, &mut sockets))
                .unwrap()
                .unwrap();
            let time_waits = sockets
                .iter()
                .filter(|s| s.state == TcpState::TimeWait)
                .count();
            if time_waits == 2 || !states.contains(TcpState::TimeWait) || Instant::now() > deadline
            {
                sort(&mut sockets);
                return sockets;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    // Recorded by `record_fixtures` in a namespace holding `KnownSockets`;
    // testdata/sock_diag/sockets.txt has /proc and `ss -tane` views of the
    // same sockets. Each file is one datagram: the sockets, then NLMSG_DONE.
    const DUMP: &[u8] = include_bytes!("../../testdata/sock_diag/dump-1.bin");
    const DUMP_DONE: &[u8] = include_bytes!("../../testdata/sock_diag/dump-2.bin");

    fn row(proto: Proto, local: &str, remote: &str, state: TcpState, inode: u64) -> Identity {
        let local: SocketAddr = local.parse().unwrap();
        let remote: SocketAddr = remote.parse().unwrap();
        (
            proto,
            local.ip(),
            local.port(),
            remote.ip(),
            remote.port(),
            state,
            0,
            inode,
        )
    }

    /// The sockets of one datagram, and whether it ended the dump.
    fn parse(datagram: &[u8]) -> (Result<bool, DumpError>, Vec<Socket>) {
        let mut out = Vec::new();
        let done = walk_answer(datagram, |m| parse_message(m, TCPDIAG_GETSOCK, Transport::Tcp, &mut out)).map(|p| p.done);
        (done, out)
    }

    /// An nlmsghdr of `kind`, followed by `payload`.
    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut bytes = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&[0; 10]);
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn recorded_dump_holds_both_families_and_v4_mapped_addresses() {
        use Proto::{Tcp, Tcp6};
        use TcpState::*;
        let (done, sockets) = parse(DUMP);
        assert!(!done.unwrap());
        let lo = "127.0.0.1";
        let mapped = "[::ffff:127.0.0.1]";
        // Listeners first (the kernel's listening hash), then its
        // established hash, which holds TIME_WAIT too.
        let expected = [
            row(Tcp, &format!("{lo}:43263"), "0.0.0.0:0", Listen, 1201969),
            row(Tcp6, "[::]:33881", "[::]:0", Listen, 1201974),
            row(
                Tcp,
                &format!("{lo}:49554"),
                &format!("{lo}:33881"),
                Established,
                1201977,
            ),
            row(
                Tcp6,
                &format!("{mapped}:33881"),
                &format!("{mapped}:49554"),
                Established,
                1201978,
            ),
            row(
                Tcp6,
                &format!("{mapped}:33881"),
                &format!("{mapped}:49560"),
                TimeWait,
                0,
            ),
            row(
                Tcp,
                &format!("{lo}:57552"),
                &format!("{lo}:43263"),
                Established,
                1201970,
            ),
            row(
                Tcp,
                &format!("{lo}:57562"),
                &format!("{lo}:43263"),
                TimeWait,
                0,
            ),
            row(Tcp6, "[::1]:33881", "[::1]:55610", Established, 1201976),
            row(Tcp6, "[::1]:55610", "[::1]:33881", Established, 1201975),
            row(
                Tcp,
                &format!("{lo}:43263"),
                &format!("{lo}:57552"),
                Established,
                1201971,
            ),
        ];
        assert_eq!(sockets.iter().map(identity).collect::<Vec<_>>(), expected);

        // `ss -tane` of the same sockets (sockets.txt): their cookies
        // (`sk:`), every full socket in the root cgroup (`cgroup:/`, id 1),
        // the TIME_WAITs' timers (`timer:(timewait,59sec,0)`), and the
        // listeners' backlog of 128 as their send queue.
        let cookies: Vec<u64> = sockets.iter().map(|s| s.cookie).collect();
        assert_eq!(
            cookies,
            [
                0x6fe14, 0x6fe15, 0x6fe16, 0x6fe17, 0x6fe18, 0x6fe19, 0x6fe1a, 0x6fe1b, 0x6fe1c,
                0x6fe1d
            ]
        );
        for socket in &sockets {
            let backlog = if socket.state == Listen { 128 } else { 0 };
            assert_eq!(
                (socket.rx_queue, socket.tx_queue, socket.retransmits),
                (0, backlog, 0)
            );
            if socket.state == TimeWait {
                assert_eq!((socket.timer, socket.cgroup_id), (Timer::TimeWait, 0));
                assert!((59_000..=60_000).contains(&socket.expires_ms), "{socket:?}");
            } else {
                assert_eq!(
                    (socket.timer, socket.expires_ms, socket.cgroup_id),
                    (Timer::None, 0, 1)
                );
            }
        }

        let (done, sockets) = parse(DUMP_DONE);
        assert!(done.unwrap());
        assert!(sockets.is_empty());
    }

    // Recorded by `record_udp_fixtures`; testdata/sock_diag/udp-sockets.txt
    // has the /proc and `ss -uanep` views of the same sockets. One
    // datagram of sockets and one NLMSG_DONE per family.
    const UDP4: &[u8] = include_bytes!("../../testdata/sock_diag/udp4-1.bin");
    const UDP4_DONE: &[u8] = include_bytes!("../../testdata/sock_diag/udp4-2.bin");
    const UDP6: &[u8] = include_bytes!("../../testdata/sock_diag/udp6-1.bin");
    const UDP6_DONE: &[u8] = include_bytes!("../../testdata/sock_diag/udp6-2.bin");

    fn parse_udp(datagram: &[u8]) -> (Result<bool, DumpError>, Vec<Socket>) {
        let mut out = Vec::new();
        let done = walk_answer(datagram, |m| {
            parse_message(m, SOCK_DIAG_BY_FAMILY, Transport::Udp, &mut out)
        })
        .map(|p| p.done);
        (done, out)
    }

    #[test]
    fn recorded_udp_dumps_hold_unconnected_connected_and_kernel_sockets() {
        use Proto::{Udp, Udp6};
        use TcpState::{Close, Established};
        let (done, v4) = parse_udp(UDP4);
        assert!(!done.unwrap());
        // `ss -uanep`: the VXLAN device's socket (no users), then the
        // process's, in the kernel's hash order.
        assert_eq!(
            v4.iter().map(identity).collect::<Vec<_>>(),
            [
                row(Udp, "0.0.0.0:4789", "0.0.0.0:0", Close, 3639663),
                row(Udp, "127.0.0.1:42039", "0.0.0.0:0", Close, 3639654),
                row(Udp, "127.0.0.1:46880", "127.0.0.1:42039", Established, 3639655),
            ]
        );
        let (done, v6) = parse_udp(UDP6);
        assert!(!done.unwrap());
        assert_eq!(
            v6.iter().map(identity).collect::<Vec<_>>(),
            [
                row(Udp6, "[::]:42733", "[::]:0", Close, 3639656),
                row(Udp6, "[::1]:43968", "[::1]:42733", Established, 3639657),
                row(
                    Udp6,
                    "[::ffff:127.0.0.1]:35464",
                    "[::ffff:127.0.0.1]:42733",
                    Established,
                    3639658
                ),
            ]
        );
        // `sk:103120` to `sk:103125`, every one in the root cgroup
        // (`cgroup:/`, id 1), the kernel's socket too; UDP has no timers.
        let cookies: Vec<u64> = v4.iter().chain(&v6).map(|s| s.cookie).collect();
        assert_eq!(
            cookies,
            [0x103120, 0x103121, 0x103122, 0x103123, 0x103124, 0x103125]
        );
        for socket in v4.iter().chain(&v6) {
            assert_eq!(
                (socket.cgroup_id, socket.timer, socket.expires_ms, socket.rx_queue, socket.tx_queue),
                (1, Timer::None, 0, 0, 0)
            );
        }
        for done in [UDP4_DONE, UDP6_DONE] {
            let (done, sockets) = parse_udp(done);
            assert!(done.unwrap());
            assert!(sockets.is_empty());
        }
        // A reply of the TCP request's type is no UDP socket.
        let mut out = Vec::new();
        walk_answer(UDP4, |m| parse_message(m, TCPDIAG_GETSOCK, Transport::Udp, &mut out)).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn udp_request_layout() {
        let request = udp_dump_request(true, StateSet(u32::MAX));
        let mut expected = [0u8; 72];
        expected[0] = 72; // nlmsg_len
        expected[4] = 20; // SOCK_DIAG_BY_FAMILY
        expected[6..8].copy_from_slice(&0x0301u16.to_ne_bytes()); // NLM_F_REQUEST | NLM_F_DUMP
        expected[16] = 10; // AF_INET6
        expected[17] = 17; // IPPROTO_UDP
        expected[20..24].copy_from_slice(&0x82u32.to_ne_bytes()); // ESTABLISHED and CLOSE only
        assert_eq!(request.bytes(), expected);
        assert_eq!(udp_dump_request(false, StateSet::ALL).bytes()[16], 2); // AF_INET
    }

    #[test]
    fn datagrams_may_be_concatenated() {
        let both = [DUMP, DUMP_DONE].concat();
        let (done, sockets) = parse(&both);
        assert!(done.unwrap());
        assert_eq!(sockets.len(), 10);
    }

    #[test]
    fn short_inet_diag_msg_is_malformed() {
        let (result, _) = parse(&message(TCPDIAG_GETSOCK, &DUMP[16..56]));
        assert!(
            matches!(&result, Err(DumpError::Malformed(m)) if m.offset == 16),
            "{result:?}"
        );
    }

    #[test]
    fn unknown_address_family_is_malformed() {
        let mut bytes = DUMP.to_vec();
        bytes[16] = 7;
        let (result, _) = parse(&bytes);
        assert!(
            matches!(&result, Err(DumpError::Malformed(m)) if m.offset == 16),
            "{result:?}"
        );
    }

    #[test]
    fn unknown_state_is_skipped() {
        let mut bytes = DUMP.to_vec();
        bytes[17] = 14; // beyond the kernel's states
        let (done, sockets) = parse(&bytes);
        assert!(!done.unwrap());
        assert_eq!(sockets.len(), 9);
        assert_eq!(sockets[0].local_port, 33881);
    }

    #[test]
    fn messages_of_other_types_are_skipped() {
        // NLMSG_NOOP, and a data type that is not an inet_diag_msg.
        let noop = message(libc::NLMSG_NOOP as u16, &[]);
        let other = message(TCPDIAG_GETSOCK + 1, &[0; 72]);
        let (done, sockets) = parse(&[&noop[..], &other, DUMP].concat());
        assert!(!done.unwrap());
        assert_eq!(sockets.len(), 10);
    }

    #[test]
    fn request_layout() {
        let request = tcp_dump_request(StateSet(u32::MAX));
        let request = request.bytes();
        let mut expected = [0u8; 76];
        expected[0] = 76; // nlmsg_len
        expected[4] = 18; // TCPDIAG_GETSOCK
        expected[6..8].copy_from_slice(&0x0301u16.to_ne_bytes()); // NLM_F_REQUEST | NLM_F_DUMP
        expected[16] = 2; // AF_INET
        expected[68..72].copy_from_slice(&0x3ffeu32.to_ne_bytes()); // states 1..=13 only
        assert_eq!(request, expected);
        // CLOSE without BOUND_INACTIVE asks for nothing TCP has, and would
        // only make the kernel walk the established hash.
        let listening = tcp_dump_request(StateSet::LISTENING);
        assert_eq!(listening.bytes()[68..72], 0x400u32.to_ne_bytes());
    }

    /// Records the datagrams of a dump of [`KnownSockets`] into
    /// testdata/sock_diag, with `ss` and /proc views of the same sockets for
    /// checking the fixture tests by hand. Run with `--ignored` as root.
    #[test]
    #[ignore = "rewrites testdata/sock_diag"]
    fn record_fixtures() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sock_diag");
        std::fs::create_dir_all(&dir).unwrap();
        let netns = TestNetns::new();
        let _known = in_netns(netns.path(), KnownSockets::make).unwrap();
        dump_settled(&netns, StateSet::ALL);
        in_netns(netns.path(), || {
            let answer = record_answer(libc::NETLINK_SOCK_DIAG, &tcp_dump_request(StateSet::ALL));
            for (datagram, bytes) in answer.iter().enumerate() {
                std::fs::write(dir.join(format!("dump-{}.bin", datagram + 1)), bytes).unwrap();
            }
            let mut views = String::new();
            for table in ["tcp", "tcp6"] {
                let text =
                    std::fs::read_to_string(format!("/proc/thread-self/net/{table}")).unwrap();
                views += &format!("$ cat /proc/net/{table}\n{text}\n");
            }
            let ss = std::process::Command::new("ss")
                .arg("-tane")
                .output()
                .unwrap();
            views += "$ ss -tane\n";
            for line in String::from_utf8_lossy(&ss.stdout).lines() {
                views += line.trim_end();
                views += "\n";
            }
            std::fs::write(dir.join("sockets.txt"), views).unwrap();
        })
        .unwrap();
    }

    /// UDP sockets of every kind a dump must report, made in the calling
    /// thread's namespace, and the socket of a VXLAN device, which the
    /// kernel holds: an inode, and no process. Dropping it closes the
    /// sockets; the device goes with the namespace.
    struct KnownUdp {
        open: Vec<(UdpSocket, TcpState)>,
    }

    /// The VXLAN device's UDP port (IANA's; flannel's is 8472).
    const VXLAN_PORT: u16 = 4789;

    impl KnownUdp {
        /// An unconnected socket on 127.0.0.1 and one connected to it; a
        /// dual-stack unconnected socket on [::], one connected to it from
        /// ::1 and one from IPv4 (a v4-mapped IPv6 socket); and a VXLAN
        /// device, up, whose socket listens on 0.0.0.0:4789.
        fn make() -> KnownUdp {
            let server4 = UdpSocket::bind("127.0.0.1:0").unwrap();
            let client4 = UdpSocket::bind("127.0.0.1:0").unwrap();
            client4.connect(server4.local_addr().unwrap()).unwrap();
            let server6 = UdpSocket::bind("[::]:0").unwrap();
            let port6 = server6.local_addr().unwrap().port();
            let client6 = UdpSocket::bind("[::1]:0").unwrap();
            client6.connect(("::1", port6)).unwrap();
            let mapped = UdpSocket::bind("[::]:0").unwrap();
            mapped.connect(("::ffff:127.0.0.1", port6)).unwrap();
            // A child process runs in the namespace of the thread that forks it.
            for args in [
                &["link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789"][..],
                &["link", "set", "vx0", "up"],
            ] {
                let status = std::process::Command::new("ip").args(args).status().unwrap();
                assert!(status.success(), "ip {args:?}: {status}");
            }
            KnownUdp {
                open: vec![
                    (server4, TcpState::Close),
                    (client4, TcpState::Established),
                    (server6, TcpState::Close),
                    (client6, TcpState::Established),
                    (mapped, TcpState::Established),
                ],
            }
        }

        /// What a dump must report of the sockets a process holds, from
        /// their own addresses and `socket:[N]` links; the VXLAN socket's
        /// inode is not known beforehand, so it is not among them.
        fn expected(&self, states: StateSet) -> Vec<Identity> {
            let mut rows: Vec<Identity> = self
                .open
                .iter()
                .map(|(socket, state)| {
                    let local = socket.local_addr().unwrap();
                    let unspecified = if local.is_ipv4() {
                        IpAddr::from(Ipv4Addr::UNSPECIFIED)
                    } else {
                        IpAddr::from(Ipv6Addr::UNSPECIFIED)
                    };
                    let remote = socket
                        .peer_addr()
                        .unwrap_or_else(|_| SocketAddr::new(unspecified, 0));
                    let proto = if local.is_ipv4() { Proto::Udp } else { Proto::Udp6 };
                    let inode = inode_of(&socket.as_fd().try_clone_to_owned().unwrap());
                    (proto, local.ip(), local.port(), remote.ip(), remote.port(), *state, 0, inode)
                })
                .filter(|row| states.contains(row.5))
                .collect();
            rows.sort();
            rows
        }
    }

    /// Both families' UDP dumps of the namespace.
    fn dump_udp_both(netns: &TestNetns, states: StateSet) -> Vec<Socket> {
        in_netns(netns.path(), || {
            let mut sockets = Vec::new();
            dump_udp(false, states, &mut sockets).unwrap();
            dump_udp(true, states, &mut sockets).unwrap();
            sockets
        })
        .unwrap()
    }

    #[test]
    fn udp_dumps_report_every_bound_socket_and_the_kernels_own() {
        let netns = TestNetns::new();
        let known = in_netns(netns.path(), KnownUdp::make).unwrap();
        let dumped = dump_udp_both(&netns, StateSet::ALL);
        let inodes: Vec<u64> = known.expected(StateSet::ALL).iter().map(|row| row.7).collect();
        // The VXLAN socket: unconnected on the wildcard, with an inode no
        // process holds.
        let kernel: Vec<&Socket> = dumped
            .iter()
            .filter(|s| s.local_port == VXLAN_PORT)
            .collect();
        assert_eq!(kernel.len(), 1, "{dumped:#?}");
        let vxlan = kernel[0];
        assert_eq!(
            (vxlan.proto, vxlan.local, vxlan.state, vxlan.remote_port),
            (Proto::Udp, IpAddr::from(Ipv4Addr::UNSPECIFIED), TcpState::Close, 0)
        );
        assert!(vxlan.inode != 0 && !inodes.contains(&vxlan.inode), "{vxlan:?}");
        let held: Vec<Socket> = dumped
            .iter()
            .filter(|s| s.local_port != VXLAN_PORT)
            .copied()
            .collect();
        assert_eq!(sorted_identities(&held), known.expected(StateSet::ALL));
        assert!(held.iter().all(|s| s.cgroup_id != 0 && s.timer == Timer::None));
    }

    #[test]
    fn udp_state_mask_is_applied_by_the_kernel_and_tcp_states_ask_for_nothing() {
        let netns = TestNetns::new();
        let known = in_netns(netns.path(), KnownUdp::make).unwrap();
        let connected = StateSet(TcpState::Established.bit());
        assert_eq!(
            sorted_identities(&dump_udp_both(&netns, connected)),
            known.expected(connected)
        );
        // Two unconnected sockets of processes, and the VXLAN device's.
        let unconnected = dump_udp_both(&netns, StateSet(TcpState::Close.bit()));
        assert_eq!(unconnected.len(), 3, "{unconnected:#?}");
        assert!(unconnected.iter().all(|s| s.state == TcpState::Close));
        let time_wait = StateSet(TcpState::TimeWait.bit() | TcpState::Listen.bit());
        assert!(dump_udp_both(&netns, time_wait).is_empty());
    }

    /// Records the datagrams of the UDP dumps of [`KnownUdp`] into
    /// testdata/sock_diag, the namespace's /proc/net/udp and udp6 into
    /// testdata/proc_net, its sockstat into testdata/sockstat, and the `ss`
    /// view of the same sockets for checking the fixture tests by hand.
    /// Run with `--ignored` as root.
    #[test]
    #[ignore = "rewrites testdata/sock_diag/udp*, testdata/proc_net/udp*, testdata/sockstat/udp-*"]
    fn record_udp_fixtures() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let netns = TestNetns::new();
        let _known = in_netns(netns.path(), KnownUdp::make).unwrap();
        in_netns(netns.path(), || {
            for (family, ipv6) in [("udp4", false), ("udp6", true)] {
                let answer = record_answer(
                    libc::NETLINK_SOCK_DIAG,
                    &udp_dump_request(ipv6, StateSet::ALL),
                );
                for (datagram, bytes) in answer.iter().enumerate() {
                    let file = format!("sock_diag/{family}-{}.bin", datagram + 1);
                    std::fs::write(root.join(file), bytes).unwrap();
                }
            }
            let mut views = String::new();
            for table in ["udp", "udp6"] {
                let text =
                    std::fs::read_to_string(format!("/proc/thread-self/net/{table}")).unwrap();
                std::fs::write(root.join("proc_net").join(table), &text).unwrap();
                views += &format!("$ cat /proc/net/{table}\n{text}\n");
            }
            for table in ["sockstat", "sockstat6"] {
                let text =
                    std::fs::read(format!("/proc/thread-self/net/{table}")).unwrap();
                std::fs::write(root.join("sockstat").join(format!("udp-{table}")), text).unwrap();
            }
            let ss = std::process::Command::new("ss")
                .arg("-uanep")
                .output()
                .unwrap();
            views += "$ ss -uanep\n";
            for line in String::from_utf8_lossy(&ss.stdout).lines() {
                views += line.trim_end();
                views += "\n";
            }
            std::fs::write(root.join("sock_diag/udp-sockets.txt"), views).unwrap();
        })
        .unwrap();
    }

    #[test]
    fn dump_in_a_namespace_reports_exactly_its_sockets() {
        let netns = TestNetns::new();
        let known = in_netns(netns.path(), KnownSockets::make).unwrap();
        let dumped = dump_settled(&netns, StateSet::ALL);
        assert_eq!(sorted_identities(&dumped), known.expected(StateSet::ALL));
        // 2 listeners, 3 connections of 2 sockets each, 2 TIME_WAITs.
        assert_eq!(dumped.len(), 10);
    }

    #[test]
    fn state_mask_is_applied_by_the_kernel() {
        let netns = TestNetns::new();
        let known = in_netns(netns.path(), KnownSockets::make).unwrap();
        for states in [
            StateSet(TcpState::TimeWait.bit()),
            StateSet(TcpState::Listen.bit()),
            StateSet(TcpState::Established.bit() | TcpState::Listen.bit()),
        ] {
            let dumped = dump_settled(&netns, states);
            let expected = known.expected(states);
            assert!(!expected.is_empty());
            assert_eq!(sorted_identities(&dumped), expected, "{states:?}");
        }
    }

    #[test]
    fn v4_mapped_sockets_are_ipv6_in_proc_too() {
        let netns = TestNetns::new();
        let known = in_netns(netns.path(), KnownSockets::make).unwrap();
        let dumped = dump_settled(&netns, StateSet::ALL);
        let (tcp, tcp6) = in_netns(netns.path(), || {
            (
                std::fs::read_to_string("/proc/thread-self/net/tcp").unwrap(),
                std::fs::read_to_string("/proc/thread-self/net/tcp6").unwrap(),
            )
        })
        .unwrap();
        // ::ffff:127.0.0.1 as /proc prints it: four host-order words.
        let mapped_loopback = "0000000000000000FFFF00000100007F";
        let mapped: Vec<_> = dumped
            .iter()
            .filter(|s| s.local == "::ffff:127.0.0.1".parse::<IpAddr>().unwrap())
            .collect();
        assert_eq!(mapped.len(), 2, "{dumped:#?}");
        for socket in mapped {
            assert_eq!(socket.proto, Proto::Tcp6);
            let local = format!("{mapped_loopback}:{:04X}", socket.local_port);
            let remote = format!("{mapped_loopback}:{:04X}", socket.remote_port);
            let row = tcp6
                .lines()
                .find(|line| {
                    let mut fields = line.split_whitespace().skip(1);
                    fields.next() == Some(&local) && fields.next() == Some(&remote)
                })
                .unwrap_or_else(|| panic!("{local} {remote} not in tcp6:\n{tcp6}"));
            let state = row.split_whitespace().nth(3).unwrap();
            assert_eq!(state, format!("{:02X}", socket.state as u8));
            // The IPv4 table holds only the connecting side of these connections.
            let as_ipv4 = format!("0100007F:{:04X}", socket.local_port);
            assert!(
                !tcp.lines()
                    .any(|line| line.split_whitespace().nth(1) == Some(&as_ipv4)),
                "{as_ipv4} in tcp:\n{tcp}"
            );
        }
        drop(known);
    }

    /// Raises the soft open-files limit to the hard one for this process.
    fn raise_fd_limit() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write one rlimit.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
            limit.rlim_cur = limit.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }

    /// `connections` established loopback pairs (held open) and `time_waits`
    /// connections closed client first, on one listener.
    fn make_load(connections: usize, time_waits: usize) -> Vec<TcpStream> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::with_capacity(2 * connections);
        for _ in 0..connections {
            held.push(TcpStream::connect(addr).unwrap());
            held.push(listener.accept().unwrap().0);
        }
        for _ in 0..time_waits {
            let client = TcpStream::connect(addr).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            drop(client);
            assert_eq!(server.read(&mut [0u8; 1]).unwrap(), 0);
        }
        held
    }

    fn median_of(runs: usize, mut work: impl FnMut()) -> Duration {
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                work();
                start.elapsed()
            })
            .collect();
        times.sort();
        times[runs / 2]
    }

    /// Prints how long a netlink dump and a read of the /proc text take in
    /// a namespace holding ~21k sockets, and in an empty one while those
    /// exist. Run alone: `cargo test --release measure_ -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement, not a check: makes ~21k sockets"]
    fn measure_dump_against_proc_text() {
        raise_fd_limit();
        let busy = TestNetns::new();
        let empty = TestNetns::new();
        let _held = in_netns(busy.path(), || make_load(9_000, 3_000)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        for (label, netns) in [("busy", &busy), ("empty", &empty)] {
            in_netns(netns.path(), || {
                let mut sockets = Vec::with_capacity(1 << 15);
                let time = median_of(21, || {
                    sockets.clear();
                    dump_tcp(StateSet::ALL, &mut sockets).unwrap();
                });
                println!("{label}: netlink dump: {time:?} for {} sockets", sockets.len());
                let only_time_wait = StateSet(TcpState::TimeWait.bit());
                let time = median_of(21, || {
                    sockets.clear();
                    dump_tcp(only_time_wait, &mut sockets).unwrap();
                });
                println!(
                    "{label}: netlink dump of TIME_WAIT only: {time:?} for {} sockets",
                    sockets.len()
                );

                let mut text = Vec::with_capacity(8 << 20);
                let mut bytes = 0;
                let time = median_of(21, || {
                    bytes = 0;
                    for table in ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"] {
                        text.clear();
                        std::fs::File::open(table)
                            .unwrap()
                            .read_to_end(&mut text)
                            .unwrap();
                        bytes += text.len();
                    }
                });
                println!("{label}: read /proc tcp+tcp6 text: {time:?} for {bytes} bytes");
            })
            .unwrap();
            let netns_name = netns.path().file_name().unwrap().to_str().unwrap();
            let time = median_of(5, || {
                let ss = std::process::Command::new("ip")
                    .args(["netns", "exec", netns_name, "ss", "-tan"])
                    .output()
                    .unwrap();
                assert!(ss.status.success());
            });
            println!("{label}: ip netns exec ss -tan: {time:?}");
        }
    }
}
