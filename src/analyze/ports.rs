//! `--ports`: how close each budget of ports is to running out, by the
//! kernel's rules (ports.md §1, §4):
//!
//! - a namespace's TCP connect() budget, per (namespace, source address,
//!   destination address, destination port): the ephemeral range, less its
//!   reserved ports and the ports listeners and bound-only sockets hold,
//!   against the outbound sockets to that destination on a port of the
//!   range, TIME_WAIT included unless `tcp_tw_reuse` lets connect() reuse it;
//! - a namespace's UDP budget, one per namespace (ports.md §5: a UDP socket
//!   takes a port of its own whatever it talks to): the ephemeral range,
//!   less its reserved ports, against the distinct ports of the range its
//!   UDP sockets hold, connected or not;
//! - a NAT namespace's SNAT budget, per (namespace, zone, NAT address,
//!   destination address, destination port, protocol): the NAT rule's port
//!   range (else the kernel's default for the source port's class) against
//!   the conntrack entries it translated;
//! - with `--snat-ports N`, a NAT outside the node: N against every flow of
//!   the node to a destination outside it;
//! - and each NAT namespace's conntrack counters, the only trace of SNAT
//!   exhaustion (insert_failed, drop) and of a full table.
//!
//! Pure: a function of the snapshot and its attribution.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use super::attribute::{namespace_owner, Attributed, Owner, Row};
use super::direction::{Direction, Listening};
use super::filter::{in_prefix, unmapped, Filter};
use super::remote::{RemoteKind, RemoteName, RemoteNames};
use crate::model::{
    ConntrackStats, NatRule, NetnsId, NetnsSnapshot, PortSysctls, ShownState, SnatFlow, Snapshot,
    TcpConntrackState, TcpState, Transport,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Netns,
    Snat,
    External,
    Conntrack,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Netns => "netns",
            Scope::Snat => "snat",
            Scope::External => "external",
            Scope::Conntrack => "conntrack",
        }
    }
}

/// One budget, or one namespace's conntrack counters.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget<'a> {
    pub scope: Scope,
    pub netns: Option<NetnsId>,
    pub zone: Option<u16>,
    pub namespace: Option<&'a str>,
    pub pod: Option<&'a str>,
    pub container: Option<&'a str>,
    pub proto: Option<Transport>,
    pub src_addr: Option<IpAddr>,
    pub dst_addr: Option<IpAddr>,
    pub dst_port: Option<u16>,
    pub in_use: Option<u64>,
    /// None where the range could not be read.
    pub available: Option<u64>,
    /// What holds the ports in use, by state name, in the kernel's order.
    pub states: Vec<(&'static str, u64)>,
    /// Milliseconds until the first TIME_WAIT among them expires.
    pub next_free_ms: Option<u64>,
    pub sources: Option<Vec<Source<'a>>>,
    pub conntrack: Option<ConntrackStats>,
    /// What the destination is, where something names it.
    pub remote: Option<RemoteName<'a>>,
    /// The backends the node translated the destination to (netns rows).
    pub remote_endpoints: Option<u64>,
}

impl Budget<'_> {
    /// `100 × in_use / available`, to one decimal.
    pub fn used_pct(&self) -> Option<f64> {
        let (in_use, available) = (self.in_use?, self.available?);
        if available == 0 {
            return Some(if in_use == 0 { 0.0 } else { 100.0 });
        }
        Some((in_use as f64 * 1000.0 / available as f64).round() / 10.0)
    }

    fn empty(scope: Scope) -> Budget<'static> {
        Budget {
            scope,
            netns: None,
            zone: None,
            namespace: None,
            pod: None,
            container: None,
            proto: None,
            src_addr: None,
            dst_addr: None,
            dst_port: None,
            in_use: None,
            available: None,
            states: Vec::new(),
            next_free_ms: None,
            sources: None,
            conntrack: None,
            remote: None,
            remote_endpoints: None,
        }
    }
}

/// Who a budget's flows come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source<'a> {
    pub namespace: Option<&'a str>,
    pub pod: Option<&'a str>,
    pub container: Option<&'a str>,
    pub src_addr: IpAddr,
    pub count: u64,
}

/// Budgets at or above this share of their ports are marked.
pub const ALERT_PCT: f64 = 80.0;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// NFPROTO_* of a NAT rule's table.
const NFPROTO_INET: u8 = 1;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;

/// Budgets fullest first, `top` of them, then the conntrack counters.
pub fn budgets<'a>(
    snapshot: &'a Snapshot,
    attributed: &'a Attributed<'a>,
    filter: &Filter,
    snat_ports: Option<u32>,
    top: usize,
) -> Vec<Budget<'a>> {
    let listening = Listening::of(snapshot);
    let names = RemoteNames::of(snapshot);
    let mut rows = netns_budgets(snapshot, attributed, &listening, filter);
    rows.extend(udp_budgets(snapshot, attributed, filter));
    rows.extend(snat_budgets(snapshot, &names));
    if let Some(ports) = snat_ports {
        rows.extend(external_budgets(snapshot, attributed, &listening, &names, ports));
    }
    for row in &mut rows {
        let (Some(dst), Some(port)) = (row.dst_addr, row.dst_port) else {
            continue;
        };
        if row.scope == Scope::Netns {
            row.remote_endpoints = names.backends(IPPROTO_TCP, dst, port).map(|n| n as u64);
        }
        row.remote = names.name(dst).or_else(|| {
            row.remote_endpoints.map(|_| RemoteName::UNNAMED_SERVICE)
        });
    }
    rows.retain(|row| row.scope == Scope::Netns || keeps_nat_row(row, filter));
    rows.sort_by(|a, b| {
        let pct = |r: &Budget| r.used_pct().unwrap_or(-1.0);
        pct(b)
            .total_cmp(&pct(a))
            .then_with(|| b.in_use.cmp(&a.in_use))
            .then_with(|| a.scope.cmp(&b.scope))
            .then_with(|| a.netns.cmp(&b.netns))
            .then_with(|| (a.src_addr, a.dst_addr, a.dst_port).cmp(&(b.src_addr, b.dst_addr, b.dst_port)))
    });
    rows.truncate(top);
    rows.extend(conntrack_rows(snapshot, filter));
    rows
}

