//! `--summary`: sockets counted per group, the question behind ephemeral
//! and SNAT port exhaustion: which container holds how many connections,
//! to where or from whom.
//!
//! By default a group is an owner (namespace, pod, container), a direction,
//! and the service's end: the remote address and port of outbound sockets,
//! the local (listening) address and port of inbound ones, with the number
//! of distinct client addresses. `--by` chooses other keys. Groups whose
//! owner is unknown never merge across network namespaces.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use super::attribute::{Attributed, Attribution, Owner, Row};
use super::direction::{Direction, Listening};
use super::order::identity_ranks;
use super::remote::RemoteName;
use crate::model::{NetnsId, Proto, ShownState};

/// A key of `--by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Netns,
    Namespace,
    Pod,
    Container,
    Direction,
    Proto,
    /// The far end: the destination address and port of an outbound
    /// socket; the client address (its port never) of an inbound one.
    Remote,
    /// The near end: the listening address and port of an inbound socket;
    /// the source address (its port never) of an outbound one.
    Local,
    State,
}

impl Key {
    pub const ALL: [Key; 9] = [
        Key::Netns,
        Key::Namespace,
        Key::Pod,
        Key::Container,
        Key::Direction,
        Key::Proto,
        Key::Remote,
        Key::Local,
        Key::State,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Key::Netns => "netns",
            Key::Namespace => "namespace",
            Key::Pod => "pod",
            Key::Container => "container",
            Key::Direction => "direction",
            Key::Proto => "proto",
            Key::Remote => "remote",
            Key::Local => "local",
            Key::State => "state",
        }
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// What groups are made of: `--by` keys, or the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// Owner, direction and the service's end (see the module doc).
    ServiceEnd,
    By(u16),
}

impl Grouping {
    pub fn by(keys: &[Key]) -> Grouping {
        Grouping::By(keys.iter().fold(0, |bits, key| bits | key.bit()))
    }

    pub fn has(self, key: Key) -> bool {
        match self {
            Grouping::ServiceEnd => matches!(
                key,
                Key::Namespace | Key::Pod | Key::Container | Key::Direction
            ),
            Grouping::By(bits) => bits & key.bit() != 0,
        }
    }

    /// The near end as keyed for a socket going `direction`.
    fn local(self, direction: Direction) -> Option<Endpoint> {
        match (self, direction) {
            (Grouping::ServiceEnd, Direction::In) => Some(Endpoint::WITH_PORT),
            (Grouping::ServiceEnd, Direction::Out) => None,
            (grouping, Direction::In) if grouping.has(Key::Local) => Some(Endpoint::WITH_PORT),
            (grouping, Direction::Out) if grouping.has(Key::Local) => Some(Endpoint::ADDRESS),
            _ => None,
        }
    }

    fn remote(self, direction: Direction) -> Option<Endpoint> {
        match (self, direction) {
            (Grouping::ServiceEnd, Direction::Out) => Some(Endpoint::WITH_PORT),
            (Grouping::ServiceEnd, Direction::In) => None,
            (grouping, Direction::Out) if grouping.has(Key::Remote) => Some(Endpoint::WITH_PORT),
            (grouping, Direction::In) if grouping.has(Key::Remote) => Some(Endpoint::ADDRESS),
            _ => None,
        }
    }
}

/// How much of an end is a key: its address, and its port unless it is an
/// ephemeral one.
#[derive(Clone, Copy)]
struct Endpoint {
    port: bool,
}

impl Endpoint {
    const WITH_PORT: Endpoint = Endpoint { port: true };
    const ADDRESS: Endpoint = Endpoint { port: false };

    fn of(self, address: IpAddr, port: u16) -> (IpAddr, Option<u16>) {
        (address, self.port.then_some(port))
    }
}

/// A value shared by every socket of a group, or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<T> {
    /// No socket has one.
    Absent,
    One(T),
    /// Sockets differ.
    Several,
}

impl<T: PartialEq> Field<T> {
    pub fn start(value: Option<T>) -> Field<T> {
        value.map_or(Field::Absent, Field::One)
    }

    pub fn add(&mut self, value: Option<T>) {
        let same = match (&*self, &value) {
            (Field::Absent, None) => true,
            (Field::One(known), Some(value)) => known == value,
            _ => false,
        };
        if !same {
            *self = Field::Several;
        }
    }

