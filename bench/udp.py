#!/usr/bin/env python3
"""UDP benchmark: what SOCKETS UDP sockets cost cnetstat with UDP on, next to what as many TCP
sockets cost it, measured in one run, with `ss -tuan` in every namespace as the reference.

Usage (root): bench/udp.py path/to/cnetstat [--pods 10] [--sockets 10000] [--reps 9]

It starts PODS benchmark pods the way bench/run.py does (a network namespace each, pause,
server and client processes in kubelet-shaped cgroups, one connection each) and in each pod a
holder process (bench/holder.py) in the client container's cgroups. The load takes three
states:

  base   the pods alone
  udp    + SOCKETS UDP sockets over the pods: half unconnected (bound to ports the kernel
         picks), half connected from fresh ports (as DNS queries are)
  tcp    + SOCKETS TCP sockets instead (connections, both ends held)

Each round visits every state, in rotating order, and runs every tool once in each, in
rotating order too, so that what else the machine does weighs on all alike; --reps rounds
after an unrecorded warm-up round. Tools: `ss -tuan` and `ss -tan` in every netns (lsns +
nsenter, no owners), `cnetstat --format json` (TCP, the default) and `cnetstat -t -u --format
json` (UDP on). TCP sockets are closed with a reset, so no TIME_WAIT outlives its state.

The requirement (issue 11): with UDP on, SOCKETS UDP sockets add at most what SOCKETS TCP sockets
add, that is (cnetstat -t -u in udp) - (cnetstat -t -u in base) <= (cnetstat in tcp) - (cnetstat
in base), medians; the last line says whether it held. Everything is named and cleaned up as
bench/run.py names and cleans its own.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run as bench  # noqa: E402

HOLDER_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "holder.py")
BENCH_ROW = f'"namespace":"{bench.K8S_NAMESPACE}"'


class Holder:
    """bench/holder.py in one pod's network namespace and client container."""

    def __init__(self, pod):
        argv = [sys.executable, HOLDER_PY, "--netns", os.path.join(bench.NETNS_DIR, pod.netns),
                "--cgroups", ":".join(pod.cgroup_dirs("client"))]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, command, answer):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        got = self.proc.stdout.readline().strip()
        if got != answer:
            raise RuntimeError(f"holder: `{command}` answered {got!r}, expected {answer!r}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def count_json(data):
    """Rows of `--format json`, and of those the bench pods' UDP and TCP ones."""
    lines = data.decode().splitlines()
    bench_rows = [line for line in lines if BENCH_ROW in line]
    return {
        "rows": len(lines),
        "udp": sum(1 for line in bench_rows if '"proto":"udp' in line),
        "tcp": sum(1 for line in bench_rows if '"proto":"tcp' in line),
    }


def count_ss(data):
    return {"rows": sum(1 for line in data.split(b"\n") if line and not line.startswith(b"Netid")
                        and not line.startswith(b"State"))}


def tools(binary):
    every_netns = bench.SS_IN_EVERY_NETNS
    return [
        ("ss -tuan", ["bash", "-c", every_netns.format(flags="-tuan")], count_ss),
        ("ss -tan", ["bash", "-c", every_netns.format(flags="-tan")], count_ss),
        ("cnetstat --format json", [binary, "--format", "json"], count_json),
        ("cnetstat -t -u --format json", [binary, "-t", "-u", "--format", "json"], count_json),
    ]


STATES = ("base", "udp", "tcp")


def rotated(items, rnd):
    return items[rnd % len(items):] + items[:rnd % len(items)]


def enter_state(holders, state, per_pod):
    for holder in holders:
        holder.ask("close", "closed")
        if state != "base":
            holder.ask(f"{state} {per_pod}", f"{state} {per_pod}")


def measure(holders, per_pod, toolset, reps, workdir):
    """Per state, the median wall seconds of each tool and the counts of its last run."""
    walls = {state: {label: [] for label, _, _ in toolset} for state in STATES}
    counts = {state: {} for state in STATES}
    for rnd in range(reps + 1):
        for state in rotated(list(STATES), rnd):
            enter_state(holders, state, per_pod)
            for label, argv, counter in rotated(toolset, rnd):
                out = os.path.join(workdir, "out")
                err = os.path.join(workdir, "err")
                result = bench.run_measured(argv, out, err)
                if label.startswith("cnetstat") and result.status != 0:
                    with open(err) as f:
                        raise RuntimeError(f"{label} in {state}: exit {result.status}: {f.read()[-300:]}")
                with open(out, "rb") as f:
                    counts[state][label] = counter(f.read())
                if rnd > 0:
                    walls[state][label].append(result.wall)
    medians = {state: {label: statistics.median(w) for label, w in tools.items()} for state, tools in walls.items()}
    return medians, counts


def report(medians, counts, sockets, pods):
    states = list(medians)
    labels = list(medians[states[0]])
    head = ["tool"] + [f"{s} s (x ss -tuan)" for s in states]
    rows = []
    for label in labels:
        cells = [label]
        for state in states:
            ss = medians[state]["ss -tuan"]
            cells.append(f"{medians[state][label]:.3f} ({medians[state][label] / ss:.2f}x)")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for row in [head] + rows:
        bench.log("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    udp_on, tcp = "cnetstat -t -u --format json", "cnetstat --format json"
    for state in states:
        seen = ", ".join(f"{label}: {' '.join(f'{k} {v}' for k, v in counts[state][label].items())}"
                         for label in labels)
        bench.log(f"  rows in {state}: {seen}")
    problems = []
    if counts["udp"][udp_on]["udp"] != sockets // 2:
        problems.append(f"with UDP on, {counts['udp'][udp_on]['udp']} UDP rows of the bench pods, "
                        f"expected the {sockets // 2} connected ones")
    if counts["tcp"][tcp]["tcp"] != sockets + 2 * pods:
        problems.append(f"{counts['tcp'][tcp]['tcp']} TCP rows of the bench pods in tcp, expected "
                        f"{sockets + 2 * pods}")
    udp_cost = medians["udp"][udp_on] - medians["base"][udp_on]
    tcp_cost = medians["tcp"][tcp] - medians["base"][tcp]
    flag_cost = medians["base"][udp_on] - medians["base"][tcp]
    bench.log("")
    bench.log(f"  {sockets} UDP sockets add {udp_cost * 1000:.1f} ms to cnetstat -t -u "
              f"(udp - base); {sockets} TCP sockets add {tcp_cost * 1000:.1f} ms to cnetstat "
              f"(tcp - base); -u on the base load costs {flag_cost * 1000:.1f} ms")
    for problem in problems:
        bench.log(f"  MISMATCH: {problem}")
    verdict = "held" if udp_cost <= tcp_cost else "NOT held"
    bench.log(f"  requirement (UDP adds at most what TCP adds): {verdict}")
    return udp_cost <= tcp_cost and not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("--pods", type=int, default=10)
    ap.add_argument("--sockets", type=int, default=10000, help="UDP sockets, then TCP sockets")
    ap.add_argument("--reps", type=int, default=9, help="timed rounds (default %(default)s)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/udp.py needs root: it creates network namespaces and cgroups.")
    if args.pods < 1 or args.sockets % (2 * args.pods) or args.reps < 1:
        sys.exit("--sockets must be a multiple of 2 x --pods, and --pods and --reps at least 1")
    binary = os.path.abspath(args.binary)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    bench.clean_node()
    workdir = tempfile.mkdtemp(prefix=bench.PREFIX, dir=bench.WORK_PARENT)
    per_pod = args.sockets // args.pods
    pods, holders = [], []
    try:
        bench.log(f"UDP benchmark: {binary}, {os.cpu_count()} CPUs, kernel {os.uname().release}; "
                  f"{args.pods} pods, {args.sockets} sockets, {args.reps} rounds per state")
        pods = bench.start_pods(args.pods, 3, 0.5, workdir)
        for pod in pods:
            pod.expect("ready")
        holders = [Holder(pod) for pod in pods]
        medians, counts = measure(holders, per_pod, tools(binary), args.reps, workdir)
        bench.log("")
        bench.log("Median wall seconds, and the ratio to ss -tuan in every netns in the same state:")
        held = report(medians, counts, args.sockets, args.pods)
    except KeyboardInterrupt:
        bench.log("interrupted; cleaning up")
        held = False
    finally:
        for holder in holders:
            holder.stop()
        bench.clean_node(pods)
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
