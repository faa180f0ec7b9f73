//! `--watch` for people: a frame per tick, a heading with the node's
//! totals and a table of rows, largest new rate first; the terminal view
//! shows as many rows as fit (terminal.rs draws it), a replay prints every
//! frame in turn. Cells are the tables' (table.rs), names escaped there.

use std::fmt::Write as _;

use super::table::{
    budget_cells, budget_columns_shown, owner_cells, write_table, Cell, BUDGET_HEADER, DASH,
    SEVERAL,
};
use crate::analyze::attribute::Attribution;
use crate::analyze::budget_rates::BudgetRate;
use crate::analyze::ports::{Budget, Scope};
use crate::analyze::rates::{End, NodeRates, Rate};
use crate::analyze::summary::Field;

/// A frame: its heading and its table, the table's first line its header.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub heading: Vec<String>,
    pub table: Vec<String>,
}

/// What the heading says.
pub struct Heading<'a> {
    pub hostname: &'a str,
    /// RFC 3339.
    pub wall: &'a str,
    /// The watch's interval, as asked for.
    pub every_ms: u64,
    /// The node's totals; None for the first tick, which has no rates yet.
    pub node: Option<NodeRates>,
    pub established: u64,
    pub time_wait: u64,
    /// Lines of warnings so far; the first is shown.
    pub warnings: &'a [String],
    /// Keys that work, for the terminal view.
    pub keys: bool,
}

impl Heading<'_> {
    fn lines(&self) -> Vec<String> {
        let mut first = format!(
            "cnetstat --watch  every {}  {}  {}",
            seconds(self.every_ms as f64 / 1000.0),
            self.hostname,
            self.wall
        );
        if self.keys {
            first.push_str("  (q: quit)");
        }
        let mut totals = String::from("node: ");
        match &self.node {
            Some(n) => {
                let _ = write!(
                    totals,
                    "opened {:.1}/s  accepted {:.1}/s  failed {:.1}/s  resets {:.1}/s  \
                     TIME_WAIT entered {:.1}/s  ",
                    n.opened_per_s,
                    n.accepted_per_s,
                    n.failed_per_s,
                    n.resets_per_s,
                    n.time_waits_per_s
                );
            }
            None => totals.push_str("rates from the next tick on  "),
        }
        let _ = write!(
            totals,
            "ESTABLISHED {}  TIME_WAIT {}",
            self.established, self.time_wait
        );
        match self.node.map_or(0, |n| n.without_rates) {
            0 => {}
            1 => totals.push_str("  (1 namespace new to the watch: its rates next tick)"),
            n => {
                let _ = write!(
                    totals,
                    "  ({n} namespaces new to the watch: their rates next tick)"
                );
            }
        }
        let mut lines = vec![first, totals];
        match self.warnings {
            [] => {}
            [only] => lines.push(format!("warning: {only}")),
            [first, rest @ ..] => lines.push(format!(
                "warning: {first} (+{} more on leaving)",
                rest.len()
            )),
        }
        lines.push(String::new());
        lines
    }
}

const RATE_HEADER: [&str; 12] = [
    "NAMESPACE",
    "POD",
    "CONTAINER",
    "HOW",
    "DIR",
    "PROTO",
    "DESTINATION",
    "NEW/s",
    "CLOSED/s",
    "FAILED/s",
    "ESTAB",
    "TIME_WAIT",
];

pub fn rates_frame<'a>(heading: &Heading<'_>, rows: &[Rate<'a>], host_netns: Option<u64>) -> Frame {
    let cells = |r: &Rate<'a>| -> [Cell<'a>; 12] {
        let pod_level = r.attribution == Field::One(Attribution::Netns) && r.pod.one().is_some();
        let [namespace, pod, container] = owner_cells(
            r.namespace,
            r.pod,
            r.container,
            r.container_id,
            r.netns.one().copied(),
            pod_level,
            r.attribution == Field::One(Attribution::Kernel),
            host_netns,
        );
        [
            namespace,
            pod,
            container,
            one(r.attribution, Attribution::name),
            one(r.direction, |d| d.name()),
            one(r.proto, |p| p.name()),
            match r.end {
                Field::One(End::Remote(ip, port)) => Cell::Endpoint(ip, Some(port)),
                Field::One(End::Listening(port)) => Cell::Owned(format!(":{port}")),
                Field::One(End::Unseen) => Cell::Static("(no socket seen)"),
                Field::Several => Cell::Static(SEVERAL),
                Field::Absent => Cell::Static(DASH),
            },
            rate(r.new_per_s),
            rate(r.closed_per_s),
            rate(r.failed_per_s),
            Cell::Number(Some(r.established)),
            Cell::Number(Some(r.time_wait)),
        ]
    };
    Frame {
        heading: heading.lines(),
        table: lines(|out| write_table(out, RATE_HEADER, [true; 12], rows.iter().map(cells))),
    }
}

