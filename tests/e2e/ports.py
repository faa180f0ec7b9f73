#!/usr/bin/env python3
"""End-to-end scenario for `cnetstat --ports`: a node with a bridge, real pods
on dockerd, containerd and podman, SNAT rules (iptables-nft MASQUERADE
--to-ports and native nft masquerade) towards a remote namespace, and
connection churn that fills the budgets: a pod whose 30-port
ip_local_port_range runs out (connect() fails with EADDRNOTAVAIL), two pods
sharing one 40-port SNAT destination, a 10-port SNAT range full of
ESTABLISHED flows whose next SYNs the NAT drops (insert_failed, drop), flows
to a Service DNATed to its backend, UDP "DNS" flows, and a conntrack zone.
See portnode.py for the topology.

Every number cnetstat prints is checked against what the kernel's own tools
say in each namespace at the same moment: `ss -tano` and the sysctls in every
pod, `conntrack -L --src-nat`, `conntrack -C`, `conntrack -S` and
`nft list ruleset` in the node namespace. The readings are taken right before
and right after each cnetstat run; a number must equal them, or lie between
them when something changed meanwhile. Pod TIME_WAITs last 60 s and
conntrack's 120 s, so all runs happen within 60 s of the churn.

Usage: ports.py BINARY            (root; dockerd, containerd, podman running)
       ports.py --setup-only      build the node and print what the oracle expects
run.py calls scenario() as part of the main suite.
"""

import ipaddress
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import portnode  # noqa: E402
from checks import Report, compact, run_cnetstat  # noqa: E402
from portnode import (  # noqa: E402
    BACKEND,
    DNS,
    FULL,
    FULL_PORTS,
    NARROW_TARGET,
    NARROW_ZONE,
    SERVICE,
    SHARED,
    SHARED_PORTS,
    Node,
)
from sysenv import Cleanup, CommandError, missing_prerequisites, out, run  # noqa: E402

# The brief's keys, and the four "Remote names" (README) added to them since.
KEYS = [
    "scope", "netns", "zone", "namespace", "pod", "container", "proto", "src_addr", "dst_addr",
    "dst_port", "in_use", "available", "used_pct", "states", "next_free_s", "sources", "entries",
    "max", "insert_failed", "drop", "early_drop",
    "remote_kind", "remote_namespace", "remote_name", "remote_endpoints",
]
COUNTERS = ["entries", "max", "insert_failed", "drop", "early_drop"]
# Keys that do not apply to a scope, so must be null there.
NULL_BY_SCOPE = {
    "netns": {"zone", "sources", *COUNTERS},
    "snat": {"remote_endpoints", *COUNTERS},
    "external": {"netns", "zone", "namespace", "pod", "container", "src_addr", "remote_endpoints", *COUNTERS},
    "conntrack": set(KEYS) - {"scope", "netns", *COUNTERS},
}
TABLE_HEADER = ["NAMESPACE", "POD", "CONTAINER", "SCOPE", "SOURCE", "DESTINATION", "IN_USE", "AVAILABLE",
                "USED%", "NEXT_FREE"]
SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV", "FIN-WAIT-1": "FIN_WAIT1",
    "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
    "CLOSING": "CLOSING", "LISTEN": "LISTEN", "UNCONN": "CLOSE",
}
# The runs must end before the first pod TIME_WAIT (60 s) expires.
WINDOW_S = 55.0
EXTERNAL_N = 40
MARK_PCT = 80.0
# used_pct may be rounded to one decimal.
PCT_SLACK = 0.05 + 1e-9
# next_free_s against ss's and conntrack's whole seconds.
TIME_SLACK = 1.5


# ---------------------------------------------------------------- the oracle: the kernel's tools


@dataclass(frozen=True)
class Sock:
    state: str
    laddr: str
    lport: int
    raddr: str
    rport: int
    timer_s: float | None


@dataclass
class NsReading:
    socks: list
    port_range: tuple
    reserved: set
    tw_reuse: int


@dataclass
class CtEntry:
    proto: str
    timeout: int
    state: str | None
    orig: tuple  # (src, dst, sport, dport)
    reply: tuple
    zone: int


@dataclass
class Reading:
    at: float
    netns: dict  # netns inode -> NsReading
    snat: list  # CtEntry with IPS_SRC_NAT in the node namespace
    ct_count: int
    ct_stats: dict
    ct_max: int
    budgets: list  # (daddr, dport or None, available) from the NAT rules


def unmapped(text):
    addr = ipaddress.ip_address(text)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def ss_seconds(text):
    """ss's timer text (iproute2 print_ms_timer): 59sec, 1min3sec, 2.345ms (= 2.345 s), 345ms."""
    m = re.fullmatch(r"(?:(\d+)min)?(?:(\d+)(sec|\.))?(?:(\d+)ms)?", text)
    if not m:
        return None
    minutes, secs, _sep, ms = m.groups()
    total = int(minutes or 0) * 60 + int(secs or 0)
    if ms:
        total += int(ms) / 1000
    return float(total)


