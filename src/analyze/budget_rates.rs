//! `--watch --ports`: for each port budget, the rate its destination is
//! given new connections, the highest rate it can sustain, and at the
//! current rate how long until it is full.
//!
//! A port is held for the connection's life and then for a TIME_WAIT: 60 s
//! in a pod's namespace (TCP_TIMEWAIT_LEN), 120 s for a SNAT entry (its
//! conntrack TIME_WAIT timeout; on Linux 6.5 and later NAT may evict a
//! closing entry on a collision, so the SNAT figure is an upper bound of
//! the hold and the sustainable rate a lower bound). So a budget of N ports
//! sustains N ÷ hold new connections a second; at a higher rate it fills.
//! How soon: the ports held now are taken to free evenly over one hold
//! (as they do when they were taken at a steady rate), so in use grows by
//! `rate − in_use ÷ hold` a second until it reaches the available ports.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::filter::unmapped;
use super::history::TIME_WAIT_MS;
use super::ports::{Budget, Scope};
use super::rates::Tick;
use crate::model::{NetnsId, Snapshot, SnatFlow, Transport};

const IPPROTO_TCP: u8 = 6;
/// Conntrack's TCP TIME_WAIT timeout (nf_conntrack_proto_tcp.c).
const SNAT_HOLD_MS: u64 = 120_000;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BudgetRate {
    pub new_per_s: Option<f64>,
    /// None when the budget never fills at this rate, or it is unknown.
    pub full_in_s: Option<f64>,
    pub max_rate_per_s: Option<f64>,
}

