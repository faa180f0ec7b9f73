#!/usr/bin/env python3
"""Real end-to-end test of cnetstat: real dockerd, containerd and podman
containers arranged into pods the way each runtime's Kubernetes integration
arranges them, a CRI-O pod whose network namespace no process holds, real TCP
traffic and TIME_WAITs in each, then the built binary run against them and
every socket's owner compared with the kernel's tables and with what the test
built. Python 3 standard library only.

Usage: run.py BINARY          run everything (root; docker, containerd, podman), then
                              the --ports scenario of ports.py, the remote-names
                              scenario of names.py and the UDP scenario of udp.py
       run.py --setup-only    build and check the fixtures only, no binary
       run.py --self-test     run every check against oracle.py, a stand-in that
                              answers from what the test knows, to test the checks
Environment: CI=true turns a missing prerequisite into a failure instead of a
skip; E2E_VERBOSE=1 prints every command; E2E_HOLD=SECONDS keeps the
fixtures that long before cleaning up, to look at them.
Ends with the line `N passed, N failed`; exit status 1 on any failure.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checks  # noqa: E402
import kernel  # noqa: E402
import names  # noqa: E402
import portnode  # noqa: E402
import ports  # noqa: E402
import pods  # noqa: E402
import udp  # noqa: E402
import watch  # noqa: E402
from checks import Report, run_cnetstat  # noqa: E402
from sysenv import (  # noqa: E402
    CTR_IMAGE,
    IMAGE,
    PODMAN_GLOBAL,
    PODMAN_IMAGE,
    PREFIX,
    Cleanup,
    CommandError,
    ctr,
    ignore_interrupts,
    missing_prerequisites,
    out,
    remove_leftovers,
    run,
    sigterm_as_interrupt,
)

# TIME_WAIT lasts 60 s (TCP_TIMEWAIT_LEN). A check starts only while the
# current round of TIME_WAITs is younger than this; otherwise the test waits
# for them to expire and makes a new round.
MAX_ROUND_AGE = 45.0
TIMEWAIT_LEN = 60.0

PORTS = {
    "docker_pod": 18081,
    "docker_plain": 18082,
    "containerd_cgroupfs": 18083,
    "containerd_systemd": 18084,
    "crio": 18085,
    "podman_pod": 18086,
    "podman_plain": 18087,
}


def ci_mode():
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def free_host_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rounds:
    """Fresh TIME_WAITs on demand: each round makes N short connections per workload."""

    def __init__(self, fx, workloads):
        self.fx = fx
        self.tw_workloads = [w for w in workloads if w.timewaits]
        self.number = -1
        self.started = None

    def ensure_fresh(self):
        now = time.monotonic()
        if self.started is not None and now - self.started < MAX_ROUND_AGE:
            return
        if self.started is not None:
            wait = self.started + TIMEWAIT_LEN + 3 - now
            if wait > 0:
                print(f"# waiting {wait:.0f}s for the previous TIME_WAITs to expire", flush=True)
                time.sleep(wait)
        self.number += 1
        self.started = time.monotonic()
        self.fx.fire_trigger(self.number)
        self.fx.make_crio_timewaits()
        self.fx.make_host_timewaits()
        for w in self.tw_workloads:
            try:
                wait_for_round(w)
            except CommandError as e:
                states = {}
                for ks in w.kernel_sockets():
                    if w.port in (ks.local_port, ks.remote_port):
                        states[ks.state] = states.get(ks.state, 0) + 1
                raise CommandError(
                    f"{e}; its sockets on port {w.port} by state: {states}; counters: {w.tcp_counters()}"
                ) from None


def wait_for_round(w):
    """All N TIME_WAITs are there, or all but a few and no more are coming."""
    history = []

    def done():
        count = w.timewait_count()
        history.append((time.monotonic(), count))
        if count >= w.short_connections:
            return True
        if count < w.short_connections - pods.TIMEWAIT_SLACK:
            return False
        changes = [t for t, c in history if c != count]
        return time.monotonic() - (changes[-1] if changes else history[0][0]) > 1.5

    pods.wait_for(f"{w.short_connections} TIME_WAITs in {w.label}", done, timeout=30)


class E2E:
    def __init__(self, binary, report, fx, workloads):
        self.binary = binary
        self.report = report
        self.fx = fx
        self.workloads = workloads
        self.rounds = Rounds(fx, workloads)

    def observe(self, args, env=None, wrap=None):
        """Runs cnetstat between two kernel snapshots; runs it again when a
        TIME_WAIT came or went meanwhile, so the expected set is exact."""
        argv = [self.binary] + args
        for _attempt in range(3):
            self.rounds.ensure_fresh()
            holders = kernel.socket_holders()
            before = {w.label: w.kernel_sockets() for w in self.workloads}
            result = run_cnetstat(wrap(argv) if wrap else argv, env=env)
            snaps = {w.label: (before[w.label], w.kernel_sockets()) for w in self.workloads}
            if all(checks.timewaits(w, b) == checks.timewaits(w, a) for w in self.workloads for b, a in [snaps[w.label]]):
                break
        return result, snaps, holders

    def stable(self, snaps):
        return {w.label: checks.stable_sockets(*snaps[w.label]) for w in self.workloads}

    def check(self, name, problems):
        self.report.check(name, problems)

    # ---- scenarios ----

    def setup_matches_kernel(self):
        self.rounds.ensure_fresh()
        holders = kernel.socket_holders()
        problems = []
        for w in self.workloads:
            problems += checks.setup_problems(w, w.kernel_sockets(), holders)
        self.check("setup: the kernel's tables hold the traffic the test made", problems)

    def ownership(self, title, args, env=None, wrap=None, docker_names_optional=False):
        result, snaps, holders = self.observe(["--format", "json"] + args, env=env, wrap=wrap)
        self.check(f"{title}: exit 0, JSON Lines with exactly the documented keys", checks.schema_problems(result))
        checks.ownership_checks(
            self.report, title, result, self.workloads, snaps, holders, docker_names_optional
        )
        return result

    def all_sockets(self):
        self.ownership("-a", ["-a"])

    def backends(self):
        for backend in ("proc", "netlink"):
            self.ownership(f"-a --backend {backend}", ["-a", "--backend", backend])

    def debug_pod_view(self):
        """As in `kubectl debug node`: the node's root at a path, and the
        tool's own /run a fresh tmpfs."""
        root = tempfile.mkdtemp(prefix=PREFIX + "root-", dir="/tmp")
        script = 'root=$1; shift; mount --rbind / "$root" && mount -t tmpfs tmpfs /run && exec "$@"'

        def wrap(argv):
            return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", root] + argv

        view = run(
            wrap(["sh", "-c", f'test ! -e /run/containerd && test -S "{root}/run/containerd/containerd.sock" '
                  f'&& test -S "{root}/run/docker.sock" && test -e "{root}/run/netns"']),
            check=False,
        )
        self.check(
            "setup: debug-pod view hides the node's /run and shows it under the root",
            [] if view.returncode == 0 else [f"view check failed: {view.stderr.decode()}"],
        )
        try:
            self.ownership(f"debug-pod view (--root {root}, private /run)", ["-a", "--root", root], wrap=wrap)
        finally:
            os.rmdir(root)

    def debug_container(self):
        """`kubectl debug node/<n> --profile=sysadmin` made with docker: a
        privileged container with the host's pid and network namespaces and
        the node's root at /host. cnetstat must pick /host by itself, say so,
        and attribute every socket as on the host."""

        def wrap(argv):
            return [
                # --privileged asks for every capability, and this machine's
                # bounding set lacks one; these two are what cnetstat needs.
                "docker", "run", "--rm", "--pull", "never", "--cap-add", "SYS_ADMIN",
                "--cap-add", "SYS_PTRACE", "--security-opt", "seccomp=unconfined", "--pid=host",
                "--network=host", "--name", PREFIX + "debugger", "-v", "/:/host",
                "-v", f"{os.path.abspath(argv[0])}:/cnetstat:ro", IMAGE, "/cnetstat",
            ] + argv[1:]

        result = self.ownership("debug container (/host found by itself)", ["-a"], wrap=wrap)
        problems = []
        if "under /host" not in result.stderr:
            problems.append(f"no note about /host on stderr: {result.stderr.strip()[:300]!r}")
        self.check("debug container: says it reads the node under /host", problems)

    def restricted_debug_container(self):
        """The default debug profiles: root, but the runtime's default
        capabilities (no CAP_SYS_PTRACE, no CAP_SYS_ADMIN). cnetstat must
        still list what /proc allows and say once what is missing."""
        argv = [
            "docker", "run", "--rm", "--pull", "never", "--pid=host", "--network=host",
            "--name", PREFIX + "restricted", "-v", "/:/host",
            "-v", f"{os.path.abspath(self.binary)}:/cnetstat:ro", IMAGE,
            "/cnetstat", "-a", "--format", "json",
        ]
        result = run_cnetstat(argv)
        problems = [] if result.returncode == 0 else [result.describe()]
        if result.stderr.count("could not read") != 1 or "CAP_SYS_PTRACE" not in result.stderr:
            problems.append(f"expected one warning naming CAP_SYS_PTRACE: {result.stderr.strip()[:500]!r}")
        # Containers run with the same default capabilities, so their open
        # files stay readable: the Docker pod's listener keeps its owner.
        w = next(w for w in self.workloads if w.runtime == "docker" and w.pod)
        listeners = [
            r for r in result.rows
            if r.get("state") == "LISTEN" and r.get("local_port") == w.port and r.get("netns") == w.netns
        ]
        if len(listeners) != 1:
            problems.append(f"{w.label}: expected one LISTEN row on port {w.port}, got {listeners}")
        elif (listeners[0].get("pod"), listeners[0].get("container")) != (w.pod, w.server.container):
            problems.append(f"{w.label}: listener owner {checks.compact(listeners[0])}")
        self.check("restricted debug container: lists what /proc allows, one warning", problems)

    def default_and_listening(self):
        result, snaps, _ = self.observe(["--format", "json"])
        stable = self.stable(snaps)
        problems = [] if result.returncode == 0 else [result.describe()]
        problems += [f"LISTEN row without -a: {checks.compact(r)}" for r in result.rows if r.get("state") == "LISTEN"]
        keys = set(checks.index_rows(result.rows))
        for w in self.workloads:
            for ks in stable[w.label]:
                if checks.role_of(w, ks) in (checks.ROLE_SERVER, checks.ROLE_CLIENT, checks.ROLE_TW):
                    if ks.key() not in keys:
                        problems.append(f"{w.label}: no row for {ks.text()}")
        self.check("default: every state but LISTEN", problems)

        result, snaps, _ = self.observe(["--format", "json", "-l"])
        stable = self.stable(snaps)
        problems = [] if result.returncode == 0 else [result.describe()]
        problems += [f"non-LISTEN row with -l: {checks.compact(r)}" for r in result.rows if r.get("state") != "LISTEN"]
        keys = set(checks.index_rows(result.rows))
        for w in self.workloads:
            for ks in stable[w.label]:
                if checks.role_of(w, ks) == checks.ROLE_LISTEN and ks.key() not in keys:
                    problems.append(f"{w.label}: no row for {ks.text()}")
        self.check("-l: only LISTEN, ours included", problems)

    def state_filter(self):
        result, snaps, _ = self.observe(["--format", "json", "--state", "time-wait"])
        stable = self.stable(snaps)
        problems = [] if result.returncode == 0 else [result.describe()]
        problems += [f"not TIME_WAIT: {checks.compact(r)}" for r in result.rows if r.get("state") != "TIME_WAIT"]
        for w in self.workloads:
            if not w.timewaits:
                continue
            want = sum(1 for ks in stable[w.label] if checks.role_of(w, ks) == checks.ROLE_TW)
            got = sum(
                1
                for r in result.rows
                if r.get("netns") == w.netns and r.get("remote_port") == w.port and r.get("state") == "TIME_WAIT"
            )
            if got != want:
                problems.append(f"{w.label}: {got} TIME_WAIT rows to port {w.port}, the kernel has {want}")
        self.check("--state time-wait", problems)

    def summary(self):
        result, snaps, _ = self.observe(["--format", "json", "--summary"])
        self.check(
            "--summary --format json: one group per pod and destination, count = its TIME_WAITs",
            checks.summary_problems(result, self.workloads, snaps),
        )
        top, _, _ = self.observe(["--format", "json", "--summary", "--top", "1"])
        problems = [] if top.returncode == 0 else [top.describe()]
        counts = [r.get("count") for r in result.rows if isinstance(r.get("count"), int)]
        if len(top.rows) != 1:
            problems.append(f"expected 1 group, got {len(top.rows)}")
        elif set(top.rows[0]) != checks.SUMMARY_KEYS or not counts or top.rows[0].get("count") != max(counts):
            problems.append(
                f"expected the largest group (count {max(counts, default=None)}) with keys "
                f"{sorted(checks.SUMMARY_KEYS)}, got {checks.compact(top.rows[0])}"
            )
        self.check("--summary --top 1: the largest group only", problems)
        legacy, snaps, _ = self.observe(["--format", "json", "--summaryStatistics"])
        self.check(
            "--summaryStatistics (the original's spelling) gives the same groups",
            checks.summary_problems(legacy, self.workloads, snaps),
        )

    def summary_views(self):
        """Inbound groups per listening port with their clients; --by pod,remote one line
        per pod and destination; an address filter; a name nobody has."""
        pods = [w for w in self.workloads if w.pod and w.server and w.client]
        result, snaps, _ = self.observe(["--format", "json", "--summary", "-a"])
        problems = [] if result.returncode == 0 else [result.describe()]
        for w in pods:
            inbound = sorted(
                ((g.get("local_addr"), g.get("clients"), g.get("states")) for g in result.rows
                 if g.get("netns") == w.netns and g.get("direction") == "in"
                 and g.get("local_port") == w.port and g.get("container") == w.server.container),
                key=str)
            # Per local address and port: the wildcard listener, and the accepted end of the
            # long-lived connection from its one client.
            want = [("::", 0, {"LISTEN": 1}), ("::ffff:127.0.0.1", 1, {"ESTABLISHED": 1})]
            if inbound != want:
                problems.append(f"{w.label}: inbound groups on {w.port}: expected {want}, got {inbound}")
        self.check("--summary -a: inbound groups per listening port, with their clients", problems)

        result, snaps, _ = self.observe(["--format", "json", "--by", "pod,remote"])
        problems = [] if result.returncode == 0 else [result.describe()]
        for w in pods:
            if not w.timewaits:
                continue
            lines = [g for g in result.rows if g.get("pod") == w.pod and g.get("remote_port") == w.port]
            n = len(checks.timewaits(w, checks.stable_sockets(*snaps[w.label])))
            if len(lines) != 1 or lines[0].get("states") != {"ESTABLISHED": 1, "TIME_WAIT": n}:
                problems.append(f"{w.label}: expected one line to {w.port} with ESTABLISHED=1 TIME_WAIT={n}: "
                                f"{[checks.compact(g) for g in lines]}")
        self.check("--by pod,remote: one line per pod and destination, client and TIME_WAITs together", problems)

        w = next(w for w in pods if w.runtime == "docker")
        result, snaps, holders = self.observe(["--format", "json", "--remote", f"127.0.0.1:{w.port}"])
        problems = [] if result.returncode == 0 else [result.describe()]
        problems += [f"remote end is not 127.0.0.1:{w.port}: {checks.compact(r)}" for r in result.rows
                     if r.get("remote_port") != w.port]
        want = 1 + len(checks.timewaits(w, checks.stable_sockets(*snaps[w.label])))
        got = sum(1 for r in result.rows if r.get("netns") == w.netns)
        if got != want:
            problems.append(f"{w.label}: {got} rows to {w.port}, the kernel has {want}")
        self.check(f"--remote 127.0.0.1:{w.port}: who talks to it", problems)

        typo = w.pod.upper()
        result = run_cnetstat([self.binary, "--pod", typo])
        problems = [] if result.returncode == 0 else [result.describe()]
        if f"--pod {typo}: no pod of that name on this node; nearest: {w.pod}" not in result.stderr:
            problems.append(f"no note naming {w.pod}: {result.stderr.strip()[:300]!r}")
        self.check("--pod with a typo: says no such pod and names the nearest, exit 0", problems)

    def filters(self):
        pod_workloads = [w for w in self.workloads if w.pod and w.server]
        docker_pod = next(w for w in pod_workloads if w.runtime == "docker")
        cases = [
            ("--namespace", "e2e-containerd", "namespace", [w for w in pod_workloads if w.namespace == "e2e-containerd"]),
            ("--pod", docker_pod.pod, "pod", [docker_pod]),
            ("--container", "server", "container", pod_workloads),
        ]
        for flag, value, key, expected_in in cases:
            result, snaps, holders = self.observe(["--format", "json", "-a", flag, value])
            stable = self.stable(snaps)
            problems = [] if result.returncode == 0 else [result.describe()]
            problems += [f"{key} is not {value!r}: {checks.compact(r)}" for r in result.rows if r.get(key) != value]
            keys = set(checks.index_rows(result.rows))
            for w in expected_in:
                for ks in stable[w.label]:
                    role = checks.role_of(w, ks)
                    owner = w.client if role == checks.ROLE_CLIENT else w.server
                    matches = role == checks.ROLE_TW and key != "container" or (
                        role in (checks.ROLE_LISTEN, checks.ROLE_SERVER, checks.ROLE_CLIENT)
                        and holders.get(ks.inode)
                        and getattr(owner, key) == value
                    )
                    if matches and ks.key() not in keys:
                        problems.append(f"{w.label}: no row for {ks.text()}")
            self.check(f"{flag} {value}", problems)

    def table(self):
        w = next(w for w in self.workloads if w.runtime == "docker" and w.pod)
        result, _, _ = self.observe(["-a"])
        lines = result.stdout.splitlines()
        problems = [] if result.returncode == 0 else [result.describe()]
        header = lines[0].split() if lines else []
        want = ["NAMESPACE", "POD", "CONTAINER", "PID", "PROCESS", "PROTO", "LOCAL", "REMOTE", "STATE"]
        if header != want:
            problems.append(f"header: expected {want}, got {header}")
        if not any(w.pod in line and "server" in line and "LISTEN" in line for line in lines):
            problems.append(f"no line with {w.pod}, server and LISTEN")
        self.check("--format table (default)", problems)

    def usage_errors(self):
        for args, word in (
            (["--no-such-flag"], "--no-such-flag"),
            (["--format", "xml"], "xml"),
            (["--top", "many"], "many"),
            (["--state", "sleepy"], "sleepy"),
        ):
            result = run_cnetstat([self.binary] + args)
            problems = []
            if result.returncode != 2:
                problems.append(f"exit {result.returncode}, expected 2")
            if word.lower() not in result.stderr.lower():
                problems.append(f"stderr does not name {word!r}: {result.stderr.strip()[:300]!r}")
            self.check(f"usage error {' '.join(args)}: exit 2 and a message naming it", problems)
        result = run_cnetstat([self.binary, "--help"])
        self.check(
            "--help: exit 0 with usage",
            [] if result.returncode == 0 and "Usage" in result.stdout else [result.describe()],
        )

    def record_replay(self):
        """A recording replayed shows exactly what the run that recorded it showed, for
        every view and filter; and it holds the whole node whatever the view asked for."""
        docker_pod = next(w for w in self.workloads if w.runtime == "docker" and w.pod)
        views = [
            [],
            ["--format", "json"],
            ["-a", "--format", "json"],
            ["--summary"],
            ["--summary", "--format", "json"],
            ["--summary", "--top", "3"],
            ["--state", "time-wait", "--format", "json"],
            ["-l"],
            ["-a", "--pod", docker_pod.pod],
            ["-a", "--namespace", docker_pod.namespace, "--format", "json"],
            ["-a", "--container", "server", "--format", "json"],
            ["--top", "5", "--format", "json"],
        ]
        recording = os.path.join(self.fx.workdir, "recording.json")
        for view in views:
            live = run_cnetstat([self.binary, "--record", recording] + view)
            replayed = run_cnetstat([self.binary, "--replay", recording] + view)
            problems = [] if live.returncode == 0 else [live.describe()]
            if replayed.returncode != 0:
                problems.append(replayed.describe())
            if live.stdout != replayed.stdout:
                problems.append(f"stdout differs: live {len(live.stdout)} bytes, replayed {len(replayed.stdout)}: "
                                f"{first_difference(live.stdout, replayed.stdout)}")
            if live.stderr != replayed.stderr:
                problems.append(f"stderr differs: live {live.stderr!r}, replayed {replayed.stderr!r}")
            if not live.stdout.strip():
                problems.append("the view printed nothing, so the comparison shows nothing")
            self.check(f"--replay {' '.join(view) or '(default view)'}: exactly what the recording run printed", problems)

        # A view of TIME_WAITs only still records every state: the listeners too.
        recorded = run_cnetstat([self.binary, "--record", "-", "--state", "time-wait"])
        replayed = subprocess.run([self.binary, "--replay", "-", "-l", "--format", "json"],
                                  input=recorded.stdout.encode(), capture_output=True)
        rows = [json.loads(line) for line in replayed.stdout.decode().splitlines() if line.strip()]
        problems = [] if recorded.returncode == 0 and replayed.returncode == 0 else [
            recorded.describe(), replayed.stderr.decode()[:300]]
        if recorded.stdout.count("\n") != 1 or not recorded.stdout.startswith('{"version":'):
            problems.append(f"--record - printed more than the recording: {recorded.stdout[:200]!r}")
        for w in self.workloads:
            if w.server and not any(r.get("local_port") == w.port and r.get("netns") == w.netns for r in rows):
                problems.append(f"{w.label}: its listener on {w.port} is not in the recording")
        self.check("--record - with --state time-wait records every state, read back from stdin", problems)

    def docker_unreachable(self):
        env = dict(os.environ, DOCKER_HOST="unix:///nonexistent")
        result = self.ownership(
            "DOCKER_HOST=unix:///nonexistent", ["-a"], env=env, docker_names_optional=True
        )
        problems = []
        if "/nonexistent" not in result.stderr:
            problems.append(f"stderr does not name the socket: {result.stderr.strip()[:300]!r}")
        self.check("DOCKER_HOST=unix:///nonexistent: a warning naming the socket, exit 0", problems)


