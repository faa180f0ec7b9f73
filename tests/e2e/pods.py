"""Pods and containers made the way each runtime's Kubernetes integration makes
them, each holding real TCP traffic over loopback in its own network namespace:
a server (`nc -ll -e cat`: the listener is `nc`, each accepted connection is
served by a `cat`), a client holding one long-lived connection (`nc`) and, once
the trigger file appears, making short connections that leave TIME_WAITs on the
client side (the client closes first). And UDP (udp.py checks it): the server
holds an unconnected socket, the client connected ones, DNS-like.

The expected owners come from how the test built things (labels, annotations,
names); the sockets themselves are read from the kernel when checking."""

import json
import os
import secrets
import shutil
import subprocess
import tarfile
import time
import uuid
from dataclasses import dataclass

import kernel
from sysenv import (
    BUSYBOX,
    CRIO_RUNROOT,
    CTR_IMAGE,
    HEX_MARK,
    IMAGE,
    PODMAN_GLOBAL,
    PODMAN_IMAGE,
    PREFIX,
    CommandError,
    ctr,
    out,
    remove_ctr_container,
    run,
)

SHORT_CONNECTIONS = 40
# About one loopback connection in a few hundred ends with an RST that kills
# the client's TIME_WAIT (the namespace's TcpOutRsts counts it), so a round may
# leave a TIME_WAIT or two fewer than it made connections; the checks compare
# cnetstat with the kernel's count.
TIMEWAIT_SLACK = 2
LONG_SLEEP = "1000000"

# UDP: the server holds an unconnected socket, udhcpd's on 0.0.0.0:67 bound to
# lo (the one UDP server busybox-static has). Once the test has given the
# namespace UDP_ADDR, the client holds a connected socket for the container's
# life and, on each trigger udp.<n>, sends a burst of DNS-like queries from
# fresh sockets: busybox nslookup to udhcpd's port, which never answers, so each
# socket lives its -timeout. In the background: the TCP rounds must not wait.
UDP_ADDR = "198.18.70.1"
UDP_SERVER_PORT = 67
UDP_BURST = 8
UDP_QUERY_SECONDS = 600

UDP_SERVER = f"""
printf 'interface lo\\nlease_file /tmp/udhcpd.leases\\nstart 127.0.0.2\\nend 127.0.0.9\\n' >/tmp/udhcpd.conf
udhcpd -f /tmp/udhcpd.conf >/dev/null 2>&1 &
"""

UDP_CLIENT = f"""
(
  while ! ip addr show lo | grep -q 'inet {UDP_ADDR}/'; do sleep 0.2; done
  nslookup -port={UDP_SERVER_PORT} -timeout=1000000 held.example {UDP_ADDR} >/dev/null 2>&1 &
  u=0
  while :; do
    while [ ! -e /trigger/udp.$u ]; do sleep 0.1; done
    j=0
    while [ $j -lt {UDP_BURST} ]; do
      nslookup -port={UDP_SERVER_PORT} -timeout={UDP_QUERY_SECONDS} q$u-$j.example {UDP_ADDR} >/dev/null 2>&1 &
      j=$((j+1))
    done
    u=$((u+1))
  done
) &
"""

SERVER_SCRIPT = UDP_SERVER + "exec nc -ll -p {port} -e /bin/cat"

# The long-lived connection reads a FIFO that the shell keeps open and never
# writes, so it stays up, and it retries until the server listens. Short
# connections come in rounds, one per trigger file go.<round>, so that the
# test can make fresh TIME_WAITs whenever the previous ones are about to expire.
LONG_LIVED = """
mkfifo /tmp/hold
(while :; do nc 127.0.0.1 {port} </tmp/hold; sleep 0.2; done) &
exec 3>/tmp/hold
"""

CLIENT_SCRIPT = (
    LONG_LIVED
    + UDP_CLIENT
    + """
r=0
while :; do
  while [ ! -e /trigger/go.$r ]; do sleep 0.1; done
  i=0
  while [ $i -lt {n} ]; do nc 127.0.0.1 {port} </dev/null >/dev/null; i=$((i+1)); done
  r=$((r+1))
done
"""
)

PLAIN_SCRIPT = (
    UDP_SERVER
    + "nc -ll -p {port} -e /bin/cat &\n"
    + LONG_LIVED
    + UDP_CLIENT
    + "exec sleep {sleep}\n"
)


