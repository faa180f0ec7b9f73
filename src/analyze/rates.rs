//! `--watch`: connections per second, from two consecutive snapshots, per
//! namespace, owner, direction and destination (design.md, "Watch").
//!
//! - Exact per namespace: its counters (`ActiveOpens`, `PassiveOpens`,
//!   `AttemptFails`) count every connection, however short, and are divided
//!   by the time between the namespace's own two reads.
//! - Per destination: the sockets new since the last snapshot (a cookie not
//!   seen before; with the text tables, a 4-tuple whose socket does not
//!   continue one seen before), new TIME_WAITs of connections shorter than
//!   the tick included, fitted so that a namespace's rows add up to its
//!   counter: connections no socket showed (closed by a reset, or, accepted
//!   ones, closed first by the client, which leaves no TIME_WAIT here) were
//!   short, so they are shared among its destinations as the connections
//!   shorter than the tick that were seen (new and closed already) were;
//!   where none was seen, they go to the namespace's only listening port
//!   (accepted ones, when it has one), else to a row of their own whose
//!   destination is unknown.
//! - Closed: sockets gone or turned TIME_WAIT since the last snapshot, new
//!   TIME_WAITs included, and the connections no socket showed, which are
//!   gone by now too.
//!
//! A namespace seen for the first time has no rates yet; nor has one whose
//! counters went back (a pod's namespace gone and another made with the
//! same inode: counters start at zero).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::attribute::{namespace_owner, Attributed, Attribution, Owner, Row};
use super::direction::{Direction, Listening};
use super::filter::{unmapped, Filter};
use super::history::{continues, is_closed, SocketKey};
use super::order::natural;
use super::summary::{Field, Grouping, Key};
use crate::model::{
    NetnsId, NetnsSnapshot, Proto, Snapshot, Socket, TcpCounters, TcpState, Transport,
};

/// Where a row's connections go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum End {
    /// An outbound socket's destination.
    Remote(IpAddr, u16),
    /// An inbound socket's listening port.
    Listening(u16),
    /// Connections the namespace's counters count and no socket showed.
    Unseen,
}

/// One row: its owner, direction and destination, and what its sockets did.
/// A field is `Several` only in rows merged by `--by`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rate<'a> {
    pub netns: Field<NetnsId>,
    pub namespace: Field<&'a str>,
    pub pod: Field<&'a str>,
    pub container: Field<&'a str>,
    /// The id of a container known only by it.
    pub container_id: Field<&'a str>,
    pub attribution: Field<Attribution>,
    pub proto: Field<Proto>,
    pub direction: Field<Direction>,
    pub end: Field<End>,
    /// None where the namespace has no rates this tick.
    pub new_per_s: Option<f64>,
    pub closed_per_s: Option<f64>,
    /// The namespace's failed connection attempts, on the rows that name
    /// no container: only the namespace counts them.
    pub failed_per_s: Option<f64>,
    pub established: u64,
    pub time_wait: u64,
    /// The time between the namespace's two reads.
    pub interval_ms: Field<u64>,
}

/// The whole node, from the counters of the namespaces that have rates.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeRates {
    pub opened_per_s: f64,
    pub accepted_per_s: f64,
    pub failed_per_s: f64,
    pub resets_per_s: f64,
    pub time_waits_per_s: f64,
    pub established: u64,
    pub time_wait: u64,
    /// Namespaces without rates this tick (new, or counters unreadable).
    pub without_rates: usize,
}

/// A connect() budget's key in `--ports`: namespace, source, destination
/// and its port, v4-mapped addresses as IPv4.
pub type BudgetKey = (NetnsId, IpAddr, IpAddr, u16);

pub struct Tick<'a> {
    /// Largest new rate first.
    pub rows: Vec<Rate<'a>>,
    pub node: NodeRates,
    /// New connections per second to each connect() budget's destination.
    pub per_budget: HashMap<BudgetKey, f64>,
    /// The namespaces that have rates this tick, and their intervals.
    pub intervals: HashMap<NetnsId, u64>,
}

/// One snapshot and its owners (attribute.rs, then history.rs).
pub struct Side<'a> {
    pub snapshot: &'a Snapshot,
    pub attributed: &'a Attributed<'a>,
}

/// The rows of the tick from `before` to `now`. `filter` picks sockets
/// (its states are not used: a row counts every state of its sockets).
pub fn rates<'a>(
    before: &Side<'a>,
    now: &Side<'a>,
    filter: &Filter,
    grouping: Grouping,
) -> Tick<'a> {
    let mut owners = OwnerTable::default();
    let mut ours = |attributed: &Attributed<'a>| -> Vec<u32> {
        attributed
            .owners
            .iter()
            .map(|owner| owners.intern(RowOwner::of(owner)))
            .collect()
    };
    let (before_owners, now_owners) = (ours(before.attributed), ours(now.attributed));
    let mut tick = Ticking {
        before,
        now,
        filter,
        owners,
        before_owners,
        now_owners,
        slots: HashMap::new(),
        node: NodeRates::default(),
        per_budget: HashMap::new(),
        intervals: HashMap::new(),
        before_rows: rows_by_netns(before.attributed),
        listening_before: Listening::of(before.snapshot),
        listening_now: Listening::of(now.snapshot),
    };
    let before_ns: HashMap<NetnsId, &NetnsSnapshot> = before
        .snapshot
        .namespaces
        .iter()
        .map(|ns| (ns.id, ns))
        .collect();
    let now_rows = rows_by_netns(now.attributed);
    let taken_ms = now
        .snapshot
        .taken
        .boottime_ms
        .saturating_sub(before.snapshot.taken.boottime_ms);
    for ns in &now.snapshot.namespaces {
        let rows = now_rows
            .get(&ns.id)
            .map_or(&[][..], |r| &now.attributed.rows[r.clone()]);
        let previous = before_ns.get(&ns.id).copied();
        tick.namespace(ns, previous, rows, Span::between(previous, ns, taken_ms));
    }
    let rows = tick.owners.rows(tick.slots);
    Tick {
        rows: group(rows, grouping),
        node: tick.node,
        per_budget: tick.per_budget,
        intervals: tick.intervals,
    }
}

