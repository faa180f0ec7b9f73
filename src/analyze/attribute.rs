//! The join: each socket gets an owner. A socket whose inode an open file
//! holds belongs to that process, and through its cgroup to a container and
//! pod. A socket no process holds (TIME_WAIT, request and orphan sockets) is
//! attributed to whoever owns its network namespace: the pod whose sandbox
//! spec names it or whose processes live in it; the host namespace is shared
//! by host daemons and hostNetwork pods, so ownerless sockets there stay
//! unattributed. A socket with an inode that no process holds, where every
//! process that could hold it was read, is the kernel's own (a VXLAN or
//! WireGuard device's). Pure: a function of the snapshot.

use std::collections::{HashMap, HashSet};

use super::remote::{self, Remote};
use crate::model::{
    NetnsSnapshot, CgroupRef, NetnsId, PodInfo, Process, Runtime, Snapshot, Socket, StateSet, Warning,
};

/// How a socket's owner was found: the one list every view shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attribution {
    Process,
    /// `--watch`: the container its cgroup v2 id names (analyze/history.rs).
    Cgroup,
    /// `--watch`: the process that held it when it was seen alive, for a
    /// TIME_WAIT (analyze/history.rs).
    History,
    Netns,
    /// No process holds it, and none could: the kernel made it for itself.
    Kernel,
    None,
}

