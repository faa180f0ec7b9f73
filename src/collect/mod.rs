//! Live collection: the node's `/proc`, netlink and runtime files in, one
//! owned [`Snapshot`] out. All I/O on the node happens under here and in
//! names/; every stage that fails for part of the node (a process that
//! exits, a namespace that cannot be entered, a runtime that does not
//! answer) records a warning and goes on with the rest.

pub mod carry;
pub mod cgroup_dirs;
pub mod counters;
pub mod dirs;
pub mod cluster;
pub mod files;
pub mod host_root;
pub mod namespaces;
pub mod netns_enter;
pub mod network;
pub mod parallel;
pub mod processes;
pub mod procfs;
pub mod read_netns;
pub mod ticks;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::clock;
use crate::model::{
    CgroupRef, Collector, NetnsId, NetnsSnapshot, Protocols, Snapshot, SocketOwners, StateSet,
    Warning, Warnings, FORMAT_VERSION,
};
use crate::names;
use crate::names::kube_api::KubeSource;
use host_root::HostRoot;
use procfs::ProcFs;
use read_netns::TableReader;

/// What to collect and how, resolved from the command line (config.rs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub proc_dir: PathBuf,
    pub root: PathBuf,
    /// Whether `proc_dir` is this machine's live procfs, not a recorded tree.
    pub live: bool,
    pub reader: TableReader,
    /// The protocols whose tables to read.
    pub protocols: Protocols,
    /// The states to ask the kernel for.
    pub states: StateSet,
    /// The states of the sockets whose owning process to look up.
    pub owners_for: StateSet,
    /// What else to read of each namespace.
    pub network: network::Parts,
    /// Where to find credentials for the Kubernetes API, tried in order;
    /// empty: the API is not used.
    pub kube: Vec<KubeSource>,
    /// For `--watch`: also each namespace's TCP counters and the cgroup
    /// directories that name containers; a socket whose cgroup names its
    /// container needs no process looked up.
    pub watch: bool,
}

/// What names containers: read by a collection itself, meanwhile the
/// process scan, or handed to it (a watch reads it off the tick's path).
#[derive(Clone)]
pub struct Naming {
    pub names: names::Names,
    /// Read only for a watch.
    pub cgroup_dirs: BTreeMap<u64, CgroupRef>,
}

impl Naming {
    fn read(root: &HostRoot, watch: bool) -> Naming {
        Naming {
            names: names::read_names(root),
            cgroup_dirs: if watch {
                cgroup_dirs::cgroup_dirs(root)
            } else {
                BTreeMap::new()
            },
        }
    }
}

#[derive(Debug)]
pub enum CollectError {
    /// Without the process list there is nothing to read.
    ListProcesses { proc_dir: PathBuf, error: io::Error },
    /// The node root could not be opened.
    Root { error: io::Error },
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectError::ListProcesses { proc_dir, error } => {
                write!(
                    f,
                    "cannot list processes in {}: {error}",
                    proc_dir.display()
                )
            }
            CollectError::Root { error } => write!(f, "--root {error}"),
        }
    }
}

pub fn snapshot(plan: &Plan) -> Result<Snapshot, CollectError> {
    collect(plan, &mut None, None)
}

