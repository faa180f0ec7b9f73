//! What the user typed ([`Args`]) → what to do ([`Config`]), resolved once
//! against this machine: which root and procfs, whether that procfs is
//! live, which table reader, what to collect for the view asked for. No
//! "auto" travels past here.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::analyze::filter::{Filter, OwnerFilter};
use crate::analyze::summary::Grouping;
use crate::cli::{Args, Backend, FileArg, Format};
use crate::collect::network::Parts;
use crate::collect::read_netns::TableReader;
use crate::collect::Plan;
use crate::model::{Protocols, StateSet};
use crate::names::kube_api::KubeSource;

#[derive(Debug, PartialEq, Eq)]
pub struct Config {
    pub source: Source,
    /// Where to write what was collected.
    pub record: Option<FileArg>,
    pub view: View,
    /// `--watch`: ticks instead of one snapshot.
    pub watch: Option<Watch>,
    /// Said once on stderr: how an ambiguous choice was made.
    pub notes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watch {
    /// Between the starts of two ticks; a replay keeps the recording's.
    pub every_ms: u64,
    /// Stop after this many ticks with rates.
    pub count: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    Live(Plan),
    Replay(FileArg),
}

/// What to show of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub filter: Filter,
    pub format: Format,
    pub show: Show,
    pub top: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Every socket; `timers` adds the table's TIMER column.
    Sockets {
        timers: bool,
    },
    Summary(Grouping),
    /// Port budgets, with a NAT outside the node of this many ports.
    Ports {
        snat_ports: Option<u32>,
    },
}

/// A `--root` or `--proc` that cannot be what it should be.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn resolve(args: Args) -> Result<Config, ConfigError> {
    let show = if args.ports {
        Show::Ports {
            snat_ports: args.snat_ports,
        }
    } else if args.summary {
        Show::Summary(match &args.by {
            Some(keys) => Grouping::by(keys),
            None => Grouping::ServiceEnd,
        })
    } else {
        Show::Sockets {
            timers: args.timers,
        }
    };
    let watch = args.watch.map(|every| Watch {
        every_ms: every.every_ms(),
        count: args.count,
    });
    // -t and -u pick protocols as in ss; without either, sockets are TCP's
    // (as ss and the original show them), and port budgets both
    // protocols', since UDP (DNS) spends ports and SNAT entries as TCP does.
    // A watch counts TCP's connections (cli.rs refuses -u with it).
    let protocols = match (args.tcp, args.udp, &show) {
        _ if watch.is_some() => Protocols::TCP,
        (false, false, Show::Ports { .. }) => Protocols::BOTH,
        (false, false, _) => Protocols::TCP,
        (tcp, udp, _) => Protocols { tcp, udp },
    };
    let view = View {
        filter: Filter {
            protocols,
            // A watch's rows count sockets in every state (cli.rs refuses
            // state filters with it).
            states: if watch.is_some() {
                StateSet::EVERY
            } else {
                args.states
            },
            owner: OwnerFilter {
                namespace: args.namespace,
                pod: args.pod,
                container: args.container,
            },
            remote: args.remote,
            local: args.local,
            port: args.port,
        },
        format: args.format,
        show,
        top: args.top,
    };
    let mut notes = Vec::new();
    let source = match args.replay {
        Some(file) => Source::Replay(file),
        None => {
            let root = choose_root(args.root, &mut notes)?;
            let kube = kube_sources(args.kube, args.kubeconfig, &root);
            let proc_dir = args.proc_dir.unwrap_or_else(|| PathBuf::from("/proc"));
            let live = is_live_procfs(&proc_dir);
            // A recording holds the whole node; port budgets need every
            // socket that holds a port; a view asks the kernel for what it
            // shows, and for the listening sockets (TCP's LISTEN, UDP's
            // UNCONN), which tell inbound sockets from outbound ones.
            let recording = args.record.is_some();
            let shown = view.filter.states;
            // A watch needs every connection, a new one in whatever state,
            // and the owner of each while it is alive, for its TIME_WAIT;
            // bound-only sockets only for --ports: asking for them walks
            // the bind hash as well, in every namespace, every tick.
            let (states, owners_for) = match view.show {
                Show::Ports { .. } if watch.is_some() => (StateSet::EVERY, StateSet::ALL),
                _ if watch.is_some() => (StateSet::ALL, StateSet::ALL),
                _ if recording => (StateSet::EVERY, StateSet::EVERY),
                Show::Ports { .. } => (StateSet::EVERY, shown),
                _ => (StateSet(shown.0 | StateSet::LISTENING.0), shown),
            };
            Source::Live(Plan {
                reader: choose_reader(args.backend, live, &mut notes),
                proc_dir,
                root,
                live,
                protocols: if recording {
                    Protocols::BOTH
                } else {
                    view.filter.protocols
                },
                states,
                owners_for,
                network: match view.show {
                    // A recorded tree has no namespaces to enter.
                    _ if !live => Parts::None,
                    Show::Ports { .. } => Parts::Everything,
                    // A watch's rows name no remote end, and reading the
                    // rest every tick would enter every namespace.
                    _ if watch.is_some() => Parts::None,
                    _ if recording => Parts::Everything,
                    _ => Parts::Names,
                },
                kube,
                watch: watch.is_some(),
            })
        }
    };
    Ok(Config {
        source,
        record: args.record,
        view,
        watch,
        notes,
    })
}

