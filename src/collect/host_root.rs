//! Files of the node's filesystem as seen from wherever cnetstat runs: `/`
//! on the node itself, `/host` in a `kubectl debug node` pod (runtimes.md
//! §7), or a tree recorded elsewhere.
//!
//! Under a root other than `/`, symlinks cannot be left to an ordinary
//! open: on Debian and Ubuntu `/host/var/run` is the absolute link
//! `/var/run -> /run`, which would lead into the debug container's own
//! `/run` (runtimes.md pitfall P1), and a hostile root can point a link
//! anywhere. So every path is resolved by the kernel inside the root:
//! `openat2(2)` with `RESOLVE_IN_ROOT` (absolute targets restart at the
//! root, `..` never climbs above it) and `RESOLVE_NO_MAGICLINKS`, relative
//! to a descriptor of the root opened once. Where the kernel lacks openat2
//! (before 5.6: ENOSYS) or a seccomp filter refuses it (EPERM), the same
//! walk is done one component at a time on directory descriptors, each
//! opened with O_NOFOLLOW after its link was read: a path is never checked
//! as a string and then opened again, so swapping a directory for a link
//! meanwhile cannot lead outside the root.
//!
//! Paths under `/proc` must not go through here: their `ns/*` and `fd/*`
//! entries are magic links whose targets (`net:[4026531840]`) are not paths.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::dirs::for_each_name;

/// Linux's limit on symlinks followed in one path walk (`MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;
/// openat2 answers EAGAIN when a rename raced the walk; it is safe to retry.
const OPENAT2_TRIES: u32 = 8;

#[derive(Debug)]
pub struct HostRoot {
    path: PathBuf,
    dir: OwnedFd,
    /// Cleared once openat2 is found missing or forbidden.
    openat2: AtomicBool,
}

/// What to open a path as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// For reading; a FIFO opens at once instead of waiting for a writer.
    File,
    Dir,
    /// A handle only: for a socket to connect to through `/proc/self/fd`,
    /// or a file to stat.
    Handle,
}

impl Kind {
    fn flags(self) -> libc::c_int {
        libc::O_CLOEXEC
            | match self {
                Kind::File => libc::O_RDONLY | libc::O_NONBLOCK,
                Kind::Dir => libc::O_RDONLY | libc::O_DIRECTORY,
                Kind::Handle => libc::O_PATH,
            }
    }
}

