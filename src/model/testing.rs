//! Values for unit tests of the layers above the model: a socket from its
//! addresses, and an empty snapshot to fill.

use std::net::SocketAddr;

use super::{
    Catalog, Collector, NetnsId, NetnsSnapshot, Proto, Protocols, Snapshot, Socket, StateSet,
    Taken, TcpState, Timer, Transport, Warnings, FORMAT_VERSION,
};

/// A UDP socket between two `addr:port`s (`0.0.0.0:0` for an unconnected
/// one's remote end), CLOSE (UNCONN) or ESTABLISHED, every other field zero.
pub fn udp_socket(local: &str, remote: &str, state: TcpState, inode: u64) -> Socket {
    let tcp = socket(local, remote, state, inode);
    Socket {
        proto: Proto::new(Transport::Udp, tcp.proto.is_ipv6()),
        ..tcp
    }
}

/// A socket between two `addr:port`s with every other field zero.
pub fn socket(local: &str, remote: &str, state: TcpState, inode: u64) -> Socket {
    let local: SocketAddr = local.parse().unwrap();
    let remote: SocketAddr = remote.parse().unwrap();
    Socket {
        proto: if local.is_ipv4() {
            Proto::Tcp
        } else {
            Proto::Tcp6
        },
        local: local.ip(),
        local_port: local.port(),
        remote: remote.ip(),
        remote_port: remote.port(),
        state,
        uid: 0,
        inode,
        rx_queue: 0,
        tx_queue: 0,
        timer: Timer::None,
        expires_ms: 0,
        retransmits: 0,
        cookie: 0,
        cgroup_id: 0,
    }
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        version: FORMAT_VERSION,
        taken: Taken {
            wall: "2026-11-30T00:00:00.000Z".into(),
            boottime_ms: 1_000_000,
        },
        collector: Collector {
            hostname: "node-1".into(),
            kernel: "6.18.0".into(),
            euid: 0,
            cap_eff: Some(0x1ff_ffff_ffff),
        },
        protocols: Protocols::BOTH,
        states: StateSet::ALL,
        owners_for: StateSet::EVERY,
        host_netns: None,
        namespaces: Vec::new(),
        processes: Vec::new(),
        socket_owners: Default::default(),
        catalog: Catalog::default(),
        sandbox_netns: Default::default(),
        cluster: None,
        warnings: Warnings::default(),
        cgroup_dirs: Default::default(),
    }
}

pub fn netns(inode: u64, sockets: Vec<Socket>) -> NetnsSnapshot {
    NetnsSnapshot::new(NetnsId::Inode(inode), sockets)
}
