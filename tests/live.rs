//! Tests on the live node: real network namespaces, real processes holding
//! real sockets, real TIME_WAITs. They need root (to make namespaces) and
//! python3 (to hold sockets); without them each test says SKIP and passes,
//! and `make test` runs the fuller tests/e2e harness, which never skips in CI.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn can_run(test: &str) -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let tools = ["ip", "python3"]
        .iter()
        .all(|tool| Command::new(tool).arg("-V").output().is_ok());
    if !(root && tools) {
        eprintln!("SKIP {test}: needs root, ip and python3");
    }
    root && tools
}

/// A network namespace made with `ip netns add`, deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "cnetstat-live-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }

    fn inode(&self) -> u64 {
        std::fs::metadata(format!("/run/netns/{}", self.name))
            .unwrap()
            .ino()
    }

    /// Runs python3 in the namespace; it prints one line when its sockets
    /// are in place, which is returned with the child.
    fn python(&self, script: &str) -> (Child, String) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        (child, line.trim().to_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(status.success(), "{program} {args:?}");
}

/// A listener on 127.0.0.1:7000, a connection to it that stays open, and a
/// TIME_WAIT left by a second connection whose client closed first.
const HOLD_SOCKETS: &str = r#"
import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 7000)); l.listen()
c = socket.create_connection(("127.0.0.1", 7000)); a, _ = l.accept()
t = socket.create_connection(("127.0.0.1", 7000)); ta, _ = l.accept()
closed_port = t.getsockname()[1]
t.close(); time.sleep(0.1); ta.close()
print(c.getsockname()[1], closed_port, flush=True)
time.sleep(120)
"#;

/// Leaves one TIME_WAIT and exits, so only the bind mount holds the namespace.
const LEAVE_TIME_WAIT: &str = r#"
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 7001)); l.listen()
t = socket.create_connection(("127.0.0.1", 7001)); ta, _ = l.accept()
port = t.getsockname()[1]
t.close(); time.sleep(0.1); ta.close(); l.close()
print(port, flush=True)
"#;

fn cnetstat(args: &[&str]) -> (Vec<Value>, String) {
    wrapped(&[], args)
}

/// Runs cnetstat under `wrapper` (setpriv, strace: how a test takes a
/// privilege or a syscall away); returns its JSON rows and stderr.
fn wrapped(wrapper: &[&str], args: &[&str]) -> (Vec<Value>, String) {
    let binary = env!("CARGO_BIN_EXE_cnetstat");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    let output = command.args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let rows = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (rows, stderr)
}

/// A namespace's rows as text, without the time left on their timers,
/// which moves between two runs.
fn rows_of(rows: &[Value], netns: u64) -> BTreeSet<String> {
    rows.iter()
        .filter(|row| row["netns"] == netns)
        .map(|row| {
            let mut row = row.clone();
            row.as_object_mut().unwrap().remove("expires_s");
            row.to_string()
        })
        .collect()
}