def endpoint(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if host == "*":
        host = "0.0.0.0"
    host = host.split("%")[0]
    return unmapped(host), int(port) if port.isdigit() else 0


def parse_ss(text):
    socks = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5 or f[0] not in SS_STATES:
            continue
        (laddr, lport), (raddr, rport) = endpoint(f[3]), endpoint(f[4])
        timer = None
        m = re.search(r"timer:\((\w+),([^,]+),\d+\)", line)
        if m and m.group(1) == "timewait":
            timer = ss_seconds(m.group(2))
        socks.append(Sock(SS_STATES[f[0]], laddr, lport, raddr, rport, timer))
    return socks


def read_netns(path):
    text = out(["nsenter", f"--net={path}", "sh", "-c",
                "ss -tanoH; echo @@; cat /proc/sys/net/ipv4/ip_local_port_range "
                "/proc/sys/net/ipv4/ip_local_reserved_ports /proc/sys/net/ipv4/tcp_tw_reuse"])
    socks_text, _, sysctls = text.partition("@@")
    lines = sysctls.strip().splitlines()
    lo, hi = (int(x) for x in lines[0].split())
    reserved = set()
    if len(lines) == 3:
        for part in lines[1].split(","):
            a, _, b = part.strip().partition("-")
            if a:
                reserved.update(range(int(a), int(b or a) + 1))
    return NsReading(parse_ss(socks_text), (lo, hi), reserved, int(lines[-1]))


def parse_conntrack(text):
    entries = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 4 or not f[1].isdigit():
            continue
        proto, timeout = f[0], int(f[2])
        state = f[3] if "=" not in f[3] and not f[3].startswith("[") else None
        kv = [tuple(t.split("=", 1)) for t in f if "=" in t]
        tuples, cur = [], {}
        zone = 0
        for k, v in kv:
            if k in ("src", "dst", "sport", "dport"):
                if k in cur:
                    tuples.append(cur)
                    cur = {}
                cur[k] = v
            elif k == "zone":
                zone = int(v)
        tuples.append(cur)
        if len(tuples) < 2:
            continue
        o, r = ((t["src"], t["dst"], int(t.get("sport", 0)), int(t.get("dport", 0))) for t in tuples[:2])
        entries.append(CtEntry(proto, timeout, state, o, r, zone))
    return entries


def parse_stats(text):
    totals = Counter()
    for line in text.splitlines():
        for token in line.split():
            k, sep, v = token.partition("=")
            if sep and k != "cpu" and v.isdigit():
                totals[k] += int(v)
    return dict(totals)


def parse_budgets(ruleset):
    """(daddr, proto or None, dport or None, ports) for every masquerade/snat rule of
    `nft list ruleset` (iptables-nft's MASQUERADE --to-ports shows there as
    `masquerade to :A-B`)."""
    budgets = []
    for line in ruleset.splitlines():
        if not re.search(r"\b(masquerade|snat)\b", line):
            continue
        daddr = re.search(r"ip daddr (\S+)", line)
        dport = re.search(r"\b(tcp|udp) dport (\d+)", line)
        ports = re.search(r"\b(?:masquerade|snat)\b.*:(\d+)-(\d+)", line)
        size = int(ports.group(2)) - int(ports.group(1)) + 1 if ports else 64512
        budgets.append((daddr.group(1) if daddr else None, dport.group(1) if dport else None,
                        int(dport.group(2)) if dport else None, size))
    return budgets


def read_node(node):
    text = out(["nsenter", f"--net={node.node_path}", "sh", "-c",
                "conntrack -L --src-nat 2>/dev/null; echo @@; conntrack -C; echo @@; conntrack -S; echo @@; "
                "cat /proc/sys/net/netfilter/nf_conntrack_max; echo @@; nft list ruleset"])
    snat, count, stats, ct_max, ruleset = text.split("@@")
    return parse_conntrack(snat), int(count.strip()), parse_stats(stats), int(ct_max.strip()), ruleset


def read(node):
    at = time.monotonic()
    namespaces = {pod.netns: read_netns(pod.netns_path) for pod in node.pods.values()}
    for path in (node.node_path, node.remote_path):
        namespaces[os.stat(path).st_ino] = read_netns(path)
    snat, count, stats, ct_max, ruleset = read_node(node)
    return Reading(at, namespaces, snat, count, stats, ct_max, parse_budgets(ruleset))


# ---------------------------------------------------------------- what cnetstat must print, from one reading


def is_loopback(addr):
    return ipaddress.ip_address(addr).is_loopback


def expected_rows(reading, node):
    """{row key: expected fields} for the test's namespaces, destinations and NAT."""
    pods_by_netns = {p.netns: p for p in node.pods.values()}
    pods_by_addr = {p.addr: p for p in node.pods.values()}
    # A destination the node's NAT translated is a Service's virtual address; its
    # backends are the translated entries' reply sources.
    backends = {}
    for e in reading.snat:
        if (e.orig[1], e.orig[3]) != (e.reply[0], e.reply[2]):
            backends.setdefault((e.orig[1], e.orig[3]), set()).add((e.reply[0], e.reply[2]))
    rows = {}
    for inode, ns in reading.netns.items():
        pod = pods_by_netns.get(inode)
        lo, hi = ns.port_range
        listening = {s.lport for s in ns.socks if s.state == "LISTEN"}
        bound = set(pod.bound_ports) if pod else set()
        blocked = {p for p in ns.reserved | listening | bound if lo <= p <= hi}
        available = hi - lo + 1 - len(blocked)
        groups = {}
        for s in ns.socks:
            if s.state == "LISTEN" or s.lport in listening:
                continue  # listeners, and sockets accepted on their ports
            groups.setdefault((s.laddr, s.raddr, s.rport), []).append(s)
        for (src, dst, dport), socks in groups.items():
            counted = [s for s in socks if lo <= s.lport <= hi and not reusable(s, ns.tw_reuse)]
            tw = [s.timer_s for s in counted if s.state == "TIME_WAIT" and s.timer_s is not None]
            row = rows[("netns", inode, src, dst, dport, "tcp")] = {
                "namespace": (pod.namespace if pod else None,),
                "pod": (pod.name if pod else None,),
                "in_use": len(counted),
                "available": available,
                "states": dict(Counter(s.state for s in socks)),
                "next_free_s": min(tw) if tw else None,
            }
            if dst.startswith(("198.18.66.", "198.18.67.")):  # nothing on the node holds these
                row["remote_kind"] = ("service",) if (dst, dport) in backends else (None,)
                row["remote_endpoints"] = len(backends[(dst, dport)]) if (dst, dport) in backends else None
    budgets = {}
    for e in reading.snat:
        key = ("snat", node.node_inode, e.zone, e.reply[1], e.reply[0], e.reply[2], e.proto)
        budgets.setdefault(key, []).append(e)
    for key, entries in budgets.items():
        dst, dport = key[4], key[5]
        available = next((n for d, proto, p, n in reading.budgets
                          if d == dst and proto in (None, key[6]) and p in (None, dport)), None)
        sources = Counter()
        for e in entries:
            pod = pods_by_addr.get(e.orig[0])
            sources[(pod.namespace if pod else None, pod.name if pod else None, e.orig[0])] += 1
        tw = [e.timeout for e in entries if e.state == "TIME_WAIT"]
        # The NAT namespace is the node's; a row may name the pod when it is the only source.
        sole = {(ns, name) for ns, name, _addr in sources}
        rows[key] = {
            "namespace": (None, *(ns for ns, _ in sole if len(sole) == 1)),
            "pod": (None, *(name for _, name in sole if len(sole) == 1)),
            "in_use": len(entries),
            "available": available,
            "states": dict(Counter(e.state for e in entries if e.state)),
            "sources": dict(sources),
            "next_free_s": float(min(tw)) if tw else None,
        }
    rows[("conntrack", node.node_inode)] = {
        "entries": reading.ct_count,
        "max": reading.ct_max,
        **{k: reading.ct_stats.get(k, 0) for k in ("insert_failed", "drop", "early_drop")},
    }
    return rows


def reusable(sock, tw_reuse):
    if sock.state != "TIME_WAIT":
        return False
    return tw_reuse == 1 or (tw_reuse == 2 and (is_loopback(sock.raddr) or is_loopback(sock.laddr)))


EXTERNAL_DESTINATIONS = [(*SHARED, "tcp"), (*FULL, "tcp"), (*NARROW_TARGET, "tcp"), (*BACKEND, "tcp"),
                         (*SERVICE, "tcp"), (*DNS, "udp")]


def expected_external(reading, n):
    """Every outbound flow of the test's namespaces towards each of its remote
    destinations, a socket and its SNAT entry counted once, against n. A flow
    goes where it leaves the node: a socket to the Service counts for the
    backend its conntrack entry was DNATed to, and the Service gets none."""
    dnat = {}
    for e in reading.snat:
        if (e.orig[1], e.orig[3]) != (e.reply[0], e.reply[2]):
            dnat[(e.proto, e.orig[0], e.orig[2], e.orig[1], e.orig[3])] = (e.reply[0], e.reply[2])
    flows = {}
    for ns in reading.netns.values():
        listening = {s.lport for s in ns.socks if s.state == "LISTEN"}
        for s in ns.socks:
            if s.state != "LISTEN" and s.lport not in listening:
                dst = dnat.get(("tcp", s.laddr, s.lport, s.raddr, s.rport), (s.raddr, s.rport))
                flows.setdefault((*dst, "tcp"), set()).add((s.laddr, s.lport))
    for e in reading.snat:
        flows.setdefault((e.reply[0], e.reply[2], e.proto), set()).add((e.orig[0], e.orig[2]))
    return {
        ("external", dst, dport, proto): {"in_use": len(flows.get((dst, dport, proto), ())), "available": n}
        for dst, dport, proto in EXTERNAL_DESTINATIONS
    }


# ---------------------------------------------------------------- comparing


def row_key(row):
    try:
        scope = row["scope"]
        if scope == "netns":
            return ("netns", row["netns"], unmapped(row["src_addr"]), unmapped(row["dst_addr"]),
                    row["dst_port"], row["proto"])
        if scope == "snat":
            return ("snat", row["netns"], row["zone"], unmapped(row["src_addr"]), unmapped(row["dst_addr"]),
                    row["dst_port"], row["proto"])
        if scope == "external":
            return ("external", unmapped(row["dst_addr"]), row["dst_port"], row["proto"])
        if scope == "conntrack":
            return ("conntrack", row["netns"])
    except (KeyError, TypeError, ValueError):
        return None
    return None


def describe_key(key):
    if key[0] == "netns":
        return f"netns {key[1]} {key[2]} -> {key[3]}:{key[4]}"
    if key[0] == "snat":
        return f"snat netns {key[1]} zone {key[2]} {key[3]} -> {key[4]}:{key[5]}"
    if key[0] == "external":
        return f"external -> {key[1]}:{key[2]}"
    return f"conntrack netns {key[1]}"


def sources_of(row):
    """{(namespace, pod, src_addr): count}; None when the list is malformed."""
    got = {}
    for s in row.get("sources") or []:
        try:
            k = (s.get("namespace"), s.get("pod"), unmapped(s.get("src_addr")))
        except (AttributeError, TypeError, ValueError):
            return None
        got[k] = got.get(k, 0) + (s.get("count") or 0)
    return got


def number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare(row, before, after):
    """Problems of one row against the expectations before and after the run."""
    problems = []
    options = [e for e in (before, after) if e is not None]
    for k in ("namespace", "pod", "remote_kind"):
        if k in options[0] and all(row.get(k) not in e[k] for e in options):
            problems.append(f"{k} {row.get(k)!r}, expected {' or '.join(repr(v) for v in options[0][k])}")
    if "remote_endpoints" in options[0] and all(row.get("remote_endpoints") != e["remote_endpoints"] for e in options):
        problems.append(f"remote_endpoints {row.get('remote_endpoints')!r}, conntrack's DNAT entries say "
                        f"{options[0]['remote_endpoints']!r}")
    for k in ("in_use", "available", *COUNTERS):
        if k not in options[0]:
            continue
        want = [e[k] for e in options]
        got = row.get(k)
        if not number(got) or not (min(want) <= got <= max(want)):
            problems.append(f"{k} {got!r}, the kernel's tools say {_span(want)}")
    for k in ("states",):
        # UDP entries have no conntrack state: {} or null.
        if k in options[0] and all(row.get(k) != e[k] and not (e[k] == {} and row.get(k) is None)
                                   for e in options):
            problems.append(f"{k} {row.get(k)!r}, the kernel's tools say {options[0][k]!r}"
                            + (f" (after: {options[-1][k]!r})" if len(options) > 1 and options[0][k] != options[-1][k] else ""))
    if "sources" in options[0]:
        got = sources_of(row)
        if got is None:
            problems.append(f"sources malformed: {row.get('sources')!r}")
        elif all(got != e["sources"] for e in options):
            problems.append(f"sources {_sources_text(got)}, conntrack says {_sources_text(options[0]['sources'])}")
        counts = [s.get("count") for s in row.get("sources") or [] if isinstance(s, dict)]
        if counts != sorted(counts, reverse=True):
            problems.append(f"sources not most first: counts {counts}")
    if "next_free_s" in options[0]:
        want = [e["next_free_s"] for e in options]
        got = row.get("next_free_s")
        if all(w is None for w in want):
            if got is not None:
                problems.append(f"next_free_s {got!r}, expected null: no counted TIME_WAIT")
        elif any(w is None for w in want):
            pass  # a TIME_WAIT came or went during the run
        elif not number(got) or not (min(want) - TIME_SLACK <= got <= max(want) + TIME_SLACK):
            problems.append(f"next_free_s {got!r}, the kernel's tools say {_span(want)} (whole seconds)")
    if number(row.get("in_use")) and number(row.get("available")) and row["available"]:
        exact = 100.0 * row["in_use"] / row["available"]
        if not number(row.get("used_pct")) or abs(row["used_pct"] - exact) > PCT_SLACK:
            problems.append(f"used_pct {row.get('used_pct')!r}, 100 x {row['in_use']} / {row['available']} = {exact:.2f}")
    return problems


def _span(values):
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}..{hi}"


