#!/usr/bin/env python3
"""cnetstat benchmark: builds a busy node's socket load, then times cnetstat next to `ss`.

Usage (root): bench/run.py path/to/cnetstat [--sizes 10x1000,50x2000] [--reps 5]
              [--snat-entries 50000] [--watch-size 50x2000] [--churn-rate 10]
              [--watch-minutes 10] [--clean]

For each size PODSxSOCKETS it starts PODS pods, each in its own network namespace
(`ip netns add cnetstat-bench-<i>`, bind-mounted like a CNI netns) with three processes in
kubelet-shaped cgroupfs directories /kubepods/burstable/pod<uid>/<64hex> (see bench/pod.py):
a pause process, a server holding a listener and its accepted connections, and a client
holding the other ends and leaving TIME_WAITs. SOCKETS per pod = 1 listener + ESTABLISHED
(both ends) + TIME_WAIT. Kubelet log dirs and /var/log/containers links name the pods.

Then, in one run on this machine, each tool below runs --reps times, interleaved in rotating
order after one unrecorded warm-up round, and the table shows median and min wall time:

  ss -tan   in every netns: `lsns -t net -n -o NS,PID` + `nsenter -t PID -n ss -tan` per netns
  ss -tanp  the same with owners, once per size (slow: its time grows with netns x fds)
  raw tcp   `cat` of /proc/<pid>/net/tcp and tcp6 for one pid per netns (lsns + xargs cat)
  raw fd    `find` readlinking every /proc/*/fd/* entry (what any owner lookup must do)
  cnetstat  --format json and --summary, with each --backend the binary offers;
            --format json --record FILE (the listing while writing a recording) and
            --replay FILE --format json (the listing of a recording made in the same window)
  baseline  with --baseline BINARY (`make bench` builds cnetstat 0.1 for it): that binary's
            --format json and --summary, to compare releases side by side
  ports     cnetstat --ports --format json (n/a while the binary has no --ports), with its
            peak RSS; next to `conntrack -L` in the NAT namespace, and to the reference the
            issue compares it with: `ss -tan` in every netns plus `conntrack -L` in the NAT
            namespace (the sum of the two medians, both timed in the same rounds)

SNAT load (--snat-entries, default 50,000; 0 turns it off): a node namespace
cnetstat-bench-nat with a bridge 198.18.128.1/17 that every pod joins by a veth pair (pod i
at 198.18.128.2+i), an uplink to cnetstat-bench-remote (198.19.254.0/24; it takes
198.19.1.0/24 with a local route and drops UDP to port 443 there), and iptables-nft
`-s 198.18.128.0/17 -o cbup0 -j MASQUERADE` in the node namespace. The pods' clients send one
UDP datagram per flow to 198.19.1.1-10 port 443 from ports 20000 and up, so the node's
conntrack table holds exactly that many real SRC_NAT entries (unreplied UDP, kept 3600 s),
spread over ten destinations, from every pod. cnetstat's SNAT rows must add up to it.

Then --watch (unless --watch-size 0): pods that hold only ESTABLISHED connections, first 5
of them churning (opening and closing --churn-rate connections a second each), then all of
them; for each, cnetstat --watch 2's CPU per tick next to the one-shot listing's CPU on the
same sockets, and, with every pod churning, --watch's RSS after 1 and --watch-minutes
minutes.

Every TIME_WAIT lives 60 s, so the counts only hold still inside a 60 s window after they
are made. Measurements run in such windows; a new window first waits for the old TIME_WAITs
to expire, then makes fresh ones, so that every tool in a round sees the same sockets and
cnetstat's count can be checked against ss's (a MISMATCH line says when it is not equal).

Everything is named cnetstat-bench-* (pods: Kubernetes namespace cnetstat-bench, uid prefix
0cbe0000-) and removed at the end, on error and on Ctrl-C; leftovers from a killed run are
removed before starting. `--clean` only removes leftovers.
"""

import argparse
import glob
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

PREFIX = "cnetstat-bench-"
K8S_NAMESPACE = "cnetstat-bench"
POD_UID_PREFIX = "0cbe0000-0000-4000-8000-"
QOS_DIRS = ("kubepods", "burstable")
NETNS_DIR = "/run/netns"
LOG_PODS = "/var/log/pods"
LOG_CONTAINERS = "/var/log/containers"
# A TIME_WAIT socket lives 60 s (TCP_TIMEWAIT_LEN) and its timer never fires early.
TW_WINDOW_S = 57.0
TW_EXPIRY_WAIT_S = 80.0
# Tool outputs go to tmpfs so that writing them costs every tool the same little.
WORK_PARENT = "/dev/shm"
POD_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pod.py")
REQUIRED_TOOLS = ("ip", "lsns", "nsenter", "ss", "cat", "xargs", "awk", "find", "bash")
SNAT_TOOLS = ("iptables-nft", "nft", "conntrack", "sysctl")
NAT_NETNS = PREFIX + "nat"
REMOTE_NETNS = PREFIX + "remote"
POD_NET_BASE = "198.18.128.0"
POD_PREFIX_LEN = 17
GATEWAY = "198.18.128.1"
GATEWAY_MAC = "02:cb:00:00:00:01"
NAT_ADDR = "198.19.254.1"
REMOTE_ADDR = "198.19.254.2"
REMOTE_MAC = "02:cb:00:00:00:02"
SERVICE_NET = "198.19.1.0/24"
SERVICE_ADDRS = [f"198.19.1.{i}" for i in range(1, 11)]
SERVICE_PORT = 443
FIRST_SOURCE_PORT = 20000


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- node objects


def cgroup_mounts():
    """Mount points of every cgroup hierarchy (v1 controllers and the v2 tree)."""
    mounts = []
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] in ("cgroup", "cgroup2"):
                mounts.append(fields[1])
    return mounts


def bench_pod_cgroup_dirs():
    found = []
    for mount in cgroup_mounts():
        found += glob.glob(os.path.join(mount, *QOS_DIRS, "pod" + POD_UID_PREFIX + "*"))
    return found


