#!/usr/bin/env python3
"""Started by portnode.py, never by hand: a process of a pod's container that
holds sockets for the --ports scenario. It joins the cgroups of a process of
that container (as `runc exec` would place it) and the pod's network
namespace, so cnetstat sees its sockets as the container's.

Usage: portholder.py --cgroups-of PID --netns PATH
Commands on stdin, one answer line each on stdout:
  bind PORT            ok                    a bound-only socket (bind, no listen)
  hold HOST PORT N     ok N                  N connections, held open
  try HOST PORT SECS   connected|timeout|<errno name>   one more connection attempt
It exits on EOF or `quit`, and dies with its parent.
"""

import argparse
import ctypes
import errno
import os
import signal
import socket
import sys

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)


def cgroup_mounts():
    """(fstype, mount point, super options) of every cgroup hierarchy."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = (right.split() + ["", "", ""])[:3]
            if fstype in ("cgroup", "cgroup2"):
                mounts.append((fstype, left.split()[4], set(options.split(","))))
    return mounts


def join_cgroups_of(pid):
    mounts = cgroup_mounts()
    me = str(os.getpid())
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    for line in lines:
        _hid, controllers, path = line.split(":", 2)
        wanted = set(filter(None, controllers.split(",")))
        for fstype, point, options in mounts:
            if (not wanted and fstype == "cgroup2") or (wanted and fstype == "cgroup" and wanted <= options):
                procs = os.path.join(point, path.lstrip("/"), "cgroup.procs")
                with open(procs, "w") as out:
                    out.write(me)
                break


def enter_netns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cgroups-of", type=int, required=True)
    ap.add_argument("--netns", required=True)
    args = ap.parse_args()
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    join_cgroups_of(args.cgroups_of)
    enter_netns(args.netns)
    held = []
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "bind":
            s = socket.socket()
            s.bind(("0.0.0.0", int(cmd[1])))
            held.append(s)
            answer = "ok"
        elif cmd[0] == "hold":
            for _ in range(int(cmd[3])):
                s = socket.create_connection((cmd[1], int(cmd[2])), timeout=5)
                held.append(s)
            answer = f"ok {cmd[3]}"
        elif cmd[0] == "try":
            s = socket.socket()
            s.settimeout(float(cmd[3]))
            try:
                s.connect((cmd[1], int(cmd[2])))
                answer = "connected"
            except (socket.timeout, TimeoutError):
                answer = "timeout"
            except OSError as e:
                answer = errno.errorcode.get(e.errno, str(e.errno))
            finally:
                s.close()
        else:
            answer = f"unknown command {cmd[0]}"
        print(answer, flush=True)


if __name__ == "__main__":
    main()
