#!/usr/bin/env python3
"""Re-record the raw dockerd responses in this directory.

Each *.http file is exactly the bytes dockerd sent back on a fresh connection
to /var/run/docker.sock: status line, headers and body, framing untouched.
Run as root on a machine whose dockerd has the image busybox:local; the
script creates its containers with `--network none` and removes them after.
"""
import json
import os
import socket
import subprocess
import urllib.parse

SOCKET = "/var/run/docker.sock"
HERE = os.path.dirname(os.path.abspath(__file__))

POD_UID = "3f2a9c1e-5b7d-4e8a-9c01-2b3d4e5f6a7b"
POD = "web-7d9c5b6f4-x2kqp"
NAMESPACE = "shop"


def record(name, request):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(SOCKET)
        s.sendall(request)
        raw = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            raw += part
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(raw)
    status = raw.split(b"\r\n", 1)[0].decode()
    print(f"{name}: {len(raw)} bytes, {status}")


def get(path, version=b"HTTP/1.1"):
    return (b"GET " + path + b" " + version + b"\r\n"
            b"Host: api.moby.localhost\r\nUser-Agent: cnetstat\r\n"
            b"Accept: application/json\r\nConnection: close\r\n\r\n")


def list_path(ids):
    # Other users of the same daemon must not leak into the recording, so the
    # list is filtered to our containers; the answer has the same shape.
    filters = urllib.parse.quote(json.dumps({"id": ids}))
    return f"/v1.41/containers/json?all=1&filters={filters}".encode()


def docker_run(*args):
    out = subprocess.run(
        ["docker", "run", "-d", "--pull", "never", *args],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def pod_labels(container):
    labels = {
        "io.kubernetes.pod.name": POD,
        "io.kubernetes.pod.namespace": NAMESPACE,
        "io.kubernetes.pod.uid": POD_UID,
        "io.kubernetes.container.name": container,
    }
    return [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]


created = []
try:
    record("ping.http", get(b"/_ping"))
    record("too-new-400.http", get(b"/v1.99/containers/json?all=1"))

    # One unlabelled container keeps the list under Go's 2 KiB buffer, so
    # dockerd answers with Content-Length.
    created.append(docker_run("--network", "none", "--name", "standalone",
                              "busybox:local", "sleep", "3600"))
    record("containers-small.http", get(list_path(created)))

    # A pod as dockershim/cri-dockerd makes it: a labelled sandbox, an app
    # container in its network namespace, plus a container that carries only
    # the dockershim name shape (with the random suffix) and no labels.
    sandbox = docker_run(
        "--network", "none", "--name", f"k8s_POD_{POD}_{NAMESPACE}_{POD_UID}_0",
        "--label", "io.kubernetes.docker.type=podsandbox", "--label", "app=web",
        *pod_labels("POD"), "busybox:local", "sleep", "3600")
    created.append(sandbox)
    created.append(docker_run(
        "--network", f"container:{sandbox}",
        "--name", f"k8s_nginx_{POD}_{NAMESPACE}_{POD_UID}_1",
        "--label", "io.kubernetes.docker.type=container",
        "--label", f"io.kubernetes.sandbox.id={sandbox}",
        "--label", "annotation.io.kubernetes.container.restartCount=1",
        *pod_labels("nginx"), "busybox:local", "sleep", "3600"))
    created.append(docker_run(
        "--network", "none",
        "--name", "k8s_redis_cache-0_db_0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0_2_5e6f7a8b",
        "busybox:local", "sleep", "3600"))
    record("containers-chunked.http", get(list_path(created)))
    # Go cannot chunk for HTTP/1.0, so a list over 2 KiB ends at close.
    record("containers-http10.http", get(list_path(created), b"HTTP/1.0"))
finally:
    if created:
        subprocess.run(["docker", "rm", "-f", *created], check=True, capture_output=True)
