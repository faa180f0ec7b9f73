//! The procfs edge: process ids, their network namespace, cgroup, name and
//! open sockets, read under a configurable root (`--proc`) so recorded trees
//! under testdata/ stand in for /proc. Links are read with readlink, never
//! followed, because `ns/net -> net:[N]` and `fd/3 -> socket:[N]` are
//! dangling in a recorded tree and readlink is all the kernel needs to answer.

use std::ffi::CStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::ascii::parse_decimal;

#[derive(Clone, Debug)]
pub struct ProcFs {
    root: PathBuf,
}

impl ProcFs {
    pub fn new(root: PathBuf) -> ProcFs {
        ProcFs { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
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

    /// Reads `<root>/<pid>/<file>` into `buf`, replacing its contents.
    pub fn read(&self, pid: u32, file: &str, buf: &mut Vec<u8>) -> io::Result<()> {
        read_into(&self.pid_path(pid, file), buf)
    }

    /// Calls `found` with the inode of every socket `pid` has open.
    ///
    /// A busy node has hundreds of thousands of descriptors, so the
    /// directory is read with getdents64 into a stack buffer and each link
    /// with readlinkat relative to it: no allocation per descriptor (musl's
    /// allocator, in the static build, is slow and takes a global lock) and
    /// no path walk from /proc per link.
    pub fn socket_inodes(&self, pid: u32, mut found: impl FnMut(u64)) -> io::Result<()> {
        let dir = File::open(self.pid_path(pid, "fd"))?;
        // linux_dirent64 records are 8-byte aligned in the kernel's layout.
        #[repr(C, align(8))]
        struct Entries([u8; 8192]);
        let mut entries = Entries([0; 8192]);
        let entries = &mut entries.0;
        let mut target = [0u8; 64];
        loop {
            // SAFETY: the buffer is writable for its length; the fd is open.
            let read = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    dir.as_raw_fd(),
                    entries.as_mut_ptr(),
                    entries.len(),
                )
            };
            let filled = match usize::try_from(read) {
                Ok(0) => return Ok(()),
                Ok(filled) => filled.min(entries.len()),
                Err(_) => return Err(io::Error::last_os_error()),
            };
            for name in dirent_names(&entries[..filled]) {
                if name.to_bytes().starts_with(b".") {
                    continue;
                }
                // SAFETY: `name` is NUL-terminated inside `entries`, and
                // `target` is writable for its length.
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
                    }
                    // Listing fd/ is allowed where reading its links is not
                    // (ptrace access mode): the whole table is unreadable.
                    // A descriptor closed since the listing is normal.
                    Err(_) => {
                        let err = io::Error::last_os_error();
                        if err.kind() == io::ErrorKind::PermissionDenied {
                            return Err(err);
                        }
                    }
                }
            }
        }
    }
}

/// The names in a buffer of `linux_dirent64` records (getdents64(2)):
/// `d_ino: u64, d_off: i64, d_reclen: u16, d_type: u8, d_name: [u8]` with
/// `d_name` NUL-terminated inside `d_reclen`. A malformed record ends the
/// walk rather than reading past the buffer.
fn dirent_names(mut records: &[u8]) -> impl Iterator<Item = &CStr> {
    const NAME_OFFSET: usize = 19;
    std::iter::from_fn(move || {
        let reclen = usize::from(u16::from_ne_bytes([*records.get(16)?, *records.get(17)?]));
        let record = records.get(..reclen).filter(|_| reclen > NAME_OFFSET)?;
        records = &records[reclen..];
        CStr::from_bytes_until_nul(&record[NAME_OFFSET..]).ok()
    })
}

/// /proc files report size 0, so read to the end into a reused buffer.
pub fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    File::open(path)?.read_to_end(buf)?;
    Ok(())
}

/// `net:[4026531840]` → 4026531840.
pub fn parse_ns_link(target: &[u8]) -> Option<u64> {
    parse_decimal(target.strip_prefix(b"net:[")?.strip_suffix(b"]")?)
}

