//! Network namespaces and their socket tables: every namespace a process
//! holds or an nsfs bind mount pins, each read once, in parallel, through
//! sock_diag netlink or the `/proc` text tables.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::attribute::{NamespaceSockets, NetnsId, ProcessInfo};
use crate::cli::Backend;
use crate::diagnostics::warn;
use crate::host_root::HostRoot;
use crate::model::{Proto, Socket, StateSet, TcpState};
use crate::mountinfo;
use crate::netns_enter;
use crate::parallel;
use crate::procfs::{self, ProcFs};
use crate::sock_diag;
use crate::tcp_table;

/// Where a namespace's sockets can be read from.
#[derive(Clone, Debug)]
pub enum Handle {
    /// Through its processes, lowest pid first (the next is tried when one
    /// exits mid-scan): `/proc/<pid>/net/tcp`, or setns on `/proc/<pid>/ns/net`.
    Processes(Vec<u32>),
    /// A namespace no process holds: the path of the nsfs bind mount that
    /// pins it, as this process can open it.
    Mount(PathBuf),
}

#[derive(Clone, Debug)]
pub struct Namespace {
    pub inode: u64,
    pub handle: Handle,
}

/// Processes whose namespace link could not be read (ptrace access denied)
/// still show their namespace's table through `/proc/<pid>/net/tcp`, and
/// that file's inode number is the namespace's own: the kernel registers the
/// `tcp` entry once per namespace, and stat needs no ptrace access. So a
/// hidden process joins the namespace whose `tcp` entry it shares, and the
/// rest are read once per such entry, as namespaces whose inode is unknown.
pub fn place_hidden_processes(
    proc: &ProcFs,
    processes: &mut [ProcessInfo],
    namespaces: &[Namespace],
    tables: &mut Vec<NamespaceSockets>,
    states: StateSet,
) {
    let table_inode = |pid: u32| {
        std::fs::metadata(proc.pid_path(pid, "net/tcp"))
            .ok()
            .map(|m| m.ino())
    };
    if !processes
        .iter()
        .any(|p| matches!(p.netns, NetnsId::Hidden(_)))
    {
        return;
    }
    let mut by_table: HashMap<u64, NetnsId> = namespaces
        .iter()
        .filter_map(|ns| match ns.handle {
            Handle::Processes(ref pids) => Some((
                pids.iter().find_map(|&pid| table_inode(pid))?,
                NetnsId::Inode(ns.inode),
            )),
            Handle::Mount(_) => None,
        })
        .collect();
    let mut buf = Vec::new();
    for process in processes.iter_mut() {
        let NetnsId::Hidden(pid) = process.netns else {
            continue;
        };
        let Some(key) = table_inode(pid) else {
            continue;
        };
        if let Some(&netns) = by_table.get(&key) {
            process.netns = netns;
            continue;
        }
        by_table.insert(key, process.netns);
        let mut sockets = Vec::new();
        let read = [("net/tcp", Proto::Tcp), ("net/tcp6", Proto::Tcp6)]
            .into_iter()
            .try_for_each(|(file, proto)| {
                let path = proc.pid_path(pid, file);
                read_table(&path, proto, states, &mut buf, &mut sockets)
            });
        match read {
            Ok(()) => tables.push(NamespaceSockets {
                netns: process.netns,
                sockets,
            }),
            Err(err) => warn(err),
        }
    }
}

/// Namespaces pinned by nsfs bind mounts, from PID 1's mount table.
pub fn pinned_namespaces(proc: &ProcFs) -> Vec<mountinfo::NsMount> {
    let mut buf = Vec::new();
    match proc.read(1, "mountinfo", &mut buf) {
        Ok(()) => mountinfo::net_ns_mounts(&buf),
        Err(err) => {
            warn(format_args!(
                "{}: {err}; network namespaces that no process holds are not listed",
                proc.pid_path(1, "mountinfo").display()
            ));
            Vec::new()
        }
    }
}

/// How to open a bind mount PID 1's mount table lists: through PID 1's root,
/// since a debug pod's view of /host/run misses mounts made after it started
/// (runtimes.md P3); where that is denied (these machines' PID 1 has a
/// capability root lacks), through the host root.
pub fn mount_opener<'a>(proc: &'a ProcFs, root: &'a HostRoot) -> impl Fn(&Path) -> PathBuf + 'a {
    let init_root = proc.pid_path(1, "root");
    let through_init = std::fs::read_dir(&init_root).is_ok();
    move |mount_point| {
        if through_init {
            init_root.join(mount_point.strip_prefix("/").unwrap_or(mount_point))
        } else {
            root.resolve(mount_point)
                .unwrap_or_else(|_| mount_point.to_path_buf())
        }
    }
}

/// One handle per namespace: its processes, else its first bind mount.
pub fn discover_namespaces(
    processes: &[ProcessInfo],
    mounts: &[mountinfo::NsMount],
    open_path: &impl Fn(&Path) -> PathBuf,
) -> Vec<Namespace> {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut namespaces: Vec<Namespace> = Vec::new();
    for process in processes {
        let NetnsId::Inode(inode) = process.netns else {
            continue;
        };
        match seen.get(&inode) {
            Some(&index) => {
                if let Handle::Processes(pids) = &mut namespaces[index].handle {
                    pids.push(process.pid);
                }
            }
            None => {
                seen.insert(inode, namespaces.len());
                namespaces.push(Namespace {
                    inode,
                    handle: Handle::Processes(vec![process.pid]),
                });
            }
        }
    }
    for mount in mounts {
        if seen.insert(mount.inode, namespaces.len()).is_none() {
            namespaces.push(Namespace {
                inode: mount.inode,
                handle: Handle::Mount(open_path(&mount.mount_point)),
            });
        }
    }
    namespaces
}

