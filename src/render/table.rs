//! The aligned table for people. Every name passes through the one
//! escaper, so a crafted container name cannot drive the terminal.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::IpAddr;

use crate::analyze::attribute::{Attributed, Row};
use crate::analyze::summary::Group;
use crate::escape::for_terminal;

const DASH: &str = "-";

pub fn table_rows(
    out: &mut impl Write,
    attributed: &Attributed<'_>,
    rows: &[Row<'_>],
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
    let cells = |row: &Row<'_>| -> [Cell; 9] {
        let owner = attributed.owner(row);
        let s = row.socket;
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
            Some(value) => Cell::Name(for_terminal(value)),
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

#[cfg(test)]
mod tests {
    use super::*;

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
