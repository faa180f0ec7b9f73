//! What a network namespace holds beyond its sockets: its addresses and
//! destination NAT entries, which name remote addresses, and what port
//! budgets need: its port sysctls (there is no `/proc/<pid>/sys`, so they
//! are read by a thread inside the namespace), and, where its conntrack
//! table holds entries, the counters, the source NAT entries and the NAT
//! rules (ports.md §1.9, §4, §6).

use std::path::Path;

use super::files::{self, Cap};
use crate::model::{
    ConntrackStats, DnatFlow, InterfaceAddress, NatRule, NetworkPart, PortSysctls, SnatFlow,
    Warning,
};
use crate::netlink::{addr, conntrack, nftables};
use crate::parse::nf_conntrack_stat::ConntrackStat;
use crate::parse::sysctl;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Which parts of a namespace's network to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parts {
    None,
    /// What names remote addresses: the interface addresses, the conntrack
    /// counters, and the destination NAT entries where the table holds any.
    Names,
    /// Those, and what port budgets need: the port sysctls, the source NAT
    /// entries and the NAT rules.
    Everything,
}

#[derive(Debug, Default)]
pub struct Network {
    pub sysctls: Option<PortSysctls>,
    pub addresses: Option<Vec<InterfaceAddress>>,
    pub conntrack: Option<ConntrackStats>,
    pub snat_flows: Option<Vec<SnatFlow>>,
    pub nat_rules: Option<Vec<NatRule>>,
    pub dnat_flows: Option<Vec<DnatFlow>>,
    pub warnings: Vec<Warning>,
}

/// Reads `parts` from the calling thread, which has entered the namespace
/// `netns` (netns_enter.rs).
pub fn read_inside(netns: Option<u64>, parts: Parts) -> Network {
    let mut network = Network::default();
    if parts == Parts::None {
        return network;
    }
    let everything = parts == Parts::Everything;
    let note = |what, error| Warning::NetworkUnreadable { netns, what, error };
    if everything {
        match read_sysctls() {
            Ok(sysctls) => network.sysctls = Some(sysctls),
            Err(error) => network.warnings.push(note(NetworkPart::PortSysctls, error)),
        }
    }
    match addr::dump_addresses() {
        Ok(addresses) => {
            network.addresses = Some(
                addresses
                    .into_iter()
                    .map(|a| InterfaceAddress {
                        address: a.address,
                        prefix_len: a.prefix_len,
                    })
                    .collect(),
            )
        }
        Err(error) => network.warnings.push(note(NetworkPart::Addresses, error.to_string())),
    }
    network.conntrack =
        match read_conntrack_stats(Path::new("/proc/thread-self/net/stat/nf_conntrack")) {
            Ok(stats) => stats,
            Err(error) => {
                network.warnings.push(note(NetworkPart::ConntrackCounters, error));
                None
            }
        };
    if !network.conntrack.is_some_and(|stats| stats.entries > 0) {
        return network;
    }
    // Each dump walks the node-wide table; the kernel sends only the
    // entries with the status bit asked for.
    let dump = |selection, keep: fn(&conntrack::Entry) -> bool| {
        let mut entries = Vec::new();
        conntrack::dump(selection, |entry| {
            if keep(&entry) {
                entries.push(entry)
            }
        })
        .map(|_| entries)
    };
    match dump(conntrack::Selection::DestinationNat, is_tcp_or_udp) {
        Ok(entries) => network.dnat_flows = Some(entries.iter().filter_map(dnat_flow).collect()),
        Err(error) => network.warnings.push(note(NetworkPart::ConntrackTable, error.to_string())),
    }
    if !everything {
        return network;
    }
    match dump(conntrack::Selection::SourceNat, is_tcp_or_udp) {
        Ok(entries) => network.snat_flows = Some(entries.iter().filter_map(snat_flow).collect()),
        Err(error) => network.warnings.push(note(NetworkPart::ConntrackTable, error.to_string())),
    }
    match nftables::dump_nat_rules() {
        Ok(rules) => network.nat_rules = Some(rules.iter().map(nat_rule).collect()),
        Err(error) => network.warnings.push(note(NetworkPart::NatRules, error.to_string())),
    }
    if let Some(table) = legacy_nat_table() {
        network.warnings.push(note(
            NetworkPart::LegacyNatRules,
            format!("{table} lists an iptables-legacy nat table, which netlink cannot read"),
        ));
    }
    network
}

