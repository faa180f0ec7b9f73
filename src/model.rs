//! The values that flow between pipeline stages. Every stage takes and
//! returns these, so a stage can be tested without the ones around it.

use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSet(pub u32);

impl StateSet {
    pub const ALL: StateSet = StateSet(0x1ffe);

    pub fn contains(self, state: TcpState) -> bool {
        self.0 & state.bit() != 0
    }
}

/// One row of a socket table, from /proc/net/tcp* or from sock_diag. It is
/// `Copy` and owns nothing, so reading a table allocates nothing per socket.
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    Docker,
    Containerd,
    CriO,
    Podman,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
        }
    }
}

/// What a process's cgroup path tells about it (runtimes.md §1.6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupRef {
    /// The kubelet pod UID, dashes restored, when the path holds a pod cgroup.
    pub pod_uid: Option<String>,
    /// 64 lowercase hex characters, when the path holds a container leaf.
    pub container_id: Option<String>,
    /// The runtime the leaf's prefix names; None for a bare id (cgroupfs).
    pub runtime: Option<Runtime>,
    /// A runtime monitor (conmon), not the workload.
    pub monitor: bool,
}

/// A Kubernetes pod, as runtime metadata or kubelet files name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

/// The container name the kubelet gives a pod's sandbox (pause or infra
/// container) in runtime labels and dockershim names.
pub const SANDBOX_NAME: &str = "POD";

/// What a runtime's metadata tells about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Full id, as in cgroup paths.
    pub id: String,
    pub runtime: Option<Runtime>,
    /// The Kubernetes container name, or the runtime's own name for a
    /// container outside Kubernetes.
    pub name: Option<String>,
    pub pod: Option<PodInfo>,
    /// The pod sandbox (pause or infra container), not an app container.
    pub sandbox: bool,
    /// The network namespace file the OCI spec names, as written there
    /// (host-absolute, e.g. /var/run/netns/cni-…).
    pub netns_path: Option<PathBuf>,
}
