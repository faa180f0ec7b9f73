//! The aligned table for people. Every name passes through the one
//! escaper, so a crafted container name cannot drive the terminal. Where a
//! name is missing the table says why: `(pod)` for a pod's sockets that no
//! process holds, `(kernel)` for the kernel's own sockets, `(host)` for the
//! node's own namespace, `(netns N)` for a
//! namespace whose owner is unknown, `*` where a group's sockets differ.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use crate::analyze::attribute::{Attributed, Attribution, Owner, Row};
use crate::analyze::ports::{Budget, Scope, Source, ALERT_PCT};
use crate::analyze::remote::{Remote, RemoteKind, RemoteName};
use crate::analyze::summary::{Field, Group, Grouping, Key};
use crate::escape::for_terminal;
use crate::model::{NetnsId, Timer, Transport};

pub(super) const DASH: &str = "-";
/// The container of a socket the kernel holds.
const KERNEL: &str = "(kernel)";
pub(super) const SEVERAL: &str = "*";
/// A number that could not be read.
pub(super) const UNKNOWN: &str = "?";

pub fn table_rows(
    out: &mut impl Write,
    attributed: &Attributed<'_>,
    rows: &[Row<'_>],
    host_netns: Option<u64>,
    timers: bool,
) -> io::Result<()> {
    let header = [
        "NAMESPACE",
        "POD",
        "CONTAINER",
        "PID",
        "PROCESS",
        "PROTO",
        "LOCAL",
        "REMOTE",
        "STATE",
        "TIMER",
    ];
    let mut shown = [true; 10];
    shown[9] = timers;
    let cells = |row: &Row<'_>| -> [Cell; 10] {
        let owner = attributed.owner(row);
        let s = row.socket;
        let in_host = row.netns.inode().is_some() && row.netns.inode() == host_netns;
        [
            namespace_cell(owner.namespace, in_host),
            Cell::name(owner.pod),
            container_cell(owner),
            Cell::Number(owner.pid.map(u64::from)),
            Cell::name(owner.process),
            Cell::Static(s.proto.name()),
            Cell::Endpoint(s.local, Some(s.local_port)),
            remote_cell(s.remote, Some(s.remote_port), attributed.remote(row).into()),
            Cell::Static(s.shown_state().name()),
            Cell::Timer(s.timer, s.expires_ms),
        ]
    };
    write_table(out, header, shown, rows.iter().map(cells))
}

/// The Kubernetes namespace; the node's own network namespace, which no
/// Kubernetes namespace owns, says so.
fn namespace_cell(namespace: Option<&str>, in_host: bool) -> Cell<'_> {
    match namespace {
        Some(name) => Cell::name(Some(name)),
        None if in_host => Cell::Static("(host)"),
        None => Cell::Static(DASH),
    }
}

/// The container's name, else its short id, else `(pod)` for a pod's
/// socket no process holds: any of the pod's containers may have made it;
/// `(kernel)` for a socket the kernel holds.
fn container_cell<'a>(owner: &Owner<'a>) -> Cell<'a> {
    match (owner.container, owner.container_id) {
        (Some(name), _) => Cell::name(Some(name)),
        (None, Some(id)) => Cell::name(Some(short_id(id))),
        (None, None) if owner.attribution == Attribution::Kernel => Cell::Static(KERNEL),
        (None, None) if owner.attribution == Attribution::Netns && owner.pod.is_some() => {
            Cell::Static("(pod)")
        }
        (None, None) => Cell::Static(DASH),
    }
}

/// The id `docker ps` shows.
fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

pub fn table_summary<'a>(
    out: &mut impl Write,
    groups: &[Group<'a>],
    grouping: Grouping,
    host_netns: Option<u64>,
) -> io::Result<()> {
    let header = [
        "NAMESPACE",
        "POD",
        "CONTAINER",
        "NETNS",
        "DIRECTION",
        "PROTO",
        "LOCAL",
        "REMOTE",
        "CLIENTS",
        "COUNT",
        "STATES",
    ];
    let shown = [
        true,
        true,
        true,
        grouping.has(Key::Netns),
        grouping.has(Key::Direction),
        grouping.has(Key::Proto),
        groups.iter().any(|g| g.local.is_some()),
        groups.iter().any(|g| g.remote.is_some()),
        groups.iter().any(|g| g.clients.is_some()),
        true,
        true,
    ];
    let cells = |group: &Group<'a>| summary_cells(group, host_netns);
    write_table(out, header, shown, groups.iter().map(cells))
}

