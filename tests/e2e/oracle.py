#!/usr/bin/env python3
"""A stand-in for cnetstat for `run.py --self-test`: it answers from what the
test itself knows (the owners it gave its containers, in the file named by
E2E_ORACLE_STATE) and from the kernel's tables, so every check can be shown to
pass on right answers. It knows only the test's own namespaces and is no
reference implementation."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kernel  # noqa: E402

KEYS = [
    "namespace", "pod", "container", "container_id", "runtime", "pid", "process", "proto",
    "local_addr", "remote_addr", "local_port", "remote_port", "state", "netns", "inode", "uid",
    "attribution",
]
SS_STATES = {name.lower().replace("_", "-"): name for name in kernel.STATES.values()}
SS_STATES.update({"fin-wait-1": "FIN_WAIT1", "fin-wait-2": "FIN_WAIT2"})


def usage(message):
    print(f"oracle: {message}\nUsage: oracle [-a|-l] [--format table|json] ...", file=sys.stderr)
    sys.exit(2)


def parse(argv):
    opts = {"all": False, "listening": False, "format": "table", "summary": False, "top": None,
            "state": None, "namespace": None, "pod": None, "container": None}
    it = iter(argv)
    for arg in it:
        if arg in ("-a", "--all"):
            opts["all"] = True
        elif arg in ("-l", "--listening"):
            opts["listening"] = True
        elif arg in ("--summary", "--summaryStatistics"):
            opts["summary"] = True
        elif arg in ("-h", "--help"):
            print("Usage: oracle [OPTIONS]")
            sys.exit(0)
        elif arg in ("-V", "--version"):
            print("oracle (e2e self-test)")
            sys.exit(0)
        elif arg in ("--format", "--top", "--state", "--namespace", "--pod", "--container",
                     "--proc", "--root", "--backend"):
            value = next(it, None)
            if value is None:
                usage(f"{arg} needs a value")
            if arg == "--format" and value not in ("table", "json"):
                usage(f"--format: unknown format {value}")
            if arg == "--top":
                if not value.isdigit():
                    usage(f"--top: not a number: {value}")
                value = int(value)
            if arg == "--state":
                try:
                    value = {SS_STATES.get(v.lower(), v.upper()) for v in value.split(",")}
                except AttributeError:
                    usage(f"--state: {value}")
                if not value <= set(kernel.STATES.values()):
                    usage(f"--state: unknown state in {arg} {','.join(sorted(value))}")
            opts[arg[2:]] = value
        else:
            usage(f"unknown option {arg}")
    return opts


def owner_of(pid, workload):
    cgroup = kernel.cgroup_text(pid)
    for role in ("server", "client"):
        owner = workload.get(role)
        if owner and owner["container_id"] in cgroup:
            return owner
    return None


ROOT = "/"


def rows_of(workload, holders):
    rows = []
    if workload["pid"] is not None:
        socks = kernel.sockets_of_pid(workload["pid"])
    else:
        # Inside the root: /var/run is a link to /run, which may be private here.
        path = workload["netns_file"].replace("/var/run/", "/run/", 1)
        socks = kernel.sockets_of_netns_file(os.path.join(ROOT, path.lstrip("/")))
    for ks in socks:
        row = dict.fromkeys(KEYS)
        row.update(
            proto=ks.proto, local_addr=str(ks.local_addr), remote_addr=str(ks.remote_addr),
            local_port=ks.local_port, remote_port=ks.remote_port, state=ks.state,
            netns=ks.netns, inode=ks.inode, uid=ks.uid, attribution="none",
        )
        pids = holders.get(ks.inode, {}) if ks.inode else {}
        if pids:
            pid = min(pids)
            row.update(pid=pid, process=pids[pid], attribution="process")
            owner = owner_of(pid, workload)
            if owner:
                row.update({k: owner[k] for k in ("namespace", "pod", "container", "container_id", "runtime")})
        elif workload["timewaits"] == "netns":
            row.update(namespace=workload["namespace"], pod=workload["pod"],
                       runtime=workload["runtime"], attribution="netns")
        rows.append(row)
    return rows


def main(argv):
    global ROOT
    opts = parse(argv)
    ROOT = opts.get("root") or "/"
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith("unix://") and not os.path.exists(docker_host[7:]):
        print(f"oracle: warning: Docker socket {docker_host[7:]}: not found", file=sys.stderr)
    with open(os.environ["E2E_ORACLE_STATE"]) as f:
        workloads = json.load(f)
    holders = kernel.socket_holders()
    rows = [r for w in workloads for r in rows_of(w, holders)]
    if opts["state"]:
        rows = [r for r in rows if r["state"] in opts["state"]]
    elif opts["listening"]:
        rows = [r for r in rows if r["state"] == "LISTEN"]
    elif not opts["all"]:
        rows = [r for r in rows if r["state"] != "LISTEN"]
    for key in ("namespace", "pod", "container"):
        if opts[key] is not None:
            rows = [r for r in rows if r[key] == opts[key]]
    if opts["summary"]:
        groups = {}
        for r in rows:
            key = (r["namespace"], r["pod"], r["container"], r["remote_addr"], r["remote_port"])
            g = groups.setdefault(key, {"count": 0, "states": {}})
            g["count"] += 1
            g["states"][r["state"]] = g["states"].get(r["state"], 0) + 1
        rows = [
            dict(zip(("namespace", "pod", "container", "remote_addr", "remote_port"), k), **g)
            for k, g in sorted(groups.items(), key=lambda kv: -kv[1]["count"])
        ]
    if opts["top"] is not None:
        rows = rows[: opts["top"]]
    if opts["format"] == "json":
        for r in rows:
            print(json.dumps(r))
    else:
        print("NAMESPACE POD CONTAINER PID PROCESS PROTO LOCAL REMOTE STATE")
        for r in rows:
            print(" ".join(str(r.get(k) if r.get(k) is not None else "-") for k in
                           ("namespace", "pod", "container", "pid", "process", "proto",
                            "local_addr", "remote_addr", "state")))


if __name__ == "__main__":
    main(sys.argv[1:])
