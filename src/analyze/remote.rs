//! Who is at the other end of each socket: a pod of this node (by the
//! addresses of its namespace), the node itself, the backend a Service
//! address was translated to (by the node's destination NAT entries), and,
//! with `--kube`, any pod, Service or node of the cluster. Pure: a function
//! of the snapshot.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::attribute::{namespace_owner, Attributed};
use super::filter::unmapped;
use crate::model::{Proto, Snapshot, Socket};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RemoteKind {
    Pod,
    Service,
    Node,
    /// This node: an address of its own namespace.
    Host,
}

impl RemoteKind {
    pub fn name(self) -> &'static str {
        match self {
            RemoteKind::Pod => "pod",
            RemoteKind::Service => "service",
            RemoteKind::Node => "node",
            RemoteKind::Host => "host",
        }
    }

    /// The prefix `--remote` names take and the table shows.
    pub fn short(self) -> &'static str {
        match self {
            RemoteKind::Pod => "pod",
            RemoteKind::Service => "svc",
            RemoteKind::Node => "node",
            RemoteKind::Host => "host",
        }
    }
}

/// What an address is. `name` is None where only the kind is known: an
/// address the node translated without a Service name for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteName<'a> {
    pub kind: RemoteKind,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// A socket's remote end: what its address is, and the backend the node
/// sent it to when the address was translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Remote<'a> {
    pub name: Option<RemoteName<'a>>,
    pub endpoint: Option<SocketAddr>,
    /// What the backend is, where something names it.
    pub backend: Option<RemoteName<'a>>,
}

impl Remote<'_> {
    pub const UNKNOWN: Remote<'static> = Remote {
        name: None,
        endpoint: None,
        backend: None,
    };
}

/// A translated connection's original tuple: protocol, source, destination.
type FlowKey = (u8, IpAddr, u16, IpAddr, u16);

const IPPROTO_TCP: u8 = 6;

/// Every address the snapshot can name, and every translation it holds.
pub struct RemoteNames<'a> {
    by_address: HashMap<IpAddr, RemoteName<'a>>,
    translated: HashMap<FlowKey, SocketAddr>,
    /// Addresses the node translated, and to how many distinct backends.
    virtual_addresses: HashMap<(u8, IpAddr, u16), Vec<SocketAddr>>,
}

impl<'a> RemoteNames<'a> {
    pub fn of(snapshot: &'a Snapshot) -> RemoteNames<'a> {
        let mut by_address = HashMap::new();
        // Weakest first, each overwritten by what knows better: the API's
        // view of the cluster, then what this node itself holds.
        if let Some(cluster) = &snapshot.cluster {
            for node in &cluster.nodes {
                let name = RemoteName {
                    kind: RemoteKind::Node,
                    namespace: None,
                    name: Some(node.name.as_str()),
                };
                by_address.extend(node.addresses.iter().map(|ip| (unmapped(*ip), name)));
            }
            // A host-network pod's address is its node's.
            for pod in cluster.pods.iter().filter(|pod| !pod.host_network) {
                let name = RemoteName {
                    kind: RemoteKind::Pod,
                    namespace: Some(pod.namespace.as_str()),
                    name: Some(pod.name.as_str()),
                };
                by_address.extend(pod.ips.iter().map(|ip| (unmapped(*ip), name)));
            }
            for service in &cluster.services {
                let name = RemoteName {
                    kind: RemoteKind::Service,
                    namespace: Some(service.namespace.as_str()),
                    name: Some(service.name.as_str()),
                };
                let ips = service.cluster_ips.iter().chain(&service.external_ips);
                by_address.extend(ips.map(|ip| (unmapped(*ip), name)));
            }
        }
        by_address.extend(local_addresses(snapshot));
        let mut translated = HashMap::new();
        let mut virtual_addresses: HashMap<(u8, IpAddr, u16), Vec<SocketAddr>> = HashMap::new();
        let flows = snapshot
            .namespaces
            .iter()
            .filter_map(|ns| ns.dnat_flows.as_ref())
            .flatten();
        for flow in flows {
            let original = (flow.0, unmapped(flow.1), flow.2, unmapped(flow.3), flow.4);
            let backend = SocketAddr::new(unmapped(flow.5), flow.6);
            translated.insert(original, backend);
            let backends = virtual_addresses
                .entry((flow.0, original.3, flow.4))
                .or_default();
            if !backends.contains(&backend) {
                backends.push(backend);
            }
        }
        RemoteNames {
            by_address,
            translated,
            virtual_addresses,
        }
    }

    /// What `ip` is, where anything names it.
    pub fn name(&self, ip: IpAddr) -> Option<RemoteName<'a>> {
        self.by_address.get(&unmapped(ip)).copied()
    }

