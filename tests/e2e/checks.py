"""Running cnetstat and comparing what it prints with the kernel's tables and
with the owners the test gave its containers."""

import ipaddress
import json
import subprocess
import time
from dataclasses import dataclass, field

import kernel
from pods import TIMEWAIT_SLACK

KEYS = [
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
]
SUMMARY_KEYS = {
    "namespace", "pod", "container", "container_id", "netns", "direction", "proto",
    "local_addr", "local_port", "remote_addr", "remote_port", "clients", "count", "states",
    "remote_kind", "remote_namespace", "remote_name", "remote_endpoints",
}
REMOTE_KINDS = {None, "pod", "service", "node", "host"}
RUNTIMES = {None, "docker", "containerd", "cri-o", "podman"}
ATTRIBUTIONS = {"process", "netns", "kernel", "none"}
PROTOS = ("tcp", "tcp6", "udp", "udp6")
# The kernel's names, and UDP's unconnected state as ss names it.
STATES = set(kernel.STATES.values()) | {"UNCONN"}
MAX_DETAILS = 6


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, problems):
        """problems: list of lines; empty means the check passed."""
        if problems:
            self.failed += 1
            print(f"FAIL {name}", flush=True)
            for line in problems[:MAX_DETAILS]:
                for sub in line.splitlines():
                    print(f"     {sub}")
            if len(problems) > MAX_DETAILS:
                print(f"     ... and {len(problems) - MAX_DETAILS} more")
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)

    def summary_line(self):
        return f"{self.passed} passed, {self.failed} failed"


@dataclass
class Result:
    argv: list
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    rows: list = field(default_factory=list)
    bad_lines: list = field(default_factory=list)

    def describe(self):
        err = self.stderr.strip()
        tail = f"; stderr: {err[:400]}" if err else ""
        return f"`{' '.join(self.argv)}` exited {self.returncode} after {self.seconds:.2f}s{tail}"


def run_cnetstat(argv, env=None, timeout=60):
    start = time.monotonic()
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env
        )
        code, so, se = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        code, so, se = -1, e.stdout or b"", (e.stderr or b"") + f"\n[timed out after {timeout}s]".encode()
    result = Result(argv, code, so.decode(errors="replace"), se.decode(errors="replace"), time.monotonic() - start)
    for line in result.stdout.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            result.bad_lines.append(line)
            continue
        if isinstance(obj, dict):
            result.rows.append(obj)
        else:
            result.bad_lines.append(line)
    return result


def compact(row):
    return json.dumps(row, separators=(",", ":"))


def row_key(row):
    """The kernel socket a row describes, or None when it is malformed."""
    try:
        return kernel.socket_key(
            row["netns"],
            ipaddress.ip_address(row["local_addr"]),
            row["local_port"],
            ipaddress.ip_address(row["remote_addr"]),
            row["remote_port"],
            row["state"],
        )
    except (KeyError, TypeError, ValueError):
        return None


def index_rows(rows):
    by_key = {}
    for row in rows:
        key = row_key(row)
        if key is not None:
            by_key.setdefault(key, []).append(row)
    return by_key


def schema_problems(result):
    problems = []
    if result.returncode != 0:
        problems.append(result.describe())
    for line in result.bad_lines:
        problems.append(f"not a JSON object: {line[:200]}")
    if not result.rows and not problems:
        problems.append("no rows at all")
    nullable_str = ("namespace", "pod", "container", "container_id", "process")
    for row in result.rows:
        errs = []
        keys = list(row)
        if sorted(keys) != sorted(KEYS):
            missing = sorted(set(KEYS) - set(keys))
            extra = sorted(set(keys) - set(KEYS))
            errs.append(f"keys: missing {missing}, unexpected {extra}")
        for k in nullable_str:
            if k in row and row[k] is not None and not isinstance(row[k], str):
                errs.append(f"{k}: expected string or null, got {row[k]!r}")
        for k in ("local_port", "remote_port", "netns", "inode", "uid"):
            if k in row and (not isinstance(row[k], int) or isinstance(row[k], bool)):
                errs.append(f"{k}: expected a number, got {row[k]!r}")
        if "pid" in row and row["pid"] is not None and not isinstance(row["pid"], int):
            errs.append(f"pid: expected a number or null, got {row['pid']!r}")
        if row.get("runtime") not in RUNTIMES:
            errs.append(f"runtime: expected one of {sorted(r for r in RUNTIMES if r)} or null, got {row.get('runtime')!r}")
        if row.get("remote_kind") not in REMOTE_KINDS:
            errs.append(f"remote_kind: expected one of {sorted(REMOTE_KINDS, key=str)}, got {row.get('remote_kind')!r}")
        if row.get("attribution") not in ATTRIBUTIONS:
            errs.append(f"attribution: expected one of {sorted(ATTRIBUTIONS)}, got {row.get('attribution')!r}")
        if row.get("proto") not in PROTOS:
            errs.append(f"proto: expected one of {', '.join(PROTOS)}, got {row.get('proto')!r}")
        if row.get("state") not in STATES:
            errs.append(f"state: not a kernel state name: {row.get('state')!r}")
        if row_key(row) is None and not errs:
            errs.append("local_addr/remote_addr: not an IP address")
        if errs:
            problems.append("; ".join(errs) + f"\n  row: {compact(row)}")
    keys = [row_key(r) for r in result.rows]
    seen, dups = set(), set()
    for k in keys:
        if k is not None:
            (dups if k in seen else seen).add(k)
    for k in sorted(dups, key=str)[:3]:
        problems.append(f"socket listed twice: {k}")
    return problems


