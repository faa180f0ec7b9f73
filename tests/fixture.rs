//! End to end on a recorded node: testdata/node holds the /proc files
//! cnetstat reads for every process of a Docker pod `shop/cart-0` (sandbox,
//! `server` listening on 8080 and 8081, `client` holding one connection to
//! 8081 after three short ones to 8080) and of a plain Docker container
//! `cnetstat-fixture-cache` (listening on 6379, one TIME_WAIT), recorded by
//! testdata/record_node.py together with dockerd's answer to
//! /containers/json, which a fake Docker serves here. The expected owners
//! below were read off `docker top` and the recorded fd links by hand:
//!
//! | pid   | comm  | container | sockets (fd links)             |
//! |-------|-------|-----------|--------------------------------|
//! | 13260 | sleep | POD       |                                |
//! | 13375 | nc    | server    | 20337 (LISTEN :8080)           |
//! | 13376 | nc    | server    | 20339 (LISTEN :8081)           |
//! | 14647 | cat   | server    | 21762 (8081 ← 41414)           |
//! | 14646 | nc    | client    | 23696 (41414 → 8081)           |
//! | 13600 | nc    | cache     | 21958 (LISTEN :6379)           |

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::fake_docker::{Behavior, FakeDocker};
use serde_json::Value;

const CLIENT_ID: &str = "a565b5f861556d6a5a1dbc94603af5fc0f2ce469272f3aa11c5294b4bc2cc799";
const SERVER_ID: &str = "86c2fed3242841e658e438b699b6e461f49be092bfc41b257af4203e98479d95";
const CACHE_ID: &str = "10d74c5eb6a22652857628518d052d0887372c292bb83786ec7ac4bab0bd236d";
const POD_NETNS: u64 = 4026532400;
const CACHE_NETNS: u64 = 4026532481;

fn node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/node")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cnetstat-fixture-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn recorded_docker(dir: &Path) -> FakeDocker {
    let read = |name: &str| std::fs::read(node().join(name)).unwrap();
    FakeDocker::start(
        dir,
        Behavior::Answer {
            ping: read("docker-ping.http"),
            other: read("docker-containers.http"),
        },
    )
    .unwrap()
}

