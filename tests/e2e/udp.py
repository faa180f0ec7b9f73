"""UDP end to end, on the pods and containers run.py built: pods.py gives each
server container an unconnected socket (udhcpd's, on 0.0.0.0:67) and each
client a long-lived connected one and bursts of DNS-like queries from fresh
sockets (busybox nslookup to udhcpd's port, which never answers). Besides
them, the sockets the kernel holds for VXLAN devices: one in a namespace of
its own, one in the Docker pod's.

The truth is `ss -uanpe`, run in each of those namespaces just before and
just after cnetstat: every socket it shows both times must be listed once,
with its inode, state and addresses, owned as the test built it: udhcpd's
by the server container, nslookup's by the client's, each by a process ss
names, and the VXLAN devices' by the kernel. Addresses are 198.18.70.1 on the
pods' loopback, and the namespaces are the test's own."""

import ipaddress
import os
import re
import secrets
import time
from dataclasses import dataclass

import checks
import pods
from checks import compact, run_cnetstat
from sysenv import PREFIX, CommandError, run

VXLAN_OWN_PORT = 4789  # IANA's, in a namespace of its own
VXLAN_IN_POD_PORT = 8472  # flannel's, in the Docker pod's namespace
VXLAN_PORTS = (VXLAN_OWN_PORT, VXLAN_IN_POD_PORT)
SS_STATES = {"ESTAB": "ESTABLISHED", "UNCONN": "UNCONN"}
USER = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


@dataclass(frozen=True)
class Sock:
    """A UDP socket as ss shows it."""

    netns: int
    proto: str
    local: object
    local_port: int
    remote: object
    remote_port: int
    state: str
    inode: int
    users: tuple  # ((pid, comm), ...)

    def identity(self):
        return (self.inode, self.state, self.local, self.local_port, self.remote, self.remote_port)

    def text(self):
        users = ",".join(f"{comm}/{pid}" for pid, comm in self.users) or "no process"
        return (f"{self.proto} {self.local}:{self.local_port} -> {self.remote}:{self.remote_port} "
                f"{self.state} inode={self.inode} ({users}) netns={self.netns}")


@dataclass
class Space:
    """A namespace with UDP sockets the test made, and who must own them."""

    label: str
    path: str
    netns: int
    server: object = None  # pods.Owner of the unconnected socket on :67
    client: object = None  # pods.Owner of the queries to :67
    namespace: str = None  # the Kubernetes namespace and pod a kernel socket keeps
    pod: str = None


def endpoint(text, proto):
    host, _, port = text.rpartition(":")
    host = host.split("%")[0].strip("[]")
    if host == "*":
        host = "0.0.0.0" if proto == "udp" else "::"
    return ipaddress.ip_address(host), 0 if port == "*" else int(port)


def ss_sockets(space):
    """Every UDP socket of the namespace, by `ss -uanpe` run inside it."""
    socks = []
    for proto, family in (("udp", "-4"), ("udp6", "-6")):
        out = run(["nsenter", f"--net={space.path}", "ss", "-uanpe", family]).stdout.decode()
        for line in out.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 5 or fields[0] not in SS_STATES:
                raise CommandError(f"ss -uanpe in {space.label}: unexpected line {line!r}")
            local, local_port = endpoint(fields[3], proto)
            remote, remote_port = endpoint(fields[4], proto)
            rest = " ".join(fields[5:])
            inode = re.search(r"\bino:(\d+)", rest)
            socks.append(Sock(
                netns=space.netns, proto=proto, local=local, local_port=local_port, remote=remote,
                remote_port=remote_port, state=SS_STATES[fields[0]],
                inode=int(inode.group(1)) if inode else 0,
                users=tuple(sorted((int(pid), comm) for comm, pid in USER.findall(rest))),
            ))
    return socks


