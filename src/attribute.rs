//! The join: each socket gets an owner. A socket whose inode an open file
//! holds belongs to that process, and through its cgroup to a container and
//! pod. A socket no process holds (TIME_WAIT, request and orphan sockets) is
//! attributed to whoever owns its network namespace: the pod whose sandbox
//! spec names it or whose processes live in it; the host namespace is shared
//! by host daemons and hostNetwork pods, so ownerless sockets there stay
//! unattributed. Pure: every input was read before.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::catalog::Catalog;
use crate::model::{CgroupRef, PodInfo, Runtime, Socket};

/// A network namespace: its inode, or, when the inode cannot be read (a
/// debug pod lacks the capabilities of the processes it looks at), the pid
/// through which its table was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NetnsId {
    Inode(u64),
    Hidden(u32),
}

impl NetnsId {
    pub fn inode(self) -> Option<u64> {
        match self {
            NetnsId::Inode(inode) => Some(inode),
            NetnsId::Hidden(_) => None,
        }
    }
}

/// What was read about one process.
#[derive(Clone, Debug)]
pub struct ProcessInfo {
    pub pid: u32,
    pub comm: Box<str>,
    pub netns: NetnsId,
    pub cgroup: Option<CgroupRef>,
}

/// The sockets of one network namespace.
#[derive(Debug)]
pub struct NamespaceSockets {
    pub netns: NetnsId,
    pub sockets: Vec<Socket>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribution {
    Process,
    Netns,
    None,
}

impl Attribution {
    pub fn name(self) -> &'static str {
        match self {
            Attribution::Process => "process",
            Attribution::Netns => "netns",
            Attribution::None => "none",
        }
    }
}

/// Who a socket belongs to. Many sockets share one owner, so rows point into
/// a table of these instead of each carrying a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner<'a> {
    pub namespace: Option<&'a str>,
    pub pod: Option<&'a str>,
    pub container: Option<&'a str>,
    pub container_id: Option<&'a str>,
    pub runtime: Option<Runtime>,
    pub pid: Option<u32>,
    pub process: Option<&'a str>,
    pub attribution: Attribution,
}

impl Owner<'_> {
    const NONE: Owner<'static> = Owner {
        namespace: None,
        pod: None,
        container: None,
        container_id: None,
        runtime: None,
        pid: None,
        process: None,
        attribution: Attribution::None,
    };
}

#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub socket: Socket,
    pub netns: NetnsId,
    /// Index into [`Attributed::owners`].
    pub owner: u32,
}

#[derive(Debug)]
pub struct Attributed<'a> {
    pub owners: Vec<Owner<'a>>,
    pub rows: Vec<Row>,
}

impl<'a> Attributed<'a> {
    pub fn owner(&self, row: &Row) -> &Owner<'a> {
        &self.owners[row.owner as usize]
    }
}

/// Everything known about the node apart from its sockets.
pub struct Node<'a> {
    /// Sorted by pid.
    pub processes: &'a [ProcessInfo],
    /// Socket inode → pid of the process holding it.
    pub socket_owners: &'a HashMap<u64, u32>,
    pub catalog: &'a Catalog,
    /// Network namespace inode → pod sandbox whose OCI spec names it.
    pub sandbox_netns: &'a HashMap<u64, &'a crate::model::ContainerInfo>,
    /// None when it could not be read; then no namespace is treated as shared.
    pub host_netns: Option<u64>,
}

pub fn attribute<'a>(node: &Node<'a>, namespaces: Vec<NamespaceSockets>) -> Attributed<'a> {
    let mut owners: Vec<Owner<'a>> = vec![Owner::NONE];
    let mut process_owner: HashMap<u32, u32> = HashMap::new();
    let mut netns_owner: HashMap<NetnsId, u32> = HashMap::new();
    let mut rows = Vec::with_capacity(namespaces.iter().map(|ns| ns.sockets.len()).sum());
    for ns in namespaces {
        for socket in ns.sockets {
            let held_by = (socket.inode != 0)
                .then(|| node.socket_owners.get(&socket.inode))
                .flatten();
            let owner = match held_by {
                Some(&pid) => *process_owner.entry(pid).or_insert_with(|| {
                    owners.push(process_owner_of(node, pid));
                    (owners.len() - 1) as u32
                }),
                None => *netns_owner.entry(ns.netns).or_insert_with(|| {
                    match namespace_owner(node, ns.netns) {
                        Some(owner) => {
                            owners.push(owner);
                            (owners.len() - 1) as u32
                        }
                        None => 0,
                    }
                }),
            };
            rows.push(Row {
                socket,
                netns: ns.netns,
                owner,
            });
        }
    }
    Attributed { owners, rows }
}

