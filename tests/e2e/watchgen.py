#!/usr/bin/env python3
"""The processes of the --watch scenario (watch.py), each started by it and
killed by it: they enter the network namespace given and, for a pod's
containers, join the container's cgroup in every hierarchy first, so that the
kernel, /proc and their sockets' cgroup ids all say they are that container.

  watchgen.py serve --netns FILE --listen ADDR:PORT,...
      accepts on every ADDR:PORT, reads each connection until its peer
      closes, then closes it (so TIME_WAITs stay on the clients' side)
  watchgen.py churn --netns FILE --cgroups DIR:... --to ADDR:PORT --rate N --log FILE
      opens and closes a connection N times a second (the client closes
      first: each leaves a TIME_WAIT here); logs `<unix time> ok|fail` per
      attempt, the time taken just before connect()
  watchgen.py hold --netns FILE --cgroups DIR:... --to ADDR:PORT --count N --every S --log FILE
      holds N connections; every S seconds closes the oldest and opens a new
      one; logs `open|close <unix time> <local port>`

Python 3 standard library only. Ends on SIGTERM or when its parent dies.
"""

import argparse
import ctypes
import os
import selectors
import signal
import socket
import sys
import time

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)


def enter(netns, cgroups):
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    pid = str(os.getpid())
    for d in cgroups:
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(pid)
    fd = os.open(netns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({netns}): {os.strerror(err)}")
    finally:
        os.close(fd)


def endpoint(text):
    addr, _, port = text.rpartition(":")
    return addr, int(port)


def serve(args):
    sel = selectors.DefaultSelector()
    for text in args.listen.split(","):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(endpoint(text))
        listener.listen(4096)
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ, "listener")
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            if key.data == "listener":
                while True:
                    try:
                        conn, _ = key.fileobj.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            try:
                data = key.fileobj.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()


def churn(args, log):
    to = endpoint(args.to)
    start = time.monotonic()
    n = 0
    print("ready", flush=True)
    while True:
        n += 1
        wall = time.time()
        try:
            s = socket.create_connection(to, timeout=2)
            s.close()
            log.write(f"{wall:.6f} ok\n")
        except OSError:
            log.write(f"{wall:.6f} fail\n")
        log.flush()
        wait = start + n / args.rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)


def hold(args, log):
    to = endpoint(args.to)
    held = []

    def open_one():
        s = socket.create_connection(to, timeout=2)
        log.write(f"open {time.time():.6f} {s.getsockname()[1]}\n")
        held.append(s)

    for _ in range(args.count):
        open_one()
    log.flush()
    print("ready", flush=True)
    while True:
        time.sleep(args.every)
        oldest = held.pop(0)
        port = oldest.getsockname()[1]
        oldest.close()
        log.write(f"close {time.time():.6f} {port}\n")
        open_one()
        log.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("serve", "churn", "hold"))
    ap.add_argument("--netns", required=True)
    ap.add_argument("--cgroups", default="")
    ap.add_argument("--listen")
    ap.add_argument("--to")
    ap.add_argument("--rate", type=float)
    ap.add_argument("--count", type=int)
    ap.add_argument("--every", type=float)
    ap.add_argument("--log")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    enter(args.netns, [d for d in args.cgroups.split(":") if d])
    if args.mode == "serve":
        serve(args)
    with open(args.log, "a") as log:
        (churn if args.mode == "churn" else hold)(args, log)


if __name__ == "__main__":
    main()
