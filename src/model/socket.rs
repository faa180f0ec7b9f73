//! A socket as the kernel reports it, from sock_diag or the `/proc` text
//! tables: every field either gives, so port budgets (timers), watch mode
//! (cookies) and cgroup attribution (cgroup ids) can use them later, and a
//! recorded snapshot keeps them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A socket's protocol and address family, as `ss` and `/proc/net` name
/// them: `tcp6` and `udp6` sockets are AF_INET6, dual-stack ones included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
}

impl Proto {
    pub const ALL: [Proto; 4] = [Proto::Tcp, Proto::Tcp6, Proto::Udp, Proto::Udp6];

    pub fn new(transport: Transport, ipv6: bool) -> Proto {
        match (transport, ipv6) {
            (Transport::Tcp, false) => Proto::Tcp,
            (Transport::Tcp, true) => Proto::Tcp6,
            (Transport::Udp, false) => Proto::Udp,
            (Transport::Udp, true) => Proto::Udp6,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Tcp6 => "tcp6",
            Proto::Udp => "udp",
            Proto::Udp6 => "udp6",
        }
    }

    pub fn from_name(name: &str) -> Option<Proto> {
        Proto::ALL.into_iter().find(|proto| proto.name() == name)
    }

    pub fn transport(self) -> Transport {
        match self {
            Proto::Tcp | Proto::Tcp6 => Transport::Tcp,
            Proto::Udp | Proto::Udp6 => Transport::Udp,
        }
    }

    pub fn is_ipv6(self) -> bool {
        matches!(self, Proto::Tcp6 | Proto::Udp6)
    }
}

/// TCP or UDP whatever the address family: each has a port space of its
/// own in every namespace, which IPv4 and IPv6 share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// Which transports a read or a view covers (`-t`, `-u`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocols {
    pub tcp: bool,
    pub udp: bool,
}

impl Protocols {
    pub const TCP: Protocols = Protocols {
        tcp: true,
        udp: false,
    };
    pub const BOTH: Protocols = Protocols {
        tcp: true,
        udp: true,
    };

    pub fn has(self, transport: Transport) -> bool {
        match transport {
            Transport::Tcp => self.tcp,
            Transport::Udp => self.udp,
        }
    }
}

/// TCP states with the kernel's numbering (include/net/tcp_states.h), which
/// both /proc/net/tcp and sock_diag report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TcpState {
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
    NewSynRecv = 12,
}

impl TcpState {
    pub const ALL: [TcpState; 12] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
    ];

    pub fn from_code(code: u8) -> Option<TcpState> {
        TcpState::ALL
            .get(usize::from(code).checked_sub(1)?)
            .copied()
    }

    /// The kernel's name, as in include/net/tcp_states.h without the prefix.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW_SYN_RECV",
        }
    }

    /// This state's bit in a sock_diag `idiag_states` mask and in [`StateSet`].
    pub const fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// A set of TCP states, laid out as sock_diag's `idiag_states` mask so a
/// filter can be pushed into the kernel unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StateSet(pub u32);

impl StateSet {
    /// Every state a listing shows with `-a`.
    pub const ALL: StateSet = StateSet(0x1ffe);
    /// Every state, and bound-only sockets, for recordings and port
    /// budgets: sock_diag dumps those since Linux 6.8 when asked for the
    /// pseudo-state 13 (TCP_BOUND_INACTIVE, ss -B), and reports them in
    /// their real state, CLOSE. No other socket it dumps is in CLOSE.
    pub const EVERY: StateSet = StateSet(0x3ffe);
    /// The only states a UDP socket takes: ESTABLISHED once connected,
    /// CLOSE (shown as UNCONN) otherwise.
    pub const UDP: StateSet = StateSet(TcpState::Established.bit() | TcpState::Close.bit());
    /// Where a socket receives from anyone: TCP's LISTEN, and CLOSE, an
    /// unconnected UDP socket's state (and, for TCP, only a bound-only
    /// socket's, which a recording holds); ss's `-l`.
    pub const LISTENING: StateSet = StateSet(TcpState::Listen.bit() | TcpState::Close.bit());
    /// TCP_BOUND_INACTIVE, the pseudo-state that asks sock_diag for
    /// bound-only TCP sockets (reported in CLOSE).
    pub const BOUND_INACTIVE: StateSet = StateSet(1 << 13);

    pub fn contains(self, state: TcpState) -> bool {
        self.0 & state.bit() != 0
    }

    pub fn intersects(self, other: StateSet) -> bool {
        self.0 & other.0 != 0
    }
}

/// A socket's state as views name, count and group it: the kernel's,
/// except that an unconnected UDP socket, which the kernel keeps in CLOSE,
/// is UNCONN, as ss shows it. A connected UDP socket is ESTABLISHED, as in
/// the kernel and ss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShownState {
    Kernel(TcpState),
    Unconn,
}