def node_scenario(module, flag, binary, report):
    """A scenario on a port-budget node of its own (ports.py, names.py), next to this
    run's fixtures, on this run's images; said SKIP (FAIL in CI) when its tools or the
    binary's FLAG are missing."""
    name = module.__name__
    reasons = module.missing_tools()
    if flag not in run_cnetstat([binary, "--help"]).stdout:
        reasons.append(f"{binary} --help does not list {flag}")
    if reasons:
        if ci_mode():
            report.check(f"{name}: prerequisites, and CI never skips", reasons)
        else:
            print(f"SKIP {name} scenario: " + "; ".join(reasons), flush=True)
        return
    module.scenario(binary, report, portnode.Images(IMAGE, CTR_IMAGE, PODMAN_IMAGE))


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines())):
        if x != y:
            return f"line {i + 1}: {x!r} vs {y!r}"
    return "one is a prefix of the other"


def build_workloads(fx):
    steps = [
        ("docker pod", lambda: fx.docker_pod(PORTS["docker_pod"])),
        ("plain docker container", lambda: fx.docker_plain(PORTS["docker_plain"])),
        ("containerd pod, cgroupfs", lambda: fx.containerd_pod(PORTS["containerd_cgroupfs"], "cgroupfs")),
        ("containerd pod, systemd", lambda: fx.containerd_pod(PORTS["containerd_systemd"], "systemd")),
        ("podman pod", lambda: fx.podman_pod(PORTS["podman_pod"])),
        ("plain podman container", lambda: fx.podman_plain(PORTS["podman_plain"])),
        ("CRI-O pod without processes", lambda: fx.crio_pod_without_processes(PORTS["crio"])),
        ("host namespace", lambda: fx.host_timewaits(free_host_port())),
    ]
    workloads = []
    for what, make in steps:
        start = time.monotonic()
        w = make()
        print(f"# {what}: {w.label}, port {w.port}, netns {w.netns} ({time.monotonic() - start:.1f}s)", flush=True)
        workloads.append(w)
    return workloads


