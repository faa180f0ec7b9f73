//! Everything collected from one node at one instant: the seam between
//! collection (live, or a recording read back) and every view. Analysis and
//! rendering take a `&Snapshot` and nothing else, so a recorded node shows
//! exactly what the live one did.
//!
//! The recorded form is JSON (design.md, "Snapshot files", documents it):
//! objects for the few large things, and one array per socket in a fixed
//! field order, [`SOCKET_FIELDS`], which is a third of the size of an
//! object per socket and half the time to write.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::catalog::Catalog;
use super::container::CgroupRef;
use super::cluster::Cluster;
use super::counters::TcpCounters;
use super::network::{ConntrackStats, DnatFlow, InterfaceAddress, NatRule, PortSysctls, SnatFlow};
use super::socket::{Proto, Protocols, Socket, StateSet, TcpState, Timer};
use super::warning::Warnings;
use crate::text::IpText;

/// The snapshot format this build writes. 2 added each namespace's port
/// sysctls, addresses, conntrack counters, NAT flows and NAT rules; 3 its
/// TCP counters and the cgroup v2 directories that name containers.
pub const FORMAT_VERSION: u32 = 3;
/// The oldest format this build reads: fields added since then have
/// defaults, so older recordings read as "not collected".
pub const OLDEST_READABLE_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub taken: Taken,
    pub collector: Collector,
    /// The protocols whose tables were read: both in a recording; TCP
    /// only in recordings older than UDP support, which lack the key.
    #[serde(default = "tcp_only")]
    pub protocols: Protocols,
    /// The states the socket tables hold: every state in a recording; a
    /// live run that records nothing asks the kernel for what it shows.
    pub states: StateSet,
    /// The states of the sockets whose holders the fd scan looked for (a
    /// live run that records nothing looks only for what it shows). Not
    /// written: a recording looked for every socket's.
    #[serde(skip, default = "every_state")]
    pub owners_for: StateSet,
    /// None when it could not be read; then no namespace is treated as shared.
    pub host_netns: Option<u64>,
    pub namespaces: Vec<NetnsSnapshot>,
    /// Sorted by pid.
    pub processes: Vec<Process>,
    pub socket_owners: SocketOwners,
    pub catalog: Catalog,
    /// Network namespace inode → the pod sandbox whose OCI spec names it.
    pub sandbox_netns: BTreeMap<u64, String>,
    /// The cluster's pods, Services and nodes from the Kubernetes API, with
    /// `--kube`.
    #[serde(default)]
    pub cluster: Option<Cluster>,
    pub warnings: Warnings,
    /// cgroup v2 directory inode, which is the cgroup id sockets carry
    /// ([`Socket::cgroup_id`]) → the container or pod its path names; only
    /// such directories. Read for `--watch`.
    #[serde(default)]
    pub cgroup_dirs: BTreeMap<u64, CgroupRef>,
}

fn tcp_only() -> Protocols {
    Protocols::TCP
}

fn every_state() -> StateSet {
    StateSet::EVERY
}

/// When the snapshot was taken, by the wall clock for people and by
/// CLOCK_BOOTTIME for intervals (it neither jumps nor stops in suspend).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// RFC 3339, UTC.
    pub wall: String,
    pub boottime_ms: u64,
}

/// Who collected it, and with what privileges: what a reader of a
/// recording needs to know why something is missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collector {
    pub hostname: String,
    pub kernel: String,
    pub euid: u32,
    /// The effective capability set (`CapEff` in /proc/self/status).
    pub cap_eff: Option<u64>,
}

impl Collector {
    pub const CAP_NET_ADMIN: u32 = 12;
    pub const CAP_SYS_ADMIN: u32 = 21;
    pub const CAP_SYS_PTRACE: u32 = 19;

    /// Unknown reads as present: without the set, the advice to add a
    /// capability would only be a guess.
    pub fn has_capability(&self, capability: u32) -> bool {
        self.cap_eff
            .map_or(true, |set| set & (1 << capability) != 0)
    }
}

