//! A socket as the kernel reports it, from sock_diag or the `/proc` text
//! tables: every field either gives, so port budgets (timers), watch mode
//! (cookies) and cgroup attribution (cgroup ids) can use them later, and a
//! recorded snapshot keeps them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Tcp6,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Tcp6 => "tcp6",
        }
    }

    pub fn from_name(name: &str) -> Option<Proto> {
        [Proto::Tcp, Proto::Tcp6]
            .into_iter()
            .find(|proto| proto.name() == name)
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
    pub fn bit(self) -> u32 {
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

    pub fn contains(self, state: TcpState) -> bool {
        self.0 & state.bit() != 0
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
