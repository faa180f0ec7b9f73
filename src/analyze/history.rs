//! Who made each socket, for `--watch`, where one snapshot cannot tell:
//!
//! - a full socket whose process could not be read (no CAP_SYS_PTRACE) or
//!   was not looked up (collect/carry.rs) still names its container by its
//!   cgroup v2 id, fixed when it was created (`attribution: "cgroup"`);
//! - a TIME_WAIT has no process and no cgroup, but keeps the cookie of the
//!   socket it was (ports.md §2.3): a socket seen held by a process keeps
//!   that process's container and pid after it closes
//!   (`attribution: "history"`).
//!
//! The memory of a socket ends with it: when its namespace is read and it
//! is not there, or, for a namespace not read, when its TIME_WAIT would
//! have ended; so it never holds more than the node's sockets and those
//! closing. A connection shorter than a tick, never seen alive, stays with
//! its namespace's owner: nothing carries its container.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::attribute::{cgroup_identity, Attributed, Attribution, Owner};
use crate::model::{NetnsId, Proto, Runtime, Snapshot, Socket, TcpState, Timer};

/// TCP_TIMEWAIT_LEN: a TIME_WAIT lasts 60 s, whatever the sysctls.
pub const TIME_WAIT_MS: u64 = 60_000;
/// How long a socket last seen alive is remembered when its namespace can
/// no longer be read: its FIN_WAIT2 may last `tcp_fin_timeout` (60 s by
/// default), and the TIME_WAIT after it 60 s more.
const CLOSING_MS: u64 = 2 * TIME_WAIT_MS;
/// Timers are read in milliseconds (sock_diag) or hundredths (text), some
/// milliseconds apart from the clock that times the read.
const TIMER_SLACK_MS: u64 = 1_000;

/// A socket, the same from tick to tick: its cookie where sock_diag gave
/// one (unique on the node for its life, and kept by its TIME_WAIT), else
/// its namespace and 4-tuple, which the text tables give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketKey {
    Cookie(u64),
    Tuple(NetnsId, Proto, IpAddr, u16, IpAddr, u16),
}

impl SocketKey {
    pub fn of(netns: NetnsId, s: &Socket) -> SocketKey {
        match s.cookie {
            0 => SocketKey::Tuple(
                netns,
                s.proto,
                s.local,
                s.local_port,
                s.remote,
                s.remote_port,
            ),
            cookie => SocketKey::Cookie(cookie),
        }
    }
}

/// Closed as far as its connection goes: a TIME_WAIT, or a FIN_WAIT2 that
/// only a timewait socket still holds (its timer is the timewait one).
pub fn is_closed(s: &Socket) -> bool {
    s.state == TcpState::TimeWait || s.timer == Timer::TimeWait
}

/// When a closed socket read at `read_ms` ends at the latest: its timer,
/// and for a FIN_WAIT2 a whole TIME_WAIT after it.
fn closed_until(s: &Socket, read_ms: u64) -> u64 {
    let left = read_ms + u64::from(s.expires_ms);
    match s.state {
        TcpState::FinWait2 => left + TIME_WAIT_MS,
        _ => left,
    }
}

/// Whether `now` is the socket `before` was, `elapsed_ms` later, given the
/// same key: always for a cookie; for a 4-tuple of the text tables, unless
/// the two cannot be one socket — two files, a connection where a
/// TIME_WAIT was, or a TIME_WAIT that ends later than the one before did
/// (the tuple was used again).
pub fn continues(before: &Socket, now: &Socket, elapsed_ms: u64) -> bool {
    if before.cookie != 0 {
        return before.cookie == now.cookie;
    }
    match (is_closed(before), is_closed(now)) {
        (false, false) => before.inode == now.inode || before.inode == 0 || now.inode == 0,
        (false, true) => true,
        (true, false) => false,
        (true, true) => {
            // A FIN_WAIT2 timewait socket that gets its FIN starts a whole TIME_WAIT.
            (before.state == TcpState::FinWait2 && now.state == TcpState::TimeWait)
                || closed_until(now, elapsed_ms) <= closed_until(before, 0) + TIMER_SLACK_MS
        }
    }
}