/// A network namespace: its inode, or, when the inode cannot be read (a
/// debug pod lacks the capabilities of the processes it looks at), the pid
/// through which its table was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetnsId {
    Inode(u64),
    Hidden(u32),
}

impl NetnsId {
    pub fn inode(self) -> Option<u64> {
        match self {
            NetnsId::Inode(inode) => Some(inode),
            NetnsId::Hidden(_) => None,
        }
    }
}

/// One network namespace and what was read in it. What port budgets need
/// beyond the sockets is read only for them (`--ports`) and for
/// recordings; None where it was not read, or could not be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsSnapshot {
    pub id: NetnsId,
    pub sockets: Vec<Socket>,
    #[serde(default)]
    pub sysctls: Option<PortSysctls>,
    #[serde(default)]
    pub addresses: Option<Vec<InterfaceAddress>>,
    /// None where conntrack is not loaded or its counters could not be read.
    #[serde(default)]
    pub conntrack: Option<ConntrackStats>,
    /// The NAT'd conntrack entries, where the table holds entries and
    /// could be dumped.
    #[serde(default)]
    pub snat_flows: Option<Vec<SnatFlow>>,
    #[serde(default)]
    pub nat_rules: Option<Vec<NatRule>>,
    /// The entries destination NAT rewrote (a Service's virtual address to
    /// a backend), which name remote addresses.
    #[serde(default)]
    pub dnat_flows: Option<Vec<DnatFlow>>,
    /// Its TCP counters, read for `--watch`.
    #[serde(default)]
    pub counters: Option<TcpCounters>,
    /// Inodes of listed sockets no process was found holding that a second
    /// read of the table, after the fd scan, no longer found: closed while
    /// the node was read, not the kernel's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed_while_read: Vec<u64>,
}

impl NetnsSnapshot {
    pub fn new(id: NetnsId, sockets: Vec<Socket>) -> NetnsSnapshot {
        NetnsSnapshot {
            id,
            sockets,
            sysctls: None,
            addresses: None,
            conntrack: None,
            snat_flows: None,
            nat_rules: None,
            dnat_flows: None,
            counters: None,
            closed_while_read: Vec::new(),
        }
    }
}

/// What was read about one process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub comm: String,
    pub netns: NetnsId,
    pub cgroup: Option<CgroupRef>,
    /// Its open files could not be read, so the sockets it holds show no
    /// process. Written only when true; recordings older than the field
    /// have none set, and say how many there were in their warning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fds_unread: bool,
}

/// Socket inode → the lowest pid holding it open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketOwners(pub HashMap<u64, u32>);

impl Serialize for SocketOwners {
    /// `[[inode, pid], …]` by inode: a map with number keys would be
    /// strings in JSON, and sorted pairs give the same bytes for the same node.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut pairs: Vec<(u64, u32)> = self.0.iter().map(|(&i, &p)| (i, p)).collect();
        pairs.sort_unstable();
        pairs.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SocketOwners {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SocketOwners, D::Error> {
        let pairs = Vec::<(u64, u32)>::deserialize(deserializer)?;
        Ok(SocketOwners(pairs.into_iter().collect()))
    }
}

/// The order of a socket's fields in its recorded array.
pub const SOCKET_FIELDS: [&str; 15] = [
    "proto",
    "local_addr",
    "local_port",
    "remote_addr",
    "remote_port",
    "state",
    "uid",
    "inode",
    "rx_queue",
    "tx_queue",
    "timer",
    "expires_ms",
    "retransmits",
    "cookie",
    "cgroup_id",
];

impl Serialize for Socket {
    /// `state` and `timer` as the kernel's codes; addresses as text.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = serializer.serialize_tuple(SOCKET_FIELDS.len())?;
        fields.serialize_element(self.proto.name())?;
        fields.serialize_element(IpText::new(self.local).as_str())?;
        fields.serialize_element(&self.local_port)?;
        fields.serialize_element(IpText::new(self.remote).as_str())?;
        fields.serialize_element(&self.remote_port)?;
        fields.serialize_element(&(self.state as u8))?;
        fields.serialize_element(&self.uid)?;
        fields.serialize_element(&self.inode)?;
        fields.serialize_element(&self.rx_queue)?;
        fields.serialize_element(&self.tx_queue)?;
        fields.serialize_element(&(self.timer as u8))?;
        fields.serialize_element(&self.expires_ms)?;
        fields.serialize_element(&self.retransmits)?;
        fields.serialize_element(&self.cookie)?;
        fields.serialize_element(&self.cgroup_id)?;
        fields.end()
    }
}