def _sources_text(sources):
    return ", ".join(f"{ns}/{pod} {addr}: {n}" for (ns, pod, addr), n in sorted(sources.items(), key=str))


def schema_problems(result):
    problems = [] if result.returncode == 0 else [result.describe()]
    problems += [f"not a JSON object: {line[:200]}" for line in result.bad_lines]
    if not result.rows and not problems:
        problems.append("no rows at all")
    for row in result.rows:
        errs = []
        if sorted(row) != sorted(KEYS):
            errs.append(f"keys: missing {sorted(set(KEYS) - set(row))}, unexpected {sorted(set(row) - set(KEYS))}")
        scope = row.get("scope")
        if scope not in NULL_BY_SCOPE:
            errs.append(f"scope {scope!r}")
        else:
            not_null = sorted(k for k in NULL_BY_SCOPE[scope] if row.get(k) is not None)
            if not_null:
                errs.append(f"{scope} row: {not_null} should be null")
            if scope != "conntrack":
                for k in ("dst_addr",):
                    if not isinstance(row.get(k), str):
                        errs.append(f"{k}: expected a string, got {row.get(k)!r}")
                for k in ("dst_port", "in_use", "available"):
                    if not isinstance(row.get(k), int) or isinstance(row.get(k), bool):
                        errs.append(f"{k}: expected a number, got {row.get(k)!r}")
                if not number(row.get("used_pct")):
                    errs.append(f"used_pct: expected a number, got {row.get('used_pct')!r}")
                if not isinstance(row.get("states"), dict) and not (
                        row.get("states") is None and (scope == "external" or row.get("proto") == "udp")):
                    errs.append(f"states: expected an object, got {row.get('states')!r}")
            if scope in ("snat", "external") and not isinstance(row.get("sources"), list):
                errs.append(f"sources: expected a list, got {row.get('sources')!r}")
            if scope == "conntrack":
                errs += [f"{k}: expected a number, got {row.get(k)!r}" for k in COUNTERS if not number(row.get(k))]
        for k in ("src_addr", "dst_addr"):
            if isinstance(row.get(k), str) and row[k].lower().startswith("::ffff:"):
                errs.append(f"{k} {row[k]} is v4-mapped, expected the IPv4 address")
        if errs:
            problems.append("; ".join(errs) + f": {compact(row)}")
    return problems