/// An owner remembered past the snapshot it was found in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Remembered {
    namespace: Option<String>,
    pod: Option<String>,
    container: Option<String>,
    container_id: Option<String>,
    runtime: Option<Runtime>,
}

struct Entry {
    netns: NetnsId,
    /// Index into [`History::owners`].
    owner: u32,
    pid: Option<u32>,
    /// When its TIME_WAIT ends, once it is seen closed.
    closed_until_ms: Option<u64>,
    /// When to forget it if it is not seen again.
    forget_at_ms: u64,
    /// The read it was last seen in.
    seen_ms: u64,
}

#[derive(Default)]
pub struct History {
    entries: HashMap<SocketKey, Entry>,
    owners: Vec<Remembered>,
    interned: HashMap<Remembered, u32>,
}

/// When a namespace was read: at its counters, else at the snapshot.
pub fn read_ms(snapshot: &Snapshot, counters_ms: Option<u64>) -> u64 {
    counters_ms.unwrap_or(snapshot.taken.boottime_ms)
}

impl History {
    /// How many sockets it remembers.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Learns from a tick: the owners found by process or cgroup, the
    /// TIME_WAITs of sockets it knows, and which sockets are gone.
    /// `attributed` is the tick's attribution before history is applied.
    pub fn learn(&mut self, snapshot: &Snapshot, attributed: &Attributed<'_>) {
        let stamp = snapshot.taken.boottime_ms;
        let read_at: HashMap<NetnsId, u64> = snapshot
            .namespaces
            .iter()
            .map(|ns| (ns.id, read_ms(snapshot, ns.counters.map(|c| c.read_ms))))
            .collect();
        // Many sockets share an owner: each is interned once per tick.
        let mut interned: Vec<Option<u32>> = vec![None; attributed.owners.len()];
        for row in &attributed.rows {
            let socket = row.socket;
            let key = SocketKey::of(row.netns, socket);
            let at = read_at.get(&row.netns).copied().unwrap_or(stamp);
            let owner = attributed.owner(row);
            if matches!(
                owner.attribution,
                Attribution::Process | Attribution::Cgroup
            ) && !is_closed(socket)
            {
                let owner_index = match interned[row.owner as usize] {
                    Some(index) => index,
                    None => {
                        let index = self.intern(owner);
                        interned[row.owner as usize] = Some(index);
                        index
                    }
                };
                self.entries.insert(
                    key,
                    Entry {
                        netns: row.netns,
                        owner: owner_index,
                        pid: owner.pid,
                        closed_until_ms: None,
                        forget_at_ms: at + CLOSING_MS,
                        seen_ms: stamp,
                    },
                );
                continue;
            }
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            if is_closed(socket) {
                let until = closed_until(socket, at);
                // Only a 4-tuple can be used again; a cookie never is.
                let reused = matches!(key, SocketKey::Tuple(..))
                    && entry
                        .closed_until_ms
                        .is_some_and(|before| until > before + TIMER_SLACK_MS);
                if reused {
                    self.entries.remove(&key);
                    continue;
                }
                entry.closed_until_ms = Some(until);
                entry.forget_at_ms = until;
            } else {
                entry.forget_at_ms = at + CLOSING_MS;
            }
            entry.seen_ms = stamp;
        }
        let read: HashSet<NetnsId> = read_at.keys().copied().collect();
        self.entries.retain(|_, e| {
            e.seen_ms == stamp || (!read.contains(&e.netns) && e.forget_at_ms >= stamp)
        });
        self.compact();
    }