/// A snapshot with `naming`, read here when None (and kept there for a
/// watch's next tick); with the `previous`
/// tick's snapshot of a watch, reading only what changed since
/// (carry.rs): tables whose counters did not move, and owners already
/// known, are taken from it.
/// A socket with an inode that no process was found holding passes for the
/// kernel's (attribute.rs), unless it was closed between the table's read
/// and the fd scan, as a busy pod's short connections and DNS queries
/// often are. The namespaces holding such sockets (`unheld`: only where no
/// process went unread, the only place a socket can be the kernel's) are
/// read once more, in every state; those sockets no longer there are
/// marked closed. A namespace that cannot be read again keeps its sockets
/// unmarked. Where no socket lacks a holder, nothing is read again.
fn mark_closed_while_read(
    proc: &ProcFs,
    read: &[namespaces::Namespace],
    namespaces: &mut [NetnsSnapshot],
    unheld: &HashSet<u64>,
    how: read_netns::How,
    threads: usize,
) {
    let holds_unheld = |ns: &NetnsSnapshot| ns.sockets.iter().any(|s| unheld.contains(&s.inode));
    let again: Vec<namespaces::Namespace> = read
        .iter()
        .filter(|candidate| {
            namespaces
                .iter()
                .any(|ns| ns.id == NetnsId::Inode(candidate.inode) && holds_unheld(ns))
        })
        .cloned()
        .collect();
    if again.is_empty() {
        return;
    }
    let how = read_netns::How {
        states: StateSet::ALL,
        network: network::Parts::None,
        ..how
    };
    let reread = read_netns::read_tables(proc, &again, how, threads);
    for now in &reread.namespaces {
        let Some(ns) = namespaces.iter_mut().find(|ns| ns.id == now.id) else {
            continue;
        };
        let open: HashSet<u64> = now.sockets.iter().map(|s| s.inode).collect();
        ns.closed_while_read = ns
            .sockets
            .iter()
            .map(|s| s.inode)
            .filter(|inode| unheld.contains(inode) && !open.contains(inode))
            .collect();
    }
}
fn collect(
    plan: &Plan,
    naming: &mut Option<Naming>,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, CollectError> {
    let proc = ProcFs::new(plan.proc_dir.clone());
    let root = HostRoot::open(plan.root.clone()).map_err(|error| CollectError::Root { error })?;
    let threads = parallel::available_threads();
    let pids = proc.pids().map_err(|error| CollectError::ListProcesses {
        proc_dir: plan.proc_dir.clone(),
        error,
    })?;

    // The Kubernetes API's answer takes a round trip or more: asked first,
    // it arrives while the node is read.
    let (kube_tx, kube_rx) = std::sync::mpsc::channel();
    let kube_sources = plan.kube.clone();
    let root_path = plan.root.clone();
    if !kube_sources.is_empty() {
        std::thread::spawn(move || {
            // The node root opened above; opened again for this thread.
            let listed = match HostRoot::open(root_path) {
                Ok(root) => cluster::list(&kube_sources, &root),
                Err(error) => {
                    let error = format!("--root: {error}");
                    (None, vec![Warning::Kube { source: None, error }])
                }
            };
            let _ = kube_tx.send(listed);
        });
    }
    let given = naming.take();
    let ((mut processes, mut unreadable, skipped), current) = std::thread::scope(|scope| {
        // Runtime metadata needs nothing from /proc: read it meanwhile.
        let reading = match given {
            Some(given) => Err(given),
            None => Ok(scope.spawn(|| Naming::read(&root, plan.watch))),
        };
        let scan = processes::scan_processes(&proc, &pids, threads);
        let current = match reading {
            Err(given) => given,
            Ok(reading) => reading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        };
        (scan, current)
    });
    // A watch reads names off the tick's path and reuses them until new
    // ones come; a single run has no use for a copy.
    if plan.watch {
        *naming = Some(current.clone());
    }
    let Naming { names, cgroup_dirs } = current;
    let mut warnings = Warnings::default();
    warnings.extend(skipped);
    warnings.extend(names.warnings);
    warnings.extend(names::docker_warning(
        &names.docker,
        &processes,
        &names.catalog,
    ));

    let mounts = if plan.live {
        namespaces::pinned_namespaces(&proc).unwrap_or_else(|warning| {
            warnings.push(warning);
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let found = namespaces::discover_namespaces(
        &processes,
        &mounts,
        &namespaces::mount_opener(&proc, &root),
    );
    let taken = clock::now();
    let how = read_netns::How {
        reader: plan.reader,
        protocols: plan.protocols,
        states: plan.states,
        network: plan.network,
    };
    let mut counted = Vec::new();
    let counters = if plan.watch {
        counters::read_counters(&proc, &found, threads, &mut counted)
    } else {
        vec![None; found.len()]
    };
    warnings.extend(counted);
    let hidden = processes.iter().any(|p| matches!(p.netns, NetnsId::Hidden(_)));
    let (carried, to_read) = match previous {
        Some(previous) => carry::split(&found, &counters, previous, plan.network, hidden),
        None => (Vec::new(), found.clone()),
    };
    let mut tables = read_netns::read_tables(&proc, &to_read, how, threads);
    for (ns, _) in &carried {
        tables.note_entry(&proc, ns);
    }
    // A process started while the tables were read may hold sockets they
    // list (a DNS query from a fresh process); unscanned, its sockets would
    // show no process, or pass for the kernel's. Every process holding a
    // listed socket is alive now or closed it, so one more listing finds
    // them all.
    let pids = match proc.pids() {
        Ok(now) => {
            let late: Vec<u32> = now
                .into_iter()
                .filter(|pid| pids.binary_search(pid).is_err())
                .collect();
            let (more, more_unreadable, more_skipped) =
                processes::scan_processes(&proc, &late, threads);
            processes.extend(more);
            processes.sort_unstable_by_key(|p| p.pid);
            unreadable.extend(more_unreadable);
            warnings.extend(more_skipped);
            let mut all = pids;
            all.extend(late);
            all.sort_unstable();
            all
        }
        Err(_) => pids,
    };
    read_netns::place_hidden_processes(&proc, plan.live, &mut processes, &mut tables, how);
    warnings.extend(std::mem::take(&mut tables.warnings));
    let mut namespaces = tables.namespaces;
    carry::attach_counters(&mut namespaces, &found, &counters);
    namespaces.extend(carried.into_iter().map(|(_, kept)| kept));
    drop_duplicate_inodes(&mut namespaces);

    let mut wanted: HashSet<u64> = namespaces
        .iter()
        .flat_map(|ns| &ns.sockets)
        .filter(|s| s.inode != 0 && plan.owners_for.contains(s.state))
        .filter(|s| !plan.watch || !carry::cgroup_names_container(&cgroup_dirs, s.cgroup_id))
        .map(|s| s.inode)
        .collect();
    let mut socket_owners = match previous {
        Some(previous) => carry::known_owners(previous, &processes, &mut wanted),
        None => HashMap::new(),
    };
    if !wanted.is_empty() {
        let restricted;
        let scanned = match previous {
            Some(_) => {
                restricted = carry::holders_to_scan(&namespaces, &processes, &wanted);
                &restricted
            }
            None => &pids,
        };
        socket_owners.extend(processes::scan_socket_owners(
            &proc,
            scanned,
            &wanted,
            threads,
            &mut unreadable,
        ));
    }
    unreadable.mark(&mut processes);
    warnings.extend(unreadable.warning(pids.len()));
    if plan.live {
        // Only where no process went unread can a socket be the kernel's.
        let unread_in: HashSet<NetnsId> = processes
            .iter()
            .filter(|p| p.fds_unread)
            .map(|p| p.netns)
            .collect();
        let unheld: HashSet<u64> = namespaces
            .iter()
            .filter(|ns| !unread_in.contains(&ns.id))
            .flat_map(|ns| &ns.sockets)
            .map(|s| s.inode)
            .filter(|inode| wanted.contains(inode) && !socket_owners.contains_key(inode))
            .collect();
        mark_closed_while_read(&proc, &to_read, &mut namespaces, &unheld, how, threads);
    }
    let sandbox_netns = names::sandboxes::sandbox_namespaces(&names.catalog, &root, &mounts);
    let cluster = if plan.kube.is_empty() {
        None
    } else {
        // The lists keep to their deadline; this bounds a thread that did not.
        let (cluster, kube_warnings) = kube_rx
            .recv_timeout(cluster::DEADLINE + std::time::Duration::from_secs(1))
            .unwrap_or_else(|_| {
                let error = format!("no answer within {:?}", cluster::DEADLINE);
                (None, vec![Warning::Kube { source: None, error }])
            });
        warnings.extend(kube_warnings);
        cluster
    };

    Ok(Snapshot {
        version: FORMAT_VERSION,
        taken,
        collector: collector(),
        protocols: plan.protocols,
        states: plan.states,
        owners_for: plan.owners_for,
        host_netns: host_netns(&proc, plan.live),
        namespaces,
        processes,
        socket_owners: SocketOwners(socket_owners),
        catalog: names.catalog,
        sandbox_netns,
        cluster,
        warnings,
        cgroup_dirs,
    })
}

/// A socket is one file: should two reads show the same inode (a recorded
/// tree whose namespaces cannot be told apart), it is listed once. Inode 0
/// (TIME_WAIT, request sockets) names no file, and 4-tuples repeat across
/// namespaces on any busy node, so neither says two rows are one socket.
fn drop_duplicate_inodes(namespaces: &mut [NetnsSnapshot]) {
    // Duplicates are rare (never on a live /proc): a sorted list finds out
    // whether there are any for a fraction of what a set per socket costs.
    let mut inodes: Vec<u64> = namespaces
        .iter()
        .flat_map(|ns| &ns.sockets)
        .map(|s| s.inode)
        .filter(|&inode| inode != 0)
        .collect();
    inodes.sort_unstable();
    if inodes.windows(2).all(|w| w[0] != w[1]) {
        return;
    }
    let mut seen = HashSet::new();
    for ns in namespaces {
        ns.sockets.retain(|s| s.inode == 0 || seen.insert(s.inode));
    }
}

/// The host's namespace is PID 1's; where its link is denied (a sandbox
/// whose PID 1 holds a capability root lacks), cnetstat's own.
fn host_netns(proc: &ProcFs, live: bool) -> Option<u64> {
    proc.netns(1).ok().or_else(|| {
        live.then(|| ProcFs::new("/proc".into()).netns(std::process::id()).ok())
            .flatten()
    })
}

fn collector() -> Collector {
    // SAFETY: utsname is plain old data, valid when zeroed; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is writable and the size uname expects.
    let named = unsafe { libc::uname(&mut uts) } == 0;
    let field = |chars: &[libc::c_char]| {
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let mut status = Vec::new();
    let _ = files::read_path(std::path::Path::new("/proc/self/status"), files::Cap::STATUS, &mut status);
    Collector {
        hostname: if named {
            field(&uts.nodename)
        } else {
            String::new()
        },
        kernel: if named {
            field(&uts.release)
        } else {
            String::new()
        },
        // SAFETY: geteuid has no arguments and cannot fail.
        euid: unsafe { libc::geteuid() },
        cap_eff: crate::parse::proc_pid::effective_capabilities(&status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, TcpState};

    #[test]
    fn a_socket_read_twice_is_listed_once_but_time_waits_are_all_kept() {
        let tw = || testing::socket("10.0.0.1:40000", "10.0.0.9:443", TcpState::TimeWait, 0);
        let held = testing::socket("10.0.0.1:40001", "10.0.0.9:443", TcpState::Established, 77);
        let mut namespaces = vec![
            testing::netns(1, vec![tw(), held]),
            testing::netns(2, vec![tw(), held]),
        ];
        drop_duplicate_inodes(&mut namespaces);
        assert_eq!(namespaces[0].sockets, vec![tw(), held]);
        assert_eq!(namespaces[1].sockets, vec![tw()]);
    }
}
