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

use crate::attribute::{self, Attributed, Node, Owner};
use crate::cli::{Backend, Config, Format};
use crate::diagnostics::{note, warn};
use crate::host_root::HostRoot;
use crate::namespaces;
use crate::naming;
use crate::parallel;
use crate::processes;
use crate::procfs::ProcFs;
use crate::render;
use crate::summary;

pub fn run(config: &Config, out: &mut impl Write) -> io::Result<()> {
    let proc = ProcFs::new(config.proc_dir.clone());
    let root = HostRoot::new(choose_root(config));
    // A mistyped --root would otherwise just name nothing, silently.
    if !root.path().is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("--root {}: not a directory", root.path().display()),
        ));
    }
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
        let catalog = scope.spawn(|| naming::build_catalog(&root));
        let scan = processes::scan_processes(&proc, &pids, threads);
        let catalog = match catalog.join() {
            Ok(catalog) => catalog,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (scan, catalog)
    });
    let (mut processes, mut unreadable) = scan;
    let catalog = naming::warn_docker_if_needed(&processes, catalog);

    // The host's namespace is PID 1's; where its link is denied (a sandbox
    // whose PID 1 holds a capability root lacks), cnetstat's own.
    let own_netns = || ProcFs::new("/proc".into()).netns(std::process::id()).ok();
    let host_netns = proc
        .netns(1)
        .ok()
        .or_else(|| live.then(own_netns).flatten());
    let mounts = if live {
        namespaces::pinned_namespaces(&proc)
    } else {
        Vec::new()
    };
    let namespaces = namespaces::discover_namespaces(
        &processes,
        &mounts,
        &namespaces::mount_opener(&proc, &root),
    );
    let backend = choose_backend(config.backend, live);
    let (mut tables, mut table_entries) =
        namespaces::read_tables(&proc, &namespaces, backend, config.states, threads);
    namespaces::place_hidden_processes(
        &proc,
        &mut processes,
        &mut table_entries,
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
        processes::scan_socket_owners(&proc, &pids, &wanted, threads, &mut unreadable)
    };
    processes::report_unreadable(&unreadable, pids.len());

    let sandboxes = naming::sandbox_namespaces(&catalog, &root, &mounts);
    let node = Node {
        processes: &processes,
        socket_owners: &socket_owners,
        catalog: &catalog,
        sandbox_netns: &sandboxes,
        host_netns,
    };
    let mut attributed = attribute::attribute(&node, tables);
    let Attributed { owners, rows } = &mut attributed;
    rows.retain(|row| matches_filters(config, &owners[row.owner as usize]));
    write_output(config, &mut attributed, out)
}

fn write_output(
    config: &Config,
    attributed: &mut Attributed<'_>,
    out: &mut impl Write,
) -> io::Result<()> {
    if config.summary {
        let mut groups = summary::summarize(attributed, &attributed.rows);
        groups.truncate(config.top.unwrap_or(usize::MAX));
        return match config.format {
            Format::Table => render::table_summary(out, &groups),
            Format::Json => render::json_summary(out, &groups),
        };
    }
    attribute::sort_rows(attributed);
    let shown = &attributed.rows[..attributed.rows.len().min(config.top.unwrap_or(usize::MAX))];
    match config.format {
        Format::Table => render::table_rows(out, attributed, shown),
        Format::Json => render::json_rows(out, attributed, shown),
    }
}

fn matches_filters(config: &Config, owner: &Owner<'_>) -> bool {
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