/// The `--ports` rows of a tick (conntrack counters have no rates: they
/// stay in `--ports` without `--watch`).
pub fn budgets_frame<'a>(
    heading: &Heading<'_>,
    budgets: &[Budget<'a>],
    rates: &[BudgetRate],
    host_netns: Option<u64>,
) -> Frame {
    let rows: Vec<(&Budget<'a>, &BudgetRate)> = budgets
        .iter()
        .zip(rates)
        .filter(|(b, _)| b.scope != Scope::Conntrack)
        .collect();
    let only: Vec<&Budget<'a>> = rows.iter().map(|(b, _)| *b).collect();
    let budget_shown = budget_columns_shown(&only);
    let mut header = [""; 15];
    let mut shown = [true; 15];
    header[..12].copy_from_slice(&BUDGET_HEADER);
    shown[..12].copy_from_slice(&budget_shown);
    header[12..].copy_from_slice(&["NEW/s", "FULL_IN", "MAX/s"]);
    let cells = |(b, r): &(&Budget<'a>, &BudgetRate)| -> [Cell<'a>; 15] {
        let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11] = budget_cells(b, host_netns);
        let full_in = match (r.full_in_s, r.max_rate_per_s, r.new_per_s) {
            (Some(s), _, _) => Cell::Owned(format!("{} !", seconds(s))),
            (None, Some(_), Some(_)) => Cell::Static("never"),
            _ => Cell::Static(DASH),
        };
        [
            c0,
            c1,
            c2,
            c3,
            c4,
            c5,
            c6,
            c7,
            c8,
            c9,
            c10,
            c11,
            rate(r.new_per_s),
            full_in,
            rate(r.max_rate_per_s),
        ]
    };
    Frame {
        heading: heading.lines(),
        table: lines(|out| write_table(out, header, shown, rows.iter().map(cells))),
    }
}

/// The frame as `rows` lines of at most `cols` characters: the heading,
/// then as many table lines as fit, and a last line counting the rest.
pub fn fit(frame: &Frame, rows: usize, cols: usize) -> Vec<String> {
    let clip = |line: &String| line.chars().take(cols).collect::<String>();
    let mut shown: Vec<String> = frame.heading.iter().take(rows).map(clip).collect();
    let room = rows.saturating_sub(shown.len());
    if frame.table.len() <= room {
        shown.extend(frame.table.iter().map(clip));
    } else if room > 0 {
        let fitting = room - 1;
        shown.extend(frame.table.iter().take(fitting).map(clip));
        let rest = frame.table.len() - fitting;
        shown.push(clip(&format!(
            "… {rest} more rows (--top, or a filter, picks them)"
        )));
    }
    shown
}

/// `12.3s`, or `1m02s` past a minute.
fn seconds(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let whole = s.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

fn rate(value: Option<f64>) -> Cell<'static> {
    value.map_or(Cell::Static(DASH), |v| Cell::Owned(format!("{v:.1}")))
}

fn one<T: Copy>(field: Field<T>, name: impl Fn(T) -> &'static str) -> Cell<'static> {
    match field {
        Field::One(value) => Cell::Static(name(value)),
        Field::Several => Cell::Static(SEVERAL),
        Field::Absent => Cell::Static(DASH),
    }
}

/// A table written out, as lines.
fn lines(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Vec<String> {
    let mut out = Vec::new();
    // Writing to memory cannot fail.
    let _ = write(&mut out);
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_owned)
        .collect()
}
