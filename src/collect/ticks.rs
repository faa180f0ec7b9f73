//! Collecting for `--watch`: a whole [`Snapshot`] every tick, each reading
//! only what changed since the last (carry.rs), and names read off the
//! tick's path: a runtime that hangs (a Docker socket that stopped
//! answering) never holds a tick up. The first tick reads everything, as
//! a one-shot run does; after each tick one refresh of the names starts on
//! a thread of its own, and the next tick takes whatever refresh finished
//! last, so a stale catalog is reused while a new one is slow to come.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

use super::cgroup_dirs::cgroup_dirs;
use super::host_root::HostRoot;
use super::{collect, CollectError, Naming, Plan};
use crate::model::Snapshot;
use crate::names;

pub struct Ticks {
    plan: Plan,
    naming: Option<Naming>,
    refresher: Option<Refresher>,
}

struct Refresher {
    ask: Sender<()>,
    answers: Receiver<Naming>,
    /// A refresh was asked for and has not answered yet.
    asked: bool,
}

impl Ticks {
    pub fn new(plan: Plan) -> Ticks {
        Ticks {
            plan,
            naming: None,
            refresher: None,
        }
    }

    /// The node now; `previous` is the last tick's snapshot.
    pub fn tick(&mut self, previous: Option<&Snapshot>) -> Result<Snapshot, CollectError> {
        if let Some(refresher) = &mut self.refresher {
            match refresher.answers.try_recv() {
                Ok(fresh) => {
                    self.naming = Some(fresh);
                    refresher.asked = false;
                }
                Err(TryRecvError::Empty) => {}
                // The thread ended (the root could not be opened again):
                // the names stay as they were.
                Err(TryRecvError::Disconnected) => refresher.asked = true,
            }
        }
        let snapshot = collect(&self.plan, &mut self.naming, previous)?;
        let root = &self.plan.root;
        let refresher = self
            .refresher
            .get_or_insert_with(|| Refresher::start(root.clone()));
        if !refresher.asked {
            refresher.asked = refresher.ask.send(()).is_ok();
        }
        Ok(snapshot)
    }
}

impl Refresher {
    fn start(root: std::path::PathBuf) -> Refresher {
        let (ask, asks) = mpsc::channel::<()>();
        let (answer, answers) = mpsc::channel();
        // Ends when the watch drops its sender; a Docker call it waits on
        // is given up at its deadline (names::read_names_again).
        std::thread::spawn(move || {
            let Ok(root) = HostRoot::open(root) else {
                return;
            };
            let mut pending_docker = None;
            for () in asks {
                let naming = Naming {
                    names: names::read_names_again(&root, &mut pending_docker),
                    cgroup_dirs: cgroup_dirs(&root),
                };
                if answer.send(naming).is_err() {
                    return;
                }
            }
        });
        Refresher {
            ask,
            answers,
            asked: false,
        }
    }
}