/// The tick under way.
struct Ticking<'t, 'a> {
    before: &'t Side<'a>,
    now: &'t Side<'a>,
    filter: &'t Filter,
    owners: OwnerTable<'a>,
    /// Each side's owner index → ours.
    before_owners: Vec<u32>,
    now_owners: Vec<u32>,
    slots: HashMap<Slot, Tally>,
    node: NodeRates,
    per_budget: HashMap<BudgetKey, f64>,
    intervals: HashMap<NetnsId, u64>,
    before_rows: HashMap<NetnsId, std::ops::Range<usize>>,
    listening_before: Listening,
    listening_now: Listening,
}

impl<'a> Ticking<'_, 'a> {
    fn namespace(
        &mut self,
        ns: &NetnsSnapshot,
        previous: Option<&NetnsSnapshot>,
        rows: &[Row<'a>],
        span: Span,
    ) {
        // What it holds now, whatever its rates.
        let mut seen: Vec<(&Row<'a>, Direction, Option<Slot>)> = Vec::with_capacity(rows.len());
        for row in rows.iter().filter(|row| is_connection(row.socket)) {
            let s = row.socket;
            self.node.established += u64::from(s.state == TcpState::Established);
            self.node.time_wait += u64::from(s.state == TcpState::TimeWait);
            let direction = self.listening_now.direction(row.netns, s);
            let kept = self.filter.keeps(self.now.attributed, row);
            let slot = kept.then(|| slot(self.now_owners[row.owner as usize], row, direction));
            if let Some(slot) = slot {
                let tally = self
                    .slots
                    .entry(slot)
                    .or_insert_with(|| Tally::new(span.interval()));
                tally.established += u64::from(s.state == TcpState::Established);
                tally.time_wait += u64::from(s.state == TcpState::TimeWait);
            }
            seen.push((row, direction, slot));
        }
        let (Span::Known { interval_ms, delta }, Some(_)) = (span, previous) else {
            self.node.without_rates += 1;
            return;
        };
        self.intervals.insert(ns.id, interval_ms);
        let mut touched: HashSet<Slot> = seen.iter().filter_map(|(_, _, slot)| *slot).collect();
        // Nothing but TIME_WAITs expiring: nothing new, nothing closed.
        let observed = match delta {
            Some(d) if d.still => Observed::default(),
            _ => self.changes(ns.id, &seen, interval_ms, &mut touched),
        };
        let seconds = interval_ms as f64 / 1000.0;
        let counted = |direction: Direction| {
            delta.map(|d| match direction {
                Direction::Out => d.active_opens,
                Direction::In => d.passive_opens,
            })
        };
        let fits = [
            Fit::of(counted(Direction::Out), &observed, Direction::Out),
            Fit::of(counted(Direction::In), &observed, Direction::In),
        ];
        let out = &fits[Direction::Out as usize];
        for (key, (new, short)) in observed.budgets {
            self.per_budget.insert(key, out.new(new, short) / seconds);
        }
        let failed = delta.map(|d| d.attempt_fails as f64 / seconds);
        if let Some(d) = delta {
            self.node.opened_per_s += d.active_opens as f64 / seconds;
            self.node.accepted_per_s += d.passive_opens as f64 / seconds;
            self.node.failed_per_s += d.attempt_fails as f64 / seconds;
            self.node.resets_per_s += d.estab_resets as f64 / seconds;
            self.node.time_waits_per_s += d.time_waits_entered as f64 / seconds;
        }
        let owner = namespace_owner(self.now.snapshot, ns.id).unwrap_or(Owner::NONE);
        let namespace_level = self.owners.intern(RowOwner::of(&owner));
        let mut failed_shown = false;
        for slot in &touched {
            let Some(tally) = self.slots.get_mut(slot) else {
                continue;
            };
            let fit = &fits[slot.direction as usize];
            let shared = fit.share(tally.new_closed);
            tally.rates = Some((
                fit.new(tally.new, tally.new_closed) / seconds,
                (tally.closed as f64 + shared) / seconds,
            ));
            if self
                .owners
                .names_only_the_namespace(slot.owner, namespace_level)
            {
                tally.failed = failed;
                failed_shown = true;
            }
        }
        // Counted connections no socket showed, where no short connection
        // was seen to share them among, and failures where no row stands
        // for the namespace: accepted ones on the namespace's one listening
        // port, if it has one; else rows of their own, destination unknown.
        let filter = self.filter;
        let any_end = filter.remote.is_none() && filter.local.is_none() && filter.port.is_none();
        for direction in [Direction::Out, Direction::In] {
            let unshared = fits[direction as usize].unshared();
            let failures =
                direction == Direction::Out && !failed_shown && failed.is_some_and(|f| f > 0.0);
            if unshared == 0 && !failures {
                continue;
            }
            let listener = match direction {
                Direction::In => sole_listener(rows),
                Direction::Out => None,
            };
            let slot = match listener {
                Some(row) if filter.keeps(self.now.attributed, row) => {
                    slot(self.now_owners[row.owner as usize], row, Direction::In)
                }
                None if any_end && filter.owner.matches(&owner) => Slot {
                    netns: ns.id,
                    owner: namespace_level,
                    proto: None,
                    direction,
                    end: End::Unseen,
                },
                _ => continue,
            };
            let rate = unshared as f64 / seconds;
            let names_namespace = self
                .owners
                .names_only_the_namespace(slot.owner, namespace_level);
            let tally = self
                .slots
                .entry(slot)
                .or_insert_with(|| Tally::new(Some(interval_ms)));
            let (new, closed) = tally.rates.unwrap_or((0.0, 0.0));
            tally.rates = Some((new + rate, closed + rate));
            if names_namespace || failures {
                tally.failed = failed;
            }
        }
    }

    /// Counts the sockets of the namespace new or closed since the last
    /// snapshot into their rows (adding rows of gone sockets to
    /// `touched`); returns what was seen new, by direction and budget.
    fn changes(
        &mut self,
        netns: NetnsId,
        seen: &[(&Row<'a>, Direction, Option<Slot>)],
        interval_ms: u64,
        touched: &mut HashSet<Slot>,
    ) -> Observed {
        let before = self.before;
        let before_rows = self
            .before_rows
            .get(&netns)
            .map_or(&[][..], |r| &before.attributed.rows[r.clone()]);
        let before_by_key: HashMap<SocketKey, &Socket> = before_rows
            .iter()
            .filter(|row| is_connection(row.socket))
            .map(|row| (SocketKey::of(row.netns, row.socket), row.socket))
            .collect();
        let mut observed = Observed::default();
        let mut now_by_key: HashMap<SocketKey, &Socket> = HashMap::with_capacity(seen.len());
        for &(row, direction, slot) in seen {
            let s = row.socket;
            let key = SocketKey::of(row.netns, s);
            now_by_key.insert(key, s);
            let earlier = before_by_key
                .get(&key)
                .filter(|p| continues(p, s, interval_ms));
            let (new, closed) = match earlier {
                Some(p) => (false, !is_closed(p) && is_closed(s)),
                None => (true, is_closed(s)),
            };
            // New and closed already: a connection shorter than the tick.
            let short = new && closed;
            if new {
                observed.new[direction as usize] += 1;
                observed.short[direction as usize] += u64::from(short);
                if direction == Direction::Out {
                    let budget = (
                        row.netns,
                        unmapped(s.local),
                        unmapped(s.remote),
                        s.remote_port,
                    );
                    let counts = observed.budgets.entry(budget).or_default();
                    counts.0 += 1;
                    counts.1 += u64::from(short);
                }
            }
            if let Some(tally) = slot.and_then(|slot| self.slots.get_mut(&slot)) {
                tally.new += u64::from(new);
                tally.new_closed += u64::from(short);
                tally.closed += u64::from(closed);
            }
        }
        // Sockets gone are counted in the rows they were in.
        for row in before_rows {
            let p = row.socket;
            if !is_connection(p) || is_closed(p) {
                continue;
            }
            let key = SocketKey::of(row.netns, p);
            let continued = now_by_key
                .get(&key)
                .is_some_and(|s| continues(p, s, interval_ms));
            if continued || !self.filter.keeps(before.attributed, row) {
                continue;
            }
            let direction = self.listening_before.direction(row.netns, p);
            let slot = slot(self.before_owners[row.owner as usize], row, direction);
            touched.insert(slot);
            self.slots
                .entry(slot)
                .or_insert_with(|| Tally::new(Some(interval_ms)))
                .closed += 1;
        }
        observed
    }
}

/// The namespace's listener when it listens on one port only: every
/// connection it accepts is to that port.
fn sole_listener<'r, 'a>(rows: &'r [Row<'a>]) -> Option<&'r Row<'a>> {
    let mut listeners = rows
        .iter()
        .filter(|row| row.socket.state == TcpState::Listen);
    let first = listeners.next()?;
    listeners
        .all(|row| row.socket.local_port == first.socket.local_port)
        .then_some(first)
}

/// Sockets that are TCP connections (the counters' kind): not listeners,
/// bound-only sockets, or request sockets (a connection accepted is
/// counted once, as the socket it becomes).
fn is_connection(s: &Socket) -> bool {
    s.proto.transport() == Transport::Tcp
        && !matches!(
            s.state,
            TcpState::Listen | TcpState::Close | TcpState::SynRecv | TcpState::NewSynRecv
        )
}

/// The rows of each namespace: attribution lists them namespace by namespace.
fn rows_by_netns(attributed: &Attributed<'_>) -> HashMap<NetnsId, std::ops::Range<usize>> {
    let mut ranges: HashMap<NetnsId, std::ops::Range<usize>> = HashMap::new();
    for (index, row) in attributed.rows.iter().enumerate() {
        let range = ranges.entry(row.netns).or_insert(index..index);
        range.end = index + 1;
    }
    ranges
}

/// The counters' difference between two reads of one namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Delta {
    active_opens: u64,
    passive_opens: u64,
    attempt_fails: u64,
    estab_resets: u64,
    time_waits_entered: u64,
    /// Nothing moved but TIME_WAITs expiring.
    still: bool,
}

impl Delta {
    /// None when a counter went back: not the same namespace.
    fn between(before: &TcpCounters, now: &TcpCounters) -> Option<Delta> {
        Some(Delta {
            active_opens: now.active_opens.checked_sub(before.active_opens)?,
            passive_opens: now.passive_opens.checked_sub(before.passive_opens)?,
            attempt_fails: now.attempt_fails.checked_sub(before.attempt_fails)?,
            estab_resets: now.estab_resets.checked_sub(before.estab_resets)?,
            time_waits_entered: now
                .time_waits_entered
                .checked_sub(before.time_waits_entered)?,
            still: now.only_time_waits_expired_since(before),
        })
    }
}

/// How a namespace's rates are known this tick.
enum Span {
    /// Over `interval_ms`: exactly, with the counters' `delta`; from its
    /// sockets alone where a read of its counters is missing.
    Known {
        interval_ms: u64,
        delta: Option<Delta>,
    },
    /// New to the watch, or its counters went back: no rates yet.
    Unknown,
}

impl Span {
    fn between(before: Option<&NetnsSnapshot>, now: &NetnsSnapshot, taken_ms: u64) -> Span {
        let Some(before) = before else {
            return Span::Unknown;
        };
        match (before.counters, now.counters) {
            (Some(b), Some(n)) => match Delta::between(&b, &n) {
                Some(delta) if n.read_ms > b.read_ms => Span::Known {
                    interval_ms: n.read_ms - b.read_ms,
                    delta: Some(delta),
                },
                _ => Span::Unknown,
            },
            _ if taken_ms > 0 => Span::Known {
                interval_ms: taken_ms,
                delta: None,
            },
            _ => Span::Unknown,
        }
    }

    fn interval(&self) -> Option<u64> {
        match self {
            Span::Known { interval_ms, .. } => Some(*interval_ms),
            Span::Unknown => None,
        }
    }
}

/// A row before its numbers: namespace, owner, protocol, direction, end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Slot {
    netns: NetnsId,
    owner: u32,
    proto: Option<Proto>,
    direction: Direction,
    end: End,
}

