//! Parser for the kernel's TCP and UDP socket tables, `/proc/<pid>/net/tcp`,
//! `tcp6`, `udp` and `udp6` (proc(5); the format is `tcp4_seq_show`/
//! `tcp6_seq_show` in net/ipv4/tcp_ipv4.c and net/ipv6/tcp_ipv6.c, and
//! `udp4_format_sock`/`__ip6_dgram_sock_seq_show` for UDP, which print the
//! same columns up to `inode`, then `ref pointer drops`):
//!
//! ```text
//!   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//!    0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9222 1 …
//! ```
//!
//! Addresses are the in-kernel 32-bit words printed in hex, so on a
//! little-endian machine `0100007F` is 127.0.0.1; IPv6 addresses are four such
//! words. Ports are printed in host order. TIME_WAIT and request sockets have
//! no file, so their inode is 0. `tr` is the pending timer (the codes
//! sock_diag uses) and `tm->when` the clock ticks until it fires, in USER_HZ
//! (100 a second on every architecture Linux exports to userspace); UDP
//! prints 0 for both, and for `retrnsmt`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use memchr::memchr;

use crate::model::{Proto, Socket, StateSet, TcpState, Timer};
use crate::text::parse_decimal;

/// Milliseconds per clock tick of `tm->when` (USER_HZ).
const MS_PER_TICK: u64 = 10;

/// Lines of a table that could not be parsed. The rest of the table is
/// still read, so one bad line never hides the others.
#[derive(Debug, PartialEq, Eq)]
pub struct MalformedLines {
    /// 1-based line number of the first bad line, counting the header.
    pub first_line: usize,
    pub count: usize,
}

/// Appends to `out` every socket of `table` whose state is in `states`, and
/// says which lines were not sockets. `proto` says which table it is: `tcp`
/// and `udp` hold IPv4 sockets, `tcp6` and `udp6` IPv6 ones.
pub fn parse_table(
    table: &[u8],
    proto: Proto,
    states: StateSet,
    out: &mut Vec<Socket>,
) -> Option<MalformedLines> {
    let mut malformed: Option<MalformedLines> = None;
    let mut rest = table;
    let mut line_no = 0;
    while !rest.is_empty() {
        let end = memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or(&[]);
        line_no += 1;
        // The first line is the column header.
        if line_no == 1 || line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(line, proto, states) {
            Some(Some(socket)) => out.push(socket),
            Some(None) => {}
            None => match &mut malformed {
                Some(m) => m.count += 1,
                None => {
                    malformed = Some(MalformedLines {
                        first_line: line_no,
                        count: 1,
                    })
                }
            },
        }
    }
    malformed
}

/// `None` when the line is malformed, `Some(None)` when its state is filtered out.
fn parse_line(line: &[u8], proto: Proto, states: StateSet) -> Option<Option<Socket>> {
    let mut fields = line.split(|b| *b == b' ').filter(|field| !field.is_empty());
    let slot = fields.next()?;
    if slot.last() != Some(&b':') {
        return None;
    }
    let (local, local_port) = parse_endpoint(fields.next()?, proto)?;
    let (remote, remote_port) = parse_endpoint(fields.next()?, proto)?;
    let state_code = u8::try_from(parse_hex(fields.next()?)?).ok()?;
    let state = TcpState::from_code(state_code)?;
    if !states.contains(state) {
        return Some(None);
    }
    let (tx_queue, rx_queue) = hex_pair(fields.next()?)?;
    let (timer, ticks) = hex_pair(fields.next()?)?;
    let retransmits = parse_hex(fields.next()?)?;
    let uid = parse_decimal(fields.next()?)?;
    let _probes = fields.next()?;
    let inode = parse_decimal(fields.next()?)?;
    Some(Some(Socket {
        proto,
        local,
        local_port,
        remote,
        remote_port,
        state,
        uid,
        inode,
        rx_queue: u32::try_from(rx_queue).ok()?,
        tx_queue: u32::try_from(tx_queue).ok()?,
        timer: Timer::from_code(u8::try_from(timer).ok()?),
        expires_ms: u32::try_from(ticks.saturating_mul(MS_PER_TICK)).unwrap_or(u32::MAX),
        // The kernel keeps an 8-bit count (icsk_retransmits) for full sockets.
        retransmits: u8::try_from(retransmits).unwrap_or(u8::MAX),
        cookie: 0,
        cgroup_id: 0,
    }))
}

/// `0000001A:00000000` → (0x1a, 0).
fn hex_pair(field: &[u8]) -> Option<(u64, u64)> {
    let colon = memchr(b':', field)?;
    Some((parse_hex(&field[..colon])?, parse_hex(&field[colon + 1..])?))
}