/// TCP's, per (namespace, source, destination, destination port): TCP over
/// IPv4 and IPv6 shares one port space, and a dual-stack socket's
/// v4-mapped addresses are the IPv4 ones.
fn netns_budgets<'a>(
    snapshot: &'a Snapshot,
    attributed: &'a Attributed<'a>,
    listening: &Listening,
    filter: &Filter,
) -> Vec<Budget<'a>> {
    let by_netns: HashMap<NetnsId, &NetnsSnapshot> =
        snapshot.namespaces.iter().map(|ns| (ns.id, ns)).collect();
    let held = held_ports(snapshot);
    #[derive(Default)]
    struct Group<'a> {
        owners: Vec<&'a Owner<'a>>,
        states: BTreeMap<TcpState, u64>,
        in_use: u64,
        next_free_ms: Option<u64>,
        /// Whether a socket of it is one the filter keeps.
        wanted: bool,
    }
    let mut groups: BTreeMap<(NetnsId, IpAddr, IpAddr, u16), Group<'a>> = BTreeMap::new();
    for row in &attributed.rows {
        let socket = row.socket;
        let owner = attributed.owner(row);
        if socket.proto.transport() != Transport::Tcp
            || matches!(socket.state, TcpState::Listen | TcpState::Close)
            || listening.direction(row.netns, socket) == Direction::In
        {
            continue;
        }
        let Some(ns) = by_netns.get(&row.netns) else { continue };
        let sysctls = ns.sysctls.as_ref();
        // connect() takes ports of the range only: a socket on another port
        // was bound to it, and its port is not the budget's.
        if sysctls.is_some_and(|s| !s.range().contains(&socket.local_port)) {
            continue;
        }
        let (src, dst) = (unmapped(socket.local), unmapped(socket.remote));
        let group = groups.entry((row.netns, src, dst, socket.remote_port)).or_default();
        group.owners.push(owner);
        group.wanted |= filter.keeps(attributed, row);
        *group.states.entry(socket.state).or_default() += 1;
        if socket.state == TcpState::TimeWait && reusable(sysctls, src, dst) {
            continue;
        }
        group.in_use += 1;
        if socket.state == TcpState::TimeWait {
            let ms = u64::from(socket.expires_ms);
            group.next_free_ms = Some(group.next_free_ms.map_or(ms, |m| m.min(ms)));
        }
    }
    groups
        .into_iter()
        .filter(|(_, group)| group.wanted)
        .map(|((netns, src, dst, port), group)| {
            let owner = shared_owner(&group.owners);
            let available = by_netns
                .get(&netns)
                .and_then(|ns| ns.sysctls.as_ref())
                .map(|sysctls| available(sysctls, held.get(&netns)));
            Budget {
                netns: Some(netns),
                namespace: owner.namespace,
                pod: owner.pod,
                container: owner.container,
                proto: Some(Transport::Tcp),
                src_addr: Some(src),
                dst_addr: Some(dst),
                dst_port: Some(port),
                in_use: Some(group.in_use),
                available,
                states: group.states.into_iter().map(|(s, n)| (s.name(), n)).collect(),
                next_free_ms: group.next_free_ms,
                ..Budget::empty(Scope::Netns)
            }
        })
        .collect()
}

/// Ports of each namespace no TCP connect() may take for any destination:
/// those of listeners and bound-only sockets, which sock_diag dumps in
/// CLOSE (ports.md §1.3, §2.5). UDP's ports are another space.
fn held_ports(snapshot: &Snapshot) -> HashMap<NetnsId, HashSet<u16>> {
    snapshot
        .namespaces
        .iter()
        .map(|ns| {
            let held = ns
                .sockets
                .iter()
                .filter(|s| s.proto.transport() == Transport::Tcp)
                .filter(|s| matches!(s.state, TcpState::Listen | TcpState::Close))
                .map(|s| s.local_port)
                .collect();
            (ns.id, held)
        })
        .collect()
}

/// UDP's, one per namespace: autobind (connect(), or sendto() on an unbound
/// socket) gives every socket a free port of the range, one no other UDP
/// socket of the namespace holds, whatever it talks to (udp_lib_get_port),
/// and fails with EAGAIN when none is left. A port counts once however many
/// sockets share it (SO_REUSEPORT); reserved ports are left out of both
/// sides, as autobind never takes them. Namespaces without a UDP port of
/// their range in use have no row.
fn udp_budgets<'a>(
    snapshot: &'a Snapshot,
    attributed: &'a Attributed<'a>,
    filter: &Filter,
) -> Vec<Budget<'a>> {
    let by_netns: HashMap<NetnsId, &NetnsSnapshot> =
        snapshot.namespaces.iter().map(|ns| (ns.id, ns)).collect();
    #[derive(Default)]
    struct Group<'a> {
        owners: Vec<&'a Owner<'a>>,
        ports: HashSet<u16>,
        states: [u64; ShownState::ORDER.len()],
        wanted: bool,
    }
    let mut groups: BTreeMap<NetnsId, Group<'a>> = BTreeMap::new();
    for row in &attributed.rows {
        let socket = row.socket;
        if socket.proto.transport() != Transport::Udp {
            continue;
        }
        let sysctls = by_netns.get(&row.netns).and_then(|ns| ns.sysctls.as_ref());
        let autobound = |s: &PortSysctls| {
            s.range().contains(&socket.local_port) && !s.is_reserved(socket.local_port)
        };
        if !sysctls.map_or(true, autobound) {
            continue;
        }
        let owner = attributed.owner(row);
        let group = groups.entry(row.netns).or_default();
        group.owners.push(owner);
        group.ports.insert(socket.local_port);
        group.states[socket.shown_state().index()] += 1;
        group.wanted |= filter.keeps(attributed, row);
    }
    groups
        .into_iter()
        .filter(|(_, group)| group.wanted)
        .map(|(netns, group)| {
            let owner = shared_owner(&group.owners);
            let available = by_netns
                .get(&netns)
                .and_then(|ns| ns.sysctls.as_ref())
                .map(|sysctls| available(sysctls, None));
            Budget {
                netns: Some(netns),
                namespace: owner.namespace,
                pod: owner.pod,
                container: owner.container,
                proto: Some(Transport::Udp),
                in_use: Some(group.ports.len() as u64),
                available,
                states: ShownState::ORDER
                    .into_iter()
                    .map(|state| (state.name(), group.states[state.index()]))
                    .filter(|(_, n)| *n > 0)
                    .collect(),
                ..Budget::empty(Scope::Netns)
            }
        })
        .collect()
}

/// The range, less reserved ports and ports held for every destination.
fn available(sysctls: &PortSysctls, held: Option<&HashSet<u16>>) -> u64 {
    let range = sysctls.range();
    let usable = |port: &u16| range.contains(port) && !sysctls.is_reserved(*port);
    let in_range = range.clone().filter(|p| !sysctls.is_reserved(*p)).count() as u64;
    let held = held.map_or(0, |held| held.iter().filter(|p| usable(p)).count() as u64);
    in_range - held
}

