//! Output: an aligned table for people, JSON Lines for programs. Names come
//! from containers and processes, so the table escapes control characters
//! (a crafted container name must not drive the terminal); JSON escapes them
//! by its own rules.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use crate::attribute::{Attributed, Row};
use crate::summary::Group;

const DASH: &str = "-";

pub fn json_rows(
    out: &mut impl Write,
    attributed: &Attributed<'_>,
    rows: &[Row],
) -> io::Result<()> {
    // Owners are few and rows many: each owner's fields are serialised once,
    // and a row writes only its socket's numbers and addresses, which never
    // need escaping.
    let owners: Vec<Vec<u8>> = attributed
        .owners
        .iter()
        .map(|owner| {
            let mut fields = serde_json::to_vec(&JsonOwner {
                namespace: owner.namespace,
                pod: owner.pod,
                container: owner.container,
                container_id: owner.container_id,
                runtime: owner.runtime.map(|r| r.name()),
                pid: owner.pid,
                process: owner.process,
            })?;
            fields.pop(); // the closing brace: the socket's fields follow
            Ok(fields)
        })
        .collect::<serde_json::Result<_>>()?;
    let mut line = Vec::with_capacity(512);
    for row in rows {
        let s = &row.socket;
        line.clear();
        line.extend_from_slice(&owners[row.owner as usize]);
        line.extend_from_slice(b",\"proto\":\"");
        line.extend_from_slice(s.proto.name().as_bytes());
        line.extend_from_slice(b"\",\"local_addr\":\"");
        push_ip(&mut line, s.local);
        line.extend_from_slice(b"\",\"remote_addr\":\"");
        push_ip(&mut line, s.remote);
        line.extend_from_slice(b"\",\"local_port\":");
        push_decimal(&mut line, s.local_port.into());
        line.extend_from_slice(b",\"remote_port\":");
        push_decimal(&mut line, s.remote_port.into());
        line.extend_from_slice(b",\"state\":\"");
        line.extend_from_slice(s.state.name().as_bytes());
        line.extend_from_slice(b"\",\"netns\":");
        match row.netns.inode() {
            Some(inode) => push_decimal(&mut line, inode),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"inode\":");
        push_decimal(&mut line, s.inode);
        line.extend_from_slice(b",\"uid\":");
        push_decimal(&mut line, s.uid.into());
        line.extend_from_slice(b",\"attribution\":\"");
        line.extend_from_slice(attributed.owner(row).attribution.name().as_bytes());
        line.extend_from_slice(b"\"}\n");
        out.write_all(&line)?;
    }
    Ok(())
}

/// `n` in decimal. Rows are written digit by digit rather than through
/// `fmt`, whose per-number calls (into musl's memcpy, in the static
/// build) cost more than the rest of a row.
fn push_decimal(line: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        line.push(digit);
    }
}

/// An address as `Display` writes it; IPv4 and v4-mapped IPv6, nearly all
/// of a node's sockets, without `fmt`.
fn push_ip(line: &mut Vec<u8>, ip: IpAddr) {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => {
                line.extend_from_slice(b"::ffff:");
                v4
            }
            None => {
                let _ = write!(line, "{v6}");
                return;
            }
        },
    };
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            line.push(b'.');
        }
        push_decimal(line, octet.into());
    }
}

/// The owner's keys of a JSON row, in the documented order.
#[derive(Serialize)]
struct JsonOwner<'a> {
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    container: Option<&'a str>,
    container_id: Option<&'a str>,
    runtime: Option<&'static str>,
    pid: Option<u32>,
    process: Option<&'a str>,
}

