//! Reads the TCP sockets of the calling thread's network namespace with a
//! netlink sock_diag dump, the binary interface `ss` uses, instead of the
//! /proc/net/tcp text: no formatting in the kernel, no parsing of hex here,
//! and the state filter applied by the kernel. The netlink I/O is
//! netlink/socket.rs's; this module declares the request and the reply.
//!
//! Format (iproute2 include/uapi/linux/{netlink,sock_diag,inet_diag}.h and
//! misc/ss.c): every reply message is an `nlmsghdr` followed by an
//! `inet_diag_msg` (72 bytes, [`msg`]) and attributes, of which
//! INET_DIAG_CGROUP_ID is kept.
//!
//! We send the older request, `TCPDIAG_GETSOCK` with an `inet_diag_req`
//! (60 bytes: family, src_len, dst_len, ext, the 48-byte sockid, states,
//! dbs), not `SOCK_DIAG_BY_FAMILY` with an `inet_diag_req_v2`. The kernel
//! answers it with both address families from one walk of its socket hash
//! (net/ipv4/inet_diag.c `inet_diag_dump_compat` sets `AF_UNSPEC`), while
//! the newer request needs one dump, and one walk, per family. The hash is
//! shared by every namespace and walked whole, empty buckets included, on
//! every dump, so on a node with many namespaces the walk, not the sockets,
//! dominates: with 262144 buckets, an empty namespace took 0.66 ms to dump
//! this way and 1.34 ms with two `SOCK_DIAG_BY_FAMILY` dumps.
//!
//! The netlink socket belongs to the namespace it is created in, so a caller
//! reading another namespace calls [`dump_tcp`] inside
//! [`crate::collect::netns_enter::in_netns`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::message::{Message, Request, NLM_F_DUMP};
use super::socket::{exchange, NetlinkError};
use super::wire::Malformed;
use crate::model::{Proto, Socket, StateSet, TcpState, Timer};

/// linux/inet_diag.h; replies carry the request's type.
const TCPDIAG_GETSOCK: u16 = 18;
/// `struct inet_diag_req`: family, src_len, dst_len, ext, the 48-byte
/// `inet_diag_sockid`, states (u32), dbs (u32).
const INET_DIAG_REQ_LEN: usize = 60;
const INET_DIAG_REQ_STATES: std::ops::Range<usize> = 52..56;

/// Appends to `out` every TCP socket, IPv4 and IPv6, of the calling
/// thread's network namespace whose state is in `states`, in the kernel's
/// hash order. On error `out` is left as it was, so the caller can fall
/// back to /proc for this namespace.
pub fn dump_tcp(states: StateSet, out: &mut Vec<Socket>) -> Result<(), NetlinkError> {
    let kept = out.len();
    let result = exchange(
        "sock_diag TCP dump",
        libc::NETLINK_SOCK_DIAG,
        &dump_request(states),
        |message| parse_message(message, out),
    );
    if result.is_err() {
        out.truncate(kept);
    }
    result.map(|_| ())
}

/// `inet_diag_req` asking for every TCP socket in `states`.
fn dump_request(states: StateSet) -> Request {
    let mut body = [0u8; INET_DIAG_REQ_LEN];
    // The family is ignored by a dump; AF_INET is what ss sends.
    body[0] = libc::AF_INET as u8;
    // Bits above the known states would ask for states the model cannot hold.
    body[INET_DIAG_REQ_STATES].copy_from_slice(&(states.0 & StateSet::EVERY.0).to_ne_bytes());
    Request::new(TCPDIAG_GETSOCK, NLM_F_DUMP, &body)
}

/// Appends the socket one data message describes, if it is one: messages
/// of other types carry no socket, and a state [`TcpState`] does not know
/// can only come from a kernel that reports states beyond the mask asked.
pub fn parse_message(message: &Message<'_>, out: &mut Vec<Socket>) -> Result<(), Malformed> {
    if message.kind != TCPDIAG_GETSOCK {
        return Ok(());
    }
    if let Some(socket) = parse_inet_diag_msg(message)? {
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
const INET_DIAG_CGROUP_ID: u16 = 21;

/// The socket an `inet_diag_msg` describes; None for an unknown state.
fn parse_inet_diag_msg(message: &Message<'_>) -> Result<Option<Socket>, Malformed> {
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
            (Proto::Tcp, v4(msg::SRC), v4(msg::DST))
        }
        libc::AF_INET6 => {
            let v6 = |range: std::ops::Range<usize>| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&m[range]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            (Proto::Tcp6, v6(msg::SRC), v6(msg::DST))
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
    use std::net::{SocketAddr, TcpListener, TcpStream};
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
        let done = walk_answer(datagram, |m| parse_message(m, &mut out)).map(|p| p.done);
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
        let request = dump_request(StateSet(u32::MAX));
        let request = request.bytes();
        let mut expected = [0u8; 76];
        expected[0] = 76; // nlmsg_len
        expected[4] = 18; // TCPDIAG_GETSOCK
        expected[6..8].copy_from_slice(&0x0301u16.to_ne_bytes()); // NLM_F_REQUEST | NLM_F_DUMP
        expected[16] = 2; // AF_INET
        expected[68..72].copy_from_slice(&0x3ffeu32.to_ne_bytes()); // states 1..=13 only
        assert_eq!(request, expected);
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
            let answer = record_answer(libc::NETLINK_SOCK_DIAG, &dump_request(StateSet::ALL));
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
