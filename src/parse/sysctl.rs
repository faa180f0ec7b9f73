//! The sysctls that bound a namespace's ephemeral ports and conntrack
//! table (ports.md §1.4, §4.1). Each is per network namespace, so a caller
//! reads `/proc/sys/...` from a thread inside the namespace (there is no
//! `/proc/<pid>/sys`). The parsers take the file's bytes and accept only
//! what the kernel writes.

use std::fmt;
use std::ops::RangeInclusive;

use crate::text::parse_decimal;

pub const IP_LOCAL_PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
pub const IP_LOCAL_RESERVED_PORTS: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";
pub const TCP_TW_REUSE: &str = "/proc/sys/net/ipv4/tcp_tw_reuse";
pub const NF_CONNTRACK_MAX: &str = "/proc/sys/net/netfilter/nf_conntrack_max";

/// A sysctl file that does not hold what the kernel writes there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysctlError {
    pub sysctl: &'static str,
    pub problem: &'static str,
}

impl fmt::Display for SysctlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.sysctl, self.problem)
    }
}

impl std::error::Error for SysctlError {}

/// The text without the newline the kernel ends every value with.
fn line<'a>(text: &'a [u8], sysctl: &'static str) -> Result<&'a [u8], SysctlError> {
    text.strip_suffix(b"\n").ok_or(SysctlError {
        sysctl,
        problem: "does not end with a newline",
    })
}

/// `ip_local_port_range`: "32768\t60999\n".
pub fn parse_port_range(text: &[u8]) -> Result<RangeInclusive<u16>, SysctlError> {
    const NAME: &str = "net.ipv4.ip_local_port_range";
    let fail = |problem| SysctlError {
        sysctl: NAME,
        problem,
    };
    let mut numbers = line(text, NAME)?.split(|&b| b == b'\t');
    let (Some(low), Some(high), None) = (numbers.next(), numbers.next(), numbers.next()) else {
        return Err(fail("is not two numbers separated by a tab"));
    };
    let low: u16 = parse_decimal(low).ok_or(fail("low end is not a port number"))?;
    let high: u16 = parse_decimal(high).ok_or(fail("high end is not a port number"))?;
    if low > high {
        return Err(fail("low end above the high end"));
    }
    Ok(low..=high)
}

/// `ip_local_reserved_ports`: ports and ranges, sorted and merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReservedPorts {
    ranges: Vec<RangeInclusive<u16>>,
}

impl ReservedPorts {
    /// "8080,9000-9010\n", or "\n" for none (proc_do_large_bitmap's format).
    pub fn parse(text: &[u8]) -> Result<ReservedPorts, SysctlError> {
        const NAME: &str = "net.ipv4.ip_local_reserved_ports";
        let fail = |problem| SysctlError {
            sysctl: NAME,
            problem,
        };
        let text = line(text, NAME)?;
        let mut ranges = Vec::new();
        if !text.is_empty() {
            for item in text.split(|&b| b == b',') {
                let mut ends = item.splitn(2, |&b| b == b'-');
                let low: u16 = ends
                    .next()
                    .and_then(parse_decimal)
                    .ok_or(fail("an entry is not a port or a range of ports"))?;
                let high: u16 = match ends.next() {
                    Some(high) => parse_decimal(high)
                        .ok_or(fail("an entry is not a port or a range of ports"))?,
                    None => low,
                };
                if low > high {
                    return Err(fail("a range's low end is above its high end"));
                }
                ranges.push(low..=high);
            }
        }
        ranges.sort_by_key(|r| *r.start());
        let mut merged: Vec<RangeInclusive<u16>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(*range.start()) <= u32::from(*last.end()) + 1 => {
                    *last = *last.start()..=*last.end().max(range.end());
                }
                _ => merged.push(range),
            }
        }
        Ok(ReservedPorts { ranges: merged })
    }

    pub fn ranges(&self) -> &[RangeInclusive<u16>] {
        &self.ranges
    }
}

/// `tcp_tw_reuse` (ports.md §1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwReuse {
    Off,
    On,
    /// 2, the default: only connections over loopback.
    LoopbackOnly,
}

pub fn parse_tw_reuse(text: &[u8]) -> Result<TwReuse, SysctlError> {
    const NAME: &str = "net.ipv4.tcp_tw_reuse";
    match line(text, NAME)? {
        b"0" => Ok(TwReuse::Off),
        b"1" => Ok(TwReuse::On),
        b"2" => Ok(TwReuse::LoopbackOnly),
        _ => Err(SysctlError {
            sysctl: NAME,
            problem: "is not 0, 1 or 2",
        }),
    }
}