# ---- expected owners ----

ROLE_LISTEN = "server LISTEN socket"
ROLE_SERVER = "server side of the long-lived connection"
ROLE_CLIENT = "client side of the long-lived connection"
ROLE_TW = "TIME_WAIT sockets"
ROLES = (ROLE_LISTEN, ROLE_SERVER, ROLE_CLIENT, ROLE_TW)


def role_of(w, ks):
    if ks.state == "TIME_WAIT" and ks.remote_port == w.port and w.timewaits:
        return ROLE_TW
    if w.server is None:
        return None
    if ks.state == "LISTEN" and ks.local_port == w.port:
        return ROLE_LISTEN
    if ks.state == "ESTABLISHED" and ks.local_port == w.port:
        return ROLE_SERVER
    if ks.state == "ESTABLISHED" and ks.remote_port == w.port:
        return ROLE_CLIENT
    return None


def expected_fields(w, role, ks, holders):
    """The fields a row must have, and the PIDs it may name."""
    exp = {
        "proto": ks.proto,
        "local_port": ks.local_port,
        "remote_port": ks.remote_port,
        "state": ks.state,
        "netns": ks.netns,
        "uid": ks.uid,
    }
    if role == ROLE_TW:
        exp.update(container=None, container_id=None, pid=None, process=None, inode=0)
        if w.timewaits == "netns":
            exp.update(namespace=w.namespace, pod=w.pod, runtime=w.runtime, attribution="netns")
        else:
            exp.update(namespace=None, pod=None, runtime=None, attribution="none")
        return exp, None
    owner = w.client if role == ROLE_CLIENT else w.server
    exp.update(
        namespace=owner.namespace,
        pod=owner.pod,
        container=owner.container,
        container_id=owner.container_id,
        runtime=owner.runtime,
        inode=ks.inode,
        attribution="process",
    )
    return exp, holders.get(ks.inode, {})


def field_diffs(row, exp, pids, name_options=None):
    diffs = []
    for k, v in exp.items():
        if row.get(k) != v:
            diffs.append(f"{k}: expected {v!r}, got {row.get(k)!r}")
    if name_options:
        for k, allowed in name_options.items():
            if row.get(k) not in allowed:
                diffs.append(f"{k}: expected one of {sorted(map(repr, allowed))}, got {row.get(k)!r}")
    if pids is not None:
        pid = row.get("pid")
        if pid not in pids:
            diffs.append(f"pid: expected one of {sorted(pids)} (the processes holding the socket), got {pid!r}")
        elif row.get("process") != pids[pid]:
            diffs.append(f"process: expected {pids[pid]!r} (comm of pid {pid}), got {row.get('process')!r}")
    return diffs


def stable_sockets(before, after):
    """Sockets present in both kernel snapshots, so they existed for the whole run."""
    after_ids = {(s.key(), s.inode) for s in after}
    return [s for s in before if (s.key(), s.inode) in after_ids]