fn process_owner_of<'a>(node: &Node<'a>, pid: u32) -> Owner<'a> {
    let Ok(index) = node.processes.binary_search_by_key(&pid, |p| p.pid) else {
        return Owner {
            pid: Some(pid),
            attribution: Attribution::Process,
            ..Owner::NONE
        };
    };
    let process = &node.processes[index];
    Owner {
        pid: Some(pid),
        process: Some(&process.comm),
        attribution: Attribution::Process,
        ..identity(node, process)
    }
}

/// The container and pod a process's cgroup names, with names from the catalog.
fn identity<'a>(node: &Node<'a>, process: &'a ProcessInfo) -> Owner<'a> {
    let Some(cgroup) = &process.cgroup else {
        return Owner::NONE;
    };
    let info = cgroup
        .container_id
        .as_deref()
        .and_then(|id| node.catalog.container(id));
    let pod = info.and_then(|info| info.pod.as_ref()).or_else(|| {
        cgroup
            .pod_uid
            .as_deref()
            .and_then(|uid| node.catalog.pod(uid))
    });
    Owner {
        namespace: pod.map(|pod| pod.namespace.as_str()),
        pod: pod.map(|pod| pod.name.as_str()),
        container: info.and_then(|info| info.name.as_deref()),
        container_id: cgroup.container_id.as_deref(),
        runtime: info.and_then(|info| info.runtime).or(cgroup.runtime),
        ..Owner::NONE
    }
}

/// The owner of a namespace's ownerless sockets: the pod whose sandbox spec
/// names the namespace, else the one pod its processes belong to, else the
/// one container all its processes run in (a container outside Kubernetes).
fn namespace_owner<'a>(node: &Node<'a>, netns: NetnsId) -> Option<Owner<'a>> {
    let inode = netns.inode();
    if inode.is_some() && node.host_netns == inode {
        return None;
    }
    if let Some(sandbox) = inode.and_then(|inode| node.sandbox_netns.get(&inode)) {
        if let Some(pod) = &sandbox.pod {
            return Some(pod_owner(pod, sandbox.runtime));
        }
    }
    let members = node.processes.iter().filter(|p| p.netns == netns);
    let identities: Vec<Owner<'a>> = members
        .filter(|p| !p.cgroup.as_ref().is_some_and(|cg| cg.monitor))
        .map(|p| identity(node, p))
        .collect();
    let mut pods = identities.iter().filter(|o| o.pod.is_some());
    if let Some(first) = pods.next() {
        let same_pod = |o: &&Owner| o.namespace == first.namespace && o.pod == first.pod;
        if !pods.all(|o| same_pod(&o)) {
            return None;
        }
        let runtime = identities
            .iter()
            .filter(|o| same_pod(o))
            .find_map(|o| o.runtime);
        return Some(Owner {
            namespace: first.namespace,
            pod: first.pod,
            runtime,
            attribution: Attribution::Netns,
            ..Owner::NONE
        });
    }
    let first = identities.first()?;
    first.container_id?;
    identities
        .iter()
        .all(|o| o.container_id == first.container_id)
        .then(|| Owner {
            attribution: Attribution::Netns,
            pid: None,
            process: None,
            ..first.clone()
        })
}

fn pod_owner(pod: &PodInfo, runtime: Option<Runtime>) -> Owner<'_> {
    Owner {
        namespace: Some(&pod.namespace),
        pod: Some(&pod.name),
        runtime,
        attribution: Attribution::Netns,
        ..Owner::NONE
    }
}

/// A stable order for output: by namespace, pod and container (unattributed
/// last), then by namespace inode and addresses.
pub fn sort_rows(attributed: &mut Attributed<'_>) {
    let rank = identity_ranks(&attributed.owners);
    attributed.rows.sort_unstable_by(|a, b| {
        rank[a.owner as usize]
            .cmp(&rank[b.owner as usize])
            .then_with(|| a.netns.cmp(&b.netns))
            .then_with(|| a.socket.proto.cmp(&b.socket.proto))
            .then_with(|| a.socket.local.cmp(&b.socket.local))
            .then_with(|| a.socket.local_port.cmp(&b.socket.local_port))
            .then_with(|| a.socket.remote.cmp(&b.socket.remote))
            .then_with(|| a.socket.remote_port.cmp(&b.socket.remote_port))
            .then_with(|| a.socket.state.cmp(&b.socket.state))
            .then_with(|| a.socket.inode.cmp(&b.socket.inode))
    });
}

