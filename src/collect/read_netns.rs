//! Reading each network namespace's TCP and UDP socket tables, in
//! parallel, through sock_diag netlink (inside the namespace) or the
//! `/proc` text tables (through a process in it, or inside it when no
//! process holds it).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::namespaces::{Handle, Namespace};
use super::netns_enter;
use super::network::{self, Network};
use super::parallel;
use super::files::{self, Cap};
use super::procfs::ProcFs;
use crate::model::{
    NetnsId, NetnsSnapshot, NetworkPart, Process, Proto, Protocols, Socket, StateSet, TcpState,
    Transport, Warning,
};
use crate::netlink::sock_diag;
use crate::netlink::socket::NetlinkError;
use crate::parse::proc_net;
use crate::parse::sockstat;

/// How socket tables are read; resolved from `--backend` before collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableReader {
    /// sock_diag inside the namespace, falling back to the text tables
    /// where it fails (no `tcp_diag` or `udp_diag`, a seccomp filter, no
    /// CAP_SYS_ADMIN), table by table.
    Netlink,
    ProcText,
}

/// How each namespace is read.
#[derive(Clone, Copy, Debug)]
pub struct How {
    pub reader: TableReader,
    pub protocols: Protocols,
    pub states: StateSet,
    /// What else to read of each namespace (collect/network.rs).
    pub network: network::Parts,
}

/// The namespaces' tables, what could not be read, and what tells a
/// namespace whose link is hidden apart (see [`place_hidden_processes`]):
/// the inode of each namespace's `net/tcp` entry, and a hash of the text
/// of its tables.
pub struct Tables {
    pub namespaces: Vec<NetnsSnapshot>,
    pub warnings: Vec<Warning>,
    entries: HashMap<u64, NetnsId>,
    by_sockets: HashMap<u64, NetnsId>,
}

/// Why one namespace gave no table.
enum ReadError {
    /// Every process in it exited, or its bind mount went away: it is gone,
    /// and so are its sockets. Not worth a word.
    Vanished,
    Failed {
        path: String,
        error: String,
    },
}

/// What reading one namespace gave.
struct Read {
    sockets: Vec<Socket>,
    /// The inode of its `net/tcp` entry.
    entry: Option<u64>,
    /// Its sockets' [`same_sockets`], when its text tables were read.
    sockets_hash: Option<u64>,
    network: Network,
    warnings: Vec<Warning>,
}

impl Tables {
    /// Notes the `net/tcp` entry of a namespace whose table was not read
    /// (a watch took it from its last tick), so that hidden processes are
    /// placed in it, not read as a namespace of their own.
    pub fn note_entry(&mut self, proc: &ProcFs, ns: &Namespace) {
        if let Handle::Processes(pids) = &ns.handle {
            let entry = pids
                .iter()
                .find_map(|&pid| table_entry(&proc.pid_path(pid, "net/tcp")));
            self.entries.extend(entry.map(|entry| (entry, NetnsId::Inode(ns.inode))));
        }
    }
}

pub fn read_tables(proc: &ProcFs, namespaces: &[Namespace], how: How, threads: usize) -> Tables {
    let results = parallel::map(namespaces, threads, Vec::new, |buf, ns| {
        read_namespace(proc, ns, how, buf)
    });
    let mut tables = Tables {
        namespaces: Vec::with_capacity(results.len()),
        warnings: Vec::new(),
        entries: HashMap::new(),
        by_sockets: HashMap::new(),
    };
    for (result, ns) in results.into_iter().zip(namespaces) {
        let id = NetnsId::Inode(ns.inode);
        match result {
            Ok(read) => {
                let network = read.network;
                tables.namespaces.push(NetnsSnapshot {
                    sysctls: network.sysctls,
                    addresses: network.addresses,
                    conntrack: network.conntrack,
                    snat_flows: network.snat_flows,
                    nat_rules: network.nat_rules,
                    dnat_flows: network.dnat_flows,
                    ..NetnsSnapshot::new(id, read.sockets)
                });
                tables.entries.extend(read.entry.map(|entry| (entry, id)));
                tables.by_sockets.extend(read.sockets_hash.map(|hash| (hash, id)));
                tables.warnings.extend(network.warnings);
                tables.warnings.extend(read.warnings);
            }
            Err(ReadError::Vanished) => {}
            Err(ReadError::Failed { path, error }) => {
                let sockets = match &ns.handle {
                    Handle::Processes(pids) => pids
                        .iter()
                        .find_map(|&pid| counted_sockets(proc, pid, how.protocols)),
                    Handle::Mount(_) => None,
                };
                tables.warnings.push(Warning::NetnsUnreadable {
                    netns: Some(ns.inode),
                    path,
                    error,
                    pinned: matches!(ns.handle, Handle::Mount(_)),
                    sockets,
                })
            }
        }
    }
    tables
}

