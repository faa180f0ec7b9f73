//! `--watch`, the loop at the edge. Every tick: a snapshot (collected, only
//! what changed being read again, or the next one of a recording), written
//! to `--record` if asked, its owners (attribute.rs, then the cgroups' and
//! the history's), its rates against the last tick's (rates.rs), shown;
//! then a wait for the next tick that a key or a signal may end.
//!
//! Where it shows: the full-screen view on a terminal (a replay prints
//! each frame instead); JSON Lines when stdout is not a terminal or with
//! `--format json`, every tick flushed; nothing but the recording with
//! `--record -`. The first snapshot has no rates: the view shows it at
//! once, JSON Lines start with the second.

use std::collections::HashSet;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::analyze::attribute::{self, Attributed};
use crate::analyze::budget_rates::{budget_rates, BudgetRate};
use crate::analyze::history::{owners_by_cgroup, owners_by_history, History};
use crate::analyze::ports::{self, Budget, Scope};
use crate::analyze::rates::{rates, Side, Tick};
use crate::analyze::summary::Grouping;
use crate::analyze::warnings;
use crate::app::AppError;
use crate::cli::{FileArg, Format};
use crate::collect::ticks::Ticks;
use crate::config::{Config, Show, Source, View, Watch};
use crate::diag;
use crate::model::Snapshot;
use crate::record::{Recording, Snapshots};
use crate::render::screen::{self, Frame, Heading};
use crate::render::watch_json;
use crate::terminal::{self, Screen, Signals, Wake};

pub fn run(config: &Config, watch: Watch, out: &mut impl Write) -> Result<(), AppError> {
    let signals = Signals::catch().map_err(AppError::Output)?;
    let mut source = match &config.source {
        Source::Live(plan) => Feed::Live(Ticks::new(plan.clone())),
        Source::Replay(file) => Feed::Replay(Snapshots::open(file).map_err(AppError::Record)?),
    };
    let mut recording = config
        .record
        .as_ref()
        .map(Recording::create)
        .transpose()
        .map_err(AppError::Record)?;
    let live = matches!(config.source, Source::Live(_));
    let mut output = match (&config.record, config.view.format) {
        (Some(FileArg::Std), _) => Output::Nothing,
        (_, Format::Json) => Output::Json,
        _ if !terminal::is_terminal(libc::STDOUT_FILENO) => Output::Json,
        _ if live => Output::Screen(Screen::enter(out).map_err(AppError::Output)?),
        _ => Output::Frames,
    };
    let mut state = Watching {
        view: &config.view,
        every_ms: watch.every_ms,
        history: History::default(),
        said: Said::default(),
        frame: None,
    };
    if let Output::Screen(screen) = &mut output {
        let lines = ["cnetstat --watch: reading the node…".to_owned()];
        screen.draw(out, &lines).map_err(AppError::Output)?;
    }
    let result = watch_loop(
        &mut state,
        &mut source,
        &mut recording,
        &mut output,
        &signals,
        watch,
        out,
    );
    let left_screen = matches!(output, Output::Screen(_));
    // Leaves the full-screen view, if on, before anything is printed.
    drop(output);
    if left_screen {
        state.said.lines.iter().for_each(|line| diag::warn(line));
    }
    result
}

fn watch_loop(
    state: &mut Watching<'_>,
    source: &mut Feed,
    recording: &mut Option<Recording>,
    output: &mut Output,
    signals: &Signals,
    watch: Watch,
    out: &mut impl Write,
) -> Result<(), AppError> {
    let mut previous: Option<Snapshot> = None;
    let mut ticks = 0;
    let live = matches!(source, Feed::Live(_));
    loop {
        let started = Instant::now();
        let Some(snapshot) = source.next(previous.as_ref())? else {
            if ticks == 0 {
                diag::warn(
                    "the recording holds fewer than two snapshots, so no rates: \
                     replay it without --watch to see its sockets",
                );
            }
            return Ok(());
        };
        if signals.stop_asked() {
            return Ok(());
        }
        if let Some(recording) = recording {
            recording.add(&snapshot, out).map_err(AppError::Record)?;
        }
        let shown = state
            .show(previous.as_ref(), &snapshot, output, out)
            .map_err(AppError::Output)?;
        ticks += u64::from(shown);
        previous = Some(snapshot);
        if watch.count.is_some_and(|count| ticks >= count) {
            return Ok(());
        }
        if !live {
            continue;
        }
        let due = next_tick(
            started,
            Instant::now(),
            Duration::from_millis(watch.every_ms),
        );
        loop {
            let keys = match output {
                Output::Screen(screen) => screen.keys(),
                _ => None,
            };
            match signals.wait(due, keys) {
                Wake::Due => break,
                Wake::Stop => return Ok(()),
                Wake::Resize => state.redraw(output, out).map_err(AppError::Output)?,
            }
        }
    }
}

