//! `--summary`: sockets counted per (namespace, pod, container, remote
//! address, remote port), the question behind ephemeral and SNAT port
//! exhaustion: which container opens how many connections to where.
//! Containers known only by id are told apart by it.

use std::collections::HashMap;
use std::net::IpAddr;

use super::attribute::{Attributed, Row};
use super::order::identity_ranks;
use crate::model::TcpState;

#[derive(Debug, PartialEq, Eq)]
pub struct Group<'a> {
    pub namespace: Option<&'a str>,
    pub pod: Option<&'a str>,
    /// The container's name; None when only its id is known.
    pub container: Option<&'a str>,
    pub container_id: Option<&'a str>,
    /// Equal for groups of the same container, ordered like the names.
    pub identity: u32,
    pub remote: IpAddr,
    pub remote_port: u16,
    pub count: u64,
    /// Count per state, indexed by the kernel's state number.
    by_state: [u32; 13],
}

impl Group<'_> {
    /// Non-zero counts, in the kernel's state order.
    pub fn states(&self) -> impl Iterator<Item = (TcpState, u32)> + '_ {
        TcpState::ALL
            .into_iter()
            .map(|state| (state, self.by_state[state as usize]))
            .filter(|(_, n)| *n > 0)
    }
}

/// Groups, largest first; equal counts in name order so output is stable.
pub fn summarize<'a>(attributed: &Attributed<'a>, rows: &[Row<'_>]) -> Vec<Group<'a>> {
    let identity = identity_ranks(&attributed.owners);
    let mut index: HashMap<(u32, IpAddr, u16), usize> = HashMap::new();
    let mut groups: Vec<Group<'a>> = Vec::new();
    for row in rows {
        let key = (
            identity[row.owner as usize],
            row.socket.remote,
            row.socket.remote_port,
        );
        let slot = *index.entry(key).or_insert_with(|| {
            let owner = attributed.owner(row);
            groups.push(Group {
                namespace: owner.namespace,
                pod: owner.pod,
                container: owner.container,
                container_id: owner.container_id,
                identity: key.0,
                remote: key.1,
                remote_port: key.2,
                count: 0,
                by_state: [0; 13],
            });
            groups.len() - 1
        });
        let group = &mut groups[slot];
        group.count += 1;
        group.by_state[row.socket.state as usize] += 1;
    }
    groups.sort_unstable_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.identity.cmp(&b.identity))
            .then_with(|| a.remote.cmp(&b.remote))
            .then_with(|| a.remote_port.cmp(&b.remote_port))
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribute::{Attribution, Owner};
    use crate::model::{testing, NetnsId};

    fn row(owner: u32, remote: [u8; 4], remote_port: u16, state: TcpState) -> Row<'static> {
        let remote = IpAddr::from(remote);
        Row {
            // Rows borrow their sockets from a snapshot, which a test
            // has none of: leaking a few test sockets gives one.
            socket: Box::leak(Box::new(testing::socket(
                "10.0.0.5:40000",
                &format!("{remote}:{remote_port}"),
                state,
                0,
            ))),
            netns: NetnsId::Inode(1),
            owner,
        }
    }

    #[test]
    fn counts_per_owner_and_destination_largest_first() {
        let app = Owner {
            namespace: Some("shop"),
            pod: Some("cart-0"),
            container: Some("cart"),
            container_id: None,
            runtime: None,
            pid: Some(7),
            process: Some("cart"),
            attribution: Attribution::Process,
        };
        // The same pod's TIME_WAITs, attributed by namespace (no container).
        let pod_level = Owner {
            container: None,
            pid: None,
            process: None,
            attribution: Attribution::Netns,
            ..app.clone()
        };
        let attributed = Attributed {
            owners: vec![app, pod_level],
            rows: vec![],
        };
        let db = [10, 0, 0, 9];
        let rows = vec![
            row(0, db, 5432, TcpState::Established),
            row(1, db, 5432, TcpState::TimeWait),
            row(1, db, 5432, TcpState::TimeWait),
            row(1, db, 5432, TcpState::TimeWait),
            row(0, db, 5432, TcpState::FinWait2),
            row(0, db, 6379, TcpState::Established),
        ];
        let groups = summarize(&attributed, &rows);
        let shown: Vec<_> = groups
            .iter()
            .map(|g| {
                (
                    g.container,
                    g.remote_port,
                    g.count,
                    g.states().collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                (None, 5432, 3, vec![(TcpState::TimeWait, 3)]),
                (
                    Some("cart"),
                    5432,
                    2,
                    vec![(TcpState::Established, 1), (TcpState::FinWait2, 1)]
                ),
                (Some("cart"), 6379, 1, vec![(TcpState::Established, 1)]),
            ]
        );
        assert!(groups.iter().all(|g| g.pod == Some("cart-0")));
    }

    /// One socket from each of two owners to the same destination.
    fn summarize_two(first: Owner<'static>, second: Owner<'static>) -> Vec<Group<'static>> {
        let attributed = Attributed {
            owners: vec![first, second],
            rows: vec![],
        };
        let db = [10, 0, 0, 9];
        let rows = vec![
            row(0, db, 5432, TcpState::Established),
            row(1, db, 5432, TcpState::Established),
        ];
        summarize(&attributed, &rows)
    }

    fn container(name: Option<&'static str>, id: &'static str) -> Owner<'static> {
        Owner {
            namespace: name.map(|_| "shop"),
            pod: name.map(|_| "cart-0"),
            container: name,
            container_id: Some(id),
            runtime: None,
            pid: None,
            process: None,
            attribution: Attribution::Process,
        }
    }

    #[test]
    fn containers_known_only_by_id_stay_apart() {
        let groups = summarize_two(container(None, "aaaa"), container(None, "bbbb"));
        let ids: Vec<_> = groups
            .iter()
            .map(|g| (g.container, g.container_id, g.count))
            .collect();
        assert_eq!(ids, vec![(None, Some("aaaa"), 1), (None, Some("bbbb"), 1)]);
    }

    #[test]
    fn a_container_recreated_under_its_name_is_one_group() {
        let groups = summarize_two(
            container(Some("cart"), "aaaa"),
            container(Some("cart"), "bbbb"),
        );
        assert_eq!(groups.len(), 1);
        assert_eq!((groups[0].container, groups[0].count), (Some("cart"), 2));
    }
}