def marked_uuid():
    return str(uuid.UUID(HEX_MARK + uuid.uuid4().hex[4:]))


def marked_id():
    return HEX_MARK + secrets.token_hex(30)


def short_name():
    return secrets.token_hex(3)[:5]


@dataclass
class Owner:
    """What cnetstat must report for a socket a process of this container holds."""

    namespace: str | None
    pod: str | None
    container: str | None
    container_id: str
    runtime: str


@dataclass
class Workload:
    """One network namespace with a server on `port` and a client."""

    label: str
    runtime: str | None
    namespace: str | None
    pod: str | None
    port: int
    server: Owner | None
    client: Owner | None
    netns: int = 0
    # How its TIME_WAITs must be attributed: "netns" (pod), "none" (host) or
    # None when this workload makes none.
    timewaits: str | None = None
    short_connections: int = 0
    pid: int | None = None  # a process in the namespace, to read its tables
    netns_file: str | None = None  # for a namespace no process holds
    expect_container_names: bool = True

    def kernel_sockets(self):
        if self.pid is not None:
            return kernel.sockets_of_pid(self.pid)
        return kernel.sockets_of_netns_file(self.netns_file)

    def tcp_counters(self):
        """The namespace's TCP counters that explain a missing TIME_WAIT."""
        path = f"/proc/{self.pid}/ns/net" if self.pid is not None else self.netns_file
        names = [
            "TcpActiveOpens", "TcpPassiveOpens", "TcpAttemptFails", "TcpEstabResets",
            "TcpOutRsts", "TcpExtTW", "TcpExtTWRecycled", "TcpExtTWKilled", "TcpExtTCPAbortOnData",
        ]
        text = run(["nsenter", f"--net={path}", "nstat", "-asz"] + names, check=False).stdout.decode()
        return " ".join(f"{f[0]}={f[1]}" for f in (line.split() for line in text.splitlines()) if len(f) > 1 and f[0] in names)

    def timewait_count(self):
        return sum(
            1
            for s in self.kernel_sockets()
            if s.state == "TIME_WAIT" and s.remote_port == self.port
        )