/// When the tick after one that started at `started` is due: an interval
/// later, or, when this one took longer than that (the first read, which
/// waits for a hung runtime's deadline), a whole interval from now, so the
/// next rates never divide a handful of events by a few milliseconds.
fn next_tick(started: Instant, now: Instant, every: Duration) -> Instant {
    if now.duration_since(started) >= every {
        now + every
    } else {
        started + every
    }
}

/// Where the snapshots come from.
enum Feed {
    Live(Ticks),
    Replay(Snapshots),
}

impl Feed {
    /// The next snapshot; None at the end of a recording.
    fn next(&mut self, previous: Option<&Snapshot>) -> Result<Option<Snapshot>, AppError> {
        match self {
            Feed::Live(ticks) => ticks.tick(previous).map(Some).map_err(AppError::Collect),
            Feed::Replay(recorded) => recorded.next().transpose().map_err(AppError::Record),
        }
    }
}

enum Output {
    Screen(Screen),
    /// Each frame printed in turn (a replay on a terminal).
    Frames,
    Json,
    /// `--record -`: stdout holds the recording.
    Nothing,
}

/// Warning lines said so far, each once.
#[derive(Default)]
struct Said {
    seen: HashSet<String>,
    lines: Vec<String>,
}

struct Watching<'v> {
    view: &'v View,
    every_ms: u64,
    history: History,
    said: Said,
    /// The last frame, to draw again at another size.
    frame: Option<Frame>,
}

impl Watching<'_> {
    /// Shows the tick from `previous` to `snapshot`; returns whether it had
    /// rates (the first snapshot has none).
    fn show(
        &mut self,
        previous: Option<&Snapshot>,
        snapshot: &Snapshot,
        output: &mut Output,
        out: &mut impl Write,
    ) -> io::Result<bool> {
        let mut now = attribute::attribute(snapshot);
        owners_by_cgroup(&mut now, snapshot);
        self.history.learn(snapshot, &now);
        owners_by_history(&mut now, &self.history);
        warn(&mut self.said, self.view, snapshot, &now, output);
        let before_attributed;
        let before = match previous {
            Some(before) => {
                let mut attributed = attribute::attribute(before);
                owners_by_cgroup(&mut attributed, before);
                owners_by_history(&mut attributed, &self.history);
                before_attributed = attributed;
                Side {
                    snapshot: before,
                    attributed: &before_attributed,
                }
            }
            // Against itself: every count, no rate.
            None => Side {
                snapshot,
                attributed: &now,
            },
        };
        let now = Side {
            snapshot,
            attributed: &now,
        };
        let grouping = match self.view.show {
            Show::Summary(grouping) => grouping,
            Show::Sockets { .. } | Show::Ports { .. } => Grouping::ServiceEnd,
        };
        let mut tick = rates(&before, &now, &self.view.filter, grouping);
        let top = self.view.top.unwrap_or(usize::MAX);
        let heading = Heading {
            hostname: &snapshot.collector.hostname,
            wall: &snapshot.taken.wall,
            every_ms: match previous {
                Some(before) if !matches!(output, Output::Screen(_)) => snapshot
                    .taken
                    .boottime_ms
                    .saturating_sub(before.taken.boottime_ms),
                _ => self.every_ms,
            },
            node: previous.map(|_| tick.node),
            established: tick.node.established,
            time_wait: tick.node.time_wait,
            warnings: &self.said.lines,
            keys: matches!(output, Output::Screen(_)),
        };
        let interval_ms = previous.map_or(0, |b| {
            snapshot
                .taken
                .boottime_ms
                .saturating_sub(b.taken.boottime_ms)
        });
        let frame = match self.view.show {
            Show::Ports { snat_ports } => {
                let budgets = ports::budgets(
                    snapshot,
                    now.attributed,
                    &self.view.filter,
                    snat_ports,
                    usize::MAX,
                );
                let before_snapshot = before.snapshot;
                let (budgets, budget_rates) =
                    soonest_full(budgets, &tick, before_snapshot, snapshot, top);
                if matches!(output, Output::Json) && previous.is_some() {
                    watch_json::json_budget_rates(
                        out,
                        &snapshot.taken.wall,
                        &budgets,
                        &budget_rates,
                        &tick.intervals,
                        interval_ms,
                    )?;
                    out.flush()?;
                }
                screen::budgets_frame(&heading, &budgets, &budget_rates, snapshot.host_netns)
            }
            Show::Sockets { .. } | Show::Summary(_) => {
                tick.rows.truncate(top);
                if matches!(output, Output::Json) && previous.is_some() {
                    watch_json::json_rates(out, &snapshot.taken.wall, &tick.rows)?;
                    out.flush()?;
                }
                screen::rates_frame(&heading, &tick.rows, snapshot.host_netns)
            }
        };
        match output {
            Output::Frames if previous.is_some() => {
                for line in frame.heading.iter().chain(&frame.table) {
                    writeln!(out, "{line}")?;
                }
                writeln!(out)?;
                out.flush()?;
            }
            _ => {}
        }
        self.frame = Some(frame);
        self.redraw(output, out)?;
        Ok(previous.is_some())
    }

    fn redraw(&self, output: &mut Output, out: &mut impl Write) -> io::Result<()> {
        if let (Output::Screen(screen), Some(frame)) = (output, &self.frame) {
            let (rows, cols) = screen.size();
            screen.draw(out, &screen::fit(frame, rows, cols))?;
        }
        Ok(())
    }
}