fn summary_cells<'a>(group: &Group<'a>, host_netns: Option<u64>) -> [Cell<'a>; 11] {
    let mut states = String::new();
    for (state, n) in group.states() {
        let sep = if states.is_empty() { "" } else { " " };
        let _ = write!(states, "{sep}{}={n}", state.name());
    }
    let netns = group.netns.one().copied();
    let [namespace, pod, container] = owner_cells(
        group.namespace,
        group.pod,
        group.container,
        group.container_id,
        netns,
        group.pod_level,
        group.kernel,
        host_netns,
    );
    [
        namespace,
        pod,
        container,
        netns.map_or(Cell::Static(SEVERAL), Cell::NetnsNumber),
        group
            .direction
            .one()
            .map_or(Cell::Static(SEVERAL), |d| Cell::Static(d.name())),
        group
            .proto
            .one()
            .map_or(Cell::Static(SEVERAL), |p| Cell::Static(p.name())),
        group
            .local
            .map_or(Cell::Static(SEVERAL), |(ip, port)| Cell::Endpoint(ip, port)),
        group.remote.map_or(Cell::Static(SEVERAL), |(ip, port)| {
            let named = Named {
                name: group.remote_name.one().copied(),
                backend: group.remote_endpoints.map(Backend::Count),
            };
            remote_cell(ip, port, named)
        }),
        Cell::Number(group.clients),
        Cell::Number(Some(group.count)),
        Cell::Owned(states),
    ]
}

/// The NAMESPACE, POD and CONTAINER cells of a group of sockets (a row
/// of a view that counts them): `*` where its sockets differ, `(host)` for
/// the node's own namespace, `(netns N)` where nothing names the owner,
/// `(pod)` for a pod's sockets that no process holds, `(kernel)` for the
/// kernel's own.
pub(super) fn owner_cells<'a>(
    namespace: Field<&'a str>,
    pod: Field<&'a str>,
    container: Field<&'a str>,
    container_id: Field<&'a str>,
    netns: Option<NetnsId>,
    pod_level: bool,
    kernel: bool,
    host_netns: Option<u64>,
) -> [Cell<'a>; 3] {
    let namespace = match namespace {
        Field::One(name) => Cell::name(Some(name)),
        Field::Several => Cell::Static(SEVERAL),
        Field::Absent => match netns {
            Some(NetnsId::Inode(inode)) if Some(inode) == host_netns => Cell::Static("(host)"),
            // Nothing names the owner: the namespace tells groups apart.
            Some(netns)
                if pod == Field::Absent
                    && container == Field::Absent
                    && container_id == Field::Absent =>
            {
                Cell::Netns(netns)
            }
            _ => Cell::Static(DASH),
        },
    };
    let container = match (container, container_id) {
        (Field::One(name), _) => Cell::name(Some(name)),
        (Field::Absent, Field::One(id)) => Cell::name(Some(short_id(id))),
        (Field::Absent, Field::Absent) if pod_level => Cell::Static("(pod)"),
        (Field::Absent, Field::Absent) if kernel => Cell::Static(KERNEL),
        (Field::Absent, Field::Absent) => Cell::Static(DASH),
        _ => Cell::Static(SEVERAL),
    };
    [namespace, field(pod), container]
}

fn field<'a>(value: Field<&'a str>) -> Cell<'a> {
    match value {
        Field::One(name) => Cell::name(Some(name)),
        Field::Several => Cell::Static(SEVERAL),
        Field::Absent => Cell::Static(DASH),
    }
}