fn is_tcp_or_udp(entry: &conntrack::Entry) -> bool {
    matches!(entry.original.protocol, IPPROTO_TCP | IPPROTO_UDP)
}

/// The file naming the namespace's iptables-legacy tables when one of
/// them is a nat table: its rules are x_tables blobs, not nftables.
fn legacy_nat_table() -> Option<&'static str> {
    let mut buf = Vec::new();
    ["/proc/thread-self/net/ip_tables_names", "/proc/thread-self/net/ip6_tables_names"]
        .into_iter()
        .find(|path| {
            files::read_path(Path::new(path), Cap::SYSCTL, &mut buf).is_ok()
                && buf.split(|b| *b == b'\n').any(|name| name == b"nat")
        })
}

fn read_sysctls() -> Result<PortSysctls, String> {
    let mut buf = Vec::new();
    let mut read = |path: &str| {
        files::read_path(Path::new(path), Cap::SYSCTL, &mut buf)
            .map(|()| buf.clone())
            .map_err(|err| format!("{path}: {err}"))
    };
    let range = sysctl::parse_port_range(&read(sysctl::IP_LOCAL_PORT_RANGE)?)
        .map_err(|err| err.to_string())?;
    let reserved = sysctl::ReservedPorts::parse(&read(sysctl::IP_LOCAL_RESERVED_PORTS)?)
        .map_err(|err| err.to_string())?;
    let tw_reuse = match sysctl::parse_tw_reuse(&read(sysctl::TCP_TW_REUSE)?).map_err(|err| err.to_string())? {
        sysctl::TwReuse::Off => 0,
        sysctl::TwReuse::On => 1,
        sysctl::TwReuse::LoopbackOnly => 2,
    };
    Ok(PortSysctls {
        port_range: [*range.start(), *range.end()],
        reserved: reserved
            .ranges()
            .iter()
            .map(|r| [*r.start(), *r.end()])
            .collect(),
        tw_reuse,
    })
}

/// The namespace's conntrack counters from its `net/stat/nf_conntrack`
/// (readable through any process of the namespace, or from inside);
/// None where conntrack is not loaded.
pub fn read_conntrack_stats(path: &Path) -> Result<Option<ConntrackStats>, String> {
    let mut buf = Vec::new();
    match files::read_path(path, Cap::CONNTRACK_STAT, &mut buf) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("{}: {err}", path.display())),
    }
    let stat = ConntrackStat::parse(&buf).map_err(|err| format!("{}: {err}", path.display()))?;
    let mut max = Vec::new();
    let max = files::read_path(Path::new(sysctl::NF_CONNTRACK_MAX), Cap::SYSCTL, &mut max)
        .ok()
        .and_then(|()| sysctl::parse_conntrack_max(&max).ok())
        .map(u64::from);
    Ok(Some(ConntrackStats {
        entries: stat.entries().unwrap_or(0),
        max,
        insert_failed: stat.insert_failed().unwrap_or(0),
        drop: stat.drop().unwrap_or(0),
        early_drop: stat.early_drop().unwrap_or(0),
    }))
}

/// An entry of the source NAT dump; None where it lacks a port.
fn snat_flow(entry: &conntrack::Entry) -> Option<SnatFlow> {
    let (o, r) = (&entry.original, &entry.reply);
    Some(SnatFlow(
        o.protocol,
        o.src,
        o.src_port?,
        o.dst,
        o.dst_port?,
        r.src,
        r.src_port?,
        r.dst,
        r.dst_port?,
        entry.zone,
        entry.tcp.map(|tcp| tcp.state.code()),
        entry.timeout,
    ))
}

/// An entry of the destination NAT dump; None where it lacks a port.
fn dnat_flow(entry: &conntrack::Entry) -> Option<DnatFlow> {
    let (o, r) = (&entry.original, &entry.reply);
    Some(DnatFlow(
        o.protocol,
        o.src,
        o.src_port?,
        o.dst,
        o.dst_port?,
        r.src,
        r.src_port?,
    ))
}

fn nat_rule(rule: &nftables::NatRule) -> NatRule {
    NatRule {
        family: rule.family,
        ports: rule.ports.as_ref().map(|r| [*r.start(), *r.end()]),
        l4proto: rule.matches.l4proto,
        dport: rule.matches.dport,
        saddr: rule.matches.saddr,
        daddr: rule.matches.daddr,
        partial: !rule.matches.not_understood.is_empty() || !rule.problems.is_empty(),
    }
}
