//! Per-namespace sysctls: `parse::sysctl::{parse_port_range,
//! ReservedPorts::parse, parse_tw_reuse, parse_conntrack_max}`, all four
//! on the same bytes.
//!
//! Input: the file.
//!
//! Asserts: no panic; an error names the sysctl. What is read is exactly
//! what the kernel writes (decimal digits, a tab or commas and dashes, a
//! newline), checked against a reading of the text here: the port range
//! is its two numbers, low to high; the reserved ports are sorted ranges,
//! apart by at least one port, covering exactly the ports the text lists;
//! `tcp_tw_reuse` is 0, 1 or 2; `nf_conntrack_max` its number. Each,
//! written back as the kernel prints it, reads the same, and is the text
//! itself when that has no leading zeros (and, for reserved ports, is
//! already merged).
#![no_main]

use std::ops::RangeInclusive;

use cnetstat::parse::sysctl::{
    parse_conntrack_max, parse_port_range, parse_tw_reuse, ReservedPorts, SysctlError, TwReuse,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = data
        .strip_suffix(b"\n")
        .and_then(|line| std::str::from_utf8(line).ok());
    check_port_range(data, line);
    check_reserved_ports(data, line);
    check_tw_reuse(data, line);
    check_conntrack_max(data, line);
});

fn check_error(error: &SysctlError, name: &str) {
    assert_eq!(error.sysctl, name);
    assert!(error.to_string().starts_with(&format!("{name}: ")), "{error}");
}

/// Decimal digits only, as the kernel prints numbers; no sign, no blank.
fn number<T: std::str::FromStr>(text: &str) -> Option<T> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

/// Written without leading zeros, as the kernel writes it.
fn canonical(text: &str) -> bool {
    text.len() == 1 || !text.starts_with('0')
}

fn check_port_range(data: &[u8], line: Option<&str>) {
    // The two numbers, in whatever order, and whether the kernel would
    // have written them so.
    let numbers = line.and_then(|line| {
        let (low, high) = line.split_once('\t')?;
        let canonical = canonical(low) && canonical(high);
        Some((number::<u16>(low)?, number::<u16>(high)?, canonical))
    });
    match (parse_port_range(data), numbers) {
        (Ok(range), Some((low, high, canonical))) => {
            assert_eq!(range, low..=high);
            assert!(low <= high);
            let printed = format!("{low}\t{high}\n");
            assert_eq!(parse_port_range(printed.as_bytes()), Ok(range));
            if canonical {
                assert_eq!(printed.as_bytes(), data);
            }
        }
        (Err(error), Some((low, high, _))) => {
            assert!(low > high, "refused {low}..={high}: {error}");
            check_error(&error, "net.ipv4.ip_local_port_range");
        }
        (Err(error), None) => check_error(&error, "net.ipv4.ip_local_port_range"),
        (Ok(range), None) => panic!("read {range:?} from {line:?}"),
    }
}

fn check_reserved_ports(data: &[u8], line: Option<&str>) {
    let parsed = ReservedPorts::parse(data);
    // Every port the text lists, or None when an entry is not a port or
    // an ascending range of them.
    let listed = line.and_then(|line| {
        let mut ports = vec![false; 1 << 16];
        if line.is_empty() {
            return Some((ports, true));
        }
        let mut canonical_text = true;
        for entry in line.split(',') {
            let (low, high) = entry.split_once('-').unwrap_or((entry, entry));
            let (low, high) = (number::<u16>(low)?, number::<u16>(high)?);
            if low > high {
                return None;
            }
            canonical_text &= entry.split('-').all(canonical);
            ports[usize::from(low)..=usize::from(high)].fill(true);
        }
        Some((ports, canonical_text))
    });
    let (reserved, (ports, canonical_text)) = match (parsed, listed) {
        (Ok(reserved), Some(listed)) => (reserved, listed),
        (Err(error), None) => return check_error(&error, "net.ipv4.ip_local_reserved_ports"),
        (parsed, listed) => panic!("read {parsed:?}, listed {:?}", listed.map(|l| l.1)),
    };
    let ranges = reserved.ranges();
    for pair in ranges.windows(2) {
        assert!(u32::from(*pair[0].end()) + 1 < u32::from(*pair[1].start()), "{ranges:?}");
    }
    let mut covered = vec![false; 1 << 16];
    for range in ranges {
        assert!(range.start() <= range.end());
        covered[usize::from(*range.start())..=usize::from(*range.end())].fill(true);
    }
    assert!(covered == ports, "{ranges:?}");

    let printed = print_ranges(ranges);
    assert_eq!(ReservedPorts::parse(printed.as_bytes()).as_ref(), Ok(&reserved));
    if canonical_text && is_merged_listing(line.unwrap_or_default()) {
        assert_eq!(printed.as_bytes(), data);
    }
}

/// proc_do_large_bitmap's format: `a-b` or `a`, comma-separated.
fn print_ranges(ranges: &[RangeInclusive<u16>]) -> String {
    let entries: Vec<String> = ranges
        .iter()
        .map(|r| match r.start() == r.end() {
            true => r.start().to_string(),
            false => format!("{}-{}", r.start(), r.end()),
        })
        .collect();
    format!("{}\n", entries.join(","))
}

/// Whether a listing is already as the kernel prints it: ascending
/// entries, apart by at least one port, a single port without a dash.
fn is_merged_listing(line: &str) -> bool {
    if line.is_empty() {
        return true;
    }
    let mut previous_end: Option<u32> = None;
    for entry in line.split(',') {
        let (low, high) = entry.split_once('-').unwrap_or((entry, entry));
        let (Some(low), Some(high)) = (number::<u32>(low), number::<u32>(high)) else {
            return false;
        };
        if (entry.contains('-') && low == high) || previous_end.is_some_and(|end| low <= end + 1) {
            return false;
        }
        previous_end = Some(high);
    }
    true
}

fn check_tw_reuse(data: &[u8], line: Option<&str>) {
    let expected = match line {
        Some("0") => Some(TwReuse::Off),
        Some("1") => Some(TwReuse::On),
        Some("2") => Some(TwReuse::LoopbackOnly),
        _ => None,
    };
    match parse_tw_reuse(data) {
        Ok(reuse) => assert_eq!(Some(reuse), expected),
        Err(error) => {
            assert_eq!(expected, None);
            check_error(&error, "net.ipv4.tcp_tw_reuse");
        }
    }
}

fn check_conntrack_max(data: &[u8], line: Option<&str>) {
    let expected = line.and_then(number::<u32>);
    match parse_conntrack_max(data) {
        Ok(max) => {
            assert_eq!(Some(max), expected);
            let printed = format!("{max}\n");
            assert_eq!(parse_conntrack_max(printed.as_bytes()), Ok(max));
            if line.is_some_and(canonical) {
                assert_eq!(printed.as_bytes(), data);
            }
        }
        Err(error) => {
            assert_eq!(expected, None);
            check_error(&error, "net.netfilter.nf_conntrack_max");
        }
    }
}