#[test]
fn both_backends_agree_on_the_same_live_sockets() {
    if !can_run("both_backends_agree_on_the_same_live_sockets") {
        return;
    }
    let held = Netns::new();
    let pinned = Netns::new();
    let (child, ports) = held.python(HOLD_SOCKETS);
    let _child = Killed(child);
    let mut ports = ports.split(' ').map(|p| p.parse::<u64>().unwrap());
    let (open_port, closed_port) = (ports.next().unwrap(), ports.next().unwrap());
    let (mut exited, pinned_port) = pinned.python(LEAVE_TIME_WAIT);
    exited.wait().unwrap();
    let pinned_port: u64 = pinned_port.parse().unwrap();

    let (by_proc, _) = cnetstat(&["-a", "--format", "json", "--backend", "proc"]);
    let (by_netlink, _) = cnetstat(&["-a", "--format", "json", "--backend", "netlink"]);
    for ns in [&held, &pinned] {
        let (text, netlink) = (
            rows_of(&by_proc, ns.inode()),
            rows_of(&by_netlink, ns.inode()),
        );
        assert!(!text.is_empty(), "namespace {} not listed", ns.name);
        assert_eq!(text, netlink, "backends differ on {}", ns.name);
    }

    let held_rows: Vec<&Value> = by_proc
        .iter()
        .filter(|r| r["netns"] == held.inode())
        .collect();
    let find = |local_port: u64, state: &str| {
        held_rows
            .iter()
            .find(|r| r["local_port"] == local_port && r["state"] == state)
            .unwrap_or_else(|| panic!("no {state} on {local_port}: {held_rows:#?}"))
    };
    let listener = find(7000, "LISTEN");
    assert_eq!(listener["process"], "python3");
    assert_eq!(listener["attribution"], "process");
    assert_eq!(find(open_port, "ESTABLISHED")["pid"], listener["pid"]);
    let time_wait = find(closed_port, "TIME_WAIT");
    assert_eq!(time_wait["inode"], 0);
    assert_eq!(time_wait["pid"], Value::Null);
    // A namespace of no container: nobody to attribute the TIME_WAIT to.
    assert_eq!(time_wait["attribution"], "none");
    assert_eq!(held_rows.len(), 4, "{held_rows:#?}");

    let pinned_rows: Vec<&Value> = by_proc
        .iter()
        .filter(|r| r["netns"] == pinned.inode())
        .collect();
    assert_eq!(pinned_rows.len(), 1, "{pinned_rows:#?}");
    assert_eq!(pinned_rows[0]["local_port"], pinned_port);
    assert_eq!(pinned_rows[0]["state"], "TIME_WAIT");
}

#[test]
fn state_filter_is_the_same_pushed_into_the_kernel_or_applied_to_text() {
    if !can_run("state_filter_is_the_same_pushed_into_the_kernel_or_applied_to_text") {
        return;
    }
    let held = Netns::new();
    let (child, _) = held.python(HOLD_SOCKETS);
    let _child = Killed(child);
    for state in ["time-wait", "listen", "established"] {
        let (text, _) = cnetstat(&["--state", state, "--format", "json", "--backend", "proc"]);
        let (kernel, _) = cnetstat(&["--state", state, "--format", "json", "--backend", "netlink"]);
        let (text, kernel) = (rows_of(&text, held.inode()), rows_of(&kernel, held.inode()));
        let expected = if state == "established" { 2 } else { 1 };
        assert_eq!(text.len(), expected, "{state}: {text:#?}");
        assert_eq!(text, kernel, "{state}");
    }
}

#[test]
fn an_unprivileged_user_gets_what_proc_allows_and_one_warning() {
    if !can_run("an_unprivileged_user_gets_what_proc_allows_and_one_warning") {
        return;
    }
    let held = Netns::new();
    let (child, _) = held.python(HOLD_SOCKETS);
    let _child = Killed(child);
    let (rows, stderr) = wrapped(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ],
        &["-a", "--format", "json"],
    );
    assert_eq!(stderr.matches("could not read").count(), 1, "{stderr}");
    assert!(stderr.contains("CAP_SYS_PTRACE"), "{stderr}");
    // The root-owned process's namespace link is hidden, but its table is
    // still read through /proc/<pid>/net/tcp: its sockets are listed,
    // without the process and without the namespace inode.
    let listener = rows
        .iter()
        .find(|r| r["local_port"] == 7000 && r["state"] == "LISTEN")
        .unwrap_or_else(|| panic!("listener missing: {rows:#?}"));
    assert_eq!(listener["pid"], Value::Null);
    assert_eq!(listener["netns"], Value::Null);
}

