//! JSON Lines for programs: one object per row or group, keys in the
//! documented order, names escaped by the one escaper. Owners are few and
//! rows many, so each owner's keys are serialised once and a row writes only
//! its numbers and addresses, which never need escaping, digit by digit.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use crate::analyze::attribute::{Attributed, Row};
use crate::analyze::ports::{Budget, Scope};
use crate::analyze::summary::Group;
use crate::escape::to_json;
use crate::text::{push_decimal, push_ip, IpText};

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
    let remotes: Vec<Vec<u8>> = attributed
        .remotes
        .iter()
        .map(|remote| {
            let mut fields = to_json(&JsonRemote {
                remote_kind: remote.name.map(|n| n.kind.name()),
                remote_namespace: remote.name.and_then(|n| n.namespace),
                remote_name: remote.name.and_then(|n| n.name),
                remote_endpoint: remote.endpoint.map(|e| e.to_string()),
            })?;
            // Follows the socket's fields: no braces.
            fields.pop();
            fields[0] = b',';
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
        line.extend_from_slice(s.shown_state().name().as_bytes());
        match s.timer.name() {
            Some(timer) => {
                line.extend_from_slice(b"\",\"timer\":\"");
                line.extend_from_slice(timer.as_bytes());
                line.extend_from_slice(b"\",\"expires_s\":");
                push_seconds(&mut line, s.expires_ms);
            }
            None => line.extend_from_slice(b"\",\"timer\":null,\"expires_s\":null"),
        }
        line.extend_from_slice(b",\"netns\":");
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
        line.push(b'"');
        line.extend_from_slice(&remotes[row.remote as usize]);
        line.extend_from_slice(b"}\n");
        out.write_all(&line)?;
    }
    Ok(())
}

/// Milliseconds as seconds, `59.79`: no trailing zeros, no exponent.
fn push_seconds(line: &mut Vec<u8>, ms: u32) {
    push_decimal(line, u64::from(ms / 1000));
    let mut fraction = ms % 1000;
    if fraction == 0 {
        return;
    }
    line.push(b'.');
    let mut divisor = 100;
    while fraction > 0 {
        line.push(b'0' + (fraction / divisor) as u8);
        fraction %= divisor;
        divisor /= 10;
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

/// What a socket's remote end is, after its other keys.
#[derive(Serialize)]
struct JsonRemote<'a> {
    remote_kind: Option<&'static str>,
    remote_namespace: Option<&'a str>,
    remote_name: Option<&'a str>,
    remote_endpoint: Option<String>,
}

/// One group, keys in the documented order. A name, namespace, direction
/// or protocol is given when every socket of the group shares it; the ends
/// are given where they are keys.
#[derive(Serialize)]
struct JsonGroup<'a> {
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    container: Option<&'a str>,
    container_id: Option<&'a str>,
    netns: Option<u64>,
    direction: Option<&'static str>,
    proto: Option<&'static str>,
    local_addr: Option<String>,
    local_port: Option<u16>,
    remote_addr: Option<String>,
    remote_port: Option<u16>,
    clients: Option<u64>,
    count: u64,
    states: JsonStates<'a, 'a>,
    remote_kind: Option<&'static str>,
    remote_namespace: Option<&'a str>,
    remote_name: Option<&'a str>,
    remote_endpoints: Option<u64>,
}

/// `{"ESTABLISHED": 20, "TIME_WAIT": 1500}`, in the kernel's state order.
struct JsonStates<'g, 'a>(&'g Group<'a>);

impl Serialize for JsonStates<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (state, n) in self.0.states() {
            map.serialize_entry(state.name(), &n)?;
        }
        map.end()
    }
}

