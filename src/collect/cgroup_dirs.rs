//! The cgroup v2 directories that name a container or pod, by inode: a
//! full socket's cgroup id (INET_DIAG_CGROUP_ID) is the inode of the v2
//! directory of the process that created it (ports.md §2.4), so a socket
//! whose process cannot be read, or was not looked for, still names its
//! container. runc places containers in the v2 hierarchy on hybrid hosts too
//! (`/sys/fs/cgroup/unified`), and on pure v2 hosts it is `/sys/fs/cgroup`.
//!
//! Only directory names are read: cgroupfs lists each directory's inode in
//! its entries, so the walk costs one getdents per directory and no stat.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirEntryExt;
use std::path::{Path, PathBuf};

use super::host_root::HostRoot;
use crate::model::CgroupRef;
use crate::parse::cgroup::parse_cgroup_path;

const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;
/// Where the v2 hierarchy is mounted: a hybrid host's, then a pure v2 host's.
const MOUNTS: [&str; 2] = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"];
/// Kubelet's deepest layout is six levels; runtimes nest a little more.
const MAX_DEPTH: usize = 16;
/// A node runs hundreds of containers, each a directory or two; this bounds
/// what a hostile or broken tree costs.
const MAX_DIRS: usize = 200_000;

/// Directory inode → what its path names, for the directories that name
/// a container or a pod; empty where no v2 hierarchy is mounted.
pub fn cgroup_dirs(root: &HostRoot) -> BTreeMap<u64, CgroupRef> {
    let mut found = BTreeMap::new();
    let Some(mount) = MOUNTS
        .iter()
        .find_map(|path| open_v2(root, Path::new(path)))
    else {
        return found;
    };
    // The handle was opened inside the root; its /proc/self/fd link walks
    // from it without resolving the root's path again.
    let top = PathBuf::from(format!("/proc/self/fd/{}", mount.as_raw_fd()));
    let mut pending: Vec<(PathBuf, Vec<u8>, usize)> = vec![(top, Vec::new(), 0)];
    let mut seen = 0;
    while let Some((dir, relative, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            seen += 1;
            if seen > MAX_DIRS {
                return found;
            }
            let mut path = relative.clone();
            path.push(b'/');
            path.extend_from_slice(entry.file_name().as_bytes());
            if let Some(named) =
                parse_cgroup_path(&path).filter(|r| r.container_id.is_some() || r.pod_uid.is_some())
            {
                found.insert(entry.ino(), named);
            }
            if depth + 1 < MAX_DEPTH {
                pending.push((entry.path(), path, depth + 1));
            }
        }
    }
    found
}

/// A handle on `path` under the root when a cgroup v2 hierarchy is there.
fn open_v2(root: &HostRoot, path: &Path) -> Option<std::os::fd::OwnedFd> {
    let handle = root.open_handle(path).ok()?;
    // SAFETY: statfs is plain old data, valid when zeroed; fstatfs fills it.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open and `fs` is writable.
    let ok = unsafe { libc::fstatfs(handle.as_raw_fd(), &mut fs) } == 0;
    (ok && fs.f_type as u64 == CGROUP2_SUPER_MAGIC).then_some(handle)
}
