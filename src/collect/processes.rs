//! Processes: for each, its network namespace, cgroup and name; and which
//! process holds each socket, from the links in `/proc/<pid>/fd`.

use std::collections::{HashMap, HashSet};
use std::io;

use super::files::Cap;
use super::parallel;
use super::procfs::ProcFs;
use crate::model::{NetnsId, Process, Warning};
use crate::parse::cgroup::parse_cgroup_file;
use crate::parse::proc_pid::comm_name;

/// Processes whose files could not be read, and the first error seen.
#[derive(Clone, Debug, Default)]
pub struct Unreadable {
    namespaces: u32,
    /// Processes whose open files could not be read.
    fd_tables: Vec<u32>,
    first: Option<String>,
}

/// Processes, what could not be read of them, and the files they hold
/// that are not what procfs has there (a recorded tree's FIFO or device, a
/// file over its cap), each a warning.
pub fn scan_processes(
    proc: &ProcFs,
    pids: &[u32],
    threads: usize,
) -> (Vec<Process>, Unreadable, Vec<Warning>) {
    let scanned = parallel::map(pids, threads, Vec::new, |buf, &pid| {
        let mut skipped = Vec::new();
        let mut skip = |file: &str, err: io::Error| {
            skipped.push(Warning::ProcessFile {
                pid,
                path: proc.pid_path(pid, file).display().to_string(),
                problem: err.to_string(),
            })
        };
        let (netns, denied) = match proc.netns(pid) {
            Ok(inode) => (NetnsId::Inode(inode), None),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return None,
            // Placed in a namespace later, by what its table holds.
            Err(err) => (
                NetnsId::Hidden(pid),
                Some(format!("{}: {err}", proc.pid_path(pid, "ns/net").display())),
            ),
        };
        let cgroup = match proc.read(pid, "cgroup", Cap::CGROUP, buf) {
            Ok(()) => parse_cgroup_file(buf),
            Err(err) if is_hostile(&err) => {
                skip("cgroup", err);
                None
            }
            Err(_) => None,
        };
        let comm = match proc.read(pid, "comm", Cap::COMM, buf) {
            Ok(()) => String::from_utf8_lossy(comm_name(buf)).into_owned(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return None,
            Err(err) if is_hostile(&err) => {
                skip("comm", err);
                "?".into()
            }
            Err(_) => "?".into(),
        };
        let process = Process {
            pid,
            comm,
            netns,
            cgroup,
            fds_unread: false,
        };
        Some((process, denied, skipped))
    });
    let mut processes = Vec::with_capacity(scanned.len());
    let mut unreadable = Unreadable::default();
    let mut warnings = Vec::new();
    for (process, denied, skipped) in scanned.into_iter().flatten() {
        if let Some(err) = denied {
            unreadable.namespaces += 1;
            unreadable.first.get_or_insert(err);
        }
        warnings.extend(skipped);
        processes.push(process);
    }
    (processes, unreadable, warnings)
}

/// Not what procfs can answer: a file of the wrong kind or size, or a link
/// where procfs has a file (a recorded tree's).
fn is_hostile(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::InvalidData || err.raw_os_error() == Some(libc::ELOOP)
}

/// Inode → pid of the lowest pid holding it, for the inodes `wanted`.
pub fn scan_socket_owners(
    proc: &ProcFs,
    pids: &[u32],
    wanted: &HashSet<u64>,
    threads: usize,
    unreadable: &mut Unreadable,
) -> HashMap<u64, u32> {
    let found = parallel::map(
        pids,
        threads,
        || (),
        |_, &pid| {
            let mut held = Vec::new();
            let result = proc.socket_inodes(pid, |inode| {
                if wanted.contains(&inode) {
                    held.push(inode);
                }
            });
            match result {
                Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                    Err(format!("{}: {err}", proc.pid_path(pid, "fd").display()))
                }
                _ => Ok(held),
            }
        },
    );
    let mut owners = HashMap::with_capacity(wanted.len());
    for (&pid, held) in pids.iter().zip(found) {
        match held {
            Ok(held) => {
                for inode in held {
                    owners.entry(inode).or_insert(pid);
                }
            }
            Err(err) => {
                unreadable.fd_tables.push(pid);
                unreadable.first.get_or_insert(err);
            }
        }
    }
    owners
}

impl Unreadable {
    /// Adds what a scan of more processes could not read.
    pub fn extend(&mut self, more: Unreadable) {
        self.namespaces += more.namespaces;
        self.fd_tables.extend(more.fd_tables);
        if self.first.is_none() {
            self.first = more.first;
        }
    }

    /// Marks the processes whose open files could not be read, which
    /// attribution needs to tell their sockets from the kernel's.
    pub fn mark(&self, processes: &mut [Process]) {
        for pid in &self.fd_tables {
            if let Ok(i) = processes.binary_search_by_key(pid, |p| p.pid) {
                processes[i].fds_unread = true;
            }
        }
    }

    /// Counted in processes here; analysis states the loss in sockets.
    pub fn warning(self, processes: usize) -> Option<Warning> {
        Some(Warning::ProcessesUnreadable {
            ns_links: self.namespaces,
            fd_tables: u32::try_from(self.fd_tables.len()).unwrap_or(u32::MAX),
            processes: u32::try_from(processes).unwrap_or(u32::MAX),
            first: self.first?,
        })
    }
}