pub fn json_summary(out: &mut impl Write, groups: &[Group<'_>]) -> io::Result<()> {
    for group in groups {
        let ip_text = |ip: IpAddr| IpText::new(ip).as_str().to_owned();
        let mut line = to_json(&JsonGroup {
            namespace: group.namespace.one().copied(),
            pod: group.pod.one().copied(),
            container: group.container.one().copied(),
            container_id: group.container_id.one().copied(),
            netns: group.netns.one().and_then(|netns| netns.inode()),
            direction: group.direction.one().map(|d| d.name()),
            proto: group.proto.one().map(|p| p.name()),
            local_addr: group.local.map(|(ip, _)| ip_text(ip)),
            local_port: group.local.and_then(|(_, port)| port),
            remote_addr: group.remote.map(|(ip, _)| ip_text(ip)),
            remote_port: group.remote.and_then(|(_, port)| port),
            clients: group.clients,
            count: group.count,
            states: JsonStates(group),
            remote_kind: group.remote_name.one().map(|n| n.kind.name()),
            remote_namespace: group.remote_name.one().and_then(|n| n.namespace),
            remote_name: group.remote_name.one().and_then(|n| n.name),
            remote_endpoints: group.remote_endpoints,
        })?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// One budget, or one namespace's conntrack counters: every key on every
/// row, null where it does not apply to the row's scope.
#[derive(Serialize)]
pub(super) struct JsonBudget<'a> {
    scope: &'static str,
    netns: Option<u64>,
    zone: Option<u16>,
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    container: Option<&'a str>,
    proto: Option<&'static str>,
    src_addr: Option<String>,
    dst_addr: Option<String>,
    dst_port: Option<u16>,
    in_use: Option<u64>,
    available: Option<u64>,
    used_pct: Option<f64>,
    states: Option<JsonCounts<'a>>,
    next_free_s: Option<f64>,
    sources: Option<Vec<JsonSource<'a>>>,
    entries: Option<u64>,
    max: Option<u64>,
    insert_failed: Option<u64>,
    drop: Option<u64>,
    early_drop: Option<u64>,
    remote_kind: Option<&'static str>,
    remote_namespace: Option<&'a str>,
    remote_name: Option<&'a str>,
    remote_endpoints: Option<u64>,
}

#[derive(Serialize)]
pub(super) struct JsonSource<'a> {
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    container: Option<&'a str>,
    src_addr: String,
    count: u64,
}

/// `{"TIME_WAIT": 1500, …}` in the order given.
pub(super) struct JsonCounts<'a>(&'a [(&'static str, u64)]);

impl Serialize for JsonCounts<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, n)| (name, n)))
    }
}