/// What a namespace's sockets showed new since the last snapshot.
#[derive(Default)]
struct Observed {
    /// By direction.
    new: [u64; 2],
    /// Of those, connections shorter than the tick: closed already.
    short: [u64; 2],
    /// Outbound, by connect() budget: (new, short).
    budgets: HashMap<BudgetKey, (u64, u64)>,
}

/// How a direction's sockets seen new are fitted to its counter. The
/// connections counted that no socket showed were short (they are gone by
/// the tick), so they are shared among the rows as the short connections
/// seen were; with none seen they are left to a row of their own. Sockets
/// seen beyond the count (one connected between the counters' read and the
/// table's) are scaled down to it.
struct Fit {
    scale: f64,
    missed: u64,
    short: u64,
}

impl Fit {
    fn of(counted: Option<u64>, observed: &Observed, direction: Direction) -> Fit {
        let (seen, short) = (
            observed.new[direction as usize],
            observed.short[direction as usize],
        );
        match counted {
            Some(counted) if counted < seen => Fit {
                scale: counted as f64 / seen as f64,
                missed: 0,
                short,
            },
            Some(counted) => Fit {
                scale: 1.0,
                missed: counted - seen,
                short,
            },
            None => Fit {
                scale: 1.0,
                missed: 0,
                short,
            },
        }
    }