def leftovers():
    """What a finished run must not leave on the host."""
    found = []
    if out(["docker", "ps", "-aq", "--filter", "name=" + PREFIX], check=False):
        found.append("docker containers")
    if out(PODMAN_GLOBAL + ["ps", "-aq", "--filter", "name=" + PREFIX], check=False):
        found.append("podman containers")
    if any(c.startswith("ce2e") for c in ctr("containers", "ls", "-q", check=False).stdout.decode().split()):
        found.append("containerd containers")
    if any(
        l.startswith(("ce2e", "cni-ce2e", PREFIX)) for l in out(["ip", "netns", "list"], check=False).splitlines()
    ):
        found.append("network namespaces")
    if any(n.startswith(PREFIX) for n in os.listdir("/tmp")):
        found.append("files in /tmp")
    if watch.leftovers():
        found.append("kubelet log files")
    return found


def write_oracle_state(workdir, workloads):
    path = os.path.join(workdir, "oracle-state.json")
    with open(path, "w") as f:
        json.dump([dataclasses.asdict(w) for w in workloads], f)
    os.environ["E2E_ORACLE_STATE"] = path


def main(argv):
    setup_only = "--setup-only" in argv
    self_test = "--self-test" in argv
    args = [a for a in argv if a not in ("--setup-only", "--self-test")]
    if self_test:
        args.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "oracle.py"))
    if (not setup_only and len(args) != 1) or (setup_only and args) or any(a.startswith("-") for a in args):
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(args[0]) if args else None

    reasons = missing_prerequisites()
    if reasons:
        if ci_mode():
            print("FAIL e2e prerequisites missing, and CI never skips: " + "; ".join(reasons))
            print("0 passed, 1 failed")
            return 1
        print("SKIP e2e (real daemons and namespaces): " + "; ".join(reasons))
        return 0
    if binary and not os.access(binary, os.X_OK):
        print(f"FAIL {binary}: not an executable file")
        print("0 passed, 1 failed")
        return 1

    sigterm_as_interrupt()
    report = Report()
    cleanup = Cleanup()
    started = time.monotonic()
    try:
        remove_leftovers()
        workdir = tempfile.mkdtemp(prefix=PREFIX, dir="/tmp")
        cleanup.push("work dir", lambda: run(["rm", "-rf", workdir], check=False))
        fx = pods.Fixtures(cleanup, workdir)
        fx.build_images()
        print(f"# images imported ({time.monotonic() - started:.1f}s)", flush=True)
        workloads = build_workloads(fx)
        if self_test:
            write_oracle_state(workdir, workloads)
        e2e = E2E(binary, report, fx, workloads)
        e2e.setup_matches_kernel()
        if not setup_only:
            version = run_cnetstat([binary, "--version"])
            print(f"# {binary}: {version.stdout.strip() or version.stderr.strip()}", flush=True)
            for scenario in (
                e2e.all_sockets,
                e2e.debug_pod_view,
                e2e.docker_unreachable,
                e2e.summary,
                e2e.summary_views,
                e2e.state_filter,
                e2e.default_and_listening,
                e2e.filters,
                e2e.table,
                e2e.backends,
                e2e.usage_errors,
            ) + (() if self_test else (e2e.record_replay, e2e.debug_container, e2e.restricted_debug_container)):
                scenario()
            if not self_test:
                node_scenario(ports, "--ports", binary, report)
                node_scenario(names, "--kube", binary, report)
                udp.scenario(binary, report, fx, workloads, cleanup)
                watch.WatchE2E(binary, report, fx).run_all()
    except KeyboardInterrupt as e:
        report.check("run", [f"interrupted ({str(e) or 'Ctrl-C'}); cleaning up"])
    except CommandError as e:
        report.check("setup", [str(e)])
    except Exception:
        report.check("harness", [traceback.format_exc()])
    finally:
        hold = float(os.environ.get("E2E_HOLD", "0") or 0)
        if hold:
            print(f"# E2E_HOLD: keeping everything for {hold:.0f}s", flush=True)
            time.sleep(hold)
        ignore_interrupts()
        cleanup.run_all()
        remove_leftovers()
        watch.remove_leftovers()
        left = leftovers()
        report.check("cleanup left nothing behind", [f"left behind: {', '.join(left)}"] if left else [])
    print(f"# {time.monotonic() - started:.0f}s in all")
    print(report.summary_line())
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