#[test]
fn a_namespace_holding_only_time_waits_is_still_read() {
    if !can_run("a_namespace_holding_only_time_waits_is_still_read") {
        return;
    }
    // Its counters say `inuse 0 tw 1`: the table must be read all the same
    // when TIME_WAIT is wanted, and may be skipped when it is not.
    let ns = Netns::new();
    let script = LEAVE_TIME_WAIT.replace(
        "print(port, flush=True)",
        "print(port, flush=True); time.sleep(120)",
    );
    let (child, port) = ns.python(&script);
    let _child = Killed(child);
    let port: u64 = port.parse().unwrap();
    for backend in ["proc", "netlink"] {
        let (rows, _) = cnetstat(&[
            "--state",
            "time-wait",
            "--format",
            "json",
            "--backend",
            backend,
        ]);
        let ours: Vec<&Value> = rows.iter().filter(|r| r["netns"] == ns.inode()).collect();
        assert_eq!(ours.len(), 1, "{backend}: {ours:#?}");
        assert_eq!(ours[0]["local_port"], port);
        let (rows, _) = cnetstat(&[
            "--state",
            "established",
            "--format",
            "json",
            "--backend",
            backend,
        ]);
        assert!(rows.iter().all(|r| r["netns"] != ns.inode()), "{backend}");
    }
}

#[test]
fn an_orphan_in_fin_wait2_is_found_though_its_namespace_counts_it_as_timewait() {
    if !can_run("an_orphan_in_fin_wait2_is_found_though_its_namespace_counts_it_as_timewait") {
        return;
    }
    // Two namespaces joined by a veth pair, addresses of our own: the client
    // closes first and the server never does, so the client's socket is an
    // orphan the kernel keeps as a timewait socket in state FIN_WAIT2, and
    // its namespace's counters say `inuse 0 tw 1`.
    let client = Netns::new();
    let server = Netns::new();
    let veth = format!("cnl{}", client.inode() % 1_000_000_000);
    let (a, b) = (format!("{veth}a"), format!("{veth}b"));
    run(
        "ip",
        &[
            "link",
            "add",
            &a,
            "netns",
            &client.name,
            "type",
            "veth",
            "peer",
            &b,
            "netns",
            &server.name,
        ],
    );
    run(
        "ip",
        &[
            "-n",
            &client.name,
            "addr",
            "add",
            "169.254.77.1/30",
            "dev",
            &a,
        ],
    );
    run(
        "ip",
        &[
            "-n",
            &server.name,
            "addr",
            "add",
            "169.254.77.2/30",
            "dev",
            &b,
        ],
    );
    run("ip", &["-n", &client.name, "link", "set", &a, "up"]);
    run("ip", &["-n", &server.name, "link", "set", &b, "up"]);
    let (serving, _) = server.python(
        r#"
import socket, time
l = socket.socket(); l.bind(("169.254.77.2", 7002)); l.listen()
print("ready", flush=True)
a, _ = l.accept()
time.sleep(120)
"#,
    );
    let _serving = Killed(serving);
    // The client stays, so its namespace is read through it (and its
    // counters), not through the bind mount.
    let (closed, port) = client.python(
        r#"
import socket, time
c = socket.create_connection(("169.254.77.2", 7002))
port = c.getsockname()[1]
c.close(); time.sleep(0.3)
print(port, flush=True)
time.sleep(120)
"#,
    );
    let _closed = Killed(closed);
    let port: u64 = port.parse().unwrap();
    for backend in ["proc", "netlink"] {
        let (rows, _) = cnetstat(&[
            "--state",
            "fin-wait-2",
            "--format",
            "json",
            "--backend",
            backend,
        ]);
        let ours: Vec<&Value> = rows
            .iter()
            .filter(|r| r["netns"] == client.inode())
            .collect();
        assert_eq!(ours.len(), 1, "{backend}: {ours:#?}");
        assert_eq!(ours[0]["local_port"], port);
        assert_eq!(ours[0]["state"], "FIN_WAIT2");
    }
}