pub fn table_ports<'a>(
    out: &mut impl Write,
    budgets: &[Budget<'a>],
    host_netns: Option<u64>,
) -> io::Result<()> {
    let (counters, budgets): (Vec<&Budget<'a>>, Vec<&Budget<'a>>) =
        budgets.iter().partition(|b| b.scope == Scope::Conntrack);
    let shown = budget_columns_shown(&budgets);
    let cells = |b: &&Budget<'a>| budget_cells(b, host_netns);
    write_table(out, BUDGET_HEADER, shown, budgets.iter().map(cells))?;
    if counters.is_empty() {
        return Ok(());
    }
    out.write_all(b"\n")?;
    let header = [
        "NAMESPACE",
        "POD",
        "NETNS",
        "ENTRIES",
        "MAX",
        "INSERT_FAILED",
        "DROP",
        "EARLY_DROP",
    ];
    let cells = |b: &&Budget<'a>| -> [Cell<'a>; 8] {
        let stats = b.conntrack.unwrap_or_default();
        [
            budget_namespace(b, host_netns),
            Cell::name(b.pod),
            b.netns.map_or(Cell::Static(DASH), Cell::NetnsNumber),
            Cell::Number(Some(stats.entries)),
            Cell::Number(stats.max),
            Cell::Number(Some(stats.insert_failed)),
            Cell::Number(Some(stats.drop)),
            Cell::Number(Some(stats.early_drop)),
        ]
    };
    write_table(out, header, [true; 8], counters.iter().map(cells))
}

pub(super) const BUDGET_HEADER: [&str; 12] = [
    "NAMESPACE",
    "POD",
    "CONTAINER",
    "SCOPE",
    "PROTO",
    "SOURCE",
    "DESTINATION",
    "IN_USE",
    "AVAILABLE",
    "USED%",
    "NEXT_FREE",
    "SOURCES",
];

/// PROTO only when a budget is not TCP, SOURCES only when one has some.
pub(super) fn budget_columns_shown(budgets: &[&Budget<'_>]) -> [bool; 12] {
    let mut shown = [true; 12];
    shown[4] = budgets.iter().any(|b| b.proto != Some(Transport::Tcp));
    shown[11] = budgets.iter().any(|b| b.sources.is_some());
    shown
}

pub(super) fn budget_cells<'a>(b: &Budget<'a>, host_netns: Option<u64>) -> [Cell<'a>; 12] {
    let several_pods = b.sources.as_ref().is_some_and(|sources| {
        sources
            .iter()
            .any(|s| (s.namespace, s.pod) != (sources[0].namespace, sources[0].pod))
    });
    let (namespace, pod) = if several_pods {
        (Cell::Static(SEVERAL), Cell::Static(SEVERAL))
    } else {
        (budget_namespace(b, host_netns), Cell::name(b.pod))
    };
    let used = match b.used_pct() {
        Some(pct) if pct >= ALERT_PCT => Cell::Owned(format!("{pct:.1} !")),
        Some(pct) => Cell::Owned(format!("{pct:.1}")),
        None => Cell::Static(UNKNOWN),
    };
    let scope = match b.zone {
        Some(zone) if zone != 0 => Cell::Owned(format!("{} zone {zone}", b.scope.name())),
        _ => Cell::Static(b.scope.name()),
    };
    [
        namespace,
        pod,
        Cell::name(b.container),
        scope,
        Cell::Static(b.proto.map_or(DASH, |p| p.name())),
        b.src_addr.map_or(Cell::Static(DASH), |ip| Cell::Endpoint(ip, None)),
        b.dst_addr.map_or(Cell::Static(DASH), |ip| {
            let named = Named {
                name: b.remote,
                backend: b.remote_endpoints.map(Backend::Count),
            };
            remote_cell(ip, b.dst_port, named)
        }),
        Cell::Number(b.in_use),
        b.available.map_or(Cell::Static(UNKNOWN), |n| Cell::Number(Some(n))),
        used,
        b.next_free_ms
            .map_or(Cell::Static(DASH), |ms| Cell::Owned(seconds(ms))),
        b.sources.as_deref().map_or(Cell::Static(DASH), sources_cell),
    ]
}

/// A budget's Kubernetes namespace, or what its network namespace is.
fn budget_namespace<'a>(budget: &Budget<'a>, host_netns: Option<u64>) -> Cell<'a> {
    match (budget.namespace, budget.netns) {
        (Some(name), _) => Cell::name(Some(name)),
        (None, Some(NetnsId::Inode(inode))) if Some(inode) == host_netns => Cell::Static("(host)"),
        (None, Some(netns)) if budget.pod.is_none() => Cell::Netns(netns),
        (None, _) => Cell::Static(DASH),
    }
}

/// How many sources are named one by one; the rest are counted.
const SOURCES_SHOWN: usize = 3;

