//! The snapshot's warnings as lines for a person: one line each, a few per
//! run, each saying what the user loses in sockets. A pure function of the
//! snapshot, so a recording prints the same warnings as the run that made it.

use std::collections::{BTreeMap, HashMap};

use super::attribute::{Attributed, Attribution};
use crate::model::{Collector, NetnsId, NetworkPart, Runtime, Snapshot, Warning};

/// How many unreadable runtime files are named one by one.
const RUNTIME_FILES_SHOWN: usize = 3;

pub fn describe(snapshot: &Snapshot, attributed: &Attributed<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut unreadable_netns = Vec::new();
    let mut skipped_lines: Option<(u64, &str, u64)> = None;
    let mut runtime_files = 0;
    let mut process_files: Vec<(u32, &str, &str)> = Vec::new();
    let mut network: BTreeMap<NetworkPart, Vec<(Option<u64>, &str)>> = BTreeMap::new();
    let mut no_counters: Vec<(Option<u64>, &str)> = Vec::new();
    let mut netlink_failures: Vec<&str> = Vec::new();
    for warning in snapshot.warnings.iter() {
        match warning {
            Warning::NetlinkFallback { error } => netlink_failures.push(error),
            Warning::NetnsUnreadable { .. } => unreadable_netns.push(warning),
            Warning::TableLinesSkipped {
                path,
                first_line,
                lines: count,
                ..
            } => {
                let (total, _, _) = skipped_lines.get_or_insert((0, path, *first_line));
                *total += count;
            }
            Warning::PinnedUnlisted { path, error } => lines.push(format!(
                "{path}: {error}; network namespaces that only a bind mount holds (CRI-O pods \
                 without an infra process, leaked CNI namespaces) are not listed, nor their sockets"
            )),
            Warning::ProcessesUnreadable {
                ns_links,
                fd_tables,
                processes,
                first,
            } => lines.extend(unreadable_processes(
                snapshot, attributed, *ns_links, *fd_tables, *processes, first,
            )),
            Warning::ProcessFile { pid, path, problem } => process_files.push((*pid, path, problem)),
            Warning::NetworkUnreadable { netns, what, error } => {
                network.entry(*what).or_default().push((*netns, error))
            }
            Warning::CountersUnreadable { netns, error } => no_counters.push((*netns, error)),
            Warning::Kube { source, error } => {
                let at = source.as_deref().map_or(String::new(), |s| format!("{s}: "));
                lines.push(format!(
                    "--kube: {at}{error}; remote pods, Services and nodes not on this node are \
                     shown by address only{}",
                    unnamed_remotes(attributed)
                ));
            }
            Warning::Docker { error } => {
                let unnamed = count_rows(attributed, |o| {
                    o.runtime == Some(Runtime::Docker) && o.container.is_none()
                });
                lines.push(format!(
                    "docker: {error}; Docker containers are shown by id only ({})",
                    sockets(unnamed, "without a name")
                ));
            }
            Warning::RuntimeFile {
                path,
                problem,
                container_id,
            } => {
                runtime_files += 1;
                if runtime_files > RUNTIME_FILES_SHOWN {
                    continue;
                }
                let unnamed = container_id.as_deref().map(|id| {
                    let count = count_rows(attributed, |o| {
                        o.container_id == Some(id) && o.container.is_none()
                    });
                    (count, short(id))
                });
                let loss = match unnamed {
                    Some((0, _)) => String::new(),
                    Some((count, id)) => {
                        format!("; {} of container {id}", sockets(count, "without a name"))
                    }
                    None => "; containers it describes may be shown by id only".into(),
                };
                let at = if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}: ")
                };
                lines.push(format!("{at}{problem}{loss}"));
            }
        }
    }
    // One line however many dumps failed: TCP's and each UDP family's fail
    // the same way where netlink does, each with its own request's name.
    if let Some(first) = netlink_failures.first() {
        let more = match netlink_failures.len() - 1 {
            0 => String::new(),
            n => format!(", and {}", count(n as u64, "other dump", "other dumps")),
        };
        lines.insert(
            0,
            format!(
                "sock_diag netlink failed ({first}{more}); the /proc text tables were read \
                 instead, so nothing is missing"
            ),
        );
    }
    match runtime_files.saturating_sub(RUNTIME_FILES_SHOWN) {
        0 => {}
        1 => lines.push("1 more runtime file could not be read or parsed".into()),
        more => lines.push(format!("{more} more runtime files could not be read or parsed")),
    }
    if let Some(&(_, path, problem)) = process_files.first() {
        let pids: std::collections::HashSet<u32> = process_files.iter().map(|(pid, _, _)| *pid).collect();
        let held = count_rows(attributed, |o| o.pid.is_some_and(|pid| pids.contains(&pid)));
        lines.push(format!(
            "{} process files are not what procfs has there and were skipped (first: {path}: \
             {problem}): those processes hold {}",
            process_files.len(),
            sockets(held, "that may show no container or process name")
        ));
    }
    if let Some((total, path, first_line)) = skipped_lines {
        let what = if total == 1 {
            "1 line of socket tables is not a socket and was skipped".to_owned()
        } else {
            format!("{total} lines of socket tables are not sockets and were skipped")
        };
        lines.push(format!(
            "{what}: {} (first: {path} line {first_line})",
            sockets(total, "missing")
        ));
    }
    lines.extend(unreadable_namespaces(snapshot, &unreadable_netns));
    if let Some(&(netns, error)) = no_counters.first() {
        let which = match (no_counters.len(), netns) {
            (1, Some(inode)) => format!("network namespace {inode}"),
            (1, None) => "a network namespace".to_owned(),
            (n, _) => format!("{n} network namespaces"),
        };
        let first = if no_counters.len() == 1 { "" } else { "first: " };
        lines.push(format!(
            "the TCP counters of {which} could not be read ({first}{error}): their rates are \
             unknown, and their tables are read again every tick"
        ));
    }
    // Where the conntrack table could not be read there are no SNAT
    // budgets, so their NAT rules' ranges are not missed.
    let no_table: Vec<Option<u64>> = network
        .get(&NetworkPart::ConntrackTable)
        .map_or(Vec::new(), |list| list.iter().map(|(netns, _)| *netns).collect());
    if let Some(rules) = network.get_mut(&NetworkPart::NatRules) {
        rules.retain(|(netns, _)| !no_table.contains(netns));
    }
    for (part, namespaces) in &network {
        if !namespaces.is_empty() {
            lines.push(unreadable_network(snapshot, *part, namespaces));
        }
    }
    lines
}

