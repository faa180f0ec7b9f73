//! Which network namespace each pod sandbox's OCI spec names, so a pod's
//! namespace is known even when no process of the pod is left in it (CRI-O
//! pins it with a bind mount; runtimes.md §6).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::collect::host_root::HostRoot;
use crate::model::Catalog;
use crate::parse::mountinfo::NsMount;

/// Network namespace inode → the sandbox whose OCI spec names it, so a pod's
/// namespace is known even when no process of the pod is left in it.
pub fn sandbox_namespaces(
    catalog: &Catalog,
    root: &HostRoot,
    mounts: &[NsMount],
) -> BTreeMap<u64, String> {
    let nsfs_dev = std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.dev());
    let mut map = BTreeMap::new();
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
            .open_handle(path)
            .and_then(|handle| std::fs::File::from(handle).metadata())
            .ok()
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
            map.insert(inode, info.id.clone());
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
