//! The values that flow between the layers: what collection reads
//! (sockets, processes, containers) gathered into one [`Snapshot`], which
//! every view reads.

mod catalog;
mod cluster;
mod container;
mod counters;
mod network;
mod snapshot;
mod socket;
mod warning;

pub use catalog::Catalog;
pub use cluster::{Cluster, RemoteNode, RemotePod, RemoteService};
pub use container::{CgroupRef, ContainerInfo, PodInfo, Runtime, SANDBOX_NAME};
pub use counters::TcpCounters;
pub use network::{
    ConntrackStats, DnatFlow, InterfaceAddress, NatRule, PortSysctls, SnatFlow, TcpConntrackState,
};
pub use snapshot::{
    Collector, NetnsId, NetnsSnapshot, Process, Snapshot, SocketOwners, Taken, FORMAT_VERSION,
    OLDEST_READABLE_VERSION,
};
pub use socket::{Proto, Protocols, ShownState, Socket, StateSet, TcpState, Timer, Transport};
pub use warning::{NetworkPart, Warning, Warnings};

#[cfg(test)]
pub mod testing;