/// What `--ports` loses where a part of a namespace's network could not be
/// read: budget rows, or a number in them.
fn unreadable_network(
    snapshot: &Snapshot,
    part: NetworkPart,
    namespaces: &[(Option<u64>, &str)],
) -> String {
    let (first_netns, first_error) = namespaces[0];
    let which = match (namespaces.len(), first_netns) {
        (1, Some(inode)) => format!("network namespace {inode}"),
        (1, None) => "a network namespace".to_owned(),
        (n, _) => format!("{n} network namespaces"),
    };
    let unread_entries: u64 = namespaces
        .iter()
        .filter_map(|(netns, _)| {
            let ns = snapshot.namespaces.iter().find(|ns| ns.id.inode() == *netns)?;
            ns.conntrack.map(|stats| stats.entries)
        })
        .sum();
    let collector = &snapshot.collector;
    let (loss, capability) = match part {
        NetworkPart::PortSysctls => (
            "--ports shows their connect() budgets with available unknown".to_owned(),
            None,
        ),
        NetworkPart::Addresses => (
            "their addresses do not name their pods as remote ends or as SNAT sources".to_owned(),
            None,
        ),
        NetworkPart::ConntrackCounters => (
            "their conntrack counters and SNAT budgets are missing".to_owned(),
            None,
        ),
        NetworkPart::ConntrackTable => (
            format!(
                "Service addresses they translated are not followed to their backends and \
                 their SNAT budgets are missing ({} unread)",
                count(unread_entries, "conntrack entry", "conntrack entries")
            ),
            Some((Collector::CAP_NET_ADMIN, "CAP_NET_ADMIN")),
        ),
        NetworkPart::NatRules => (
            "their SNAT budgets take the kernel's default port range, 1024-65535 for \
             unprivileged ports, as available"
                .to_owned(),
            Some((Collector::CAP_NET_ADMIN, "CAP_NET_ADMIN")),
        ),
        NetworkPart::LegacyNatRules => (
            "SNAT budgets that no nftables rule states a range for take the kernel's default \
             port range, 1024-65535 for unprivileged ports, as available"
                .to_owned(),
            None,
        ),
        NetworkPart::Inside => (
            "their connect() budgets show available unknown and their SNAT budgets are missing"
                .to_owned(),
            Some((Collector::CAP_SYS_ADMIN, "CAP_SYS_ADMIN")),
        ),
    };
    let advice = match capability {
        Some((cap, name)) if !collector.has_capability(cap) => {
            format!("; run as root with {name}")
        }
        _ => String::new(),
    };
    let first = if namespaces.len() == 1 {
        first_error.to_owned()
    } else {
        format!("first: {first_error}")
    };
    format!(
        "the {} of {which} could not be read ({first}): {loss}{advice}",
        part.name()
    )
}

