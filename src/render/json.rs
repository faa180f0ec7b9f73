//! JSON Lines for programs: one object per row or group, keys in the
//! documented order, names escaped by the one escaper. Owners are few and
//! rows many, so each owner's keys are serialised once and a row writes only
//! its numbers and addresses, which never need escaping, digit by digit.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::analyze::attribute::{Attributed, Row};
use crate::analyze::summary::Group;
use crate::escape::to_json;
use crate::text::{push_decimal, push_ip};

pub fn json_rows(
    out: &mut impl Write,
    attributed: &Attributed<'_>,
    rows: &[Row<'_>],
) -> io::Result<()> {
    // Owners are few and rows many: each owner's fields are serialised once,
    // and a row writes only its socket's numbers and addresses, which never
    // need escaping.
    let owners: Vec<Vec<u8>> = attributed
        .owners
        .iter()
        .map(|owner| {
            let mut fields = to_json(&JsonOwner {
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
        let s = row.socket;
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

pub fn json_summary(out: &mut impl Write, groups: &[Group<'_>]) -> io::Result<()> {
    // As for rows: names serialised once per container, numbers by hand.
    let mut names: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut line = Vec::with_capacity(256);
    for group in groups {
        let prefix = match names.entry(group.identity) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                let mut fields = to_json(&JsonGroupNames {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribute::{Attribution, Owner};
    use crate::model::{testing, NetnsId, Runtime, TcpState};

    #[test]
    fn json_rows_escape_names_and_keep_the_documented_key_order() {
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
        let socket = crate::model::Socket {
            uid: 1000,
            ..testing::socket(
                "[::ffff:10.0.0.1]:443",
                "[fe80::1]:50000",
                TcpState::CloseWait,
                99,
            )
        };
        let rows = vec![
            Row {
                socket: &socket,
                netns: NetnsId::Inode(4026531840),
                owner: 0,
            },
            Row {
                socket: &socket,
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
            socket: Box::leak(Box::new(testing::socket(
                "10.0.0.1:1",
                "[::ffff:10.0.0.2]:443",
                state,
                0,
            ))),
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
        let groups = crate::analyze::summary::summarize(&attributed, &rows);
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
}