/// Where `--kube` looks for credentials, in order: the file given, the
/// first of `KUBECONFIG`, the kubelet's own (on a node, the credentials
/// that are surely there and may list what the node runs), and a pod's
/// service account (cnetstat as a DaemonSet).
fn kube_sources(kube: bool, kubeconfig: Option<PathBuf>, root: &Path) -> Vec<KubeSource> {
    if let Some(file) = kubeconfig {
        return vec![KubeSource::Kubeconfig(file)];
    }
    if !kube {
        return Vec::new();
    }
    let from_var =
        std::env::var_os("KUBECONFIG").and_then(|var| KubeSource::from_kubeconfig_var(&var));
    from_var
        .into_iter()
        .chain([
            KubeSource::KubeletUnderRoot(root.to_path_buf()),
            KubeSource::InCluster,
        ])
        .collect()
}

/// `--root`, else /host when cnetstat runs in a container (a mount namespace
/// other than PID 1's) that has the node's root there, as `kubectl debug
/// node` mounts it.
fn choose_root(given: Option<PathBuf>, notes: &mut Vec<String>) -> Result<PathBuf, ConfigError> {
    if let Some(root) = given {
        // A mistyped --root would otherwise just name nothing, silently.
        return match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => Ok(root),
            Ok(_) => Err(ConfigError(format!(
                "--root {}: not a directory",
                root.display()
            ))),
            Err(err) => Err(ConfigError(format!("--root {}: {err}", root.display()))),
        };
    }
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let in_container = match (ns("self"), ns("1")) {
        (Some(own), Some(init)) => own != init,
        // PID 1's link is denied to a debug container without
        // CAP_SYS_PTRACE; then /host existing decides.
        (Some(_), None) => true,
        _ => false,
    };
    let host = Path::new("/host");
    if in_container && (host.join("proc/1").exists() || host.join("run").is_dir()) {
        notes.push(
            "running in a container: reading the node's files under /host (--root / to override)"
                .into(),
        );
        return Ok(host.to_path_buf());
    }
    Ok(PathBuf::from("/"))
}

fn is_live_procfs(proc_root: &Path) -> bool {
    match (
        std::fs::metadata(proc_root),
        std::fs::metadata("/proc/self"),
    ) {
        (Ok(given), Ok(_)) => {
            std::fs::canonicalize(proc_root).is_ok_and(|p| p == Path::new("/proc"))
                || given.dev() == std::fs::metadata("/proc").map_or(u64::MAX, |m| m.dev())
        }
        _ => false,
    }
}

fn choose_reader(requested: Backend, live: bool, notes: &mut Vec<String>) -> TableReader {
    // SAFETY: geteuid has no arguments and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    match requested {
        Backend::Auto if live && root => TableReader::Netlink,
        Backend::Auto | Backend::Proc => TableReader::ProcText,
        Backend::Netlink if !live => {
            notes.push(
                "--backend netlink needs the live /proc; reading the tables under --proc instead"
                    .into(),
            );
            TableReader::ProcText
        }
        Backend::Netlink => TableReader::Netlink,
    }
}