class Udp:
    def __init__(self, binary, report, fx, workloads, cleanup):
        self.binary = binary
        self.report = report
        self.fx = fx
        self.cleanup = cleanup
        self.spaces = [
            Space(w.label, f"/proc/{w.pid}/ns/net", w.netns, w.server, w.client, w.namespace, w.pod)
            for w in workloads
            if w.server is not None and w.pid is not None
        ]
        self.docker_pod = next(s for s in self.spaces if s.server.runtime == "docker" and s.pod)
        self.bursts = 0

    # ---- setup ----

    def setup(self):
        for space in self.spaces:
            run(["nsenter", f"--net={space.path}", "ip", "addr", "add", f"{pods.UDP_ADDR}/32", "dev", "lo"])
        self.add_vxlan(self.docker_pod, VXLAN_IN_POD_PORT)
        name = f"{PREFIX}vxlan-{secrets.token_hex(3)}"
        run(["ip", "netns", "add", name])
        self.cleanup.push(f"netns {name}", lambda: run(["ip", "netns", "delete", name], check=False))
        path = f"/run/netns/{name}"
        own = Space(f"VXLAN namespace {name}", path, os.stat(path).st_ino)
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        self.add_vxlan(own, VXLAN_OWN_PORT)
        self.spaces.append(own)
        self.fire_burst()

    def add_vxlan(self, space, port):
        ip = ["nsenter", f"--net={space.path}", "ip", "link"]
        run(ip + ["add", "vx0", "type", "vxlan", "id", str(port), "dstport", str(port)])
        run(ip + ["set", "vx0", "up"])

    def fire_burst(self):
        """A burst of DNS-like queries in every pod, each from a fresh socket;
        waits until each client holds them all and its long-lived one."""
        open(os.path.join(self.fx.trigger, f"udp.{self.bursts}"), "w").close()
        self.bursts += 1
        want = 1 + self.bursts * pods.UDP_BURST

        def ready():
            return all(
                len(self.queries(ss_sockets(s))) >= want and self.servers(ss_sockets(s))
                for s in self.spaces
                if s.client
            )

        pods.wait_for(f"{want} UDP queries in every pod", ready, timeout=30)

    @staticmethod
    def queries(socks):
        return [s for s in socks if s.state == "ESTABLISHED" and s.remote_port == pods.UDP_SERVER_PORT]

    @staticmethod
    def servers(socks):
        return [s for s in socks if s.state == "UNCONN" and s.local_port == pods.UDP_SERVER_PORT]

    # ---- observing ----

    def observe(self, args):
        """cnetstat between two ss runs in every namespace: the sockets ss
        shows both times are the ones cnetstat must list."""
        before = {s.label: ss_sockets(s) for s in self.spaces}
        result = run_cnetstat([self.binary] + args)
        after = {s.label: ss_sockets(s) for s in self.spaces}
        stable, seen = {}, {}
        for s in self.spaces:
            later = {k.identity() for k in after[s.label]}
            stable[s.label] = [k for k in before[s.label] if k.identity() in later]
            seen[s.label] = {k.inode for k in before[s.label] + after[s.label]}
        return result, stable, seen, before, after

    def check(self, name, problems):
        self.report.check(f"UDP: {name}", problems)

    # ---- expectations ----

    def expected(self, space, sock):
        """The fields a row of `sock` must have; None where ss shows a
        socket the test did not make."""
        exp = {
            "proto": sock.proto, "local_port": sock.local_port, "remote_port": sock.remote_port,
            "state": sock.state, "netns": sock.netns, "inode": sock.inode,
        }
        if not sock.users:
            if sock.local_port not in VXLAN_PORTS or sock.state != "UNCONN":
                return None
            exp.update(attribution="kernel", pid=None, process=None, container=None,
                       container_id=None, namespace=space.namespace, pod=space.pod)
            return exp
        owner = None
        if sock.state == "UNCONN" and sock.local_port == pods.UDP_SERVER_PORT:
            owner = space.server
        elif sock.state == "ESTABLISHED" and sock.remote_port == pods.UDP_SERVER_PORT:
            owner = space.client
        if owner is None:
            return None
        exp.update(attribution="process", namespace=owner.namespace, pod=owner.pod,
                   container=owner.container, container_id=owner.container_id, runtime=owner.runtime)
        return exp

    def ownership(self, title, args):
        result, stable, seen, _, _ = self.observe(args)
        self.check(f"{title}: exit 0, JSON Lines with exactly the documented keys",
                   checks.schema_problems(result))
        by_inode = {}
        for row in result.rows:
            by_inode.setdefault((row.get("netns"), row.get("inode")), []).append(row)
        for space in self.spaces:
            problems = []
            for sock in stable[space.label]:
                rows = by_inode.get((space.netns, sock.inode), [])
                if len(rows) != 1:
                    problems.append(f"{sock.text()}: {len(rows)} rows")
                    continue
                exp = self.expected(space, sock)
                if exp is None:
                    problems.append(f"{sock.text()}: a socket the test did not make")
                    continue
                row = rows[0]
                diffs = [f"{k}: expected {v!r}, got {row.get(k)!r}" for k, v in exp.items() if row.get(k) != v]
                for address, port in (("local_addr", sock.local), ("remote_addr", sock.remote)):
                    try:
                        if ipaddress.ip_address(row.get(address)) != port:
                            diffs.append(f"{address}: expected {port}, got {row.get(address)!r}")
                    except (TypeError, ValueError):
                        diffs.append(f"{address}: not an address: {row.get(address)!r}")
                if sock.users:
                    comms = dict(sock.users)
                    if row.get("pid") not in comms:
                        diffs.append(f"pid: expected one of {sorted(comms)} (ss), got {row.get('pid')!r}")
                    elif row.get("process") != comms[row["pid"]]:
                        diffs.append(f"process: expected {comms[row['pid']]!r}, got {row.get('process')!r}")
                if diffs:
                    problems.append(f"{sock.text()}\n  " + "\n  ".join(diffs) + f"\n  row: {compact(row)}")
            # Nothing ss never saw in the namespace.
            for (netns, inode), rows in by_inode.items():
                if netns == space.netns and inode not in seen[space.label]:
                    problems.append(f"a row ss never showed: {compact(rows[0])}")
            kinds = self.kinds(stable[space.label])
            self.check(f"{title}: {space.label}: {kinds}", problems)
        return result, stable

    @staticmethod
    def kinds(socks):
        count = {}
        for sock in socks:
            kind = "kernel" if not sock.users else sock.state
            count[kind] = count.get(kind, 0) + 1
        return ", ".join(f"{n} {kind}" for kind, n in sorted(count.items())) or "no sockets"

    # ---- scenarios ----

    def listing(self):
        result, _ = self.ownership("-u -a (sock_diag)", ["-u", "-a", "--format", "json"])
        # The kernel's sockets are no sockets "with no process".
        problems = []
        counted = re.search(r"(\d+) sockets? with no process", result.stderr)
        unowned = [r for r in result.rows if r.get("inode") and r.get("attribution") in ("netns", "none")]
        if counted and int(counted.group(1)) != len(unowned):
            problems.append(f"the warning counts {counted.group(1)} sockets with no process; "
                            f"{len(unowned)} rows with an inode show none: {[compact(r) for r in unowned][:3]}")
        kernel = [r for r in result.rows if r.get("attribution") == "kernel"]
        vxlans = {(r.get("netns"), r.get("local_port")) for r in kernel}
        for space, port in ((self.spaces[-1], VXLAN_OWN_PORT), (self.docker_pod, VXLAN_IN_POD_PORT)):
            if (space.netns, port) not in vxlans:
                problems.append(f"{space.label}: no kernel row on {port}: {[compact(r) for r in kernel]}")
        self.check("the VXLAN sockets are the kernel's, and the warning does not count them as "
                   f"sockets with no process ({counted.group(0) if counted else 'no such warning here'})",
                   problems)
        self.ownership("-u -a --backend proc", ["-u", "-a", "--format", "json", "--backend", "proc"])

    def states(self):
        for args, shown, what in (
            (["-u"], {"ESTABLISHED"}, "default: connected only"),
            (["-u", "-l"], {"UNCONN"}, "-l: unconnected only"),
            (["-u", "--state", "unconn"], {"UNCONN"}, "--state unconn"),
        ):
            result, stable, _, _, _ = self.observe(args + ["--format", "json"])
            problems = [] if result.returncode == 0 else [result.describe()]
            problems += [f"{compact(r)}" for r in result.rows
                         if r.get("state") not in shown or r.get("proto") not in ("udp", "udp6")][:5]
            listed = {(r.get("netns"), r.get("inode")) for r in result.rows}
            for space in self.spaces:
                for sock in stable[space.label]:
                    if sock.state in shown and (space.netns, sock.inode) not in listed:
                        problems.append(f"{space.label}: no row for {sock.text()}")
            self.check(f"-u {' '.join(args[1:])} ({what}): only those states, every one of ours", problems)

        result = run_cnetstat([self.binary, "-t", "-u", "-a", "--format", "json"])
        problems = [] if result.returncode == 0 else [result.describe()]
        for space in self.spaces:
            protos = {r.get("proto") for r in result.rows if r.get("netns") == space.netns}
            want = {"udp"} if space.client is None else {"tcp", "udp"}
            if not want <= protos:
                problems.append(f"{space.label}: protocols {sorted(p for p in protos if p)}, expected {sorted(want)}")
        self.check("-t -u -a: TCP and UDP in one listing", problems)

        result = run_cnetstat([self.binary, "-u", "-a"])
        problems = [] if result.returncode == 0 else [result.describe()]
        lines = [line for line in result.stdout.splitlines() if f":{VXLAN_OWN_PORT} " in line]
        if len(lines) != 1 or "(kernel)" not in lines[0] or "UNCONN" not in lines[0]:
            problems.append(f"expected one line with (kernel), :{VXLAN_OWN_PORT} and UNCONN: {lines}")
        self.check("-u -a table: the VXLAN socket's container is (kernel)", problems)

    def summary(self):
        result, stable, _, before, after = self.observe(["-u", "-a", "--summary", "--format", "json"])
        problems = [] if result.returncode == 0 else [result.describe()]
        for space in self.spaces:
            if space.client is None:
                continue
            groups = [g for g in result.rows if g.get("netns") == space.netns]
            low = len(self.queries(stable[space.label]))
            high = len({s.inode for s in self.queries(before[space.label] + after[space.label])})
            out = [g for g in groups if g.get("direction") == "out" and g.get("remote_addr") == pods.UDP_ADDR
                   and g.get("remote_port") == pods.UDP_SERVER_PORT and g.get("proto") == "udp"]
            if len(out) != 1 or out[0].get("container") != space.client.container \
                    or not low <= out[0].get("count", -1) <= high \
                    or out[0].get("states") != {"ESTABLISHED": out[0].get("count")}:
                problems.append(f"{space.label}: expected one outbound group of {space.client.container} "
                                f"to {pods.UDP_ADDR}:{pods.UDP_SERVER_PORT}, {low} to {high} ESTABLISHED: "
                                f"{[compact(g) for g in out]}")
            inbound = [g for g in groups if g.get("direction") == "in" and g.get("local_port") == pods.UDP_SERVER_PORT
                       and g.get("proto") == "udp"]
            want = {"container": space.server.container, "local_addr": "0.0.0.0", "clients": 0,
                    "count": 1, "states": {"UNCONN": 1}}
            if len(inbound) != 1 or any(inbound[0].get(k) != v for k, v in want.items()):
                problems.append(f"{space.label}: expected one inbound group {compact(want)}: "
                                f"{[compact(g) for g in inbound]}")
        self.check("-u -a --summary: each pod's queries one outbound group, its server one inbound", problems)

    def port_budgets(self):
        result, stable, _, before, after = self.observe(["-u", "--ports", "--format", "json"])
        problems = [] if result.returncode == 0 else [result.describe()]
        for space in self.spaces:
            low_port, high_port = map(int, self.sysctl(space, "ip_local_port_range").split())
            reserved = set()
            for part in filter(None, self.sysctl(space, "ip_local_reserved_ports").split(",")):
                first, _, last = part.partition("-")
                reserved.update(range(int(first), int(last or first) + 1))

            def held(socks):
                return {s.local_port for s in socks if low_port <= s.local_port <= high_port
                        and s.local_port not in reserved}

            low, high = len(held(stable[space.label])), len(held(before[space.label] + after[space.label]))
            available = high_port - low_port + 1 - len({p for p in reserved if low_port <= p <= high_port})
            rows = [r for r in result.rows if r.get("netns") == space.netns and r.get("proto") == "udp"]
            if not high:
                if rows:
                    problems.append(f"{space.label}: no UDP port of its range is held, yet {compact(rows[0])}")
                continue
            if len(rows) != 1:
                problems.append(f"{space.label}: {len(rows)} UDP rows, expected 1: {[compact(r) for r in rows]}")
                continue
            row = rows[0]
            if (row.get("scope"), row.get("dst_addr"), row.get("dst_port")) != ("netns", None, None) \
                    or not low <= row.get("in_use", -1) <= high or row.get("available") != available:
                problems.append(f"{space.label}: expected scope netns, no destination, {low} to {high} in "
                                f"use of {available}: {compact(row)}")
        if any(r.get("proto") == "tcp" for r in result.rows):
            problems.append("-u --ports shows TCP rows")
        self.check("-u --ports: one row per namespace, its distinct UDP ports of the range", problems)

    @staticmethod
    def sysctl(space, name):
        path = f"/proc/sys/net/ipv4/{name}"
        return run(["nsenter", f"--net={space.path}", "cat", path]).stdout.decode().strip()

    def record_replay(self):
        recording = os.path.join(self.fx.workdir, "udp-recording.json")
        for view in (
            ["-u", "-a", "--format", "json"],
            ["-t", "-u", "-l"],
            ["-u", "--summary", "-a"],
            ["-u", "--ports", "--format", "json"],
            ["-u", "-a", "--pod", self.docker_pod.pod],
        ):
            live = run_cnetstat([self.binary, "--record", recording] + view)
            replayed = run_cnetstat([self.binary, "--replay", recording] + view)
            problems = [] if live.returncode == 0 and replayed.returncode == 0 else [
                live.describe(), replayed.describe()]
            if live.stdout != replayed.stdout or live.stderr != replayed.stderr:
                problems.append(f"live and replayed differ:\n{live.stdout[:600]}\n--\n{replayed.stdout[:600]}"
                                f"\n{live.stderr!r}\n{replayed.stderr!r}")
            if '"udp"' not in live.stdout and " udp " not in live.stdout and pods.UDP_ADDR not in live.stdout:
                problems.append("the view shows no UDP, so the comparison shows nothing")
            self.check(f"--replay {' '.join(view)}: exactly what the recording run printed", problems)
        # A recording made by a TCP view still holds UDP.
        recorded = run_cnetstat([self.binary, "--record", recording, "--state", "time-wait"])
        replayed = run_cnetstat([self.binary, "--replay", recording, "-u", "-a", "--format", "json"])
        problems = [] if recorded.returncode == 0 and replayed.returncode == 0 else [replayed.describe()]
        for space in self.spaces:
            if not any(r.get("netns") == space.netns for r in replayed.rows):
                problems.append(f"{space.label}: no UDP socket in the recording")
        self.check("--record with a TCP view records UDP too", problems)

    def bursts_from_fresh_sockets(self):
        """A second burst: each query takes a port no other UDP socket of its
        namespace holds, and cnetstat counts them all."""
        self.fire_burst()
        result, stable, _, _, _ = self.observe(["-u", "--format", "json"])
        problems = [] if result.returncode == 0 else [result.describe()]
        for space in self.spaces:
            queries = self.queries(stable[space.label])
            if not queries:
                continue
            ports = [q.local_port for q in queries]
            if len(set(ports)) != len(ports):
                problems.append(f"{space.label}: queries share ports: {sorted(ports)}")
            rows = [r for r in result.rows if r.get("netns") == space.netns
                    and r.get("remote_port") == pods.UDP_SERVER_PORT]
            if len(rows) < len(queries) or {r.get("container") for r in rows} != {space.client.container}:
                problems.append(f"{space.label}: {len(rows)} rows of {space.client.container}'s queries, "
                                f"ss shows {len(queries)} throughout: {[compact(r) for r in rows][:2]}")
        self.check(f"a second burst of {pods.UDP_BURST} queries from fresh sockets in every pod", problems)


def scenario(binary, report, fx, workloads, cleanup):
    udp = Udp(binary, report, fx, workloads, cleanup)
    try:
        udp.setup()
    except CommandError as e:
        report.check("UDP: setup", [str(e)])
        return
    report.check("UDP: setup: udhcpd, the queries and two VXLAN devices in place", [])
    start = time.monotonic()
    udp.listing()
    udp.states()
    udp.summary()
    udp.port_budgets()
    udp.record_replay()
    udp.bursts_from_fresh_sockets()
    print(f"# UDP scenario: {time.monotonic() - start:.0f}s", flush=True)