    fn intern(&mut self, owner: &Owner<'_>) -> u32 {
        let text = |v: Option<&str>| v.map(str::to_owned);
        let remembered = Remembered {
            namespace: text(owner.namespace),
            pod: text(owner.pod),
            container: text(owner.container),
            container_id: text(owner.container_id),
            runtime: owner.runtime,
        };
        if let Some(&index) = self.interned.get(&remembered) {
            return index;
        }
        let index = self.owners.len() as u32;
        self.owners.push(remembered.clone());
        self.interned.insert(remembered, index);
        index
    }

    /// Drops owners no entry names any more, once they are most of the
    /// table: containers come and go over a long watch.
    fn compact(&mut self) {
        let used: HashSet<u32> = self.entries.values().map(|e| e.owner).collect();
        if self.owners.len() < 64 || used.len() * 2 > self.owners.len() {
            return;
        }
        let mut renumbered = HashMap::new();
        let mut owners = Vec::with_capacity(used.len());
        for (index, owner) in std::mem::take(&mut self.owners).into_iter().enumerate() {
            if used.contains(&(index as u32)) {
                renumbered.insert(index as u32, owners.len() as u32);
                owners.push(owner);
            }
        }
        for entry in self.entries.values_mut() {
            entry.owner = renumbered[&entry.owner];
        }
        self.interned = owners.iter().cloned().zip(0..).collect();
        self.owners = owners;
    }

    fn owner_of(&self, key: &SocketKey) -> Option<Owner<'_>> {
        let entry = self.entries.get(key)?;
        let owner = &self.owners[entry.owner as usize];
        Some(Owner {
            namespace: owner.namespace.as_deref(),
            pod: owner.pod.as_deref(),
            container: owner.container.as_deref(),
            container_id: owner.container_id.as_deref(),
            runtime: owner.runtime,
            pid: entry.pid,
            process: None,
            attribution: Attribution::History,
        })
    }
}

/// Sockets no process was found for whose cgroup names their container.
pub fn owners_by_cgroup<'a>(attributed: &mut Attributed<'a>, snapshot: &'a Snapshot) {
    let mut added: HashMap<u64, u32> = HashMap::new();
    let Attributed { owners, rows, .. } = attributed;
    for row in rows.iter_mut() {
        if owners[row.owner as usize].attribution == Attribution::Process {
            continue;
        }
        let id = row.socket.cgroup_id;
        let Some(dir) = snapshot.cgroup_dirs.get(&id) else {
            continue;
        };
        row.owner = *added.entry(id).or_insert_with(|| {
            owners.push(Owner {
                attribution: Attribution::Cgroup,
                ..cgroup_identity(snapshot, dir)
            });
            (owners.len() - 1) as u32
        });
    }
}