# ---------------------------------------------------------------- the scenario


@dataclass
class Observation:
    result: object
    before: Reading
    after: Reading
    exp_before: dict = field(default_factory=dict)
    exp_after: dict = field(default_factory=dict)


class Scenario:
    def __init__(self, binary, report, node, churned_at):
        self.binary = binary
        self.report = report
        self.node = node
        self.churned_at = churned_at
        self.late = []

    def check(self, name, problems):
        self.report.check("ports: " + name, problems)

    def observe(self, args, wrap=None, external=None):
        argv = [self.binary, "--ports"] + args
        before = read(self.node)
        result = run_cnetstat(wrap(argv) if wrap else argv)
        after = read(self.node)
        age = time.monotonic() - self.churned_at
        if age > WINDOW_S:
            self.late.append(f"`{' '.join(args)}` ended {age:.0f}s after the churn")
        obs = Observation(result, before, after)
        obs.exp_before = expected_rows(before, self.node)
        obs.exp_after = expected_rows(after, self.node)
        if external:
            obs.exp_before.update(expected_external(before, external))
            obs.exp_after.update(expected_external(after, external))
        return obs

    def compare_all(self, obs, scopes, inodes=None, ignore=()):
        """Every expected row of these scopes (and namespaces) against cnetstat's,
        but for the fields in `ignore`."""
        problems = []
        rows = {}
        for row in obs.result.rows:
            key = row_key(row)
            if key is not None and key in rows:
                problems.append(f"two rows for {describe_key(key)}: {compact(rows[key])} and {compact(row)}")
            rows.setdefault(key, row)
        keys = set(obs.exp_before) | set(obs.exp_after)
        for key in sorted(keys, key=str):
            if key[0] not in scopes or (inodes is not None and key[0] == "netns" and key[1] not in inodes):
                continue
            b, a = ({k: v for k, v in e.items() if k not in ignore} if e else e
                    for e in (obs.exp_before.get(key), obs.exp_after.get(key)))
            row = rows.get(key)
            if row is None:
                if b is not None and a is not None and not (key[0] == "external" and b["in_use"] == a["in_use"] == 0):
                    problems.append(f"no row for {describe_key(key)}; expected {compact(b)}")
                continue
            found = compare(row, b, a)
            if found:
                problems.append(f"{describe_key(key)}: " + "; ".join(found) + f"\n  row: {compact(row)}")
        mine = {p.netns for p in self.node.pods.values()} | {self.node.node_inode,
                                                             os.stat(self.node.remote_path).st_ino}
        for key, row in rows.items():
            if key and key[0] == "netns" and key[1] in mine and key not in keys and "netns" in scopes:
                if inodes is None or key[1] in inodes:
                    problems.append(f"row the kernel's tables do not explain: {compact(row)}")
        return problems

    # ---- checks

    def setup(self):
        n = self.node
        f = n.facts
        reading = read(n)
        exp = expected_rows(reading, n)
        c = n.pods["C"]
        narrow = exp.get(("netns", c.netns, c.addr, *NARROW_TARGET, "tcp"))
        problems = []
        if f.get("narrow_refusal") != "EADDRNOTAVAIL":
            problems.append(f"pod C's connect after {f.get('narrow_connects')} was refused with "
                            f"{f.get('narrow_refusal')}, expected EADDRNOTAVAIL")
        if not narrow or narrow["available"] != f.get("narrow_connects"):
            problems.append(f"pod C: the kernel gave {f.get('narrow_connects')} ports to {NARROW_TARGET}, "
                            f"ss and the sysctls say {narrow and narrow['available']} are available")
        elif narrow["in_use"] != narrow["available"]:
            problems.append(f"pod C: {narrow['in_use']} counted sockets to {NARROW_TARGET}, expected all "
                            f"{narrow['available']}")
        if f.get("full_extra_connect") != "timeout":
            problems.append(f"the 11th connection to {FULL} {f.get('full_extra_connect')}, expected its SYNs dropped")
        if reading.ct_stats.get("insert_failed", 0) < 1 or reading.ct_stats.get("drop", 0) < 1:
            problems.append(f"conntrack -S in the node namespace shows no drop: {reading.ct_stats}")
        shared = exp.get(("snat", n.node_inode, 0, portnode.NAT_ADDR, *SHARED, "tcp"))
        size = SHARED_PORTS[1] - SHARED_PORTS[0] + 1
        if not shared or shared["in_use"] < MARK_PCT / 100 * size:
            problems.append(f"SNAT to {SHARED}: {shared and shared['in_use']} of {size} ports used, "
                            f"expected at least {MARK_PCT:.0f}%")
        elif len(shared["sources"]) != 2:
            problems.append(f"SNAT to {SHARED}: sources {shared['sources']}, expected pods A and B")
        full = exp.get(("snat", n.node_inode, 0, portnode.NAT_ADDR, *FULL, "tcp"))
        if not full or full["in_use"] != FULL_PORTS[1] - FULL_PORTS[0] + 1:
            problems.append(f"SNAT to {FULL}: {full}, expected the whole range in use")
        backend = exp.get(("snat", n.node_inode, 0, portnode.NAT_ADDR, *BACKEND, "tcp"))
        if not backend or backend["in_use"] != portnode.SERVICE_SHORT:
            problems.append(f"SNAT to the Service's backend {BACKEND}: {backend}, expected "
                            f"{portnode.SERVICE_SHORT} entries")
        zoned = exp.get(("snat", n.node_inode, NARROW_ZONE, portnode.NAT_ADDR, *NARROW_TARGET, "tcp"))
        if not zoned or zoned["in_use"] != f.get("narrow_connects"):
            problems.append(f"SNAT to {NARROW_TARGET} in zone {NARROW_ZONE}: {zoned}")
        dns = exp.get(("snat", n.node_inode, 0, portnode.NAT_ADDR, *DNS, "udp"))
        if f.get("dns_answered") != portnode.DNS_QUERIES or not dns or dns["in_use"] != portnode.DNS_QUERIES:
            problems.append(f"DNS: {f.get('dns_answered')} of {portnode.DNS_QUERIES} queries answered, "
                            f"SNAT entries {dns}")
        self.check(f"setup: the kernel's own view (pod C got {f.get('narrow_connects')} ports then "
                   f"{f.get('narrow_refusal')}; SNAT {SHARED[0]}:{SHARED[1]} "
                   f"{shared and shared['in_use']}/{size}; {FULL[0]}:{FULL[1]} full, "
                   f"drop={reading.ct_stats.get('drop')})", problems)
        return exp

    def json_view(self):
        obs = self.observe(["--format", "json"])
        res = obs.result
        self.check("--format json: exit 0, one object per row with exactly the documented keys, "
                   "inapplicable keys null", schema_problems(res))
        n = self.node
        self.check("netns rows: in_use, available, states, next_free_s as ss and the sysctls say; the Service "
                   "named a service with its backends as conntrack's DNAT entries say",
                   self.compare_all(obs, {"netns"}))
        self.check("snat rows: in_use, available, states, sources, next_free_s as conntrack -L and "
                   "nft list ruleset say", self.compare_all(obs, {"snat"}))
        self.check("conntrack row of the node namespace: entries, max, insert_failed, drop, early_drop as "
                   "conntrack -C/-S say", self.compare_all(obs, {"conntrack"}))
        self.check("netns rows: the container, where every socket with a process is one container's "
                   "(ss -tanp, /proc/PID/cgroup)", self.container_problems(res))

        problems = []
        budgets = [r for r in res.rows if r.get("scope") != "conntrack"]
        pcts = [r.get("used_pct") for r in budgets]
        if not all(number(p) for p in pcts):
            problems.append("used_pct not a number in some row")
        else:
            for i in range(1, len(pcts)):
                if pcts[i] > pcts[i - 1]:
                    problems.append(f"row {i + 1} ({pcts[i]}%) after row {i} ({pcts[i - 1]}%): "
                                    f"{compact(budgets[i])}")
                    break
        c = n.pods["C"]
        key = ("netns", c.netns, c.addr, *NARROW_TARGET, "tcp")
        index = next((i for i, r in enumerate(budgets) if row_key(r) == key), None)
        if index is None:
            problems.append(f"no row for pod C to {NARROW_TARGET}")
        else:
            row = budgets[index]
            if not number(row.get("used_pct")) or row["used_pct"] < 100:
                problems.append(f"pod C's row is at {row.get('used_pct')}%, expected 100: {compact(row)}")
            if number(pcts[0]) and any(number(p) and p < row.get("used_pct", 0) for p in pcts[:index]):
                problems.append(f"pod C's row is row {index + 1}, after less full rows")
        self.check("fullest first; pod C's narrow range to its destination at the top, 100% used", problems)
        return obs

    def container_problems(self, res):
        """A netns row names a container when every socket of it that a process holds is
        that container's (README); TIME_WAITs have none. The owners come from ss -p and
        each owner's cgroup; the sockets held are stable (no churn now)."""
        problems = []
        named = []
        rows = {row_key(r): r for r in res.rows}
        for pod in self.node.pods.values():
            text = out(pod.nsenter(["ss", "-tanpH"]))
            groups = {}
            listening = {endpoint(line.split()[3])[1] for line in text.splitlines() if line.startswith("LISTEN")}
            for line in text.splitlines():
                f = line.split()
                if len(f) < 5 or f[0] == "LISTEN":
                    continue
                (laddr, lport), (raddr, rport) = endpoint(f[3]), endpoint(f[4])
                if lport in listening:
                    continue
                names = groups.setdefault((laddr, raddr, rport), set())
                for pid in re.findall(r"pid=(\d+)", line):
                    names.add(self.container_of(pod, int(pid)))
            for (src, dst, dport), names in groups.items():
                key = ("netns", pod.netns, src, dst, dport, "tcp")
                want = next(iter(names)) if len(names) == 1 else None
                row = rows.get(key)
                if want:
                    named.append(f"{pod.name}/{want} -> {dst}:{dport}")
                if row is not None and row.get("container") != want:
                    problems.append(f"{describe_key(key)}: container {row.get('container')!r}, expected {want!r} "
                                    f"(owners: {sorted(map(str, names)) or 'none'})")
        if len(named) < 2:
            problems.append(f"expected pod A's and pod C's client containers to hold connections, ss -p shows {named}")
        return problems

    @staticmethod
    def container_of(pod, pid):
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                text = f.read()
        except OSError:
            return None
        return next((name for name, cid in pod.containers.items() if cid in text), None)

    def table_view(self):
        obs = self.observe([])
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        budgets, counters, header, extra = parse_table(res.stdout)
        if [h for h in header if h in TABLE_HEADER] != TABLE_HEADER:
            problems.append(f"header: expected {TABLE_HEADER} in this order, got {header}")
        if not budgets:
            problems.append(f"no budget lines in: {res.stdout[:300]!r}")
        n = self.node
        by_pod = {p.name: p for p in n.pods.values()}
        seen = set()
        for line in budgets:
            pct = line.get("used_pct")
            if pct is None:
                problems.append(f"no USED% in {line['text']!r}")
                continue
            if (pct >= MARK_PCT) != bool(line["mark"]):
                problems.append(f"{'unmarked' if not line['mark'] else 'marked'} line at {pct}%: {line['text']!r}")
            key = None
            # DESTINATION may carry a name after the address: `198.18.67.1:80 (svc → 1 backend)`.
            dst, _, dport = (line["DESTINATION"].split() or [""])[0].rpartition(":")
            scope = re.fullmatch(r"(\w+)(?: zone (\d+))?", line["SCOPE"])
            proto = line.get("PROTO", "tcp")
            if not scope or not dport.isdigit():
                problems.append(f"unreadable SCOPE or DESTINATION: {line['text']!r}")
            elif scope.group(1) == "netns" and line["POD"] in by_pod:
                key = ("netns", by_pod[line["POD"]].netns, line["SOURCE"], dst, int(dport), proto)
            elif scope.group(1) == "snat" and line["SOURCE"] == portnode.NAT_ADDR:
                key = ("snat", n.node_inode, int(scope.group(2) or 0), line["SOURCE"], dst, int(dport), proto)
            if key is None or (key not in obs.exp_before and key not in obs.exp_after):
                continue
            seen.add(key)
            b, a = obs.exp_before.get(key), obs.exp_after.get(key)
            want = {k: v for k, v in (b or a).items() if k in ("in_use", "available", "next_free_s")}
            found = compare(line, *(({k: e[k] for k in want} if e else None) for e in (b, a)))
            if found:
                problems.append(f"{describe_key(key)}: " + "; ".join(found) + f"\n  line: {line['text']!r}")
        for key in obs.exp_before:
            if key[0] in ("netns", "snat") and key in obs.exp_after and key not in seen \
                    and (key[0] == "snat" or key[1] in {p.netns for p in n.pods.values()}):
                problems.append(f"no line for {describe_key(key)}")
        stats_b = obs.exp_before[("conntrack", n.node_inode)]
        stats_a = obs.exp_after[("conntrack", n.node_inode)]
        mine = [c for c in counters if c.get("NETNS") == str(n.node_inode)]
        if len(mine) != 1:
            problems.append(f"expected one conntrack line for netns {n.node_inode}, got {mine}")
        else:
            row = {k.lower(): int(v) for k, v in mine[0].items() if k.lower() in COUNTERS and v.isdigit()}
            found = compare(row, stats_b, stats_a)
            if found:
                problems.append(f"conntrack counters of netns {n.node_inode}: " + "; ".join(found))
        self.check("table: columns, every budget line of the test as the kernel's tools say, a mark on every "
                   "line at or above 80% and on no other, the conntrack counters"
                   + (f" (extra columns: {' '.join(extra)})" if extra else ""), problems)

    def pod_filter(self):
        c = self.node.pods["C"]
        obs = self.observe(["--format", "json", "--pod", c.name])
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        for row in res.rows:
            pods = {s.get("pod") for s in row.get("sources") or [] if isinstance(s, dict)}
            if row.get("pod") != c.name and c.name not in pods and row.get("scope") != "conntrack":
                problems.append(f"not pod {c.name}'s: {compact(row)}")
        problems += self.compare_all(obs, {"netns"}, inodes={c.netns})
        self.check(f"--pod {c.name}: only that pod's rows, its budgets as without the filter", problems)

        a = self.node.pods["A"]
        obs = self.observe(["--format", "json", "--namespace", a.namespace])
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        for row in res.rows:
            namespaces = {s.get("namespace") for s in row.get("sources") or [] if isinstance(s, dict)}
            if row.get("namespace") != a.namespace and a.namespace not in namespaces \
                    and row.get("scope") != "conntrack":
                problems.append(f"not namespace {a.namespace}'s: {compact(row)}")
        problems += self.compare_all(obs, {"netns"}, inodes={a.netns})
        self.check(f"--namespace {a.namespace}: only its pods' rows", problems)

    def top(self):
        obs = self.observe(["--format", "json", "--top", "1"])
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        budgets = [r for r in res.rows if r.get("scope") != "conntrack"]
        if len(budgets) != 1:
            problems.append(f"expected 1 budget row, got {len(budgets)}")
        elif not number(budgets[0].get("used_pct")) or budgets[0]["used_pct"] < 100:
            problems.append(f"expected a row at 100% (pod C's is), got {compact(budgets[0])}")
        scopes = [r.get("scope") for r in res.rows]
        if scopes[:1] == ["conntrack"] or "conntrack" in scopes and scopes[scopes.index("conntrack"):].count("conntrack") \
                != len(scopes) - scopes.index("conntrack"):
            problems.append(f"the conntrack rows do not follow the budgets: scopes {scopes}")
        if ("conntrack", self.node.node_inode) not in {row_key(r) for r in res.rows}:
            problems.append(f"no conntrack row for the node namespace {self.node.node_inode}")
        self.check("--top 1: the fullest row only, then the conntrack counters", problems)

    def state_filter(self):
        """--state picks the connect() budgets holding a socket in that state."""
        obs = self.observe(["--format", "json", "--state", "time-wait"])
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        mine = {p.netns for p in self.node.pods.values()}
        got = {row_key(r) for r in res.rows if r.get("scope") == "netns" and r.get("netns") in mine}
        want = {k for k, e in obs.exp_before.items() if k[0] == "netns" and "TIME_WAIT" in e["states"]}
        after = {k for k, e in obs.exp_after.items() if k[0] == "netns" and "TIME_WAIT" in e["states"]}
        if got != want and got != after:
            problems.append(f"budgets of the test's pods: {sorted(map(describe_key, got))}, the ones holding a "
                            f"TIME_WAIT: {sorted(map(describe_key, want))}")
        problems += [f"no TIME_WAIT in {compact(r)}" for r in res.rows
                     if r.get("scope") == "netns" and "TIME_WAIT" not in (r.get("states") or {})]
        for row in res.rows:
            key = row_key(row)
            if key in want:
                found = compare(row, obs.exp_before.get(key), obs.exp_after.get(key))
                if found:
                    problems.append(f"{describe_key(key)}: " + "; ".join(found))
        self.check("--state time-wait: the budgets holding a TIME_WAIT, their numbers whole", problems)

    def remote_filter(self):
        dest = f"{SHARED[0]}:{SHARED[1]}"
        obs = self.observe(["--format", "json", "--remote", dest])
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        problems += [f"not towards {dest}: {compact(r)}" for r in res.rows
                     if r.get("scope") != "conntrack" and (r.get("dst_addr"), r.get("dst_port")) != SHARED]
        wanted = {"netns", "snat"}
        rows = {row_key(r): r for r in res.rows}
        for key in obs.exp_before:
            if key[0] in wanted and key in obs.exp_after and (key[3:5] if key[0] == "netns" else key[4:6]) == SHARED:
                if key[0] == "netns" and key[1] not in {p.netns for p in self.node.pods.values()}:
                    continue
                if key not in rows:
                    problems.append(f"no row for {describe_key(key)}")
                else:
                    found = compare(rows[key], obs.exp_before[key], obs.exp_after[key])
                    if found:
                        problems.append(f"{describe_key(key)}: " + "; ".join(found))
        self.check(f"--remote {dest}: the budgets towards it only (pods A and B, their SNAT)", problems)

    def record_replay(self):
        path = os.path.join(self.node.workdir, "ports-recording.json")
        live = run_cnetstat([self.binary, "--record", path, "--ports", "--format", "json"])
        replayed = run_cnetstat([self.binary, "--replay", path, "--ports", "--format", "json"])
        problems = [r.describe() for r in (live, replayed) if r.returncode != 0]
        if live.stdout != replayed.stdout:
            diff = next((f"line {i + 1}: {a!r} vs {b!r}" for i, (a, b) in
                         enumerate(zip(live.stdout.splitlines(), replayed.stdout.splitlines())) if a != b),
                        f"{len(live.rows)} rows live, {len(replayed.rows)} replayed")
            problems.append(f"replay differs from the live run: {diff[:600]}")
        if not any(r.get("scope") == "snat" for r in replayed.rows):
            problems.append("no snat row in the replay")
        self.check("--record then --replay --ports: the same rows, SNAT and conntrack included", problems)

    def external(self):
        obs = self.observe(["--format", "json", "--snat-ports", str(EXTERNAL_N)], external=EXTERNAL_N)
        res = obs.result
        problems = schema_problems(res)
        problems += self.compare_all(obs, {"external"})
        for row in res.rows:
            if row.get("scope") == "external" and row.get("available") != EXTERNAL_N:
                problems.append(f"available {row.get('available')}, expected {EXTERNAL_N}: {compact(row)}")
        if not any(r.get("scope") == "netns" for r in res.rows):
            problems.append("no netns rows next to the external ones")
        service = next((r for r in res.rows if row_key(r) == ("external", *SERVICE, "tcp")), None)
        if service and service.get("in_use"):
            dnat = [e for e in obs.before.snat if (e.orig[1], e.orig[3]) == SERVICE]
            problems.append(
                f"the pods' {len(dnat)} flows to the Service {SERVICE[0]}:{SERVICE[1]} leave the node DNATed to "
                f"{BACKEND[0]}:{BACKEND[1]} (conntrack -L: orig dst {SERVICE[0]}:{SERVICE[1]}, reply src "
                f"{BACKEND[0]}:{BACKEND[1]}) and count there; the Service row counts them a second time "
                f"(in_use {service['in_use']})")
        self.check(f"--snat-ports {EXTERNAL_N}: one external row per destination, each flow once "
                   "(pod sockets and SNAT entries)", problems)

    def without_net_admin(self):
        def wrap(argv):
            return ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"] + argv

        obs = self.observe(["--format", "json"], wrap=wrap)
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        # The Service is known by conntrack's DNAT entries only, which need CAP_NET_ADMIN.
        problems += self.compare_all(obs, {"netns"}, ignore=("remote_kind", "remote_endpoints"))
        # One cause, one warning: the conntrack tables it cannot read, naming the capability.
        warnings = [ln for ln in res.stderr.splitlines() if "NET_ADMIN" in ln.upper() or "conntrack" in ln.lower()]
        if len(warnings) != 1:
            problems.append(f"expected one warning, about conntrack and naming CAP_NET_ADMIN, got {len(warnings)}:"
                            + "".join(f"\n  {w[:300]}" for w in warnings))
        elif "conntrack" not in warnings[0].lower() or "NET_ADMIN" not in warnings[0].upper():
            problems.append(f"the warning does not name conntrack and CAP_NET_ADMIN: {warnings[0]!r}")
        self.check("without CAP_NET_ADMIN: the netns rows as root sees them, one warning about conntrack",
                   problems)

    def run_all(self):
        self.json_view()
        self.table_view()
        self.pod_filter()
        self.top()
        self.state_filter()
        self.remote_filter()
        self.external()
        self.record_replay()
        self.without_net_admin()
        self.check(f"every run within {WINDOW_S:.0f}s of the churn, before a pod TIME_WAIT expires", self.late)