/// Processes whose namespace link could not be read (ptrace access denied)
/// still show their namespace's table through `/proc/<pid>/net/tcp`, and
/// that file's inode number is the namespace's own: the kernel registers the
/// `tcp` entry once per namespace, and stat needs no ptrace access. So a
/// hidden process joins the namespace whose `tcp` entry it shares, and the
/// rest are read once per such entry, as namespaces whose inode is unknown.
/// On a recorded tree (`live` false) the entries are plain files, all
/// different, so there processes whose tables list the same sockets are
/// one namespace.
pub fn place_hidden_processes(
    proc: &ProcFs,
    live: bool,
    processes: &mut [Process],
    tables: &mut Tables,
    how: How,
) {
    let mut buf = Vec::new();
    for process in processes.iter_mut() {
        let NetnsId::Hidden(pid) = process.netns else {
            continue;
        };
        let Some(entry) = table_entry(&proc.pid_path(pid, "net/tcp")) else {
            continue;
        };
        if let Some(&netns) = tables.entries.get(&entry) {
            process.netns = netns;
            continue;
        }
        let net = proc.pid_path(pid, "net");
        let mut sockets = Vec::new();
        let mut warnings = Vec::new();
        let read = read_text_tables(
            &net,
            None,
            Wanted::unknown(how),
            how.states,
            &mut buf,
            &mut sockets,
            &mut warnings,
        );
        let hash = match read {
            Ok(()) => same_sockets(&sockets),
            Err(ReadError::Vanished) => continue,
            Err(ReadError::Failed { path, error }) => {
                tables.warnings.push(Warning::NetnsUnreadable {
                    netns: None,
                    path,
                    error,
                    pinned: false,
                    sockets: None,
                });
                continue;
            }
        };
        if !live {
            if let Some(&netns) = tables.by_sockets.get(&hash) {
                process.netns = netns;
                continue;
            }
            tables.by_sockets.insert(hash, process.netns);
        }
        tables.entries.insert(entry, process.netns);
        tables.warnings.extend(warnings);
        tables
            .namespaces
            .push(NetnsSnapshot::new(process.netns, sockets));
    }
}

/// What tells two reads of one namespace's tables from reads of two: the
/// sockets they list, whatever their order and their timers (a recorded
/// tree's tables were read at different moments, so their timers differ).
fn same_sockets(sockets: &[Socket]) -> u64 {
    sockets.iter().fold(sockets.len() as u64, |sum, s| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (s.proto, s.local, s.local_port, s.remote, s.remote_port, s.state, s.inode).hash(&mut hasher);
        sum.wrapping_add(hasher.finish())
    })
}

/// The inode of a namespace's `net/tcp` entry, which names the namespace.
fn table_entry(tcp: &Path) -> Option<u64> {
    std::fs::metadata(tcp).ok().map(|m| m.ino())
}

fn read_namespace(
    proc: &ProcFs,
    ns: &Namespace,
    how: How,
    buf: &mut Vec<u8>,
) -> Result<Read, ReadError> {
    let mut read = Read {
        sockets: Vec::new(),
        entry: None,
        sockets_hash: None,
        network: Network::default(),
        warnings: Vec::new(),
    };
    let netns = Some(ns.inode);
    match &ns.handle {
        Handle::Processes(pids) => {
            let mut failure = ReadError::Vanished;
            for &pid in pids {
                let result = read_through_process(proc, pid, netns, how, buf, &mut read);
                // The process must still be in the namespace after the read:
                // one that exited or moved (setns, pid reuse) gives way to
                // the next, and its sockets are not this namespace's.
                let stayed = proc.netns(pid).ok() == Some(ns.inode);
                match result {
                    Ok(()) if stayed => {
                        read.entry = table_entry(&proc.pid_path(pid, "net/tcp"));
                        return Ok(read);
                    }
                    Ok(()) | Err(ReadError::Vanished) => {}
                    // Another process of the namespace may still answer:
                    // one unreadable table must not hide the namespace.
                    Err(err) => failure = err,
                }
                read.sockets.clear();
                read.warnings.clear();
                read.network = Network::default();
            }
            Err(failure)
        }
        Handle::Mount(ns_file) => {
            let failed = |error: String| ReadError::Failed {
                path: ns_file.shown.display().to_string(),
                error,
            };
            let inside = netns_enter::in_netns(&ns_file.path, || {
                // After setns only this thread is in the namespace: its
                // files are under /proc/thread-self, not /proc/self.
                let entered = std::fs::metadata("/proc/thread-self/ns/net")
                    .map_err(|err| failed(format!("/proc/thread-self/ns/net: {err}")))?;
                if entered.ino() != ns.inode {
                    return Err(failed("the bind mount now holds another namespace".into()));
                }
                let mut left = Wanted::unknown(how);
                if how.reader == TableReader::Netlink {
                    left = dump_or_note(left, how.states, &mut read.sockets, &mut read.warnings);
                }
                let net = Path::new("/proc/thread-self/net");
                read_text_tables(
                    net,
                    netns,
                    left,
                    how.states,
                    buf,
                    &mut read.sockets,
                    &mut read.warnings,
                )?;
                read.network = network::read_inside(netns, how.network);
                read.entry = table_entry(Path::new("/proc/thread-self/net/tcp"));
                Ok(())
            });
            match inside {
                Ok(Ok(())) => Ok(read),
                Ok(Err(err)) => Err(err),
                Err(netns_enter::EnterError::Open { source, .. })
                    if source.kind() == io::ErrorKind::NotFound =>
                {
                    Err(ReadError::Vanished)
                }
                Err(err) => Err(failed(err.to_string())),
            }
        }
    }
}