def make_cgroup_dir(mount, rel_parts):
    """mkdir -p under one hierarchy; a new cpuset dir must get cpus and mems before tasks."""
    path = mount
    for part in rel_parts:
        parent, path = path, os.path.join(path, part)
        if os.path.isdir(path):
            continue
        os.mkdir(path)
        for knob in ("cpuset.cpus", "cpuset.mems"):
            child_knob = os.path.join(path, knob)
            if os.path.exists(child_knob):
                with open(os.path.join(parent, knob)) as src:
                    value = src.read().strip()
                if value:  # empty on cgroup v2: inherited, nothing to set
                    with open(child_knob, "w") as dst:
                        dst.write(value)
    return path


def ip_batch(commands, netns=None):
    if commands:
        subprocess.run(
            ["ip", *(["-n", netns] if netns else []), "-batch", "-"],
            input="\n".join(commands) + "\n", text=True, check=True
        )


def bench_netns_names():
    if not os.path.isdir(NETNS_DIR):
        return []
    return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(PREFIX))


def kill_pids_in(cgroup_dirs):
    alive = 0
    for d in cgroup_dirs:
        for procs in glob.glob(os.path.join(d, "*", "cgroup.procs")):
            try:
                with open(procs) as f:
                    pids = [int(p) for p in f.read().split()]
            except OSError:
                continue
            for pid in pids:
                alive += 1
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    return alive


def remove_cgroup_tree(path, deadline):
    """rmdir leaves first; a cgroup whose last task is still exiting gives EBUSY for a moment."""
    for sub in sorted(glob.glob(os.path.join(path, "*", "")), reverse=True):
        remove_cgroup_tree(sub.rstrip("/"), deadline)
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def clean_node(pods=()):
    """Remove every object this benchmark creates, whether from this run or a killed one."""
    for pod in pods:
        pod.stop()
    dirs = bench_pod_cgroup_dirs()
    deadline = time.monotonic() + 15
    while kill_pids_in(dirs) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pod in pods:
        pod.reap()
    for d in dirs:
        remove_cgroup_tree(d, deadline)
    ip_batch([f"netns del {n}" for n in bench_netns_names()])
    for d in glob.glob(os.path.join(LOG_PODS, K8S_NAMESPACE + "_*")):
        shutil.rmtree(d, ignore_errors=True)
    for link in glob.glob(os.path.join(LOG_CONTAINERS, f"*_{K8S_NAMESPACE}_*.log")):
        os.unlink(link)


TCP_SLABS = ("TCP", "TCPv6", "tw_sock_TCP", "tw_sock_TCPv6")
CONNTRACK_SLABS = ("nf_conntrack",)


def kernel_slab_objects(names):
    """Live objects of these slab caches in the whole kernel (every netns), from slabinfo."""
    total = 0
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                name, _, rest = line.partition(" ")
                if name in names:
                    total += int(rest.split()[0])
    except OSError:
        return None
    return total


def kernel_tcp_objects():
    """Live TCP and TIME_WAIT socket objects in the whole kernel (every netns), from slabinfo."""
    return kernel_slab_objects(TCP_SLABS)


def wait_kernel_sockets_freed(baseline, conntrack_baseline=None):
    """Sockets and conntrack entries of deleted namespaces are freed asynchronously; they
    still lengthen every hash-table walk until then, so the next size must not start while
    they linger."""
    if baseline is None:
        time.sleep(2)
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = kernel_tcp_objects()
        ct = kernel_slab_objects(CONNTRACK_SLABS) if conntrack_baseline is not None else None
        if (now is None or now <= baseline + 2000) and (ct is None or ct <= conntrack_baseline + 2000):
            return
        time.sleep(0.2)
    log(f"  note: {kernel_tcp_objects() - baseline} TCP objects still allocated after 30 s")
    if conntrack_baseline is not None:
        log(f"  note: {kernel_slab_objects(CONNTRACK_SLABS) - conntrack_baseline} conntrack entries "
            "still allocated after 30 s")