    /// A socket's remote end. A translated address the API does not name
    /// is a Service without a name, its backend named where it can be.
    pub fn of_socket(&self, socket: &Socket) -> Remote<'a> {
        let remote = unmapped(socket.remote);
        let key = (
            protocol(socket.proto),
            unmapped(socket.local),
            socket.local_port,
            remote,
            socket.remote_port,
        );
        let endpoint = self.translated.get(&key).copied();
        let name = self.name(remote).or_else(|| {
            endpoint.map(|_| RemoteName {
                kind: RemoteKind::Service,
                namespace: None,
                name: None,
            })
        });
        Remote {
            name,
            endpoint,
            backend: endpoint.and_then(|backend| self.name(backend.ip())),
        }
    }

    /// How many backends the node sent connections to this address and
    /// port to; None where it translated none.
    pub fn backends(&self, proto: Proto, ip: IpAddr, port: u16) -> Option<usize> {
        self.virtual_addresses
            .get(&(protocol(proto), unmapped(ip), port))
            .map(Vec::len)
    }
}

/// Every namespace's own addresses, named by who owns the namespace: the
/// node's as the host, a pod's as that pod. An address two namespaces hold
/// (each pod's loopback, a bridge address repeated) names neither.
fn local_addresses(snapshot: &Snapshot) -> HashMap<IpAddr, RemoteName<'_>> {
    let mut named = HashMap::new();
    let mut shared = Vec::new();
    for ns in &snapshot.namespaces {
        let Some(addresses) = &ns.addresses else {
            continue;
        };
        let is_host = ns.id.inode().is_some() && ns.id.inode() == snapshot.host_netns;
        let name = if is_host {
            RemoteName {
                kind: RemoteKind::Host,
                namespace: None,
                name: None,
            }
        } else {
            match namespace_owner(snapshot, ns.id) {
                Some(owner) if owner.pod.is_some() => RemoteName {
                    kind: RemoteKind::Pod,
                    namespace: owner.namespace,
                    name: owner.pod,
                },
                _ => continue,
            }
        };
        for address in addresses {
            let ip = unmapped(address.address);
            if ip.is_loopback() || ip.is_unspecified() {
                continue;
            }
            if let Some(before) = named.insert(ip, name) {
                if before != name {
                    shared.push(ip);
                }
            }
        }
    }
    for ip in shared {
        named.remove(&ip);
    }
    named
}

fn protocol(proto: Proto) -> u8 {
    match proto {
        Proto::Tcp | Proto::Tcp6 => IPPROTO_TCP,
    }
}

/// Names every row's remote end: `attributed.remotes` holds each distinct
/// remote end once, index 0 the unknown one.
pub fn name_rows<'a>(snapshot: &'a Snapshot, attributed: &mut Attributed<'a>) {
    let names = RemoteNames::of(snapshot);
    if names.by_address.is_empty() && names.translated.is_empty() {
        return;
    }
    let mut index: HashMap<Remote<'a>, u32> = HashMap::from([(Remote::UNKNOWN, 0)]);
    let remotes = &mut attributed.remotes;
    for row in &mut attributed.rows {
        let remote = names.of_socket(row.socket);
        row.remote = *index.entry(remote).or_insert_with(|| {
            remotes.push(remote);
            (remotes.len() - 1) as u32
        });
    }
}