fn parse_endpoint(field: &[u8], proto: Proto) -> Option<(IpAddr, u16)> {
    let colon = memchr(b':', field)?;
    let (addr, port) = (&field[..colon], &field[colon + 1..]);
    let port = u16::try_from(parse_hex(port)?).ok()?;
    let addr = match proto.is_ipv6() {
        false if addr.len() == 8 => IpAddr::V4(Ipv4Addr::from(kernel_word(addr)?)),
        true if addr.len() == 32 => {
            let mut octets = [0u8; 16];
            for (word, chunk) in addr.chunks_exact(8).enumerate() {
                octets[word * 4..word * 4 + 4].copy_from_slice(&kernel_word(chunk)?);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some((addr, port))
}

/// The kernel prints each 32-bit word of an address with `%08X` in host
/// order; this gives back the word's bytes as they lie in memory, which is
/// network order.
fn kernel_word(hex: &[u8]) -> Option<[u8; 4]> {
    let word = u32::try_from(parse_hex(hex)?).ok()?;
    Some(word.to_ne_bytes())
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let digit = (b as char).to_digit(16)?;
        Some(acc << 4 | u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded in a fresh network namespace holding: a listener on
    // 127.0.0.1:8080 (inode 9222), a connection to it from 127.0.0.1:40000
    // (9223, accepted as 9224), a TIME_WAIT left by 127.0.0.1:40001 closing
    // first, a dual-stack listener on [::]:9090 (9227), a connection to it from
    // [::1]:40002 (9228, accepted as 9229) and one from IPv4 127.0.0.1:40003
    // (9230, accepted as v4-mapped ::ffff:127.0.0.1 9231).
    const TCP: &[u8] = include_bytes!("../../testdata/proc_net/tcp");
    const TCP6: &[u8] = include_bytes!("../../testdata/proc_net/tcp6");
    // Recorded by sock_diag's `record_udp_fixtures` in a fresh namespace
    // holding: an unconnected socket on 127.0.0.1:42039 (inode 3639654),
    // one connected to it from 127.0.0.1:46880 (3639655), a dual-stack
    // unconnected socket on [::]:42733 (3639656), one connected to it from
    // [::1]:43968 (3639657) and one from IPv4 127.0.0.1:35464 (3639658,
    // v4-mapped), and a VXLAN device's socket on 0.0.0.0:4789 (3639663,
    // held by the kernel). testdata/sock_diag/udp-sockets.txt has `ss -uanep`.
    const UDP: &[u8] = include_bytes!("../../testdata/proc_net/udp");
    const UDP6: &[u8] = include_bytes!("../../testdata/proc_net/udp6");

    fn parse(table: &[u8], proto: Proto, states: StateSet) -> Vec<Socket> {
        let mut out = Vec::new();
        assert_eq!(
            parse_table(table, proto, states, &mut out),
            None,
            "well-formed table"
        );
        out
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn ipv4_table() {
        let sockets = parse(TCP, Proto::Tcp, StateSet::ALL);
        let summary: Vec<_> = sockets
            .iter()
            .map(|s| {
                (
                    s.local,
                    s.local_port,
                    s.remote,
                    s.remote_port,
                    s.state,
                    s.inode,
                )
            })
            .collect();
        let lo = v4(127, 0, 0, 1);
        let any = v4(0, 0, 0, 0);
        assert_eq!(
            summary,
            vec![
                (lo, 8080, any, 0, TcpState::Listen, 9222),
                (lo, 8080, lo, 40000, TcpState::Established, 9224),
                (lo, 40003, lo, 9090, TcpState::Established, 9230),
                (lo, 40000, lo, 8080, TcpState::Established, 9223),
                (lo, 40001, lo, 8080, TcpState::TimeWait, 0),
            ]
        );
        assert!(sockets.iter().all(|s| s.proto == Proto::Tcp && s.uid == 0));
    }

    #[test]
    fn ipv6_and_v4_mapped() {
        let sockets = parse(TCP6, Proto::Tcp6, StateSet::ALL);
        let loopback6: IpAddr = "::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let any6: IpAddr = "::".parse().unwrap();
        let summary: Vec<_> = sockets
            .iter()
            .map(|s| (s.local, s.local_port, s.remote, s.remote_port, s.inode))
            .collect();
        assert_eq!(
            summary,
            vec![
                (any6, 9090, any6, 0, 9227),
                (loopback6, 9090, loopback6, 40002, 9229),
                (mapped, 9090, mapped, 40003, 9231),
                (loopback6, 40002, loopback6, 9090, 9228),
            ]
        );
    }

    #[test]
    fn udp_tables_share_the_layout_up_to_the_inode() {
        let lo = v4(127, 0, 0, 1);
        let any = v4(0, 0, 0, 0);
        let rows = |table, proto| -> Vec<_> {
            parse(table, proto, StateSet::ALL)
                .iter()
                .map(|s| {
                    assert_eq!(s.proto, proto);
                    assert_eq!((s.uid, s.rx_queue, s.tx_queue, s.timer), (0, 0, 0, Timer::None));
                    (s.local, s.local_port, s.remote, s.remote_port, s.state, s.inode)
                })
                .collect()
        };
        // In the kernel's hash order, as the table prints it (`sl`).
        assert_eq!(
            rows(UDP, Proto::Udp),
            vec![
                (any, 4789, any, 0, TcpState::Close, 3639663),
                (lo, 42039, any, 0, TcpState::Close, 3639654),
                (lo, 46880, lo, 42039, TcpState::Established, 3639655),
            ]
        );
        let any6: IpAddr = "::".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            rows(UDP6, Proto::Udp6),
            vec![
                (any6, 42733, any6, 0, TcpState::Close, 3639656),
                (lo6, 43968, lo6, 42733, TcpState::Established, 3639657),
                (mapped, 35464, mapped, 42733, TcpState::Established, 3639658),
            ]
        );
        // The kernel filters UDP by state as it does TCP; so does the parser.
        let connected = parse(UDP, Proto::Udp, StateSet(TcpState::Established.bit()));
        assert_eq!(connected.len(), 1);
        assert_eq!(connected[0].local_port, 46880);
        // A udp6 table read as IPv4 is malformed, line by line.
        let mut out = Vec::new();
        assert_eq!(
            parse_table(UDP6, Proto::Udp, StateSet::ALL, &mut out),
            Some(MalformedLines {
                first_line: 2,
                count: 3
            })
        );
    }

    #[test]
    fn timers_queues_and_retransmits() {
        let sockets = parse(TCP, Proto::Tcp, StateSet::ALL);
        // The recorded TIME_WAIT line reads `03:0000175B`: 5979 ticks left.
        let time_wait = sockets
            .iter()
            .find(|s| s.state == TcpState::TimeWait)
            .unwrap();
        assert_eq!(
            (time_wait.timer, time_wait.expires_ms),
            (Timer::TimeWait, 59_790)
        );
        assert!(sockets
            .iter()
            .filter(|s| s.state != TcpState::TimeWait)
            .all(|s| s.timer == Timer::None && s.expires_ms == 0));
        let line = b"  sl\n   0: 0100007F:1F90 0A00000A:01BB 01 0000001A:00000002 01:00000064 00000003  1000        0 77 1\n";
        let busy = parse(line, Proto::Tcp, StateSet::ALL);
        assert_eq!(
            (
                busy[0].tx_queue,
                busy[0].rx_queue,
                busy[0].timer,
                busy[0].expires_ms,
                busy[0].retransmits,
                busy[0].uid
            ),
            (26, 2, Timer::Retransmit, 1000, 3, 1000)
        );
        assert_eq!((busy[0].cookie, busy[0].cgroup_id), (0, 0));
    }

    #[test]
    fn state_filter_drops_rows_before_they_are_built() {
        let only_time_wait = StateSet(TcpState::TimeWait.bit());
        let sockets = parse(TCP, Proto::Tcp, only_time_wait);
        assert_eq!(sockets.len(), 1);
        assert_eq!(sockets[0].local_port, 40001);
    }

    #[test]
    fn malformed_lines_are_reported_and_the_rest_kept() {
        let mut table = TCP.to_vec();
        table.extend_from_slice(b"   5: 0100007F:ZZZZ 00000000:0000 0A\n");
        table.extend_from_slice(b"garbage\n");
        let mut out = Vec::new();
        let bad = parse_table(&table, Proto::Tcp, StateSet::ALL, &mut out);
        assert_eq!(
            bad,
            Some(MalformedLines {
                first_line: 7,
                count: 2
            })
        );
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn wrong_address_width_for_the_table_is_malformed() {
        let mut out = Vec::new();
        assert!(parse_table(TCP, Proto::Tcp6, StateSet::ALL, &mut out).is_some());
        assert!(out.is_empty());
    }

    #[test]
    fn unknown_state_code_and_overflowing_numbers_are_malformed() {
        let header = "  sl  local_address rem_address   st\n";
        for bad in [
            "   0: 0100007F:1F90 00000000:0000 0E 00000000:00000000 00:00000000 00000000     0        0 1",
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 99999999999 0 1",
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99999999999999999999",
            "   0: 0100007F:11F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000",
        ] {
            let mut out = Vec::new();
            let table = format!("{header}{bad}\n");
            assert!(
                parse_table(table.as_bytes(), Proto::Tcp, StateSet::ALL, &mut out).is_some(),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_and_header_only_tables_hold_nothing() {
        assert!(parse(b"", Proto::Tcp, StateSet::ALL).is_empty());
        assert!(parse(
            &TCP[..TCP.iter().position(|b| *b == b'\n').unwrap() + 1],
            Proto::Tcp,
            StateSet::ALL
        )
        .is_empty());
    }
}