/// For each owner, the rank of the container it names, in name order,
/// unknowns last: (namespace, pod, container name), and the id only for a
/// container without a name. Owners naming the same container share a rank
/// (a container's processes are many owners, and a container re-created
/// under its name is still the same one to its users). Owners are few and
/// rows many: rows then sort and group by an integer.
pub fn identity_ranks(owners: &[Owner<'_>]) -> Vec<u32> {
    fn identity<'a>(o: &Owner<'a>) -> [Option<&'a str>; 4] {
        let unnamed_id = if o.container.is_none() {
            o.container_id
        } else {
            None
        };
        [o.namespace, o.pod, o.container, unnamed_id]
    }
    let mut by_name: Vec<u32> = (0..owners.len() as u32).collect();
    by_name.sort_unstable_by(|&a, &b| {
        let (ia, ib) = (identity(&owners[a as usize]), identity(&owners[b as usize]));
        ia.iter().zip(&ib).fold(Ordering::Equal, |order, (x, y)| {
            order.then_with(|| none_last(*x, *y))
        })
    });
    let mut rank = vec![0u32; owners.len()];
    for (position, &owner) in by_name.iter().enumerate() {
        let previous = position.checked_sub(1).map(|p| by_name[p] as usize);
        rank[owner as usize] = match previous {
            Some(p) if identity(&owners[p]) == identity(&owners[owner as usize]) => rank[p],
            _ => position as u32,
        };
    }
    rank
}