    pub fn one(&self) -> Option<&T> {
        match self {
            Field::One(value) => Some(value),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct Group<'a> {
    pub namespace: Field<&'a str>,
    pub pod: Field<&'a str>,
    /// The container's name; Absent when only its id is known, or for a
    /// pod's sockets that no process holds ([`Group::pod_level`]).
    pub container: Field<&'a str>,
    /// The id of a container known only by it.
    pub container_id: Field<&'a str>,
    /// Every socket is its pod's, found through the namespace: TIME_WAITs
    /// and the like, which any of the pod's containers may have made.
    pub pod_level: bool,
    /// Every socket is one the kernel holds.
    pub kernel: bool,
    pub netns: Field<NetnsId>,
    pub direction: Field<Direction>,
    pub proto: Field<Proto>,
    /// The near and far ends, where they are keys.
    pub local: Option<(IpAddr, Option<u16>)>,
    pub remote: Option<(IpAddr, Option<u16>)>,
    /// What the remote end is, where it is a key and named.
    pub remote_name: Field<RemoteName<'a>>,
    /// Distinct backends the remote address was translated to, where the
    /// node translated it.
    pub remote_endpoints: Option<u64>,
    /// Distinct client addresses, for inbound groups.
    pub clients: Option<u64>,
    pub count: u64,
    /// Count per shown state, in [`ShownState::ORDER`].
    by_state: [u32; ShownState::ORDER.len()],
    /// Orders groups of equal count by their owners' names.
    rank: u32,
}

impl Group<'_> {
    /// Non-zero counts, in the kernel's state order (UDP's UNCONN by CLOSE).
    pub fn states(&self) -> impl Iterator<Item = (ShownState, u32)> + '_ {
        ShownState::ORDER
            .into_iter()
            .map(|state| (state, self.by_state[state.index()]))
            .filter(|(_, n)| *n > 0)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKey {
    owner: u32,
    netns: Option<NetnsId>,
    direction: Option<Direction>,
    proto: Option<Proto>,
    local: Option<(IpAddr, Option<u16>)>,
    remote: Option<(IpAddr, Option<u16>)>,
    state: Option<ShownState>,
}

/// Groups, largest first; equal counts in name order (numbers in names
/// compared as numbers) so output is stable.
pub fn summarize<'a>(
    attributed: &Attributed<'a>,
    rows: &[Row<'_>],
    listening: &Listening,
    grouping: Grouping,
) -> Vec<Group<'a>> {
    let rank = identity_ranks(&attributed.owners);
    let keyed_owner = owner_keys(&attributed.owners, grouping);
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut clients: Vec<HashSet<IpAddr>> = Vec::new();
    let mut endpoints: Vec<HashSet<SocketAddr>> = Vec::new();
    for row in rows {
        let remote = attributed.remote(row);
        let owner = attributed.owner(row);
        let socket = row.socket;
        let direction = listening.direction(row.netns, socket);
        let (owner_key, known) = keyed_owner[row.owner as usize];
        let key = GroupKey {
            owner: owner_key,
            // An unknown owner is told apart by its namespace.
            netns: (grouping.has(Key::Netns) || !known).then_some(row.netns),
            direction: grouping.has(Key::Direction).then_some(direction),
            proto: grouping.has(Key::Proto).then_some(socket.proto),
            local: grouping
                .local(direction)
                .map(|end| end.of(socket.local, socket.local_port)),
            remote: grouping
                .remote(direction)
                .map(|end| end.of(socket.remote, socket.remote_port)),
            state: grouping.has(Key::State).then(|| socket.shown_state()),
        };
        let unnamed_id = owner.container_id.filter(|_| owner.container.is_none());
        let pod_level = owner.attribution == Attribution::Netns && owner.pod.is_some();
        let kernel = owner.attribution == Attribution::Kernel;
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                namespace: Field::start(owner.namespace),
                pod: Field::start(owner.pod),
                container: Field::start(owner.container),
                container_id: Field::start(unnamed_id),
                pod_level,
                kernel,
                netns: Field::One(row.netns),
                direction: Field::One(direction),
                proto: Field::One(socket.proto),
                local: key.local,
                remote: key.remote,
                remote_name: Field::start(remote.name.filter(|_| key.remote.is_some())),
                remote_endpoints: None,
                clients: None,
                count: 0,
                by_state: [0; ShownState::ORDER.len()],
                rank: rank[row.owner as usize],
            });
            clients.push(HashSet::new());
            endpoints.push(HashSet::new());
            groups.len() - 1
        });
        let group = &mut groups[slot];
        if group.count > 0 {
            group.namespace.add(owner.namespace);
            group.pod.add(owner.pod);
            group.container.add(owner.container);
            group.container_id.add(unnamed_id);
            group.pod_level &= pod_level;
            group.kernel &= kernel;
            group.netns.add(Some(row.netns));
            group.direction.add(Some(direction));
            group.proto.add(Some(socket.proto));
            group.remote_name.add(remote.name.filter(|_| key.remote.is_some()));
            group.rank = group.rank.min(rank[row.owner as usize]);
        }
        group.count += 1;
        group.by_state[socket.shown_state().index()] += 1;
        // A listening socket's remote end is the wildcard, no client.
        if direction == Direction::In && !socket.listens() {
            clients[slot].insert(socket.remote);
        }
        endpoints[slot].extend(remote.endpoint);
    }
    for (group, endpoints) in groups.iter_mut().zip(endpoints) {
        if group.remote.is_some() && !endpoints.is_empty() {
            group.remote_endpoints = Some(endpoints.len() as u64);
        }
    }
    for (group, clients) in groups.iter_mut().zip(clients) {
        if group.direction == Field::One(Direction::In) {
            group.clients = Some(clients.len() as u64);
        }
    }
    groups.sort_unstable_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.rank.cmp(&b.rank))
            .then_with(|| a.netns.one().cmp(&b.netns.one()))
            .then_with(|| a.direction.one().cmp(&b.direction.one()))
            .then_with(|| a.local.cmp(&b.local))
            .then_with(|| a.remote.cmp(&b.remote))
    });
    groups
}

