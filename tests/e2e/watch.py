"""--watch end to end: pods in namespaces of their own behind a "node"
namespace, a "remote" namespace serving them, and generators in the pods'
containers that count their own connections (watchgen.py); cnetstat's rates
are checked against those counts, its TIME_WAIT owners against what each
generator made, the terminal view in tmux, and cgroup attribution with a real
Docker container whose files cnetstat cannot read.

```text
 pod A 198.18.72.2  churn (RATE_A/s to REMOTE:8080) + hold (HOLD long ones to REMOTE:8080)
 pod B 198.18.72.3  churn (RATE_B1/s to REMOTE:9090) + api (RATE_B2/s to REMOTE:8080)   ─ bridge [node] ── remote 198.18.73.2
```

A pod is named as the kubelet names it on disk (/var/log/pods/<ns>_<pod>_<uid>,
/var/log/containers/<pod>_<ns>_<container>-<id>.log) and its processes sit in
kubelet-shaped cgroups /kubepods/besteffort/pod<uid>/<id> in every hierarchy,
the v2 one included, so their sockets' cgroup ids name their containers too.
Addresses are in 198.18.0.0/15, inside namespaces this module makes; the
machine's own namespace gets no link, address or route. Everything is named
with sysenv's PREFIX and HEX_MARK, so the suite's clean-up finds leftovers.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime

from checks import run_cnetstat
from sysenv import HEX_MARK, IMAGE, PREFIX, CommandError, cgroup_mounts, run

GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "watchgen.py")
K8S_NAMESPACE = PREFIX + "watch"
LOG_PODS = "/var/log/pods"
LOG_CONTAINERS = "/var/log/containers"
REMOTE = "198.18.73.2"
RATE_A = 60.0
RATE_B1 = 90.0
RATE_B2 = 20.0
HOLD = 8
# A held connection lives HOLD * HOLD_EVERY seconds: many ticks.
HOLD_EVERY = 1.0
TICK_S = 1
TICKS = 6
# Rates within 10% of what the generators counted over the same window.
TOLERANCE = 0.10
# A connection made within this of a tick's read may be counted in the
# tick before or after it.
EDGE_S = 0.25
WATCH_KEYS = [
    "ts", "interval_s", "netns", "namespace", "pod", "container", "attribution", "proto",
    "direction", "remote_addr", "remote_port", "local_port", "new_per_s", "closed_per_s",
    "failed_per_s", "established", "time_wait",
]
PORTS_KEYS = [
    "scope", "netns", "zone", "namespace", "pod", "container", "proto", "src_addr", "dst_addr",
    "dst_port", "in_use", "available", "used_pct", "states", "next_free_s", "sources", "entries",
    "max", "insert_failed", "drop", "early_drop", "remote_kind", "remote_namespace",
    "remote_name", "remote_endpoints",
]


def marked(n):
    return HEX_MARK + os.urandom(32).hex()[: n - len(HEX_MARK)]


def pod_uid():
    h = marked(32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def epoch(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


class Pod:
    def __init__(self, node, name, addr, containers):
        self.name = f"{name}-{os.getpid()}"
        self.uid = pod_uid()
        self.addr = addr
        self.netns_name = f"{PREFIX}w-{name}"
        self.netns_file = f"/run/netns/{self.netns_name}"
        self.containers = {c: marked(64) for c in containers}
        self.netns = 0
        self.node = node

    def cgroup_dirs(self, container):
        dirs = []
        for mount in cgroup_mounts():
            path = mount
            for part in ("kubepods", "besteffort", f"pod{self.uid}", self.containers[container]):
                parent, path = path, os.path.join(path, part)
                if not os.path.isdir(path):
                    os.mkdir(path)
                    # The QoS levels may hold other runs' pods by then.
                    shared = part in ("kubepods", "besteffort")
                    self.node.cleanup.push(f"cgroup {path}", lambda p=path, s=shared: rmdir_when_empty(p, s))
                    # A new cpuset needs its cpus and memory nodes before tasks.
                    for knob in ("cpuset.cpus", "cpuset.mems"):
                        if os.path.exists(os.path.join(path, knob)):
                            with open(os.path.join(parent, knob)) as src:
                                value = src.read().strip()
                            if value:
                                with open(os.path.join(path, knob), "w") as dst:
                                    dst.write(value)
            dirs.append(path)
        return dirs

    def name_on_disk(self):
        """The kubelet's log directories, which name pods and containers."""
        pod_dir = os.path.join(LOG_PODS, f"{K8S_NAMESPACE}_{self.name}_{self.uid}")
        os.makedirs(LOG_CONTAINERS, exist_ok=True)
        self.node.cleanup.push(f"log dir {pod_dir}", lambda: shutil.rmtree(pod_dir, ignore_errors=True))
        for container, cid in self.containers.items():
            os.makedirs(os.path.join(pod_dir, container), exist_ok=True)
            log_file = os.path.join(pod_dir, container, "0.log")
            open(log_file, "a").close()
            link = os.path.join(LOG_CONTAINERS, f"{self.name}_{K8S_NAMESPACE}_{container}-{cid}.log")
            os.symlink(log_file, link)
            self.node.cleanup.push(f"log link {link}", lambda l=link: os.unlink(l))


