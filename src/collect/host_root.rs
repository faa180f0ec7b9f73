//! Paths of the node's filesystem as seen from wherever cnetstat runs: `/`
//! on the node itself, `/host` in a `kubectl debug node` pod (runtimes.md §7).
//!
//! Under a root other than `/`, symlinks cannot be left to the kernel: on
//! Debian and Ubuntu `/host/var/run` is the absolute link `/var/run -> /run`,
//! which the kernel would follow into the debug container's own `/run`
//! (runtimes.md pitfall P1). [`HostRoot::resolve`] walks the path one
//! component at a time and follows every link itself, with the semantics of
//! `openat2(2)` `RESOLVE_IN_ROOT`: absolute targets restart at the root and
//! `..` never climbs above it. The walk is done by hand rather than with
//! openat2 so that it also works on kernels older than 5.6.
//!
//! Paths under `/proc` must not go through here: their `ns/*` and `fd/*`
//! entries are magic links whose targets (`net:[4026531840]`) are not paths.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Component, Path, PathBuf};

/// Linux's limit on symlinks followed in one path walk (`MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;

#[derive(Clone, Debug)]
pub struct HostRoot {
    root: PathBuf,
}

impl HostRoot {
    pub fn new(root: PathBuf) -> HostRoot {
        HostRoot { root }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Maps a host path (`/var/run/netns/cni-1`; a relative path is taken
    /// from the host's `/`) to the path that names the same file from here,
    /// with every symlink followed inside the root.
    ///
    /// A missing component is not an error: the rest of the path is appended
    /// as it stands (`..` still clamped at the root), so opening the result
    /// fails with `NotFound` naming the full path. A symlink loop, or more
    /// than 40 links, is an error, as is any other failure to inspect a
    /// component (permission, a file used as a directory).
    pub fn resolve(&self, host_path: &Path) -> io::Result<PathBuf> {
        if self.root == Path::new("/") {
            // The kernel's own walk has exactly these semantics here.
            return Ok(Path::new("/").join(host_path));
        }
        let mut resolved: Vec<OsString> = Vec::new();
        // Components still to walk, last one first, so that a link's target
        // is spliced in front of the remainder with pushes.
        let mut pending: Vec<OsString> = Vec::new();
        push_components(&mut pending, host_path);
        let mut links_followed = 0;
        let mut missing = false;
        while let Some(name) = pending.pop() {
            if name == ".." {
                resolved.pop();
                continue;
            }
            if missing {
                resolved.push(name);
                continue;
            }
            let candidate = self.join(&resolved, &name);
            let metadata = match std::fs::symlink_metadata(&candidate) {
                Ok(metadata) => metadata,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    missing = true;
                    resolved.push(name);
                    continue;
                }
                Err(err) => return Err(with_path(err, &candidate)),
            };
            if !metadata.file_type().is_symlink() {
                resolved.push(name);
                continue;
            }
            links_followed += 1;
            if links_followed > MAX_SYMLINKS {
                return Err(io::Error::other(format!(
                    "{}: too many levels of symbolic links (more than {MAX_SYMLINKS}) \
                         resolving {} inside {}",
                    candidate.display(),
                    host_path.display(),
                    self.root.display()
                )));
            }
            let target =
                std::fs::read_link(&candidate).map_err(|err| with_path(err, &candidate))?;
            if target.has_root() {
                resolved.clear();
            }
            push_components(&mut pending, &target);
        }
        Ok(self.join(&resolved, OsStr::new("")))
    }

    /// The names in a host directory, in no particular order. A missing
    /// directory reads as `NotFound`, which callers treat as "nothing here".
    pub fn read_dir_names(&self, host_dir: &Path) -> io::Result<Vec<OsString>> {
        let dir = self.resolve(host_dir)?;
        let entries = std::fs::read_dir(&dir).map_err(|err| with_path(err, &dir))?;
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry.map_err(|err| with_path(err, &dir))?.file_name());
        }
        Ok(names)
    }

    fn join(&self, resolved: &[OsString], last: &OsStr) -> PathBuf {
        let mut path = self.root.clone();
        path.extend(resolved);
        if !last.is_empty() {
            path.push(last);
        }
        path
    }
}