/// One for each budget, in order. `tick` holds the connect() budgets'
/// rates; SNAT budgets' come from the NAT namespace's entries new since
/// `before`.
pub fn budget_rates(
    budgets: &[Budget<'_>],
    tick: &Tick<'_>,
    before: &Snapshot,
    now: &Snapshot,
) -> Vec<BudgetRate> {
    let snat = new_snat_flows(before, now);
    budgets
        .iter()
        .map(|b| {
            let (new_per_s, hold_ms) = match (b.scope, b.netns, b.src_addr, b.dst_addr, b.dst_port)
            {
                (Scope::Netns, Some(netns), Some(src), Some(dst), Some(port)) => {
                    let rate = tick.intervals.contains_key(&netns).then(|| {
                        tick.per_budget
                            .get(&(netns, src, dst, port))
                            .copied()
                            .unwrap_or(0.0)
                    });
                    (rate, Some(TIME_WAIT_MS))
                }
                (Scope::Snat, Some(netns), Some(nat), Some(dst), Some(port)) => {
                    let key = (
                        netns,
                        b.zone.unwrap_or(0),
                        nat,
                        dst,
                        port,
                        b.proto.unwrap_or(Transport::Tcp),
                    );
                    let rate = snat.seconds.get(&netns).map(|seconds| {
                        snat.counts.get(&key).copied().unwrap_or(0) as f64 / seconds
                    });
                    (rate, Some(SNAT_HOLD_MS))
                }
                // Every flow of the node to it, from the sockets; how long
                // a NAT outside the node holds a port is not known here.
                (Scope::External, _, _, Some(dst), Some(port)) => {
                    let rate = tick
                        .per_budget
                        .iter()
                        .filter(|((_, _, d, p), _)| *d == dst && *p == port)
                        .map(|(_, rate)| rate)
                        .sum();
                    (Some(rate), None)
                }
                _ => (None, None),
            };
            let max_rate_per_s = hold_ms
                .zip(b.available)
                .map(|(hold, available)| available as f64 * 1000.0 / hold as f64);
            let full_in_s = match (new_per_s, max_rate_per_s, hold_ms, b.available, b.in_use) {
                // Full now, whatever the rate: connect() is failing already.
                (_, _, _, Some(available), Some(in_use)) if in_use >= available => Some(0.0),
                (Some(rate), Some(max), Some(hold), Some(available), Some(in_use))
                    if rate > max =>
                {
                    let freed = in_use as f64 * 1000.0 / hold as f64;
                    Some((available.saturating_sub(in_use) as f64 / (rate - freed)).max(0.0))
                }
                _ => None,
            };
            BudgetRate {
                new_per_s,
                full_in_s,
                max_rate_per_s,
            }
        })
        .collect()
}

/// (NAT namespace, zone, NAT address, destination, port, protocol), as
/// ports.rs keys SNAT budgets.
type SnatKey = (NetnsId, u16, IpAddr, IpAddr, u16, Transport);

struct NewFlows {
    counts: HashMap<SnatKey, u64>,
    /// Each NAT namespace's interval, for those in both snapshots.
    seconds: HashMap<NetnsId, f64>,
}

/// SNAT entries in `now` that `before` did not hold: a flow's original
/// tuple names it for its life (its TIME_WAIT included, 120 s), so every
/// flow shorter than a tick is one too.
fn new_snat_flows(before: &Snapshot, now: &Snapshot) -> NewFlows {
    type Flow = (u8, IpAddr, u16, IpAddr, u16, u16);
    let origin = |f: &SnatFlow| -> Flow { (f.0, f.1, f.2, f.3, f.4, f.9) };
    let mut counts = HashMap::new();
    let mut seconds = HashMap::new();
    for ns in &now.namespaces {
        let Some(flows) = &ns.snat_flows else {
            continue;
        };
        let Some(earlier) = before.namespaces.iter().find(|b| b.id == ns.id) else {
            continue;
        };
        let Some(earlier_flows) = &earlier.snat_flows else {
            continue;
        };
        let at = |counters: Option<crate::model::TcpCounters>, snapshot: &Snapshot| {
            counters.map_or(snapshot.taken.boottime_ms, |c| c.read_ms)
        };
        let interval_ms = at(ns.counters, now).saturating_sub(at(earlier.counters, before));
        if interval_ms == 0 {
            continue;
        }
        seconds.insert(ns.id, interval_ms as f64 / 1000.0);
        let known: HashSet<Flow> = earlier_flows.iter().map(origin).collect();
        for flow in flows.iter().filter(|f| !known.contains(&origin(f))) {
            let proto = match flow.0 {
                IPPROTO_TCP => Transport::Tcp,
                _ => Transport::Udp,
            };
            let key = (
                ns.id,
                flow.9,
                unmapped(flow.7),
                unmapped(flow.5),
                flow.6,
                proto,
            );
            *counts.entry(key).or_default() += 1;
        }
    }
    NewFlows { counts, seconds }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(scope: Scope, in_use: u64, available: u64) -> Budget<'static> {
        Budget {
            scope,
            netns: Some(NetnsId::Inode(7)),
            zone: None,
            namespace: None,
            pod: None,
            container: None,
            proto: Some(Transport::Tcp),
            src_addr: Some("198.18.0.2".parse().unwrap()),
            dst_addr: Some("198.18.9.1".parse().unwrap()),
            dst_port: Some(5432),
            in_use: Some(in_use),
            available: Some(available),
            states: Vec::new(),
            next_free_ms: None,
            sources: None,
            conntrack: None,
            remote: None,
            remote_endpoints: None,
        }
    }

    fn tick_at(rate: f64) -> Tick<'static> {
        let key = (
            NetnsId::Inode(7),
            "198.18.0.2".parse().unwrap(),
            "198.18.9.1".parse().unwrap(),
            5432,
        );
        Tick {
            rows: Vec::new(),
            node: Default::default(),
            per_budget: HashMap::from([(key, rate)]),
            intervals: HashMap::from([(NetnsId::Inode(7), 2_000)]),
        }
    }

    #[test]
    fn a_budget_fills_only_above_what_its_time_waits_let_it_sustain() {
        let snapshot = crate::model::testing::snapshot();
        // 28,232 ports over 60 s: 470.53/s sustained. At 50/s, never full.
        let rates = budget_rates(
            &[budget(Scope::Netns, 3_000, 28_232)],
            &tick_at(50.0),
            &snapshot,
            &snapshot,
        );
        assert_eq!(rates[0].new_per_s, Some(50.0));
        assert!((rates[0].max_rate_per_s.unwrap() - 470.533).abs() < 0.001);
        assert_eq!(rates[0].full_in_s, None);
        // 600 ports: 10/s sustained. At 50/s, with 300 in use freeing 5/s:
        // 300 more ports at 45/s net, 6.67 s.
        let rates = budget_rates(
            &[budget(Scope::Netns, 300, 600)],
            &tick_at(50.0),
            &snapshot,
            &snapshot,
        );
        assert_eq!(rates[0].max_rate_per_s, Some(10.0));
        assert!((rates[0].full_in_s.unwrap() - 300.0 / 45.0).abs() < 1e-9);
        // Already full: 0, also at a rate it could sustain, or none known
        // yet (found by a user: a full budget said `never`).
        for rate in [50.0, 5.0, 0.0] {
            let rates = budget_rates(
                &[budget(Scope::Netns, 600, 600)],
                &tick_at(rate),
                &snapshot,
                &snapshot,
            );
            assert_eq!(rates[0].full_in_s, Some(0.0), "at {rate}/s");
        }
        let mut unknown = tick_at(50.0);
        unknown.intervals.clear();
        let rates = budget_rates(
            &[budget(Scope::Netns, 600, 600)],
            &unknown,
            &snapshot,
            &snapshot,
        );
        assert_eq!(rates[0].full_in_s, Some(0.0));
        // A namespace without rates this tick: unknown, not 0.
        let mut unknown = tick_at(50.0);
        unknown.intervals.clear();
        let rates = budget_rates(
            &[budget(Scope::Netns, 300, 600)],
            &unknown,
            &snapshot,
            &snapshot,
        );
        assert_eq!((rates[0].new_per_s, rates[0].full_in_s), (None, None));
    }

    #[test]
    fn snat_budgets_count_entries_new_since_the_last_tick_over_a_120_s_hold() {
        let flow = |sport: u16| {
            SnatFlow(
                6,
                "198.18.64.2".parse().unwrap(),
                sport,
                "198.18.9.1".parse().unwrap(),
                5432,
                "198.18.9.1".parse().unwrap(),
                5432,
                "198.18.0.2".parse().unwrap(),
                sport,
                0,
                Some(7),
                Some(110),
            )
        };
        let mut before = crate::model::testing::snapshot();
        before.taken.boottime_ms = 1_000;
        before.namespaces.push(crate::model::NetnsSnapshot {
            snat_flows: Some(vec![flow(40000)]),
            ..crate::model::testing::netns(7, vec![])
        });
        let mut now = before.clone();
        now.taken.boottime_ms = 3_000;
        now.namespaces[0].snat_flows = Some(vec![
            flow(40000),
            flow(40001),
            flow(40002),
            flow(40003),
            flow(40004),
        ]);
        let snat = Budget {
            zone: Some(0),
            ..budget(Scope::Snat, 5, 240)
        };
        let rates = budget_rates(&[snat], &tick_at(0.0), &before, &now);
        // 4 new over 2 s; 240 ports over 120 s sustain 2/s, so it never
        // fills at 2/s. Two more new: 3/s, 7 in use freeing 7/120 a second.
        assert_eq!(rates[0].new_per_s, Some(2.0));
        assert_eq!(rates[0].max_rate_per_s, Some(2.0));
        assert_eq!(rates[0].full_in_s, None);
        now.namespaces[0]
            .snat_flows
            .as_mut()
            .unwrap()
            .extend([flow(40005), flow(40006)]);
        let rates = budget_rates(
            &[Budget {
                zone: Some(0),
                ..budget(Scope::Snat, 7, 240)
            }],
            &tick_at(0.0),
            &before,
            &now,
        );
        assert_eq!(rates[0].new_per_s, Some(3.0));
        assert!((rates[0].full_in_s.unwrap() - 233.0 / (3.0 - 7.0 / 120.0)).abs() < 1e-9);
    }
}