/// Reads a namespace through one of its processes: by netlink inside it
/// when that is the reader, else, or where entering fails (no
/// CAP_SYS_ADMIN) or a dump fails, by the process's text tables, which need
/// no entering.
fn read_through_process(
    proc: &ProcFs,
    pid: u32,
    netns: Option<u64>,
    how: How,
    buf: &mut Vec<u8>,
    read: &mut Read,
) -> Result<(), ReadError> {
    let wanted = wanted_tables(proc, pid, how, buf);
    let netlink = how.reader == TableReader::Netlink && wanted.any();
    let network = how.network != network::Parts::None;
    let mut left = wanted;
    if netlink || network {
        let entered = netns_enter::in_netns(&proc.pid_path(pid, "ns/net"), || {
            let left = if netlink {
                dump_or_note(wanted, how.states, &mut read.sockets, &mut read.warnings)
            } else {
                wanted
            };
            (left, network::read_inside(netns, how.network))
        });
        match entered {
            Ok((not_dumped, read_network)) => {
                read.network = read_network;
                left = not_dumped;
            }
            Err(err) if network => read.network = network_outside(proc, pid, netns, &err),
            Err(_) => {}
        }
    }
    if !left.any() {
        return Ok(());
    }
    read_text_tables(
        &proc.pid_path(pid, "net"),
        netns,
        left,
        how.states,
        buf,
        &mut read.sockets,
        &mut read.warnings,
    )?;
    read.sockets_hash = Some(same_sockets(&read.sockets));
    Ok(())
}

/// What can be had of a namespace's network without entering it: its
/// conntrack counters, which any of its processes shows.
fn network_outside(proc: &ProcFs, pid: u32, netns: Option<u64>, entering: &netns_enter::EnterError) -> Network {
    let mut network = Network::default();
    network.warnings.push(Warning::NetworkUnreadable {
        netns,
        what: NetworkPart::Inside,
        error: entering.to_string(),
    });
    match network::read_conntrack_stats(&proc.pid_path(pid, "net/stat/nf_conntrack")) {
        Ok(stats) => network.conntrack = stats,
        Err(error) => network.warnings.push(Warning::NetworkUnreadable {
            netns,
            what: NetworkPart::ConntrackCounters,
            error,
        }),
    }
    network
}

/// Which of a namespace's tables a read wants: TCP's (both families from
/// one dump or two text files), and UDP's per family, each dumped on its
/// own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wanted {
    tcp: bool,
    udp: bool,
    udp6: bool,
}

impl Wanted {
    /// Every table of the protocols asked for, where no counter says which
    /// hold sockets.
    fn unknown(how: How) -> Wanted {
        let udp = how.protocols.udp && how.states.intersects(StateSet::UDP);
        Wanted {
            tcp: how.protocols.tcp,
            udp,
            udp6: udp,
        }
    }

    fn any(self) -> bool {
        self.tcp || self.udp || self.udp6
    }
}

/// Dumps the wanted tables of the calling thread's namespace by netlink;
/// gives back those it could not dump, each failure noted, for the caller
/// to read as text. A failed dump leaves `out` as it was.
fn dump_or_note(
    wanted: Wanted,
    states: StateSet,
    out: &mut Vec<Socket>,
    warnings: &mut Vec<Warning>,
) -> Wanted {
    let mut note = |result: Result<(), NetlinkError>| match result {
        Ok(()) => false,
        Err(err) => {
            warnings.push(Warning::NetlinkFallback {
                error: err.to_string(),
            });
            true
        }
    };
    Wanted {
        tcp: wanted.tcp && note(sock_diag::dump_tcp(states, out)),
        udp: wanted.udp && note(sock_diag::dump_udp(false, states, out)),
        udp6: wanted.udp6 && note(sock_diag::dump_udp(true, states, out)),
    }
}

