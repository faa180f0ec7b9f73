//! Network namespaces and their socket tables: every namespace a process
//! holds or an nsfs bind mount pins, each read once, in parallel, through
//! sock_diag netlink or the `/proc` text tables.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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
/// hidden process joins the namespace whose `tcp` entry it shares (`read`
/// maps the entries of every namespace read so far), and the rest are read
/// once per such entry, as namespaces whose inode is unknown.
pub fn place_hidden_processes(
    proc: &ProcFs,
    processes: &mut [ProcessInfo],
    read: &mut HashMap<u64, NetnsId>,
    tables: &mut Vec<NamespaceSockets>,
    states: StateSet,
) {
    let mut buf = Vec::new();
    for process in processes.iter_mut() {
        let NetnsId::Hidden(pid) = process.netns else {
            continue;
        };
        let Some(key) = table_entry(&proc.pid_path(pid, "net/tcp")) else {
            continue;
        };
        if let Some(&netns) = read.get(&key) {
            process.netns = netns;
            continue;
        }
        read.insert(key, process.netns);
        let mut sockets = Vec::new();
        match read_text_tables(&proc.pid_path(pid, "net"), states, &mut buf, &mut sockets) {
            Ok(()) => tables.push(NamespaceSockets {
                netns: process.netns,
                sockets,
            }),
            Err(err) => warn(err),
        }
    }
}

/// The inode of a namespace's `net/tcp` entry, which names the namespace.
fn table_entry(tcp: &Path) -> Option<u64> {
    std::fs::metadata(tcp).ok().map(|m| m.ino())
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

/// Every namespace's sockets in `states`, and the inode of each namespace's
/// `net/tcp` entry (see [`place_hidden_processes`]).
pub fn read_tables(
    proc: &ProcFs,
    namespaces: &[Namespace],
    backend: Backend,
    states: StateSet,
    threads: usize,
) -> (Vec<NamespaceSockets>, HashMap<u64, NetnsId>) {
    let results = parallel::map(namespaces, threads, Vec::new, |buf, ns| {
        let mut sockets = Vec::new();
        read_namespace(proc, ns, backend, states, buf, &mut sockets).map(|entry| {
            let netns = NetnsId::Inode(ns.inode);
            (
                NamespaceSockets { netns, sockets },
                entry.map(|e| (e, netns)),
            )
        })
    });
    let mut tables = Vec::with_capacity(results.len());
    let mut entries = HashMap::new();
    let mut failed = 0;
    let mut pinned_failed = false;
    for (result, ns) in results.into_iter().zip(namespaces) {
        match result {
            Ok((table, entry)) => {
                tables.push(table);
                entries.extend(entry);
            }
            // One line however many fail: a debug pod without CAP_SYS_ADMIN
            // fails the same way for every pinned namespace.
            Err(err) => {
                if failed == 0 {
                    warn(err);
                }
                failed += 1;
                pinned_failed |= matches!(ns.handle, Handle::Mount(_));
            }
        }
    }
    // A pinned namespace's processes may have hidden namespace links too,
    // but their tables are read all the same (place_hidden_processes).
    let still_listed = if pinned_failed {
        "; a pinned namespace that a process is in is still listed through it"
    } else {
        ""
    };
    if failed > 1 {
        warn(format_args!(
            "{} more network namespaces could not be read the same way{still_listed}",
            failed - 1
        ));
    } else if pinned_failed {
        warn(&still_listed[2..]);
    }
    (tables, entries)
}

/// Reads one namespace into `out`; returns the inode of its `net/tcp` entry.
fn read_namespace(
    proc: &ProcFs,
    ns: &Namespace,
    backend: Backend,
    states: StateSet,
    buf: &mut Vec<u8>,
    out: &mut Vec<Socket>,
) -> Result<Option<u64>, String> {
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
                let read = read_through_process(proc, pid, &ns_file, backend, states, buf, out);
                // The process must still be in the namespace after the read:
                // one that exited or moved (setns, pid reuse) gives way to
                // the next, and its sockets are not this namespace's.
                let stayed = proc.netns(pid).ok() == Some(ns.inode);
                match read {
                    Ok(()) if stayed => return Ok(table_entry(&proc.pid_path(pid, "net/tcp"))),
                    Ok(()) => {}
                    Err(err) if stayed => return Err(context(&ns_file, &err)),
                    Err(err) => last_error = context(&ns_file, &err),
                }
                out.clear();
            }
            Err(if last_error.is_empty() {
                format!("network namespace {}: every process in it exited", ns.inode)
            } else {
                last_error
            })
        }
        Handle::Mount(ns_file) => {
            let read = || {
                // After setns only this thread is in the namespace: its
                // files are under /proc/thread-self, not /proc/self.
                let entered = std::fs::metadata("/proc/thread-self/ns/net")
                    .map_err(|err| format!("/proc/thread-self/ns/net: {err}"))?;
                if entered.ino() != ns.inode {
                    return Err("the bind mount now holds another namespace".to_string());
                }
                if backend == Backend::Netlink && dump_or_warn(states, out) {
                    return Ok(table_entry(Path::new("/proc/thread-self/net/tcp")));
                }
                read_text_tables(Path::new("/proc/thread-self/net"), states, buf, out)?;
                Ok(table_entry(Path::new("/proc/thread-self/net/tcp")))
            };
            netns_enter::in_netns(ns_file, read)
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
    // Without CAP_SYS_ADMIN, entering fails, and the text tables still answer.
    if backend == Backend::Netlink
        && netns_enter::in_netns(ns_file, || dump_or_warn(states, out)).unwrap_or(false)
    {
        return Ok(());
    }
    read_text_tables(&proc.pid_path(pid, "net"), states, buf, out)
}

/// Dumps the calling thread's namespace by netlink; on failure (no
/// `tcp_diag`, a seccomp filter, a sandboxed kernel) says so once and leaves
/// `out` as it was, for the caller to read the text tables instead.
fn dump_or_warn(states: StateSet, out: &mut Vec<Socket>) -> bool {
    static WARNED: AtomicBool = AtomicBool::new(false);
    match sock_diag::dump_tcp(states, out) {
        Ok(()) => true,
        Err(err) => {
            if !WARNED.swap(true, Ordering::Relaxed) {
                warn(format_args!(
                    "sock_diag netlink failed ({err}); reading /proc text tables instead"
                ));
            }
            false
        }
    }
}

/// `tcp` and `tcp6` of one namespace's `net` directory.
fn read_text_tables(
    net: &Path,
    states: StateSet,
    buf: &mut Vec<u8>,
    out: &mut Vec<Socket>,
) -> Result<(), String> {
    for (file, proto) in [("tcp", Proto::Tcp), ("tcp6", Proto::Tcp6)] {
        read_table(&net.join(file), proto, states, buf, out)?;
    }
    Ok(())
}

/// False when the namespace's counters show no socket in the wanted
/// states, so its table, a walk of every socket on the node, is not read.
/// Request sockets (SYN_RECV) are not counted, but need a listener, which
/// is. The `tw` counter holds every timewait socket, and an orphan past
/// FIN_WAIT2 is one too, shown in that state.
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
    let timewait = TcpState::TimeWait.bit() | TcpState::FinWait2.bit();
    (counts.in_use > 0 && states.0 & !TcpState::TimeWait.bit() != 0)
        || (counts.time_wait > 0 && states.0 & timewait != 0)
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