fn cnetstat(docker: &Path, args: &[&str]) -> Output {
    let proc = node().join("proc");
    Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .arg("--proc")
        .arg(&proc)
        // No runtime state under this root: names come from Docker alone.
        .arg("--root")
        .arg(node())
        .args(args)
        .env("DOCKER_HOST", format!("unix://{}", docker.display()))
        .output()
        .unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// One expected socket: (proto, local, local port, remote, remote port,
/// state, inode, namespace, pod, container, container id, pid, process,
/// attribution, netns).
type Expected = (
    &'static str,
    &'static str,
    u16,
    &'static str,
    u16,
    &'static str,
    u64,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<u32>,
    Option<&'static str>,
    &'static str,
    u64,
);

/// The TIME_WAITs' timers, read by hand off the recorded tables of each
/// namespace's lowest pid (13260 and 13568): `tr:tm->when` of `03:00001548`
/// is 0x1548 = 5448 ticks of 10 ms.
fn timewait_expiry(local_port: u16, remote_port: u16) -> f64 {
    match (local_port, remote_port) {
        (43002, 8081) => 54.48,
        (60446, 8080) | (60450, 8080) => 54.56,
        (60460, 8080) => 54.57,
        (6379, 36778) => 39.79,
        other => panic!("no TIME_WAIT {other:?} was recorded"),
    }
}

fn as_json(e: &Expected) -> Value {
    let runtime = if e.10.is_some() || e.7.is_some() {
        Some("docker")
    } else {
        None
    };
    let (timer, expires) = if e.5 == "TIME_WAIT" {
        (Some("timewait"), Some(timewait_expiry(e.2, e.4)))
    } else {
        (None, None)
    };
    serde_json::json!({
        "namespace": e.7, "pod": e.8, "container": e.9, "container_id": e.10,
        "runtime": runtime, "pid": e.11, "process": e.12, "proto": e.0,
        "local_addr": e.1, "remote_addr": e.3, "local_port": e.2, "remote_port": e.4,
        "state": e.5, "timer": timer, "expires_s": expires, "netns": e.14, "inode": e.6, "uid": 0, "attribution": e.13,
        // A recorded tree has no namespace to read addresses in.
        "remote_kind": null, "remote_namespace": null, "remote_name": null, "remote_endpoint": null,
    })
}

const SHOP: Option<&str> = Some("shop");
const CART: Option<&str> = Some("cart-0");
const MAPPED_LO: &str = "::ffff:127.0.0.1";

/// Every socket of the two recorded namespaces, in the order cnetstat sorts
/// them: by namespace, pod and container (unknown last), then address.
#[rustfmt::skip]
fn every_socket() -> Vec<Expected> {
    let client = (SHOP, CART, Some("client"), Some(CLIENT_ID));
    let server = (SHOP, CART, Some("server"), Some(SERVER_ID));
    let pod_level = (SHOP, CART, None, None);
    let cache = (None, None, Some("cnetstat-fixture-cache"), Some(CACHE_ID));
    type Owner = (Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<&'static str>);
    let row = |proto, l, lp, r, rp, st, ino, o: Owner, pid, comm, attr, ns| -> Expected {
        (proto, l, lp, r, rp, st, ino, o.0, o.1, o.2, o.3, pid, comm, attr, ns)
    };
    vec![
        row("tcp",  "127.0.0.1", 41414, "127.0.0.1", 8081, "ESTABLISHED", 23696, client, Some(14646), Some("nc"), "process", POD_NETNS),
        row("tcp6", "::",         8080, "::",           0, "LISTEN",      20337, server, Some(13375), Some("nc"), "process", POD_NETNS),
        row("tcp6", "::",         8081, "::",           0, "LISTEN",      20339, server, Some(13376), Some("nc"), "process", POD_NETNS),
        row("tcp6", MAPPED_LO,    8081, MAPPED_LO, 41414, "ESTABLISHED", 21762, server, Some(14647), Some("cat"), "process", POD_NETNS),
        row("tcp",  "127.0.0.1", 43002, "127.0.0.1", 8081, "TIME_WAIT",       0, pod_level, None, None, "netns", POD_NETNS),
        row("tcp",  "127.0.0.1", 60446, "127.0.0.1", 8080, "TIME_WAIT",       0, pod_level, None, None, "netns", POD_NETNS),
        row("tcp",  "127.0.0.1", 60450, "127.0.0.1", 8080, "TIME_WAIT",       0, pod_level, None, None, "netns", POD_NETNS),
        row("tcp",  "127.0.0.1", 60460, "127.0.0.1", 8080, "TIME_WAIT",       0, pod_level, None, None, "netns", POD_NETNS),
        row("tcp6", "::",         6379, "::",           0, "LISTEN",      21958, cache, Some(13600), Some("nc"), "process", CACHE_NETNS),
        row("tcp6", MAPPED_LO,    6379, MAPPED_LO, 36778, "TIME_WAIT",       0, cache, None, None, "netns", CACHE_NETNS),
    ]
}

#[test]
fn every_socket_with_its_owner_as_json() {
    let dir = temp_dir("json");
    let docker = recorded_docker(&dir);
    let rows = json_lines(&cnetstat(docker.socket(), &["-a", "--format", "json"]));
    let expected: Vec<Value> = every_socket().iter().map(as_json).collect();
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for (got, want) in rows.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    // One list call for the whole node, after version negotiation.
    let requests = docker.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[1].starts_with("GET /v1.41/containers/json?all=1 "),
        "{requests:?}"
    );
}

#[test]
fn default_leaves_out_listen_and_listening_keeps_only_it() {
    let dir = temp_dir("listen");
    let docker = recorded_docker(&dir);
    let ports = |args: &[&str]| -> Vec<u64> {
        json_lines(&cnetstat(docker.socket(), args))
            .iter()
            .map(|row| row["local_port"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        ports(&["--format", "json"]),
        vec![41414, 8081, 43002, 60446, 60450, 60460, 6379]
    );
    assert_eq!(ports(&["-l", "--format", "json"]), vec![8080, 8081, 6379]);
}

#[test]
fn filters_by_state_and_owner() {
    let dir = temp_dir("filters");
    let docker = recorded_docker(&dir);
    let count = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        json_lines(&cnetstat(docker.socket(), &args)).len()
    };
    assert_eq!(count(&["--state", "time-wait"]), 5);
    assert_eq!(count(&["--state", "time-wait", "--pod", "cart-0"]), 4);
    assert_eq!(count(&["-a", "--container", "server"]), 3);
    // The short id `docker ps` shows names a container too.
    assert_eq!(count(&["-a", "--container", "10d74c5eb6a2"]), 2);
    assert_eq!(count(&["-a", "--container", "cnetstat-fixture-cache"]), 2);
    assert_eq!(count(&["-a", "--namespace", "shop"]), 8);
    assert_eq!(count(&["-a", "--namespace", "nope"]), 0);
}

#[test]
fn filters_by_address_port_and_state_group() {
    let dir = temp_dir("endpoints");
    let docker = recorded_docker(&dir);
    let ports = |args: &[&str]| -> Vec<(u64, u64)> {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        json_lines(&cnetstat(docker.socket(), &args))
            .iter()
            .map(|r| {
                (
                    r["local_port"].as_u64().unwrap(),
                    r["remote_port"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // Who talks to 127.0.0.1:8080: the three short connections' TIME_WAITs.
    assert_eq!(
        ports(&["--remote", "127.0.0.1:8080"]),
        vec![(60446, 8080), (60450, 8080), (60460, 8080)]
    );
    // An IPv4 address matches its v4-mapped form: the server's end and the cache's.
    assert_eq!(
        ports(&["--local", "127.0.0.1"]).len(),
        7,
        "every non-LISTEN socket here is on loopback"
    );
    assert_eq!(
        ports(&["--local", "[::ffff:127.0.0.1]:6379"]),
        vec![(6379, 36778)]
    );
    assert_eq!(
        ports(&["--remote", "127.0.0.0/8:8081"]),
        vec![(41414, 8081), (43002, 8081)]
    );
    assert_eq!(
        ports(&["--port", "41414"]),
        vec![(41414, 8081), (8081, 41414)]
    );
    assert_eq!(ports(&["--remote", "10.0.0.0/8"]), vec![]);
    // ss's groups: connected is everything but LISTEN and CLOSE; bucket
    // the minisockets, TIME_WAIT and SYN_RECV.
    assert_eq!(ports(&["--state", "connected"]).len(), 7);
    assert_eq!(ports(&["--state", "bucket"]).len(), 5);
    assert_eq!(
        ports(&["--state", "synchronized", "--pod", "cart-0"]).len(),
        6
    );
}

#[test]
fn a_name_that_nothing_has_says_so_and_names_the_nearest() {
    let dir = temp_dir("typo");
    let docker = recorded_docker(&dir);
    let output = cnetstat(docker.socket(), &["--pod", "Cart-0"]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "cnetstat: --pod Cart-0: no pod of that name on this node; nearest: cart-0"
    );
    let output = cnetstat(
        docker.socket(),
        &["--namespace", "shopp", "--container", "severs"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "--namespace shopp: no Kubernetes namespace of that name on this node; nearest: shop"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "--container severs: no container of that name on this node; nearest: server,"
        ),
        "{stderr}"
    );
    // A pod that exists but holds nothing here is no typo.
    let output = cnetstat(
        docker.socket(),
        &["--pod", "cart-0", "--state", "close-wait"],
    );
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn summary_groups_by_direction_and_by_keys() {
    let dir = temp_dir("directions");
    let docker = recorded_docker(&dir);
    let groups = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--summary", "--format", "json"]);
        json_lines(&cnetstat(docker.socket(), &args))
    };
    // The server's end of 41414 -> 8081 was accepted on 8081, a port its
    // namespace listens on: an inbound group keyed by the local end, with
    // its one client; the client's end is outbound to 8081.
    let all = groups(&[]);
    let inbound: Vec<&Value> = all.iter().filter(|g| g["direction"] == "in").collect();
    assert_eq!(inbound.len(), 2, "{all:#?}");
    let server = inbound.iter().find(|g| g["container"] == "server").unwrap();
    assert_eq!(
        (
            &server["local_addr"],
            &server["local_port"],
            &server["remote_addr"],
            &server["clients"]
        ),
        (
            &Value::from(MAPPED_LO),
            &Value::from(8081),
            &Value::Null,
            &Value::from(1)
        )
    );
    // The cache's TIME_WAIT is on its listening port 6379: inbound too.
    let cache = inbound.iter().find(|g| g["local_port"] == 6379).unwrap();
    assert_eq!(
        (&cache["container"], &cache["count"]),
        (&Value::from("cnetstat-fixture-cache"), &Value::from(1))
    );
    // One line per pod and destination, whichever container or none.
    let by = groups(&["--by", "pod,remote"]);
    let to_8081 = by.iter().find(|g| g["remote_port"] == 8081).unwrap();
    assert_eq!(to_8081["count"], 2);
    assert_eq!(
        to_8081["container"],
        Value::Null,
        "client and (pod): several containers"
    );
    assert_eq!(
        to_8081["states"],
        serde_json::json!({"ESTABLISHED": 1, "TIME_WAIT": 1})
    );
}

#[test]
fn summary_counts_per_container_and_destination() {
    let dir = temp_dir("summary");
    let docker = recorded_docker(&dir);
    let groups = json_lines(&cnetstat(
        docker.socket(),
        &["--summary", "--format", "json"],
    ));
    assert_eq!(
        groups[0],
        serde_json::json!({
            "namespace": "shop", "pod": "cart-0", "container": null, "container_id": null,
            "netns": POD_NETNS, "direction": "out", "proto": "tcp",
            "local_addr": null, "local_port": null,
            "remote_addr": "127.0.0.1", "remote_port": 8080, "clients": null,
            "count": 3, "states": {"TIME_WAIT": 3},
            "remote_kind": null, "remote_namespace": null, "remote_name": null,
            "remote_endpoints": null,
        })
    );
    let total: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 7);
    let top = json_lines(&cnetstat(
        docker.socket(),
        &["--summaryStatistics", "--top", "1", "--format", "json"],
    ));
    assert_eq!(top, groups[..1]);
}

#[test]
fn table_is_aligned_with_dashes_for_unknowns() {
    let dir = temp_dir("table");
    let docker = recorded_docker(&dir);
    let output = cnetstat(docker.socket(), &["--state", "established"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            "NAMESPACE  POD     CONTAINER  PID    PROCESS  PROTO  LOCAL                    REMOTE                    STATE",
            "shop       cart-0  client     14646  nc       tcp    127.0.0.1:41414          127.0.0.1:8081            ESTABLISHED",
            "shop       cart-0  server     14647  cat      tcp6   [::ffff:127.0.0.1]:8081  [::ffff:127.0.0.1]:41414  ESTABLISHED",
        ]
    );
}

#[test]
fn without_docker_names_container_ids_from_cgroups_remain() {
    for behavior in [Behavior::Hang, Behavior::Garbage, Behavior::Close] {
        let dir = temp_dir("faults");
        let docker = FakeDocker::start(&dir, behavior).unwrap();
        let started = std::time::Instant::now();
        let output = cnetstat(docker.socket(), &["-a", "--format", "json"]);
        assert!(started.elapsed().as_secs() < 10);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(stderr.matches("warning: docker:").count(), 1, "{stderr}");
        assert!(
            stderr.contains(&docker.socket().display().to_string()),
            "{stderr}"
        );
        let rows = json_lines(&output);
        assert_eq!(rows.len(), 10);
        let client = rows.iter().find(|row| row["local_port"] == 41414).unwrap();
        assert_eq!(client["container_id"], CLIENT_ID);
        assert_eq!(client["container"], Value::Null);
        assert_eq!(client["pid"], 14646);
        assert_eq!(client["runtime"], "docker");
        assert!(rows.iter().all(|row| row["pod"].is_null()));
    }
    // No socket at all where DOCKER_HOST points.
    let output = cnetstat(Path::new("/nonexistent/docker.sock"), &["--format", "json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/docker.sock"), "{stderr}");
    assert_eq!(json_lines(&output).len(), 7);
}

/// A daemon that stopped accepting: its listen backlog is full, so
/// connect(2) itself blocks, beyond any socket timeout.
#[test]
fn a_daemon_that_stopped_accepting_costs_seconds_not_forever() {
    use std::os::unix::ffi::OsStrExt;
    let dir = temp_dir("backlog");
    let path = dir.join("docker.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // Fill the backlog with connections nobody accepts.
    let mut pending = Vec::new();
    loop {
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) };
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in addr.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
            *dst = *src as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        let rc = unsafe { libc::connect(fd, &addr as *const _ as *const libc::sockaddr, len) };
        pending.push(fd);
        if rc != 0 || pending.len() > 4096 {
            break;
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .arg("--proc")
        .arg(node().join("proc"))
        .arg("--root")
        .arg(node())
        .args(["--format", "json"])
        .env("DOCKER_HOST", format!("unix://{}", path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    // A hang must fail the test, not stall it.
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(15) {
            let _ = child.kill();
            panic!("cnetstat still running after 15 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no answer within"), "{stderr}");
    assert_eq!(json_lines(&output).len(), 7);
    for fd in pending {
        unsafe { libc::close(fd) };
    }
    drop(listener);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = temp_dir("pipe");
    let docker = recorded_docker(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .arg("--proc")
        .arg(node().join("proc"))
        .arg("--root")
        .arg(node())
        .arg("-a")
        .env(
            "DOCKER_HOST",
            format!("unix://{}", docker.socket().display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn a_root_that_is_not_a_directory_is_an_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .args(["--proc"])
        .arg(node().join("proc"))
        .args(["--root", "/nonexistent-root"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--root /nonexistent-root: No such file or directory"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    for args in [
        &["--bogus"][..],
        &["--format", "xml"],
        &["--state", "nope"],
        &["--top"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--help"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    let help = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--summary"));
}
