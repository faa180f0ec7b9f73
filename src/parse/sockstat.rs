//! A namespace's socket counters, `net/sockstat` and `net/sockstat6`.

use crate::text::parse_decimal;

/// A namespace's TCP socket counts, from `net/sockstat` (`TCP: inuse 3
/// orphan 0 tw 1 alloc 6 mem 221`) and `net/sockstat6` (`TCP6: inuse 1`):
/// far cheaper to read than a socket table, whose every read walks the
/// node's whole socket hash.
#[derive(Debug, PartialEq, Eq)]
pub struct TcpCounts {
    /// Sockets in any state but TIME_WAIT, IPv4 and IPv6.
    pub in_use: u64,
    pub time_wait: u64,
}

pub fn tcp_counts(sockstat: &[u8], sockstat6: &[u8]) -> Option<TcpCounts> {
    let v4 = counters(sockstat, b"TCP:")?;
    let v6 = counters(sockstat6, b"TCP6:")?;
    Some(TcpCounts {
        in_use: counter(v4, b"inuse")?.checked_add(counter(v6, b"inuse")?)?,
        time_wait: counter(v4, b"tw")?,
    })
}

/// The rest of the line that starts with `label`.
fn counters<'a>(file: &'a [u8], label: &[u8]) -> Option<&'a [u8]> {
    file.split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(label))
}

/// The value after `name` in `name value name value…`.
fn counter(fields: &[u8], name: &[u8]) -> Option<u64> {
    let mut words = fields.split(|b| *b == b' ').filter(|w| !w.is_empty());
    while let Some(word) = words.next() {
        let value = words.next()?;
        if word == name {
            return parse_decimal(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_counts_from_sockstat() {
        // Recorded in a namespace holding a listener, a connection to it
        // (both ends), a TIME_WAIT and an IPv6 listener.
        let busy = tcp_counts(
            include_bytes!("../../testdata/sockstat/busy-sockstat"),
            include_bytes!("../../testdata/sockstat/busy-sockstat6"),
        );
        assert_eq!(
            busy,
            Some(TcpCounts {
                in_use: 4,
                time_wait: 1
            })
        );
        let empty = tcp_counts(
            include_bytes!("../../testdata/sockstat/empty-sockstat"),
            include_bytes!("../../testdata/sockstat/empty-sockstat6"),
        );
        assert_eq!(
            empty,
            Some(TcpCounts {
                in_use: 0,
                time_wait: 0
            })
        );
        assert_eq!(tcp_counts(b"UDP: inuse 0\n", b"TCP6: inuse 0\n"), None);
        assert_eq!(tcp_counts(b"TCP: inuse x tw 0\n", b"TCP6: inuse 0\n"), None);
        assert_eq!(tcp_counts(b"TCP: inuse 1 tw\n", b"TCP6: inuse 0\n"), None);
    }
}
