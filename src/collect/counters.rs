//! Each namespace's TCP counters, for `--watch` (ports.md §3.3): four small
//! files of `/proc/<pid>/net/` through any process of the namespace (no
//! entering needed), or of `/proc/thread-self/net/` inside a namespace only
//! a bind mount holds. Microseconds each, against milliseconds for a walk
//! of the socket table; so every namespace's are read every tick, and they
//! decide which tables are walked again.

use std::path::Path;

use super::files::{self, Cap};
use super::namespaces::{Handle, Namespace};
use super::netns_enter;
use super::parallel;
use super::procfs::ProcFs;
use crate::clock::boottime_ms;
use crate::model::{TcpCounters, Warning};
use crate::parse::snmp::{self, CounterFiles};

/// The files, in the order [`CounterFiles`] takes them.
const FILES: [&str; 4] = ["net/snmp", "net/netstat", "net/sockstat", "net/sockstat6"];
/// A few KB each; a node with hundreds of CPUs adds no lines to these.
const CAP: Cap = Cap(256 << 10);

/// Each namespace's counters, in the order of `namespaces`; None for one
/// that vanished meanwhile, or whose counters could not be read (then a
/// warning says so).
pub fn read_counters(
    proc: &ProcFs,
    namespaces: &[Namespace],
    threads: usize,
    warnings: &mut Vec<Warning>,
) -> Vec<Option<TcpCounters>> {
    let read = parallel::map(namespaces, threads, Buffers::default, |bufs, ns| {
        read_one(proc, ns, bufs)
    });
    read.into_iter()
        .zip(namespaces)
        .map(|(result, ns)| match result {
            Ok(counters) => counters,
            Err(error) => {
                warnings.push(Warning::CountersUnreadable {
                    netns: Some(ns.inode),
                    error,
                });
                None
            }
        })
        .collect()
}

#[derive(Default)]
struct Buffers([Vec<u8>; 4]);

impl Buffers {
    /// Reads the four files under `net_dir` (a `/proc/<pid>` or
    /// `/proc/thread-self`), and notes the time between the reads.
    fn read(&mut self, dir: &Path) -> Result<TcpCounters, ReadError> {
        let mut read_ms = 0;
        for (file, buf) in FILES.iter().zip(self.0.iter_mut()) {
            let path = dir.join(file);
            files::read_path(&path, CAP, buf).map_err(|err| match err.kind() {
                std::io::ErrorKind::NotFound => ReadError::Vanished,
                _ => ReadError::Failed(format!("{}: {err}", path.display())),
            })?;
            if *file == "net/snmp" {
                read_ms = boottime_ms();
            }
        }
        let [snmp, netstat, sockstat, sockstat6] = &self.0;
        let files = CounterFiles {
            snmp,
            netstat,
            sockstat,
            sockstat6,
        };
        snmp::tcp_counters(&files, read_ms)
            .map_err(|err| ReadError::Failed(format!("{}: {err}", dir.join("net").display())))
    }
}

enum ReadError {
    /// The process exited, or the namespace is gone.
    Vanished,
    Failed(String),
}

fn read_one(
    proc: &ProcFs,
    ns: &Namespace,
    bufs: &mut Buffers,
) -> Result<Option<TcpCounters>, String> {
    match &ns.handle {
        Handle::Processes(pids) => {
            let mut failure = None;
            for &pid in pids {
                let read = bufs.read(&proc.pid_path(pid, ""));
                // As for its table: the process must still be in the
                // namespace after the read for the counters to be its.
                if proc.netns(pid).ok() != Some(ns.inode) {
                    continue;
                }
                match read {
                    Ok(counters) => return Ok(Some(counters)),
                    Err(ReadError::Vanished) => {}
                    Err(ReadError::Failed(error)) => failure = Some(error),
                }
            }
            failure.map_or(Ok(None), Err)
        }
        Handle::Mount(ns_file) => {
            let inside = netns_enter::in_netns(&ns_file.path, || {
                let entered = std::fs::metadata("/proc/thread-self/ns/net").map(|m| {
                    use std::os::unix::fs::MetadataExt;
                    m.ino()
                });
                match entered {
                    Ok(inode) if inode == ns.inode => bufs.read(Path::new("/proc/thread-self")),
                    _ => Err(ReadError::Vanished),
                }
            });
            match inside {
                Ok(Ok(counters)) => Ok(Some(counters)),
                Ok(Err(ReadError::Vanished)) => Ok(None),
                Ok(Err(ReadError::Failed(error))) => Err(error),
                Err(netns_enter::EnterError::Open { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Ok(None)
                }
                Err(err) => Err(err.to_string()),
            }
        }
    }
}
