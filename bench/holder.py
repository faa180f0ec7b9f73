#!/usr/bin/env python3
"""Holds the UDP or TCP sockets of bench/udp.py in one benchmark pod. Started by it, never by hand.

It joins a pod's network namespace and its client container's cgroups (so cnetstat must look
up its sockets' owner as any container's), then answers one command per line on stdin:

  udp N    N UDP sockets: half unconnected on ports the kernel picks (bind to port 0), half
           connected to one unconnected socket on 127.0.0.1:5353 from fresh ports, as DNS
           queries are; prints `udp N`
  tcp N    N TCP sockets: N/2 connections to a listener on 127.0.0.1:9090, both ends held;
           prints `tcp N`
  close    closes every socket it made (listener and server sockets included), TCP ones with
           a reset, so that no TIME_WAIT outlives them; prints `closed`

It exits on EOF or `quit`, and dies with its parent.
"""

import argparse
import ctypes
import os
import resource
import signal
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def join_cgroups(dirs):
    for d in dirs:
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def udp_sockets(count):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 5353))
    held = [server]
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if i % 2:
            s.connect(("127.0.0.1", 5353))
        else:
            s.bind(("127.0.0.1", 0))
        held.append(s)
    return held


def tcp_sockets(count):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 9090))
    listener.listen(4096)
    held = [listener]
    for _ in range(count // 2):
        held.append(socket.create_connection(("127.0.0.1", 9090)))
        held.append(listener.accept()[0])
    return held


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--netns", required=True)
    ap.add_argument("--cgroups", required=True, help="cgroup dirs, ':'-separated")
    args = ap.parse_args()
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    enter_netns(args.netns)
    join_cgroups(args.cgroups.split(":"))
    held = []
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["udp"]:
            held += udp_sockets(int(words[1]))
            print(f"udp {words[1]}", flush=True)
        elif words[:1] == ["tcp"]:
            held += tcp_sockets(int(words[1]))
            print(f"tcp {words[1]}", flush=True)
        elif words == ["close"]:
            for s in held:
                if s.type == socket.SOCK_STREAM:
                    # Linger on, 0 s: close() resets the connection.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            held = []
            print("closed", flush=True)
        elif words == ["quit"]:
            break


if __name__ == "__main__":
    main()