/// Pushes `path`'s components onto `pending` in reverse, keeping `..` (it
/// must be applied after earlier links are followed) and dropping `/` and `.`.
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let start = pending.len();
    for component in path.components() {
        match component {
            Component::Normal(name) => pending.push(name.to_os_string()),
            Component::ParentDir => pending.push(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    pending[start..].reverse();
}

/// The same error, with the path it happened on in front of its message.
pub fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempTree(PathBuf);

    impl TempTree {
        fn new(tag: &str) -> TempTree {
            let path = std::env::temp_dir()
                .join(format!("cnetstat-host-root-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            TempTree(path)
        }
    }

    impl Drop for TempTree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A Debian-like node root: `var/run -> /run` (absolute), `/run/netns`
    /// with one file, and a few links for the edge cases.
    fn debian_like(tag: &str) -> TempTree {
        let tree = TempTree::new(tag);
        let root = &tree.0;
        std::fs::create_dir_all(root.join("run/netns")).unwrap();
        std::fs::write(root.join("run/netns/cni-1"), b"").unwrap();
        std::fs::create_dir_all(root.join("var/lib")).unwrap();
        symlink("/run", root.join("var/run")).unwrap();
        tree
    }

    #[test]
    fn absolute_link_restarts_at_the_root_not_at_slash() {
        let tree = debian_like("abs");
        let host = HostRoot::new(tree.0.clone());
        let got = host.resolve(Path::new("/var/run/netns/cni-1")).unwrap();
        assert_eq!(got, tree.0.join("run/netns/cni-1"));
        assert!(got.exists());
    }

    #[test]
    fn relative_link_is_taken_from_the_links_directory() {
        let tree = debian_like("rel");
        std::fs::create_dir_all(tree.0.join("data/containers")).unwrap();
        symlink("../../data/containers", tree.0.join("var/lib/containers")).unwrap();
        let host = HostRoot::new(tree.0.clone());
        assert_eq!(
            host.resolve(Path::new("/var/lib/containers/storage"))
                .unwrap(),
            tree.0.join("data/containers/storage")
        );
    }

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        let tree = debian_like("dotdot");
        symlink("../../../../etc", tree.0.join("run/escape")).unwrap();
        let host = HostRoot::new(tree.0.clone());
        assert_eq!(
            host.resolve(Path::new("/run/escape/passwd")).unwrap(),
            tree.0.join("etc/passwd")
        );
        assert_eq!(
            host.resolve(Path::new("/../../run/netns/../netns/cni-1"))
                .unwrap(),
            tree.0.join("run/netns/cni-1")
        );
    }

    #[test]
    fn dot_dot_after_a_link_is_physical() {
        // var/run is /run, so var/run/.. is the root, not var.
        let tree = debian_like("physical");
        std::fs::create_dir_all(tree.0.join("lib")).unwrap();
        let host = HostRoot::new(tree.0.clone());
        assert_eq!(
            host.resolve(Path::new("/var/run/../lib")).unwrap(),
            tree.0.join("lib")
        );
    }

    #[test]
    fn a_chain_of_links_is_followed_to_the_end() {
        let tree = debian_like("chain");
        symlink("/var/run", tree.0.join("a")).unwrap();
        symlink("a/netns", tree.0.join("b")).unwrap();
        symlink("/b/cni-1", tree.0.join("c")).unwrap();
        let host = HostRoot::new(tree.0.clone());
        assert_eq!(
            host.resolve(Path::new("/c")).unwrap(),
            tree.0.join("run/netns/cni-1")
        );
    }

    #[test]
    fn a_dangling_link_resolves_to_where_its_target_would_be() {
        let tree = debian_like("dangling");
        symlink("/run/containerd/gone", tree.0.join("run/stale")).unwrap();
        let host = HostRoot::new(tree.0.clone());
        let got = host
            .resolve(Path::new("/var/run/stale/config.json"))
            .unwrap();
        assert_eq!(got, tree.0.join("run/containerd/gone/config.json"));
        assert_eq!(
            std::fs::read(&got).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn a_loop_is_an_error_naming_the_path() {
        let tree = debian_like("loop");
        symlink("/loop2", tree.0.join("loop1")).unwrap();
        symlink("loop1", tree.0.join("loop2")).unwrap();
        let host = HostRoot::new(tree.0.clone());
        let err = host.resolve(Path::new("/loop1/x")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("too many levels of symbolic links"),
            "{message}"
        );
        assert!(message.contains("/loop1/x"), "{message}");
    }

    #[test]
    fn a_file_used_as_a_directory_is_an_error() {
        let tree = debian_like("notdir");
        let host = HostRoot::new(tree.0.clone());
        let err = host.resolve(Path::new("/run/netns/cni-1/x")).unwrap_err();
        assert!(err.to_string().contains("cni-1"), "{err}");
    }

    #[test]
    fn the_slash_root_leaves_the_path_to_the_kernel() {
        let host = HostRoot::new(PathBuf::from("/"));
        assert_eq!(
            host.resolve(Path::new("/var/run/docker.sock")).unwrap(),
            PathBuf::from("/var/run/docker.sock")
        );
        assert_eq!(
            host.resolve(Path::new("run/x")).unwrap(),
            PathBuf::from("/run/x")
        );
    }

    #[test]
    fn read_dir_names_lists_through_links_and_reports_missing_dirs() {
        let tree = debian_like("readdir");
        std::fs::write(tree.0.join("run/netns/cni-2"), b"").unwrap();
        let host = HostRoot::new(tree.0.clone());
        let mut names = host.read_dir_names(Path::new("/var/run/netns")).unwrap();
        names.sort();
        assert_eq!(names, [OsString::from("cni-1"), OsString::from("cni-2")]);
        let err = host
            .read_dir_names(Path::new("/var/run/nothing"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("run/nothing"), "{err}");
    }
}