fn unreadable_processes(
    snapshot: &Snapshot,
    attributed: &Attributed<'_>,
    ns_links: u32,
    fd_tables: u32,
    processes: u32,
    first: &str,
) -> Option<String> {
    // A socket with an inode is held by some process, or by the kernel
    // (attribute.rs says where it can tell); shown without either, its
    // process could not be read (or exited in the instant between the
    // table and the fd scan, which is rare).
    let ownerless = attributed
        .rows
        .iter()
        .filter(|r| {
            r.socket.inode != 0
                && matches!(
                    attributed.owner(r).attribution,
                    Attribution::Netns | Attribution::None
                )
        })
        .count() as u64;
    let hidden = attributed
        .rows
        .iter()
        .filter(|r| matches!(r.netns, NetnsId::Hidden(_)))
        .count() as u64;
    if ownerless == 0 && hidden == 0 {
        return None;
    }
    let mut losses = Vec::new();
    if ownerless > 0 {
        losses.push(sockets(ownerless, "with no process"));
    }
    if hidden > 0 {
        losses.push(sockets(hidden, "with no namespace inode"));
    }
    let advice = if snapshot.collector.has_capability(Collector::CAP_SYS_PTRACE) {
        "cnetstat had CAP_SYS_PTRACE, so these processes are beyond it (another user \
         namespace, or a capability it lacks, as PID 1 of a sandbox)"
    } else {
        "run as root with CAP_SYS_PTRACE (sudo, or kubectl debug --profile=sysadmin)"
    };
    Some(format!(
        "could not read the open files of {fd_tables} and the namespace link of {ns_links} of \
         {processes} processes (first: {first}): {}. {advice}",
        losses.join(", ")
    ))
}

fn unreadable_namespaces(snapshot: &Snapshot, warnings: &[&Warning]) -> Option<String> {
    let mut counted = 0u64;
    let mut uncounted = 0;
    let mut pinned = 0;
    for warning in warnings {
        if let Warning::NetnsUnreadable {
            sockets, pinned: p, ..
        } = warning
        {
            match sockets {
                Some(n) => counted += n,
                None => uncounted += 1,
            }
            pinned += usize::from(*p);
        }
    }
    let Some(Warning::NetnsUnreadable {
        netns, path, error, ..
    }) = warnings.first()
    else {
        return None;
    };
    let which = match (warnings.len(), netns) {
        (1, Some(inode)) => {
            format!("network namespace {inode} could not be read ({path}: {error})")
        }
        (1, None) => format!("a network namespace could not be read ({path}: {error})"),
        (n, _) => format!("{n} network namespaces could not be read (first: {path}: {error})"),
    };
    let mut loss = match (counted, uncounted) {
        (0, _) => "their sockets are missing (how many is unknown)".to_owned(),
        (n, 0) => format!("{} (by their counters)", sockets(n, "missing")),
        (n, _) => format!(
            "{} (by their counters), and those of {uncounted} more whose count is unknown",
            sockets(n, "missing")
        ),
    };
    let hidden_processes = snapshot
        .processes
        .iter()
        .any(|p| matches!(p.netns, NetnsId::Hidden(_)));
    if pinned > 0 && hidden_processes {
        // A process whose namespace link is hidden may be in a pinned
        // namespace; its table was read through that process.
        loss.push_str(
            ", unless among those listed with netns null (read through processes whose \
             namespace link could not be read)",
        );
    }
    Some(format!("{which}: {loss}"))
}

/// ` (N sockets to addresses nothing names)`, or nothing where none are.
fn unnamed_remotes(attributed: &Attributed<'_>) -> String {
    let unnamed = attributed
        .rows
        .iter()
        .filter(|row| {
            let remote = row.socket.remote;
            attributed.remote(row).name.is_none()
                && !remote.is_unspecified()
                && !remote.is_loopback()
        })
        .count() as u64;
    match unnamed {
        0 => String::new(),
        n => format!(" ({})", sockets(n, "to addresses nothing names")),
    }
}