def parse_table(text):
    """The budget lines and the conntrack counter lines of the table, cut at
    the columns of their header; a budget line's USED% cell is its percentage
    and, where the table marks it, the mark."""
    sections = [s for s in re.split(r"\n\s*\n", text.strip("\n")) if s.strip()]
    budgets, counters, header, extra = [], [], [], []
    for section in sections:
        lines = section.splitlines()
        head = lines[0]
        names = head.split()
        starts = [m.start() for m in re.finditer(r"\S+", head)]

        def cells(line):
            return {name: line[s: starts[i + 1] if i + 1 < len(starts) else None].strip()
                    for i, (name, s) in enumerate(zip(names, starts))}

        if "SCOPE" in names and not header:
            header = names
            extra = [name for name in names if name not in TABLE_HEADER]
            for line in lines[1:]:
                c = cells(line)
                used = c.get("USED%", "").split()
                c["text"] = line
                c["used_pct"] = float(used[0].rstrip("%")) if used and re.fullmatch(r"[\d.]+%?", used[0]) else None
                c["mark"] = " ".join(used[1:])
                for k in ("IN_USE", "AVAILABLE"):
                    c[k.lower()] = int(c[k]) if c.get(k, "").isdigit() else c.get(k)
                free = c.get("NEXT_FREE", "-")
                c["next_free_s"] = float(free.rstrip("s")) if re.fullmatch(r"[\d.]+s", free) else None
                budgets.append(c)
        elif "INSERT_FAILED" in names:
            counters += [cells(line) for line in lines[1:]]
    return budgets, counters, header, extra