impl<'de> Deserialize<'de> for Socket {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Socket, D::Error> {
        deserializer.deserialize_tuple(SOCKET_FIELDS.len(), SocketVisitor)
    }
}

struct SocketVisitor;

impl<'de> Visitor<'de> for SocketVisitor {
    type Value = Socket;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a socket: an array of {} fields", SOCKET_FIELDS.len())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Socket, A::Error> {
        let proto: ProtoName = field(&mut seq, 0)?;
        let local: Address = field(&mut seq, 1)?;
        let local_port = field(&mut seq, 2)?;
        let remote: Address = field(&mut seq, 3)?;
        let remote_port = field(&mut seq, 4)?;
        let state: u8 = field(&mut seq, 5)?;
        let uid = field(&mut seq, 6)?;
        let inode = field(&mut seq, 7)?;
        let rx_queue = field(&mut seq, 8)?;
        let tx_queue = field(&mut seq, 9)?;
        let timer: u8 = field(&mut seq, 10)?;
        let expires_ms = field(&mut seq, 11)?;
        let retransmits = field(&mut seq, 12)?;
        let cookie = field(&mut seq, 13)?;
        let cgroup_id = field(&mut seq, 14)?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format!(
                "socket array longer than {} fields",
                SOCKET_FIELDS.len()
            )));
        }
        let state = TcpState::from_code(state)
            .ok_or_else(|| de::Error::custom(format!("unknown TCP state {state}")))?;
        if timer > Timer::Probe as u8 {
            return Err(de::Error::custom(format!("unknown socket timer {timer}")));
        }
        Ok(Socket {
            proto: proto.0,
            local: local.0,
            local_port,
            remote: remote.0,
            remote_port,
            state,
            uid,
            inode,
            rx_queue,
            tx_queue,
            timer: Timer::from_code(timer),
            expires_ms,
            retransmits,
            cookie,
            cgroup_id,
        })
    }
}

/// The socket field at `index` of [`SOCKET_FIELDS`], which must be there.
fn field<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    index: usize,
) -> Result<T, A::Error> {
    seq.next_element()?.ok_or_else(|| {
        de::Error::custom(format!("socket array ends before {}", SOCKET_FIELDS[index]))
    })
}

/// An address field, parsed from its text whether or not the text could be
/// borrowed from the input.
struct Address(IpAddr);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        struct AddressVisitor;
        impl Visitor<'_> for AddressVisitor {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an IP address")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Address, E> {
                text.parse()
                    .map(Address)
                    .map_err(|_| E::custom(format!("not an IP address: {text:?}")))
            }
        }
        deserializer.deserialize_str(AddressVisitor)
    }
}

struct ProtoName(Proto);

