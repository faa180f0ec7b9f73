//! Reading a file of the node, which cnetstat does not control: a recorded
//! tree handed to `--proc`, a debug pod's `/host`, a runtime's state
//! directory. Every file is opened without blocking and without following a
//! final symlink, checked to be a regular file (a FIFO would block a read
//! forever, `/dev/zero` would never end), and read up to a cap that fits
//! its kind; a file over its cap is refused, not cut short.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// How much cnetstat reads of each kind of file, at most. Each is far above
/// anything a real node writes, and bounds what a hostile one costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap(pub u64);

impl Cap {
    /// `comm` is at most 16 bytes (TASK_COMM_LEN).
    pub const COMM: Cap = Cap(4 << 10);
    /// A hybrid node's `cgroup` has a dozen lines of a few hundred bytes.
    pub const CGROUP: Cap = Cap(64 << 10);
    pub const STATUS: Cap = Cap(64 << 10);
    pub const SOCKSTAT: Cap = Cap(16 << 10);
    /// A sysctl holds one value, or a list of port ranges.
    pub const SYSCTL: Cap = Cap(64 << 10);
    /// A header and a line of about 200 bytes per CPU.
    pub const CONNTRACK_STAT: Cap = Cap(1 << 20);
    /// About 150 bytes a mount: room for 400,000 mounts.
    pub const MOUNTINFO: Cap = Cap(64 << 20);
    /// About 150 bytes a socket: room for 1.7 million sockets in one namespace.
    pub const SOCKET_TABLE: Cap = Cap(256 << 20);
    /// An OCI spec is 3–20 KB; annotations can add some.
    pub const OCI_SPEC: Cap = Cap(8 << 20);
    /// containers/storage's name index: about 1 KB a container.
    pub const NAME_INDEX: Cap = Cap(64 << 20);
    /// A kubeconfig, token or PEM file: kilobytes; the kubeconfig parser
    /// takes up to 16 MiB.
    pub const KUBE_FILE: Cap = Cap(16 << 20);

    pub fn describe(self) -> String {
        match self.0 {
            n if n >= 1 << 20 => format!("{} MiB", n >> 20),
            n => format!("{} KiB", n >> 10),
        }
    }
}

/// Flags for every file of the node cnetstat opens: a FIFO opens at once
/// instead of waiting for a writer, and a final symlink is not followed.
pub const OPEN_FLAGS: libc::c_int = libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// Opens `path` for reading with [`OPEN_FLAGS`].
pub fn open(path: &Path) -> io::Result<File> {
    File::options()
        .read(true)
        .custom_flags(OPEN_FLAGS)
        .open(path)
}

/// Reads a file opened with [`OPEN_FLAGS`] into `buf`, replacing its
/// contents: refused unless it is a regular file (procfs files are, and
/// report size 0, so the size is never trusted), and refused when longer
/// than `cap`.
pub fn read_regular(file: File, cap: Cap, buf: &mut Vec<u8>) -> io::Result<()> {
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a regular file but {}", describe_type(kind)),
        ));
    }
    buf.clear();
    file.take(cap.0 + 1).read_to_end(buf)?;
    if buf.len() as u64 > cap.0 {
        buf.clear();
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {}, more than any real one: skipped", cap.describe()),
        ));
    }
    Ok(())
}

/// Opens and reads `path` (see [`open`] and [`read_regular`]).
pub fn read_path(path: &Path, cap: Cap, buf: &mut Vec<u8>) -> io::Result<()> {
    read_regular(open(path)?, cap, buf)
}

fn describe_type(kind: std::fs::FileType) -> &'static str {
    if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("cnetstat-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    #[test]
    fn a_fifo_is_refused_at_once_instead_of_blocking() {
        let dir = temp_dir("fifo");
        let fifo = dir.0.join("tcp");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path only.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let started = Instant::now();
        let err = read_path(&fifo, Cap::SOCKET_TABLE, &mut Vec::new()).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(err.to_string(), "not a regular file but a named pipe (FIFO)");
    }

    #[test]
    fn a_device_or_a_link_to_one_is_refused() {
        let err = read_path(Path::new("/dev/zero"), Cap::COMM, &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file but a character device");
        let dir = temp_dir("link");
        let link = dir.0.join("comm");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let err = read_path(&link, Cap::COMM, &mut Vec::new()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
    }

    #[test]
    fn a_file_over_its_cap_is_refused_whole() {
        let dir = temp_dir("cap");
        let path = dir.0.join("cgroup");
        std::fs::write(&path, vec![b'x'; 4097]).unwrap();
        let mut buf = b"old".to_vec();
        let err = read_path(&path, Cap::COMM, &mut buf).unwrap_err();
        assert_eq!(err.to_string(), "larger than 4 KiB, more than any real one: skipped");
        assert!(buf.is_empty());
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        read_path(&path, Cap::COMM, &mut buf).unwrap();
        assert_eq!(buf.len(), 4096);
    }

    #[test]
    fn procfs_files_report_size_zero_and_read_whole() {
        let mut buf = Vec::new();
        read_path(Path::new("/proc/self/status"), Cap::STATUS, &mut buf).unwrap();
        assert!(buf.starts_with(b"Name:"));
    }
}