pub fn table_rows(
    out: &mut impl Write,
    attributed: &Attributed<'_>,
    rows: &[Row],
) -> io::Result<()> {
    let header = [
        "NAMESPACE",
        "POD",
        "CONTAINER",
        "PID",
        "PROCESS",
        "PROTO",
        "LOCAL",
        "REMOTE",
        "STATE",
    ];
    let cells = |row: &Row| -> [Cell; 9] {
        let owner = attributed.owner(row);
        let s = &row.socket;
        [
            Cell::name(owner.namespace),
            Cell::name(owner.pod),
            Cell::name(label(owner.container, owner.container_id)),
            Cell::Number(owner.pid.map(u64::from)),
            Cell::name(owner.process),
            Cell::Static(s.proto.name()),
            Cell::Endpoint(s.local, s.local_port),
            Cell::Endpoint(s.remote, s.remote_port),
            Cell::Static(s.state.name()),
        ]
    };
    write_table(out, header, rows.iter().map(cells))
}

pub fn json_summary(out: &mut impl Write, groups: &[Group<'_>]) -> io::Result<()> {
    // As for rows: names serialised once per container, numbers by hand.
    let mut names: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut line = Vec::with_capacity(256);
    for group in groups {
        let prefix = match names.entry(group.identity) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                let mut fields = serde_json::to_vec(&JsonGroupNames {
                    namespace: group.namespace,
                    pod: group.pod,
                    container: group.container,
                    container_id: group
                        .container
                        .is_none()
                        .then_some(group.container_id)
                        .flatten(),
                })?;
                fields.pop(); // the closing brace: the group's numbers follow
                slot.insert(fields)
            }
        };
        line.clear();
        line.extend_from_slice(prefix);
        line.extend_from_slice(b",\"remote_addr\":\"");
        push_ip(&mut line, group.remote);
        line.extend_from_slice(b"\",\"remote_port\":");
        push_decimal(&mut line, group.remote_port.into());
        line.extend_from_slice(b",\"count\":");
        push_decimal(&mut line, group.count);
        line.extend_from_slice(b",\"states\":{");
        for (i, (state, n)) in group.states().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            line.push(b'"');
            line.extend_from_slice(state.name().as_bytes());
            line.extend_from_slice(b"\":");
            push_decimal(&mut line, n.into());
        }
        line.extend_from_slice(b"}}\n");
        out.write_all(&line)?;
    }
    Ok(())
}

/// The names of a summary group, in the documented key order. A container
/// without a name is told apart by its id; a named one's group may span
/// several ids (a re-created container), so it shows none.
#[derive(Serialize)]
struct JsonGroupNames<'a> {
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    container: Option<&'a str>,
    container_id: Option<&'a str>,
}

pub fn table_summary(out: &mut impl Write, groups: &[Group<'_>]) -> io::Result<()> {
    let header = ["NAMESPACE", "POD", "CONTAINER", "REMOTE", "COUNT", "STATES"];
    write_table(out, header, groups.iter().map(summary_cells))
}

fn summary_cells<'a>(group: &Group<'a>) -> [Cell<'a>; 6] {
    let mut states = String::new();
    for (state, n) in group.states() {
        let sep = if states.is_empty() { "" } else { " " };
        let _ = write!(states, "{sep}{}={n}", state.name());
    }
    [
        Cell::name(group.namespace),
        Cell::name(group.pod),
        Cell::name(label(group.container, group.container_id)),
        Cell::Endpoint(group.remote, group.remote_port),
        Cell::Number(Some(group.count)),
        Cell::Owned(states),
    ]
}

/// The name a person recognises a container by: its name, else the short id
/// `docker ps` shows.
fn label<'a>(name: Option<&'a str>, id: Option<&'a str>) -> Option<&'a str> {
    name.or_else(|| id.map(|id| id.get(..12).unwrap_or(id)))
}

enum Cell<'a> {
    Name(Cow<'a, str>),
    Static(&'static str),
    Owned(String),
    Number(Option<u64>),
    Endpoint(IpAddr, u16),
}

impl<'a> Cell<'a> {
    fn name(value: Option<&'a str>) -> Cell<'a> {
        match value {
            Some(value) => Cell::Name(escape_controls(value)),
            None => Cell::Static(DASH),
        }
    }
}

impl fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Name(text) => f.write_str(text),
            Cell::Static(text) => f.write_str(text),
            Cell::Owned(text) => f.write_str(text),
            Cell::Number(Some(n)) => write!(f, "{n}"),
            Cell::Number(None) => f.write_str(DASH),
            Cell::Endpoint(IpAddr::V4(ip), port) => write!(f, "{ip}:{port}"),
            Cell::Endpoint(IpAddr::V6(ip), port) => write!(f, "[{ip}]:{port}"),
        }
    }
}