def rmdir_when_empty(path, shared):
    """rmdir, waiting a little for the tasks of a cgroup that are still
    exiting; a shared level is left where it still holds something."""
    deadline = time.monotonic() + 10
    while os.path.isdir(path):
        try:
            os.rmdir(path)
        except OSError:
            if shared:
                return
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class WatchNode:
    def __init__(self, cleanup, workdir):
        self.cleanup = cleanup
        self.workdir = os.path.join(workdir, "watch")
        os.mkdir(self.workdir)
        # Generators run as work-dir paths, so the suite's sweep of marked
        # host processes finds any a killed run left.
        self.python = os.path.join(self.workdir, "python3")
        os.symlink(sys.executable, self.python)
        self.procs = []
        self.node = f"{PREFIX}w-node"
        self.remote = f"{PREFIX}w-remote"
        self.idle = f"{PREFIX}w-idle"
        self.pods = {
            "a": Pod(self, "rate-a", "198.18.72.2", ["churn", "hold"]),
            "b": Pod(self, "rate-b", "198.18.72.3", ["churn", "api"]),
        }

    def netns(self, name):
        run(["ip", "netns", "add", name])
        self.cleanup.push(f"netns {name}", lambda: run(["ip", "netns", "delete", name], check=False))
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def build(self):
        ip = lambda *args: run(["ip"] + list(args))  # noqa: E731
        # A namespace whose counters never move, with a process in it,
        # started first: its table is taken from tick to tick, and the
        # namespaces read after it must still get their own counters.
        self.netns(self.idle)
        self.start("serve", f"/run/netns/{self.idle}", [], "--listen", "127.0.0.1:7070")
        for name in (self.node, self.remote):
            self.netns(name)
        run(["ip", "netns", "exec", self.node, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        ip("-n", self.node, "link", "add", "cnwbr", "type", "bridge")
        ip("-n", self.node, "addr", "add", "198.18.72.1/24", "dev", "cnwbr")
        ip("-n", self.node, "link", "set", "cnwbr", "up")
        ip("link", "add", "cnwup", "netns", self.node, "type", "veth", "peer", "name", "eth0", "netns", self.remote)
        ip("-n", self.node, "addr", "add", "198.18.73.1/30", "dev", "cnwup")
        ip("-n", self.node, "link", "set", "cnwup", "up")
        ip("-n", self.remote, "addr", "add", f"{REMOTE}/30", "dev", "eth0")
        ip("-n", self.remote, "link", "set", "eth0", "up")
        ip("-n", self.remote, "route", "add", "198.18.72.0/24", "via", "198.18.73.1")
        for key, pod in self.pods.items():
            self.netns(pod.netns_name)
            pod.netns = os.stat(pod.netns_file).st_ino
            ip("link", "add", f"cnw{key}", "netns", self.node, "type", "veth", "peer", "name", "eth0",
               "netns", pod.netns_name)
            ip("-n", self.node, "link", "set", f"cnw{key}", "master", "cnwbr", "up")
            ip("-n", pod.netns_name, "addr", "add", f"{pod.addr}/24", "dev", "eth0")
            ip("-n", pod.netns_name, "link", "set", "eth0", "up")
            ip("-n", pod.netns_name, "route", "add", "default", "via", "198.18.72.1")
            pod.name_on_disk()
        self.start("serve", f"/run/netns/{self.remote}", [], "--listen", f"{REMOTE}:8080,{REMOTE}:9090")

    def start(self, mode, netns_file, cgroups, *args):
        argv = [self.python, GEN, mode, "--netns", netns_file, "--cgroups", ":".join(cgroups)] + list(args)
        err = open(os.path.join(self.workdir, f"{mode}-{len(self.procs)}.err"), "w")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True)
        self.procs.append(proc)
        self.cleanup.push(f"{mode} generator", lambda: (proc.kill(), proc.wait()))
        if proc.stdout.readline().strip() != "ready":
            with open(err.name) as f:
                raise CommandError(f"watchgen {mode}: {f.read().strip()[:500]}")
        return proc

    def generate(self, key, container, mode, *args):
        pod = self.pods[key]
        log = os.path.join(self.workdir, f"{key}-{container}.log")
        self.start(mode, pod.netns_file, pod.cgroup_dirs(container), "--log", log, *args)
        return log


def read_log(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def ticks_of(rows):
    """JSON rows by tick, in order: [(ts, [rows])]."""
    by_ts = {}
    for row in rows:
        by_ts.setdefault(row.get("ts"), []).append(row)
    return sorted(by_ts.items(), key=lambda item: epoch(item[0]))


def made_in(times, start, end):
    return sum(1 for t in times if start < t <= end)


def within(got, want, tolerance=TOLERANCE):
    return abs(got - want) <= tolerance * want


class WatchE2E:
    def __init__(self, binary, report, fx):
        self.binary = binary
        self.report = report
        self.fx = fx
        self.node = WatchNode(fx.cleanup, fx.workdir)

    def run_all(self):
        self.node.build()
        logs = {
            "a-churn": self.node.generate("a", "churn", "churn", "--to", f"{REMOTE}:8080", "--rate", str(RATE_A)),
            "a-hold": self.node.generate("a", "hold", "hold", "--to", f"{REMOTE}:8080", "--count", str(HOLD),
                                         "--every", str(HOLD_EVERY)),
            "b-churn": self.node.generate("b", "churn", "churn", "--to", f"{REMOTE}:9090", "--rate", str(RATE_B1)),
            "b-api": self.node.generate("b", "api", "churn", "--to", f"{REMOTE}:8080", "--rate", str(RATE_B2)),
        }
        time.sleep(2)
        self.rates_and_owners(logs)
        self.ports(logs)
        self.terminal()
        self.cgroup_without_ptrace()

    # ---- rates and owners ----

    def rates_and_owners(self, logs):
        recording = os.path.join(self.node.workdir, "watch.jsonl")
        argv = [self.binary, "--watch", str(TICK_S), "--count", str(TICKS), "--format", "json", "--record", recording]
        result = run_cnetstat(argv, timeout=60)
        problems = [] if result.returncode == 0 else [result.describe()]
        problems += [f"not JSON: {line[:200]}" for line in result.bad_lines]
        problems += [f"keys {list(r)}" for r in result.rows if list(r) != WATCH_KEYS][:3]
        ticks = ticks_of(result.rows)
        if len(ticks) != TICKS:
            problems.append(f"expected {TICKS} ticks, got {len(ticks)}")
        self.report.check(f"--watch {TICK_S} --count {TICKS} --format json: a tick a second, the documented keys",
                          problems)
        if not ticks:
            return
        pods = self.node.pods
        made = {name: [float(t) for t, outcome in read_log(path) if outcome == "ok"]
                for name, path in logs.items() if "hold" not in name}
        hold = read_log(logs["a-hold"])
        made["a-hold"] = [float(t) for kind, t, _ in hold if kind == "open"]
        flows = {
            (pods["a"], None): ["a-churn", "a-hold"],
            (pods["b"], None): ["b-churn", "b-api"],
            (pods["a"], 8080): ["a-churn", "a-hold"],
            (pods["b"], 9090): ["b-churn"],
            (pods["b"], 8080): ["b-api"],
        }
        problems = []
        report_lines = []
        for (pod, port), sources in flows.items():
            what = f"{pod.name} to {REMOTE}:{port}" if port else f"{pod.name}, every destination"
            total_got = total_want = 0
            for ts, rows in ticks:
                mine = [r for r in rows if r["netns"] == pod.netns and r["direction"] == "out"
                        and (port is None or (r["remote_addr"], r["remote_port"]) == (REMOTE, port))]
                intervals = {r["interval_s"] for r in mine}
                if len(intervals) != 1 or any(r["new_per_s"] is None for r in mine):
                    problems.append(f"{what} at {ts}: rows without one interval and rates: {mine[:2]}")
                    continue
                interval = intervals.pop()
                end = epoch(ts)
                got = sum(r["new_per_s"] for r in mine) * interval
                want = sum(made_in(made[s], end - interval, end) for s in sources)
                total_got += got
                total_want += want
                edge = sum(made_in(made[s], end - EDGE_S, end + EDGE_S) for s in sources)
                if not within(got, want) and abs(got - want) > edge:
                    problems.append(f"{what}, tick at {ts}: {got / interval:.1f}/s, the generators "
                                    f"made {want / interval:.1f}/s over the same {interval} s")
            report_lines.append(f"{what}: {total_got:.0f} counted, {total_want} made")
            if not within(total_got, total_want):
                problems.append(f"{what}: {total_got:.0f} connections over {TICKS} ticks, generators made {total_want}")
        print("# " + "; ".join(report_lines), flush=True)
        self.report.check(f"--watch: per-pod and per-destination rates within {TOLERANCE:.0%} of the generators' "
                          f"own counts, tick by tick", problems)
        self.time_wait_owners(ticks, hold, made)
        replayed = run_cnetstat([self.binary, "--replay", recording, "--watch", "--format", "json"])
        problems = [] if replayed.returncode == 0 else [replayed.describe()]
        if replayed.stdout != result.stdout:
            problems.append(f"stdout differs: live {len(result.stdout)} bytes, replayed {len(replayed.stdout)}")
        with open(recording) as f:
            lines = sum(1 for _ in f)
        if lines != TICKS + 1:
            problems.append(f"the recording holds {lines} snapshots, expected {TICKS + 1}")
        self.report.check("--watch --record, then --replay --watch: the same rows byte for byte", problems)

    def time_wait_owners(self, ticks, hold, made):
        pod = self.node.pods["a"]
        first_ts, first_rows = ticks[0]
        interval = first_rows[0]["interval_s"]
        seen_from = epoch(first_ts) - interval  # the first snapshot, which has no rows
        last_ts, rows = ticks[-1]
        last = epoch(last_ts)
        closes = [float(t) for kind, t, _ in hold if kind == "close"]
        definite = made_in(closes, seen_from + EDGE_S, last - EDGE_S)
        unsure = made_in(closes, seen_from - EDGE_S, seen_from + EDGE_S) + made_in(closes, last - EDGE_S, last + EDGE_S)
        before_watch = made_in(closes, 0, seen_from - EDGE_S)

        def tw(container, attribution):
            return sum(r["time_wait"] for r in rows if r["netns"] == pod.netns and r["container"] == container
                       and r["attribution"] == attribution)

        problems = []
        held = sum(r["established"] for r in rows if r["netns"] == pod.netns and r["container"] == "hold")
        if held != HOLD:
            problems.append(f"hold: {held} ESTABLISHED in its rows, it holds {HOLD}")
        got = tw("hold", "history")
        if not definite <= got <= definite + unsure:
            problems.append(f"hold: {got} TIME_WAITs attributed to it by history; it closed {definite} "
                            f"connections seen alive (and {unsure} at a tick's edge)")
        if tw("hold", "netns") or tw("churn", "netns"):
            problems.append("rows with attribution netns name a container")
        churned = made_in(made["a-churn"], 0, last)
        caught = tw("churn", "history")
        if caught > 0.02 * churned + 2:
            problems.append(f"churn: {caught} of {churned} short connections attributed by history")
        pod_level = tw(None, "netns")
        want = churned - caught + before_watch
        if not within(pod_level, want, 0.02):
            problems.append(f"{pod.name}: {pod_level} TIME_WAITs at the pod level (netns), expected about {want}: "
                            f"{churned} short ones and {before_watch} the hold container closed before the watch")
        print(f"# TIME_WAITs of {pod.name} at the last tick: {got} history (hold), {caught} history (churn), "
              f"{pod_level} netns", flush=True)
        self.report.check("--watch: TIME_WAITs of connections seen alive carry their container (history), "
                          "short ones their pod (netns)", problems)

    # ---- --ports ----

    def ports(self, logs):
        pod = self.node.pods["b"]
        result = run_cnetstat([self.binary, "--watch", str(TICK_S), "--count", "3", "--ports", "--format", "json",
                               "--pod", pod.name], timeout=60)
        problems = [] if result.returncode == 0 else [result.describe()]
        keys = ["ts", "interval_s"] + PORTS_KEYS + ["new_per_s", "full_in_s", "max_rate_per_s"]
        problems += [f"keys {list(r)}" for r in result.rows if list(r) != keys][:3]
        made = [float(t) for t, outcome in read_log(logs["b-churn"]) if outcome == "ok"]
        ticks = ticks_of(result.rows)
        if len(ticks) != 3:
            problems.append(f"expected 3 ticks, got {len(ticks)}")
        for ts, rows in ticks:
            budget = [r for r in rows if r["scope"] == "netns" and r["netns"] == pod.netns
                      and (r["dst_addr"], r["dst_port"]) == (REMOTE, 9090)]
            if len(budget) != 1:
                problems.append(f"{ts}: expected one budget row to {REMOTE}:9090, got {len(budget)}")
                continue
            b = budget[0]
            end = epoch(ts)
            want = made_in(made, end - b["interval_s"], end)
            got = (b["new_per_s"] or 0) * b["interval_s"]
            if not within(got, want) and abs(got - want) > made_in(made, end - EDGE_S, end + EDGE_S):
                problems.append(f"{ts}: {b['new_per_s']}/s, the generator made {want / b['interval_s']:.1f}/s")
            # The namespace's own range, 32768-60999, sustains 28232 / 60 s.
            if b["available"] is None or b["max_rate_per_s"] != round(b["available"] / 60, 3):
                problems.append(f"{ts}: max_rate_per_s {b['max_rate_per_s']} for {b['available']} ports")
            if b["full_in_s"] is not None:
                problems.append(f"{ts}: full_in_s {b['full_in_s']} at {b['new_per_s']}/s, below the sustainable rate")
        self.report.check("--watch --ports: each budget's rate, the rate it sustains, and never full below it",
                          problems)

    # ---- the terminal ----

    def terminal(self):
        if shutil.which("tmux") is None:
            self.report.check("--watch on a terminal (tmux)", ["tmux is not installed (apt-get install tmux)"])
            return
        session = f"{PREFIX}watch-{os.getpid()}"
        for how in ("q", "SIGTERM"):
            self.report.check(f"--watch on a terminal: full screen, redrawn in place, left on {how}",
                              self.terminal_once(session, how))

    def terminal_once(self, session, how):
        tmux = lambda *args, check=True: run(["tmux"] + list(args), check=check)  # noqa: E731
        shell = (f"{self.binary} --watch 0.5; echo EXIT:$?; stty -a | tr ';' '\\n' | grep -Ew -- '-?(echo|icanon)'; "
                 "echo SETTINGS-SHOWN; sleep 60")
        tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "30", shell)
        problems = []
        try:
            pane = lambda: tmux("capture-pane", "-p", "-t", session).stdout.decode()  # noqa: E731
            shown = lambda fmt: tmux("display-message", "-p", "-t", session, fmt).stdout.decode().strip()  # noqa: E731
            screens = []
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(screens) < 2:
                text = pane()
                if "NAMESPACE" in text and "rates from the next tick on" not in text and (
                        not screens or text.splitlines()[0] != screens[-1].splitlines()[0]):
                    screens.append(text)
                time.sleep(0.2)
            if len(screens) < 2:
                problems.append(f"no two frames with rates within 15 s; the pane shows:\n{pane()[:600]}")
            else:
                for text in screens:
                    lines = text.splitlines()
                    if not lines[0].startswith("cnetstat --watch") or not lines[1].startswith("node: opened"):
                        problems.append(f"a frame does not start with the heading:\n{text[:400]}")
                if shown("#{alternate_on}") != "1":
                    problems.append("not on the alternate screen while running")
            if how == "q":
                tmux("send-keys", "-t", session, "q")
            else:
                shell_pid = shown("#{pane_pid}")
                watch_pid = run(["pgrep", "-P", shell_pid]).stdout.decode().split()[0]
                os.kill(int(watch_pid), 15)
            deadline = time.monotonic() + 5
            # The settings follow the exit status: wait for both.
            while "SETTINGS-SHOWN" not in pane() and time.monotonic() < deadline:
                time.sleep(0.1)
            after = pane()
            if "EXIT:0" not in after:
                problems.append(f"did not end with status 0 on {how}:\n{after[:600]}")
            if shown("#{alternate_on}") != "0":
                problems.append("the alternate screen is still on")
            if shown("#{cursor_flag}") != "1":
                problems.append("the cursor is still hidden")
            settings = after.split()
            if "echo" not in settings or "icanon" not in settings:
                problems.append(f"the terminal's settings were not restored: {[w for w in settings if 'echo' in w or 'icanon' in w]}")
        finally:
            tmux("kill-session", "-t", session, check=False)
        return problems

    # ---- cgroup ids ----

    def cgroup_without_ptrace(self):
        """A Docker container holding connections, with a capability the
        debug container lacks (NET_ADMIN), so the debug container may read
        neither its files nor its namespace link; it shares the namespace of
        a sandbox container that has none, through which the namespace is
        read. cnetstat in the debug container, with CAP_SYS_ADMIN but not
        CAP_SYS_PTRACE, still names the container, by its sockets' cgroup
        ids: runc places it in the v2 hierarchy too."""
        name = f"{PREFIX}watch-cg"

        def docker_run(suffix, network, *args):
            cid = run(["docker", "run", "-d", "--pull", "never", "--name", name + suffix, "--network", network]
                      + list(args)).stdout.decode().strip()
            self.fx.cleanup.push(f"docker container {name}{suffix}",
                                 lambda: run(["docker", "rm", "-f", cid], check=False))
            return cid

        sandbox = docker_run("-pod", "none", IMAGE, "sleep", "1000000")
        # Three connections to its own listener, each retried until it
        # listens, held open by a FIFO nobody writes.
        script = ("nc -ll -p 7070 -e /bin/cat & mkfifo /tmp/hold; "
                  "for i in 1 2 3; do (while :; do nc 127.0.0.1 7070 </tmp/hold >/dev/null; sleep 0.2; done) & "
                  "done; exec 3>/tmp/hold; exec sleep 1000000")
        cid = docker_run("", f"container:{sandbox}", "--cap-add", "NET_ADMIN", IMAGE, "sh", "-c", script)
        pid = run(["docker", "inspect", "-f", "{{.State.Pid}}", cid]).stdout.decode().strip()
        with open(f"/proc/{pid}/cgroup") as f:
            v2 = [line for line in f.read().splitlines() if line.startswith("0::")]
        netns = os.stat(f"/proc/{pid}/ns/net").st_ino
        debugger = [
            "docker", "run", "--rm", "--pull", "never", "--pid=host", "--network=host",
            "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
            "--name", f"{PREFIX}watch-debugger", "-v", "/:/host",
            "-v", f"{os.path.abspath(self.binary)}:/cnetstat:ro", IMAGE,
        ]
        argv = debugger + ["/cnetstat", "--watch", "1", "--count", "1", "--format", "json"]
        # What the debug container may not do: read the container's open
        # files. Listing the fd directory needs only root; reading its links
        # needs ptrace access, which `ls -l` reports on stderr, exiting 0.
        files = run(debugger + ["ls", "-l", f"/proc/{pid}/fd/"], check=False)
        deadline = time.monotonic() + 10
        problems = []
        while True:
            result = run_cnetstat(argv, timeout=60)
            rows = [r for r in result.rows if r.get("netns") == netns]
            established = sum(r["established"] for r in rows if r["attribution"] == "cgroup"
                              and r["container"] == name.lstrip("/"))
            if established >= 6 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if not v2 or cid not in v2[0]:
            problems.append(f"the container is not in the v2 hierarchy: {v2}")
        if result.returncode != 0:
            problems.append(result.describe())
        if b"Permission denied" not in files.stderr:
            problems.append(f"the debug container could list the container's files: {files.stderr[:200]!r}")
        # Three connections to its own listener: six ESTABLISHED ends.
        if established != 6:
            problems.append(f"{established} ESTABLISHED attributed to {name} by cgroup, expected 6; "
                            f"{len(result.rows)} rows, those of its namespace {netns}: {rows[:4]}; "
                            f"stderr: {result.stderr.strip()[:400]!r}")
        if any(r["attribution"] == "process" for r in rows):
            problems.append("a socket of the container was attributed by its process, which was not to be readable")
        self.report.check("--watch without CAP_SYS_PTRACE: a container's sockets named by their cgroup id", problems)


def leftovers():
    """What a run of this module may leave on the host besides what
    sysenv.remove_leftovers sweeps."""
    found = []
    if os.path.isdir(LOG_PODS):
        found += [os.path.join(LOG_PODS, d) for d in os.listdir(LOG_PODS) if d.startswith(K8S_NAMESPACE + "_")]
    if os.path.isdir(LOG_CONTAINERS):
        found += [os.path.join(LOG_CONTAINERS, f) for f in os.listdir(LOG_CONTAINERS)
                  if f"_{K8S_NAMESPACE}_" in f]
    return found


def remove_leftovers():
    for path in leftovers():
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
