#!/usr/bin/env python3
"""One benchmark "pod": the processes of a Kubernetes pod, holding real TCP sockets.

Started by bench/run.py, never by hand. Shaped like a pod on a cgroupfs (v1) kubelet node:

  pause   holds the pod's network namespace and nothing else (the sandbox container);
  server  owns the listener and every accepted connection (an app container);
  client  owns the connecting ends and burns ephemeral ports: each `tw` command from
          run.py opens and closes connections, leaving TIME_WAIT sockets that no
          process owns (inode 0), as a busy client pod does.

Each process joins its own container cgroup /kubepods/burstable/pod<uid>/<64hex> in every
mounted hierarchy (the v1 controllers, and the v2 tree of a hybrid host, as runc does), so
/proc/<pid>/cgroup reads as it does under containerd or cri-dockerd with the cgroupfs driver.
All connections go over 127.0.0.1 inside the pod's namespace, so the socket count is exact.

Protocol on stdin/stdout (one line each): the client prints `ready <established>`,
then answers `tw` with `tw <TIME_WAIT count in this netns>`, answers
`udp N FIRST_PORT PORT ADDR,ADDR,...` (run.py's SNAT load, once the pod has an eth0) by
sending one datagram from each of the ports FIRST_PORT.. FIRST_PORT+N-1, in turn to each
address, with `udp N`, answers `churn RATE` with `churn RATE` and from then on opens and
closes RATE connections a second (each leaving a TIME_WAIT), and exits on `quit` or EOF.
"""

import argparse
import ctypes
import errno
import fcntl
import os
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40
LISTEN_PORT = 8080

libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    # If run.py is killed outright, the pod goes with it instead of holding sockets forever.
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


def detach_stdio():
    """In a forked child: die with the client, and leave run.py's pipes to the client alone."""
    die_with_parent()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)


def enter_netns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def loopback_up():
    # `ip netns add` leaves lo down; one ioctl is cheaper than exec'ing `ip` per pod.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING)
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, ifreq)


def set_sysctl(name, value):
    # /proc/sys/net is per network namespace: this writes the pod's copy only.
    with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
        f.write(str(value))


def join_cgroups(cgroup_dirs):
    pid = str(os.getpid())
    for d in cgroup_dirs:
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(pid)


def netns_tcp_counters():
    """TCP line of this namespace's sockstat: {'inuse': n, 'orphan': n, 'tw': n, ...}."""
    with open("/proc/thread-self/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()[1:]
                return {k: int(v) for k, v in zip(fields[::2], fields[1::2])}
    raise RuntimeError("no TCP line in /proc/thread-self/net/sockstat")


def run_pause(cgroup_dirs):
    join_cgroups(cgroup_dirs)
    while True:
        signal.pause()


def run_server(listener, cgroup_dirs, events_w):
    """Accept everything; close a connection when its peer closes (so the peer gets TIME_WAIT).

    Writes one byte to events_w per accept (b"a") and per close (b"c") so the client can
    wait for the server instead of sleeping.
    """
    join_cgroups(cgroup_dirs)
    listener.setblocking(False)
    ep = select.epoll()
    ep.register(listener.fileno(), select.EPOLLIN)
    conns = {}
    while True:
        for fd, _ in ep.poll():
            if fd == listener.fileno():
                accepted = 0
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    conns[conn.fileno()] = conn
                    ep.register(conn.fileno(), select.EPOLLIN)
                    accepted += 1
                if accepted:
                    os.write(events_w, b"a" * accepted)
                continue
            conn = conns.get(fd)
            if conn is None:
                continue
            try:
                data = conn.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionError:
                data = b""
            if not data:
                ep.unregister(fd)
                del conns[fd]
                conn.close()
                os.write(events_w, b"c")


def wait_for_server(events_r, kind, count, deadline):
    seen = 0
    while seen < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"server confirmed {seen} of {count} '{kind}' events")
        ready, _, _ = select.select([events_r], [], [], remaining)
        if ready:
            seen += os.read(events_r, 65536).count(kind.encode())


def make_time_waits(count, events_r):
    addr = ("127.0.0.1", LISTEN_PORT)
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(addr)
        s.close()
    wait_for_server(events_r, "c", count, time.monotonic() + 30)
    # The server's close makes our FIN_WAIT2 orphans TIME_WAIT; wait until none is left.
    deadline = time.monotonic() + 10
    while True:
        counters = netns_tcp_counters()
        if counters.get("orphan", 0) == 0 or time.monotonic() > deadline:
            return counters.get("tw", 0)
        time.sleep(0.01)


def churn(rate, events_r):
    """Connections at `rate` a second, for ever; the server's event bytes are read and
    dropped, so its pipe never fills."""

    def drain():
        while os.read(events_r, 65536):
            pass

    threading.Thread(target=drain, daemon=True).start()
    addr = ("127.0.0.1", LISTEN_PORT)
    start = time.monotonic()
    n = 0
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(addr)
        s.close()
        n += 1
        wait = start + n / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)


def send_udp_flows(count, first_port, port, addresses):
    """One datagram per flow, each from its own source port: as many conntrack entries
    where the pod's traffic is NATed. Sockets are closed at once; the entries stay."""
    for i in range(count):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("0.0.0.0", first_port + i))
            s.sendto(b"x", (addresses[i % len(addresses)], port))
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--netns", required=True, help="bind-mounted netns file, e.g. /run/netns/x")
    ap.add_argument("--established", type=int, required=True, help="ESTABLISHED pairs")
    ap.add_argument("--time-wait", type=int, required=True, help="TIME_WAITs per `tw` command")
    ap.add_argument("--pause-cgroups", required=True, help="cgroup dirs, ':'-separated")
    ap.add_argument("--server-cgroups", required=True)
    ap.add_argument("--client-cgroups", required=True)
    args = ap.parse_args()

    die_with_parent()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    needed = args.established + 64
    if hard < needed:
        sys.exit(f"pod.py: {needed} descriptors needed, hard RLIMIT_NOFILE is {hard}")

    enter_netns(args.netns)
    loopback_up()
    # tcp_tw_reuse=2 (the default) lets loopback connect() recycle our TIME_WAITs.
    set_sysctl("net.ipv4.tcp_tw_reuse", 0)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", LISTEN_PORT))
    listener.listen(4096)

    if os.fork() == 0:
        detach_stdio()
        listener.close()
        run_pause(args.pause_cgroups.split(":"))
    events_r, events_w = os.pipe()
    if os.fork() == 0:
        detach_stdio()
        os.close(events_r)
        run_server(listener, args.server_cgroups.split(":"), events_w)
    os.close(events_w)
    listener.close()
    join_cgroups(args.client_cgroups.split(":"))

    held = []
    for _ in range(args.established):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", LISTEN_PORT))
        held.append(s)
    wait_for_server(events_r, "a", args.established, time.monotonic() + 30)
    print(f"ready {len(held)}", flush=True)

    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "tw":
            print(f"tw {make_time_waits(args.time_wait, events_r)}", flush=True)
        elif cmd.startswith("churn "):
            rate = float(cmd.split()[1])
            threading.Thread(target=churn, args=(rate, events_r), daemon=True).start()
            print(f"churn {rate:g}", flush=True)
        elif cmd.startswith("udp "):
            _, count, first, port, addresses = cmd.split()
            sent = send_udp_flows(int(count), int(first), int(port), addresses.split(","))
            print(f"udp {sent}", flush=True)
        elif cmd == "quit":
            break
    # Children die with us (PR_SET_PDEATHSIG).


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        if e.errno == errno.EPIPE:
            sys.exit(0)
        raise