    /// A row's share of the missed connections, for its `short` ones seen.
    fn share(&self, short: u64) -> f64 {
        match self.short {
            0 => 0.0,
            all => self.missed as f64 * short as f64 / all as f64,
        }
    }

    /// A row's new connections, for its `new` sockets seen, `short` of them.
    fn new(&self, new: u64, short: u64) -> f64 {
        new as f64 * self.scale + self.share(short)
    }

    /// Missed connections no row takes: none short was seen.
    fn unshared(&self) -> u64 {
        if self.short == 0 {
            self.missed
        } else {
            0
        }
    }
}

struct Tally {
    /// Sockets observed; fitted into `rates` once the namespace is done.
    new: u64,
    /// Of those, already closed: connections shorter than the tick.
    new_closed: u64,
    closed: u64,
    /// (new, closed) per second.
    rates: Option<(f64, f64)>,
    failed: Option<f64>,
    established: u64,
    time_wait: u64,
    interval_ms: Option<u64>,
}

impl Tally {
    fn new(interval_ms: Option<u64>) -> Tally {
        Tally {
            new: 0,
            new_closed: 0,
            closed: 0,
            rates: None,
            failed: None,
            established: 0,
            time_wait: 0,
            interval_ms,
        }
    }
}

/// An owner as a row names it, the same whichever snapshot it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RowOwner<'a> {
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    container: Option<&'a str>,
    /// Only for a container without a name.
    container_id: Option<&'a str>,
    attribution: Attribution,
}

impl<'a> RowOwner<'a> {
    fn of(owner: &Owner<'a>) -> RowOwner<'a> {
        RowOwner {
            namespace: owner.namespace,
            pod: owner.pod,
            container: owner.container,
            container_id: owner.container_id.filter(|_| owner.container.is_none()),
            attribution: owner.attribution,
        }
    }
}

#[derive(Default)]
struct OwnerTable<'a> {
    owners: Vec<RowOwner<'a>>,
    index: HashMap<RowOwner<'a>, u32>,
}

