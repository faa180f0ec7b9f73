//! The procfs edge: process ids, their network namespace, cgroup, name and
//! open sockets, read under a configurable root (`--proc`) so recorded trees
//! under testdata/ stand in for /proc. Links are read with readlink, never
//! followed, because `ns/net -> net:[N]` and `fd/3 -> socket:[N]` are
//! dangling in a recorded tree and readlink is all the kernel needs to answer.

use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

use super::dirs::for_each_name;
use super::files::{self, Cap};
use crate::parse::proc_pid::{parse_ns_link, parse_socket_link};
use crate::text::parse_decimal;

#[derive(Clone, Debug)]
pub struct ProcFs {
    root: PathBuf,
}

impl ProcFs {
    pub fn new(root: PathBuf) -> ProcFs {
        ProcFs { root }
    }

    pub fn pid_path(&self, pid: u32, file: &str) -> PathBuf {
        let mut path = self.root.join(pid.to_string());
        path.push(file);
        path
    }

    /// Every process id, ascending.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        let mut pids: Vec<u32> = fs::read_dir(&self.root)?
            .filter_map(|entry| parse_decimal(entry.ok()?.file_name().as_bytes()))
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Inode of the network namespace `pid` is in.
    pub fn netns(&self, pid: u32) -> io::Result<u64> {
        let path = self.pid_path(pid, "ns/net");
        let target = fs::read_link(&path)?;
        parse_ns_link(target.as_os_str().as_bytes()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: not a namespace link: {}",
                    path.display(),
                    target.display()
                ),
            )
        })
    }

    /// Reads `<root>/<pid>/<file>` into `buf`, replacing its contents
    /// (see collect/files.rs for what is refused).
    pub fn read(&self, pid: u32, file: &str, cap: Cap, buf: &mut Vec<u8>) -> io::Result<()> {
        files::read_path(&self.pid_path(pid, file), cap, buf)
    }

    /// Calls `found` with the inode of every socket `pid` has open.
    ///
    /// A busy node has hundreds of thousands of descriptors, so each link
    /// is read with readlinkat relative to the listed directory, into a
    /// buffer on the stack: no allocation and no path walk per descriptor.
    pub fn socket_inodes(&self, pid: u32, mut found: impl FnMut(u64)) -> io::Result<()> {
        let dir = File::options()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | files::OPEN_FLAGS)
            .open(self.pid_path(pid, "fd"))?;
        let mut target = [0u8; 64];
        for_each_name(&dir, |name| {
            // SAFETY: `name` is NUL-terminated, and `target` is writable
            // for its length.
            let len = unsafe {
                libc::readlinkat(
                    dir.as_raw_fd(),
                    name.as_ptr(),
                    target.as_mut_ptr().cast(),
                    target.len(),
                )
            };
            match usize::try_from(len) {
                Ok(len) => {
                    if let Some(inode) = target.get(..len).and_then(parse_socket_link) {
                        found(inode);
                    }
                    Ok(())
                }
                // Listing fd/ is allowed where reading its links is not
                // (ptrace access mode): the whole table is unreadable. A
                // descriptor closed since the listing is normal.
                Err(_) => {
                    let err = io::Error::last_os_error();
                    if err.kind() == io::ErrorKind::PermissionDenied {
                        return Err(err);
                    }
                    Ok(())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_recorded_tree() {
        let dir = std::env::temp_dir().join(format!("cnetstat-procfs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("42/fd")).unwrap();
        fs::create_dir_all(dir.join("42/ns")).unwrap();
        fs::create_dir_all(dir.join("7/fd")).unwrap();
        fs::create_dir_all(dir.join("self")).unwrap();
        std::os::unix::fs::symlink("net:[4026532000]", dir.join("42/ns/net")).unwrap();
        std::os::unix::fs::symlink("socket:[100]", dir.join("42/fd/3")).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.join("42/fd/0")).unwrap();
        std::os::unix::fs::symlink("socket:[101]", dir.join("42/fd/4")).unwrap();
        fs::write(dir.join("42/comm"), "sleep\n").unwrap();

        let proc = ProcFs::new(dir.clone());
        assert_eq!(proc.pids().unwrap(), vec![7, 42]);
        assert_eq!(proc.netns(42).unwrap(), 4026532000);
        assert!(proc.netns(7).is_err());
        let mut inodes = Vec::new();
        proc.socket_inodes(42, |inode| inodes.push(inode)).unwrap();
        inodes.sort();
        assert_eq!(inodes, vec![100, 101]);
        let mut buf = vec![1, 2, 3];
        proc.read(42, "comm", Cap::COMM, &mut buf).unwrap();
        assert_eq!(buf, b"sleep\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