@dataclass
class Pod:
    index: int
    established: int
    time_wait: int
    workdir: str
    proc: subprocess.Popen = None

    @property
    def netns(self):
        return PREFIX + str(self.index)

    @property
    def name(self):
        return f"load-{self.index}"

    @property
    def uid(self):
        return f"{POD_UID_PREFIX}{self.index:012x}"

    def container_id(self, container):
        return hashlib.sha256(f"{PREFIX}{self.uid}/{container}".encode()).hexdigest()

    def cgroup_dirs(self, container):
        rel = [*QOS_DIRS, "pod" + self.uid, self.container_id(container)]
        return [make_cgroup_dir(m, rel) for m in cgroup_mounts()]

    def write_kubelet_logs(self):
        os.makedirs(LOG_CONTAINERS, exist_ok=True)
        pod_dir = os.path.join(LOG_PODS, f"{K8S_NAMESPACE}_{self.name}_{self.uid}")
        for container in ("server", "client"):
            os.makedirs(os.path.join(pod_dir, container), exist_ok=True)
            log_file = os.path.join(pod_dir, container, "0.log")
            open(log_file, "a").close()
            cid = self.container_id(container)
            link = os.path.join(
                LOG_CONTAINERS, f"{self.name}_{K8S_NAMESPACE}_{container}-{cid}.log"
            )
            if not os.path.lexists(link):
                os.symlink(log_file, link)

    def start(self):
        self.write_kubelet_logs()
        argv = [
            sys.executable,
            POD_PY,
            "--netns",
            os.path.join(NETNS_DIR, self.netns),
            "--established",
            str(self.established),
            "--time-wait",
            str(self.time_wait),
        ]
        for container in ("pause", "server", "client"):
            argv += [f"--{container}-cgroups", ":".join(self.cgroup_dirs(container))]
        self.stderr_path = os.path.join(self.workdir, f"pod-{self.index}.err")
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True
            )

    def expect(self, word):
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != word:
            with open(self.stderr_path) as f:
                err = f.read().strip()
            raise RuntimeError(f"pod {self.index}: expected '{word} N', got {line}: {err}")
        return int(line[1])

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    @property
    def address(self):
        return str(ipaddress.ip_address(POD_NET_BASE) + 2 + self.index)

    def tcp_counters(self):
        with open(f"/proc/{self.proc.pid}/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    fields = line.split()[1:]
                    return {k: int(v) for k, v in zip(fields[::2], fields[1::2])}
        return {}

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()

    def reap(self):
        if self.proc:
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc.wait()


def start_pods(count, sockets_per_pod, established_share, workdir):
    pairs = max(1, round(sockets_per_pod * established_share / 2))
    time_wait = sockets_per_pod - 1 - 2 * pairs
    if time_wait < 0:
        sys.exit(f"{sockets_per_pod} sockets per pod is too few")
    return start_pods_holding(count, pairs, time_wait, workdir)


def start_pods_holding(count, pairs, time_wait, workdir):
    pods = [Pod(i, pairs, time_wait, workdir) for i in range(count)]
    ip_batch([f"netns add {p.netns}" for p in pods])
    for pod in pods:
        pod.start()
    return pods


# ---------------------------------------------------------------- SNAT load


def in_netns(name, argv):
    return ["nsenter", f"--net={os.path.join(NETNS_DIR, name)}", *argv]


class SnatLoad:
    """The node's NAT namespace and its SRC_NAT conntrack entries (see the module docstring)."""

    def __init__(self, pods, entries, workdir):
        self.entries = entries
        self.pods = pods
        self.workdir = workdir

    def build(self):
        ip_batch([f"netns add {NAT_NETNS}", f"netns add {REMOTE_NETNS}"])
        for ns in (NAT_NETNS, REMOTE_NETNS):
            subprocess.run(in_netns(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                                         "net.ipv6.conf.default.disable_ipv6=1"]), check=True)
        node = [
            "link set lo up",
            f"link add cbbr0 address {GATEWAY_MAC} type bridge",
            f"link add cbup0 type veth peer name eth0 address {REMOTE_MAC} netns {REMOTE_NETNS}",
            f"addr add {GATEWAY}/{POD_PREFIX_LEN} dev cbbr0",
            f"addr add {NAT_ADDR}/24 dev cbup0",
            "link set cbbr0 up",
            "link set cbup0 up",
            f"route add {SERVICE_NET} via {REMOTE_ADDR}",
            f"neigh replace {REMOTE_ADDR} lladdr {REMOTE_MAC} dev cbup0 nud permanent",
        ]
        for pod in self.pods:
            node += [f"link add cbv{pod.index} type veth peer name eth0 netns {pod.netns}",
                     f"link set cbv{pod.index} master cbbr0 up"]
        ip_batch(node, netns=NAT_NETNS)
        ip_batch(["link set lo up", f"addr add {REMOTE_ADDR}/24 dev eth0",
                  "link set eth0 up",
                  f"route add local {SERVICE_NET} dev lo"], netns=REMOTE_NETNS)
        for pod in self.pods:
            # A permanent neighbour: no datagram of the burst waits for ARP and is lost.
            ip_batch([f"addr add {pod.address}/{POD_PREFIX_LEN} dev eth0",
                      "link set eth0 up",
                      f"route add default via {GATEWAY}",
                      f"neigh replace {GATEWAY} lladdr {GATEWAY_MAC} dev eth0 nud permanent"],
                     netns=pod.netns)
        subprocess.run(in_netns(NAT_NETNS, [
            "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.netfilter.nf_conntrack_udp_timeout=3600",
            "net.netfilter.nf_conntrack_udp_timeout_stream=3600"]), check=True)
        subprocess.run(in_netns(NAT_NETNS, [
            "iptables-nft", "-t", "nat", "-A", "POSTROUTING", "-s", f"{POD_NET_BASE}/{POD_PREFIX_LEN}",
            "-o", "cbup0", "-j", "MASQUERADE"]), check=True)
        rules = os.path.join(self.workdir, "remote.nft")
        with open(rules, "w") as f:
            f.write(f"table inet cnetstat_bench {{\n  chain input {{\n    type filter hook input priority 0;\n"
                    f"    udp dport {SERVICE_PORT} drop\n  }}\n}}\n")
        subprocess.run(in_netns(REMOTE_NETNS, ["nft", "-f", rules]), check=True)

    def fill(self):
        """Every pod sends its share of the flows; repeated until the table holds them all (a
        datagram lost on the way makes no entry, and sending a flow again makes no second)."""
        shares = [self.entries // len(self.pods) + (1 if i < self.entries % len(self.pods) else 0)
                  for i in range(len(self.pods))]
        command = "udp {n} {first} {port} " + ",".join(SERVICE_ADDRS)
        for _attempt in range(3):
            for pod, share in zip(self.pods, shares):
                if share:
                    pod.send(command.format(n=share, first=FIRST_SOURCE_PORT, port=SERVICE_PORT))
            for pod, share in zip(self.pods, shares):
                if share:
                    pod.expect("udp")
            deadline = time.monotonic() + 5
            while self.snat_count() < self.entries and time.monotonic() < deadline:
                time.sleep(0.2)
            if self.snat_count() >= self.entries:
                break
        return self.snat_count()

    def count(self):
        out = subprocess.run(in_netns(NAT_NETNS, ["conntrack", "-C"]), capture_output=True, text=True)
        return int(out.stdout.strip() or 0)

    def snat_count(self):
        out = subprocess.run(in_netns(NAT_NETNS, ["conntrack", "-L", "--src-nat"]),
                             capture_output=True, text=True)
        return len(out.stdout.splitlines())


def start_snat_load(pods, entries, workdir):
    if not entries:
        return None
    missing = [t for t in SNAT_TOOLS if shutil.which(t) is None]
    if missing:
        log(f"  note: no SNAT load: missing {' '.join(missing)}")
        return None
    if entries > len(pods) * (65536 - FIRST_SOURCE_PORT):
        sys.exit(f"--snat-entries {entries}: at most {65536 - FIRST_SOURCE_PORT} per pod")
    t0 = time.monotonic()
    load = SnatLoad(pods, entries, workdir)
    load.build()
    snat = load.fill()
    log(f"  SNAT load: {snat} SRC_NAT conntrack entries ({load.count()} in all) in {NAT_NETNS} from "
        f"{len(pods)} pods to {len(SERVICE_ADDRS)} destinations, made in {time.monotonic() - t0:.1f} s"
        + ("" if snat == entries else f"; MISMATCH: {entries} wanted"))
    return load


# ---------------------------------------------------------------- TIME_WAIT windows