/// `nf_conntrack_max`: one node-wide value (an unsigned int), read-only
/// in namespaces other than the host's.
pub fn parse_conntrack_max(text: &[u8]) -> Result<u32, SysctlError> {
    const NAME: &str = "net.netfilter.nf_conntrack_max";
    parse_decimal(line(text, NAME)?).ok_or(SysctlError {
        sysctl: NAME,
        problem: "is not a number",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(path: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/sysctl")
                .join(path),
        )
        .unwrap()
    }

    /// Recorded by record_netlink_fixtures (src/netlink/lab.rs), which set
    /// pod1's range to "30000 30999" and its reserved ports to
    /// "8080,9000-9010,30050", and left pod2's as a new namespace has them.
    #[test]
    fn recorded_files() {
        assert_eq!(
            parse_port_range(&recorded("pod1/net.ipv4.ip_local_port_range")),
            Ok(30000..=30999)
        );
        assert_eq!(
            parse_port_range(&recorded("pod2/net.ipv4.ip_local_port_range")),
            Ok(32768..=60999)
        );
        let reserved =
            ReservedPorts::parse(&recorded("pod1/net.ipv4.ip_local_reserved_ports")).unwrap();
        assert_eq!(reserved.ranges(), [8080..=8080, 9000..=9010, 30050..=30050]);
        let none =
            ReservedPorts::parse(&recorded("pod2/net.ipv4.ip_local_reserved_ports")).unwrap();
        assert!(none.ranges().is_empty());
        assert_eq!(
            parse_tw_reuse(&recorded("pod1/net.ipv4.tcp_tw_reuse")),
            Ok(TwReuse::LoopbackOnly)
        );
        assert_eq!(
            parse_conntrack_max(&recorded("nat/net.netfilter.nf_conntrack_max")),
            Ok(262144)
        );
    }

    #[test]
    fn reserved_ports_merge() {
        let reserved = ReservedPorts::parse(b"9005-9020,80,9000-9010,81,65535\n").unwrap();
        assert_eq!(reserved.ranges(), [80..=81, 9000..=9020, 65535..=65535]);
    }

    #[test]
    fn strict_about_what_the_kernel_never_writes() {
        for bad in [
            &b"32768 60999\n"[..],
            b"32768\t60999",
            b"60999\t32768\n",
            b"1\t2\t3\n",
            b"1\t70000\n",
            b"\n",
        ] {
            assert!(
                parse_port_range(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for bad in [
            &b"8080"[..],
            b"8080,\n",
            b"-1\n",
            b"9010-9000\n",
            b"1-2-3\n",
            b"65536\n",
            b" 80\n",
        ] {
            assert!(
                ReservedPorts::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_tw_reuse(b"3\n").is_err());
        assert!(parse_tw_reuse(b"1").is_err());
        assert!(parse_conntrack_max(b"4294967296\n").is_err());
        let err = parse_port_range(b"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "net.ipv4.ip_local_port_range: does not end with a newline"
        );
    }

    #[test]
    fn live_files_of_a_new_namespace() {
        if !crate::netlink::lab::can_run("live_files_of_a_new_namespace") {
            return;
        }
        let netns = crate::netlink::lab::Netns::new("sysctl");
        netns.sysctl("net.ipv4.ip_local_reserved_ports=40000-40009,50000");
        let read = |path: &str| {
            crate::collect::netns_enter::in_netns(netns.path(), || std::fs::read(path).unwrap()).unwrap()
        };
        // ports.md §1.4: a new namespace's defaults, not the host's.
        assert_eq!(
            parse_port_range(&read(IP_LOCAL_PORT_RANGE)),
            Ok(32768..=60999)
        );
        assert_eq!(
            parse_tw_reuse(&read(TCP_TW_REUSE)),
            Ok(TwReuse::LoopbackOnly)
        );
        let reserved = ReservedPorts::parse(&read(IP_LOCAL_RESERVED_PORTS)).unwrap();
        assert_eq!(reserved.ranges(), [40000..=40009, 50000..=50000]);
        assert!(parse_conntrack_max(&read(NF_CONNTRACK_MAX)).is_ok());
    }
}
