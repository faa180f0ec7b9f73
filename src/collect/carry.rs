//! What a watch's tick takes from the last one instead of reading it again
//! (design.md, "Watch"): every walk of a namespace's table walks the node's
//! whole socket hash, and every fd scan reads every process's links, so a
//! tick reads a table only where the namespace's counters moved, and looks
//! up only the owners of sockets that are new and whose cgroup does not
//! already name their container.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::namespaces::{Handle, Namespace};
use super::network::Parts;
use crate::model::{
    CgroupRef, NetnsId, NetnsSnapshot, Process, Snapshot, Socket, TcpCounters, Timer,
};

/// A timer never fires before its time, but the kernel's clock and the
/// one the counters were timed by differ by a few milliseconds: a
/// TIME_WAIT this close to its end may or may not be gone.
const EXPIRY_SLACK_MS: u64 = 50;

/// The namespaces whose table is taken from `previous` (with their new
/// counters), and those to read. With `hidden` processes about, only
/// namespaces held by processes are taken: a hidden process is placed by
/// the `net/tcp` entry of its namespace, which a namespace only a bind
/// mount holds shows only from inside.
pub fn split(
    found: &[Namespace],
    counters: &[Option<TcpCounters>],
    previous: &Snapshot,
    network: Parts,
    hidden: bool,
) -> (Vec<(Namespace, NetnsSnapshot)>, Vec<Namespace>) {
    let before: HashMap<u64, &NetnsSnapshot> = previous
        .namespaces
        .iter()
        .filter_map(|ns| Some((ns.id.inode()?, ns)))
        .collect();
    let mut carried = Vec::new();
    let mut to_read = Vec::new();
    for (ns, now) in found.iter().zip(counters) {
        let takeable = !hidden || matches!(ns.handle, Handle::Processes(_));
        let kept = now
            .filter(|_| takeable)
            .and_then(|now| carried_table(before.get(&ns.inode)?, now, network));
        match kept {
            Some(kept) => carried.push((ns.clone(), kept)),
            None => to_read.push(ns.clone()),
        }
    }
    (carried, to_read)
}

/// The namespace as it is now without walking its table, when its counters
/// show that nothing happened since `previous` was read but TIME_WAITs
/// expiring: `previous`'s table, less the TIME_WAITs whose time is up —
/// exactly as many as the counters say are gone — with every timer moved
/// on. None when that cannot be told exactly, and the table must be read:
/// a counter moved, some TIME_WAITs at their end are gone and some not, or
/// (where `network` parts are read) the namespace holds conntrack entries,
/// which forwarded traffic changes without moving its TCP counters.
pub fn carried_table(
    previous: &NetnsSnapshot,
    now: TcpCounters,
    network: Parts,
) -> Option<NetnsSnapshot> {
    let before = previous.counters?;
    if !now.only_time_waits_expired_since(&before) {
        return None;
    }
    if network != Parts::None && previous.conntrack.is_some_and(|stats| stats.entries > 0) {
        return None;
    }
    let elapsed = now.read_ms.saturating_sub(before.read_ms);
    let timewait = |s: &Socket| s.timer == Timer::TimeWait;
    let due = |s: &Socket| timewait(s) && u64::from(s.expires_ms) <= elapsed + EXPIRY_SLACK_MS;
    let waiting = previous.sockets.iter().filter(|s| timewait(s)).count() as u64;
    let due_count = previous.sockets.iter().filter(|s| due(s)).count() as u64;
    let gone = waiting.checked_sub(now.time_wait)?;
    let drop_due = match gone {
        0 => false,
        n if n == due_count => true,
        _ => return None,
    };
    let sockets = previous
        .sockets
        .iter()
        .filter(|s| !(drop_due && due(s)))
        .map(|s| Socket {
            expires_ms: s
                .expires_ms
                .saturating_sub(u32::try_from(elapsed).unwrap_or(u32::MAX)),
            ..*s
        })
        .collect();
    Some(NetnsSnapshot {
        sockets,
        counters: Some(now),
        ..previous.clone()
    })
}