class Window:
    """A stretch of time in which every bench TIME_WAIT socket exists and none expires."""

    def __init__(self, pods, previous):
        if previous is not None:
            deadline = previous.started + TW_EXPIRY_WAIT_S
            while any(p.tcp_counters().get("tw", 0) for p in pods):
                if time.monotonic() > deadline:
                    log("  note: old TIME_WAITs outlived 80 s; counts may drift")
                    break
                time.sleep(0.5)
        self.started = time.monotonic()
        for pod in pods:
            pod.send("tw")
        self.time_waits = sum(pod.expect("tw") for pod in pods)
        self.bench_nonlisten = self.time_waits + sum(2 * pod.established for pod in pods)
        self.made_in = time.monotonic() - self.started
        self.deadline = self.started + TW_WINDOW_S

    def remaining(self):
        return self.deadline - time.monotonic()


# ---------------------------------------------------------------- tools


@dataclass
class Run:
    wall: float
    cpu: float
    sys_cpu: float
    rss_kib: int
    count: dict
    status: int
    cut_off: bool


@dataclass
class Tool:
    key: str
    label: str
    short: str
    argv: list
    counter: object
    # Compared with ss -tan's count: "all" (every state) or "nonlisten" (cnetstat's default).
    expect: str = None
    # cnetstat's runs must succeed. The shell baselines race with processes that exit between
    # lsns and nsenter/cat (other containers on a live node), so their status is not checked.
    strict: bool = False
    runs: list = field(default_factory=list)
    failures: int = 0
    # False when the binary lacks the feature: the tool is not run and its cells say n/a.
    available: bool = True
    note: str = ""


RUNNING = {}
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


def run_measured(argv, out_path, err_path, timeout=None):
    """Run argv to completion (or kill its process group after timeout seconds).

    Peak RSS comes from GNU time, not from wait4: a child forked from this Python process
    inherits its ~20 MiB high-water mark through exec, which would hide a small tool's own.
    """
    rss_path = err_path + ".rss"
    if GNU_TIME:
        argv = [GNU_TIME, "-f", "%M", "-o", rss_path, *argv]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
        RUNNING[proc.pid] = proc
        cut_off = threading.Event()

        def kill_group():
            cut_off.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill_group) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
            RUNNING.pop(proc.pid, None)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    rss_kib = None
    if GNU_TIME and not cut_off.is_set():
        with open(rss_path) as f:
            last = f.read().strip().splitlines()[-1:]
        rss_kib = int(last[0]) if last and last[0].isdigit() else None
    return Run(
        wall=wall,
        cpu=ru.ru_utime + ru.ru_stime,
        sys_cpu=ru.ru_stime,
        rss_kib=rss_kib,
        count={},
        status=proc.returncode,
        cut_off=cut_off.is_set(),
    )


def count_ss(data):
    total = listen = 0
    for line in data.split(b"\n"):
        if not line or line.startswith(b"State"):
            continue
        total += 1
        if line.startswith(b"LISTEN"):
            listen += 1
    return {"all": total, "nonlisten": total - listen}


def count_proc_tcp(data):
    rows = 0
    for line in data.split(b"\n"):
        stripped = line.lstrip()
        if stripped and not stripped.startswith(b"sl "):
            rows += 1
    return {"all": rows}


def count_lines(data):
    return {"lines": data.count(b"\n")}


def count_summary(data):
    """Sum of the groups' "count" in the JSON Lines summary, in all and in the bench pods."""
    total = bench = 0
    named = False
    for line in data.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            return {}
        value = row.get("count") if isinstance(row, dict) else None
        if not isinstance(value, int):
            return {}
        total += value
        named = named or "namespace" in row
        if row.get("namespace") == K8S_NAMESPACE:
            bench += value
    return {"nonlisten": total, "bench": bench} if named else {"nonlisten": total}


BENCH_ROW = f'"namespace":"{K8S_NAMESPACE}"'.encode()


def count_json_lines(data):
    """Rows of `--format json`; of those, the bench pods' and the ones naming a container."""
    counts = {"nonlisten": data.count(b"\n")}
    if b'"namespace":' not in data:
        return counts
    counts["bench"] = data.count(BENCH_ROW)
    if counts["bench"]:
        counts["bench_in_container"] = sum(
            1 for line in data.split(b"\n")
            if BENCH_ROW in line and b'"container":null' not in line)
    return counts


SS_IN_EVERY_NETNS = (
    'lsns -t net -n -o NS,PID | while read -r ns pid; do nsenter -t "$pid" -n ss {flags}; done'
)
RAW_TCP = (
    "lsns -t net -n -o PID"
    " | awk '{print \"/proc/\" $1 \"/net/tcp\"; print \"/proc/\" $1 \"/net/tcp6\"}'"
    " | xargs cat"
)
# find exits 1 when a process vanishes mid-walk; that is not a failure here.
RAW_FD = "find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -lname 'socket:*' 2>/dev/null || true"


def count_ports(data):
    """Rows of `--ports --format json`, and the in_use of the SNAT rows of the bench's NAT."""
    rows = snat = 0
    for line in data.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            return {}
        if not isinstance(row, dict):
            return {}
        rows += 1
        if row.get("scope") == "snat" and row.get("src_addr") == NAT_ADDR and isinstance(row.get("in_use"), int):
            snat += row["in_use"]
    return {"rows": rows, "snat": snat}


def count_conntrack(data):
    """Lines of `conntrack -L`, and of those the entries NATed to the bench's NAT address (the
    table also holds an IGMP report or two of the node's bridge)."""
    nat = f" dst={NAT_ADDR} ".encode()
    return {"lines": data.count(b"\n"), "snat": sum(1 for line in data.split(b"\n") if nat in line)}


