//! `--replay` of a recorded real node (testdata/snapshots/e2e-node.json,
//! whose README has the owners checked by hand against `ss -tanp` in each
//! namespace), and of files that are not snapshots.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn recording() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/snapshots/e2e-node.json")
}

fn cnetstat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .args(args)
        .output()
        .unwrap()
}

fn replay(args: &[&str]) -> Vec<Value> {
    let file = recording();
    let mut all = vec!["--replay", file.to_str().unwrap(), "--format", "json"];
    all.extend(args);
    let output = cnetstat(&all);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// (netns, namespace, pod, container, port, LISTEN pid, client pid, server-end pid), from
/// testdata/snapshots/README.md.
type Workload = (
    u64,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    u64,
    u64,
    u64,
    u64,
);

const WORKLOADS: [Workload; 6] = [
    (
        4026532181,
        Some("e2e-docker"),
        Some("web-87954"),
        "",
        18081,
        22757,
        22936,
        22938,
    ),
    (
        4026532262,
        None,
        None,
        "cnetstat-e2e-plain-201ac",
        18082,
        23132,
        23250,
        23251,
    ),
    (
        4026532331,
        Some("e2e-containerd"),
        Some("api-cgroupfs-c1047"),
        "",
        18083,
        23418,
        23488,
        23490,
    ),
    (
        4026532412,
        Some("e2e-containerd"),
        Some("api-systemd-8c02c"),
        "",
        18084,
        23588,
        23646,
        23647,
    ),
    (
        4026532497,
        Some("e2e-podman"),
        Some("pm-ecb40"),
        "",
        18086,
        23723,
        23782,
        23784,
    ),
    (
        4026532578,
        None,
        None,
        "cnetstat-e2e-pmplain-e17be",
        18087,
        23832,
        23835,
        23836,
    ),
];

#[test]
fn a_recorded_node_replays_with_the_owners_checked_by_hand() {
    let rows = replay(&["-a"]);
    for (netns, namespace, pod, plain_name, port, listen_pid, client_pid, server_pid) in WORKLOADS {
        let in_netns: Vec<&Value> = rows.iter().filter(|r| r["netns"] == netns).collect();
        let (server, client) = if plain_name.is_empty() {
            ("server", "client")
        } else {
            (plain_name, plain_name)
        };
        let find = |state: &str, local_port: u64| {
            in_netns
                .iter()
                .find(|r| r["state"] == state && r["local_port"] == local_port)
                .unwrap_or_else(|| panic!("{netns}: no {state} on {local_port}"))
        };
        let listener = find("LISTEN", port);
        assert_eq!(
            (
                &listener["pid"],
                &listener["container"],
                &listener["attribution"]
            ),
            (
                &Value::from(listen_pid),
                &Value::from(server),
                &Value::from("process")
            ),
            "{netns}"
        );
        let client_row = in_netns
            .iter()
            .find(|r| r["state"] == "ESTABLISHED" && r["remote_port"] == port)
            .unwrap();
        assert_eq!(
            (&client_row["pid"], &client_row["container"]),
            (&Value::from(client_pid), &Value::from(client))
        );
        let server_end = find("ESTABLISHED", port);
        assert_eq!(
            (&server_end["pid"], &server_end["container"]),
            (&Value::from(server_pid), &Value::from(server))
        );
        for row in &in_netns {
            assert_eq!(row["namespace"], Value::from(namespace), "{row}");
            assert_eq!(row["pod"], Value::from(pod), "{row}");
        }
        let time_waits: Vec<&&Value> = in_netns
            .iter()
            .filter(|r| r["state"] == "TIME_WAIT")
            .collect();
        let expected_time_waits = if plain_name.is_empty() { 40 } else { 0 };
        assert_eq!(time_waits.len(), expected_time_waits, "{netns}");
        for row in time_waits {
            assert_eq!(
                (&row["attribution"], &row["container"], &row["remote_port"]),
                (&Value::from("netns"), &Value::Null, &Value::from(port))
            );
        }
    }
    // The CRI-O pod's namespace has no process: its TIME_WAITs are its
    // pod's through the sandbox spec that names the namespace.
    let crio: Vec<&Value> = rows
        .iter()
        .filter(|r| r["netns"] == 4026532647u64)
        .collect();
    assert_eq!(crio.len(), 40);
    assert!(crio.iter().all(|r| r["pod"] == "ghost-ec231"
        && r["namespace"] == "e2e-crio"
        && r["state"] == "TIME_WAIT"));
}

#[test]
fn a_replay_prints_the_recorded_warnings() {
    let file = recording();
    let output = cnetstat(&["--replay", file.to_str().unwrap(), "--state", "listen"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // PID 1 of the build machine was unreadable even to root, with one socket.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("1 socket with no process"), "{stderr}");
    assert!(stderr.contains("cnetstat had CAP_SYS_PTRACE"), "{stderr}");
}

#[test]
fn filters_apply_when_viewing_a_recording() {
    assert_eq!(
        replay(&["--state", "time-wait", "--pod", "web-87954"]).len(),
        40
    );
    assert_eq!(replay(&["-l", "--container", "server"]).len(), 4);
    let summary = replay(&["--summary", "--namespace", "e2e-crio"]);
    assert_eq!(summary.len(), 1);
    assert_eq!(
        (&summary[0]["count"], &summary[0]["remote_port"]),
        (&Value::from(40), &Value::from(18085))
    );
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("cnetstat-replay-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn files_that_are_not_snapshots_get_one_message_and_exit_1() {
    let good = std::fs::read(recording()).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    for (name, bytes, needle) in [
        ("truncated", good[..good.len() / 3].to_vec(), "truncated"),
        ("corrupt", b"\x00\x01garbage".to_vec(), "corrupt, not JSON"),
        (
            "array",
            b"[{\"version\":1}]".to_vec(),
            "not a cnetstat snapshot",
        ),
        (
            "wrong-type",
            b"{\"version\":1,\"namespaces\":\"many\"}".to_vec(),
            "not a cnetstat snapshot",
        ),
        (
            "future",
            text.replacen("\"version\":1,", "\"version\":7,", 1)
                .into_bytes(),
            "format 7 is newer than this cnetstat reads",
        ),
    ] {
        let path = temp_file(name, &bytes);
        let output = cnetstat(&["--replay", path.to_str().unwrap()]);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        assert!(output.stdout.is_empty(), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(path.to_str().unwrap()), "{name}: {stderr}");
        assert!(stderr.contains(needle), "{name}: {stderr}");
    }
    let output = cnetstat(&["--replay", "/nonexistent/node.json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/node.json: cannot open"));
}

#[test]
fn a_recording_read_from_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .args([
            "--replay",
            "-",
            "--summary",
            "--format",
            "json",
            "--top",
            "1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(recording()).unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let top: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(top["count"], 40);
}

fn replay_ports_text(args: &[&str]) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/snapshots/ports-node.json");
    let mut all = vec![
        "--replay",
        file.to_str().unwrap(),
        "--ports",
        "--format",
        "json",
    ];
    all.extend(args);
    let output = cnetstat(&all);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn replay_ports(args: &[&str]) -> Vec<Value> {
    replay_ports_text(args)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The budgets of testdata/snapshots/ports-node.json, checked by hand in
/// its README.
#[test]
fn port_budgets_of_a_recorded_node() {
    let rows = replay_ports(&[]);
    let budget = |scope: &str, netns: u64, dst: &str| -> (u64, u64, f64) {
        let row = rows
            .iter()
            .find(|r| r["scope"] == scope && r["netns"] == netns && r["dst_addr"] == dst)
            .unwrap_or_else(|| panic!("no {scope} row for {netns} to {dst}: {rows:#?}"));
        (
            row["in_use"].as_u64().unwrap(),
            row["available"].as_u64().unwrap(),
            row["used_pct"].as_f64().unwrap(),
        )
    };
    assert_eq!(budget("snat", 4026532322, "198.18.66.3"), (10, 10, 100.0));
    assert_eq!(budget("snat", 4026532177, "198.18.71.2"), (15, 20, 75.0));
    assert_eq!(budget("netns", 4026532246, "198.18.71.2"), (21, 30, 70.0));
    assert_eq!(budget("netns", 4026532697, "198.18.66.3"), (11, 27, 40.7));
    assert_eq!(budget("netns", 4026532535, "198.18.66.2"), (1, 28232, 0.0));
    // The fullest first; the podman pod's SNAT row names the pod behind it.
    assert_eq!(rows[0]["scope"], "snat");
    assert_eq!(rows[0]["pod"], "narrow-c-91564");
    assert_eq!(
        rows[0]["sources"],
        serde_json::json!([{"namespace": "cnpb-podman", "pod": "narrow-c-91564",
            "container": null, "src_addr": "198.18.64.4", "count": 10}])
    );
    let narrow = rows.iter().find(|r| r["netns"] == 4026532697u64).unwrap();
    assert_eq!(
        narrow["states"],
        serde_json::json!({"ESTABLISHED": 10, "SYN_SENT": 1})
    );
    assert_eq!(narrow["container"], "client");
    let cpl = rows.iter().find(|r| r["netns"] == 4026532246u64).unwrap();
    assert_eq!(
        cpl["states"],
        serde_json::json!({"TIME_WAIT": 14, "CLOSE_WAIT": 3, "LAST_ACK": 4})
    );
    // The conntrack counters last, with the trace of the full SNAT budget.
    let counters: Vec<&Value> = rows.iter().filter(|r| r["scope"] == "conntrack").collect();
    assert_eq!(counters.len(), 2);
    assert!(rows.iter().rev().take(2).all(|r| r["scope"] == "conntrack"));
    let node = counters
        .iter()
        .find(|r| r["netns"] == 4026532322u64)
        .unwrap();
    assert_eq!(
        (
            &node["entries"],
            &node["insert_failed"],
            &node["drop"],
            &node["in_use"]
        ),
        (
            &serde_json::json!(12),
            &serde_json::json!(3),
            &serde_json::json!(3),
            &Value::Null
        )
    );
    // Every row has exactly the documented keys, in the documented order.
    let keys = [
        "scope",
        "netns",
        "zone",
        "namespace",
        "pod",
        "container",
        "proto",
        "src_addr",
        "dst_addr",
        "dst_port",
        "in_use",
        "available",
        "used_pct",
        "states",
        "next_free_s",
        "sources",
        "entries",
        "max",
        "insert_failed",
        "drop",
        "early_drop",
        "remote_kind",
        "remote_namespace",
        "remote_name",
        "remote_endpoints",
    ];
    for (line, row) in replay_ports_text(&[]).lines().zip(&rows) {
        assert_eq!(row.as_object().unwrap().len(), keys.len(), "{line}");
        let at: Vec<usize> = keys
            .iter()
            .map(|key| {
                line.find(&format!("\"{key}\":"))
                    .unwrap_or_else(|| panic!("{key}: {line}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{line}");
    }
}

#[test]
fn port_budgets_follow_owner_filters_and_top() {
    let rows = replay_ports(&["--pod", "narrow-c-91564"]);
    let scopes: Vec<&str> = rows.iter().map(|r| r["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["snat", "netns"]);
    let rows = replay_ports(&["--top", "2"]);
    let scopes: Vec<&str> = rows.iter().map(|r| r["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["snat", "snat", "conntrack", "conntrack"]);
    let rows = replay_ports(&["--snat-ports", "64", "--top", "1"]);
    assert_eq!(rows[0]["scope"], "snat");
    let rows = replay_ports(&["--snat-ports", "12"]);
    let external = rows
        .iter()
        .find(|r| r["scope"] == "external" && r["dst_addr"] == "198.18.66.3")
        .unwrap();
    // The pod's 11 sockets and the node's 10 SNAT entries of them are 11 flows.
    assert_eq!(
        (&external["in_use"], &external["available"]),
        (&serde_json::json!(11), &serde_json::json!(12))
    );
}

/// A one-shot recording holds one snapshot: `--watch` has no rates to show
/// and says so, rather than printing nothing (found by a user).
#[test]
fn a_watch_over_a_single_snapshot_says_it_has_no_rates() {
    let file = recording();
    let output = cnetstat(&[
        "--replay",
        file.to_str().unwrap(),
        "--watch",
        "--format",
        "json",
    ]);
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fewer than two snapshots, so no rates"),
        "{stderr}"
    );
}