/// Whether connect() may reuse a TIME_WAIT between these addresses under
/// the namespace's `tcp_tw_reuse` (ports.md §1.5): 1 always, 2 (the
/// default) over loopback only, 0 never. Unknown sysctls read as the default.
fn reusable(sysctls: Option<&PortSysctls>, src: IpAddr, dst: IpAddr) -> bool {
    match sysctls.map_or(2, |s| s.tw_reuse) {
        1 => true,
        2 => src.is_loopback() || dst.is_loopback(),
        _ => false,
    }
}

/// The namespace and pod all owners share, and the container when every
/// owner found for its socket (a process, and under `--watch` a cgroup or
/// the history) has the same one.
fn shared_owner<'a>(owners: &[&Owner<'a>]) -> Owner<'a> {
    let first = owners.first().copied();
    let same = |field: fn(&Owner<'a>) -> Option<&'a str>| {
        let value = first.and_then(field);
        owners.iter().all(|o| field(o) == value).then_some(value).flatten()
    };
    let mut containers = owners
        .iter()
        .filter(|o| o.attribution.found_for_the_socket())
        .map(|o| o.container);
    let container = match containers.next() {
        Some(first) if containers.all(|c| c == first) => first,
        _ => None,
    };
    Owner {
        namespace: same(|o| o.namespace),
        pod: same(|o| o.pod),
        container,
        ..Owner::NONE
    }
}

/// The sources of a row, most flows first, then by address.
fn most_first<'a>(counts: BTreeMap<IpAddr, u64>, names: &RemoteNames<'a>) -> Vec<Source<'a>> {
    let mut sources: Vec<Source<'a>> = counts
        .into_iter()
        .map(|(ip, count)| source(names, ip, count))
        .collect();
    // Stable: equal counts stay in address order.
    sources.sort_by(|a, b| b.count.cmp(&a.count));
    sources
}

/// Who a flow from `src_addr` came from: the pod at that address.
fn source<'a>(names: &RemoteNames<'a>, src_addr: IpAddr, count: u64) -> Source<'a> {
    let pod = names.name(src_addr).filter(|name| name.kind == RemoteKind::Pod);
    Source {
        namespace: pod.and_then(|p| p.namespace),
        pod: pod.and_then(|p| p.name),
        container: None,
        src_addr,
        count,
    }
}

/// Per (NAT namespace, zone, NAT address, destination, port, protocol), the
/// destination being the reply tuple's source: after a Service's DNAT the
/// backend, which is what the kernel keeps unique (ports.md §4.4).
fn snat_budgets<'a>(snapshot: &'a Snapshot, names: &RemoteNames<'a>) -> Vec<Budget<'a>> {
    let mut rows = Vec::new();
    for ns in &snapshot.namespaces {
        let Some(flows) = &ns.snat_flows else { continue };
        let mut groups: BTreeMap<(u16, IpAddr, IpAddr, u16, u8), Vec<&SnatFlow>> = BTreeMap::new();
        for flow in flows {
            let key = (flow.9, unmapped(flow.7), unmapped(flow.5), flow.6, flow.0);
            groups.entry(key).or_default().push(flow);
        }
        for ((zone, nat_addr, dst, port, proto), flows) in groups {
            let mut states: BTreeMap<u8, u64> = BTreeMap::new();
            let mut by_source: BTreeMap<IpAddr, u64> = BTreeMap::new();
            let mut next_free_ms: Option<u64> = None;
            for flow in &flows {
                if let Some(state) = flow.10 {
                    *states.entry(state).or_default() += 1;
                    if TcpConntrackState::from_code(state) == TcpConntrackState::TimeWait {
                        let ms = u64::from(flow.11.unwrap_or(0)) * 1000;
                        next_free_ms = Some(next_free_ms.map_or(ms, |m| m.min(ms)));
                    }
                }
                *by_source.entry(unmapped(flow.1)).or_default() += 1;
            }
            let sources = most_first(by_source, names);
            let one = sole_pod(&sources);
            rows.push(Budget {
                netns: Some(ns.id),
                zone: Some(zone),
                namespace: one.and_then(|s| s.namespace),
                pod: one.and_then(|s| s.pod),
                proto: Some(transport(proto)),
                src_addr: Some(nat_addr),
                dst_addr: Some(dst),
                dst_port: Some(port),
                in_use: Some(flows.len() as u64),
                available: Some(snat_capacity(ns.nat_rules.as_deref(), &flows)),
                states: states
                    .into_iter()
                    .map(|(code, n)| (TcpConntrackState::from_code(code).name(), n))
                    .collect(),
                next_free_ms,
                sources: Some(sources),
                ..Budget::empty(Scope::Snat)
            });
        }
    }
    rows
}

/// The pod behind every source, when there is one.
fn sole_pod<'s, 'a>(sources: &'s [Source<'a>]) -> Option<&'s Source<'a>> {
    let first = sources.first()?;
    first.pod?;
    sources
        .iter()
        .all(|s| (s.namespace, s.pod) == (first.namespace, first.pod))
        .then_some(first)
}

/// The ports SNAT may pick for these flows: the range of the rule that
/// translated them, decided by the rule's matches or, where those do not
/// decide, by every NAT port lying in exactly one rule's range; else the
/// kernel's default for the class of the source ports (1–511, 600–1023,
/// 1024–65535; nf_nat_l4proto_unique_tuple).
fn snat_capacity(rules: Option<&[NatRule]>, flows: &[&SnatFlow]) -> u64 {
    let size = |[low, high]: [u16; 2]| u64::from(high.saturating_sub(low)) + 1;
    let default = default_range(flows);
    let Some(first) = flows.first() else { return size(default) };
    let candidates: Vec<&NatRule> = rules
        .unwrap_or_default()
        .iter()
        .filter(|rule| rule_matches(rule, first))
        .collect();
    let chosen = match candidates.as_slice() {
        [one] => Some(*one),
        several => {
            let mut holding = several.iter().filter(|rule| {
                rule.ports.is_some_and(|[low, high]| flows.iter().all(|f| (low..=high).contains(&f.8)))
            });
            match (holding.next(), holding.next()) {
                (Some(one), None) => Some(*one),
                _ => None,
            }
        }
    };
    size(chosen.and_then(|rule| rule.ports).unwrap_or(default))
}

fn default_range(flows: &[&SnatFlow]) -> [u16; 2] {
    let all = |range: std::ops::Range<u16>| !flows.is_empty() && flows.iter().all(|f| range.contains(&f.2));
    if all(1..512) {
        [1, 511]
    } else if all(512..1024) {
        [600, 1023]
    } else {
        [1024, 65535]
    }
}

