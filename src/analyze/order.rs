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
            order.then_with(|| none_last(*x, *y, natural))
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

fn none_last<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => cmp(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Names as a person orders them: runs of digits compare as numbers, so
/// `scale-2` comes before `scale-10`; the rest compares as text.
pub fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (x_digits, x_rest) = split_digits(a);
                let (y_digits, y_rest) = split_digits(b);
                let (x_value, y_value) = (trim_zeros(x_digits), trim_zeros(y_digits));
                let order = x_value
                    .len()
                    .cmp(&y_value.len())
                    .then_with(|| x_value.cmp(y_value))
                    // `07` after `7`, so names that differ only so still differ.
                    .then_with(|| x_digits.len().cmp(&y_digits.len()));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (x_rest, y_rest);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn split_digits(text: &[u8]) -> (&[u8], &[u8]) {
    let end = text
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_names_order_as_numbers() {
        let mut names = vec![
            "scale-10", "scale-2", "scale-1", "web", "scale-2a", "scale-02", "a10b2", "a10b10",
            "a9",
        ];
        names.sort_by(|a, b| natural(a, b));
        assert_eq!(
            names,
            [
                "a9", "a10b2", "a10b10", "scale-1", "scale-2", "scale-2a", "scale-02", "scale-10",
                "web"
            ]
        );
        assert_eq!(
            natural("x99999999999999999999999", "x100000000000000000000000"),
            Ordering::Less
        );
        assert_eq!(natural("same", "same"), Ordering::Equal);
    }
}