/// The row a socket counts in, given its owner's index in [`OwnerTable`].
fn slot(owner: u32, row: &Row<'_>, direction: Direction) -> Slot {
    let s = row.socket;
    Slot {
        netns: row.netns,
        owner,
        proto: Some(s.proto),
        direction,
        end: match direction {
            Direction::Out => End::Remote(s.remote, s.remote_port),
            Direction::In => End::Listening(s.local_port),
        },
    }
}

impl<'a> OwnerTable<'a> {
    fn intern(&mut self, owner: RowOwner<'a>) -> u32 {
        let next = self.owners.len() as u32;
        *self.index.entry(owner).or_insert_with(|| {
            self.owners.push(owner);
            next
        })
    }

    /// Whether a row's owner stands for its whole namespace, so its
    /// failures show there: it names no container (a pod, or nothing), or
    /// it names the namespace's owner (a lone container outside a pod).
    fn names_only_the_namespace(&self, owner: u32, namespace_owner: u32) -> bool {
        let (o, n) = (
            &self.owners[owner as usize],
            &self.owners[namespace_owner as usize],
        );
        (o.container.is_none() && o.container_id.is_none())
            || (o.namespace, o.pod, o.container, o.container_id)
                == (n.namespace, n.pod, n.container, n.container_id)
    }

    fn rows(&self, slots: HashMap<Slot, Tally>) -> Vec<Rate<'a>> {
        slots
            .into_iter()
            .filter(|(_, t)| {
                t.established > 0
                    || t.time_wait > 0
                    || t.rates
                        .is_some_and(|(new, closed)| new > 0.0 || closed > 0.0)
                    || t.failed.is_some_and(|f| f > 0.0)
            })
            .map(|(slot, tally)| {
                let owner = &self.owners[slot.owner as usize];
                Rate {
                    netns: Field::One(slot.netns),
                    namespace: Field::start(owner.namespace),
                    pod: Field::start(owner.pod),
                    container: Field::start(owner.container),
                    container_id: Field::start(owner.container_id),
                    attribution: Field::One(owner.attribution),
                    proto: Field::start(slot.proto),
                    direction: Field::One(slot.direction),
                    end: Field::One(slot.end),
                    new_per_s: tally.rates.map(|(new, _)| new),
                    closed_per_s: tally.rates.map(|(_, closed)| closed),
                    failed_per_s: tally.failed,
                    established: tally.established,
                    time_wait: tally.time_wait,
                    interval_ms: Field::start(tally.interval_ms),
                }
            })
            .collect()
    }
}

