//! The pipeline, and the only module that knows its order: discover
//! namespaces → read socket tables → map inodes to processes → map processes
//! to containers → name containers → filter, group → render. Every stage
//! that can fail for part of the node (a process that exits, a namespace
//! that cannot be entered, a runtime that does not answer) warns and goes on
//! with the rest.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::attribute::{self, Attributed, NamespaceSockets, NetnsId, Node, ProcessInfo, Row};
use crate::catalog::Catalog;
use crate::cli::{Backend, Config, Format};
use crate::docker;
use crate::host_root::HostRoot;
use crate::model::{ContainerInfo, Proto, Runtime, Socket, StateSet, TcpState};
use crate::mountinfo;
use crate::netns_enter;
use crate::parallel;
use crate::procfs::{self, ProcFs};
use crate::render;
use crate::runtime_state;
use crate::sock_diag;
use crate::summary;
use crate::tcp_table;

const DOCKER_TIMEOUT: Duration = Duration::from_secs(5);

/// Warnings go to stderr as they happen, each once, prefixed like every
/// message of the tool.
pub fn warn(message: impl std::fmt::Display) {
    eprintln!("cnetstat: warning: {message}");
}

pub fn note(message: impl std::fmt::Display) {
    eprintln!("cnetstat: {message}");
}

/// Where a namespace's sockets can be read from.
#[derive(Clone, Debug)]
enum Handle {
    /// Through its processes, lowest pid first (the next is tried when one
    /// exits mid-scan): `/proc/<pid>/net/tcp`, or setns on `/proc/<pid>/ns/net`.
    Processes(Vec<u32>),
    /// A namespace no process holds: the path of the nsfs bind mount that
    /// pins it, as this process can open it.
    Mount(PathBuf),
}

#[derive(Clone, Debug)]
struct Namespace {
    inode: u64,
    handle: Handle,
}

pub fn run(config: &Config, out: &mut impl Write) -> io::Result<()> {
    let proc = ProcFs::new(config.proc_dir.clone());
    let root = HostRoot::new(choose_root(config));
    let live = is_live_procfs(proc.root());
    let threads = parallel::available_threads();

    let pids = proc.pids().map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot list processes in {}: {err}", proc.root().display()),
        )
    })?;

    let (scan, catalog) = std::thread::scope(|scope| {
        // Runtime metadata needs nothing from /proc: fetch it meanwhile.
        let catalog = scope.spawn(|| build_catalog(&root));
        let scan = scan_processes(&proc, &pids, threads);
        let catalog = match catalog.join() {
            Ok(catalog) => catalog,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (scan, catalog)
    });
    let (mut processes, mut unreadable) = scan;
    let catalog = warn_docker_if_needed(&processes, catalog);

    let host_netns = proc.netns(1).ok().or_else(|| {
        live.then(|| ProcFs::new("/proc".into()).netns(std::process::id()).ok())
            .flatten()
    });
    let mounts = if live {
        pinned_namespaces(&proc)
    } else {
        Vec::new()
    };
    let namespaces = discover_namespaces(&processes, &mounts, &mount_opener(&proc, &root));
    let backend = choose_backend(config.backend, live);
    let mut tables = read_tables(&proc, &namespaces, backend, config.states, threads);
    place_hidden_processes(
        &proc,
        &mut processes,
        &namespaces,
        &mut tables,
        config.states,
    );

    let wanted: HashSet<u64> = tables
        .iter()
        .flat_map(|ns| ns.sockets.iter())
        .map(|s| s.inode)
        .filter(|inode| *inode != 0)
        .collect();
    let socket_owners = if wanted.is_empty() {
        HashMap::new()
    } else {
        scan_socket_owners(&proc, &pids, &wanted, threads, &mut unreadable)
    };
    report_unreadable(&unreadable, pids.len());

    let sandboxes = sandbox_namespaces(&catalog, &root, &mounts);
    let node = Node {
        processes: &processes,
        socket_owners: &socket_owners,
        catalog: &catalog,
        sandbox_netns: &sandboxes,
        host_netns,
    };
    let mut attributed = attribute::attribute(&node, tables);
    let mut rows = std::mem::take(&mut attributed.rows);
    rows.retain(|row| matches_filters(config, &attributed, row));
    write_output(config, &mut attributed, rows, out)
}