impl ShownState {
    /// Every shown state in the kernel's order, UNCONN next to CLOSE.
    pub const ORDER: [ShownState; 13] = [
        ShownState::Kernel(TcpState::Established),
        ShownState::Kernel(TcpState::SynSent),
        ShownState::Kernel(TcpState::SynRecv),
        ShownState::Kernel(TcpState::FinWait1),
        ShownState::Kernel(TcpState::FinWait2),
        ShownState::Kernel(TcpState::TimeWait),
        ShownState::Kernel(TcpState::Close),
        ShownState::Unconn,
        ShownState::Kernel(TcpState::CloseWait),
        ShownState::Kernel(TcpState::LastAck),
        ShownState::Kernel(TcpState::Listen),
        ShownState::Kernel(TcpState::Closing),
        ShownState::Kernel(TcpState::NewSynRecv),
    ];

    pub fn name(self) -> &'static str {
        match self {
            ShownState::Kernel(state) => state.name(),
            ShownState::Unconn => "UNCONN",
        }
    }

    /// Its place in [`ShownState::ORDER`], for counting in an array.
    pub fn index(self) -> usize {
        match self {
            ShownState::Kernel(state) if state < TcpState::CloseWait => state as usize - 1,
            ShownState::Kernel(state) => state as usize,
            ShownState::Unconn => TcpState::Close as usize,
        }
    }
}

/// Which of a socket's timers is pending: the kernel's `idiag_timer` codes,
/// which `/proc/net/tcp` prints in its `tr` column too (net/ipv4/tcp_ipv4.c
/// `get_tcp4_sock`, net/ipv4/inet_diag.c `inet_sk_diag_fill`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Timer {
    None = 0,
    /// Retransmission, loss probe or reordering timeout: ss's "on".
    Retransmit = 1,
    Keepalive = 2,
    TimeWait = 3,
    /// Zero-window probe: ss's "persist".
    Probe = 4,
}

impl Timer {
    /// An unknown code reads as no timer: the kernel has used 0–4 since
    /// inet_diag began, and a socket is worth listing whatever its timer.
    pub fn from_code(code: u8) -> Timer {
        match code {
            1 => Timer::Retransmit,
            2 => Timer::Keepalive,
            3 => Timer::TimeWait,
            4 => Timer::Probe,
            _ => Timer::None,
        }
    }

    /// ss's name, which the JSON uses too; None for no timer.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Timer::None => None,
            Timer::Retransmit => Some("retransmit"),
            Timer::Keepalive => Some("keepalive"),
            Timer::TimeWait => Some("timewait"),
            Timer::Probe => Some("probe"),
        }
    }
}

/// One row of a socket table. It is `Copy` and owns nothing, so reading a
/// table allocates nothing per socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub remote_port: u16,
    pub state: TcpState,
    pub uid: u32,
    /// 0 when no file refers to the socket: TIME_WAIT, request and orphan sockets.
    pub inode: u64,
    pub rx_queue: u32,
    pub tx_queue: u32,
    pub timer: Timer,
    /// Milliseconds until `timer` fires; 0 without a timer. The text tables
    /// count in clock ticks (USER_HZ, 100 a second), so theirs are multiples of 10.
    pub expires_ms: u32,
    /// Retransmits or probes so far (`idiag_retrans`, the text's `retrnsmt`).
    pub retransmits: u8,
    /// The kernel's socket cookie (`idiag_cookie`), unique on the node for
    /// the socket's life and kept by its TIME_WAIT; 0 from the text tables,
    /// which do not print it.
    pub cookie: u64,
    /// The cgroup v2 id of the socket's creator (INET_DIAG_CGROUP_ID, full
    /// sockets only); 0 when unknown.
    pub cgroup_id: u64,
}

impl Socket {
    pub fn shown_state(&self) -> ShownState {
        match (self.proto.transport(), self.state) {
            (Transport::Udp, TcpState::Close) => ShownState::Unconn,
            (_, state) => ShownState::Kernel(state),
        }
    }

    /// Receives from anyone on its port: a TCP listener, or an unconnected
    /// UDP socket. Any other socket on such a port of its namespace was
    /// accepted there (TCP), or connected there from it (UDP).
    pub fn listens(&self) -> bool {
        match self.proto.transport() {
            Transport::Tcp => self.state == TcpState::Listen,
            Transport::Udp => self.state == TcpState::Close,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_states_index_their_order() {
        for (i, state) in ShownState::ORDER.into_iter().enumerate() {
            assert_eq!(state.index(), i, "{state:?}");
        }
        assert_eq!(ShownState::ORDER[7].name(), "UNCONN");
        assert_eq!(ShownState::ORDER[6].name(), "CLOSE");
    }

    #[test]
    fn an_unconnected_udp_socket_is_unconn_and_listens() {
        let mut socket = crate::model::testing::socket("0.0.0.0:53", "0.0.0.0:0", TcpState::Close, 1);
        assert_eq!(socket.shown_state(), ShownState::Kernel(TcpState::Close));
        assert!(!socket.listens(), "a bound-only TCP socket receives nothing");
        socket.proto = Proto::Udp;
        assert_eq!(socket.shown_state(), ShownState::Unconn);
        assert!(socket.listens());
        socket.state = TcpState::Established;
        assert_eq!(socket.shown_state().name(), "ESTABLISHED");
        assert!(!socket.listens());
    }

    #[test]
    fn protocol_names_round_trip() {
        for proto in Proto::ALL {
            assert_eq!(Proto::from_name(proto.name()), Some(proto));
            assert_eq!(Proto::new(proto.transport(), proto.is_ipv6()), proto);
        }
        assert_eq!(Proto::from_name("udplite"), None);
    }
}
