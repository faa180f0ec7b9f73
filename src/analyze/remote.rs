//! Who is at the other end of each socket: a pod of this node (by the
//! addresses of its namespace), the node itself, the backend a Service
//! address was translated to (by the node's destination NAT entries), and,
//! with `--kube`, any pod, Service or node of the cluster. Pure: a function
//! of the snapshot.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use super::attribute::{namespace_owner, Attributed};
use super::filter::unmapped;
use crate::model::{NetnsId, Proto, Snapshot, Socket, Transport};

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

impl RemoteName<'_> {
    /// An address the node translated, which the API does not name.
    pub const UNNAMED_SERVICE: RemoteName<'static> = RemoteName {
        kind: RemoteKind::Service,
        namespace: None,
        name: None,
    };
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
const IPPROTO_UDP: u8 = 17;

/// Every address the snapshot can name, and every translation it holds.
pub struct RemoteNames<'a> {
    by_address: HashMap<IpAddr, RemoteName<'a>>,
    /// Every address of every namespace of the node, named or not.
    on_node: HashSet<IpAddr>,
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
        let on_node = snapshot
            .namespaces
            .iter()
            .flat_map(|ns| ns.addresses.iter().flatten())
            .map(|address| unmapped(address.address))
            .collect();
        RemoteNames {
            by_address,
            on_node,
            translated,
            virtual_addresses,
        }
    }

    /// Whether `ip` is an address of this node: of any of its namespaces.
    pub fn is_on_node(&self, ip: IpAddr) -> bool {
        let ip = unmapped(ip);
        ip.is_loopback() || self.on_node.contains(&ip)
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
        let name = self
            .name(remote)
            .or_else(|| endpoint.map(|_| RemoteName::UNNAMED_SERVICE));
        Remote {
            name,
            endpoint,
            backend: endpoint.and_then(|backend| self.name(backend.ip())),
        }
    }

    /// How many backends the node sent connections to this address and
    /// port to; None where it translated none.
    /// `ipproto`: IPPROTO_TCP or IPPROTO_UDP.
    pub fn backends(&self, ipproto: u8, ip: IpAddr, port: u16) -> Option<usize> {
        self.virtual_addresses
            .get(&(ipproto, unmapped(ip), port))
            .map(Vec::len)
    }
}

/// Every namespace's own addresses, named by who owns the namespace: the
/// node's as the host, a pod's as that pod. An address two namespaces hold
/// (each pod's loopback, a bridge address repeated) names neither.
fn local_addresses(snapshot: &Snapshot) -> HashMap<IpAddr, RemoteName<'_>> {
    let mut holders: HashMap<IpAddr, (NetnsId, Option<RemoteName<'_>>)> = HashMap::new();
    let mut shared = Vec::new();
    for ns in &snapshot.namespaces {
        let Some(addresses) = &ns.addresses else {
            continue;
        };
        let is_host = ns.id.inode().is_some() && ns.id.inode() == snapshot.host_netns;
        let name = if is_host {
            Some(RemoteName {
                kind: RemoteKind::Host,
                namespace: None,
                name: None,
            })
        } else {
            namespace_owner(snapshot, ns.id)
                .filter(|owner| owner.pod.is_some())
                .map(|owner| RemoteName {
                    kind: RemoteKind::Pod,
                    namespace: owner.namespace,
                    name: owner.pod,
                })
        };
        for address in addresses {
            let ip = unmapped(address.address);
            if ip.is_loopback() || ip.is_unspecified() {
                continue;
            }
            if let Some((holder, _)) = holders.insert(ip, (ns.id, name)) {
                if holder != ns.id {
                    shared.push(ip);
                }
            }
        }
    }
    for ip in shared {
        holders.remove(&ip);
    }
    holders
        .into_iter()
        .filter_map(|(ip, (_, name))| Some((ip, name?)))
        .collect()
}