impl<'de> Deserialize<'de> for ProtoName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ProtoName, D::Error> {
        struct ProtoVisitor;
        impl Visitor<'_> for ProtoVisitor {
            type Value = ProtoName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a protocol name")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ProtoName, E> {
                Proto::from_name(text)
                    .map(ProtoName)
                    .ok_or_else(|| E::custom(format!("unknown protocol {text:?}")))
            }
        }
        deserializer.deserialize_str(ProtoVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket() -> Socket {
        Socket {
            proto: Proto::Tcp6,
            local: "::ffff:10.0.0.5".parse().unwrap(),
            local_port: 40000,
            remote: "2001:db8::9".parse().unwrap(),
            remote_port: 443,
            state: TcpState::TimeWait,
            uid: 1000,
            inode: 0,
            rx_queue: 1,
            tx_queue: 2,
            timer: Timer::TimeWait,
            expires_ms: 59_000,
            retransmits: 3,
            cookie: 0x195c2,
            cgroup_id: 7,
        }
    }

    #[test]
    fn a_socket_is_one_array_in_the_documented_order() {
        let text = serde_json::to_string(&socket()).unwrap();
        assert_eq!(
            text,
            r#"["tcp6","::ffff:10.0.0.5",40000,"2001:db8::9",443,6,1000,0,1,2,3,59000,3,103874,7]"#
        );
        assert_eq!(serde_json::from_str::<Socket>(&text).unwrap(), socket());
    }

    #[test]
    fn a_socket_array_that_is_wrong_says_what_is_wrong() {
        for (text, needle) in [
            (r#"["tcp",1]"#, "invalid type"),
            (r#"["tcp","10.0.0.1",1]"#, "ends before remote_addr"),
            (
                r#"["sctp","10.0.0.1",1,"10.0.0.2",2,6,0,0,0,0,0,0,0,0,0]"#,
                "unknown protocol",
            ),
            (
                r#"["tcp","10.0.0.x",1,"10.0.0.2",2,6,0,0,0,0,0,0,0,0,0]"#,
                "not an IP address",
            ),
            (
                r#"["tcp","10.0.0.1",1,"10.0.0.2",2,14,0,0,0,0,0,0,0,0,0]"#,
                "unknown TCP state 14",
            ),
            (
                r#"["tcp","10.0.0.1",1,"10.0.0.2",2,6,0,0,0,0,5,0,0,0,0]"#,
                "unknown socket timer 5",
            ),
            (
                r#"["tcp","10.0.0.1",70000,"10.0.0.2",2,6,0,0,0,0,0,0,0,0,0]"#,
                "70000",
            ),
            (
                r#"["tcp","10.0.0.1",1,"10.0.0.2",2,6,0,0,0,0,0,0,0,0,0,9]"#,
                "longer than 15",
            ),
            (r#"{"proto":"tcp"}"#, "invalid type: map"),
        ] {
            let err = serde_json::from_str::<Socket>(text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
        // Escapes in an address cannot be borrowed, and still parse.
        let escaped = r#"["tcp","10.0.0.\u0031",1,"10.0.0.2",2,6,0,0,0,0,0,0,0,0,0]"#;
        let parsed = serde_json::from_str::<Socket>(escaped).unwrap();
        assert_eq!(parsed.local, "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_udp_socket_reads_back_in_its_kernel_state() {
        let unconnected = Socket {
            proto: Proto::Udp6,
            remote: "::".parse().unwrap(),
            remote_port: 0,
            state: TcpState::Close,
            timer: Timer::None,
            expires_ms: 0,
            ..socket()
        };
        let text = serde_json::to_string(&unconnected).unwrap();
        assert!(text.starts_with(r#"["udp6","::ffff:10.0.0.5",40000,"::",0,7,"#), "{text}");
        assert_eq!(serde_json::from_str::<Socket>(&text).unwrap(), unconnected);
    }

    #[test]
    fn socket_owners_are_sorted_pairs() {
        let owners = SocketOwners(HashMap::from([(30, 7), (10, 9), (20, 7)]));
        let text = serde_json::to_string(&owners).unwrap();
        assert_eq!(text, "[[10,9],[20,7],[30,7]]");
        assert_eq!(serde_json::from_str::<SocketOwners>(&text).unwrap(), owners);
    }
}
