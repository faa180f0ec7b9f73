//! A network namespace's TCP counters at one instant (ports.md §3): every
//! connection is counted, however short, so two reads of one namespace give
//! its exact rates; and what a cgroup v2 id names, for sockets whose
//! process could not be read.

use serde::{Deserialize, Serialize};

/// One read of a namespace's `net/snmp` (Tcp), `net/netstat` (TcpExt) and
/// `net/sockstat`/`sockstat6` (TCP, TCP6). All but the gauges only grow,
/// and a new namespace starts them at zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpCounters {
    /// CLOCK_BOOTTIME milliseconds when they were read: a tick reads
    /// namespaces one after another over a large part of a second, so a
    /// rate divides by the time between this namespace's own two reads.
    pub read_ms: u64,
    /// Connections this namespace opened (SYN sent; a connect() that found
    /// no port, EADDRNOTAVAIL, is not counted).
    pub active_opens: u64,
    /// Connections it accepted.
    pub passive_opens: u64,
    /// Connections that never established (refused, timed out).
    pub attempt_fails: u64,
    /// Established connections reset.
    pub estab_resets: u64,
    /// Gauge: ESTABLISHED and CLOSE_WAIT sockets.
    pub curr_estab: u64,
    /// Segments received and sent: any traffic moves them, so unchanged
    /// counters mean no socket of the namespace changed state but by a
    /// timer that fires without a segment (TIME_WAIT expiry).
    pub in_segs: u64,
    pub out_segs: u64,
    /// TcpExt `TW`: TIME_WAITs entered.
    pub time_waits_entered: u64,
    /// Gauges from sockstat: sockets in any state but TIME_WAIT (IPv4 and
    /// IPv6), and TIME_WAIT (with FIN_WAIT2 orphans) sockets.
    pub in_use: u64,
    pub time_wait: u64,
}

impl TcpCounters {
    /// Whether nothing but the clock and TIME_WAIT expiry moved between an
    /// earlier read and this one.
    pub fn only_time_waits_expired_since(&self, earlier: &TcpCounters) -> bool {
        TcpCounters {
            read_ms: 0,
            time_wait: 0,
            ..*self
        } == TcpCounters {
            read_ms: 0,
            time_wait: 0,
            ..*earlier
        } && self.time_wait <= earlier.time_wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_time_wait_expiry_leaves_the_other_counters_still() {
        let before = TcpCounters {
            read_ms: 1000,
            active_opens: 5,
            in_segs: 23,
            in_use: 3,
            time_wait: 3,
            ..TcpCounters::default()
        };
        let expired = TcpCounters {
            read_ms: 3000,
            time_wait: 1,
            ..before
        };
        assert!(expired.only_time_waits_expired_since(&before));
        // A new TIME_WAIT, a segment, or a connection is a change.
        for moved in [
            TcpCounters {
                time_wait: 4,
                ..before
            },
            TcpCounters {
                in_segs: 24,
                ..before
            },
            TcpCounters {
                active_opens: 6,
                ..before
            },
            TcpCounters {
                in_use: 2,
                ..before
            },
        ] {
            assert!(!moved.only_time_waits_expired_since(&before), "{moved:?}");
        }
    }
}