pub fn read_tables(
    proc: &ProcFs,
    namespaces: &[Namespace],
    backend: Backend,
    states: StateSet,
    threads: usize,
) -> Vec<NamespaceSockets> {
    let results = parallel::map(namespaces, threads, Vec::new, |buf, ns| {
        let mut sockets = Vec::new();
        read_namespace(proc, ns, backend, states, buf, &mut sockets).map(|()| NamespaceSockets {
            netns: NetnsId::Inode(ns.inode),
            sockets,
        })
    });
    let mut tables = Vec::with_capacity(results.len());
    let mut failed = 0;
    for result in results {
        match result {
            Ok(table) => tables.push(table),
            // One line however many fail: a debug pod without CAP_SYS_ADMIN
            // fails the same way for every pinned namespace.
            Err(err) if failed == 0 => {
                failed += 1;
                warn(err)
            }
            Err(_) => failed += 1,
        }
    }
    if failed > 1 {
        warn(format_args!(
            "{} more network namespaces could not be read the same way",
            failed - 1
        ));
    }
    tables
}

fn read_namespace(
    proc: &ProcFs,
    ns: &Namespace,
    backend: Backend,
    states: StateSet,
    buf: &mut Vec<u8>,
    out: &mut Vec<Socket>,
) -> Result<(), String> {
    let context = |path: &Path, what: &dyn std::fmt::Display| {
        format!(
            "network namespace {} ({}): {what}",
            ns.inode,
            path.display()
        )
    };
    match &ns.handle {
        Handle::Processes(pids) => {
            let mut last_error = String::new();
            for &pid in pids {
                let ns_file = proc.pid_path(pid, "ns/net");
                match read_through_process(proc, pid, &ns_file, backend, states, buf, out) {
                    Ok(()) => return Ok(()),
                    Err(err) => last_error = context(&ns_file, &err),
                }
                // A process that exited or changed namespace mid-read gives
                // way to the next; any other failure is the namespace's.
                if proc.netns(pid).ok() == Some(ns.inode) {
                    break;
                }
                out.clear();
            }
            Err(last_error)
        }
        Handle::Mount(ns_file) => {
            let mut read = |out: &mut Vec<Socket>| {
                if backend == Backend::Netlink {
                    return sock_diag::dump_tcp(states, out).map_err(|err| err.to_string());
                }
                for (file, proto) in [("tcp", Proto::Tcp), ("tcp6", Proto::Tcp6)] {
                    // After setns only this thread is in the namespace: not /proc/self.
                    let path = Path::new("/proc/thread-self/net").join(file);
                    read_table(&path, proto, states, buf, out)?;
                }
                Ok(())
            };
            netns_enter::in_netns(ns_file, || read(out))
                .map_err(|err| context(ns_file, &err))?
                .map_err(|err| context(ns_file, &err))
        }
    }
}

fn read_through_process(
    proc: &ProcFs,
    pid: u32,
    ns_file: &Path,
    backend: Backend,
    states: StateSet,
    buf: &mut Vec<u8>,
    out: &mut Vec<Socket>,
) -> Result<(), String> {
    if !may_hold(proc, pid, states, buf) {
        return Ok(());
    }
    if backend == Backend::Netlink {
        match netns_enter::in_netns(ns_file, || sock_diag::dump_tcp(states, out)) {
            Ok(result) => return result.map_err(|err| err.to_string()),
            // Without CAP_SYS_ADMIN the process's text tables still answer.
            Err(_) => out.clear(),
        }
    }
    for (file, proto) in [("net/tcp", Proto::Tcp), ("net/tcp6", Proto::Tcp6)] {
        let path = proc.pid_path(pid, file);
        read_table(&path, proto, states, buf, out)?;
    }
    Ok(())
}

/// False when the namespace's counters show no socket in the wanted
/// states, so its table, a walk of every socket on the node, is not read.
/// Request sockets (SYN_RECV) are not counted, but need a listener, which is.
fn may_hold(proc: &ProcFs, pid: u32, states: StateSet, buf: &mut Vec<u8>) -> bool {
    let mut sockstat6 = Vec::new();
    let counts = proc
        .read(pid, "net/sockstat", buf)
        .and_then(|()| proc.read(pid, "net/sockstat6", &mut sockstat6))
        .ok()
        .and_then(|()| procfs::tcp_counts(buf, &sockstat6));
    let Some(counts) = counts else {
        return true;
    };
    let time_wait = TcpState::TimeWait.bit();
    (counts.in_use > 0 && states.0 & !time_wait != 0)
        || (counts.time_wait > 0 && states.0 & time_wait != 0)
}

fn read_table(
    path: &Path,
    proto: Proto,
    states: StateSet,
    buf: &mut Vec<u8>,
    out: &mut Vec<Socket>,
) -> Result<(), String> {
    match procfs::read_into(path, buf) {
        Ok(()) => {}
        // A kernel without IPv6 has no tcp6; a process that just exited has
        // none either, which the caller tells apart by its namespace link.
        Err(err)
            if err.kind() == io::ErrorKind::NotFound
                && proto == Proto::Tcp6
                && path.parent().is_some_and(|net| net.join("tcp").exists()) =>
        {
            return Ok(())
        }
        Err(err) => return Err(format!("{}: {err}", path.display())),
    }
    tcp_table::parse_table(buf, proto, states, out).map_err(|bad| {
        format!(
            "{}: line {} is malformed ({} bad lines skipped)",
            path.display(),
            bad.first_line,
            bad.count
        )
    })
}