pub fn none_last<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerInfo, Proto, TcpState};
    use std::net::{IpAddr, Ipv4Addr};

    const HOST: u64 = 4026531840;
    const POD_NS: u64 = 4026532001;
    const LONE_NS: u64 = 4026532002;
    const PINNED_NS: u64 = 4026532003;
    const APP_ID: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const PAUSE_ID: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const LONE_ID: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    const POD_UID: &str = "193c20d9-34af-4b69-b119-2e75aa9023d1";

    fn socket(state: TcpState, local_port: u16, inode: u64) -> Socket {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Socket {
            proto: Proto::Tcp,
            local: lo,
            local_port,
            remote: lo,
            remote_port: 8080,
            state,
            uid: 0,
            inode,
        }
    }

    fn process(pid: u32, comm: &str, netns: u64, cgroup: Option<CgroupRef>) -> ProcessInfo {
        ProcessInfo {
            pid,
            comm: comm.into(),
            netns: NetnsId::Inode(netns),
            cgroup,
        }
    }

    fn in_container(id: &str, pod_uid: Option<&str>) -> Option<CgroupRef> {
        Some(CgroupRef {
            pod_uid: pod_uid.map(Into::into),
            container_id: Some(id.into()),
            runtime: None,
            monitor: false,
        })
    }

    fn pod() -> PodInfo {
        PodInfo {
            namespace: "shop".into(),
            name: "cart-0".into(),
            uid: Some(POD_UID.into()),
        }
    }

    fn catalog() -> Catalog {
        let mut catalog = Catalog::default();
        for (id, name, sandbox) in [(APP_ID, "cart", false), (PAUSE_ID, "POD", true)] {
            catalog.add_container(ContainerInfo {
                id: id.into(),
                runtime: Some(Runtime::Docker),
                name: Some(name.into()),
                pod: Some(pod()),
                sandbox,
                netns_path: None,
            });
        }
        catalog.add_container(ContainerInfo {
            id: LONE_ID.into(),
            runtime: Some(Runtime::Podman),
            name: Some("redis".into()),
            pod: None,
            sandbox: false,
            netns_path: None,
        });
        catalog
    }

    fn processes() -> Vec<ProcessInfo> {
        vec![
            process(1, "init", HOST, None),
            process(100, "pause", POD_NS, in_container(PAUSE_ID, Some(POD_UID))),
            process(101, "cart", POD_NS, in_container(APP_ID, Some(POD_UID))),
            process(200, "redis", LONE_NS, in_container(LONE_ID, None)),
        ]
    }

    fn run(
        catalog: &Catalog,
        processes: &[ProcessInfo],
        sandboxes: &HashMap<u64, &ContainerInfo>,
        namespaces: Vec<NamespaceSockets>,
    ) -> Vec<(u16, Owner<'static>)> {
        let owners = HashMap::from([(11, 101), (21, 200), (31, 1), (99, 4242)]);
        let node = Node {
            processes,
            socket_owners: &owners,
            catalog,
            sandbox_netns: sandboxes,
            host_netns: Some(HOST),
        };
        let attributed = attribute(&node, namespaces);
        attributed
            .rows
            .iter()
            .map(|row| {
                let o = attributed.owner(row);
                // Leak to compare owned copies without lifetimes in the tests.
                let s = |v: Option<&str>| v.map(|v| &*Box::leak(v.to_owned().into_boxed_str()));
                (
                    row.socket.local_port,
                    Owner {
                        namespace: s(o.namespace),
                        pod: s(o.pod),
                        container: s(o.container),
                        container_id: s(o.container_id),
                        process: s(o.process),
                        ..*o
                    },
                )
            })
            .collect()
    }

    fn namespaces() -> Vec<NamespaceSockets> {
        vec![
            NamespaceSockets {
                netns: NetnsId::Inode(POD_NS),
                sockets: vec![
                    socket(TcpState::Established, 1011, 11),
                    socket(TcpState::TimeWait, 1012, 0),
                    // Held by a process that exited after the fd scan.
                    socket(TcpState::Established, 1013, 12),
                ],
            },
            NamespaceSockets {
                netns: NetnsId::Inode(LONE_NS),
                sockets: vec![
                    socket(TcpState::Established, 2021, 21),
                    socket(TcpState::TimeWait, 2022, 0),
                ],
            },
            NamespaceSockets {
                netns: NetnsId::Inode(HOST),
                sockets: vec![
                    socket(TcpState::Listen, 3031, 31),
                    socket(TcpState::TimeWait, 3032, 0),
                    // Held by a pid that the process scan did not see.
                    socket(TcpState::Established, 3033, 99),
                ],
            },
        ]
    }

    #[test]
    fn sockets_get_process_netns_or_no_owner() {
        let catalog = catalog();
        let processes = processes();
        let rows = run(&catalog, &processes, &HashMap::new(), namespaces());
        let expect_pod_netns = Owner {
            namespace: Some("shop"),
            pod: Some("cart-0"),
            runtime: Some(Runtime::Docker),
            attribution: Attribution::Netns,
            ..Owner::NONE
        };
        assert_eq!(
            rows,
            vec![
                (
                    1011,
                    Owner {
                        namespace: Some("shop"),
                        pod: Some("cart-0"),
                        container: Some("cart"),
                        container_id: Some(APP_ID),
                        runtime: Some(Runtime::Docker),
                        pid: Some(101),
                        process: Some("cart"),
                        attribution: Attribution::Process,
                    }
                ),
                (1012, expect_pod_netns.clone()),
                (1013, expect_pod_netns),
                (
                    2021,
                    Owner {
                        container: Some("redis"),
                        container_id: Some(LONE_ID),
                        runtime: Some(Runtime::Podman),
                        pid: Some(200),
                        process: Some("redis"),
                        attribution: Attribution::Process,
                        ..Owner::NONE
                    }
                ),
                (
                    2022,
                    Owner {
                        container: Some("redis"),
                        container_id: Some(LONE_ID),
                        runtime: Some(Runtime::Podman),
                        attribution: Attribution::Netns,
                        ..Owner::NONE
                    }
                ),
                (
                    3031,
                    Owner {
                        pid: Some(1),
                        process: Some("init"),
                        attribution: Attribution::Process,
                        ..Owner::NONE
                    }
                ),
                (3032, Owner::NONE),
                (
                    3033,
                    Owner {
                        pid: Some(4242),
                        attribution: Attribution::Process,
                        ..Owner::NONE
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_namespace_no_process_holds_is_owned_through_its_sandbox_spec() {
        let catalog = catalog();
        let processes = processes();
        let sandbox = catalog.container(PAUSE_ID).unwrap();
        let sandboxes = HashMap::from([(PINNED_NS, sandbox)]);
        let rows = run(
            &catalog,
            &processes,
            &sandboxes,
            vec![NamespaceSockets {
                netns: NetnsId::Inode(PINNED_NS),
                sockets: vec![socket(TcpState::TimeWait, 4041, 0)],
            }],
        );
        assert_eq!(rows[0].1.pod, Some("cart-0"));
        assert_eq!(rows[0].1.attribution, Attribution::Netns);
        assert_eq!(rows[0].1.container, None);
    }

    #[test]
    fn pods_without_catalog_names_keep_container_ids_from_cgroups() {
        let catalog = Catalog::default();
        let processes = processes();
        let rows = run(&catalog, &processes, &HashMap::new(), namespaces());
        let (_, owner) = &rows[0];
        assert_eq!(owner.container_id, Some(APP_ID));
        assert_eq!(owner.pod, None);
        assert_eq!(owner.container, None);
        // Without pod names a namespace still has one container owner at most
        // when all its processes share one; here pause and cart differ.
        assert_eq!(rows[1].1, Owner::NONE);
    }

    #[test]
    fn a_namespace_shared_by_two_pods_is_attributed_to_neither() {
        let mut catalog = catalog();
        let other_pod = PodInfo {
            namespace: "shop".into(),
            name: "cart-1".into(),
            uid: Some("11111111-2222-3333-4444-555555555555".into()),
        };
        catalog.add_pod(other_pod);
        let mut processes = processes();
        processes.push(process(
            300,
            "intruder",
            POD_NS,
            Some(CgroupRef {
                pod_uid: Some("11111111-2222-3333-4444-555555555555".into()),
                ..CgroupRef::default()
            }),
        ));
        let rows = run(&catalog, &processes, &HashMap::new(), namespaces());
        assert_eq!(rows[1], (1012, Owner::NONE));
    }
}