/// Warnings new this tick, notes on filters first: on stderr at once,
/// except over the full-screen view, which shows the first and prints them
/// on leaving.
fn warn(
    said: &mut Said,
    view: &View,
    snapshot: &Snapshot,
    attributed: &Attributed<'_>,
    output: &Output,
) {
    let on_screen = matches!(output, Output::Screen(_));
    let unknown = view
        .filter
        .owner
        .unknown_names(snapshot, &attributed.owners);
    // A filter naming nothing first: over the full-screen view only the
    // first line shows, and an empty table needs that one explained.
    for line in unknown
        .into_iter()
        .chain(warnings::describe(snapshot, attributed))
    {
        // Once each: a line whose numbers change from tick to tick (so
        // many sockets without a process) is the same warning.
        let gist: String = line.chars().filter(|c| !c.is_ascii_digit()).collect();
        if said.seen.insert(gist) {
            if !on_screen {
                diag::warn(&line);
            }
            said.lines.push(line);
        }
    }
}

/// `--ports` rows soonest full first (then as `--ports` orders them), the
/// first `top`, then the conntrack counters; with their rates.
fn soonest_full<'a>(
    budgets: Vec<Budget<'a>>,
    tick: &Tick<'_>,
    before: &Snapshot,
    now: &Snapshot,
    top: usize,
) -> (Vec<Budget<'a>>, Vec<BudgetRate>) {
    let rates = budget_rates(&budgets, tick, before, now);
    let (mut rows, counters): (Vec<_>, Vec<_>) = budgets
        .into_iter()
        .zip(rates)
        .partition(|(b, _)| b.scope != Scope::Conntrack);
    rows.sort_by(|(_, a), (_, b)| match (a.full_in_s, b.full_in_s) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    rows.truncate(top);
    rows.into_iter().chain(counters).unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::filter::{Filter, OwnerFilter};
    use crate::model::{testing, Protocols, StateSet, Warning};

    /// Found by a user: over the full-screen view, which shows one warning
    /// line, `--pod` with a typo showed an empty table under another
    /// warning, its note only on leaving.
    #[test]
    fn a_filter_naming_nothing_is_the_first_warning() {
        let mut snapshot = testing::snapshot();
        snapshot.warnings.push(Warning::NetlinkFallback {
            error: "sock_diag: Operation not permitted".into(),
        });
        let view = View {
            filter: Filter {
                protocols: Protocols::TCP,
                states: StateSet::ALL,
                owner: OwnerFilter {
                    pod: Some("cart-9".into()),
                    ..OwnerFilter::default()
                },
                remote: None,
                local: None,
                port: None,
            },
            format: Format::Json,
            show: Show::Sockets { timers: false },
            top: None,
        };
        let attributed = attribute::attribute(&snapshot);
        let mut said = Said::default();
        warn(&mut said, &view, &snapshot, &attributed, &Output::Nothing);
        assert_eq!(said.lines.len(), 2, "{:?}", said.lines);
        assert!(said.lines[0].contains("cart-9"), "{:?}", said.lines);
        assert!(said.lines[1].contains("netlink"), "{:?}", said.lines);
    }

    #[test]
    fn a_tick_that_overran_its_interval_is_followed_by_a_whole_one() {
        let every = Duration::from_secs(2);
        let started = Instant::now();
        let quick = started + Duration::from_millis(300);
        assert_eq!(next_tick(started, quick, every), started + every);
        // The first read waited 5 s for a hung Docker: the next one comes
        // 2 s later, not at once (found by a user: rates over 19 ms).
        let slow = started + Duration::from_secs(5);
        assert_eq!(next_tick(started, slow, every), slow + every);
    }
}
