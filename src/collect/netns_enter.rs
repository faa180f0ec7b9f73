//! Runs code inside another network namespace, given the namespace's file:
//! a `/proc/<pid>/ns/net` link, or an nsfs bind mount such as
//! `/run/netns/<name>` (possibly reached through `/proc/1/root/...` from a
//! debug pod, runtimes.md P3). This is how the sockets of a namespace that
//! no process holds are read (runtimes.md §6.2 step 4).
//!
//! setns(2) moves only the calling thread, so the work runs on a thread
//! made for it that ends with the work: no thread ever returns to the
//! caller's code in the wrong namespace. Inside, `/proc/thread-self/net/*`
//! and sockets created there (netlink sock_diag) see the entered namespace;
//! `/proc/self/net/*` does not, because it shows the namespace of the
//! thread-group leader (runtimes.md P10; the tests below check both).

use std::os::unix::fs::MetadataExt;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// linux/magic.h
const NSFS_MAGIC: u64 = 0x6e73_6673;

/// Why a namespace could not be entered. Each variant names the file.
#[derive(Debug)]
pub enum EnterError {
    /// The file could not be opened or examined (ENOENT: the namespace is
    /// gone; EACCES: ptrace access to its process is denied, runtimes.md §7).
    Open { path: PathBuf, source: io::Error },
    /// The file is not on nsfs: a bind mount seen from a mount namespace
    /// that lacks it is an empty regular file (runtimes.md §6.3, P3).
    NotNsfs { path: PathBuf },
    /// The file is a namespace of another type (mnt, uts, …).
    NotNetNamespace { path: PathBuf },
    /// setns(2) gave EPERM: entering needs CAP_SYS_ADMIN.
    PermissionDenied { path: PathBuf },
    /// setns(2) failed otherwise, or no thread could be started.
    Setns { path: PathBuf, source: io::Error },
}

impl fmt::Display for EnterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnterError::Open { path, source } => {
                write!(
                    f,
                    "cannot open network namespace {}: {source}",
                    path.display()
                )
            }
            EnterError::NotNsfs { path } => write!(
                f,
                "{} is not a namespace file (not on nsfs; a bind mount made after this \
                 mount namespace was set up looks like an empty file)",
                path.display()
            ),
            EnterError::NotNetNamespace { path } => {
                write!(f, "{} is not a network namespace", path.display())
            }
            EnterError::PermissionDenied { path } => write!(
                f,
                "cannot enter network namespace {}: permission denied (needs CAP_SYS_ADMIN)",
                path.display()
            ),
            EnterError::Setns { path, source } => {
                write!(
                    f,
                    "cannot enter network namespace {}: {source}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for EnterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EnterError::Open { source, .. } | EnterError::Setns { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Runs `work` on a new thread that has entered the network namespace of
/// `ns_file`, and returns its result. The thread ends when `work` returns.
/// A panic in `work` is passed on to the caller.
pub fn in_netns<T: Send>(ns_file: &Path, work: impl FnOnce() -> T + Send) -> Result<T, EnterError> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("netns".into())
            .spawn_scoped(scope, || {
                enter(ns_file)?;
                Ok(work())
            })
            .map_err(|source| EnterError::Setns {
                path: ns_file.to_owned(),
                source,
            })?;
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Moves the calling thread into the network namespace of `ns_file`.
fn enter(ns_file: &Path) -> Result<(), EnterError> {
    let path = || ns_file.to_owned();
    // O_NONBLOCK: should the file be a FIFO, opening it must not wait.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(ns_file)
        .map_err(|source| EnterError::Open {
        path: path(),
        source,
    })?;
    // SAFETY: statfs is plain old data, valid when zeroed; fstatfs fills it.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the fd is open for the duration of the call and `fs` is writable.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut fs) } != 0 {
        let source = io::Error::last_os_error();
        return Err(EnterError::Open {
            path: path(),
            source,
        });
    }
    // f_type is signed on glibc and unsigned on musl; the magic fits both.
    if fs.f_type as u64 != NSFS_MAGIC {
        return Err(EnterError::NotNsfs { path: path() });
    }
    // The thread's own namespace (the node's, usually) needs no entering,
    // and so no CAP_SYS_ADMIN.
    let own = std::fs::metadata("/proc/thread-self/ns/net");
    if let (Ok(target), Ok(own)) = (file.metadata(), own) {
        if (target.dev(), target.ino()) == (own.dev(), own.ino()) {
            return Ok(());
        }
    }
    // SAFETY: setns only reads the fd, which stays open until `file` drops.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let source = io::Error::last_os_error();
        return Err(match source.raw_os_error() {
            Some(libc::EPERM) => EnterError::PermissionDenied { path: path() },
            // setns(2): EINVAL when the fd's namespace type does not match
            // nstype; the file is already known to be a namespace.
            Some(libc::EINVAL) => EnterError::NotNetNamespace { path: path() },
            _ => EnterError::Setns {
                path: path(),
                source,
            },
        });
    }
    Ok(())
}

/// A network namespace made with `ip netns add` for a test, with loopback
/// up, deleted again when dropped (also when the test fails).
#[cfg(test)]
pub(crate) struct TestNetns {
    name: String,
    path: PathBuf,
}

