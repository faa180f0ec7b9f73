//! Which network namespaces the node has: every namespace a process is in
//! (`/proc/<pid>/ns/net`, grouped by inode) and every one an nsfs bind
//! mount pins (`/run/netns/*`, `/run/docker/netns/*`: CRI-O without an infra
//! process, leaked CNI namespaces, `ip netns`), each once, with a handle to
//! read it through.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::Cap;
use super::host_root::HostRoot;
use super::procfs::ProcFs;
use crate::model::{NetnsId, Process, Warning};
use crate::parse::mountinfo::{self, NsMount};

/// Where a namespace's sockets can be read from.
#[derive(Clone, Debug)]
pub enum Handle {
    /// Through its processes, lowest pid first (the next is tried when one
    /// exits mid-scan): `/proc/<pid>/net/tcp`, or setns on `/proc/<pid>/ns/net`.
    Processes(Vec<u32>),
    /// A namespace no process holds: the nsfs bind mount that pins it.
    Mount(NsFile),
}

/// A bind-mounted namespace file, as this process can open it.
#[derive(Clone, Debug)]
pub struct NsFile {
    /// Its path on the node, for messages.
    pub shown: PathBuf,
    /// What to open: `/proc/1/root/<mount point>`, or `/proc/self/fd/N` of
    /// a handle opened inside `--root`, kept open as long as this is.
    pub path: PathBuf,
    _handle: Option<Arc<OwnedFd>>,
}

#[derive(Clone, Debug)]
pub struct Namespace {
    pub inode: u64,
    pub handle: Handle,
}

/// Namespaces pinned by nsfs bind mounts, from PID 1's mount table.
pub fn pinned_namespaces(proc: &ProcFs) -> Result<Vec<NsMount>, Warning> {
    let mut buf = Vec::new();
    match proc.read(1, "mountinfo", Cap::MOUNTINFO, &mut buf) {
        Ok(()) => Ok(mountinfo::net_ns_mounts(&buf)),
        Err(err) => Err(Warning::PinnedUnlisted {
            path: proc.pid_path(1, "mountinfo").display().to_string(),
            error: err.to_string(),
        }),
    }
}

/// How to open a bind mount PID 1's mount table lists: through PID 1's root,
/// since a debug pod's view of /host/run misses mounts made after it started
/// (runtimes.md P3); where that is denied (these machines' PID 1 has a
/// capability root lacks), through the host root.
/// A mount point is the kernel's own path of the mount, with no link in it,
/// so under `/proc/1/root` it needs no resolving; under `--root` it is
/// opened as a handle inside the root, never as a path checked and then
/// opened again.
pub fn mount_opener<'a>(proc: &'a ProcFs, root: &'a HostRoot) -> impl Fn(&Path) -> NsFile + 'a {
    let init_root = proc.pid_path(1, "root");
    let through_init = std::fs::read_dir(&init_root).is_ok();
    move |mount_point| {
        let shown = mount_point.to_path_buf();
        if through_init {
            let path = init_root.join(mount_point.strip_prefix("/").unwrap_or(mount_point));
            return NsFile { shown, path, _handle: None };
        }
        match root.open_handle(mount_point) {
            Ok(handle) => NsFile {
                shown,
                path: PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd())),
                _handle: Some(Arc::new(handle)),
            },
            // Entering it fails the same way, and says so with its path.
            Err(_) => NsFile {
                path: root.shown(mount_point),
                shown,
                _handle: None,
            },
        }
    }
}

/// One handle per namespace: its processes, else its first bind mount.
pub fn discover_namespaces(
    processes: &[Process],
    mounts: &[NsMount],
    open_path: &impl Fn(&Path) -> NsFile,
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