/// A rule's simple matches against a flow as POSTROUTING sees it: source
/// before SNAT, destination after any DNAT.
fn rule_matches(rule: &NatRule, flow: &SnatFlow) -> bool {
    let family_fits = match rule.family {
        NFPROTO_INET => true,
        NFPROTO_IPV4 => flow.1.is_ipv4(),
        NFPROTO_IPV6 => flow.1.is_ipv6(),
        _ => false,
    };
    let within = |net: Option<(IpAddr, u8)>, ip: IpAddr| {
        net.map_or(true, |(net, len)| in_prefix(ip, net, len))
    };
    family_fits
        && rule.l4proto.map_or(true, |p| p == flow.0)
        && rule.dport.map_or(true, |p| p == flow.6)
        && within(rule.saddr, flow.1)
        && within(rule.daddr, flow.5)
}

/// Per destination outside the node: every flow of the node towards it,
/// once — a pod's socket and the SNAT entry NAT made of it are one flow.
fn external_budgets<'a>(
    snapshot: &'a Snapshot,
    attributed: &'a Attributed<'a>,
    listening: &Listening,
    names: &RemoteNames<'a>,
    ports: u32,
) -> Vec<Budget<'a>> {
    type Flow = (IpAddr, u16, IpAddr, u16);
    let mut flows: BTreeMap<(IpAddr, u16, u8), (HashSet<Flow>, BTreeMap<IpAddr, u64>)> = BTreeMap::new();
    let mut add = |dst: (IpAddr, u16, u8), flow: Flow, source: IpAddr| {
        let (seen, sources) = flows.entry(dst).or_default();
        if seen.insert(flow) {
            *sources.entry(source).or_default() += 1;
        }
    };
    for row in outbound(attributed, listening) {
        let s = row.socket;
        let (src, dst) = (unmapped(s.local), unmapped(s.remote));
        let proto = match s.proto.transport() {
            Transport::Tcp => IPPROTO_TCP,
            Transport::Udp => IPPROTO_UDP,
        };
        // A Service address never leaves the node: the flow goes to the
        // backend the node translated it to, where its SNAT entry is too.
        let (to, to_port) = match names.of_socket(s).endpoint {
            Some(backend) => (unmapped(backend.ip()), backend.port()),
            None => (dst, s.remote_port),
        };
        if !names.is_on_node(to) {
            add((to, to_port, proto), (src, s.local_port, dst, s.remote_port), src);
        }
    }
    for flow in snapshot.namespaces.iter().filter_map(|ns| ns.snat_flows.as_ref()).flatten() {
        let (src, dst) = (unmapped(flow.1), unmapped(flow.5));
        if !names.is_on_node(dst) {
            add((dst, flow.6, flow.0), (src, flow.2, unmapped(flow.3), flow.4), src);
        }
    }
    flows
        .into_iter()
        .map(|((dst, port, proto), (seen, sources))| Budget {
            proto: Some(transport(proto)),
            dst_addr: Some(dst),
            dst_port: Some(port),
            in_use: Some(seen.len() as u64),
            available: Some(u64::from(ports)),
            sources: Some(most_first(sources, names)),
            ..Budget::empty(Scope::External)
        })
        .collect()
}

/// Sockets connected from here: not listening, not TCP's bound-only, and
/// not UDP's unconnected, whose flows no socket shows.
fn outbound<'r, 'a>(attributed: &'r Attributed<'a>, listening: &'r Listening) -> impl Iterator<Item = &'r Row<'a>> {
    attributed.rows.iter().filter(move |row| {
        !matches!(row.socket.state, TcpState::Listen | TcpState::Close)
            && listening.direction(row.netns, row.socket) == Direction::Out
    })
}

fn conntrack_rows<'a>(snapshot: &'a Snapshot, filter: &Filter) -> Vec<Budget<'a>> {
    snapshot
        .namespaces
        .iter()
        .filter_map(|ns| {
            let stats = ns.conntrack.filter(|stats| stats.entries > 0)?;
            let owner = namespace_owner(snapshot, ns.id).unwrap_or(Owner::NONE);
            filter.owner.matches(&owner).then_some(Budget {
                netns: Some(ns.id),
                namespace: owner.namespace,
                pod: owner.pod,
                conntrack: Some(stats),
                ..Budget::empty(Scope::Conntrack)
            })
        })
        .collect()
}

/// A SNAT or external row stays when its protocol is one shown, one of its
/// sources is an owner the filter names and its destination is one the
/// filter names. Its conntrack states are not socket states, so `--state`
/// leaves it be.
fn keeps_nat_row(row: &Budget<'_>, filter: &Filter) -> bool {
    let (Some(dst), Some(port), Some(proto)) = (row.dst_addr, row.dst_port, row.proto) else {
        return false;
    };
    if !filter.protocols.has(proto) {
        return false;
    }
    let from_wanted_owner = row.sources.iter().flatten().any(|source| {
        filter.owner.matches(&Owner {
            namespace: source.namespace,
            pod: source.pod,
            ..Owner::NONE
        })
    });
    from_wanted_owner
        && filter.remote.as_ref().map_or(true, |f| f.matches(dst, port, row.remote))
        && filter.port.map_or(true, |p| p == port)
}