/// Rows merged by the `--by` keys (the default keeps every row), largest
/// new rate first.
fn group(rows: Vec<Rate<'_>>, grouping: Grouping) -> Vec<Rate<'_>> {
    let mut rows = match grouping {
        Grouping::ServiceEnd => rows,
        Grouping::By(_) => merge(rows, grouping),
    };
    rows.sort_by(|a, b| {
        let rate = |r: &Rate| r.new_per_s.unwrap_or(-1.0);
        let closed = |r: &Rate| r.closed_per_s.unwrap_or(-1.0);
        rate(b)
            .total_cmp(&rate(a))
            .then_with(|| closed(b).total_cmp(&closed(a)))
            .then_with(|| (b.established + b.time_wait).cmp(&(a.established + a.time_wait)))
            .then_with(|| by_name(a.namespace, b.namespace))
            .then_with(|| by_name(a.pod, b.pod))
            .then_with(|| by_name(a.container, b.container))
            .then_with(|| a.netns.one().cmp(&b.netns.one()))
            .then_with(|| a.end.one().cmp(&b.end.one()))
            .then_with(|| a.attribution.one().cmp(&b.attribution.one()))
            .then_with(|| a.proto.one().cmp(&b.proto.one()))
    });
    rows
}

fn by_name(a: Field<&str>, b: Field<&str>) -> std::cmp::Ordering {
    match (a.one(), b.one()) {
        (Some(a), Some(b)) => natural(a, b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// A name as a `--by` key: None where it is not one.
fn keyed<'a>(grouping: Grouping, key: Key, field: Field<&'a str>) -> Option<&'a str> {
    field.one().copied().filter(|_| grouping.has(key))
}

fn merge(rows: Vec<Rate<'_>>, grouping: Grouping) -> Vec<Rate<'_>> {
    type GroupKey<'a> = (
        Option<NetnsId>,
        [Option<&'a str>; 4],
        Option<Direction>,
        Option<Proto>,
        Option<End>,
        Option<End>,
    );
    let mut merged: Vec<Rate<'_>> = Vec::new();
    let mut failed_from: Vec<HashSet<NetnsId>> = Vec::new();
    let mut index: HashMap<GroupKey<'_>, usize> = HashMap::new();
    for row in rows {
        let end = row.end.one().copied();
        let key: GroupKey<'_> = (
            row.netns
                .one()
                .copied()
                .filter(|_| grouping.has(Key::Netns)),
            [
                keyed(grouping, Key::Namespace, row.namespace),
                keyed(grouping, Key::Pod, row.pod),
                keyed(grouping, Key::Container, row.container),
                keyed(grouping, Key::Container, row.container_id),
            ],
            row.direction
                .one()
                .copied()
                .filter(|_| grouping.has(Key::Direction)),
            row.proto
                .one()
                .copied()
                .filter(|_| grouping.has(Key::Proto)),
            end.filter(|e| grouping.has(Key::Remote) && matches!(e, End::Remote(..))),
            end.filter(|e| grouping.has(Key::Local) && matches!(e, End::Listening(_))),
        );
        let netns = row.netns.one().copied();
        match index.get(&key) {
            None => {
                index.insert(key, merged.len());
                failed_from.push(
                    netns
                        .filter(|_| row.failed_per_s.is_some())
                        .into_iter()
                        .collect(),
                );
                merged.push(row);
            }
            Some(&at) => {
                let group = &mut merged[at];
                group.netns.add(netns);
                group.namespace.add(row.namespace.one().copied());
                group.pod.add(row.pod.one().copied());
                group.container.add(row.container.one().copied());
                group.container_id.add(row.container_id.one().copied());
                group.attribution.add(row.attribution.one().copied());
                group.proto.add(row.proto.one().copied());
                group.direction.add(row.direction.one().copied());
                group.end.add(end);
                group.interval_ms.add(row.interval_ms.one().copied());
                let sum = |a: Option<f64>, b: Option<f64>| match (a, b) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                group.new_per_s = sum(group.new_per_s, row.new_per_s);
                group.closed_per_s = sum(group.closed_per_s, row.closed_per_s);
                // A namespace's failures are on each of its pod rows: once.
                if let (Some(failed), Some(netns)) = (row.failed_per_s, netns) {
                    if failed_from[at].insert(netns) {
                        group.failed_per_s = sum(group.failed_per_s, Some(failed));
                    }
                }
                group.established += row.established;
                group.time_wait += row.time_wait;
            }
        }
    }
    for group in &mut merged {
        if group.container.one().is_some() || group.container_id.one().is_some() {
            group.failed_per_s = None;
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribute::attribute;
    use crate::analyze::filter::OwnerFilter;
    use crate::model::{
        testing, CgroupRef, ContainerInfo, PodInfo, Process, Protocols, SocketOwners, StateSet,
        Timer,
    };

    const POD_A: u64 = 4026532001;
    const POD_B: u64 = 4026532002;
    const APP: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SANDBOX: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const DB: &str = "198.18.9.1:5432";
    const WEB: &str = "198.18.9.2:443";

    fn everything() -> Filter {
        Filter {
            protocols: Protocols::TCP,
            states: StateSet::EVERY,
            owner: OwnerFilter::default(),
            remote: None,
            local: None,
            port: None,
        }
    }

    /// A connection of pod A's namespace (or B's) from `port` to `to`,
    /// with its cookie; inode 0 for one no process holds.
    fn sock(port: u16, to: &str, state: TcpState, cookie: u64, inode: u64) -> Socket {
        Socket {
            cookie,
            timer: if state == TcpState::TimeWait {
                Timer::TimeWait
            } else {
                Timer::None
            },
            expires_ms: if state == TcpState::TimeWait {
                59_000
            } else {
                0
            },
            ..testing::socket(&format!("198.18.0.2:{port}"), to, state, inode)
        }
    }

    fn counters(read_ms: u64, active_opens: u64, attempt_fails: u64) -> TcpCounters {
        TcpCounters {
            read_ms,
            active_opens,
            attempt_fails,
            in_segs: active_opens * 10,
            ..TcpCounters::default()
        }
    }

    /// Pod A (shop/cart-0: its app container holds inodes 1–99 through
    /// pid 100) and pod B (shop/cart-1, no process but its sandbox), read
    /// at the times and with the counters given.
    fn node(
        taken_ms: u64,
        a: (TcpCounters, Vec<Socket>),
        b: Option<(TcpCounters, Vec<Socket>)>,
    ) -> Snapshot {
        let mut snapshot = testing::snapshot();
        snapshot.taken.boottime_ms = taken_ms;
        for (id, name, pod) in [(APP, "client", "cart-0"), (SANDBOX, "POD", "cart-1")] {
            snapshot.catalog.add_container(ContainerInfo {
                name: Some(name.into()),
                pod: Some(PodInfo {
                    namespace: "shop".into(),
                    name: pod.into(),
                    uid: None,
                }),
                sandbox: name == "POD",
                ..ContainerInfo::unnamed(id.into())
            });
        }
        for (pid, id, netns) in [(100, APP, POD_A), (200, SANDBOX, POD_B)] {
            snapshot.processes.push(Process {
                pid,
                comm: "app".into(),
                netns: NetnsId::Inode(netns),
                cgroup: Some(CgroupRef {
                    container_id: Some(id.into()),
                    ..CgroupRef::default()
                }),
                fds_unread: false,
            });
        }
        let held: Vec<u64> = a.1.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
        snapshot.socket_owners = SocketOwners(held.into_iter().map(|i| (i, 100)).collect());
        let mut namespaces = vec![(POD_A, a)];
        namespaces.extend(b.map(|b| (POD_B, b)));
        for (inode, (counters, sockets)) in namespaces {
            snapshot.namespaces.push(NetnsSnapshot {
                counters: Some(counters),
                ..testing::netns(inode, sockets)
            });
        }
        snapshot
    }

    fn run<'a>(
        before: &'a Snapshot,
        now: &'a Snapshot,
        attributed: &'a [Attributed<'a>; 2],
        filter: &Filter,
        grouping: Grouping,
    ) -> Tick<'a> {
        rates(
            &Side {
                snapshot: before,
                attributed: &attributed[0],
            },
            &Side {
                snapshot: now,
                attributed: &attributed[1],
            },
            filter,
            grouping,
        )
    }

    /// `run` on every socket, grouped as the summary's default.
    fn run_everything<'a>(
        before: &'a Snapshot,
        now: &'a Snapshot,
        attributed: &'a [Attributed<'a>; 2],
    ) -> Tick<'a> {
        run(before, now, attributed, &everything(), Grouping::ServiceEnd)
    }

    /// (pod, container, end, new/s, closed/s, failed/s, established, time_wait)
    type Summary = (
        Option<String>,
        Option<String>,
        Option<End>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        u64,
        u64,
    );

    fn summary(tick: &Tick<'_>) -> Vec<Summary> {
        tick.rows
            .iter()
            .map(|r| {
                (
                    r.pod.one().map(|s| s.to_string()),
                    r.container.one().map(|s| s.to_string()),
                    r.end.one().copied(),
                    r.new_per_s,
                    r.closed_per_s,
                    r.failed_per_s,
                    r.established,
                    r.time_wait,
                )
            })
            .collect()
    }

    fn remote(text: &str) -> End {
        let addr: std::net::SocketAddr = text.parse().unwrap();
        End::Remote(addr.ip(), addr.port())
    }

    #[test]
    fn rates_are_exact_per_namespace_over_its_own_interval_and_shared_among_destinations() {
        // Pod A, read at 1.0 s and 3.0 s: 78 connections opened, 2 failed.
        // Its sockets show 30 new ones to DB (28 already TIME_WAITs, 2
        // still open, held by the app) and 10 to WEB (TIME_WAITs), and one
        // connection to WEB that was open is now a TIME_WAIT.
        let before_a = vec![sock(40000, WEB, TcpState::Established, 1, 1)];
        let mut now_a = vec![sock(40000, WEB, TcpState::TimeWait, 1, 0)];
        now_a.extend(
            (0..28).map(|i| sock(41000 + i, DB, TcpState::TimeWait, 100 + u64::from(i), 0)),
        );
        now_a.extend((0..2).map(|i| {
            sock(
                42000 + i,
                DB,
                TcpState::Established,
                200 + u64::from(i),
                10 + u64::from(i),
            )
        }));
        now_a.extend(
            (0..10).map(|i| sock(43000 + i, WEB, TcpState::TimeWait, 300 + u64::from(i), 0)),
        );
        // Pod B, read at 1.5 s and 2.5 s: 20 opened, none seen.
        let before = node(
            1_000,
            (counters(1_000, 500, 7), before_a),
            Some((counters(1_500, 0, 0), vec![])),
        );
        let now = node(
            3_000,
            (counters(3_000, 578, 9), now_a),
            Some((counters(2_500, 20, 0), vec![])),
        );
        let attributed = [attribute(&before), attribute(&now)];
        let tick = run_everything(&before, &now, &attributed);
        let (a, b) = (Some("cart-0".to_string()), Some("cart-1".to_string()));
        let client = Some("client".to_string());
        // Pod A: 78 counted, 40 seen: 38 missed, shared as the 38 short
        // connections seen were, 28 to DB and 10 to WEB, over 2 s. DB, pod
        // level: (28 seen + 28 shared) / 2 = 28/s new and closed; the
        // app's 2 open ones, 1/s new, none closed. WEB: (10 + 10) / 2 =
        // 10/s new, and closed (10 + 10 + the one turned TIME_WAIT) / 2 =
        // 10.5/s. Failed: 2 over 2 s, on the pod-level rows only. Pod B:
        // 20 over 1 s, no socket: a row of its own, destination unknown.
        assert_eq!(
            summary(&tick),
            vec![
                (
                    a.clone(),
                    None,
                    Some(remote(DB)),
                    Some(28.0),
                    Some(28.0),
                    Some(1.0),
                    0,
                    28
                ),
                (
                    b,
                    None,
                    Some(End::Unseen),
                    Some(20.0),
                    Some(20.0),
                    Some(0.0),
                    0,
                    0
                ),
                (
                    a.clone(),
                    None,
                    Some(remote(WEB)),
                    Some(10.0),
                    Some(10.5),
                    Some(1.0),
                    0,
                    11
                ),
                (
                    a,
                    client,
                    Some(remote(DB)),
                    Some(1.0),
                    Some(0.0),
                    None,
                    2,
                    0
                ),
            ]
        );
        assert_eq!(tick.rows[0].interval_ms, Field::One(2_000));
        assert_eq!(tick.rows[1].interval_ms, Field::One(1_000));
        let node = tick.node;
        assert_eq!(
            (node.opened_per_s, node.failed_per_s, node.time_wait),
            (59.0, 1.0, 39)
        );
        // Per connect() budget, fitted like the rows: (30 + 28) / 2 to
        // DB, (10 + 10) / 2 to WEB.
        let budget = |to: &str| {
            let addr: std::net::SocketAddr = to.parse().unwrap();
            tick.per_budget[&(
                NetnsId::Inode(POD_A),
                "198.18.0.2".parse().unwrap(),
                addr.ip(),
                addr.port(),
            )]
        };
        assert_eq!((budget(DB), budget(WEB)), (29.0, 10.0));
    }

    #[test]
    fn missed_connections_are_not_given_to_long_ones() {
        // A server on two ports: 91 accepted in 1 s, each closed by its
        // client first (nothing left here) but one long-lived, on 8080.
        let listeners = vec![
            sock(8080, "0.0.0.0:0", TcpState::Listen, 1, 3),
            sock(9090, "0.0.0.0:0", TcpState::Listen, 2, 4),
        ];
        let mut now_a = listeners.clone();
        now_a.push(sock(8080, "198.18.9.9:50000", TcpState::Established, 5, 7));
        let accepted = |read_ms, n| TcpCounters {
            passive_opens: n,
            ..counters(read_ms, 0, 0)
        };
        let before = node(1_000, (accepted(1_000, 0), listeners), None);
        let now = node(2_000, (accepted(2_000, 91), now_a), None);
        let attributed = [attribute(&before), attribute(&now)];
        let tick = run_everything(&before, &now, &attributed);
        let rows: Vec<(Option<End>, Option<f64>)> = tick
            .rows
            .iter()
            .map(|r| (r.end.one().copied(), r.new_per_s))
            .collect();
        assert_eq!(
            rows,
            vec![
                (Some(End::Unseen), Some(90.0)),
                (Some(End::Listening(8080)), Some(1.0))
            ]
        );
    }

    #[test]
    fn accepted_connections_no_socket_showed_are_the_sole_listeners() {
        // The app listens on 8080 alone; 40 accepted in 2 s, each closed by
        // its client first (no TIME_WAIT here), none seen.
        let listener = sock(8080, "0.0.0.0:0", TcpState::Listen, 1, 3);
        let accepted = |read_ms, n| TcpCounters {
            passive_opens: n,
            ..counters(read_ms, 0, 0)
        };
        let before = node(1_000, (accepted(1_000, 0), vec![listener]), None);
        let now = node(3_000, (accepted(3_000, 40), vec![listener]), None);
        let attributed = [attribute(&before), attribute(&now)];
        let tick = run_everything(&before, &now, &attributed);
        assert_eq!(
            summary(&tick),
            vec![(
                Some("cart-0".into()),
                Some("client".into()),
                Some(End::Listening(8080)),
                Some(20.0),
                Some(20.0),
                None,
                0,
                0
            )]
        );
        // With a second listener the port is unknown.
        let other = sock(9090, "0.0.0.0:0", TcpState::Listen, 2, 4);
        let before = node(1_000, (accepted(1_000, 0), vec![listener, other]), None);
        let now = node(3_000, (accepted(3_000, 40), vec![listener, other]), None);
        let attributed = [attribute(&before), attribute(&now)];
        let tick = run_everything(&before, &now, &attributed);
        assert_eq!(tick.rows[0].end, Field::One(End::Unseen));
        assert_eq!(tick.rows[0].direction, Field::One(Direction::In));
    }

    #[test]
    fn a_restarted_namespace_has_no_rates_until_its_second_read() {
        // The same inode, its counters from zero: another namespace.
        let before = node(1_000, (counters(1_000, 500, 0), vec![]), None);
        let now = node(
            3_000,
            (
                counters(3_000, 4, 0),
                vec![sock(40000, DB, TcpState::Established, 9, 1)],
            ),
            None,
        );
        let attributed = [attribute(&before), attribute(&now)];
        let tick = run_everything(&before, &now, &attributed);
        let client = Some("client".to_string());
        assert_eq!(
            summary(&tick),
            vec![(
                Some("cart-0".into()),
                client,
                Some(remote(DB)),
                None,
                None,
                None,
                1,
                0
            )]
        );
        assert_eq!(tick.node.without_rates, 1);
        // A namespace first seen now (pod B) has none either.
        let before = node(1_000, (counters(1_000, 500, 0), vec![]), None);
        let now = node(
            3_000,
            (counters(3_000, 500, 0), vec![]),
            Some((counters(3_000, 50, 0), vec![])),
        );
        let attributed = [attribute(&before), attribute(&now)];
        let tick = run_everything(&before, &now, &attributed);
        assert!(tick.rows.is_empty());
        assert_eq!(tick.node.without_rates, 1);
    }

    #[test]
    fn filters_pick_sockets_and_by_merges_rows() {
        let now_a = vec![
            sock(41000, DB, TcpState::TimeWait, 100, 0),
            sock(41001, WEB, TcpState::TimeWait, 101, 0),
            sock(41002, WEB, TcpState::Established, 102, 5),
        ];
        let before = node(1_000, (counters(1_000, 0, 0), vec![]), None);
        let now = node(2_000, (counters(2_000, 3, 1), now_a), None);
        let attributed = [attribute(&before), attribute(&now)];
        let only_web = Filter {
            remote: Some(WEB.parse().unwrap()),
            ..everything()
        };
        let web = run(&before, &now, &attributed, &only_web, Grouping::ServiceEnd);
        assert_eq!(web.rows.len(), 2);
        assert!(web.rows.iter().all(|r| r.end == Field::One(remote(WEB))));
        // By pod: one row, its failures counted once.
        let by_pod = run(
            &before,
            &now,
            &attributed,
            &everything(),
            Grouping::by(&[Key::Pod]),
        );
        assert_eq!(
            summary(&by_pod),
            vec![(
                Some("cart-0".into()),
                None,
                None,
                Some(3.0),
                Some(2.0),
                Some(1.0),
                1,
                2
            )]
        );
        assert_eq!(by_pod.rows[0].container, Field::Several);
    }
}
