//! The three steps, in order: a snapshot of the node (collected live, or a
//! recording read back), the view the user asked for (pure functions of
//! the snapshot), rendered last.

use std::fmt;
use std::io::{self, Write};

use crate::analyze::attribute::Attributed;
use crate::analyze::direction::Listening;
use crate::analyze::{attribute, order, ports, summary, warnings};
use crate::cli::{FileArg, Format};
use crate::collect::{self, CollectError};
use crate::config::{Config, Show, Source, View};
use crate::diag;
use crate::model::Snapshot;
use crate::record::{self, RecordError};
use crate::render::{json, table};
use crate::watch;

#[derive(Debug)]
pub enum AppError {
    Collect(CollectError),
    Record(RecordError),
    Output(io::Error),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Collect(err) => err.fmt(f),
            AppError::Record(err) => err.fmt(f),
            AppError::Output(err) => write!(f, "cannot write the output: {err}"),
        }
    }
}

pub fn run(config: &Config, out: &mut impl Write) -> Result<(), AppError> {
    if let Some(every) = config.watch {
        return watch::run(config, every, out);
    }
    let snapshot = match &config.source {
        Source::Live(plan) => collect::snapshot(plan).map_err(AppError::Collect)?,
        Source::Replay(file) => record::load(file).map_err(AppError::Record)?,
    };
    if let Some(to) = &config.record {
        record::save(&snapshot, to, out).map_err(AppError::Record)?;
        if *to == FileArg::Std {
            // stdout holds the recording; the warnings still go to stderr.
            let attributed = attribute::attribute(&snapshot);
            warnings::describe(&snapshot, &attributed)
                .iter()
                .for_each(|line| diag::warn(line));
            return Ok(());
        }
    }
    show(&config.view, &snapshot, out).map_err(AppError::Output)
}

fn show(view: &View, snapshot: &Snapshot, out: &mut impl Write) -> io::Result<()> {
    let mut attributed = attribute::attribute(snapshot);
    for line in warnings::describe(snapshot, &attributed) {
        diag::warn(&line);
    }
    for line in view
        .filter
        .owner
        .unknown_names(snapshot, &attributed.owners)
        .into_iter()
        .chain(view.filter.unread_protocols(snapshot))
    {
        diag::note(&line);
    }
    let remote_note = view
        .filter
        .remote
        .as_ref()
        .and_then(|remote| remote.unknown_name(&attributed, snapshot.cluster.is_some()));
    if let Some(line) = remote_note {
        diag::note(&line);
    }
    let top = view.top.unwrap_or(usize::MAX);
    match view.show {
        Show::Ports { snat_ports } => {
            // A budget counts every socket that holds its ports; the
            // filter picks which budgets are shown.
            let budgets = ports::budgets(snapshot, &attributed, &view.filter, snat_ports, top);
            match view.format {
                Format::Table => table::table_ports(out, &budgets, snapshot.host_netns),
                Format::Json => json::json_ports(out, &budgets),
            }
        }
        Show::Summary(grouping) => {
            keep_wanted(&mut attributed, view);
            let listening = Listening::of(snapshot);
            let mut groups =
                summary::summarize(&attributed, &attributed.rows, &listening, grouping);
            groups.truncate(top);
            match view.format {
                Format::Table => table::table_summary(out, &groups, grouping, snapshot.host_netns),
                Format::Json => json::json_summary(out, &groups),
            }
        }
        Show::Sockets { timers } => {
            keep_wanted(&mut attributed, view);
            order::sort_rows(&mut attributed);
            let shown = &attributed.rows[..attributed.rows.len().min(top)];
            match view.format {
                Format::Table => {
                    table::table_rows(out, &attributed, shown, snapshot.host_netns, timers)
                }
                Format::Json => json::json_rows(out, &attributed, shown),
            }
        }
    }
}

fn keep_wanted(attributed: &mut Attributed<'_>, view: &View) {
    let mut rows = std::mem::take(&mut attributed.rows);
    rows.retain(|row| view.filter.keeps(attributed, row));
    attributed.rows = rows;
}
