//! What collection could not read, as data: recorded in the snapshot,
//! de-duplicated here, and turned into one line each, with what the user
//! loses in sockets, by analyze/warnings.rs. Messages hold paths and names
//! from the node as they are; escaping is the printer's job.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// sock_diag netlink failed in some namespace, and its text tables were
    /// read instead: nothing is missing, but the user should know why
    /// `--backend netlink` did not hold.
    NetlinkFallback { error: String },
    /// A namespace's sockets could not be read at all.
    NetnsUnreadable {
        netns: Option<u64>,
        /// The file it was to be read through.
        path: String,
        error: String,
        /// Only a bind mount holds it, so no process's `/proc/<pid>/net`
        /// can stand in for entering it.
        pinned: bool,
        /// Sockets its counters (`net/sockstat`) hold, when they could be read.
        sockets: Option<u64>,
    },
    /// Lines of a text table that are not sockets; each was one socket.
    TableLinesSkipped {
        netns: Option<u64>,
        path: String,
        first_line: u64,
        lines: u64,
    },
    /// PID 1's mount table could not be read, so namespaces that only a bind
    /// mount holds (CRI-O, leaked CNI namespaces) are not found.
    PinnedUnlisted { path: String, error: String },
    /// Processes whose namespace link or open files could not be read.
    ProcessesUnreadable {
        ns_links: u32,
        fd_tables: u32,
        processes: u32,
        first: String,
    },
    /// A process's `cgroup` or `comm` that is not what procfs has there.
    ProcessFile { pid: u32, path: String, problem: String },
    /// What port budgets need from a namespace beyond its sockets.
    NetworkUnreadable {
        netns: Option<u64>,
        what: NetworkPart,
        error: String,
    },
    /// A namespace's TCP counters (`--watch`) could not be read.
    CountersUnreadable { netns: Option<u64>, error: String },
    /// The Kubernetes API could not be used (`--kube`): no credentials
    /// resolved (`source` None), or a list failed.
    Kube {
        source: Option<String>,
        error: String,
    },
    /// The Docker API failed, or Docker containers run and no socket was found.
    Docker { error: String },
    /// A runtime or kubelet file that exists but could not be read or parsed.
    RuntimeFile {
        path: String,
        problem: String,
        /// The container it describes, when its path names one.
        container_id: Option<String>,
    },
}

/// A part of what port budgets read from a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkPart {
    PortSysctls,
    Addresses,
    ConntrackCounters,
    ConntrackTable,
    NatRules,
    /// An iptables-legacy nat table, whose rules netlink cannot read.
    LegacyNatRules,
    /// Entering the namespace failed: its sysctls, addresses, conntrack
    /// table and NAT rules, which only a thread inside can read.
    Inside,
}

impl NetworkPart {
    pub fn name(self) -> &'static str {
        match self {
            NetworkPart::PortSysctls => "port sysctls",
            NetworkPart::Addresses => "interface addresses",
            NetworkPart::ConntrackCounters => "conntrack counters",
            NetworkPart::ConntrackTable => "conntrack table",
            NetworkPart::NatRules => "NAT rules",
            NetworkPart::LegacyNatRules => "iptables-legacy NAT rules",
            NetworkPart::Inside => "port sysctls, addresses, conntrack table and NAT rules",
        }
    }
}

/// Warnings in the order they were first met, each once (a root that
/// cannot be entered fails every path under it the same way).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Warnings {
    list: Vec<Warning>,
    seen: HashSet<Warning>,
}

impl Warnings {
    pub fn push(&mut self, warning: Warning) {
        if self.seen.insert(warning.clone()) {
            self.list.push(warning);
        }
    }

    pub fn extend(&mut self, warnings: impl IntoIterator<Item = Warning>) {
        for warning in warnings {
            self.push(warning);
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Warning> {
        self.list.iter()
    }
}

impl Serialize for Warnings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Warnings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Warnings, D::Error> {
        let mut warnings = Warnings::default();
        warnings.extend(Vec::<Warning>::deserialize(deserializer)?);
        Ok(warnings)
    }
}