#[cfg(test)]
impl TestNetns {
    pub(crate) fn new() -> TestNetns {
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::time::{SystemTime, UNIX_EPOCH};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "cnetstat-test-{}-{nanos:x}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let ip = |args: &[&str]| {
            let status = std::process::Command::new("ip").args(args).status();
            assert!(
                matches!(status, Ok(s) if s.success()),
                "ip {args:?} failed ({status:?}); these tests need root and iproute2"
            );
        };
        ip(&["netns", "add", &name]);
        let netns = TestNetns {
            path: PathBuf::from("/run/netns").join(&name),
            name,
        };
        ip(&["-n", &netns.name, "link", "set", "lo", "up"]);
        netns
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Whether a /proc/net/tcp text holds a listener on 127.0.0.1:`port`.
    fn lists_loopback_listener(table: &str, port: u16) -> bool {
        let local = format!("0100007F:{port:04X}");
        table.lines().any(|line| {
            let mut fields = line.split_whitespace().skip(1);
            fields.next() == Some(local.as_str()) && fields.nth(1) == Some("0A")
        })
    }

    #[test]
    fn entered_namespace_is_visible_through_thread_self_only() {
        let netns = TestNetns::new();
        let listener = in_netns(netns.path(), || TcpListener::bind("127.0.0.1:0"))
            .expect("enter test namespace")
            .expect("listen inside it");
        let port = listener.local_addr().unwrap().port();

        let (thread_self, process_self) = in_netns(netns.path(), || {
            (
                std::fs::read_to_string("/proc/thread-self/net/tcp").unwrap(),
                std::fs::read_to_string("/proc/self/net/tcp").unwrap(),
            )
        })
        .expect("enter test namespace again");
        let caller = std::fs::read_to_string("/proc/thread-self/net/tcp").unwrap();

        assert!(lists_loopback_listener(&thread_self, port), "{thread_self}");
        // P10: /proc/self follows the thread-group leader, which never moved.
        assert!(
            !lists_loopback_listener(&process_self, port),
            "{process_self}"
        );
        assert!(!lists_loopback_listener(&caller, port), "{caller}");
    }

    #[test]
    fn caller_thread_keeps_its_namespace() {
        let netns = TestNetns::new();
        let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let inside = in_netns(netns.path(), || {
            std::fs::read_link("/proc/thread-self/ns/net").unwrap()
        })
        .unwrap();
        assert_ne!(inside, before);
        assert_eq!(
            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
            before
        );

        // A debug pod reaches the host's bind mounts through /proc/1/root.
        // Here PID 1 holds a capability this process lacks, so its root link
        // is denied (EACCES, runtimes.md §7); our own root link takes the
        // same path through a /proc/<pid>/root magic link.
        let via_root_link =
            Path::new("/proc/self/root").join(netns.path().strip_prefix("/").unwrap());
        let inside_again = in_netns(&via_root_link, || {
            std::fs::read_link("/proc/thread-self/ns/net").unwrap()
        })
        .unwrap();
        assert_eq!(inside_again, inside);
    }

    #[test]
    fn missing_file_is_an_open_error_naming_the_path() {
        let path = Path::new("/run/netns/cnetstat-test-does-not-exist");
        let err = in_netns(path, || ()).unwrap_err();
        assert!(
            matches!(&err, EnterError::Open { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("cnetstat-test-does-not-exist"),
            "{err}"
        );
    }

    #[test]
    fn empty_regular_file_is_not_nsfs() {
        // What an nsfs bind mount looks like from a mount namespace without it.
        let path = std::env::temp_dir().join(format!("cnetstat-test-empty-{}", std::process::id()));
        File::create(&path).unwrap();
        let result = in_netns(&path, || ());
        std::fs::remove_file(&path).unwrap();
        assert!(
            matches!(result, Err(EnterError::NotNsfs { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn namespace_of_another_type_is_refused() {
        let result = in_netns(Path::new("/proc/self/ns/uts"), || ());
        assert!(
            matches!(result, Err(EnterError::NotNetNamespace { .. })),
            "{result:?}"
        );
    }

    /// capget/capset header and data, linux/capability.h, version 3.
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }

    #[test]
    fn without_cap_sys_admin_entering_is_permission_denied() {
        let netns = TestNetns::new();
        // Capabilities belong to a thread and are inherited by the threads it
        // starts, so dropping one here leaves the rest of the test run alone.
        let result = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut header = CapHeader {
                        version: 0x2008_0522,
                        pid: 0,
                    };
                    let mut data = [CapData {
                        effective: 0,
                        permitted: 0,
                        inheritable: 0,
                    }; 2];
                    // SAFETY: header and two data structs, as capget(2) wants.
                    let got =
                        unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
                    assert_eq!(got, 0, "capget: {}", io::Error::last_os_error());
                    // Bit 21 is CAP_SYS_ADMIN.
                    data[0].effective &= !(1 << 21);
                    // SAFETY: as above; only this thread's effective set shrinks.
                    let set =
                        unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
                    assert_eq!(set, 0, "capset: {}", io::Error::last_os_error());
                    in_netns(netns.path(), || ())
                })
                .join()
                .unwrap()
        });
        let err = result.unwrap_err();
        assert!(
            matches!(err, EnterError::PermissionDenied { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("CAP_SYS_ADMIN"), "{err}");
    }
}