/// Two passes: measure every cell, then write padded lines. The cells are
/// built again for the second pass rather than kept, so memory stays one row.
fn write_table<'a, const N: usize, I>(
    out: &mut impl Write,
    header: [&'static str; N],
    rows: I,
) -> io::Result<()>
where
    I: Iterator<Item = [Cell<'a>; N]> + Clone,
{
    let mut widths = header.map(str::len);
    let mut measure = Measure(0);
    for row in rows.clone() {
        for (width, cell) in widths.iter_mut().zip(&row) {
            measure.0 = 0;
            let _ = write!(measure, "{cell}");
            *width = (*width).max(measure.0);
        }
    }
    let mut line = String::new();
    let header_cells: [Cell<'a>; N] = header.map(Cell::Static);
    for row in std::iter::once(header_cells).chain(rows) {
        line.clear();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            let start = line.len();
            let _ = write!(line, "{cell}");
            if i + 1 < N {
                let shown = line[start..].chars().count();
                line.extend(std::iter::repeat(' ').take(width.saturating_sub(shown) + 2));
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Counts the characters a cell would print.
struct Measure(usize);

impl fmt::Write for Measure {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.chars().count();
        Ok(())
    }
}

/// Control characters shown as escapes (`\n`, `\x1b`, `\u{85}`) so names
/// never reach a terminal raw.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\t' => escaped.push_str("\\t"),
            '\r' => escaped.push_str("\\r"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(escaped, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rows_escape_names_and_keep_the_documented_key_order() {
        use crate::attribute::{Attribution, NetnsId, Owner};
        use crate::model::{Proto, Runtime, Socket, TcpState};
        let owner = Owner {
            namespace: Some("ns\"1"),
            pod: Some("pod\n\u{1b}[31m"),
            container: None,
            container_id: Some("abc"),
            runtime: Some(Runtime::CriO),
            pid: Some(7),
            process: Some("a\\b"),
            attribution: Attribution::Process,
        };
        let socket = Socket {
            proto: Proto::Tcp6,
            local: "::ffff:10.0.0.1".parse().unwrap(),
            local_port: 443,
            remote: "fe80::1".parse().unwrap(),
            remote_port: 50000,
            state: TcpState::CloseWait,
            uid: 1000,
            inode: 99,
        };
        let rows = vec![
            Row {
                socket,
                netns: NetnsId::Inode(4026531840),
                owner: 0,
            },
            Row {
                socket,
                netns: NetnsId::Hidden(5),
                owner: 0,
            },
        ];
        let attributed = Attributed {
            owners: vec![owner],
            rows: vec![],
        };
        let mut out = Vec::new();
        json_rows(&mut out, &attributed, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(
            first,
            serde_json::json!({
                "namespace": "ns\"1", "pod": "pod\n\u{1b}[31m", "container": null,
                "container_id": "abc", "runtime": "cri-o", "pid": 7, "process": "a\\b",
                "proto": "tcp6", "local_addr": "::ffff:10.0.0.1", "remote_addr": "fe80::1",
                "local_port": 443, "remote_port": 50000, "state": "CLOSE_WAIT",
                "netns": 4026531840u64, "inode": 99, "uid": 1000, "attribution": "process",
            })
        );
        assert!(
            !lines[0].contains('\u{1b}'),
            "raw escape byte in {}",
            lines[0]
        );
        let documented = [
            "namespace",
            "pod",
            "container",
            "container_id",
            "runtime",
            "pid",
            "process",
            "proto",
            "local_addr",
            "remote_addr",
            "local_port",
            "remote_port",
            "state",
            "netns",
            "inode",
            "uid",
            "attribution",
        ];
        let positions: Vec<usize> = documented
            .iter()
            .map(|key| lines[0].find(&format!("\"{key}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", lines[0]);
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["netns"], serde_json::Value::Null);
    }

    #[test]
    fn json_summary_escapes_names_and_lists_states_in_kernel_order() {
        use crate::attribute::{Attribution, NetnsId, Owner};
        use crate::model::{Proto, Socket, TcpState};
        let owner = Owner {
            namespace: Some("a\"b"),
            pod: None,
            container: Some("c\u{7}"),
            container_id: None,
            runtime: None,
            pid: None,
            process: None,
            attribution: Attribution::Netns,
        };
        let row = |state| Row {
            socket: Socket {
                proto: Proto::Tcp,
                local: "10.0.0.1".parse().unwrap(),
                local_port: 1,
                remote: "::ffff:10.0.0.2".parse().unwrap(),
                remote_port: 443,
                state,
                uid: 0,
                inode: 0,
            },
            netns: NetnsId::Inode(1),
            owner: 0,
        };
        let rows = vec![
            row(TcpState::TimeWait),
            row(TcpState::Established),
            row(TcpState::TimeWait),
        ];
        let attributed = Attributed {
            owners: vec![owner],
            rows: vec![],
        };
        let groups = crate::summary::summarize(&attributed, &rows);
        let mut out = Vec::new();
        json_summary(&mut out, &groups).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"namespace\":\"a\\\"b\",\"pod\":null,\"container\":\"c\\u0007\",\
             \"container_id\":null,\"remote_addr\":\"::ffff:10.0.0.2\",\"remote_port\":443,\"count\":3,\
             \"states\":{\"ESTABLISHED\":1,\"TIME_WAIT\":2}}\n"
        );
    }

    #[test]
    fn hand_written_numbers_and_addresses_match_display() {
        for n in [0u64, 7, 10, 65535, 4026531840, u64::MAX] {
            let mut line = Vec::new();
            push_decimal(&mut line, n);
            assert_eq!(line, n.to_string().as_bytes());
        }
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.200.3.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "fe80::1:2",
            "2001:db8::ffff:0:1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut line = Vec::new();
            push_ip(&mut line, ip);
            assert_eq!(String::from_utf8(line).unwrap(), ip.to_string());
        }
    }

    #[test]
    fn control_characters_are_escaped_for_terminals() {
        assert_eq!(escape_controls("cart"), "cart");
        assert_eq!(escape_controls("a\x1b[31mred\n"), "a\\x1b[31mred\\n");
        assert_eq!(escape_controls("x\u{85}y\u{7f}"), "x\\u{85}y\\x7f");
        assert_eq!(escape_controls("日本"), "日本");
    }

    #[test]
    fn endpoints_bracket_ipv6() {
        let v4 = Cell::Endpoint("10.0.0.1".parse().unwrap(), 443).to_string();
        let v6 = Cell::Endpoint("fe80::1".parse().unwrap(), 80).to_string();
        let mapped = Cell::Endpoint("::ffff:10.0.0.1".parse().unwrap(), 80).to_string();
        assert_eq!(v4, "10.0.0.1:443");
        assert_eq!(v6, "[fe80::1]:80");
        assert_eq!(mapped, "[::ffff:10.0.0.1]:80");
    }

    #[test]
    fn table_columns_align_to_the_widest_cell() {
        let mut out = Vec::new();
        // Cells are not Clone, so rebuild them for each pass as the callers do.
        let make = |i: &usize| -> [Cell; 2] {
            match i {
                0 => [Cell::name(Some("a")), Cell::Number(Some(12345))],
                1 => [Cell::name(None), Cell::Number(None)],
                _ => [Cell::name(Some("wide\tname")), Cell::Number(Some(1))],
            }
        };
        let indices = [0usize, 1, 2];
        write_table(&mut out, ["NAME", "PID"], indices.iter().map(make)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            // The widest name, `wide\tname` escaped, is 10 characters; two spaces separate columns.
            "NAME        PID\n\
             a           12345\n\
             -           -\n\
             wide\\tname  1\n"
        );
    }
}