impl Attribution {
    /// Whether the owner was found for the socket itself (the process
    /// holding it, its cgroup, the process that held it), so a container
    /// it names made that socket; not only its namespace's owner.
    pub fn found_for_the_socket(self) -> bool {
        matches!(
            self,
            Attribution::Process | Attribution::Cgroup | Attribution::History
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Attribution::Process => "process",
            Attribution::Cgroup => "cgroup",
            Attribution::History => "history",
            Attribution::Netns => "netns",
            Attribution::Kernel => "kernel",
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
    pub const NONE: Owner<'static> = Owner {
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

/// A socket of the snapshot and who owns it; rows are sorted and filtered,
/// so they point at the socket rather than copy it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row<'a> {
    pub socket: &'a Socket,
    pub netns: NetnsId,
    /// Index into [`Attributed::owners`].
    pub owner: u32,
    /// Index into [`Attributed::remotes`].
    pub remote: u32,
}

#[derive(Debug)]
pub struct Attributed<'a> {
    pub owners: Vec<Owner<'a>>,
    /// The remote ends rows point at; index 0 is [`Remote::UNKNOWN`].
    pub remotes: Vec<Remote<'a>>,
    pub rows: Vec<Row<'a>>,
}

impl<'a> Attributed<'a> {
    pub fn owner(&self, row: &Row<'_>) -> &Owner<'a> {
        &self.owners[row.owner as usize]
    }

    pub fn remote(&self, row: &Row<'_>) -> &Remote<'a> {
        &self.remotes[row.remote as usize]
    }
}

pub fn attribute(snapshot: &Snapshot) -> Attributed<'_> {
    let mut owners: Vec<Owner<'_>> = vec![Owner::NONE];
    let mut process_owner: HashMap<u32, u32> = HashMap::new();
    let mut netns_owner: HashMap<NetnsId, u32> = HashMap::new();
    let mut kernel_owner: HashMap<NetnsId, u32> = HashMap::new();
    let kernel = KernelHeld::of(snapshot);
    let socket_owners = &snapshot.socket_owners.0;
    let mut rows = Vec::with_capacity(snapshot.namespaces.iter().map(|ns| ns.sockets.len()).sum());
    for ns in &snapshot.namespaces {
        for socket in &ns.sockets {
            let held_by = (socket.inode != 0)
                .then(|| socket_owners.get(&socket.inode))
                .flatten();
            let owner = match held_by {
                Some(&pid) => *process_owner.entry(pid).or_insert_with(|| {
                    owners.push(process_owner_of(snapshot, pid));
                    (owners.len() - 1) as u32
                }),
                None if kernel.holds(ns, socket) => {
                    *kernel_owner.entry(ns.id).or_insert_with(|| {
                        owners.push(kernel_owner_of(snapshot, ns.id));
                        (owners.len() - 1) as u32
                    })
                }
                None => *netns_owner.entry(ns.id).or_insert_with(|| {
                    match namespace_owner(snapshot, ns.id) {
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
                netns: ns.id,
                owner,
                remote: 0,
            });
        }
    }
    let mut attributed = Attributed {
        owners,
        remotes: vec![Remote::UNKNOWN],
        rows,
    };
    remote::name_rows(snapshot, &mut attributed);
    attributed
}

/// Which sockets no process holds because the kernel does. The kernel makes
/// a VXLAN or WireGuard device's UDP socket, or an NFS server's, with no
/// file: it has an inode, and no `fd/` link names it. A process whose open
/// files could not be read holds sockets that look the same, so a socket
/// with an inode and no holder is the kernel's only where its holder was
/// looked for (its state was one the fd scan wanted, and the scan listed
/// the processes after the tables were read) and no process of its
/// namespace went unread, and a second read of its table after the fd
/// scan still found it (else it was closed meanwhile:
/// `NetnsSnapshot::closed_while_read`). Where no process at all went
/// unread this is exact; else it leaves one case: a process elsewhere, unread, holding a
/// socket made in this namespace (setns() after socket(), a descriptor
/// passed over a Unix socket). Sockets in flight in a Unix socket's queue,
/// and those of a thread with a file table of its own, look the kernel's
/// too.
struct KernelHeld {
    looked_for: StateSet,
    /// Namespaces with a process whose open files went unread; None where
    /// the snapshot cannot say which (a recording older than the mark,
    /// whose warning counts some): then no socket is the kernel's.
    unread_in: Option<HashSet<NetnsId>>,
}

impl KernelHeld {
    fn of(snapshot: &Snapshot) -> KernelHeld {
        let unread: Vec<&Process> = snapshot.processes.iter().filter(|p| p.fds_unread).collect();
        let counted: u64 = snapshot
            .warnings
            .iter()
            .map(|warning| match warning {
                Warning::ProcessesUnreadable { fd_tables, .. } => u64::from(*fd_tables),
                _ => 0,
            })
            .sum();
        KernelHeld {
            looked_for: snapshot.owners_for,
            unread_in: (unread.len() as u64 == counted)
                .then(|| unread.iter().map(|p| p.netns).collect()),
        }
    }

    /// For a socket of `ns` no process was found to hold.
    fn holds(&self, ns: &NetnsSnapshot, socket: &Socket) -> bool {
        socket.inode != 0
            && self.looked_for.contains(socket.state)
            && !ns.closed_while_read.contains(&socket.inode)
            && self
                .unread_in
                .as_ref()
                .is_some_and(|unread| !unread.contains(&ns.id))
    }
}

/// The kernel's socket keeps the namespace's pod, whose network it is in,
/// and names no container.
fn kernel_owner_of(snapshot: &Snapshot, netns: NetnsId) -> Owner<'_> {
    let owner = namespace_owner(snapshot, netns).unwrap_or(Owner::NONE);
    Owner {
        namespace: owner.namespace,
        pod: owner.pod,
        runtime: owner.runtime,
        attribution: Attribution::Kernel,
        ..Owner::NONE
    }
}

fn process_owner_of(snapshot: &Snapshot, pid: u32) -> Owner<'_> {
    let Ok(index) = snapshot.processes.binary_search_by_key(&pid, |p| p.pid) else {
        return Owner {
            pid: Some(pid),
            attribution: Attribution::Process,
            ..Owner::NONE
        };
    };
    let process = &snapshot.processes[index];
    Owner {
        pid: Some(pid),
        process: Some(&process.comm),
        attribution: Attribution::Process,
        ..identity(snapshot, process)
    }
}

/// The container and pod a process's cgroup names, with names from the catalog.
fn identity<'a>(snapshot: &'a Snapshot, process: &'a Process) -> Owner<'a> {
    match &process.cgroup {
        Some(cgroup) => cgroup_identity(snapshot, cgroup),
        None => Owner::NONE,
    }
}

/// The container and pod a cgroup path names, with names from the catalog.
pub fn cgroup_identity<'a>(snapshot: &'a Snapshot, cgroup: &'a CgroupRef) -> Owner<'a> {
    let info = cgroup
        .container_id
        .as_deref()
        .and_then(|id| snapshot.catalog.container(id));
    let pod = info.and_then(|info| info.pod.as_ref()).or_else(|| {
        cgroup
            .pod_uid
            .as_deref()
            .and_then(|uid| snapshot.catalog.pod(uid))
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
pub fn namespace_owner(snapshot: &Snapshot, netns: NetnsId) -> Option<Owner<'_>> {
    let inode = netns.inode();
    if inode.is_some() && snapshot.host_netns == inode {
        return None;
    }
    let sandbox = inode
        .and_then(|inode| snapshot.sandbox_netns.get(&inode))
        .and_then(|id| snapshot.catalog.container(id));
    if let Some(sandbox) = sandbox {
        if let Some(pod) = &sandbox.pod {
            return Some(pod_owner(pod, sandbox.runtime));
        }
    }
    let members = snapshot.processes.iter().filter(|p| p.netns == netns);
    let identities: Vec<Owner<'_>> = members
        .filter(|p| !p.cgroup.as_ref().is_some_and(|cg| cg.monitor))
        .map(|p| identity(snapshot, p))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing;
    use crate::model::{
        Catalog, CgroupRef, ContainerInfo, NetnsSnapshot, SocketOwners, TcpState, Warning,
    };
    use std::collections::BTreeMap;

    const HOST: u64 = 4026531840;
    const POD_NS: u64 = 4026532001;
    const LONE_NS: u64 = 4026532002;
    const PINNED_NS: u64 = 4026532003;
    const APP_ID: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const PAUSE_ID: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const LONE_ID: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    const POD_UID: &str = "193c20d9-34af-4b69-b119-2e75aa9023d1";

    fn socket(state: TcpState, local_port: u16, inode: u64) -> Socket {
        testing::socket(
            &format!("127.0.0.1:{local_port}"),
            "127.0.0.1:8080",
            state,
            inode,
        )
    }

    fn process(pid: u32, comm: &str, netns: u64, cgroup: Option<CgroupRef>) -> Process {
        Process {
            pid,
            comm: comm.into(),
            netns: NetnsId::Inode(netns),
            cgroup,
            fds_unread: false,
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
                runtime: Some(Runtime::Docker),
                name: Some(name.into()),
                pod: Some(pod()),
                sandbox,
                ..ContainerInfo::unnamed(id.into())
            });
        }
        catalog.add_container(ContainerInfo {
            runtime: Some(Runtime::Podman),
            name: Some("redis".into()),
            ..ContainerInfo::unnamed(LONE_ID.into())
        });
        catalog
    }

    fn processes() -> Vec<Process> {
        vec![
            process(1, "init", HOST, None),
            process(100, "pause", POD_NS, in_container(PAUSE_ID, Some(POD_UID))),
            process(101, "cart", POD_NS, in_container(APP_ID, Some(POD_UID))),
            process(200, "redis", LONE_NS, in_container(LONE_ID, None)),
        ]
    }

    fn run(
        catalog: Catalog,
        processes: Vec<Process>,
        sandboxes: BTreeMap<u64, String>,
        namespaces: Vec<NetnsSnapshot>,
    ) -> Vec<(u16, Owner<'static>)> {
        let snapshot = Snapshot {
            host_netns: Some(HOST),
            namespaces,
            processes,
            socket_owners: SocketOwners(HashMap::from([(11, 101), (21, 200), (31, 1), (99, 4242)])),
            catalog,
            sandbox_netns: sandboxes,
            ..testing::snapshot()
        };
        let attributed = attribute(&snapshot);
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

    fn namespaces() -> Vec<NetnsSnapshot> {
        vec![
            testing::netns(
                POD_NS,
                vec![
                    socket(TcpState::Established, 1011, 11),
                    socket(TcpState::TimeWait, 1012, 0),
                    // An inode no process holds, and every process was
                    // read: the kernel's (a VXLAN device's, say).
                    socket(TcpState::Established, 1013, 12),
                ],
            ),
            testing::netns(
                LONE_NS,
                vec![
                    socket(TcpState::Established, 2021, 21),
                    socket(TcpState::TimeWait, 2022, 0),
                ],
            ),
            testing::netns(
                HOST,
                vec![
                    socket(TcpState::Listen, 3031, 31),
                    socket(TcpState::TimeWait, 3032, 0),
                    // Held by a pid that the process scan did not see.
                    socket(TcpState::Established, 3033, 99),
                ],
            ),
        ]
    }

    #[test]
    fn sockets_get_process_netns_or_no_owner() {
        let rows = run(catalog(), processes(), BTreeMap::new(), namespaces());
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
                (
                    1013,
                    Owner {
                        attribution: Attribution::Kernel,
                        ..expect_pod_netns
                    }
                ),
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

    /// The attribution of the socket on port 1013 (an inode no process
    /// holds, in the pod's namespace) and of one like it on the host.
    fn unheld(mut snapshot: Snapshot) -> (Attribution, Attribution) {
        snapshot.namespaces = namespaces();
        snapshot.namespaces[2].sockets.push(socket(TcpState::Listen, 3034, 34));
        let attributed = attribute(&snapshot);
        let of = |port: u16| {
            let row = attributed.rows.iter().find(|r| r.socket.local_port == port).unwrap();
            attributed.owner(row).attribution
        };
        (of(1013), of(3034))
    }

    fn node() -> Snapshot {
        Snapshot {
            host_netns: Some(HOST),
            processes: processes(),
            socket_owners: SocketOwners(HashMap::from([(11, 101), (21, 200), (31, 1)])),
            catalog: catalog(),
            ..testing::snapshot()
        }
    }

    fn unread_open_files(count: u32) -> Warning {
        Warning::ProcessesUnreadable {
            ns_links: 0,
            fd_tables: count,
            processes: 4,
            first: "/proc/1/fd: Permission denied".into(),
        }
    }

    #[test]
    fn an_inode_no_process_holds_is_the_kernels_only_where_no_process_of_its_namespace_went_unread() {
        use Attribution::{Kernel, Netns, None as Nobody};
        // Every process read: both are the kernel's; the host's has no pod.
        assert_eq!(unheld(node()), (Kernel, Kernel));
        let mut snapshot = node();
        snapshot.namespaces = namespaces();
        snapshot.namespaces[2].sockets.push(socket(TcpState::Listen, 3034, 34));
        let attributed = attribute(&snapshot);
        let row = attributed.rows.iter().find(|r| r.socket.local_port == 3034).unwrap();
        let host = attributed.owner(row);
        assert_eq!((host.namespace, host.pod, host.pid), (None, None, None));
        // PID 1's open files unread (these build machines): it may hold
        // the host's socket, not the pod's.
        let mut snapshot = node();
        snapshot.processes[0].fds_unread = true;
        snapshot.warnings.push(unread_open_files(1));
        assert_eq!(unheld(snapshot), (Kernel, Nobody));
        // The pod's app unread: its namespace's socket may be the app's.
        let mut snapshot = node();
        snapshot.processes[2].fds_unread = true;
        snapshot.warnings.push(unread_open_files(1));
        assert_eq!(unheld(snapshot), (Netns, Kernel));
        // A recording that counts an unread process but marks none: which
        // namespace it was in is unknown, so neither is the kernel's.
        let mut snapshot = node();
        snapshot.warnings.push(unread_open_files(1));
        assert_eq!(unheld(snapshot), (Netns, Nobody));
        // A state whose holders were not looked for says nothing.
        let mut snapshot = node();
        snapshot.owners_for = StateSet(TcpState::TimeWait.bit());
        assert_eq!(unheld(snapshot), (Netns, Nobody));
    }

    /// Found by a user: a busy pod's connection closed between the table's
    /// read and the fd scan showed as the kernel's. A second read that no
    /// longer finds it marks it closed; it is then the namespace's, as any
    /// socket no process holds.
    #[test]
    fn a_socket_closed_while_the_node_was_read_is_not_the_kernels() {
        use Attribution::{Kernel, Netns, None as Nobody};
        let closed = |inodes: &[u64]| {
            let mut snapshot = node();
            snapshot.namespaces = namespaces();
            snapshot.namespaces[2]
                .sockets
                .push(socket(TcpState::Listen, 3034, 34));
            for ns in &mut snapshot.namespaces {
                ns.closed_while_read = inodes.to_vec();
            }
            let attributed = attribute(&snapshot);
            let of = |port: u16| {
                let row = attributed.rows.iter().find(|r| r.socket.local_port == port).unwrap();
                attributed.owner(row).attribution
            };
            (of(1013), of(3034))
        };
        assert_eq!(closed(&[]), (Kernel, Kernel));
        assert_eq!(closed(&[12]), (Netns, Kernel));
        assert_eq!(closed(&[12, 34]), (Netns, Nobody));
    }


    #[test]
    fn a_namespace_no_process_holds_is_owned_through_its_sandbox_spec() {
        let sandboxes = BTreeMap::from([(PINNED_NS, PAUSE_ID.to_owned())]);
        let rows = run(
            catalog(),
            processes(),
            sandboxes,
            vec![testing::netns(
                PINNED_NS,
                vec![socket(TcpState::TimeWait, 4041, 0)],
            )],
        );
        assert_eq!(rows[0].1.pod, Some("cart-0"));
        assert_eq!(rows[0].1.attribution, Attribution::Netns);
        assert_eq!(rows[0].1.container, None);
    }

    #[test]
    fn pods_without_catalog_names_keep_container_ids_from_cgroups() {
        let rows = run(
            Catalog::default(),
            processes(),
            BTreeMap::new(),
            namespaces(),
        );
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
        let rows = run(catalog, processes, BTreeMap::new(), namespaces());
        assert_eq!(rows[1], (1012, Owner::NONE));
    }
}