impl HostRoot {
    pub fn open(path: PathBuf) -> io::Result<HostRoot> {
        let dir = open_at(libc::AT_FDCWD, &path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", path.display())))?;
        Ok(HostRoot {
            path,
            dir,
            openat2: AtomicBool::new(true),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a host path lies under the root, to name it in a message.
    pub fn shown(&self, host_path: &Path) -> PathBuf {
        let relative: PathBuf = host_path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        self.path.join(relative)
    }

    /// A file for reading (see collect/files.rs for what is read of it).
    pub fn open_file(&self, host_path: &Path) -> io::Result<File> {
        self.open_kind(host_path, Kind::File).map(File::from)
    }

    /// An `O_PATH` handle: to stat, or to reach through `/proc/self/fd/N`.
    pub fn open_handle(&self, host_path: &Path) -> io::Result<OwnedFd> {
        self.open_kind(host_path, Kind::Handle)
    }

    /// The names in a host directory, in no particular order. A missing
    /// directory reads as `NotFound`, which callers treat as "nothing here".
    pub fn read_dir_names(&self, host_dir: &Path) -> io::Result<Vec<OsString>> {
        let dir = File::from(self.open_kind(host_dir, Kind::Dir)?);
        let mut names = Vec::new();
        for_each_name(&dir, |name| {
            names.push(OsString::from_vec(name.to_bytes().to_vec()));
            Ok(())
        })?;
        Ok(names)
    }

    /// Where a link points, as written; the link itself is not followed.
    pub fn read_link(&self, host_path: &Path) -> io::Result<PathBuf> {
        let (parent, name) = match (host_path.parent(), host_path.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
        };
        let dir = self.open_kind(parent, Kind::Handle)?;
        read_link_at(dir.as_raw_fd(), name)
    }

    /// Errors carry no path: callers name the file as their user knows it.
    fn open_kind(&self, host_path: &Path, kind: Kind) -> io::Result<OwnedFd> {
        if self.openat2.load(Ordering::Relaxed) {
            match open_in_root(self.dir.as_raw_fd(), host_path, kind) {
                Err(err) if matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    self.openat2.store(false, Ordering::Relaxed);
                    walk(&self.dir, host_path, kind)
                }
                other => other,
            }
        } else {
            walk(&self.dir, host_path, kind)
        }
    }
}

/// openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS.
fn open_in_root(root: RawFd, host_path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    let relative = relative_path(host_path)?;
    // SAFETY: open_how is plain old data, valid when zeroed (mode 0).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = kind.flags() as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    for _ in 0..OPENAT2_TRIES {
        // SAFETY: the path is NUL-terminated and `how` is an open_how of
        // the size passed; the kernel reads both and writes nothing.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root,
                relative.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EAGAIN) {
            return Err(err);
        }
    }
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
}

/// The path as openat2 takes it, relative to the root ("." for the root).
fn relative_path(host_path: &Path) -> io::Result<CString> {
    let relative = host_path.strip_prefix("/").unwrap_or(host_path);
    let bytes = if relative.as_os_str().is_empty() {
        b".".to_vec()
    } else {
        relative.as_os_str().as_bytes().to_vec()
    };
    CString::new(bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// The walk openat2 does, by hand: every component opened relative to the
/// directory before it with O_NOFOLLOW, after reading whether it is a link;
/// a link's target spliced in front of the rest, absolute ones restarting
/// at the root, `..` never leaving it.
fn walk(root: &OwnedFd, host_path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    let mut dirs: Vec<OwnedFd> = vec![root.try_clone()?];
    // Components still to walk, last one first, so that a link's target is
    // spliced in front of the remainder with pushes.
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, host_path);
    let mut links_followed = 0;
    while let Some(name) = pending.pop() {
        let dir = dirs.last().map_or(root.as_raw_fd(), |d| d.as_raw_fd());
        if name == ".." {
            if dirs.len() > 1 {
                dirs.pop();
            }
            continue;
        }
        match read_link_at(dir, &name) {
            Ok(target) => {
                links_followed += 1;
                if links_followed > MAX_SYMLINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                if target.has_root() {
                    dirs.truncate(1);
                }
                push_components(&mut pending, &target);
                continue;
            }
            // EINVAL: not a link. Anything else (ENOENT, EACCES, ENOTDIR)
            // is what opening it would say too.
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {}
            Err(err) => return Err(err),
        }
        let last = pending.is_empty();
        let flags = if last {
            kind.flags()
        } else {
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC
        };
        // O_NOFOLLOW: should the component have become a link since it was
        // read, opening it fails rather than following it.
        let opened = open_at(dir, Path::new(&name), flags | libc::O_NOFOLLOW)?;
        if last {
            return Ok(opened);
        }
        dirs.push(opened);
    }
    // The path named the root itself, or climbed back to it.
    let dir = dirs.last().map_or(root.as_raw_fd(), |d| d.as_raw_fd());
    open_at(dir, Path::new("."), kind.flags())
}

fn open_at(dir: RawFd, path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the path is NUL-terminated; openat reads it only.
    let fd = unsafe { libc::openat(dir, c_path.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn read_link_at(dir: RawFd, name: &OsStr) -> io::Result<PathBuf> {
    let c_name =
        CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut target = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: the name is NUL-terminated; `target` is writable for its length.
    let len = unsafe {
        libc::readlinkat(dir, c_name.as_ptr(), target.as_mut_ptr().cast(), target.len())
    };
    let len = usize::try_from(len).map_err(|_| io::Error::last_os_error())?;
    target.truncate(len);
    Ok(PathBuf::from(OsString::from_vec(target)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::{symlink, MetadataExt};

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

        /// A file whose contents say where it is.
        fn put(&self, relative: &str) {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, relative).unwrap();
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
        tree.put("run/netns/cni-1");
        tree.put("lib/marker");
        std::fs::create_dir_all(tree.0.join("var/lib")).unwrap();
        symlink("/run", tree.0.join("var/run")).unwrap();
        tree
    }

    /// Both ways of resolving: openat2, and the walk that stands in for it.
    fn roots(tree: &TempTree) -> [HostRoot; 2] {
        let walking = HostRoot::open(tree.0.clone()).unwrap();
        walking.openat2.store(false, Ordering::Relaxed);
        [HostRoot::open(tree.0.clone()).unwrap(), walking]
    }

    /// What the file opened at `host_path` says, under each resolver.
    fn contents(tree: &TempTree, host_path: &str) -> Vec<io::Result<String>> {
        roots(tree)
            .iter()
            .map(|root| {
                let mut text = String::new();
                root.open_file(Path::new(host_path))?.read_to_string(&mut text)?;
                Ok(text)
            })
            .collect()
    }

    fn both_read(tree: &TempTree, host_path: &str, expected: &str) {
        for got in contents(tree, host_path) {
            assert_eq!(got.unwrap(), expected, "{host_path}");
        }
    }

    #[test]
    fn absolute_link_restarts_at_the_root_not_at_slash() {
        let tree = debian_like("abs");
        both_read(&tree, "/var/run/netns/cni-1", "run/netns/cni-1");
    }

    #[test]
    fn relative_link_is_taken_from_the_links_directory() {
        let tree = debian_like("rel");
        tree.put("data/containers/storage");
        symlink("../../data/containers", tree.0.join("var/lib/containers")).unwrap();
        both_read(&tree, "/var/lib/containers/storage", "data/containers/storage");
    }

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        let tree = debian_like("dotdot");
        tree.put("etc/passwd");
        symlink("../../../../etc", tree.0.join("run/escape")).unwrap();
        both_read(&tree, "/run/escape/passwd", "etc/passwd");
        both_read(&tree, "/../../run/netns/../netns/cni-1", "run/netns/cni-1");
    }

    #[test]
    fn dot_dot_after_a_link_is_physical() {
        // var/run is /run, so var/run/.. is the root, not var.
        let tree = debian_like("physical");
        both_read(&tree, "/var/run/../lib/marker", "lib/marker");
    }

    #[test]
    fn a_chain_of_links_is_followed_to_the_end() {
        let tree = debian_like("chain");
        symlink("/var/run", tree.0.join("a")).unwrap();
        symlink("a/netns", tree.0.join("b")).unwrap();
        symlink("/b/cni-1", tree.0.join("c")).unwrap();
        both_read(&tree, "/c", "run/netns/cni-1");
    }

    #[test]
    fn a_dangling_link_is_not_found() {
        let tree = debian_like("dangling");
        symlink("/run/containerd/gone", tree.0.join("run/stale")).unwrap();
        for got in contents(&tree, "/var/run/stale/config.json") {
            assert_eq!(got.unwrap_err().kind(), io::ErrorKind::NotFound);
        }
    }

    #[test]
    fn a_loop_is_an_error_naming_the_path() {
        let tree = debian_like("loop");
        symlink("/loop2", tree.0.join("loop1")).unwrap();
        symlink("loop1", tree.0.join("loop2")).unwrap();
        for got in contents(&tree, "/loop1/x") {
            let err = got.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        }
    }

    #[test]
    fn a_file_used_as_a_directory_is_an_error() {
        let tree = debian_like("notdir");
        for got in contents(&tree, "/run/netns/cni-1/x") {
            assert_eq!(got.unwrap_err().raw_os_error(), Some(libc::ENOTDIR));
        }
    }

    #[test]
    fn a_magic_link_inside_the_root_is_not_followed() {
        // /proc/self/root of a recorded tree must not lead to the reader's root.
        let tree = debian_like("magic");
        std::fs::create_dir_all(tree.0.join("host")).unwrap();
        symlink("/proc/self/root/etc/hostname", tree.0.join("host/name")).unwrap();
        for got in contents(&tree, "/host/name") {
            assert!(got.is_err(), "read through a magic link: {got:?}");
        }
    }

    #[test]
    fn the_slash_root_reads_the_real_files() {
        let root = HostRoot::open(PathBuf::from("/")).unwrap();
        let mut text = String::new();
        root.open_file(Path::new("/proc/self/status"))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.starts_with("Name:"));
    }

    #[test]
    fn read_dir_names_lists_through_links_and_reports_missing_dirs() {
        let tree = debian_like("readdir");
        tree.put("run/netns/cni-2");
        for host in roots(&tree) {
            let mut names = host.read_dir_names(Path::new("/var/run/netns")).unwrap();
            names.sort();
            assert_eq!(names, [OsString::from("cni-1"), OsString::from("cni-2")]);
            let err = host.read_dir_names(Path::new("/var/run/nothing")).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
        }
    }

    #[test]
    fn a_link_is_read_as_written_and_handles_stat_the_file() {
        let tree = debian_like("readlink");
        symlink("../pods/x/0.log", tree.0.join("run/netns/log")).unwrap();
        for host in roots(&tree) {
            let target = host.read_link(Path::new("/var/run/netns/log")).unwrap();
            assert_eq!(target, PathBuf::from("../pods/x/0.log"));
            let handle = File::from(host.open_handle(Path::new("/var/run/netns/cni-1")).unwrap());
            let expected = std::fs::metadata(tree.0.join("run/netns/cni-1")).unwrap().ino();
            assert_eq!(handle.metadata().unwrap().ino(), expected);
        }
    }

    /// A directory of the root swapped for a link to outside it, again and
    /// again, while files under it are read: no read may land outside.
    #[test]
    fn a_directory_swapped_for_a_link_never_leads_outside_the_root() {
        let tree = debian_like("swap");
        let outside = TempTree::new("swap-outside");
        outside.put("bundle/config.json");
        std::fs::write(outside.0.join("bundle/config.json"), "outside").unwrap();
        tree.put("run/bundle/config.json");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let swapper = {
            let (run, stop) = (tree.0.join("run"), stop.clone());
            let (parked, outside) = (tree.0.join("run.parked"), outside.0.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = std::fs::rename(&run, &parked);
                    let _ = symlink(&outside, &run);
                    let _ = std::fs::remove_file(&run);
                    let _ = std::fs::rename(&parked, &run);
                }
            })
        };
        let (mut read, mut missed) = (0, 0);
        let started = std::time::Instant::now();
        // Until both outcomes were seen a good many times, so the swap surely
        // raced the reads; a second at most.
        while (read < 200 || missed < 200) && started.elapsed().as_secs() < 1 {
            for got in contents(&tree, "/run/bundle/config.json") {
                match got {
                    Ok(text) => {
                        assert_eq!(text, "run/bundle/config.json", "read outside the root");
                        read += 1;
                    }
                    Err(_) => missed += 1,
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        assert!(read > 0 && missed > 0, "no race: {read} reads, {missed} misses");
    }
}