def cnetstat_features(binary):
    try:
        out = subprocess.run(
            [binary, "--help"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out


def build_tools(binary, baseline, workdir, snat):
    helptext = cnetstat_features(binary)
    backends = ["proc", "netlink"] if "--backend" in helptext else [None]
    tools = [
        Tool("ss", "ss -tan, every netns", "ss -tan",
             ["bash", "-c", SS_IN_EVERY_NETNS.format(flags="-tan")], count_ss, "all"),
        Tool("raw_tcp", "raw: cat tcp+tcp6, every netns", "raw tcp",
             ["bash", "-c", RAW_TCP], count_proc_tcp, "all"),
        Tool("raw_fd", "raw: readlink /proc/*/fd/*", "raw fd",
             ["bash", "-c", RAW_FD], count_lines),
    ]
    for mode, args, counter in (
        ("json", ["--format", "json"], count_json_lines),
        ("summary", ["--summary", "--format", "json"], count_summary),
    ):
        for backend in backends:
            extra = ["--backend", backend] if backend else []
            label = f"cnetstat --{'format json' if mode == 'json' else mode}"
            if backend:
                label += f" --backend {backend}"
            tools.append(Tool(f"{mode}_{backend}", label, f"{mode} {backend or ''}".strip(),
                              [binary, *args, *extra], counter, "nonlisten", strict=True))
    if "--record" in helptext:
        tools.append(Tool("record", "cnetstat --format json --record FILE", "json record",
                          [binary, "--format", "json", "--record",
                           os.path.join(workdir, "recorded.json")],
                          count_json_lines, "nonlisten", strict=True))
        tools.append(Tool("replay", "cnetstat --replay FILE --format json", "json replay",
                          [binary, "--replay", replay_source(workdir), "--format", "json"],
                          count_json_lines, "nonlisten", strict=True))
    if baseline:
        for mode, args, counter in (
            ("json", ["--format", "json"], count_json_lines),
            ("summary", ["--summary", "--format", "json"], count_summary),
        ):
            tools.append(Tool(f"baseline_{mode}", f"baseline --{'format json' if mode == 'json' else mode}",
                              f"{mode} baseline", [baseline, *args], counter, "nonlisten",
                              strict=True))
    tools.append(Tool("ports", "cnetstat --ports --format json", "ports json",
                      [binary, "--ports", "--format", "json"], count_ports, strict=True,
                      available="--ports" in helptext, note="this binary has no --ports"))
    if snat:
        conntrack = f"nsenter --net={os.path.join(NETNS_DIR, NAT_NETNS)} conntrack -L"
        tools.append(Tool("conntrack", f"conntrack -L in {NAT_NETNS}", "conntrack -L",
                          ["bash", "-c", conntrack], count_conntrack))
    tanp = Tool("ss_p", "ss -tanp, every netns (once)", "ss -tanp",
                ["bash", "-c", SS_IN_EVERY_NETNS.format(flags="-tanp")], count_ss, "all")
    return tools, tanp


def replay_source(workdir):
    return os.path.join(workdir, "replay-source.json")


def record_replay_source(binary, workdir):
    """The recording the replay tool reads, made once per TIME_WAIT window so that it holds
    the same sockets as the live tools see in that window."""
    if "--record" not in cnetstat_features(binary):
        return
    subprocess.run([binary, "--record", replay_source(workdir), "--format", "json"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def execute(tool, workdir, timeout=None):
    out = os.path.join(workdir, tool.key + ".out")
    err = os.path.join(workdir, tool.key + ".err")
    run = run_measured(tool.argv, out, err, timeout)
    with open(out, "rb") as f:
        run.count = tool.counter(f.read())
    if tool.strict and run.status != 0:
        with open(err, "rb") as f:
            tail = f.read()[-300:].decode(errors="replace").strip()
        log(f"  {tool.label}: exit status {run.status}: {tail}")
    return run


def check_snat(tool, run, load, where, tally):
    """--ports's SNAT rows and conntrack -L against the entries the load made."""
    if load is None or run.cut_off or (tool.strict and run.status):
        return
    got = run.count.get("snat")
    if got is not None and got != load.entries:
        log(f"  MISMATCH {where}: {tool.label} saw {got} SNAT entries, the load made {load.entries}")
        tally["snat"] += 1


def check_counts(tool, run, reference, window, where, tally):
    """Compare one run with ss -tan's counts from the same round, and its count of the bench
    pods' sockets with what the pods made; tally the MISMATCHes by kind."""
    if tool.expect is None or not reference or run.cut_off or (tool.strict and run.status):
        return
    got = run.count.get(tool.expect)
    want = reference.get(tool.expect)
    what = "sockets" if tool.expect == "all" else "non-LISTEN sockets"
    bench = run.count.get("bench")
    if bench is not None and bench != window.bench_nonlisten:
        log(f"  MISMATCH {where}: {tool.label} saw {bench} {what} in the bench pods, "
            f"which hold {window.bench_nonlisten}")
        tally["bench"] += 1
    if got is not None and got != want:
        exact = " (bench pods exact)" if bench == window.bench_nonlisten else ""
        log(f"  MISMATCH {where}: {tool.label} saw {got} {what}, ss -tan saw {want}{exact}")
        tally["total"] += 1


def describe_checks(tally, ss_totals):
    parts = []
    if tally.get("snat"):
        parts.append(f"{tally['snat']} SNAT count MISMATCH(ES)")
    if tally["bench"]:
        parts.append(f"{tally['bench']} MISMATCH(ES) in the bench pods")
    if tally["total"]:
        spread = ""
        if min(ss_totals) != max(ss_totals):
            spread = (f"; ss -tan itself saw {min(ss_totals)}..{max(ss_totals)} across rounds, "
                      "so other namespaces on this node changed meanwhile")
        parts.append(f"{tally['total']} total(s) differing from ss -tan{spread}")
    return "; ".join(parts) or "every count equal to ss -tan's"


# ---------------------------------------------------------------- one size


def fmt_s(seconds):
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def netns_seen_by_ss(workdir):
    """Namespaces in the last ss -tan output: ss prints one header per invocation."""
    with open(os.path.join(workdir, "ss.out"), "rb") as f:
        return sum(1 for line in f if line.startswith(b"State"))


def measure_size(pods, tools, tanp, reps, tanp_cap, workdir, binary, load):
    window = Window(pods, None)
    record_replay_source(binary, workdir)
    log(f"  {window.time_waits} TIME_WAIT made in {window.made_in:.1f} s")
    windows = 1
    tally = {"bench": 0, "total": 0, "snat": 0}
    active = [tool for tool in tools if tool.available]
    ss_totals = []
    round_estimate = None
    rnd = 0
    while rnd <= reps:  # round 0 is the warm-up
        if round_estimate is not None and window.remaining() < round_estimate * 1.2:
            if round_estimate * 1.2 > TW_WINDOW_S - window.made_in:
                log("  note: one round is longer than a TIME_WAIT window; counts may drift")
            log(f"  waiting for the TIME_WAITs to expire (window {windows + 1})")
            window = Window(pods, window)
            record_replay_source(binary, workdir)
            windows += 1
        started = time.monotonic()
        order = active[rnd % len(active):] + active[: rnd % len(active)]
        runs = {tool.key: execute(tool, workdir) for tool in order}
        reference = runs["ss"].count
        ss_totals.append(reference["all"])
        where = "warm-up" if rnd == 0 else f"round {rnd}"
        for tool in active:
            check_counts(tool, runs[tool.key], reference, window, where, tally)
            if tool.key in ("ports", "conntrack"):
                check_snat(tool, runs[tool.key], load, where, tally)
        if rnd > 0:
            for tool in active:
                if tool.strict and runs[tool.key].status != 0:
                    tool.failures += 1
                else:
                    tool.runs.append(runs[tool.key])
        round_estimate = time.monotonic() - started
        rnd += 1

    tanp_note = "skipped (--tanp-cap 0)"
    if tanp_cap > 0:
        ns_count = netns_seen_by_ss(workdir)
        ss = statistics.median(r.wall for r in tools[0].runs)
        fd = statistics.median(r.wall for r in tools[2].runs)
        # ss -p readlinks every fd on the node once per namespace.
        estimate = ss + ns_count * fd
        if estimate > tanp_cap:
            tanp_note = f"skipped: estimated {estimate:.0f} s > --tanp-cap {tanp_cap:.0f} s"
        else:
            if window.remaining() < estimate * 1.5 + 5:
                log(f"  waiting for the TIME_WAITs to expire (window {windows + 1}, ss -tanp)")
                window = Window(pods, window)
                windows += 1
            reference = execute(tools[0], workdir).count
            run = execute(tanp, workdir, timeout=min(tanp_cap, max(window.remaining(), 1)))
            tanp.runs.append(run)
            check_counts(tanp, run, reference, window, "ss -tanp run", tally)
            tanp_note = "cut off" if run.cut_off else "ran once"
    return windows, describe_checks(tally, ss_totals), tanp_note


# ---------------------------------------------------------------- report


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


def peak_rss(runs):
    known = [r.rss_kib for r in runs if r.rss_kib is not None]
    return max(known) if known else None


def print_size_table(title, tools, tanp, tanp_note, held_by_processes):
    ss_median = statistics.median(r.wall for r in tools[0].runs)
    raw_median = sum(statistics.median(r.wall for r in t.runs) for t in tools[1:3])
    raw_min = sum(min(r.wall for r in t.runs) for t in tools[1:3])
    rows = []
    for tool in tools[:3] + [None] + tools[3:] + [tanp]:
        if tool is None:
            rows.append(("raw: both (sum of the two above)", fmt_s(raw_median), fmt_s(raw_min),
                         f"{raw_median / ss_median:.2f}", "1.00", "", "", "", ""))
            continue
        if not tool.runs:
            note = tanp_note if tool is tanp else f"FAILED in all {tool.failures} rounds"
            if not tool.available:
                note = f"n/a ({tool.note})"
            rows.append((tool.label, note, "", "", "", "", "", "", ""))
            continue
        walls = [r.wall for r in tool.runs]
        med = statistics.median(walls)
        cut = any(r.cut_off for r in tool.runs)
        med_s = (">" if cut else "") + fmt_s(med)
        cpu = statistics.median(r.cpu for r in tool.runs)
        sys_share = statistics.median(r.sys_cpu / r.cpu if r.cpu else 0 for r in tool.runs)
        last = tool.runs[-1].count
        seen = last.get("all", last.get("nonlisten", last.get("lines", "")))
        if tool.key == "raw_fd":
            seen = f"{seen} fds"
        elif tool.key == "ports":
            seen = f"{last.get('snat', '?')} SNAT in {last.get('rows', '?')} rows"
        elif tool.key == "conntrack":
            seen = f"{last.get('lines', '?')} entries, {last.get('snat', '?')} SNAT"
        elif tool.expect == "nonlisten" and seen != "":
            seen = f"{seen} (no LISTEN)"
        rows.append((
            tool.label + (" CUT OFF" if cut else "")
            + (f" ({tool.failures} runs FAILED)" if tool.failures else ""),
            med_s,
            fmt_s(min(walls)) if len(walls) > 1 else "-",
            f"{med / ss_median:.2f}",
            f"{med / raw_median:.2f}",
            mib(peak_rss(tool.runs)),
            f"{cpu:.2f}",
            f"{sys_share * 100:.0f}%",
            str(seen),
        ))
    head = ("tool", "median s", "min s", "x ss-tan", "x raw", "peak RSS MiB", "CPU s",
            "sys", "sockets seen")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    log("")
    log(title)
    for r in [head] + rows:
        log("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))))
    print_attribution(tools, held_by_processes)
    print_ports_line(tools)


def reference_s(tools):
    """What the issue compares --ports with: ss -tan in every netns plus conntrack -L in
    the NAT namespace, as the sum of their medians; None without the SNAT load."""
    by_key = {t.key: t for t in tools}
    parts = [by_key.get("ss"), by_key.get("conntrack")]
    if not all(t and t.runs for t in parts):
        return None
    return sum(statistics.median(r.wall for r in t.runs) for t in parts)


def print_ports_line(tools):
    ports = next((t for t in tools if t.key == "ports"), None)
    if not ports or not ports.runs:
        return
    med = statistics.median(r.wall for r in ports.runs)
    line = f"  cnetstat --ports --format json: median {fmt_s(med)} s, peak RSS {mib(peak_rss(ports.runs))} MiB"
    ref = reference_s(tools)
    if ref:
        verdict = "within" if med <= ref else "OVER"
        line += (f"; ss -tan in every netns + conntrack -L: {fmt_s(ref)} s (sum of medians); "
                 f"{med / ref:.2f}x, {verdict} the reference")
    log(line)


def print_attribution(tools, held_by_processes):
    """How many bench-pod rows cnetstat tied to a container: every ESTABLISHED end is held by
    a server or client process; TIME_WAITs have no process (inode 0) and only a pod."""
    for tool in tools:
        counts = tool.runs[-1].count if tool.runs else {}
        if "bench_in_container" not in counts:
            continue
        got = counts["bench_in_container"]
        verdict = "ok" if got == held_by_processes else "MISMATCH"
        log(f"  {tool.label}: {got} of {counts['bench']} bench-pod rows name a container; "
            f"the pods' processes hold {held_by_processes}: {verdict}")


def print_summary(results):
    """One markdown table over all sizes: the cost curve (median wall seconds)."""
    if not results:
        return
    labels = [t.short for t in results[0]["tools"]] + [results[0]["tanp"].short]
    log("")
    log("Summary: median wall seconds (and x ss -tan in every netns); cnetstat's peak RSS "
        "in MiB. Markdown for the README:")
    head = ["pods x sockets", "netns", "sockets", "SNAT entries"] + labels + ["cnetstat peak RSS",
                                                                              "--ports peak RSS"]
    log("| " + " | ".join(head) + " |")
    log("|" + "---|" * len(head))
    for res in results:
        cells = [res["size"], str(res["netns"]), str(res["sockets"]), str(res["snat"])]
        ss_median = statistics.median(r.wall for r in res["tools"][0].runs)
        ref = reference_s(res["tools"])
        for tool in res["tools"] + [res["tanp"]]:
            if tool.runs:
                med = statistics.median(r.wall for r in tool.runs)
                cut = any(r.cut_off for r in tool.runs)
                ratio = f" ({med / ss_median:.2f}x)" if tool.key != "ss" else ""
                if tool.key == "ports" and ref:
                    ratio = f" ({med / ref:.2f}x ss+conntrack)"
                cells.append((">" if cut else "") + fmt_s(med) + ratio)
            else:
                cells.append("n/a" if not tool.available else "-")
        cells.append(mib(peak_rss([r for t in res["tools"]
                                   if t.key.startswith(("json", "summary", "record", "replay"))
                                   for r in t.runs])))
        ports = next((t for t in res["tools"] if t.key == "ports"), None)
        cells.append(mib(peak_rss(ports.runs)) if ports and ports.runs else "n/a")
        log("| " + " | ".join(cells) + " |")


# ---------------------------------------------------------------- main


# ---------------------------------------------------------------- watch


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid):
    """User + system seconds of a process (its threads included), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def one_shot_cpu(binary, workdir, reps):
    """Median CPU and wall seconds of the full listing, the cost a tick is measured against."""
    runs = [run_measured([binary, "--format", "json"], os.path.join(workdir, "oneshot.out"),
                         os.path.join(workdir, "oneshot.err")) for _ in range(reps)]
    return statistics.median(r.cpu for r in runs), statistics.median(r.wall for r in runs)


def watch_run(binary, interval, ticks, workdir, rss_at=()):
    """Runs `cnetstat --watch INTERVAL --format json` for `ticks` ticks; gives its CPU seconds
    per tick (from the third tick on: the first collection reads everything, and the second
    has the first rates), and its RSS in KiB at each of `rss_at` seconds after it started."""
    err = open(os.path.join(workdir, "watch.err"), "w")
    proc = subprocess.Popen([binary, "--watch", str(interval), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    RUNNING[proc.pid] = proc
    started = time.monotonic()
    rss = {}

    def sample_rss():
        for at in rss_at:
            time.sleep(max(0.0, started + at - time.monotonic()))
            if proc.poll() is not None:
                return
            rss[at] = process_rss_kib(proc.pid)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    samples = []
    last_ts = None
    try:
        for line in proc.stdout:
            ts = json.loads(line).get("ts")
            if ts != last_ts:
                last_ts = ts
                samples.append(process_cpu_s(proc.pid))
                if len(samples) > ticks:
                    break
        sampler.join()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        RUNNING.pop(proc.pid, None)
        err.close()
    # samples[k] is the CPU when tick k+1 (the k+2nd collection) was printed.
    measured = samples[2:]
    if len(measured) < 2:
        sys.exit(f"--watch printed {len(samples)} ticks; see {err.name}")
    per_tick = (measured[-1] - measured[0]) / (len(measured) - 1)
    return per_tick, rss


def measure_watch(binary, pod_count, per_pod, interval, churn_rate, churning, minutes, workdir):
    """Pods that hold ESTABLISHED connections, some of them churning: CPU per tick of
    --watch against the one-shot listing's CPU on the same sockets, and RSS over time."""
    log("")
    log(f"== --watch {interval}: {pod_count} pods x {per_pod} sockets ==")
    pairs = (per_pod - 1) // 2
    pods = start_pods_holding(pod_count, pairs, 0, workdir)
    results = []
    try:
        for pod in pods:
            pod.expect("ready")
        log(f"  each pod holds {2 * pairs} ESTABLISHED and a listener; a churning pod opens and "
            f"closes {churn_rate} connections a second to itself, each leaving a TIME_WAIT")
        churned = 0
        for count in churning:
            for pod in pods[churned:count]:
                pod.send(f"churn {churn_rate}")
                pod.expect("churn")
            churned = count
            # TIME_WAITs build up for a minute; tick costs are measured once they are a few
            # seconds old, the one-shot listing around the ticks on the same sockets.
            time.sleep(10)
            rss_at = (60, 60 * minutes) if count == pod_count and minutes else ()
            ticks = max(15, int(60 * minutes / interval)) if rss_at else 15
            before, wall = one_shot_cpu(binary, workdir, 3)
            per_tick, rss = watch_run(binary, interval, ticks, workdir, rss_at)
            after, _ = one_shot_cpu(binary, workdir, 3)
            one_shot = statistics.median([before, after])
            sockets = sum(sum(v for k, v in p.tcp_counters().items() if k in ("inuse", "tw"))
                          for p in pods)
            line = (f"  {count} of {pod_count} pods churning ({count * churn_rate} connections/s on the "
                    f"node, {sockets} sockets in the pods): one-shot listing {one_shot:.3f} s CPU "
                    f"({wall:.3f} s wall); --watch {interval}: {per_tick:.3f} s CPU a tick, "
                    f"{per_tick / one_shot:.2f}x the one-shot")
            log(line)
            results.append((count, per_tick / one_shot))
            if rss_at:
                first, last = rss.get(rss_at[0]), rss.get(rss_at[1])
                growth = (last - first) / first if first and last else None
                log(f"  RSS of --watch: {mib(first)} MiB after 1 minute, {mib(last)} MiB after "
                    f"{minutes} minutes ({'n/a' if growth is None else f'{growth:+.1%}'})")
    finally:
        clean_node(pods)
    return results


def parse_sizes(text):
    sizes = []
    for item in filter(None, text.split(",")):
        pods, _, sockets = item.partition("x")
        if not (pods.isdigit() and sockets.isdigit()) or int(pods) < 1:
            sys.exit(f"bad size '{item}': want PODSxSOCKETS, e.g. 50x2000")
        sizes.append((int(pods), int(sockets)))
    return sizes


def main():
    ap = argparse.ArgumentParser(
        description="Benchmark cnetstat against ss on a generated busy-node load (root only).",
        epilog="See the module docstring of bench/run.py for what is measured.",
    )
    ap.add_argument("binary", nargs="?", help="the cnetstat binary to measure")
    ap.add_argument("--sizes", default="10x1000,50x1000,50x2000,100x1000",
                    help="comma-separated PODSxSOCKETS_PER_POD; empty: none (default %(default)s)")
    ap.add_argument("--reps", type=int, default=5, help="timed rounds per size (default 5)")
    ap.add_argument("--tanp-cap", type=float, default=50,
                    help="run ss -tanp only where it is expected to take at most this many "
                    "seconds, and kill it then; 0 skips it (default %(default)s)")
    ap.add_argument("--established-share", type=float, default=0.5,
                    help="share of each pod's sockets that are ESTABLISHED; the rest but "
                    "the listener are TIME_WAIT (default %(default)s)")
    ap.add_argument("--baseline", help="another cnetstat binary (an earlier release) to time "
                    "side by side with BINARY")
    ap.add_argument("--snat-entries", type=int, default=50000,
                    help="SRC_NAT conntrack entries the pods make through the node's NAT "
                    "namespace for each size; 0 turns the SNAT load off (default %(default)s)")
    ap.add_argument("--watch-size", default="50x2000",
                    help="PODSxSOCKETS_PER_POD for the --watch measurement; 0 skips it "
                    "(default %(default)s)")
    ap.add_argument("--churn-rate", type=int, default=10,
                    help="connections a second each churning pod opens (default %(default)s)")
    ap.add_argument("--watch-minutes", type=float, default=10,
                    help="how long --watch runs with every pod churning, for its RSS over time; "
                    "0 skips that (default %(default)s)")
    ap.add_argument("--clean", action="store_true", help="only remove leftovers and exit")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("bench/run.py needs root: it creates network namespaces and cgroups and "
                 "reads every process's sockets. Run it with sudo.")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        sys.exit(f"missing commands: {' '.join(missing)}")
    if not args.clean:
        if not args.binary or not os.access(args.binary, os.X_OK):
            sys.exit(f"not an executable cnetstat binary: {args.binary}")
        sizes = parse_sizes(args.sizes)
        if args.reps < 1:
            sys.exit("--reps must be at least 1")
        binary = os.path.abspath(args.binary)
        baseline_binary = os.path.abspath(args.baseline) if args.baseline else None
        if baseline_binary and not os.access(baseline_binary, os.X_OK):
            sys.exit(f"not an executable baseline binary: {args.baseline}")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    clean_node()
    # Output files of a killed run (this run's own directory is made below).
    for old in glob.glob(os.path.join(WORK_PARENT, PREFIX + "*")):
        shutil.rmtree(old, ignore_errors=True)
    if args.clean:
        return
    version = subprocess.run([binary, "--version"], capture_output=True, text=True)
    log(f"cnetstat benchmark: {binary} ({version.stdout.strip() or 'no --version'})")
    with open("/proc/sys/net/ipv4/tcp_ehash_entries") as f:
        ehash = f.read().strip()
    log(f"{os.cpu_count()} CPUs, kernel {os.uname().release}, TCP ehash {ehash} buckets, "
        f"{subprocess.run(['ss', '-V'], capture_output=True, text=True).stdout.strip()}")
    log(f"{args.reps} timed rounds per size after a warm-up round, tools interleaved.")
    log("Columns: wall seconds; x ss-tan and x raw = median / median of `ss -tan` in every "
        "netns and of raw tcp + raw fd;")
    log("peak RSS of the largest process of the tool (GNU time %M); CPU s = user + system "
        "time of its process tree; sys = the kernel's share of that CPU time.")
    if not GNU_TIME:
        log("note: /usr/bin/time (Debian package `time`) is missing: no peak RSS.")

    workdir = tempfile.mkdtemp(prefix=PREFIX, dir=WORK_PARENT)
    results = []
    pods = []
    try:
        for pod_count, per_pod in sizes:
            baseline = kernel_tcp_objects()
            conntrack_baseline = kernel_slab_objects(CONNTRACK_SLABS)
            snat = args.snat_entries > 0 and all(shutil.which(t) for t in SNAT_TOOLS)
            tools, tanp = build_tools(binary, baseline_binary, workdir, snat)
            log("")
            log(f"== {pod_count} pods x {per_pod} sockets ==")
            t0 = time.monotonic()
            pods = start_pods(pod_count, per_pod, args.established_share, workdir)
            for pod in pods:
                pod.expect("ready")
            p = pods[0]
            log(f"  {pod_count} netns, {3 * pod_count} processes, {2 * p.established} "
                f"ESTABLISHED + 1 LISTEN held per pod, ready in {time.monotonic() - t0:.1f} s")
            load = start_snat_load(pods, args.snat_entries, workdir)
            windows, checks, tanp_note = measure_size(
                pods, tools, tanp, args.reps, args.tanp_cap, workdir, binary, load)
            ss_last = tools[0].runs[-1].count
            netns = netns_seen_by_ss(workdir)
            title = (f"{pod_count} pods x {per_pod} sockets: ss -tan saw {ss_last['all']} "
                     f"sockets in {netns} netns (with the host's and any others); {windows} TIME_WAIT "
                     f"window(s); {checks}")
            print_size_table(title, tools, tanp, tanp_note,
                             sum(2 * pod.established for pod in pods))
            results.append({"size": f"{pod_count} x {per_pod}", "netns": netns,
                            "sockets": ss_last["all"], "tools": tools, "tanp": tanp,
                            "snat": load.entries if load else 0})
            log("  tearing down")
            clean_node(pods)
            pods = []
            wait_kernel_sockets_freed(baseline, conntrack_baseline)
        if results:
            print_summary(results)
        if args.watch_size != "0":
            [(pod_count, per_pod)] = parse_sizes(args.watch_size)
            churning = sorted({min(5, pod_count), pod_count})
            measure_watch(binary, pod_count, per_pod, 2, args.churn_rate, churning,
                          args.watch_minutes, workdir)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return_code = 130
    else:
        return_code = 0
    finally:
        for proc in list(RUNNING.values()):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        clean_node(pods)
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(return_code)


if __name__ == "__main__":
    main()