/// `default/web-1=120 default/web-2=40 198.18.0.9=3 +2 more`, in the
/// row's order: most first.
fn sources_cell<'a>(sources: &[Source<'a>]) -> Cell<'a> {
    let mut text = String::new();
    for source in sources.iter().take(SOURCES_SHOWN) {
        let sep = if text.is_empty() { "" } else { " " };
        let who = match (source.namespace, source.pod) {
            (Some(ns), Some(pod)) => format!("{}/{}", for_terminal(ns), for_terminal(pod)),
            _ => source.src_addr.to_string(),
        };
        let _ = write!(text, "{sep}{who}={}", source.count);
    }
    if sources.len() > SOURCES_SHOWN {
        let _ = write!(text, " +{} more", sources.len() - SOURCES_SHOWN);
    }
    Cell::Owned(text)
}

/// Milliseconds as `12.3s`.
pub(super) fn seconds(ms: u64) -> String {
    format!("{}.{}s", ms / 1000, ms % 1000 / 100)
}

/// What is known of a remote end, for its cell.
struct Named<'a> {
    name: Option<RemoteName<'a>>,
    backend: Option<Backend<'a>>,
}

enum Backend<'a> {
    One(SocketAddr, Option<RemoteName<'a>>),
    /// A group's distinct backends.
    Count(u64),
}

impl<'a> From<&Remote<'a>> for Named<'a> {
    fn from(remote: &Remote<'a>) -> Named<'a> {
        Named {
            name: remote.name,
            backend: remote
                .endpoint
                .map(|endpoint| Backend::One(endpoint, remote.backend)),
        }
    }
}

/// `10.96.0.10:53 (svc kube-system/kube-dns → 10.244.1.7:53)`: the
/// address, and what it is where something names it.
fn remote_cell<'a>(ip: IpAddr, port: Option<u16>, named: Named<'a>) -> Cell<'a> {
    if named.name.is_none() && named.backend.is_none() {
        return Cell::Endpoint(ip, port);
    }
    // A translated address is a Service's, named or not.
    let name = named.name.map_or_else(|| RemoteKind::Service.short().to_owned(), name_text);
    let backend = match named.backend {
        Some(Backend::One(endpoint, Some(backend))) => {
            format!(" → {endpoint} {}", name_text(backend))
        }
        Some(Backend::One(endpoint, None)) => format!(" → {endpoint}"),
        Some(Backend::Count(1)) => " → 1 backend".to_owned(),
        Some(Backend::Count(n)) => format!(" → {n} backends"),
        None => String::new(),
    };
    Cell::Owned(format!("{} ({name}{backend})", Cell::Endpoint(ip, port)))
}

/// `svc kube-system/kube-dns`, `pod shop/web-0`, `node node-2`, `host`.
fn name_text(name: RemoteName<'_>) -> String {
    let mut text = name.kind.short().to_owned();
    let parts: Vec<Cow<str>> = [name.namespace, name.name]
        .into_iter()
        .flatten()
        .map(for_terminal)
        .collect();
    if !parts.is_empty() {
        text.push(' ');
        text.push_str(&parts.join("/"));
    }
    text
}

pub(super) enum Cell<'a> {
    Name(Cow<'a, str>),
    Static(&'static str),
    Owned(String),
    Number(Option<u64>),
    /// An address, and its port unless that is not what the column keys.
    Endpoint(IpAddr, Option<u16>),
    /// A namespace whose owner is unknown, in a name column.
    Netns(NetnsId),
    /// The NETNS column.
    NetnsNumber(NetnsId),
    Timer(Timer, u32),
}

impl<'a> Cell<'a> {
    pub(super) fn name(value: Option<&'a str>) -> Cell<'a> {
        match value {
            Some(value) => Cell::Name(for_terminal(value)),
            None => Cell::Static(DASH),
        }
    }
}

impl fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Name(text) => f.write_str(text),
            Cell::Static(text) => f.write_str(text),
            Cell::Owned(text) => f.write_str(text),
            Cell::Number(Some(n)) => write!(f, "{n}"),
            Cell::Number(None) => f.write_str(DASH),
            Cell::Endpoint(IpAddr::V4(ip), Some(port)) => write!(f, "{ip}:{port}"),
            Cell::Endpoint(IpAddr::V6(ip), Some(port)) => write!(f, "[{ip}]:{port}"),
            Cell::Endpoint(ip, None) => write!(f, "{ip}"),
            Cell::Netns(NetnsId::Inode(inode)) => write!(f, "(netns {inode})"),
            // Read through a process whose namespace link could not be read.
            Cell::Netns(NetnsId::Hidden(pid)) => write!(f, "(netns of pid {pid})"),
            Cell::NetnsNumber(NetnsId::Inode(inode)) => write!(f, "{inode}"),
            Cell::NetnsNumber(NetnsId::Hidden(pid)) => write!(f, "pid {pid}"),
            Cell::Timer(timer, ms) => match timer.name() {
                Some(name) => write!(f, "{name} {}", seconds(u64::from(*ms))),
                None => f.write_str(DASH),
            },
        }
    }
}