fn write_output(
    config: &Config,
    attributed: &mut Attributed<'_>,
    rows: Vec<Row>,
    out: &mut impl Write,
) -> io::Result<()> {
    if config.summary {
        let mut groups = summary::summarize(attributed, &rows);
        groups.truncate(config.top.unwrap_or(usize::MAX));
        return match config.format {
            Format::Table => render::table_summary(out, &groups),
            Format::Json => render::json_summary(out, &groups),
        };
    }
    attributed.rows = rows;
    attribute::sort_rows(attributed);
    let shown = &attributed.rows[..attributed.rows.len().min(config.top.unwrap_or(usize::MAX))];
    match config.format {
        Format::Table => render::table_rows(out, attributed, shown),
        Format::Json => render::json_rows(out, attributed, shown),
    }
}

fn matches_filters(config: &Config, attributed: &Attributed<'_>, row: &Row) -> bool {
    let owner = attributed.owner(row);
    let wanted = |filter: &Option<String>, value: Option<&str>| {
        filter.as_deref().map_or(true, |f| value == Some(f))
    };
    let container = config.container.as_deref().map_or(true, |f| {
        owner.container == Some(f)
            || owner
                .container_id
                .is_some_and(|id| f.len() >= 12 && id.starts_with(f))
    });
    wanted(&config.namespace, owner.namespace) && wanted(&config.pod, owner.pod) && container
}

/// `--root`, else /host when cnetstat runs in a container (a mount namespace
/// other than PID 1's) that has the node's root there, as `kubectl debug
/// node` mounts it.
fn choose_root(config: &Config) -> PathBuf {
    if let Some(root) = &config.root {
        return root.clone();
    }
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let in_container = match (ns("self"), ns("1")) {
        (Some(own), Some(init)) => own != init,
        // PID 1's link is denied to a debug container without
        // CAP_SYS_PTRACE; then /host existing decides.
        (Some(_), None) => true,
        _ => false,
    };
    let host = Path::new("/host");
    if in_container && (host.join("proc/1").exists() || host.join("run").is_dir()) {
        note("running in a container: reading the node's files under /host (--root / to override)");
        return host.to_path_buf();
    }
    PathBuf::from("/")
}

fn is_live_procfs(proc_root: &Path) -> bool {
    match (
        std::fs::metadata(proc_root),
        std::fs::metadata("/proc/self"),
    ) {
        (Ok(given), Ok(_)) => {
            std::fs::canonicalize(proc_root).is_ok_and(|p| p == Path::new("/proc"))
                || given.dev() == std::fs::metadata("/proc").map_or(u64::MAX, |m| m.dev())
        }
        _ => false,
    }
}

/// Processes whose files could not be read, and the first error seen.
#[derive(Clone, Debug, Default)]
struct Unreadable {
    namespaces: usize,
    fd_tables: usize,
    first: Option<String>,
}