fn has_strace() -> bool {
    let found = Command::new("strace").arg("-V").output().is_ok();
    if !found {
        eprintln!("SKIP: needs strace to make socket(2) fail");
    }
    found
}

/// cnetstat with every socket(2) failing, as on a kernel without tcp_diag
/// or under a seccomp filter on netlink (the Docker socket fails with it).
fn without_sockets(args: &[&str]) -> (Vec<Value>, String) {
    wrapped(
        &[
            "strace",
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "inject=socket:error=EAFNOSUPPORT",
        ],
        args,
    )
}

#[test]
fn when_netlink_fails_the_text_tables_answer_and_one_warning_says_why() {
    if !can_run("when_netlink_fails_the_text_tables_answer_and_one_warning_says_why") {
        return;
    }
    if !has_strace() {
        return;
    }
    let held = Netns::new();
    let (child, _) = held.python(HOLD_SOCKETS);
    let _child = Killed(child);
    let (expected, _) = cnetstat(&["-a", "--format", "json", "--backend", "proc"]);
    let (rows, stderr) = without_sockets(&["-a", "--format", "json", "--backend", "netlink"]);
    assert_eq!(
        stderr.matches("sock_diag netlink failed").count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        rows_of(&rows, held.inode()),
        rows_of(&expected, held.inode())
    );
    assert_eq!(rows_of(&rows, held.inode()).len(), 4);
}

#[test]
fn a_hidden_process_in_a_pinned_namespace_does_not_list_it_twice() {
    if !can_run("a_hidden_process_in_a_pinned_namespace_does_not_list_it_twice") {
        return;
    }
    // Root without CAP_SYS_PTRACE (a custom debug profile): the python
    // process's namespace link is denied, but its namespace is also pinned
    // by `ip netns` and read through that bind mount.
    let held = Netns::new();
    let (child, _) = held.python(HOLD_SOCKETS);
    let _child = Killed(child);
    let (rows, _) = wrapped(
        &[
            "setpriv",
            "--bounding-set=-sys_ptrace",
            "--inh-caps=-sys_ptrace",
        ],
        &["-a", "--format", "json", "--backend", "proc"],
    );
    let listener = |r: &&Value| r["local_port"] == 7000 && r["state"] == "LISTEN";
    let listeners: Vec<&Value> = rows.iter().filter(listener).collect();
    assert_eq!(listeners.len(), 1, "{listeners:#?}");
    assert_eq!(listeners[0]["netns"], held.inode());
}

#[test]
fn a_time_waits_timer_counts_down_between_two_runs() {
    if !can_run("a_time_waits_timer_counts_down_between_two_runs") {
        return;
    }
    let ns = Netns::new();
    let script = LEAVE_TIME_WAIT.replace(
        "print(port, flush=True)",
        "print(port, flush=True); time.sleep(120)",
    );
    let (child, port) = ns.python(&script);
    let _child = Killed(child);
    let port: u64 = port.parse().unwrap();
    for backend in ["netlink", "proc"] {
        let expiry = || {
            let (rows, _) = cnetstat(&[
                "--state",
                "time-wait",
                "--format",
                "json",
                "--backend",
                backend,
            ]);
            let row = rows
                .iter()
                .find(|r| r["netns"] == ns.inode() && r["local_port"] == port)
                .unwrap_or_else(|| panic!("{backend}: no TIME_WAIT on {port}"))
                .clone();
            assert_eq!(row["timer"], "timewait", "{backend}");
            row["expires_s"].as_f64().unwrap()
        };
        let first = expiry();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let second = expiry();
        // TIME_WAIT lasts 60 s from when the socket entered it.
        assert!(
            first <= 60.0 && second < first,
            "{backend}: {first} then {second}"
        );
        assert!(
            (1.3..3.0).contains(&(first - second)),
            "{backend}: {first} then {second}"
        );
    }
}