fn count_rows(
    attributed: &Attributed<'_>,
    wanted: impl Fn(&super::attribute::Owner<'_>) -> bool,
) -> u64 {
    let matching: HashMap<u32, bool> = attributed
        .owners
        .iter()
        .enumerate()
        .map(|(i, o)| (i as u32, wanted(o)))
        .collect();
    attributed
        .rows
        .iter()
        .filter(|r| matching[&r.owner])
        .count() as u64
}

/// `1 socket …` or `12 sockets …`; `what` must read the same after both.
fn sockets(n: u64, what: &str) -> String {
    format!("{} {what}", count(n, "socket", "sockets"))
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribute::attribute;
    use crate::model::{testing, ConntrackStats, NetnsSnapshot, Process, TcpState};

    #[test]
    fn the_kernels_sockets_are_not_counted_as_sockets_with_no_process() {
        let mut snapshot = testing::snapshot();
        snapshot.host_netns = Some(1);
        let vxlan = testing::udp_socket("0.0.0.0:4789", "0.0.0.0:0", TcpState::Close, 7);
        let unread = testing::socket("10.0.0.1:40000", "10.0.0.9:443", TcpState::Established, 8);
        snapshot.namespaces.push(testing::netns(1, vec![unread]));
        snapshot.namespaces.push(testing::netns(2, vec![vxlan]));
        // PID 1, in the host's namespace, could not be read: the host's
        // socket may be its; the other namespace's is the kernel's.
        snapshot.processes.push(Process {
            pid: 1,
            comm: "init".into(),
            netns: NetnsId::Inode(1),
            cgroup: None,
            fds_unread: true,
        });
        snapshot.warnings.push(Warning::ProcessesUnreadable {
            ns_links: 0,
            fd_tables: 1,
            processes: 1,
            first: "/proc/1/fd: Permission denied (os error 13)".into(),
        });
        let attributed = attribute(&snapshot);
        let lines = describe(&snapshot, &attributed);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains(": 1 socket with no process."),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn unread_counters_say_the_rates_are_lost() {
        let mut snapshot = testing::snapshot();
        for inode in [4026532001, 4026532002] {
            snapshot.warnings.push(Warning::CountersUnreadable {
                netns: Some(inode),
                error: format!("/proc/{inode}/net/snmp: Permission denied"),
            });
        }
        let attributed = attribute(&snapshot);
        assert_eq!(
            describe(&snapshot, &attributed),
            vec![
                "the TCP counters of 2 network namespaces could not be read (first: \
                 /proc/4026532001/net/snmp: Permission denied): their rates are unknown, and \
                 their tables are read again every tick"
            ]
        );
    }

    #[test]
    fn unread_network_parts_say_what_port_budgets_lose_and_which_capability_to_add() {
        let mut snapshot = testing::snapshot();
        snapshot.collector.cap_eff = Some(!(1 << Collector::CAP_NET_ADMIN));
        for (inode, entries) in [(4026532001, 5_000), (4026532002, 7)] {
            snapshot.namespaces.push(NetnsSnapshot {
                conntrack: Some(ConntrackStats {
                    entries,
                    ..ConntrackStats::default()
                }),
                ..testing::netns(inode, vec![])
            });
            snapshot.warnings.push(Warning::NetworkUnreadable {
                netns: Some(inode),
                what: NetworkPart::ConntrackTable,
                error: "ctnetlink dump: Operation not permitted (os error 1)".into(),
            });
        }
        snapshot.warnings.push(Warning::NetworkUnreadable {
            netns: Some(4026532003),
            what: NetworkPart::PortSysctls,
            error: "/proc/sys/net/ipv4/ip_local_port_range: Permission denied".into(),
        });
        let attributed = attribute(&snapshot);
        assert_eq!(
            describe(&snapshot, &attributed),
            vec![
                "the port sysctls of network namespace 4026532003 could not be read \
                 (/proc/sys/net/ipv4/ip_local_port_range: Permission denied): --ports shows \
                 their connect() budgets with available unknown",
                "the conntrack table of 2 network namespaces could not be read (first: \
                 ctnetlink dump: Operation not permitted (os error 1)): Service addresses they \
                 translated are not followed to their backends and their SNAT budgets are \
                 missing (5007 conntrack entries unread); run as root with CAP_NET_ADMIN",
            ]
        );
    }
}