/// Two passes: measure every cell, then write padded lines. The cells are
/// built again for the second pass rather than kept, so memory stays one
/// row; a row is an array on the stack, and `shown` leaves columns out.
pub(super) fn write_table<'a, const N: usize, I>(
    out: &mut impl Write,
    header: [&'static str; N],
    shown: [bool; N],
    rows: I,
) -> io::Result<()>
where
    I: Iterator<Item = [Cell<'a>; N]> + Clone,
{
    let mut widths = header.map(str::len);
    let mut measure = Measure(0);
    for row in rows.clone() {
        for (width, cell) in widths.iter_mut().zip(&row) {
            measure.0 = 0;
            let _ = write!(measure, "{cell}");
            *width = (*width).max(measure.0);
        }
    }
    let last = shown.iter().rposition(|s| *s).unwrap_or(0);
    let mut line = String::new();
    let header_cells: [Cell<'a>; N] = header.map(Cell::Static);
    for row in std::iter::once(header_cells).chain(rows) {
        line.clear();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if !shown[i] {
                continue;
            }
            let start = line.len();
            let _ = write!(line, "{cell}");
            if i < last {
                let printed = line[start..].chars().count();
                line.extend(std::iter::repeat(' ').take(width.saturating_sub(printed) + 2));
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Counts the characters a cell would print.
struct Measure(usize);

impl fmt::Write for Measure {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.chars().count();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_bracket_ipv6() {
        let v4 = Cell::Endpoint("10.0.0.1".parse().unwrap(), Some(443)).to_string();
        let v6 = Cell::Endpoint("fe80::1".parse().unwrap(), Some(80)).to_string();
        let mapped = Cell::Endpoint("::ffff:10.0.0.1".parse().unwrap(), Some(80)).to_string();
        let address = Cell::Endpoint("fe80::1".parse().unwrap(), None).to_string();
        assert_eq!(v4, "10.0.0.1:443");
        assert_eq!(v6, "[fe80::1]:80");
        assert_eq!(mapped, "[::ffff:10.0.0.1]:80");
        assert_eq!(address, "fe80::1");
    }

    #[test]
    fn table_columns_align_to_the_widest_cell() {
        let mut out = Vec::new();
        // Cells are not Clone, so rebuild them for each pass as the callers do.
        let make = |i: &usize| -> [Cell; 2] {
            match i {
                0 => [Cell::name(Some("a")), Cell::Number(Some(12345))],
                1 => [Cell::name(None), Cell::Number(None)],
                _ => [Cell::name(Some("wide\tname")), Cell::Number(Some(1))],
            }
        };
        let indices = [0usize, 1, 2];
        write_table(
            &mut out,
            ["NAME", "PID"],
            [true, true],
            indices.iter().map(make),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            // The widest name, `wide\tname` escaped, is 10 characters; two spaces separate columns.
            "NAME        PID\n\
             a           12345\n\
             -           -\n\
             wide\\tname  1\n"
        );
        let mut out = Vec::new();
        let hidden = [false, true];
        write_table(&mut out, ["NAME", "PID"], hidden, indices.iter().map(make)).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "PID\n12345\n-\n1\n");
    }

    #[test]
    fn timers_as_a_person_reads_them() {
        assert_eq!(
            Cell::Timer(Timer::TimeWait, 59_790).to_string(),
            "timewait 59.7s"
        );
        assert_eq!(
            Cell::Timer(Timer::Retransmit, 200).to_string(),
            "retransmit 0.2s"
        );
        assert_eq!(Cell::Timer(Timer::None, 0).to_string(), "-");
    }
}