/// A SNAT flow's protocol; conntrack.rs keeps TCP's and UDP's only.
fn transport(proto: u8) -> Transport {
    match proto {
        IPPROTO_UDP => Transport::Udp,
        _ => Transport::Tcp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribute::Attribution;
    use crate::analyze::filter::OwnerFilter;
    use crate::model::{
        testing, ContainerInfo, InterfaceAddress, PodInfo, Protocols, Socket, StateSet, Timer,
    };

    const POD_NETNS: u64 = 4026532001;
    const OTHER_POD_NETNS: u64 = 4026532002;
    const NODE_NETNS: u64 = 4026531840;

    fn everything() -> Filter {
        Filter {
            protocols: Protocols::BOTH,
            states: StateSet::EVERY,
            owner: OwnerFilter::default(),
            remote: None,
            local: None,
            port: None,
        }
    }

    fn time_wait(local: &str, remote: &str, expires_ms: u32) -> Socket {
        Socket {
            timer: Timer::TimeWait,
            expires_ms,
            ..testing::socket(local, remote, TcpState::TimeWait, 0)
        }
    }

    fn sysctls(range: [u16; 2], reserved: Vec<[u16; 2]>, tw_reuse: u8) -> Option<PortSysctls> {
        Some(PortSysctls {
            port_range: range,
            reserved,
            tw_reuse,
        })
    }

    fn pod_owner(pod: &'static str, container: &'static str) -> Owner<'static> {
        Owner {
            namespace: Some("shop"),
            pod: Some(pod),
            container: Some(container),
            attribution: Attribution::Process,
            ..Owner::NONE
        }
    }

    /// Every socket of a namespace owned by the owner of that index.
    fn attributed<'a>(snapshot: &'a Snapshot, owners: &[(u64, Owner<'a>)]) -> Attributed<'a> {
        let mut all = vec![Owner::NONE];
        all.extend(owners.iter().map(|(_, o)| o.clone()));
        let rows = snapshot
            .namespaces
            .iter()
            .flat_map(|ns| {
                let owner = owners
                    .iter()
                    .position(|(netns, _)| NetnsId::Inode(*netns) == ns.id)
                    .map_or(0, |i| i as u32 + 1);
                ns.sockets.iter().map(move |socket| Row {
                    socket,
                    netns: ns.id,
                    owner,
                    remote: 0,
                })
            })
            .collect();
        Attributed {
            owners: all,
            remotes: vec![crate::analyze::remote::Remote::UNKNOWN],
            rows,
        }
    }

    /// The pod's 30-port range holds a reserved port, a listener and a
    /// bound-only socket: 27 ports for connect(); 8 are in use towards
    /// 198.18.65.4:9000, TIME_WAIT included, so 29.6 %.
    fn narrow_pod() -> Snapshot {
        let mut snapshot = testing::snapshot();
        let mut sockets = vec![
            testing::socket("0.0.0.0:45020", "0.0.0.0:0", TcpState::Listen, 1),
            testing::socket("0.0.0.0:8080", "0.0.0.0:0", TcpState::Listen, 2),
            testing::socket("0.0.0.0:45025", "0.0.0.0:0", TcpState::Close, 3),
            // Accepted by the listener inside the range: inbound, no budget.
            testing::socket("198.18.64.4:45020", "198.18.65.9:50000", TcpState::Established, 4),
            // Bound to a port outside the range before connecting.
            testing::socket("198.18.64.4:30000", "198.18.65.4:9000", TcpState::Established, 5),
            time_wait("198.18.64.4:45005", "198.18.65.4:9000", 30_000),
            time_wait("198.18.64.4:45006", "198.18.65.4:9000", 12_000),
            time_wait("198.18.64.4:45007", "198.18.65.4:9000", 50_000),
        ];
        for port in 45000..45005 {
            sockets.push(testing::socket(
                &format!("198.18.64.4:{port}"),
                "198.18.65.4:9000",
                TcpState::Established,
                10 + port as u64,
            ));
        }
        snapshot.namespaces.push(NetnsSnapshot {
            sysctls: sysctls([45000, 45029], vec![[45010, 45010], [45020, 45020]], 2),
            ..NetnsSnapshot::new(NetnsId::Inode(POD_NETNS), sockets)
        });
        snapshot
    }

    #[test]
    fn connect_budget_leaves_out_reserved_listening_and_bound_ports() {
        let snapshot = narrow_pod();
        let attributed = attributed(&snapshot, &[(POD_NETNS, pod_owner("narrow", "app"))]);
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        let row = &rows[0];
        assert_eq!(
            (row.scope, row.netns, row.pod, row.container),
            (Scope::Netns, Some(NetnsId::Inode(POD_NETNS)), Some("narrow"), Some("app"))
        );
        assert_eq!(row.src_addr, Some("198.18.64.4".parse().unwrap()));
        assert_eq!((row.dst_addr, row.dst_port), (Some("198.18.65.4".parse().unwrap()), Some(9000)));
        // 30 ports, less reserved 45010, and 45020 (reserved and listened
        // on: once), and bound 45025.
        assert_eq!(row.available, Some(27));
        assert_eq!(row.in_use, Some(8));
        assert_eq!(row.used_pct(), Some(29.6));
        assert_eq!(row.states, vec![("ESTABLISHED", 5), ("TIME_WAIT", 3)]);
        assert_eq!(row.next_free_ms, Some(12_000));
    }

    #[test]
    fn time_wait_to_loopback_is_free_under_tw_reuse_2_and_held_under_0() {
        for (tw_reuse, in_use) in [(2, 0), (0, 2), (1, 0)] {
            let mut snapshot = testing::snapshot();
            let sockets = vec![
                time_wait("127.0.0.1:40001", "127.0.0.1:8081", 5_000),
                time_wait("127.0.0.1:40002", "127.0.0.1:8081", 6_000),
            ];
            snapshot.namespaces.push(NetnsSnapshot {
                sysctls: sysctls([32768, 60999], vec![], tw_reuse),
                ..NetnsSnapshot::new(NetnsId::Inode(POD_NETNS), sockets)
            });
            let attributed = attributed(&snapshot, &[]);
            let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
            assert_eq!(rows[0].in_use, Some(in_use), "tcp_tw_reuse {tw_reuse}");
            assert_eq!(rows[0].states, vec![("TIME_WAIT", 2)]);
            assert_eq!(rows[0].available, Some(60999 - 32768 + 1));
            assert_eq!(rows[0].next_free_ms, (in_use > 0).then_some(5_000));
        }
        // Towards another address, tcp_tw_reuse 1 frees them too.
        let mut snapshot = testing::snapshot();
        snapshot.namespaces.push(NetnsSnapshot {
            sysctls: sysctls([32768, 60999], vec![], 1),
            ..NetnsSnapshot::new(
                NetnsId::Inode(POD_NETNS),
                vec![time_wait("10.0.0.1:40001", "10.0.0.2:80", 5_000)],
            )
        });
        let attributed = attributed(&snapshot, &[]);
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        assert_eq!(rows[0].in_use, Some(0));
    }

    #[test]
    fn unknown_sysctls_leave_available_unknown_and_count_every_port() {
        let mut snapshot = narrow_pod();
        snapshot.namespaces[0].sysctls = None;
        let attributed = attributed(&snapshot, &[]);
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        assert_eq!((rows[0].in_use, rows[0].available, rows[0].used_pct()), (Some(9), None, None));
    }

    #[test]
    fn a_budget_is_one_namespace_source_destination_and_port() {
        let mut snapshot = testing::snapshot();
        let sockets = vec![
            testing::socket("10.0.0.1:40000", "10.0.0.9:443", TcpState::Established, 1),
            // v4-mapped: the same budget.
            testing::socket("[::ffff:10.0.0.1]:40001", "[::ffff:10.0.0.9]:443", TcpState::SynSent, 2),
            testing::socket("10.0.0.1:40002", "10.0.0.9:80", TcpState::Established, 3),
            testing::socket("10.0.0.2:40000", "10.0.0.9:443", TcpState::Established, 4),
        ];
        snapshot.namespaces.push(NetnsSnapshot {
            sysctls: sysctls([40000, 40009], vec![], 2),
            ..NetnsSnapshot::new(NetnsId::Inode(POD_NETNS), sockets)
        });
        let attributed = attributed(&snapshot, &[]);
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        let keys: Vec<(String, String, u16, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.src_addr.unwrap().to_string(),
                    r.dst_addr.unwrap().to_string(),
                    r.dst_port.unwrap(),
                    r.in_use.unwrap(),
                )
            })
            .collect();
        // Fullest first: 20 % before the 10 % rows, which keep address order.
        assert_eq!(
            keys,
            vec![
                ("10.0.0.1".into(), "10.0.0.9".into(), 443, 2),
                ("10.0.0.1".into(), "10.0.0.9".into(), 80, 1),
                ("10.0.0.2".into(), "10.0.0.9".into(), 443, 1),
            ]
        );
    }

    #[test]
    fn container_is_named_only_when_every_process_socket_shares_it() {
        let snapshot = narrow_pod();
        let mut attributed = attributed(&snapshot, &[(POD_NETNS, pod_owner("narrow", "app"))]);
        attributed.owners.push(pod_owner("narrow", "sidecar"));
        let sidecar = attributed.owners.len() as u32 - 1;
        let last = attributed.rows.len() - 1;
        attributed.rows[last].owner = sidecar;
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        assert_eq!((rows[0].pod, rows[0].container), (Some("narrow"), None));
        // Sockets no process holds (TIME_WAIT) do not hide the container.
        attributed.rows[last].owner = 1;
        let pod_level = Owner {
            container: None,
            attribution: Attribution::Netns,
            ..pod_owner("narrow", "")
        };
        attributed.owners.push(pod_level);
        let timewait = attributed
            .rows
            .iter()
            .position(|r| r.socket.state == TcpState::TimeWait)
            .unwrap();
        attributed.rows[timewait].owner = attributed.owners.len() as u32 - 1;
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        assert_eq!(rows[0].container, Some("app"));
        // `--watch` names sockets by cgroup and TIME_WAITs by history: they
        // name the container as a process does (found by a user: `--watch
        // --ports` showed `-` where `--ports` named the container).
        let pod_level = attributed.rows[timewait].owner;
        for how in [Attribution::Cgroup, Attribution::History] {
            attributed.rows[timewait].owner = pod_level;
            for owner in &mut attributed.owners {
                if owner.attribution.found_for_the_socket() {
                    owner.attribution = how;
                }
            }
            let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
            assert_eq!(rows[0].container, Some("app"), "{how:?}");
            attributed.owners.push(Owner {
                attribution: how,
                ..pod_owner("narrow", "sidecar")
            });
            attributed.rows[timewait].owner = attributed.owners.len() as u32 - 1;
            let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
            assert_eq!(rows[0].container, None, "{how:?}");
        }
    }

    fn flow(src: &str, dst: &str, nat: &str, nat_port: u16, backend: &str, state: u8) -> SnatFlow {
        let src: std::net::SocketAddr = src.parse().unwrap();
        let dst: std::net::SocketAddr = dst.parse().unwrap();
        let backend: std::net::SocketAddr = backend.parse().unwrap();
        SnatFlow(
            IPPROTO_TCP,
            src.ip(),
            src.port(),
            dst.ip(),
            dst.port(),
            backend.ip(),
            backend.port(),
            nat.parse().unwrap(),
            nat_port,
            0,
            Some(state),
            Some(100),
        )
    }

    fn address(ip: &str) -> InterfaceAddress {
        InterfaceAddress {
            address: ip.parse().unwrap(),
            prefix_len: 24,
        }
    }

    /// Two pods behind the node's MASQUERADE towards 198.18.65.2:8080,
    /// whose rule allows 41000-41039: 5 of 40 ports.
    fn nat_node() -> Snapshot {
        let mut snapshot = testing::snapshot();
        let rule = |ports: [u16; 2], daddr: &str| NatRule {
            family: NFPROTO_IPV4,
            ports: Some(ports),
            l4proto: Some(IPPROTO_TCP),
            dport: Some(8080),
            saddr: Some(("198.18.64.0".parse().unwrap(), 24)),
            daddr: Some((daddr.parse().unwrap(), 32)),
            partial: false,
        };
        let mut flows = Vec::new();
        for (i, pod) in ["198.18.64.2", "198.18.64.2", "198.18.64.2", "198.18.64.3", "198.18.64.3"]
            .iter()
            .enumerate()
        {
            let state = if i == 0 { 7 } else { 3 };
            flows.push(flow(
                &format!("{pod}:{}", 50000 + i),
                "198.18.65.2:8080",
                "198.18.65.1",
                41000 + i as u16,
                "198.18.65.2:8080",
                state,
            ));
        }
        snapshot.namespaces.push(NetnsSnapshot {
            addresses: Some(vec![address("198.18.64.1"), address("198.18.65.1")]),
            conntrack: Some(ConntrackStats {
                entries: 5,
                max: Some(262144),
                insert_failed: 3,
                drop: 3,
                early_drop: 0,
            }),
            snat_flows: Some(flows),
            nat_rules: Some(vec![rule([41000, 41039], "198.18.65.2"), rule([42000, 42009], "198.18.65.3")]),
            ..NetnsSnapshot::new(NetnsId::Inode(NODE_NETNS), vec![])
        });
        // The pods' sandboxes name their namespaces, as on a real node.
        for (netns, pod) in [(POD_NETNS, "web-a"), (OTHER_POD_NETNS, "web-b")] {
            let sandbox = format!("sandbox-{pod}");
            snapshot.sandbox_netns.insert(netns, sandbox.clone());
            snapshot.catalog.containers.insert(
                sandbox.clone(),
                ContainerInfo {
                    pod: Some(PodInfo {
                        namespace: "shop".into(),
                        name: pod.into(),
                        uid: None,
                    }),
                    sandbox: true,
                    ..ContainerInfo::unnamed(sandbox)
                },
            );
        }
        // Each pod's open socket is also the first entry NAT made of it.
        for (netns, ip, port) in [(POD_NETNS, "198.18.64.2", 50000), (OTHER_POD_NETNS, "198.18.64.3", 50003)] {
            snapshot.namespaces.push(NetnsSnapshot {
                addresses: Some(vec![address(ip), address("127.0.0.1")]),
                ..NetnsSnapshot::new(
                    NetnsId::Inode(netns),
                    vec![testing::socket(&format!("{ip}:{port}"), "198.18.65.2:8080", TcpState::Established, netns)],
                )
            });
        }
        snapshot
    }

    fn nat_owners() -> [(u64, Owner<'static>); 2] {
        [(POD_NETNS, pod_owner("web-a", "app")), (OTHER_POD_NETNS, pod_owner("web-b", "app"))]
    }

    #[test]
    fn snat_budget_takes_the_rule_range_and_names_the_pods_behind_it() {
        let snapshot = nat_node();
        let attributed = attributed(&snapshot, &nat_owners());
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        let snat: Vec<&Budget> = rows.iter().filter(|r| r.scope == Scope::Snat).collect();
        assert_eq!(snat.len(), 1, "{rows:#?}");
        let row = snat[0];
        assert_eq!(row.netns, Some(NetnsId::Inode(NODE_NETNS)));
        assert_eq!(row.src_addr, Some("198.18.65.1".parse().unwrap()));
        assert_eq!((row.in_use, row.available), (Some(5), Some(40)));
        assert_eq!(row.used_pct(), Some(12.5));
        assert_eq!(row.states, vec![("ESTABLISHED", 4), ("TIME_WAIT", 1)]);
        assert_eq!(row.next_free_ms, Some(100_000));
        assert_eq!((row.namespace, row.pod), (None, None), "two pods share it");
        let sources: Vec<(Option<&str>, u64)> =
            row.sources.as_ref().unwrap().iter().map(|s| (s.pod, s.count)).collect();
        assert_eq!(sources, vec![(Some("web-a"), 3), (Some("web-b"), 2)]);
        // The conntrack counters come last.
        let last = rows.last().unwrap();
        assert_eq!(last.scope, Scope::Conntrack);
        assert_eq!(last.conntrack.map(|c| (c.entries, c.insert_failed)), Some((5, 3)));
    }

    #[test]
    fn snat_range_falls_back_to_ports_inside_one_rule_then_to_the_default() {
        let snapshot = nat_node();
        let flows: Vec<&SnatFlow> = snapshot.namespaces[0].snat_flows.as_ref().unwrap().iter().collect();
        let mut rules = snapshot.namespaces[0].nat_rules.clone().unwrap();
        // Matches that do not decide: both rules match every flow, and only
        // the first holds its NAT ports.
        for rule in &mut rules {
            rule.daddr = None;
        }
        assert_eq!(snat_capacity(Some(&rules), &flows), 40);
        // No rule holds them: the kernel's default for unprivileged ports.
        rules[0].ports = Some([43000, 43009]);
        assert_eq!(snat_capacity(Some(&rules), &flows), 64512);
        assert_eq!(snat_capacity(None, &flows), 64512);
        // A rule without ports: the default too.
        assert_eq!(
            snat_capacity(Some(&[NatRule { ports: None, ..rules[0].clone() }]), &flows),
            64512
        );
        // Privileged source ports map into 600-1023.
        let mut privileged = flows[0].clone();
        privileged.2 = 700;
        assert_eq!(snat_capacity(None, &[&privileged]), 424);
    }

    #[test]
    fn owner_filters_keep_snat_rows_with_a_matching_source() {
        let snapshot = nat_node();
        let attributed = attributed(&snapshot, &nat_owners());
        let mut filter = everything();
        filter.owner.pod = Some("web-b".into());
        let rows = budgets(&snapshot, &attributed, &filter, None, usize::MAX);
        let scopes: Vec<(Scope, Option<&str>)> = rows.iter().map(|r| (r.scope, r.pod)).collect();
        // web-b's own budget, and the SNAT row it shares; the node's
        // conntrack row belongs to no pod.
        assert_eq!(scopes, vec![(Scope::Snat, None), (Scope::Netns, Some("web-b"))]);
        filter.owner.pod = Some("nobody".into());
        assert!(budgets(&snapshot, &attributed, &filter, None, usize::MAX).is_empty());
    }

    #[test]
    fn external_budget_counts_each_flow_once() {
        let snapshot = nat_node();
        let attributed = attributed(&snapshot, &nat_owners());
        let rows = budgets(&snapshot, &attributed, &everything(), Some(10), usize::MAX);
        let external: Vec<&Budget> = rows.iter().filter(|r| r.scope == Scope::External).collect();
        assert_eq!(external.len(), 1, "{rows:#?}");
        // The pods' sockets 198.18.64.2:50000 and .3:50003 are also SNAT
        // entries: 5 flows, not 7.
        assert_eq!((external[0].in_use, external[0].available), (Some(5), Some(10)));
        assert_eq!(external[0].used_pct(), Some(50.0));
        assert_eq!(external[0].dst_addr, Some("198.18.65.2".parse().unwrap()));
    }

    /// A pod whose 30-port range holds one reserved port: DNS queries from
    /// three ports of it (two sockets share one, as SO_REUSEPORT allows),
    /// an unconnected socket on a fourth, one on the reserved port and a
    /// DNS server on 53, outside the range; and TCP: a listener, and a
    /// connection from the port the unconnected UDP socket holds.
    fn udp_pod() -> Snapshot {
        let mut snapshot = testing::snapshot();
        let dns = "198.18.64.53:53";
        let sockets = vec![
            testing::udp_socket("198.18.64.4:45001", dns, TcpState::Established, 1),
            testing::udp_socket("198.18.64.4:45002", dns, TcpState::Established, 2),
            testing::udp_socket("198.18.64.4:45003", dns, TcpState::Established, 3),
            testing::udp_socket("198.18.64.4:45003", "198.18.64.54:53", TcpState::Established, 4),
            testing::udp_socket("0.0.0.0:45004", "0.0.0.0:0", TcpState::Close, 5),
            testing::udp_socket("0.0.0.0:45010", "0.0.0.0:0", TcpState::Close, 6),
            testing::udp_socket("0.0.0.0:53", "0.0.0.0:0", TcpState::Close, 7),
            testing::socket("0.0.0.0:8080", "0.0.0.0:0", TcpState::Listen, 8),
            testing::socket("198.18.64.4:45004", "198.18.65.4:9000", TcpState::Established, 9),
        ];
        snapshot.namespaces.push(NetnsSnapshot {
            sysctls: sysctls([45000, 45029], vec![[45010, 45010]], 2),
            ..NetnsSnapshot::new(NetnsId::Inode(POD_NETNS), sockets)
        });
        snapshot
    }

    #[test]
    fn udp_budget_is_the_namespaces_range_against_its_distinct_ports() {
        let snapshot = udp_pod();
        let attributed = attributed(&snapshot, &[(POD_NETNS, pod_owner("resolver", "app"))]);
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        let udp: Vec<&Budget> = rows.iter().filter(|r| r.proto == Some(Transport::Udp)).collect();
        assert_eq!(udp.len(), 1, "{rows:#?}");
        let row = udp[0];
        assert_eq!(
            (row.scope, row.netns, row.pod, row.container),
            (Scope::Netns, Some(NetnsId::Inode(POD_NETNS)), Some("resolver"), Some("app"))
        );
        assert_eq!((row.src_addr, row.dst_addr, row.dst_port), (None, None, None));
        // 45001, 45002, 45003 (twice) and 45004; not the reserved 45010,
        // nor 53. 30 ports less the reserved one: 4 of 29.
        assert_eq!((row.in_use, row.available), (Some(4), Some(29)));
        assert_eq!(row.used_pct(), Some(13.8));
        assert_eq!(row.states, vec![("ESTABLISHED", 4), ("UNCONN", 1)]);
        assert_eq!(row.next_free_ms, None);
        // TCP's port space is another: the UDP socket on 45004 takes
        // nothing from the TCP connection's budget.
        let tcp: Vec<&Budget> = rows.iter().filter(|r| r.proto == Some(Transport::Tcp)).collect();
        assert_eq!(tcp.len(), 1, "{rows:#?}");
        assert_eq!((tcp[0].in_use, tcp[0].available), (Some(1), Some(29)));
        assert_eq!(tcp[0].dst_port, Some(9000));
        // -t and -u pick the budgets of their protocol.
        for (protocols, want) in [(Protocols::TCP, Transport::Tcp), (Protocols { tcp: false, udp: true }, Transport::Udp)] {
            let filter = Filter { protocols, ..everything() };
            let rows = budgets(&snapshot, &attributed, &filter, None, usize::MAX);
            assert_eq!(rows.iter().map(|r| r.proto).collect::<Vec<_>>(), [Some(want)]);
        }
    }

    #[test]
    fn udp_snat_entries_count_towards_their_destination_apart_from_tcp() {
        let mut snapshot = nat_node();
        let mut query = flow("198.18.64.2:50100", "198.18.65.53:53", "198.18.65.1", 50100, "198.18.65.53:53", 0);
        query.0 = IPPROTO_UDP;
        query.10 = None;
        let mut answer_pending = query.clone();
        answer_pending.2 = 50101;
        answer_pending.8 = 50101;
        let flows = snapshot.namespaces[0].snat_flows.as_mut().unwrap();
        flows.extend([query, answer_pending]);
        let attributed = attributed(&snapshot, &nat_owners());
        let rows = budgets(&snapshot, &attributed, &everything(), None, usize::MAX);
        let udp: Vec<&Budget> = rows
            .iter()
            .filter(|r| r.scope == Scope::Snat && r.proto == Some(Transport::Udp))
            .collect();
        assert_eq!(udp.len(), 1, "{rows:#?}");
        // The nft rules are TCP's: UDP takes the kernel's default range.
        assert_eq!((udp[0].in_use, udp[0].available), (Some(2), Some(64512)));
        assert_eq!(udp[0].dst_addr, Some("198.18.65.53".parse().unwrap()));
        assert_eq!(udp[0].pod, Some("web-a"));
        // The TCP row towards 198.18.65.2:8080 still counts its 5.
        let tcp = rows.iter().find(|r| r.scope == Scope::Snat && r.proto == Some(Transport::Tcp)).unwrap();
        assert_eq!(tcp.in_use, Some(5));
        let tcp_only = Filter { protocols: Protocols::TCP, ..everything() };
        let rows = budgets(&snapshot, &attributed, &tcp_only, None, usize::MAX);
        assert!(rows.iter().all(|r| r.proto != Some(Transport::Udp)), "{rows:#?}");
    }

    #[test]
    fn top_keeps_the_fullest_budgets_and_every_conntrack_row() {
        let snapshot = nat_node();
        let attributed = attributed(&snapshot, &nat_owners());
        let rows = budgets(&snapshot, &attributed, &everything(), None, 1);
        let scopes: Vec<Scope> = rows.iter().map(|r| r.scope).collect();
        assert_eq!(scopes, vec![Scope::Snat, Scope::Conntrack]);
    }

    #[test]
    fn external_budget_counts_a_service_flow_under_its_backend_once() {
        let mut snapshot = nat_node();
        let vip = "10.96.0.1:80";
        let pod_a = snapshot
            .namespaces
            .iter_mut()
            .find(|ns| ns.id == NetnsId::Inode(POD_NETNS))
            .unwrap();
        pod_a.sockets.push(testing::socket(
            "198.18.64.2:50100",
            vip,
            TcpState::TimeWait,
            0,
        ));
        let node = &mut snapshot.namespaces[0];
        node.dnat_flows = Some(vec![crate::model::DnatFlow(
            IPPROTO_TCP,
            "198.18.64.2".parse().unwrap(),
            50100,
            "10.96.0.1".parse().unwrap(),
            80,
            "198.18.65.9".parse().unwrap(),
            8080,
        )]);
        node.snat_flows.as_mut().unwrap().push(flow(
            "198.18.64.2:50100",
            vip,
            "198.18.65.1",
            41900,
            "198.18.65.9:8080",
            7,
        ));
        let attributed = attributed(&snapshot, &nat_owners());
        let rows = budgets(&snapshot, &attributed, &everything(), Some(10), usize::MAX);
        let external: Vec<(String, u16, u64)> = rows
            .iter()
            .filter(|r| r.scope == Scope::External)
            .map(|r| (r.dst_addr.unwrap().to_string(), r.dst_port.unwrap(), r.in_use.unwrap()))
            .collect();
        assert_eq!(
            external,
            vec![("198.18.65.2".into(), 8080, 5), ("198.18.65.9".into(), 8080, 1)]
        );
    }

    #[test]
    fn sources_are_listed_most_flows_first() {
        let snapshot = nat_node();
        let names = RemoteNames::of(&snapshot);
        let ip = |text: &str| -> IpAddr { text.parse().unwrap() };
        let counts = BTreeMap::from([
            (ip("198.18.64.2"), 15),
            (ip("198.18.64.3"), 19),
            (ip("198.18.64.9"), 15),
        ]);
        let order: Vec<(IpAddr, u64)> = most_first(counts, &names)
            .iter()
            .map(|s| (s.src_addr, s.count))
            .collect();
        assert_eq!(
            order,
            vec![
                (ip("198.18.64.3"), 19),
                (ip("198.18.64.2"), 15),
                (ip("198.18.64.9"), 15)
            ]
        );
    }
}