/// `socket:[9222]` → 9222; other descriptors (files, pipes, anon inodes) → None.
pub fn parse_socket_link(target: &[u8]) -> Option<u64> {
    parse_decimal(target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
}

/// The process name from `comm`, without its newline.
pub fn comm_name(comm: &[u8]) -> &[u8] {
    comm.strip_suffix(b"\n").unwrap_or(comm)
}

/// A namespace's TCP socket counts, from `net/sockstat` (`TCP: inuse 3
/// orphan 0 tw 1 alloc 6 mem 221`) and `net/sockstat6` (`TCP6: inuse 1`):
/// far cheaper to read than a socket table, whose every read walks the
/// node's whole socket hash.
#[derive(Debug, PartialEq, Eq)]
pub struct TcpCounts {
    /// Sockets in any state but TIME_WAIT, IPv4 and IPv6.
    pub in_use: u64,
    pub time_wait: u64,
}

pub fn tcp_counts(sockstat: &[u8], sockstat6: &[u8]) -> Option<TcpCounts> {
    let v4 = counters(sockstat, b"TCP:")?;
    let v6 = counters(sockstat6, b"TCP6:")?;
    Some(TcpCounts {
        in_use: counter(v4, b"inuse")?.checked_add(counter(v6, b"inuse")?)?,
        time_wait: counter(v4, b"tw")?,
    })
}

/// The rest of the line that starts with `label`.
fn counters<'a>(file: &'a [u8], label: &[u8]) -> Option<&'a [u8]> {
    file.split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(label))
}

/// The value after `name` in `name value name value…`.
fn counter(fields: &[u8], name: &[u8]) -> Option<u64> {
    let mut words = fields.split(|b| *b == b' ').filter(|w| !w.is_empty());
    while let Some(word) = words.next() {
        let value = words.next()?;
        if word == name {
            return parse_decimal(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_and_socket_links() {
        assert_eq!(parse_ns_link(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link(b"mnt:[4026531840]"), None);
        assert_eq!(parse_ns_link(b"net:[]"), None);
        assert_eq!(parse_ns_link(b"net:[12a]"), None);
        assert_eq!(parse_socket_link(b"socket:[9222]"), Some(9222));
        assert_eq!(parse_socket_link(b"/dev/null"), None);
        assert_eq!(parse_socket_link(b"anon_inode:[eventpoll]"), None);
        assert_eq!(parse_socket_link(b"socket:[99999999999999999999999]"), None);
    }

    #[test]
    fn tcp_counts_from_sockstat() {
        // Recorded in a namespace holding a listener, a connection to it
        // (both ends), a TIME_WAIT and an IPv6 listener.
        let busy = tcp_counts(
            include_bytes!("../testdata/sockstat/busy-sockstat"),
            include_bytes!("../testdata/sockstat/busy-sockstat6"),
        );
        assert_eq!(
            busy,
            Some(TcpCounts {
                in_use: 4,
                time_wait: 1
            })
        );
        let empty = tcp_counts(
            include_bytes!("../testdata/sockstat/empty-sockstat"),
            include_bytes!("../testdata/sockstat/empty-sockstat6"),
        );
        assert_eq!(
            empty,
            Some(TcpCounts {
                in_use: 0,
                time_wait: 0
            })
        );
        assert_eq!(tcp_counts(b"UDP: inuse 0\n", b"TCP6: inuse 0\n"), None);
        assert_eq!(tcp_counts(b"TCP: inuse x tw 0\n", b"TCP6: inuse 0\n"), None);
        assert_eq!(tcp_counts(b"TCP: inuse 1 tw\n", b"TCP6: inuse 0\n"), None);
    }

    #[test]
    fn dirent_records_and_malformed_ones() {
        fn record(name: &str) -> Vec<u8> {
            let mut bytes = vec![0u8; 19];
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(0);
            while bytes.len() % 8 != 0 {
                bytes.push(0);
            }
            let reclen = bytes.len() as u16;
            bytes[16..18].copy_from_slice(&reclen.to_ne_bytes());
            bytes
        }
        let mut buf = [record("."), record(".."), record("3"), record("17")].concat();
        let names: Vec<&CStr> = dirent_names(&buf).collect();
        assert_eq!(names, [c".", c"..", c"3", c"17"]);
        // A length past the end, or too short to hold a name, ends the walk.
        let end = buf.len();
        buf.extend_from_slice(&record("99"));
        buf[end + 16..end + 18].copy_from_slice(&500u16.to_ne_bytes());
        assert_eq!(dirent_names(&buf).count(), 4);
        buf[end + 16..end + 18].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(dirent_names(&buf).count(), 4);
        assert_eq!(dirent_names(&buf[..10]).count(), 0);
    }

    #[test]
    fn comm_loses_only_its_newline() {
        assert_eq!(comm_name(b"nginx: worker\n"), b"nginx: worker");
        assert_eq!(comm_name(b"sh"), b"sh");
    }

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
        proc.read(42, "comm", &mut buf).unwrap();
        assert_eq!(buf, b"sleep\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