fn protocol(proto: Proto) -> u8 {
    match proto.transport() {
        Transport::Tcp => IPPROTO_TCP,
        Transport::Udp => IPPROTO_UDP,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribute::attribute;
    use crate::model::{
        testing, Cluster, ContainerInfo, DnatFlow, InterfaceAddress, NetnsId, NetnsSnapshot,
        PodInfo, RemoteNode, RemotePod, RemoteService, TcpState,
    };

    const HOST: u64 = 4026531840;
    const WEB: u64 = 4026532001;
    const DB: u64 = 4026532002;
    const SANDBOX: &str = "5a4db0c5";

    fn addresses(list: &[&str]) -> Option<Vec<InterfaceAddress>> {
        Some(
            list.iter()
                .map(|ip| InterfaceAddress {
                    address: ip.parse().unwrap(),
                    prefix_len: 24,
                })
                .collect(),
        )
    }

    fn pod_name<'a>(namespace: &'a str, name: &'a str) -> RemoteName<'a> {
        RemoteName {
            kind: RemoteKind::Pod,
            namespace: Some(namespace),
            name: Some(name),
        }
    }

    /// The host, pod shop/web-0 (named by its sandbox) and an unowned
    /// namespace; web-0 talks to the db namespace, to another node's pod,
    /// to a Service the node translated, and to the API's node-2.
    fn node() -> Snapshot {
        let mut snapshot = testing::snapshot();
        snapshot.host_netns = Some(HOST);
        snapshot.catalog.containers.insert(
            SANDBOX.into(),
            ContainerInfo {
                pod: Some(PodInfo {
                    namespace: "shop".into(),
                    name: "web-0".into(),
                    uid: None,
                }),
                sandbox: true,
                ..ContainerInfo::unnamed(SANDBOX.into())
            },
        );
        snapshot.sandbox_netns.insert(WEB, SANDBOX.into());
        let web_sockets = vec![
            testing::socket("10.1.0.5:40000", "10.1.0.6:5432", TcpState::Established, 1),
            testing::socket("10.1.0.5:40001", "10.96.0.10:53", TcpState::Established, 2),
            testing::socket("10.1.0.5:40002", "10.96.0.10:53", TcpState::TimeWait, 0),
            testing::socket("10.1.0.5:40003", "10.2.0.9:80", TcpState::Established, 3),
            testing::socket("10.1.0.5:40004", "192.0.2.2:10250", TcpState::Established, 4),
            testing::socket("10.1.0.5:40005", "192.0.2.1:6443", TcpState::Established, 5),
            testing::socket("127.0.0.1:40006", "127.0.0.1:8080", TcpState::Established, 6),
        ];
        snapshot.namespaces = vec![
            NetnsSnapshot {
                addresses: addresses(&["192.0.2.1", "127.0.0.1", "10.1.0.1"]),
                dnat_flows: Some(vec![
                    DnatFlow(6, "10.1.0.5".parse().unwrap(), 40001, "10.96.0.10".parse().unwrap(), 53, "10.1.0.6".parse().unwrap(), 5353),
                    DnatFlow(6, "10.1.0.5".parse().unwrap(), 40002, "10.96.0.10".parse().unwrap(), 53, "10.2.0.7".parse().unwrap(), 5353),
                ]),
                ..NetnsSnapshot::new(NetnsId::Inode(HOST), vec![])
            },
            NetnsSnapshot {
                addresses: addresses(&["10.1.0.5", "127.0.0.1"]),
                ..NetnsSnapshot::new(NetnsId::Inode(WEB), web_sockets)
            },
            NetnsSnapshot {
                // Owned by nothing the node names: no pod to name it by.
                addresses: addresses(&["10.1.0.6", "127.0.0.1", "10.1.0.1"]),
                ..NetnsSnapshot::new(NetnsId::Inode(DB), vec![])
            },
        ];
        snapshot
    }

    fn cluster() -> Cluster {
        let ip = |text: &str| -> IpAddr { text.parse().unwrap() };
        Cluster {
            pods: vec![
                RemotePod {
                    namespace: "shop".into(),
                    name: "db-0".into(),
                    ips: vec![ip("10.1.0.6")],
                    node: Some("node-1".into()),
                    host_network: false,
                },
                RemotePod {
                    namespace: "cache".into(),
                    name: "redis-0".into(),
                    ips: vec![ip("10.2.0.9")],
                    node: Some("node-2".into()),
                    host_network: false,
                },
                RemotePod {
                    namespace: "kube-system".into(),
                    name: "kube-proxy-x".into(),
                    ips: vec![ip("192.0.2.2")],
                    node: Some("node-2".into()),
                    host_network: true,
                },
                // The API lists this node's own pod too; the node's view wins.
                RemotePod {
                    namespace: "stale".into(),
                    name: "old-web".into(),
                    ips: vec![ip("10.1.0.5")],
                    node: Some("node-1".into()),
                    host_network: false,
                },
            ],
            services: vec![RemoteService {
                namespace: "kube-system".into(),
                name: "kube-dns".into(),
                cluster_ips: vec![ip("10.96.0.10")],
                external_ips: vec![],
            }],
            nodes: vec![
                RemoteNode {
                    name: "node-1".into(),
                    addresses: vec![ip("192.0.2.1")],
                },
                RemoteNode {
                    name: "node-2".into(),
                    addresses: vec![ip("192.0.2.2")],
                },
            ],
        }
    }

    /// Each web-0 socket's remote end, by local port.
    fn remotes(snapshot: &Snapshot) -> Vec<(u16, Remote<'_>)> {
        let attributed = attribute(snapshot);
        attributed
            .rows
            .iter()
            .map(|row| (row.socket.local_port, *attributed.remote(row)))
            .collect()
    }

    #[test]
    fn local_sources_name_pods_the_host_and_translated_addresses() {
        let snapshot = node();
        let got = remotes(&snapshot);
        let host = RemoteName {
            kind: RemoteKind::Host,
            namespace: None,
            name: None,
        };
        let translated = |backend: &str| Remote {
            name: Some(RemoteName::UNNAMED_SERVICE),
            endpoint: Some(backend.parse().unwrap()),
            backend: None,
        };
        assert_eq!(
            got,
            vec![
                // The db namespace names no pod: its address stays unnamed.
                (40000, Remote::UNKNOWN),
                (40001, translated("10.1.0.6:5353")),
                (40002, translated("10.2.0.7:5353")),
                (40003, Remote::UNKNOWN),
                (40004, Remote::UNKNOWN),
                (40005, Remote { name: Some(host), ..Remote::UNKNOWN }),
                // Loopback and the bridge address two namespaces hold name nothing.
                (40006, Remote::UNKNOWN),
            ]
        );
        let names = RemoteNames::of(&snapshot);
        assert_eq!(names.name("10.1.0.5".parse().unwrap()), Some(pod_name("shop", "web-0")));
        assert_eq!(names.name("10.1.0.1".parse().unwrap()), None);
        assert_eq!(names.name("::ffff:10.1.0.5".parse().unwrap()), Some(pod_name("shop", "web-0")));
        assert_eq!(names.backends(6, "10.96.0.10".parse().unwrap(), 53), Some(2));
        assert_eq!(names.backends(17, "10.96.0.10".parse().unwrap(), 53), None);
    }

    #[test]
    fn a_udp_query_to_a_service_is_named_by_its_udp_translation_only() {
        let mut snapshot = node();
        snapshot.cluster = Some(cluster());
        // A DNS query over UDP from the port of the TCP connection 40001,
        // and one whose translation the node holds for UDP.
        snapshot.namespaces[1].sockets.extend([
            testing::udp_socket("10.1.0.5:40001", "10.96.0.10:53", TcpState::Established, 7),
            testing::udp_socket("10.1.0.5:41000", "10.96.0.10:53", TcpState::Established, 8),
        ]);
        snapshot.namespaces[0].dnat_flows.as_mut().unwrap().push(DnatFlow(
            17,
            "10.1.0.5".parse().unwrap(),
            41000,
            "10.96.0.10".parse().unwrap(),
            53,
            "10.1.0.6".parse().unwrap(),
            53,
        ));
        let attributed = attribute(&snapshot);
        let udp: Vec<(u16, Remote<'_>)> = attributed
            .rows
            .iter()
            .filter(|row| row.socket.proto == Proto::Udp)
            .map(|row| (row.socket.local_port, *attributed.remote(row)))
            .collect();
        let kube_dns = RemoteName {
            kind: RemoteKind::Service,
            namespace: Some("kube-system"),
            name: Some("kube-dns"),
        };
        assert_eq!(
            udp,
            vec![
                // The TCP entry for 40001 says nothing of UDP's 40001.
                (40001, Remote { name: Some(kube_dns), ..Remote::UNKNOWN }),
                (
                    41000,
                    Remote {
                        name: Some(kube_dns),
                        endpoint: Some("10.1.0.6:53".parse().unwrap()),
                        backend: Some(pod_name("shop", "db-0")),
                    }
                ),
            ]
        );
        let names = RemoteNames::of(&snapshot);
        assert_eq!(names.backends(17, "10.96.0.10".parse().unwrap(), 53), Some(1));
    }

    #[test]
    fn the_api_names_the_rest_of_the_cluster_and_the_node_knows_its_own_better() {
        let mut snapshot = node();
        snapshot.cluster = Some(cluster());
        let got = remotes(&snapshot);
        let service = RemoteName {
            kind: RemoteKind::Service,
            namespace: Some("kube-system"),
            name: Some("kube-dns"),
        };
        let node_2 = RemoteName {
            kind: RemoteKind::Node,
            namespace: None,
            name: Some("node-2"),
        };
        assert_eq!(got[0].1.name, Some(pod_name("shop", "db-0")));
        assert_eq!(
            got[1].1,
            Remote {
                name: Some(service),
                endpoint: Some("10.1.0.6:5353".parse().unwrap()),
                backend: Some(pod_name("shop", "db-0")),
            }
        );
        assert_eq!(got[3].1.name, Some(pod_name("cache", "redis-0")));
        // A host-network pod's address is its node's.
        assert_eq!(got[4].1.name, Some(node_2));
        // This node is the host, whatever the API calls it.
        assert_eq!(got[5].1.name.map(|n| n.kind), Some(RemoteKind::Host));
        let names = RemoteNames::of(&snapshot);
        assert_eq!(names.name("10.1.0.5".parse().unwrap()), Some(pod_name("shop", "web-0")));
    }
}
