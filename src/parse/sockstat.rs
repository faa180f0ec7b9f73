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

/// A namespace's bound UDP sockets per family, from `net/sockstat` (`UDP:
/// inuse 3 mem 0`) and `net/sockstat6` (`UDP6: inuse 1`): the kernel counts
/// a socket when it hashes it, as the dump walks only hashed sockets, so a
/// family counted 0 needs no dump. Kernel-held sockets (VXLAN's) count too.
#[derive(Debug, PartialEq, Eq)]
pub struct UdpCounts {
    pub ipv4: u64,
    /// AF_INET6 sockets, dual-stack ones included.
    pub ipv6: u64,
}

pub fn udp_counts(sockstat: &[u8], sockstat6: &[u8]) -> Option<UdpCounts> {
    Some(UdpCounts {
        ipv4: counter(counters(sockstat, b"UDP:")?, b"inuse")?,
        ipv6: counter(counters(sockstat6, b"UDP6:")?, b"inuse")?,
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

    #[test]
    fn udp_counts_from_sockstat() {
        // Recorded next to testdata/proc_net/udp: two sockets of a process
        // and a VXLAN device's in udp, three in udp6.
        let counts = udp_counts(
            include_bytes!("../../testdata/sockstat/udp-sockstat"),
            include_bytes!("../../testdata/sockstat/udp-sockstat6"),
        );
        assert_eq!(counts, Some(UdpCounts { ipv4: 3, ipv6: 3 }));
        let empty = udp_counts(
            include_bytes!("../../testdata/sockstat/busy-sockstat"),
            include_bytes!("../../testdata/sockstat/busy-sockstat6"),
        );
        assert_eq!(empty, Some(UdpCounts { ipv4: 0, ipv6: 0 }));
        // UDPLITE: is another line, not UDP's.
        assert_eq!(udp_counts(b"UDPLITE: inuse 4\n", b"UDP6: inuse 0\n"), None);
        assert_eq!(udp_counts(b"UDP: inuse 2 mem 1\n", b"UDPLITE6: inuse 0\n"), None);
    }
}