def wait_for(what, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise CommandError(f"setup: timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def wait_for_traffic(w):
    """The server listens and the long-lived connection is up."""

    def ready():
        socks = w.kernel_sockets()
        listening = any(s.state == "LISTEN" and s.local_port == w.port for s in socks)
        client = any(s.state == "ESTABLISHED" and s.remote_port == w.port for s in socks)
        server = any(s.state == "ESTABLISHED" and s.local_port == w.port for s in socks)
        return listening and client and server

    wait_for(f"traffic on port {w.port} in {w.label}", ready)


def require_cgroup(pid, fragment, what):
    text = kernel.cgroup_text(pid)
    if fragment not in text:
        raise CommandError(f"setup: {what}: /proc/{pid}/cgroup lacks {fragment!r}:\n{text}")


class Fixtures:
    def __init__(self, cleanup, workdir):
        self.cleanup = cleanup
        self.workdir = workdir
        self.trigger = os.path.join(workdir, "trigger")
        os.mkdir(self.trigger)
        self.bin = os.path.join(workdir, "bin")
        os.mkdir(self.bin)
        for applet in ("sh", "nc", "cat"):
            os.symlink(BUSYBOX, os.path.join(self.bin, applet))
        self.host_helpers = []

    # ---- image ----

    def build_images(self):
        """A busybox-static rootfs with applet symlinks, imported into each runtime."""
        tar_path = os.path.join(self.workdir, "rootfs.tar")
        applets = out([BUSYBOX, "--list"]).split()
        with tarfile.open(tar_path, "w") as tar:
            for d in ("bin", "tmp", "trigger", "etc", "proc", "sys", "dev"):
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o1777 if d == "tmp" else 0o755
                tar.addfile(info)
            tar.add(BUSYBOX, arcname="bin/busybox")
            for applet in applets:
                if applet == "busybox":
                    continue
                info = tarfile.TarInfo("bin/" + applet)
                info.type = tarfile.SYMTYPE
                info.linkname = "busybox"
                tar.addfile(info)
        run(["docker", "import", tar_path, IMAGE], timeout=120)
        self.cleanup.push("docker image", lambda: run(["docker", "rmi", "-f", IMAGE], check=False))
        archive = os.path.join(self.workdir, "image-archive.tar")
        run(["docker", "save", "-o", archive, IMAGE], timeout=120)
        ctr("images", "import", archive, timeout=120)
        self.cleanup.push("ctr image", lambda: ctr("images", "rm", CTR_IMAGE, check=False))
        run(PODMAN_GLOBAL + ["import", tar_path, IMAGE], timeout=120)
        self.cleanup.push(
            "podman image", lambda: run(PODMAN_GLOBAL + ["rmi", "-f", PODMAN_IMAGE], check=False)
        )

    def fire_trigger(self, round_no):
        open(os.path.join(self.trigger, f"go.{round_no}"), "w").close()

    # ---- Docker, as dockershim / cri-dockerd drives it ----

    def _docker_run(self, name, network, labels, script, cgroup_parent=None):
        args = ["docker", "run", "-d", "--pull", "never", "--name", name, "--network", network]
        args += ["-v", f"{self.trigger}:/trigger:ro"]
        if cgroup_parent:
            args += ["--cgroup-parent", cgroup_parent]
        for k, v in labels.items():
            args += ["--label", f"{k}={v}"]
        args += [IMAGE, "sh", "-c", script]
        cid = out(args, timeout=60)
        self.cleanup.push(f"docker container {name}", lambda: run(["docker", "rm", "-f", cid], check=False))
        pid = int(out(["docker", "inspect", "-f", "{{.State.Pid}}", cid]))
        return cid, pid

    def docker_pod(self, port):
        ns, pod, uid = "e2e-docker", f"web-{short_name()}", marked_uuid()
        parent = f"/kubepods/besteffort/pod{uid}"
        pod_labels = {
            "io.kubernetes.pod.namespace": ns,
            "io.kubernetes.pod.name": pod,
            "io.kubernetes.pod.uid": uid,
        }
        sandbox_id, sandbox_pid = self._docker_run(
            f"{PREFIX}{pod}-POD",
            "none",
            {
                **pod_labels,
                "io.kubernetes.container.name": "POD",
                "io.kubernetes.docker.type": "podsandbox",
            },
            f"exec sleep {LONG_SLEEP}",
            parent,
        )

        def app(name, script):
            labels = {
                **pod_labels,
                "io.kubernetes.container.name": name,
                "io.kubernetes.docker.type": "container",
                "io.kubernetes.sandbox.id": sandbox_id,
            }
            cid, pid = self._docker_run(
                f"{PREFIX}{pod}-{name}", f"container:{sandbox_id}", labels, script, parent
            )
            require_cgroup(pid, f"/kubepods/besteffort/pod{uid}/{cid}", f"docker container {name}")
            return Owner(ns, pod, name, cid, "docker")

        w = Workload(f"docker pod {ns}/{pod}", "docker", ns, pod, port, None, None)
        w.pid, w.netns = sandbox_pid, kernel.netns_of_pid(sandbox_pid)
        w.server = app("server", SERVER_SCRIPT.format(port=port))
        w.client = app("client", CLIENT_SCRIPT.format(port=port, n=SHORT_CONNECTIONS))
        w.timewaits, w.short_connections = "netns", SHORT_CONNECTIONS
        wait_for_traffic(w)
        return w

    def docker_plain(self, port):
        name = f"{PREFIX}plain-{short_name()}"
        cid, pid = self._docker_run(name, "none", {}, PLAIN_SCRIPT.format(port=port, sleep=LONG_SLEEP))
        owner = Owner(None, None, name, cid, "docker")
        w = Workload(f"plain docker container {name}", "docker", None, None, port, owner, owner)
        w.pid, w.netns = pid, kernel.netns_of_pid(pid)
        wait_for_traffic(w)
        return w

    # ---- containerd, as its CRI plugin drives it (ctr stands in for the kubelet) ----

    def _ctr_run(self, cid, cgroup, netns_path, annotations, script):
        args = ["ctr", "-n", "k8s.io", "run", "-d", "--null-io", "--cgroup", cgroup]
        args += ["--with-ns", f"network:{netns_path}"]
        args += ["--mount", f"type=bind,src={self.trigger},dst=/trigger,options=rbind:ro"]
        for k, v in annotations.items():
            args += ["--annotation", f"{k}={v}"]
        args += [CTR_IMAGE, cid, "sh", "-c", script]
        run(args, timeout=60)
        self.cleanup.push(f"ctr container {cid[:12]}", lambda: remove_ctr_container(cid))
        for line in ctr("tasks", "ls").stdout.decode().splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                pid = int(fields[1])
                break
        else:
            raise CommandError(f"setup: ctr task {cid} not listed")
        require_cgroup(pid, cgroup, f"ctr container {cid[:12]}")
        bundle = f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{cid}/config.json"
        with open(bundle) as f:
            got = json.load(f).get("annotations", {})
        if any(got.get(k) != v for k, v in annotations.items()):
            raise CommandError(f"setup: {bundle} lacks the annotations given to ctr: {got}")
        return pid

    def containerd_pod(self, port, layout):
        ns, pod, uid = "e2e-containerd", f"api-{layout}-{short_name()}", marked_uuid()
        netns_name = f"cni-{marked_uuid()}"
        run(["ip", "netns", "add", netns_name])
        self.cleanup.push(f"netns {netns_name}", lambda: run(["ip", "netns", "delete", netns_name], check=False))
        run(["ip", "netns", "exec", netns_name, "ip", "link", "set", "lo", "up"])

        def cgroup(cid):
            if layout == "cgroupfs":
                return f"/kubepods/burstable/pod{uid}/{cid}"
            u = uid.replace("-", "_")
            return (
                f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u}.slice/"
                f"cri-containerd-{cid}.scope"
            )

        sandbox_id = marked_id()
        common = {
            "io.kubernetes.cri.sandbox-id": sandbox_id,
            "io.kubernetes.cri.sandbox-name": pod,
            "io.kubernetes.cri.sandbox-namespace": ns,
            "io.kubernetes.cri.sandbox-uid": uid,
        }
        sandbox_pid = self._ctr_run(
            sandbox_id,
            cgroup(sandbox_id),
            f"/var/run/netns/{netns_name}",
            {
                **common,
                "io.kubernetes.cri.container-type": "sandbox",
                "io.kubernetes.cri.sandbox-log-directory": f"/var/log/pods/{ns}_{pod}_{uid}",
            },
            f"exec sleep {LONG_SLEEP}",
        )

        def app(name, script):
            cid = marked_id()
            annotations = {
                **common,
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.container-name": name,
                "io.kubernetes.cri.image-name": CTR_IMAGE,
            }
            # App containers join the sandbox's namespace through its PID, as CRI does.
            self._ctr_run(cid, cgroup(cid), f"/proc/{sandbox_pid}/ns/net", annotations, script)
            return Owner(ns, pod, name, cid, "containerd")

        w = Workload(f"containerd pod {ns}/{pod} ({layout} cgroups)", "containerd", ns, pod, port, None, None)
        w.pid, w.netns = sandbox_pid, kernel.netns_of_pid(sandbox_pid)
        if w.netns != os.stat(f"/var/run/netns/{netns_name}").st_ino:
            raise CommandError(f"setup: ctr sandbox did not join {netns_name}")
        w.server = app("server", SERVER_SCRIPT.format(port=port))
        w.client = app("client", CLIENT_SCRIPT.format(port=port, n=SHORT_CONNECTIONS))
        w.timewaits, w.short_connections = "netns", SHORT_CONNECTIONS
        wait_for_traffic(w)
        return w

    # ---- podman ----

    def _podman_run(self, name, network, annotations, script):
        args = PODMAN_GLOBAL + ["run", "-d", "--pull", "never", "--name", name, "--network", network]
        args += ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
        # udhcpd, the UDP server, opens a packet socket, which podman's
        # default capabilities (unlike Docker's and containerd's) leave out.
        args += ["--cap-add", "NET_RAW"]
        args += ["-v", f"{self.trigger}:/trigger:ro"]
        for k, v in annotations.items():
            args += ["--annotation", f"{k}={v}"]
        args += [PODMAN_IMAGE, "sh", "-c", script]
        cid = out(args, timeout=60)
        self.cleanup.push(
            f"podman container {name}",
            lambda: run(PODMAN_GLOBAL + ["rm", "-f", "-t", "0", cid], check=False),
        )
        pid = int(out(PODMAN_GLOBAL + ["inspect", "-f", "{{.State.Pid}}", cid]))
        require_cgroup(pid, f"libpod-{cid}", f"podman container {name}")
        return cid, pid

    def podman_pod(self, port):
        ns, pod, uid = "e2e-podman", f"pm-{short_name()}", marked_uuid()
        pod_annotations = {
            "io.kubernetes.pod.namespace": ns,
            "io.kubernetes.pod.name": pod,
            "io.kubernetes.pod.uid": uid,
        }
        infra_id, infra_pid = self._podman_run(
            f"{PREFIX}{pod}-POD",
            "none",
            {**pod_annotations, "io.kubernetes.container.name": "POD"},
            f"exec sleep {LONG_SLEEP}",
        )

        def app(name, script):
            cid, _ = self._podman_run(
                f"{PREFIX}{pod}-{name}",
                f"container:{infra_id}",
                {**pod_annotations, "io.kubernetes.container.name": name},
                script,
            )
            return Owner(ns, pod, name, cid, "podman")

        w = Workload(f"podman pod {ns}/{pod}", "podman", ns, pod, port, None, None)
        w.pid, w.netns = infra_pid, kernel.netns_of_pid(infra_pid)
        w.server = app("server", SERVER_SCRIPT.format(port=port))
        w.client = app("client", CLIENT_SCRIPT.format(port=port, n=SHORT_CONNECTIONS))
        w.timewaits, w.short_connections = "netns", SHORT_CONNECTIONS
        wait_for_traffic(w)
        return w

    def podman_plain(self, port):
        name = f"{PREFIX}pmplain-{short_name()}"
        cid, pid = self._podman_run(name, "none", {}, PLAIN_SCRIPT.format(port=port, sleep=LONG_SLEEP))
        owner = Owner(None, None, name, cid, "podman")
        w = Workload(f"plain podman container {name}", "podman", None, None, port, owner, owner)
        w.pid, w.netns = pid, kernel.netns_of_pid(pid)
        wait_for_traffic(w)
        return w

    # ---- CRI-O with drop_infra_ctr: the pod's namespace is held by a bind mount only ----

    def crio_pod_without_processes(self, port):
        ns, pod, uid = "e2e-crio", f"ghost-{short_name()}", marked_uuid()
        netns_name = marked_uuid()
        run(["ip", "netns", "add", netns_name])
        self.cleanup.push(f"netns {netns_name}", lambda: run(["ip", "netns", "delete", netns_name], check=False))
        run(["ip", "netns", "exec", netns_name, "ip", "link", "set", "lo", "up"])
        sandbox_id = marked_id()
        userdata = os.path.join(CRIO_RUNROOT, sandbox_id, "userdata")
        os.makedirs(userdata)
        self.cleanup.push(
            f"CRI-O sandbox state {sandbox_id[:12]}",
            lambda: shutil.rmtree(os.path.join(CRIO_RUNROOT, sandbox_id), ignore_errors=True),
        )
        with open(os.path.join(userdata, "config.json"), "w") as f:
            json.dump(crio_sandbox_spec(ns, pod, uid, sandbox_id, netns_name), f, indent="\t")
        w = Workload(f"CRI-O pod {ns}/{pod} (namespace held by no process)", "cri-o", ns, pod, port, None, None)
        w.netns_file = f"/var/run/netns/{netns_name}"
        w.netns = os.stat(w.netns_file).st_ino
        w.timewaits, w.short_connections = "netns", SHORT_CONNECTIONS
        self._ns_exec = ["ip", "netns", "exec", netns_name]
        self.crio = w
        return w

    def make_crio_timewaits(self):
        """A server and a client that come and go inside the namespace,
        leaving only TIME_WAITs behind."""
        w = self.crio
        self._timewaits_through(self._ns_exec, w)
        left = kernel.pids_in_netns(w.netns)
        if left:
            raise CommandError(f"setup: processes {left} still hold the CRI-O pod's namespace")

    # ---- host namespace: ownerless sockets there stay unattributed ----

    def host_timewaits(self, port):
        # PID 1's namespace, or this process's where a sandbox hides PID 1's,
        # as cnetstat itself decides.
        w = Workload("host namespace", None, None, None, port, None, None)
        try:
            w.pid = 1
            w.netns = kernel.netns_of_pid(1)
        except PermissionError:
            w.pid = os.getpid()
            w.netns = kernel.netns_of_pid(w.pid)
        w.timewaits, w.short_connections = "none", SHORT_CONNECTIONS
        self.host = w
        return w

    def make_host_timewaits(self):
        self._timewaits_through([], self.host)

    def _timewaits_through(self, prefix, w):
        nc, cat, sh = (os.path.join(self.bin, a) for a in ("nc", "cat", "sh"))
        server = subprocess.Popen(
            prefix + [nc, "-ll", "-p", str(w.port), "-e", cat],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(
                f"listener on {w.port} in {w.label}",
                lambda: any(s.state == "LISTEN" and s.local_port == w.port for s in w.kernel_sockets()),
            )
            loop = (
                f'i=0; while [ $i -lt {w.short_connections} ]; do '
                f"{nc} 127.0.0.1 {w.port} </dev/null >/dev/null; i=$((i+1)); done"
            )
            run(prefix + [sh, "-c", loop], timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=10)


def crio_sandbox_spec(ns, pod, uid, sandbox_id, netns_name):
    """The sandbox's OCI spec as CRI-O saves it (runtimes.md §4.2, §4.3):
    every kubelet label and annotation at top level, the io.kubernetes.cri-o.*
    keys, and the pinned network namespace path."""
    uid_ = uid.replace("-", "_")
    sandbox_name = f"k8s_{pod}_{ns}_{uid}_0"
    labels = {
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.pod.namespace": ns,
        "io.kubernetes.pod.uid": uid,
        "io.kubernetes.container.name": "POD",
        "app": "ghost",
    }
    kube_annotations = {
        "kubernetes.io/config.source": "api",
        "kubernetes.io/config.seen": "2026-11-24T07:00:00.000000000Z",
    }
    annotations = {
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.Annotations": json.dumps(kube_annotations),
        "io.kubernetes.cri-o.CgroupParent": f"kubepods-besteffort-pod{uid_}.slice",
        "io.kubernetes.cri-o.ContainerID": sandbox_id,
        "io.kubernetes.cri-o.ContainerName": f"k8s_POD_{pod}_{ns}_{uid}_0",
        "io.kubernetes.cri-o.ContainerType": "sandbox",
        "io.kubernetes.cri-o.Created": "2026-11-24T07:00:00.000000000Z",
        "io.kubernetes.cri-o.HostName": pod,
        "io.kubernetes.cri-o.HostNetwork": "false",
        "io.kubernetes.cri-o.HostnamePath": f"{CRIO_RUNROOT}/{sandbox_id}/userdata/hostname",
        "io.kubernetes.cri-o.IP.0": "10.244.0.9",
        "io.kubernetes.cri-o.KubeName": pod,
        "io.kubernetes.cri-o.Labels": json.dumps(labels),
        "io.kubernetes.cri-o.LogPath": f"/var/log/pods/{ns}_{pod}_{uid}/{sandbox_id}.log",
        "io.kubernetes.cri-o.Metadata": json.dumps({"name": pod, "uid": uid, "namespace": ns}),
        "io.kubernetes.cri-o.Name": sandbox_name,
        "io.kubernetes.cri-o.Namespace": ns,
        "io.kubernetes.cri-o.NamespaceOptions": json.dumps({"pid": 1}),
        "io.kubernetes.cri-o.PrivilegedRuntime": "false",
        "io.kubernetes.cri-o.RuntimeHandler": "",
        "io.kubernetes.cri-o.SandboxID": sandbox_id,
        "io.kubernetes.cri-o.SandboxName": sandbox_name,
        "io.kubernetes.cri-o.SeccompProfilePath": "",
        "io.kubernetes.cri-o.ShmPath": f"{CRIO_RUNROOT}/{sandbox_id}/userdata/shm",
        "io.kubernetes.cri-o.Spoofed": "true",
        **labels,
        **kube_annotations,
    }
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "user": {"uid": 65535, "gid": 65535},
            "args": ["/pause"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {"bounding": [], "effective": [], "permitted": []},
            "noNewPrivileges": True,
            "oomScoreAdj": -998,
        },
        "root": {"path": f"/var/lib/containers/storage/overlay/{secrets.token_hex(32)}/merged", "readonly": True},
        "hostname": pod,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {
                "destination": "/dev/shm",
                "type": "bind",
                "source": f"{CRIO_RUNROOT}/{sandbox_id}/userdata/shm",
                "options": ["rw", "bind"],
            },
        ],
        "annotations": annotations,
        "linux": {
            "resources": {"cpu": {"shares": 2}},
            "cgroupsPath": f"kubepods-besteffort-pod{uid_}.slice:crio:{sandbox_id}",
            "namespaces": [
                {"type": "pid"},
                {"type": "network", "path": f"/var/run/netns/{netns_name}"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
            ],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/sys"],
        },
    }