/// Each owner's key under the grouping (owners naming the same namespace,
/// pod and container, as far as those are keys, share one; the kernel is a
/// container of its own), and whether anything at all is known of it.
fn owner_keys<'a>(owners: &[Owner<'a>], grouping: Grouping) -> Vec<(u32, bool)> {
    let mut interned: HashMap<([Option<&'a str>; 3], bool), u32> = HashMap::new();
    owners
        .iter()
        .map(|owner| {
            let unnamed_id = owner.container_id.filter(|_| owner.container.is_none());
            let known = owner.namespace.is_some()
                || owner.pod.is_some()
                || owner.container.is_some()
                || unnamed_id.is_some();
            let keyed = |key, value: Option<&'a str>| value.filter(|_| grouping.has(key));
            let identity = [
                keyed(Key::Namespace, owner.namespace),
                keyed(Key::Pod, owner.pod),
                keyed(Key::Container, owner.container.or(unnamed_id)),
            ];
            let kernel = grouping.has(Key::Container) && owner.attribution == Attribution::Kernel;
            let next = interned.len() as u32;
            (*interned.entry((identity, kernel)).or_insert(next), known)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing;

    const POD_NS: u64 = 1;
    const OTHER_NS: u64 = 2;

    fn owner(
        namespace: Option<&'static str>,
        pod: Option<&'static str>,
        container: Option<&'static str>,
        attribution: Attribution,
    ) -> Owner<'static> {
        Owner {
            namespace,
            pod,
            container,
            attribution,
            ..Owner::NONE
        }
    }

    /// Owner 0 is unknown; 1 the pod's `app`; 2 the pod itself (its
    /// TIME_WAITs); 3 and 4 unnamed containers; 5 `app` of another pod.
    fn owners() -> Vec<Owner<'static>> {
        vec![
            Owner::NONE,
            owner(
                Some("shop"),
                Some("cart-0"),
                Some("app"),
                Attribution::Process,
            ),
            owner(Some("shop"), Some("cart-0"), None, Attribution::Netns),
            Owner {
                container_id: Some("aaaa"),
                ..Owner::NONE
            },
            Owner {
                container_id: Some("bbbb"),
                ..Owner::NONE
            },
            owner(
                Some("shop"),
                Some("cart-10"),
                Some("app"),
                Attribution::Process,
            ),
        ]
    }

    fn row(owner: u32, netns: u64, local: &str, remote: &str, state: TcpState) -> Row<'static> {
        // Rows borrow their sockets from a snapshot, which a test has none
        // of: leaking a few test sockets gives one.
        Row {
            socket: Box::leak(Box::new(testing::socket(local, remote, state, 0))),
            netns: NetnsId::Inode(netns),
            owner,
            remote: 0,
        }
    }

    /// The pod listens on TCP 8080, and on UDP where `rows` hold an
    /// unconnected socket.
    fn listening(rows: &[Row<'_>]) -> Listening {
        let mut snapshot = testing::snapshot();
        let mut sockets = vec![testing::socket(
            "0.0.0.0:8080",
            "0.0.0.0:0",
            TcpState::Listen,
            9,
        )];
        sockets.extend(rows.iter().map(|r| *r.socket).filter(|s| s.listens()));
        snapshot.namespaces.push(testing::netns(POD_NS, sockets));
        Listening::of(&snapshot)
    }

    fn summarize_rows(rows: &[Row<'static>], grouping: Grouping) -> Vec<Group<'static>> {
        let attributed = Attributed {
            remotes: vec![crate::analyze::remote::Remote::UNKNOWN],
            owners: owners(),
            rows: Vec::new(),
        };
        // The groups borrow names from the owners; the test keeps both.
        let attributed: &'static Attributed<'static> = Box::leak(Box::new(attributed));
        summarize(attributed, rows, &listening(rows), grouping)
    }

    use crate::model::TcpState::{self, *};

    #[test]
    fn inbound_groups_per_listening_port_with_clients_outbound_per_destination() {
        let db = "10.0.0.9:5432";
        let rows = [
            row(1, POD_NS, "10.0.0.5:40000", db, Established),
            row(2, POD_NS, "10.0.0.5:40001", db, TimeWait),
            row(2, POD_NS, "10.0.0.5:40002", db, TimeWait),
            row(2, POD_NS, "10.0.0.5:40003", db, TimeWait),
            row(1, POD_NS, "10.0.0.5:8080", "10.0.0.7:51000", Established),
            row(1, POD_NS, "10.0.0.5:8080", "10.0.0.7:51001", Established),
            row(1, POD_NS, "10.0.0.5:8080", "10.0.0.8:33000", Established),
        ];
        let groups = summarize_rows(&rows, Grouping::ServiceEnd);
        let shown: Vec<_> = groups
            .iter()
            .map(|g| {
                (
                    g.container,
                    g.pod_level,
                    g.direction,
                    g.local,
                    g.remote,
                    g.clients,
                    g.count,
                )
            })
            .collect();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(
            shown,
            vec![
                // Three ESTABLISHED from two client addresses, one group.
                (
                    Field::One("app"),
                    false,
                    Field::One(Direction::In),
                    Some((ip("10.0.0.5"), Some(8080))),
                    None,
                    Some(2),
                    3
                ),
                (
                    Field::Absent,
                    true,
                    Field::One(Direction::Out),
                    None,
                    Some((ip("10.0.0.9"), Some(5432))),
                    None,
                    3
                ),
                (
                    Field::One("app"),
                    false,
                    Field::One(Direction::Out),
                    None,
                    Some((ip("10.0.0.9"), Some(5432))),
                    None,
                    1
                ),
            ]
        );
        assert!(groups.iter().all(
            |g| g.pod == Field::One("cart-0") && g.netns == Field::One(NetnsId::Inode(POD_NS))
        ));
    }

    #[test]
    fn by_pod_and_remote_one_line_per_destination_whatever_the_container() {
        let db = "10.0.0.9:5432";
        let rows = [
            row(1, POD_NS, "10.0.0.5:40000", db, Established),
            row(2, POD_NS, "10.0.0.5:40001", db, TimeWait),
            row(2, POD_NS, "10.0.0.5:40002", db, TimeWait),
            row(5, OTHER_NS, "10.0.0.6:40000", db, TimeWait),
        ];
        let groups = summarize_rows(&rows, Grouping::by(&[Key::Pod, Key::Remote]));
        assert_eq!(groups.len(), 2);
        let cart0 = &groups[0];
        assert_eq!(
            (cart0.pod, cart0.container, cart0.count),
            (Field::One("cart-0"), Field::Several, 3)
        );
        assert_eq!(
            cart0.states().collect::<Vec<_>>(),
            vec![
                (ShownState::Kernel(Established), 1),
                (ShownState::Kernel(TimeWait), 2)
            ]
        );
        assert_eq!((groups[1].pod, groups[1].count), (Field::One("cart-10"), 1));
        // The namespace is no key but is the same for all: it is kept.
        assert_eq!(cart0.namespace, Field::One("shop"));
    }

    fn udp_row(owner: u32, local: &str, remote: &str, state: TcpState) -> Row<'static> {
        Row {
            socket: Box::leak(Box::new(testing::udp_socket(local, remote, state, 0))),
            netns: NetnsId::Inode(POD_NS),
            owner,
            remote: 0,
        }
    }

    #[test]
    fn udp_counts_apart_from_tcp_and_names_unconnected_sockets_unconn() {
        let dns = "10.0.0.10:53";
        let rows = [
            // The pod's resolver: three queries from fresh ports.
            udp_row(1, "10.0.0.5:41000", dns, Established),
            udp_row(1, "10.0.0.5:41001", dns, Established),
            udp_row(1, "10.0.0.5:41002", dns, Established),
            // Its DNS server on 5353: unconnected, and one socket connected
            // to a client from its port.
            udp_row(1, "0.0.0.0:5353", "0.0.0.0:0", Close),
            udp_row(1, "10.0.0.5:5353", "10.0.0.7:40000", Established),
            // A query from 8080, the port of the pod's TCP listener
            // (listening()): a port of the other space, outbound.
            udp_row(1, "10.0.0.5:8080", dns, Established),
            // TCP to the same address and port as the queries.
            row(1, POD_NS, "10.0.0.5:42000", dns, Established),
        ];
        let groups = summarize_rows(&rows, Grouping::by(&[Key::Proto, Key::Direction, Key::Remote]));
        let shown: Vec<_> = groups
            .iter()
            .map(|g| {
                let states: Vec<(&str, u32)> = g.states().map(|(s, n)| (s.name(), n)).collect();
                (g.proto, g.direction, g.remote.map(|(ip, port)| (ip.to_string(), port)), g.clients, states)
            })
            .collect();
        let (out, inbound) = (Field::One(Direction::Out), Field::One(Direction::In));
        assert_eq!(
            shown,
            vec![
                (Field::One(Proto::Udp), out, Some(("10.0.0.10".into(), Some(53))), None, vec![("ESTABLISHED", 4)]),
                // Equal counts: outbound first, then by the far end.
                (Field::One(Proto::Tcp), out, Some(("10.0.0.10".into(), Some(53))), None, vec![("ESTABLISHED", 1)]),
                // An inbound group's far end is the client's address; the
                // unconnected socket's wildcard is no client.
                (Field::One(Proto::Udp), inbound, Some(("0.0.0.0".into(), None)), Some(0), vec![("UNCONN", 1)]),
                (Field::One(Proto::Udp), inbound, Some(("10.0.0.7".into(), None)), Some(1), vec![("ESTABLISHED", 1)]),
            ]
        );
        // By pod alone: one group, UNCONN and ESTABLISHED of both protocols
        // counted by their shown names, the wildcard no client.
        let by_pod = summarize_rows(&rows, Grouping::by(&[Key::Pod]));
        assert_eq!(by_pod.len(), 1);
        let states: Vec<(&str, u32)> = by_pod[0].states().map(|(s, n)| (s.name(), n)).collect();
        assert_eq!(states, vec![("ESTABLISHED", 6), ("UNCONN", 1)]);
        assert_eq!((by_pod[0].proto, by_pod[0].direction), (Field::Several, Field::Several));
        let by_state = summarize_rows(&rows, Grouping::by(&[Key::State]));
        assert_eq!(by_state.iter().map(|g| g.count).collect::<Vec<_>>(), [6, 1]);
    }

    #[test]
    fn the_kernels_sockets_are_a_container_of_their_own() {
        let mut owners = owners();
        owners.push(owner(Some("shop"), Some("cart-0"), None, Attribution::Kernel));
        let attributed: &'static Attributed<'static> = Box::leak(Box::new(Attributed {
            remotes: vec![crate::analyze::remote::Remote::UNKNOWN],
            owners,
            rows: Vec::new(),
        }));
        let rows = [
            udp_row(6, "0.0.0.0:4789", "0.0.0.0:0", Close),
            row(2, POD_NS, "10.0.0.5:40001", "10.0.0.9:5432", TimeWait),
            row(1, POD_NS, "10.0.0.5:40002", "10.0.0.9:5432", Established),
        ];
        let groups = |keys: &[Key]| summarize(attributed, &rows, &listening(&rows), Grouping::by(keys));
        let by_container = groups(&[Key::Pod, Key::Container]);
        let shown: Vec<_> = by_container
            .iter()
            .map(|g| (g.container, g.pod_level, g.kernel, g.count))
            .collect();
        assert_eq!(
            shown,
            vec![
                (Field::One("app"), false, false, 1),
                (Field::Absent, true, false, 1),
                (Field::Absent, false, true, 1),
            ]
        );
        // By pod, they are the pod's with the rest.
        let by_pod = groups(&[Key::Pod]);
        assert_eq!(by_pod.len(), 1);
        assert!(!by_pod[0].kernel && !by_pod[0].pod_level);
    }

    #[test]
    fn unknown_owners_never_merge_across_namespaces() {
        let rows = [
            row(0, POD_NS, "127.0.0.1:40000", "127.0.0.1:9000", TimeWait),
            row(0, OTHER_NS, "127.0.0.1:40000", "127.0.0.1:9000", TimeWait),
            row(0, OTHER_NS, "127.0.0.1:40001", "127.0.0.1:9000", TimeWait),
        ];
        let groups = summarize_rows(&rows, Grouping::ServiceEnd);
        let counts: Vec<_> = groups.iter().map(|g| (g.netns, g.count)).collect();
        assert_eq!(
            counts,
            vec![
                (Field::One(NetnsId::Inode(OTHER_NS)), 2),
                (Field::One(NetnsId::Inode(POD_NS)), 1)
            ]
        );
        let by_remote = summarize_rows(&rows, Grouping::by(&[Key::Remote]));
        assert_eq!(by_remote.len(), 2, "no --by key merges what nothing names");
    }

    #[test]
    fn containers_known_only_by_id_stay_apart_and_names_order_naturally() {
        let rows = [
            row(3, OTHER_NS, "10.0.0.1:1", "10.0.0.9:5432", Established),
            row(4, OTHER_NS, "10.0.0.1:2", "10.0.0.9:5432", Established),
            row(5, OTHER_NS, "10.0.0.1:3", "10.0.0.9:5432", Established),
            row(1, POD_NS, "10.0.0.5:4", "10.0.0.9:5432", Established),
        ];
        let groups = summarize_rows(&rows, Grouping::ServiceEnd);
        let shown: Vec<_> = groups.iter().map(|g| (g.pod, g.container_id)).collect();
        assert_eq!(
            shown,
            vec![
                // cart-0 before cart-10 though "cart-1…" sorts first as text.
                (Field::One("cart-0"), Field::Absent),
                (Field::One("cart-10"), Field::Absent),
                (Field::Absent, Field::One("aaaa")),
                (Field::Absent, Field::One("bbbb")),
            ]
        );
    }

    #[test]
    fn a_container_recreated_under_its_name_is_one_group() {
        let mut owners = owners();
        owners[3] = Owner {
            container: Some("cart"),
            container_id: Some("aaaa"),
            ..Owner::NONE
        };
        owners[4] = Owner {
            container: Some("cart"),
            container_id: Some("bbbb"),
            ..Owner::NONE
        };
        let attributed: &'static Attributed<'static> = Box::leak(Box::new(Attributed {
            remotes: vec![crate::analyze::remote::Remote::UNKNOWN],
            owners,
            rows: Vec::new(),
        }));
        let rows = [
            row(3, OTHER_NS, "10.0.0.1:1", "10.0.0.9:5432", Established),
            row(4, OTHER_NS, "10.0.0.1:2", "10.0.0.9:5432", Established),
        ];
        let groups = summarize(attributed, &rows, &listening(&rows), Grouping::ServiceEnd);
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (groups[0].container, groups[0].count),
            (Field::One("cart"), 2)
        );
    }
}
