#!/usr/bin/env python3
"""Record the parts of /proc that cnetstat reads, for the given processes, as
a plain directory tree (links kept as links), plus Docker's raw answer to
GET /containers/json, so a real node can be replayed in tests.

usage: record_node.py OUTDIR PID...   (as root, with dockerd running)
"""
import os
import socket
import sys


def record_process(proc_out, pid):
    src = f"/proc/{pid}"
    dst = os.path.join(proc_out, str(pid))
    os.makedirs(os.path.join(dst, "ns"), exist_ok=True)
    os.makedirs(os.path.join(dst, "fd"), exist_ok=True)
    os.makedirs(os.path.join(dst, "net"), exist_ok=True)
    for name in ["comm", "cgroup", "net/tcp", "net/tcp6"]:
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        with open(os.path.join(dst, name), "wb") as f:
            f.write(data)
    os.symlink(os.readlink(os.path.join(src, "ns/net")), os.path.join(dst, "ns/net"))
    for fd in os.listdir(os.path.join(src, "fd")):
        try:
            target = os.readlink(os.path.join(src, "fd", fd))
        except FileNotFoundError:
            continue
        # Only sockets matter; other descriptors are kept as what they are
        # not, so the scan still has to tell them apart.
        if not target.startswith("socket:[") and fd not in ("0", "1", "2"):
            continue
        os.symlink(target, os.path.join(dst, "fd", fd))


def docker_get(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect("/var/run/docker.sock")
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode())
    chunks = []
    while True:
        data = s.recv(65536)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def main():
    out, pids = sys.argv[1], sys.argv[2:]
    proc_out = os.path.join(out, "proc")
    for pid in pids:
        record_process(proc_out, pid)
    with open(os.path.join(out, "docker-ping.http"), "wb") as f:
        f.write(docker_get("/_ping"))
    with open(os.path.join(out, "docker-containers.http"), "wb") as f:
        f.write(docker_get("/v1.41/containers/json?all=1"))


if __name__ == "__main__":
    main()
