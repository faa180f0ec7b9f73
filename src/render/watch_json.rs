//! `--watch` as JSON Lines: every tick, one object per row with the
//! documented keys in order, so `cnetstat --watch 1 --format json | jq`
//! streams. Rates are per second, to three decimals.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use super::json::{json_budget, JsonBudget};
use crate::analyze::budget_rates::BudgetRate;
use crate::analyze::ports::Budget;
use crate::analyze::rates::{End, Rate};
use crate::escape::to_json;
use crate::model::NetnsId;
use crate::text::IpText;

#[derive(Serialize)]
struct JsonRate<'a> {
    ts: &'a str,
    interval_s: Option<f64>,
    netns: Option<u64>,
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    container: Option<&'a str>,
    attribution: Option<&'static str>,
    proto: Option<&'static str>,
    direction: Option<&'static str>,
    remote_addr: Option<String>,
    remote_port: Option<u16>,
    local_port: Option<u16>,
    new_per_s: Option<f64>,
    closed_per_s: Option<f64>,
    failed_per_s: Option<f64>,
    established: u64,
    time_wait: u64,
}

pub fn json_rates(out: &mut impl Write, ts: &str, rows: &[Rate<'_>]) -> io::Result<()> {
    for row in rows {
        let end = row.end.one().copied();
        let mut line = to_json(&JsonRate {
            ts,
            interval_s: row.interval_ms.one().map(|&ms| seconds(ms)),
            netns: row.netns.one().and_then(|netns| netns.inode()),
            namespace: row.namespace.one().copied(),
            pod: row.pod.one().copied(),
            container: row.container.one().copied(),
            attribution: row.attribution.one().map(|a| a.name()),
            proto: row.proto.one().map(|p| p.name()),
            direction: row.direction.one().map(|d| d.name()),
            remote_addr: match end {
                Some(End::Remote(ip, _)) => Some(IpText::new(ip).as_str().to_owned()),
                _ => None,
            },
            remote_port: match end {
                Some(End::Remote(_, port)) => Some(port),
                _ => None,
            },
            local_port: match end {
                Some(End::Listening(port)) => Some(port),
                _ => None,
            },
            new_per_s: row.new_per_s.map(rounded),
            closed_per_s: row.closed_per_s.map(rounded),
            failed_per_s: row.failed_per_s.map(rounded),
            established: row.established,
            time_wait: row.time_wait,
        })?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// A `--ports` row with the watch's keys around it.
#[derive(Serialize)]
struct JsonBudgetRate<'a> {
    ts: &'a str,
    interval_s: Option<f64>,
    #[serde(flatten)]
    budget: JsonBudget<'a>,
    new_per_s: Option<f64>,
    full_in_s: Option<f64>,
    max_rate_per_s: Option<f64>,
}

/// `intervals`: each namespace's; `interval_ms` the tick's, for rows of no
/// one namespace.
pub fn json_budget_rates(
    out: &mut impl Write,
    ts: &str,
    budgets: &[Budget<'_>],
    rates: &[BudgetRate],
    intervals: &HashMap<NetnsId, u64>,
    interval_ms: u64,
) -> io::Result<()> {
    for (budget, rate) in budgets.iter().zip(rates) {
        let interval = budget
            .netns
            .map_or(Some(interval_ms), |netns| intervals.get(&netns).copied());
        let mut line = to_json(&JsonBudgetRate {
            ts,
            interval_s: interval.map(seconds),
            budget: json_budget(budget),
            new_per_s: rate.new_per_s.map(rounded),
            full_in_s: rate.full_in_s.map(rounded),
            max_rate_per_s: rate.max_rate_per_s.map(rounded),
        })?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// Three decimals: a rate's last digits say nothing.
fn rounded(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