pub fn json_ports(out: &mut impl Write, budgets: &[Budget<'_>]) -> io::Result<()> {
    for b in budgets {
        let mut line = to_json(&json_budget(b))?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

pub(super) fn json_budget<'a>(b: &'a Budget<'a>) -> JsonBudget<'a> {
    let ip_text = |ip: IpAddr| IpText::new(ip).as_str().to_owned();
    let stats = b.conntrack;
    JsonBudget {
        scope: b.scope.name(),
        netns: b.netns.and_then(|netns| netns.inode()),
        zone: b.zone,
        namespace: b.namespace,
        pod: b.pod,
        container: b.container,
        proto: b.proto.map(|p| p.name()),
        src_addr: b.src_addr.map(ip_text),
        dst_addr: b.dst_addr.map(ip_text),
        dst_port: b.dst_port,
        in_use: b.in_use,
        available: b.available,
        used_pct: b.used_pct(),
        states: matches!(b.scope, Scope::Netns | Scope::Snat).then(|| JsonCounts(&b.states)),
        next_free_s: b.next_free_ms.map(|ms| ms as f64 / 1000.0),
        sources: b.sources.as_ref().map(|sources| {
            sources
                .iter()
                .map(|s| JsonSource {
                    namespace: s.namespace,
                    pod: s.pod,
                    container: s.container,
                    src_addr: ip_text(s.src_addr),
                    count: s.count,
                })
                .collect()
        }),
        entries: stats.map(|s| s.entries),
        max: stats.and_then(|s| s.max),
        insert_failed: stats.map(|s| s.insert_failed),
        drop: stats.map(|s| s.drop),
        early_drop: stats.map(|s| s.early_drop),
        remote_kind: b.remote.map(|n| n.kind.name()),
        remote_namespace: b.remote.and_then(|n| n.namespace),
        remote_name: b.remote.and_then(|n| n.name),
        remote_endpoints: b.remote_endpoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribute::{Attribution, Owner};
    use crate::analyze::direction::Listening;
    use crate::analyze::remote::{Remote, RemoteKind, RemoteName};
    use crate::analyze::summary::{summarize, Grouping};
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
                remote: 0,
            },
            Row {
                socket: &socket,
                netns: NetnsId::Hidden(5),
                owner: 0,
                remote: 1,
            },
        ];
        let service = Remote {
            name: Some(RemoteName {
                kind: RemoteKind::Service,
                namespace: Some("kube-system"),
                name: Some("dns\u{202e}"),
            }),
            endpoint: Some("[fe80::7]:53".parse().unwrap()),
            backend: None,
        };
        let attributed = Attributed {
            remotes: vec![Remote::UNKNOWN, service],
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
                "timer": null, "expires_s": null,
                "netns": 4026531840u64, "inode": 99, "uid": 1000, "attribution": "process",
                "remote_kind": null, "remote_namespace": null, "remote_name": null,
                "remote_endpoint": null,
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
            "timer",
            "expires_s",
            "netns",
            "inode",
            "uid",
            "attribution",
            "remote_kind",
            "remote_namespace",
            "remote_name",
            "remote_endpoint",
        ];
        let positions: Vec<usize> = documented
            .iter()
            .map(|key| lines[0].find(&format!("\"{key}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", lines[0]);
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["netns"], serde_json::Value::Null);
        assert_eq!(
            (
                &second["remote_kind"],
                &second["remote_namespace"],
                &second["remote_name"],
                &second["remote_endpoint"]
            ),
            (
                &serde_json::json!("service"),
                &serde_json::json!("kube-system"),
                &serde_json::json!("dns\u{202e}"),
                &serde_json::json!("[fe80::7]:53")
            )
        );
        // The one escaper: the bidi override goes out as \u202e.
        assert!(lines[1].contains("dns\\u202e"), "{}", lines[1]);
    }

    #[test]
    fn timers_in_seconds_without_trailing_zeros() {
        for (ms, text) in [
            (59_790, "59.79"),
            (60_000, "60"),
            (5, "0.005"),
            (1_500, "1.5"),
            (0, "0"),
        ] {
            let mut line = Vec::new();
            push_seconds(&mut line, ms);
            assert_eq!(String::from_utf8(line).unwrap(), text);
        }
        let attributed = Attributed {
            remotes: vec![crate::analyze::remote::Remote::UNKNOWN],
            owners: vec![Owner::NONE],
            rows: vec![],
        };
        let socket = crate::model::Socket {
            timer: crate::model::Timer::TimeWait,
            expires_ms: 42_100,
            ..testing::socket("10.0.0.1:40000", "10.0.0.9:443", TcpState::TimeWait, 0)
        };
        let row = Row {
            socket: &socket,
            netns: NetnsId::Inode(1),
            owner: 0,
            remote: 0,
        };
        let mut out = Vec::new();
        json_rows(&mut out, &attributed, &[row]).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (&value["timer"], &value["expires_s"]),
            (&serde_json::json!("timewait"), &serde_json::json!(42.1))
        );
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
            remote: 1,
        };
        let rows = vec![
            row(TcpState::TimeWait),
            row(TcpState::Established),
            row(TcpState::TimeWait),
        ];
        let dns = Remote {
            name: Some(RemoteName {
                kind: RemoteKind::Service,
                namespace: Some("kube-system"),
                name: Some("kube-dns"),
            }),
            endpoint: Some("10.0.0.7:53".parse().unwrap()),
            backend: None,
        };
        let attributed = Attributed {
            remotes: vec![Remote::UNKNOWN, dns],
            owners: vec![owner],
            rows: vec![],
        };
        let listening = Listening::of(&testing::snapshot());
        let groups = summarize(&attributed, &rows, &listening, Grouping::ServiceEnd);
        let mut out = Vec::new();
        json_summary(&mut out, &groups).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"namespace\":\"a\\\"b\",\"pod\":null,\"container\":\"c\\u0007\",\
             \"container_id\":null,\"netns\":1,\"direction\":\"out\",\"proto\":\"tcp\",\
             \"local_addr\":null,\"local_port\":null,\"remote_addr\":\"::ffff:10.0.0.2\",\
             \"remote_port\":443,\"clients\":null,\"count\":3,\
             \"states\":{\"ESTABLISHED\":1,\"TIME_WAIT\":2},\
             \"remote_kind\":\"service\",\"remote_namespace\":\"kube-system\",\
             \"remote_name\":\"kube-dns\",\"remote_endpoints\":1}\n"
        );
    }
}