def print_expected(node):
    reading = read(node)
    exp = expected_rows(reading, node)
    exp.update(expected_external(reading, EXTERNAL_N))
    for key in sorted(exp, key=str):
        fields = dict(exp[key])
        if "sources" in fields:
            fields["sources"] = _sources_text(fields["sources"])
        for k in ("namespace", "pod"):
            if k in fields:
                fields[k] = " or ".join(map(str, fields[k]))
        print(f"# expect {describe_key(key)}: {json.dumps(fields)}")


# ---------------------------------------------------------------- entry points


def scenario(binary, report, images=None):
    """Builds the node, fills the budgets, runs every check, removes it all.
    `images`: a portnode.Images the caller already imported, else this run imports its own."""
    cleanup = Cleanup()
    started = time.monotonic()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        portnode.remove_dead_runs()
        workdir = tempfile.mkdtemp(prefix=f"{portnode.PREFIX}{portnode.RUN}-", dir=portnode.WORK_PARENT)
        cleanup.push("work dir", lambda: run(["rm", "-rf", workdir], check=False))
        if images is None:
            images = portnode.build_images(cleanup, workdir)
            print(f"# ports: images imported ({time.monotonic() - started:.1f}s)", flush=True)
        node = Node(cleanup, workdir, images)
        node.build_network()
        node.build_pods()
        for key in ("A", "B", "C"):
            p = node.pods[key]
            print(f"# ports: {p.label} {p.namespace}/{p.name} {p.addr} netns {p.netns}", flush=True)
        print(f"# ports: node built ({time.monotonic() - started:.1f}s); node netns {node.node_inode}", flush=True)
        node.fill_full_budget()
        churned_at = node.churn()
        print(f"# ports: churn done in {node.facts['churned_in_s']:.1f}s: {node.facts}", flush=True)
        s = Scenario(binary, report, node, churned_at)
        s.setup()
        if binary is None:
            print_expected(node)
        else:
            s.run_all()
        print(f"# ports: checks done {time.monotonic() - churned_at:.1f}s after the churn", flush=True)
    except KeyboardInterrupt as e:
        report.check("ports: run", [f"interrupted ({str(e) or 'Ctrl-C'}); cleaning up"])
    except CommandError as e:
        report.check("ports: setup", [str(e)])
    except Exception:
        report.check("ports: harness", [traceback.format_exc()])
    finally:
        hold = float(os.environ.get("E2E_HOLD", "0") or 0)
        if hold:
            print(f"# E2E_HOLD: keeping the ports node for {hold:.0f}s", flush=True)
            try:
                time.sleep(hold)
            except KeyboardInterrupt:
                pass
        for sig in saved:
            signal.signal(sig, signal.SIG_IGN)
        cleanup.run_all()
        left = portnode.this_run_objects()
        portnode.remove_objects(left)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        report.check("ports: cleanup left nothing behind",
                     [f"left behind (now removed): {left}"] if left else [])
        print(f"# ports: {time.monotonic() - started:.0f}s in all", flush=True)


def main(argv):
    setup_only = "--setup-only" in argv
    args = [a for a in argv if a != "--setup-only"]
    if (setup_only and args) or (not setup_only and len(args) != 1) or any(a.startswith("-") for a in args):
        print(__doc__, file=sys.stderr)
        return 2
    binary = None if setup_only else os.path.abspath(args[0])
    reasons = missing_prerequisites() + missing_tools()
    if binary and "--ports" not in run_cnetstat([binary, "--help"]).stdout:
        reasons.append(f"{binary} has no --ports")
    if reasons:
        ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
        print(("FAIL" if ci else "SKIP") + " ports scenario: " + "; ".join(reasons))
        return 1 if ci else 0

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    report = Report()
    scenario(binary, report)
    print(report.summary_line())
    return 0 if report.failed == 0 else 1


TOOLS = ("conntrack", "nft", "iptables-nft", "ss", "setpriv", "sysctl", "nsenter")


def missing_tools():
    """What this scenario needs beyond the main suite's prerequisites."""
    return [f"{t} is not installed (apt: conntrack nftables iptables iproute2 util-linux procps)"
            for t in TOOLS if shutil.which(t) is None]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
