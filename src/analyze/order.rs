//! The orders output comes in: rows by owner then address, owners by the
//! names a person reads.

use std::cmp::Ordering;

use super::attribute::{Attributed, Owner};

/// A stable order for output: by namespace, pod and container (unattributed
/// last), then by namespace inode and addresses.
pub fn sort_rows(attributed: &mut Attributed<'_>) {
    let rank = identity_ranks(&attributed.owners);
    attributed.rows.sort_unstable_by(|a, b| {
        rank[a.owner as usize]
            .cmp(&rank[b.owner as usize])
            .then_with(|| a.netns.cmp(&b.netns))
            .then_with(|| a.socket.proto.cmp(&b.socket.proto))
            .then_with(|| a.socket.local.cmp(&b.socket.local))
            .then_with(|| a.socket.local_port.cmp(&b.socket.local_port))
            .then_with(|| a.socket.remote.cmp(&b.socket.remote))
            .then_with(|| a.socket.remote_port.cmp(&b.socket.remote_port))
            .then_with(|| a.socket.state.cmp(&b.socket.state))
            .then_with(|| a.socket.inode.cmp(&b.socket.inode))
    });
}

/// For each owner, the rank of the container it names, in name order,
/// unknowns last: (namespace, pod, container name), and the id only for a
/// container without a name. Owners naming the same container share a rank
/// (a container's processes are many owners, and a container re-created
/// under its name is still the same one to its users). Owners are few and
/// rows many: rows then sort and group by an integer.
pub fn identity_ranks(owners: &[Owner<'_>]) -> Vec<u32> {
    fn identity<'a>(o: &Owner<'a>) -> [Option<&'a str>; 4] {
        let unnamed_id = if o.container.is_none() {
            o.container_id
        } else {
            None
        };
        [o.namespace, o.pod, o.container, unnamed_id]
    }
    let mut by_name: Vec<u32> = (0..owners.len() as u32).collect();
    by_name.sort_unstable_by(|&a, &b| {
        let (ia, ib) = (identity(&owners[a as usize]), identity(&owners[b as usize]));
        ia.iter().zip(&ib).fold(Ordering::Equal, |order, (x, y)| {
            order.then_with(|| none_last(*x, *y))
        })
    });
    let mut rank = vec![0u32; owners.len()];
    for (position, &owner) in by_name.iter().enumerate() {
        let previous = position.checked_sub(1).map(|p| by_name[p] as usize);
        rank[owner as usize] = match previous {
            Some(p) if identity(&owners[p]) == identity(&owners[owner as usize]) => rank[p],
            _ => position as u32,
        };
    }
    rank
}

pub fn none_last<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}