#[test]
fn an_unprivileged_summary_keeps_namespaces_apart_and_counts_lost_sockets() {
    if !can_run("an_unprivileged_summary_keeps_namespaces_apart_and_counts_lost_sockets") {
        return;
    }
    // Two namespaces with the same sockets to the same 127.0.0.1:7000. A
    // user who can read neither their links nor their processes' files
    // sees every socket ownerless: still one group per namespace.
    let first = Netns::new();
    let second = Netns::new();
    let (a, _) = first.python(HOLD_SOCKETS);
    let _a = Killed(a);
    let (b, _) = second.python(HOLD_SOCKETS);
    let _b = Killed(b);
    let unprivileged = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ];
    let (groups, stderr) = wrapped(
        &unprivileged,
        &["--summary", "--format", "json", "--remote", ":7000"],
    );
    assert_eq!(groups.len(), 2, "one group per namespace: {groups:#?}");
    for group in &groups {
        // The client's connection and TIME_WAIT, both outbound to 7000.
        assert_eq!(
            (&group["count"], &group["direction"]),
            (&Value::from(2), &Value::from("out")),
            "{group}"
        );
        assert_eq!(group["pod"], Value::Null);
    }
    // Each namespace's listener and both ends of its connection have an
    // inode but no readable process: at least those six, counted as sockets.
    let line = stderr
        .lines()
        .find(|l| l.contains("could not read"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let lost: u64 = line
        .split(": ")
        .find_map(|part| part.split(" socket").next()?.parse().ok())
        .unwrap_or_else(|| panic!("no socket count in {line}"));
    assert!(lost >= 6, "{line}");
    assert!(line.contains("sockets with no process"), "{line}");
    assert!(line.contains("run as root with CAP_SYS_PTRACE"), "{line}");
    // In the table, a namespace nothing names says which it is.
    let table = Command::new("setpriv")
        .args(&unprivileged[1..])
        .arg(env!("CARGO_BIN_EXE_cnetstat"))
        .args(["--summary", "--remote", ":7000"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert_eq!(text.matches("(netns of pid ").count(), 2, "{text}");
}

#[test]
fn processes_and_namespaces_that_vanish_mid_scan_are_no_warning() {
    if !can_run("processes_and_namespaces_that_vanish_mid_scan_are_no_warning") {
        return;
    }
    // Processes that live milliseconds, some in namespaces of their own
    // that vanish with them, while cnetstat lists processes and reads them.
    let churn = |script: &str| {
        Killed(
            Command::new("sh")
                .args(["-c", script])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let quiet = wrapped(&[], &["--format", "json", "--backend", "netlink"]).1;
    let _namespaces = churn("while :; do unshare --net sh -c 'exec sleep 0.01'; done");
    let _processes = churn("while :; do sleep 0.005 & sleep 0.002; done");
    for backend in ["netlink", "proc"] {
        for _ in 0..15 {
            let (_, stderr) = cnetstat(&["--format", "json", "--backend", backend]);
            assert!(!stderr.contains("No such file"), "{backend}: {stderr}");
            assert!(!stderr.contains("could not be read"), "{backend}: {stderr}");
            assert!(
                stderr.lines().count() <= quiet.lines().count(),
                "{backend}: {stderr}"
            );
        }
    }
}

/// An unconnected UDP socket on 127.0.0.1:7100, one connected to it, and a
/// dual-stack unconnected one on [::]:7101.
const HOLD_UDP: &str = r#"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 7100))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.connect(("127.0.0.1", 7100))
d = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); d.bind(("::", 7101))
print(c.getsockname()[1], flush=True)
time.sleep(120)
"#;

/// A VXLAN device, up: its UDP socket on 0.0.0.0:4789 is the kernel's.
fn add_vxlan(ns: &Netns) {
    let link = ["-n", &ns.name, "link", "add", "vx0", "type", "vxlan"];
    run(
        "ip",
        &[&link[..], &["id", "42", "dstport", "4789"]].concat(),
    );
    run("ip", &["-n", &ns.name, "link", "set", "vx0", "up"]);
}

#[test]
fn udp_both_backends_agree_and_the_vxlan_socket_is_the_kernels() {
    if !can_run("udp_both_backends_agree_and_the_vxlan_socket_is_the_kernels") {
        return;
    }
    let held = Netns::new();
    add_vxlan(&held);
    let (child, client_port) = held.python(HOLD_UDP);
    let _child = Killed(child);
    let client_port: u64 = client_port.parse().unwrap();

    let (by_proc, _) = cnetstat(&["-u", "-a", "--format", "json", "--backend", "proc"]);
    let (by_netlink, _) = cnetstat(&["-u", "-a", "--format", "json", "--backend", "netlink"]);
    let rows = rows_of(&by_proc, held.inode());
    assert_eq!(rows, rows_of(&by_netlink, held.inode()));
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    let find = |proto: &str, port: u64| {
        rows.iter()
            .find(|r| r["proto"] == proto && r["local_port"] == port)
            .unwrap_or_else(|| panic!("no {proto} {port}: {rows:#?}"))
    };
    let server = find("udp", 7100);
    assert_eq!(
        (&server["state"], &server["process"], &server["attribution"]),
        (
            &Value::from("UNCONN"),
            &Value::from("python3"),
            &Value::from("process")
        )
    );
    let client = find("udp", client_port);
    assert_eq!(
        (&client["state"], &client["remote_port"]),
        (&Value::from("ESTABLISHED"), &Value::from(7100))
    );
    assert_eq!(client["pid"], server["pid"]);
    assert_eq!(find("udp6", 7101)["state"], "UNCONN");
    let vxlan = find("udp", 4789);
    assert_eq!(vxlan["attribution"], "kernel");
    assert_eq!(
        (&vxlan["pid"], &vxlan["state"]),
        (&Value::Null, &Value::from("UNCONN"))
    );
    assert_ne!(vxlan["inode"], 0);
    assert_eq!(rows.len(), 4, "{rows:#?}");

    // Without -a only the connected socket; -l only the unconnected ones;
    // without -u no UDP at all.
    let (default, _) = cnetstat(&["-u", "--format", "json"]);
    let default = rows_of(&default, held.inode());
    assert_eq!(default.len(), 1, "{default:#?}");
    assert!(default.iter().all(|r| r.contains("\"ESTABLISHED\"")));
    let (listening, _) = cnetstat(&["-u", "-l", "--format", "json"]);
    assert_eq!(rows_of(&listening, held.inode()).len(), 3);
    let (tcp, _) = cnetstat(&["-a", "--format", "json"]);
    assert!(rows_of(&tcp, held.inode()).is_empty());
}

#[test]
fn where_udp_dumps_fail_too_the_text_tables_answer_and_one_line_says_so() {
    if !can_run("where_udp_dumps_fail_too_the_text_tables_answer_and_one_line_says_so") {
        return;
    }
    if !has_strace() {
        return;
    }
    let held = Netns::new();
    let (tcp_child, _) = held.python(HOLD_SOCKETS);
    let _tcp_child = Killed(tcp_child);
    let (udp_child, _) = held.python(HOLD_UDP);
    let _udp_child = Killed(udp_child);
    let (expected, _) = cnetstat(&["-t", "-u", "-a", "--format", "json", "--backend", "proc"]);
    let (rows, stderr) =
        without_sockets(&["-t", "-u", "-a", "--format", "json", "--backend", "netlink"]);
    // The TCP dump and both UDP families' failed: one line.
    assert_eq!(
        stderr.matches("sock_diag netlink failed").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("and 2 other dumps"), "{stderr}");
    assert_eq!(
        rows_of(&rows, held.inode()),
        rows_of(&expected, held.inode())
    );
    // 4 TCP (HOLD_SOCKETS) and 3 UDP.
    assert_eq!(rows_of(&rows, held.inode()).len(), 7);
}