def ownership_checks(report, title, result, workloads, snaps, holders, docker_names_optional=False):
    """One check per workload and role: every kernel socket of that role has
    exactly one row, and the row names the right owner."""
    by_key = index_rows(result.rows)
    for w in workloads:
        socks = stable_sockets(*snaps[w.label])
        by_role = {}
        for ks in socks:
            role = role_of(w, ks)
            if role and (role == ROLE_TW or holders.get(ks.inode)):
                by_role.setdefault(role, []).append(ks)
        for role in ROLES:
            if role not in by_role:
                continue
            problems = []
            # Without the Docker API, names of Docker containers may be unknown.
            names = not (docker_names_optional and w.runtime == "docker")
            for ks in by_role[role]:
                rows = by_key.get(ks.key(), [])
                if len(rows) != 1:
                    problems.append(f"kernel socket {ks.text()}: {len(rows)} rows in the output")
                    continue
                exp, pids = expected_fields(w, role, ks, holders)
                options = None
                if not names:
                    options = {k: {None, exp.pop(k)} for k in ("namespace", "pod", "container", "runtime")}
                    if role == ROLE_TW:
                        options["attribution"] = {"netns", "none"}
                        del exp["attribution"]
                diffs = field_diffs(rows[0], exp, pids, options)
                if diffs:
                    problems.append(
                        f"kernel socket {ks.text()}\n  " + "\n  ".join(diffs) + f"\n  row: {compact(rows[0])}"
                    )
            n = len(by_role[role])
            report.check(f"{title}: {w.label}: {role} ({n})", problems)


def timewaits(w, socks):
    """The workload's TIME_WAITs (its client's short connections)."""
    return {ks.key() for ks in socks if role_of(w, ks) == ROLE_TW}


def setup_problems(w, socks, holders):
    """What the workload should hold, checked against the kernel alone."""
    counts = {r: 0 for r in ROLES}
    for ks in socks:
        role = role_of(w, ks)
        if role and (role == ROLE_TW or holders.get(ks.inode)):
            counts[role] += 1
    problems = []
    if w.server is not None:
        for role in (ROLE_LISTEN, ROLE_SERVER, ROLE_CLIENT):
            if counts[role] < 1:
                problems.append(f"setup: {w.label}: no {role} in the kernel's table")
    if w.timewaits and not w.short_connections - TIMEWAIT_SLACK <= counts[ROLE_TW] <= w.short_connections:
        problems.append(
            f"setup: {w.label}: {counts[ROLE_TW]} TIME_WAITs to port {w.port} in the kernel's table, "
            f"expected {w.short_connections}"
        )
    return problems


def summary_problems(result, workloads, snaps):
    problems = []
    if result.returncode != 0:
        problems.append(result.describe())
    problems += [f"not a JSON object: {line[:200]}" for line in result.bad_lines]
    for obj in result.rows:
        if set(obj) != SUMMARY_KEYS:
            problems.append(f"keys {sorted(obj)} != {sorted(SUMMARY_KEYS)}: {compact(obj)}")
    counts = [o.get("count") for o in result.rows]
    if any(not isinstance(c, int) for c in counts):
        problems.append(f"count not a number in {counts[:10]}")
    elif counts != sorted(counts, reverse=True):
        problems.append(f"groups not largest first: counts {counts[:20]}")
    for w in workloads:
        if not w.timewaits:
            continue
        want = {
            "namespace": w.namespace if w.timewaits == "netns" else None,
            "pod": w.pod if w.timewaits == "netns" else None,
            "container": None,
            "netns": w.netns,
            "direction": "out",
            "remote_port": w.port,
        }
        groups = [
            o
            for o in result.rows
            if all(o.get(k) == v for k, v in want.items())
            and _is_loopback(o.get("remote_addr"))
        ]
        n = len(timewaits(w, stable_sockets(*snaps[w.label])))
        expected = {"count": n, "states": {"TIME_WAIT": n}}
        if len(groups) != 1:
            problems.append(
                f"{w.label}: expected one group {compact({**want, 'remote_addr': '127.0.0.1', **expected})}, "
                f"found {len(groups)}: {[compact(g) for g in groups][:3]}"
            )
            continue
        got = {"count": groups[0].get("count"), "states": groups[0].get("states")}
        if got != expected:
            problems.append(f"{w.label}: expected {compact(expected)}, got {compact(groups[0])}")
    return problems


def _is_loopback(text):
    try:
        return kernel.unmapped(ipaddress.ip_address(text)) == ipaddress.ip_address("127.0.0.1")
    except (TypeError, ValueError):
        return False