/// Gives each namespace read this tick the counters read for it: those of
/// the namespace `found` with the same inode (`counters` is in `found`'s
/// order, of which only some were read).
pub fn attach_counters(
    namespaces: &mut [NetnsSnapshot],
    found: &[Namespace],
    counters: &[Option<TcpCounters>],
) {
    let by_inode: HashMap<u64, TcpCounters> = found
        .iter()
        .zip(counters)
        .filter_map(|(ns, counters)| Some((ns.inode, (*counters)?)))
        .collect();
    for ns in namespaces {
        ns.counters = ns
            .id
            .inode()
            .and_then(|inode| by_inode.get(&inode).copied());
    }
}

/// Whether a socket's cgroup id names its container: then no process need
/// be looked up for it. 0 is no id (the text tables, TIME_WAIT); 1, the
/// root, names nothing.
pub fn cgroup_names_container(dirs: &BTreeMap<u64, CgroupRef>, cgroup_id: u64) -> bool {
    dirs.get(&cgroup_id)
        .is_some_and(|dir| dir.container_id.is_some())
}

/// The owners the last tick found for sockets still wanted, whose process
/// is still there; those are taken out of `wanted`.
pub fn known_owners(
    previous: &Snapshot,
    processes: &[Process],
    wanted: &mut HashSet<u64>,
) -> HashMap<u64, u32> {
    let alive = |pid: &u32| processes.binary_search_by_key(pid, |p| p.pid).is_ok();
    let known: HashMap<u64, u32> = wanted
        .iter()
        .filter_map(|inode| {
            let pid = previous.socket_owners.0.get(inode)?;
            alive(pid).then_some((*inode, *pid))
        })
        .collect();
    wanted.retain(|inode| !known.contains_key(inode));
    known
}