/// The wanted text tables of one namespace's `net` directory: `tcp` and
/// `tcp6` for TCP, `udp` and `udp6` per family. Bad lines are skipped one
/// by one and counted in a warning.
fn read_text_tables(
    net: &Path,
    netns: Option<u64>,
    wanted: Wanted,
    states: StateSet,
    buf: &mut Vec<u8>,
    out: &mut Vec<Socket>,
    warnings: &mut Vec<Warning>,
) -> Result<(), ReadError> {
    let tables = [
        ("tcp", Proto::Tcp, wanted.tcp),
        ("tcp6", Proto::Tcp6, wanted.tcp),
        ("udp", Proto::Udp, wanted.udp),
        ("udp6", Proto::Udp6, wanted.udp6),
    ];
    for (file, proto, _) in tables.into_iter().filter(|(_, _, wanted)| *wanted) {
        let path = net.join(file);
        match files::read_path(&path, Cap::SOCKET_TABLE, buf) {
            Ok(()) => {}
            // A kernel without IPv6 has no tcp6 or udp6.
            Err(err) if err.kind() == io::ErrorKind::NotFound && proto.is_ipv6() => continue,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(ReadError::Vanished),
            Err(err) => {
                return Err(ReadError::Failed {
                    path: path.display().to_string(),
                    error: err.to_string(),
                })
            }
        }
        if let Some(bad) = proc_net::parse_table(buf, proto, states, out) {
            warnings.push(Warning::TableLinesSkipped {
                netns,
                path: path.display().to_string(),
                first_line: bad.first_line as u64,
                lines: bad.count as u64,
            });
        }
    }
    Ok(())
}

/// The tables of the namespace of `pid` that may hold a socket the read
/// wants, by the namespace's counters (all of the protocols asked for
/// where they cannot be read): each table read walks every socket of the
/// node in its hash, so one its counters show empty is not read.
fn wanted_tables(proc: &ProcFs, pid: u32, how: How, buf: &mut Vec<u8>) -> Wanted {
    let all = Wanted::unknown(how);
    let Some(counters) = read_counters(proc, pid, buf) else {
        return all;
    };
    Wanted {
        tcp: all.tcp && counters.tcp.as_ref().map_or(true, |c| tcp_may_hold(c, how.states)),
        udp: all.udp && counters.udp.as_ref().map_or(true, |c| c.ipv4 > 0),
        udp6: all.udp6 && counters.udp.as_ref().map_or(true, |c| c.ipv6 > 0),
    }
}

/// False when TCP's counters show no socket in the wanted states. Request
/// sockets (SYN_RECV) are not counted, but need a listener, which is. The
/// `tw` counter holds every timewait socket, and an orphan past FIN_WAIT2
/// is one too, shown in that state.
fn tcp_may_hold(counts: &sockstat::TcpCounts, states: StateSet) -> bool {
    let timewait = TcpState::TimeWait.bit() | TcpState::FinWait2.bit();
    (counts.in_use > 0 && states.0 & !TcpState::TimeWait.bit() != 0)
        || (counts.time_wait > 0 && states.0 & timewait != 0)
}

/// How many sockets of the protocols asked for the namespace of `pid`
/// holds, by its counters.
fn counted_sockets(proc: &ProcFs, pid: u32, protocols: Protocols) -> Option<u64> {
    let counters = read_counters(proc, pid, &mut Vec::new())?;
    let tcp = match (protocols.has(Transport::Tcp), counters.tcp) {
        (false, _) => 0,
        (true, Some(c)) => c.in_use.checked_add(c.time_wait)?,
        (true, None) => return None,
    };
    let udp = match (protocols.has(Transport::Udp), counters.udp) {
        (false, _) => 0,
        (true, Some(c)) => c.ipv4.checked_add(c.ipv6)?,
        (true, None) => return None,
    };
    tcp.checked_add(udp)
}

/// A namespace's counters, each None where its lines are missing.
struct Counters {
    tcp: Option<sockstat::TcpCounts>,
    udp: Option<sockstat::UdpCounts>,
}

fn read_counters(proc: &ProcFs, pid: u32, buf: &mut Vec<u8>) -> Option<Counters> {
    let mut sockstat6 = Vec::new();
    proc.read(pid, "net/sockstat", Cap::SOCKSTAT, buf)
        .and_then(|()| proc.read(pid, "net/sockstat6", Cap::SOCKSTAT, &mut sockstat6))
        .ok()?;
    Some(Counters {
        tcp: sockstat::tcp_counts(buf, &sockstat6),
        udp: sockstat::udp_counts(buf, &sockstat6),
    })
}
