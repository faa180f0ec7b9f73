//! What a network namespace holds besides its sockets, which port budgets
//! need: its port sysctls, its addresses, and, where it does NAT, its
//! conntrack counters, NAT'd flows and NAT rules (ports.md §1, §4, §6).

use std::net::IpAddr;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

/// The namespace's sysctls that decide which ports connect() may take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSysctls {
    /// `ip_local_port_range`, inclusive.
    pub port_range: [u16; 2],
    /// `ip_local_reserved_ports`, inclusive ranges.
    pub reserved: Vec<[u16; 2]>,
    /// `tcp_tw_reuse`: 0 never, 1 always, 2 loopback only (the default).
    pub tw_reuse: u8,
}

impl PortSysctls {
    pub fn range(&self) -> RangeInclusive<u16> {
        self.port_range[0]..=self.port_range[1]
    }

    pub fn is_reserved(&self, port: u16) -> bool {
        self.reserved.iter().any(|[low, high]| (*low..=*high).contains(&port))
    }
}

/// An address of one of the namespace's interfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceAddress {
    pub address: IpAddr,
    pub prefix_len: u8,
}

/// The namespace's conntrack counters (`net/stat/nf_conntrack`), summed
/// over CPUs; `max` is the node-wide `nf_conntrack_max`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConntrackStats {
    pub entries: u64,
    pub max: Option<u64>,
    pub insert_failed: u64,
    pub drop: u64,
    pub early_drop: u64,
}

/// One TCP or UDP conntrack entry with IPS_SRC_NAT (not SRC_NAT_DONE,
/// which every entry carries once NAT is loaded): recorded as an array of
/// these fields in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnatFlow(
    /// IPPROTO_TCP or IPPROTO_UDP.
    pub u8,
    /// The original tuple: source, source port, destination, destination port.
    pub IpAddr,
    pub u16,
    pub IpAddr,
    pub u16,
    /// The reply tuple.
    pub IpAddr,
    pub u16,
    pub IpAddr,
    pub u16,
    /// The conntrack zone.
    pub u16,
    /// The TCP conntrack state (`enum tcp_conntrack`), TCP only.
    pub Option<u8>,
    /// Seconds left.
    pub Option<u32>,
);

/// One TCP or UDP conntrack entry with IPS_DST_NAT: a connection to a
/// virtual address (a Service's) that the node sent to a backend. Recorded
/// as an array of these fields in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnatFlow(
    /// IPPROTO_TCP or IPPROTO_UDP.
    pub u8,
    /// The original tuple: source, source port, the virtual destination
    /// and its port.
    pub IpAddr,
    pub u16,
    pub IpAddr,
    pub u16,
    /// The reply tuple's source: the backend and its port.
    pub IpAddr,
    pub u16,
);

/// A rule that does source NAT, as far as it matters for its port budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatRule {
    /// NFPROTO_*: 2 IPv4, 10 IPv6, 1 both (inet).
    pub family: u8,
    /// The source ports it may pick; None: the kernel's default range.
    pub ports: Option<[u16; 2]>,
    pub l4proto: Option<u8>,
    pub dport: Option<u16>,
    pub saddr: Option<(IpAddr, u8)>,
    pub daddr: Option<(IpAddr, u8)>,
    /// Tests the rule has that were not read: it may match fewer flows.
    pub partial: bool,
}

/// `enum tcp_conntrack` (linux/netfilter/nf_conntrack_tcp.h), which is not
/// the socket state numbering of [`super::TcpState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpConntrackState {
    None,
    SynSent,
    SynRecv,
    Established,
    FinWait,
    CloseWait,
    LastAck,
    TimeWait,
    Close,
    /// Simultaneous open; printed as SYN_SENT2 (formerly LISTEN).
    SynSent2,
    Unknown(u8),
}

impl TcpConntrackState {
    pub fn from_code(code: u8) -> TcpConntrackState {
        use TcpConntrackState::*;
        match code {
            0 => None,
            1 => SynSent,
            2 => SynRecv,
            3 => Established,
            4 => FinWait,
            5 => CloseWait,
            6 => LastAck,
            7 => TimeWait,
            8 => Close,
            9 => SynSent2,
            other => Unknown(other),
        }
    }

    /// The name `conntrack -L` and /proc/net/nf_conntrack print.
    pub fn name(self) -> &'static str {
        use TcpConntrackState::*;
        match self {
            None => "NONE",
            SynSent => "SYN_SENT",
            SynRecv => "SYN_RECV",
            Established => "ESTABLISHED",
            FinWait => "FIN_WAIT",
            CloseWait => "CLOSE_WAIT",
            LastAck => "LAST_ACK",
            TimeWait => "TIME_WAIT",
            Close => "CLOSE",
            SynSent2 => "SYN_SENT2",
            Unknown(_) => "UNKNOWN",
        }
    }

    pub fn code(self) -> u8 {
        use TcpConntrackState::*;
        match self {
            None => 0,
            SynSent => 1,
            SynRecv => 2,
            Established => 3,
            FinWait => 4,
            CloseWait => 5,
            LastAck => 6,
            TimeWait => 7,
            Close => 8,
            SynSent2 => 9,
            Unknown(code) => code,
        }
    }
}