fn scan_processes(proc: &ProcFs, pids: &[u32], threads: usize) -> (Vec<ProcessInfo>, Unreadable) {
    let scanned = parallel::map(pids, threads, Vec::new, |buf, &pid| {
        let (netns, denied) = match proc.netns(pid) {
            Ok(inode) => (NetnsId::Inode(inode), None),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return None,
            // Placed in a namespace later, by what its table holds.
            Err(err) => (
                NetnsId::Hidden(pid),
                Some(format!("{}: {err}", proc.pid_path(pid, "ns/net").display())),
            ),
        };
        let cgroup = match proc.read(pid, "cgroup", buf) {
            Ok(()) => crate::cgroup::parse_cgroup_file(buf),
            Err(_) => None,
        };
        let comm = match proc.read(pid, "comm", buf) {
            Ok(()) => String::from_utf8_lossy(procfs::comm_name(buf)).into(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return None,
            Err(_) => "?".into(),
        };
        let process = ProcessInfo {
            pid,
            comm,
            netns,
            cgroup,
        };
        Some((process, denied))
    });
    let mut processes = Vec::with_capacity(scanned.len());
    let mut unreadable = Unreadable::default();
    for (process, denied) in scanned.into_iter().flatten() {
        if let Some(err) = denied {
            unreadable.namespaces += 1;
            unreadable.first.get_or_insert(err);
        }
        processes.push(process);
    }
    (processes, unreadable)
}

/// Processes whose namespace link could not be read (ptrace access denied)
/// still show their namespace's table through `/proc/<pid>/net/tcp`, and
/// that file's inode number is the namespace's own: the kernel registers the
/// `tcp` entry once per namespace, and stat needs no ptrace access. So a
/// hidden process joins the namespace whose `tcp` entry it shares, and the
/// rest are read once per such entry, as namespaces whose inode is unknown.
fn place_hidden_processes(
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

/// Inode → pid of the lowest pid holding it, for the inodes `wanted`.
fn scan_socket_owners(
    proc: &ProcFs,
    pids: &[u32],
    wanted: &HashSet<u64>,
    threads: usize,
    unreadable: &mut Unreadable,
) -> HashMap<u64, u32> {
    let found = parallel::map(
        pids,
        threads,
        || (),
        |_, &pid| {
            let mut held = Vec::new();
            let result = proc.socket_inodes(pid, |inode| {
                if wanted.contains(&inode) {
                    held.push(inode);
                }
            });
            match result {
                Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                    Err(format!("{}: {err}", proc.pid_path(pid, "fd").display()))
                }
                _ => Ok(held),
            }
        },
    );
    let mut owners = HashMap::with_capacity(wanted.len());
    for (&pid, held) in pids.iter().zip(found) {
        match held {
            Ok(held) => {
                for inode in held {
                    owners.entry(inode).or_insert(pid);
                }
            }
            Err(err) => {
                unreadable.fd_tables += 1;
                unreadable.first.get_or_insert(err);
            }
        }
    }
    owners
}

fn report_unreadable(unreadable: &Unreadable, total: usize) {
    let Some(first) = &unreadable.first else {
        return;
    };
    warn(format_args!(
        "could not read the namespace link of {} and the open files of {} of {total} processes \
         (first: {first}): sockets they hold show no process, and a namespace only they are in \
         shows no inode. Run as root with CAP_SYS_PTRACE (sudo, or kubectl debug --profile=sysadmin)",
        unreadable.namespaces, unreadable.fd_tables
    ));
}

/// Namespaces pinned by nsfs bind mounts, from PID 1's mount table.
fn pinned_namespaces(proc: &ProcFs) -> Vec<mountinfo::NsMount> {
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
fn mount_opener<'a>(proc: &'a ProcFs, root: &'a HostRoot) -> impl Fn(&Path) -> PathBuf + 'a {
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
fn discover_namespaces(
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

fn choose_backend(requested: Backend, live: bool) -> Backend {
    match requested {
        Backend::Auto if live && unsafe { libc::geteuid() } == 0 => Backend::Netlink,
        Backend::Auto => Backend::Proc,
        Backend::Netlink if !live => {
            warn("--backend netlink needs the live /proc; reading the tables under --proc instead");
            Backend::Proc
        }
        other => other,
    }
}

fn read_tables(
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

fn build_catalog(root: &HostRoot) -> (Catalog, Option<DockerOutcome>) {
    let mut catalog = Catalog::default();
    let docker = docker_containers(root);
    if let Some(DockerOutcome::Listed(containers)) = &docker {
        for info in containers {
            catalog.add_container(info.clone());
        }
    }
    let discovered = runtime_state::discover(root);
    for message in discovered.warnings {
        warn(message);
    }
    for info in discovered.containers {
        catalog.add_container(info);
    }
    for pod in discovered.pods {
        catalog.add_pod(pod);
    }
    (catalog, docker)
}

enum DockerOutcome {
    Listed(Vec<ContainerInfo>),
    /// No DOCKER_HOST and no socket under the root: not a Docker node, or
    /// one whose socket is elsewhere.
    NoSocket(PathBuf),
    Failed(String),
}

fn docker_containers(root: &HostRoot) -> Option<DockerOutcome> {
    let endpoint = match docker::endpoint_from_env() {
        Some(Ok(endpoint)) => endpoint,
        Some(Err(err)) => return Some(DockerOutcome::Failed(format!("DOCKER_HOST: {err}"))),
        None => {
            let candidates = ["/run/docker.sock", "/var/run/docker.sock"];
            let found = candidates
                .iter()
                .filter_map(|p| root.resolve(Path::new(p)).ok())
                .find(|p| p.exists());
            match found {
                Some(path) => docker::Endpoint::Unix(path),
                None => return Some(DockerOutcome::NoSocket(root.path().join("run/docker.sock"))),
            }
        }
    };
    Some(match docker::list_containers(&endpoint, DOCKER_TIMEOUT) {
        Ok(containers) => DockerOutcome::Listed(containers),
        Err(err) => DockerOutcome::Failed(err.to_string()),
    })
}

/// A Docker failure matters when the API was asked for, or when Docker
/// containers run here; a node without Docker needs no word about it.
fn warn_docker_if_needed(
    processes: &[ProcessInfo],
    (catalog, docker): (Catalog, Option<DockerOutcome>),
) -> Catalog {
    match docker {
        Some(DockerOutcome::Failed(err)) => warn(format_args!(
            "docker: {err}; Docker containers are shown by id only"
        )),
        Some(DockerOutcome::NoSocket(path)) => {
            let docker_runs = processes.iter().any(|p| {
                p.cgroup.as_ref().is_some_and(|cg| {
                    cg.runtime == Some(Runtime::Docker)
                        && cg
                            .container_id
                            .as_deref()
                            .is_some_and(|id| catalog.container(id).is_none())
                })
            });
            if docker_runs {
                warn(format_args!(
                    "docker: no socket at {} (set DOCKER_HOST); Docker containers are shown by id only",
                    path.display()
                ));
            }
        }
        _ => {}
    }
    catalog
}

/// Network namespace inode → the sandbox whose OCI spec names it, so a pod's
/// namespace is known even when no process of the pod is left in it.
fn sandbox_namespaces<'a>(
    catalog: &'a Catalog,
    root: &HostRoot,
    mounts: &[mountinfo::NsMount],
) -> HashMap<u64, &'a ContainerInfo> {
    let nsfs_dev = std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.dev());
    let mut map = HashMap::new();
    for info in catalog
        .containers()
        .filter(|c| c.sandbox && c.pod.is_some())
    {
        let Some(path) = &info.netns_path else {
            continue;
        };
        // `/proc/<pid>/ns/net` names the namespace of a process, found anyway.
        if path.starts_with("/proc") {
            continue;
        }
        let by_stat = root
            .resolve(path)
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .filter(|m| Some(m.dev()) == nsfs_dev)
            .map(|m| m.ino());
        let by_mount = || {
            let canonical = canonical_run(path);
            mounts
                .iter()
                .find(|m| canonical_run(&m.mount_point) == canonical)
                .map(|m| m.inode)
        };
        if let Some(inode) = by_stat.or_else(by_mount) {
            map.insert(inode, info);
        }
    }
    map
}

/// `/var/run` is a link to `/run` on every distribution that has both.
fn canonical_run(path: &Path) -> PathBuf {
    match path.strip_prefix("/var/run") {
        Ok(rest) => Path::new("/run").join(rest),
        Err(_) => path.to_path_buf(),
    }
}