/// Sockets no process or cgroup names, that were seen held by a process.
pub fn owners_by_history<'a>(attributed: &mut Attributed<'a>, history: &'a History) {
    let mut added: HashMap<(u32, Option<u32>), u32> = HashMap::new();
    let Attributed { owners, rows, .. } = attributed;
    for row in rows.iter_mut() {
        if matches!(
            owners[row.owner as usize].attribution,
            Attribution::Process | Attribution::Cgroup
        ) {
            continue;
        }
        let key = SocketKey::of(row.netns, row.socket);
        let Some(entry) = history.entries.get(&key) else {
            continue;
        };
        let slot = (entry.owner, entry.pid);
        row.owner = *added.entry(slot).or_insert_with(|| {
            owners.extend(history.owner_of(&key));
            (owners.len() - 1) as u32
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribute::attribute;
    use crate::model::{testing, CgroupRef, ContainerInfo, PodInfo, SocketOwners, TcpCounters};

    const NS: u64 = 4026532001;
    const APP: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn pod_catalog(snapshot: &mut Snapshot) {
        snapshot.catalog.add_container(ContainerInfo {
            name: Some("client".into()),
            pod: Some(PodInfo {
                namespace: "shop".into(),
                name: "cart-0".into(),
                uid: None,
            }),
            ..ContainerInfo::unnamed(APP.into())
        });
    }

    fn connection(port: u16, cookie: u64, state: TcpState, inode: u64, expires_ms: u32) -> Socket {
        Socket {
            cookie,
            timer: if state == TcpState::TimeWait {
                Timer::TimeWait
            } else {
                Timer::None
            },
            expires_ms,
            ..testing::socket(
                &format!("198.18.0.2:{port}"),
                "198.18.1.2:8080",
                state,
                inode,
            )
        }
    }

    /// A tick at `at_ms` of one namespace holding `sockets`; inode 11 is
    /// held by pid 100 of the app container.
    fn tick(at_ms: u64, sockets: Vec<Socket>) -> Snapshot {
        let mut snapshot = testing::snapshot();
        snapshot.taken.boottime_ms = at_ms;
        pod_catalog(&mut snapshot);
        snapshot.processes.push(crate::model::Process {
            pid: 100,
            comm: "client".into(),
            netns: NetnsId::Inode(NS),
            cgroup: Some(CgroupRef {
                container_id: Some(APP.into()),
                ..CgroupRef::default()
            }),
            fds_unread: false,
        });
        snapshot.socket_owners = SocketOwners(HashMap::from([(11, 100)]));
        snapshot.namespaces.push(crate::model::NetnsSnapshot {
            counters: Some(TcpCounters {
                read_ms: at_ms,
                ..TcpCounters::default()
            }),
            ..testing::netns(NS, sockets)
        });
        snapshot
    }

    /// Learns from the tick and returns each socket's (attribution, container, pid).
    fn watch(
        history: &mut History,
        snapshot: &Snapshot,
    ) -> Vec<(&'static str, Option<String>, Option<u32>)> {
        let mut attributed = attribute(snapshot);
        owners_by_cgroup(&mut attributed, snapshot);
        history.learn(snapshot, &attributed);
        owners_by_history(&mut attributed, history);
        attributed
            .rows
            .iter()
            .map(|row| {
                let o = attributed.owner(row);
                (o.attribution.name(), o.container.map(str::to_owned), o.pid)
            })
            .collect()
    }

    #[test]
    fn a_time_wait_keeps_the_container_and_pid_that_held_it() {
        let mut history = History::default();
        let alive = connection(40000, 77, TcpState::Established, 11, 0);
        let rows = watch(&mut history, &tick(1_000, vec![alive]));
        assert_eq!(rows, vec![("process", Some("client".into()), Some(100))]);
        // It closed; a short connection (never seen alive) closed too.
        let closed = connection(40000, 77, TcpState::TimeWait, 0, 59_000);
        let short = connection(40001, 78, TcpState::TimeWait, 0, 59_500);
        let rows = watch(&mut history, &tick(3_000, vec![closed, short]));
        assert_eq!(
            rows,
            vec![
                ("history", Some("client".into()), Some(100)),
                ("netns", None, None)
            ]
        );
    }

    #[test]
    fn memory_lasts_as_long_as_the_time_wait_can() {
        let mut history = History::default();
        watch(
            &mut history,
            &tick(
                1_000,
                vec![connection(40000, 77, TcpState::Established, 11, 0)],
            ),
        );
        watch(
            &mut history,
            &tick(
                3_000,
                vec![connection(40000, 77, TcpState::TimeWait, 0, 59_000)],
            ),
        );
        assert_eq!(history.len(), 1);
        // Its namespace cannot be read for a while: remembered until its
        // TIME_WAIT would end, at 3 s + 59 s.
        let mut unread = tick(61_000, vec![]);
        unread.namespaces.clear();
        history.learn(&unread, &attribute(&unread));
        assert_eq!(history.len(), 1);
        unread.taken.boottime_ms = 62_001;
        history.learn(&unread, &attribute(&unread));
        assert_eq!(history.len(), 0);
    }

    #[test]
    fn a_socket_gone_from_a_namespace_that_was_read_is_forgotten_at_once() {
        let mut history = History::default();
        watch(
            &mut history,
            &tick(
                1_000,
                vec![connection(40000, 77, TcpState::Established, 11, 0)],
            ),
        );
        assert_eq!(history.len(), 1);
        // Reset: no TIME_WAIT, nothing to remember.
        watch(&mut history, &tick(3_000, vec![]));
        assert_eq!(history.len(), 0);
    }

    #[test]
    fn a_socket_unseen_while_its_namespace_is_unread_is_kept_for_its_closing_only() {
        let mut history = History::default();
        watch(
            &mut history,
            &tick(
                1_000,
                vec![connection(40000, 77, TcpState::Established, 11, 0)],
            ),
        );
        let mut unread = tick(1_000 + CLOSING_MS, vec![]);
        unread.namespaces.clear();
        history.learn(&unread, &attribute(&unread));
        assert_eq!(history.len(), 1);
        unread.taken.boottime_ms += 1;
        history.learn(&unread, &attribute(&unread));
        assert_eq!(history.len(), 0);
    }

    #[test]
    fn a_four_tuple_used_again_is_a_new_socket() {
        // Text tables: no cookies. The held socket's TIME_WAIT, then a new
        // TIME_WAIT on the same 4-tuple, which ends later than the first.
        let mut history = History::default();
        watch(
            &mut history,
            &tick(
                1_000,
                vec![connection(40000, 0, TcpState::Established, 11, 0)],
            ),
        );
        let rows = watch(
            &mut history,
            &tick(
                3_000,
                vec![connection(40000, 0, TcpState::TimeWait, 0, 2_000)],
            ),
        );
        assert_eq!(rows[0].0, "history");
        let rows = watch(
            &mut history,
            &tick(
                5_000,
                vec![connection(40000, 0, TcpState::TimeWait, 0, 59_000)],
            ),
        );
        assert_eq!(rows[0].0, "netns");
    }

    #[test]
    fn a_cgroup_names_the_container_where_no_process_was_found() {
        let mut snapshot = tick(
            1_000,
            vec![Socket {
                cgroup_id: 9001,
                ..connection(40002, 79, TcpState::Established, 12, 0)
            }],
        );
        snapshot.cgroup_dirs.insert(
            9001,
            CgroupRef {
                container_id: Some(APP.into()),
                ..CgroupRef::default()
            },
        );
        let mut history = History::default();
        let rows = watch(&mut history, &snapshot);
        assert_eq!(rows, vec![("cgroup", Some("client".into()), None)]);
        // Its TIME_WAIT is the container's too.
        let rows = watch(
            &mut history,
            &tick(
                3_000,
                vec![connection(40002, 79, TcpState::TimeWait, 0, 59_000)],
            ),
        );
        assert_eq!(rows, vec![("history", Some("client".into()), None)]);
    }

    #[test]
    fn continuity_of_text_table_sockets() {
        let held = connection(40000, 0, TcpState::Established, 11, 0);
        let tw = |expires| connection(40000, 0, TcpState::TimeWait, 0, expires);
        assert!(continues(&held, &tw(59_000), 2_000));
        assert!(!continues(&tw(59_000), &held, 2_000));
        assert!(continues(&tw(59_000), &tw(57_000), 2_000));
        assert!(!continues(&tw(30_000), &tw(59_000), 2_000));
        let other_file = connection(40000, 0, TcpState::Established, 12, 0);
        assert!(!continues(&held, &other_file, 2_000));
        let orphan = connection(40000, 0, TcpState::FinWait1, 0, 0);
        assert!(continues(&held, &orphan, 2_000));
        let cookie = |c| connection(40000, c, TcpState::Established, 11, 0);
        assert!(continues(&cookie(5), &cookie(5), 2_000));
        assert!(!continues(&cookie(5), &cookie(6), 2_000));
    }
}