/// The processes that may hold the `wanted` sockets: those in the
/// namespaces the sockets are in (and those whose namespace is unknown).
/// A socket held only by a process that has since moved to another
/// namespace is not found this way, and shows its namespace's owner.
pub fn holders_to_scan(
    namespaces: &[NetnsSnapshot],
    processes: &[Process],
    wanted: &HashSet<u64>,
) -> Vec<u32> {
    let holding: HashSet<NetnsId> = namespaces
        .iter()
        .filter(|ns| ns.sockets.iter().any(|s| wanted.contains(&s.inode)))
        .map(|ns| ns.id)
        .collect();
    processes
        .iter()
        .filter(|p| matches!(p.netns, NetnsId::Hidden(_)) || holding.contains(&p.netns))
        .map(|p| p.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, TcpState};

    fn time_wait(port: u16, expires_ms: u32) -> Socket {
        Socket {
            timer: Timer::TimeWait,
            expires_ms,
            ..testing::socket(
                &format!("10.0.0.1:{port}"),
                "10.0.0.9:443",
                TcpState::TimeWait,
                0,
            )
        }
    }

    fn counters(read_ms: u64, time_wait: u64) -> TcpCounters {
        TcpCounters {
            read_ms,
            active_opens: 10,
            in_segs: 100,
            out_segs: 100,
            in_use: 1,
            time_wait,
            ..TcpCounters::default()
        }
    }

    fn namespace() -> NetnsSnapshot {
        let held = Socket {
            timer: Timer::Keepalive,
            expires_ms: 7_000,
            ..testing::socket("10.0.0.1:40000", "10.0.0.9:443", TcpState::Established, 5)
        };
        NetnsSnapshot {
            counters: Some(counters(10_000, 3)),
            ..testing::netns(
                7,
                vec![
                    held,
                    time_wait(40001, 1_500),
                    time_wait(40002, 1_990),
                    time_wait(40003, 30_000),
                ],
            )
        }
    }

    #[test]
    fn a_still_namespace_keeps_its_table_with_its_timers_moved_on() {
        // 1 s later, nothing expired yet, nothing moved.
        let kept = carried_table(&namespace(), counters(11_000, 3), Parts::None).unwrap();
        let expiries: Vec<u32> = kept.sockets.iter().map(|s| s.expires_ms).collect();
        assert_eq!(expiries, vec![6_000, 500, 990, 29_000]);
        assert_eq!(kept.counters, Some(counters(11_000, 3)));
    }

    #[test]
    fn time_waits_past_their_end_go_when_the_counter_says_all_of_them_went() {
        // 2 s later: the first two were due (1.5 s and 1.99 s), and the
        // counter went from 3 to 1.
        let kept = carried_table(&namespace(), counters(12_000, 1), Parts::None).unwrap();
        let ports: Vec<u16> = kept.sockets.iter().map(|s| s.local_port).collect();
        assert_eq!(ports, vec![40000, 40003]);
        assert_eq!(kept.sockets[1].expires_ms, 28_000);
        // Both due and none gone yet (a timer fires late): kept, at 0.
        let kept = carried_table(&namespace(), counters(12_000, 3), Parts::None).unwrap();
        assert_eq!(kept.sockets.len(), 4);
        assert_eq!(kept.sockets[1].expires_ms, 0);
    }

    #[test]
    fn anything_that_cannot_be_told_exactly_is_read_again() {
        // One of the two due TIME_WAITs is gone: which one is unknown.
        assert_eq!(
            carried_table(&namespace(), counters(12_000, 2), Parts::None),
            None
        );
        // More gone than were due.
        assert_eq!(
            carried_table(&namespace(), counters(11_000, 1), Parts::None),
            None
        );
        // More TIME_WAITs than before, a segment, a connection.
        assert_eq!(
            carried_table(&namespace(), counters(11_000, 4), Parts::None),
            None
        );
        let moved = TcpCounters {
            in_segs: 101,
            ..counters(11_000, 3)
        };
        assert_eq!(carried_table(&namespace(), moved, Parts::None), None);
        // No counters last time (a namespace new to the watch).
        let unknown = NetnsSnapshot {
            counters: None,
            ..namespace()
        };
        assert_eq!(
            carried_table(&unknown, counters(11_000, 3), Parts::None),
            None
        );
        // Conntrack entries change without the TCP counters.
        let nat = NetnsSnapshot {
            conntrack: Some(crate::model::ConntrackStats {
                entries: 5,
                ..Default::default()
            }),
            ..namespace()
        };
        assert_eq!(
            carried_table(&nat, counters(11_000, 3), Parts::Everything),
            None
        );
        assert!(carried_table(&nat, counters(11_000, 3), Parts::None).is_some());
    }

    #[test]
    fn counters_go_to_the_namespace_they_were_read_in() {
        // Three found, the middle one carried: the two read get their own.
        let found: Vec<Namespace> = (1..=3)
            .map(|inode| Namespace {
                inode,
                handle: Handle::Processes(vec![inode as u32]),
            })
            .collect();
        let counters: Vec<Option<TcpCounters>> =
            (1..=3).map(|n| Some(counters(n * 1_000, 0))).collect();
        let mut read = vec![testing::netns(3, vec![]), testing::netns(1, vec![])];
        attach_counters(&mut read, &found, &counters);
        assert_eq!(read[0].counters.map(|c| c.read_ms), Some(3_000));
        assert_eq!(read[1].counters.map(|c| c.read_ms), Some(1_000));
    }

    #[test]
    fn owners_known_last_tick_are_kept_while_their_process_lives() {
        let mut previous = testing::snapshot();
        previous
            .socket_owners
            .0
            .extend([(100, 7), (101, 8), (102, 9)]);
        let process = |pid| Process {
            pid,
            comm: "app".into(),
            netns: NetnsId::Inode(1),
            cgroup: None,
            fds_unread: false,
        };
        let processes = vec![process(7), process(9)];
        let mut wanted = HashSet::from([100, 101, 103]);
        let known = known_owners(&previous, &processes, &mut wanted);
        assert_eq!(known, HashMap::from([(100, 7)]));
        // 101's process exited; 103 is new.
        assert_eq!(wanted, HashSet::from([101, 103]));
    }

    #[test]
    fn only_processes_of_namespaces_holding_wanted_sockets_are_scanned() {
        let namespaces = vec![
            testing::netns(
                1,
                vec![testing::socket(
                    "10.0.0.1:1",
                    "10.0.0.2:2",
                    TcpState::Established,
                    100,
                )],
            ),
            testing::netns(
                2,
                vec![testing::socket(
                    "10.0.0.1:1",
                    "10.0.0.2:2",
                    TcpState::Established,
                    200,
                )],
            ),
        ];
        let process = |pid, netns| Process {
            pid,
            comm: "app".into(),
            netns,
            cgroup: None,
            fds_unread: false,
        };
        let processes = vec![
            process(10, NetnsId::Inode(1)),
            process(20, NetnsId::Inode(2)),
            process(30, NetnsId::Hidden(30)),
        ];
        assert_eq!(
            holders_to_scan(&namespaces, &processes, &HashSet::from([200])),
            vec![20, 30]
        );
    }
}
