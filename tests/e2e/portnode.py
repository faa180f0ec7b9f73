"""The node the --ports scenario (ports.py) builds: a "node" network namespace
with a bridge for the pods and an uplink to a "remote" namespace that runs the
servers, real pods on dockerd, containerd and podman joined to the bridge by
veth pairs, SNAT rules in the node namespace, and the traffic that fills the
port budgets.

```text
 docker pod A   198.18.64.2 ─┐                                  ┌ remote 198.18.65.2; serves 198.18.66.0/24:
 containerd B   198.18.64.3 ─┼─ pbbr0 [node: NAT] pbr0 ── eth0 ─┤   198.18.66.2:8080  (shared destination: A, B)
 podman pod C   198.18.64.4 ─┘  198.18.64.1    198.18.65.1      │   198.18.66.3:8080  (full SNAT budget: C)
                                                                │   198.18.66.4:9000  (narrow pod C's target)
                                                                │   198.18.66.5:53/udp (DNS: B)
                                                                └   198.18.66.6:8080  (backend of the Service
                                                                      198.18.67.1:80: A)
```

The servers' addresses are on no interface of any namespace (the remote
namespace takes 198.18.66.0/24 with a `local` route, as AnyIP), so to
cnetstat they are outside the node, like a real service would be.

Node namespace rules (POSTROUTING, all towards pbr0):
  iptables-nft  -d 198.18.66.2 -p tcp --dport 8080 -j MASQUERADE --to-ports 41000-41039   (40 ports)
  nft native    ip daddr 198.18.66.3 tcp dport 8080 masquerade to :42000-42009          (10 ports)
  nft native    ip daddr 198.18.66.4 masquerade                                         (1024-65535)
  nft native    ip daddr 198.18.66.5 udp dport 53 masquerade to :43000-43019            (20 ports)
  nft native    ip daddr 198.18.66.6 tcp dport 8080 masquerade to :44000-44099          (100 ports)
and PREROUTING: the Service 198.18.67.1:80 DNATed to 198.18.66.6:8080, as kube-proxy
does; and pod C's flows to 198.18.66.4:9000 in conntrack zone 5 (a raw chain).

Everything runs in namespaces this module makes; addresses are in
198.18.0.0/15 only; the machine's own namespace gets no link, route, rule or
table. Names carry this process's pid so that two runs never touch each
other's objects, and a run that was killed is cleaned by the next one:
containers, images and work dirs `cnetstat-pb-<pid>-*`, network namespaces
`cnpb-<pid>-*`, containerd ids `c0bb<pid:08x>...`, pod UIDs `c0bb....-...-<pid:012x>`.
Nothing named `cnetstat-e2e*`/`ce2e*`, so the main suite's clean-up leaves it alone.
"""

import ctypes
import errno
import os
import re
import secrets
import select
import selectors
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field

from sysenv import (
    BUSYBOX,
    PODMAN_GLOBAL,
    CommandError,
    cgroup_mounts,
    ctr,
    out,
    remove_ctr_container,
    run,
)

RUN = os.getpid()
PREFIX = "cnetstat-pb-"
NETNS_PREFIX = "cnpb-"
HEX_MARK = "c0bb"
WORK_PARENT = "/tmp"
LONG_SLEEP = "1000000"

POD_NET = "198.18.64.0/24"
GATEWAY = "198.18.64.1"
NAT_ADDR = "198.18.65.1"
REMOTE_ADDR = "198.18.65.2"
SERVICE_NET = "198.18.66.0/24"
SHARED = ("198.18.66.2", 8080)  # two pods, iptables-nft MASQUERADE --to-ports 41000-41039
FULL = ("198.18.66.3", 8080)  # one pod fills the nft masquerade to :42000-42009
NARROW_TARGET = ("198.18.66.4", 9000)  # nft masquerade without ports; the narrow pod's destination
SHARED_PORTS = (41000, 41039)
FULL_PORTS = (42000, 42009)
DNS = ("198.18.66.5", 53)  # UDP, pod B's queries; nft masquerade to :43000-43019
DNS_PORTS = (43000, 43019)
SERVICE = ("198.18.67.1", 80)  # DNAT to BACKEND in the node namespace
BACKEND = ("198.18.66.6", 8080)  # nft masquerade to :44000-44099
# Wide enough that the NAT never evicts a TIME_WAIT entry for a new flow: it does so
# only in the last 32 of its min(range, 128) attempts (nf_nat_l4proto_unique_tuple),
# which for a range of 32 ports or fewer is every attempt.
BACKEND_PORTS = (44000, 44099)
NARROW_ZONE = 5  # conntrack zone of pod C's flows to NARROW_TARGET
NARROW_RANGE = (45000, 45029)
NARROW_RESERVED = 45010
NARROW_LISTENER = 45020  # a container's listener inside the range
NARROW_BOUND = 45025  # a bound-only socket inside the range (Linux 6.8+ excludes it)
LOOPBACK_PORT = 8081  # docker pod A's own server, for loopback TIME_WAITs

IPTABLES_RULE = (
    f"-t nat -A POSTROUTING -s {POD_NET} -d {SHARED[0]}/32 -o pbr0 -p tcp --dport {SHARED[1]} "
    f"-j MASQUERADE --to-ports {SHARED_PORTS[0]}-{SHARED_PORTS[1]}"
)
NFT_RULESET = f"""\
table ip cnpb_nat {{
    chain pre {{
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr {SERVICE[0]} tcp dport {SERVICE[1]} dnat to {BACKEND[0]}:{BACKEND[1]}
    }}
    chain post {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "pbr0" ip saddr {POD_NET} ip daddr {FULL[0]} tcp dport {FULL[1]} masquerade to :{FULL_PORTS[0]}-{FULL_PORTS[1]}
        oifname "pbr0" ip saddr {POD_NET} ip daddr {NARROW_TARGET[0]} masquerade
        oifname "pbr0" ip saddr {POD_NET} ip daddr {DNS[0]} udp dport {DNS[1]} masquerade to :{DNS_PORTS[0]}-{DNS_PORTS[1]}
        oifname "pbr0" ip saddr {POD_NET} ip daddr {BACKEND[0]} tcp dport {BACKEND[1]} masquerade to :{BACKEND_PORTS[0]}-{BACKEND_PORTS[1]}
    }}
}}
table ip cnpb_zone {{
    chain pre {{
        type filter hook prerouting priority raw; policy accept;
        ip saddr 198.18.64.4 ip daddr {NARROW_TARGET[0]} tcp dport {NARROW_TARGET[1]} ct zone set {NARROW_ZONE}
        ip saddr {NARROW_TARGET[0]} tcp sport {NARROW_TARGET[1]} ct zone set {NARROW_ZONE}
    }}
}}
"""

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(path, fn):
    """Runs fn in a thread that joined the network namespace at path; the
    sockets fn makes stay in that namespace whichever thread uses them."""
    box = {}

    def body():
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=body, name="in-netns")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def pod_uid():
    h = secrets.token_hex(8)
    return f"{HEX_MARK}{h[:4]}-{h[4:8]}-4{h[8:11]}-8{h[11:14]}-{RUN:012x}"


def marked_id():
    return f"{HEX_MARK}{RUN:08x}{secrets.token_hex(26)}"


def short_name():
    return secrets.token_hex(3)[:5]


@dataclass
class Pod:
    label: str
    runtime: str
    namespace: str
    name: str
    uid: str
    addr: str
    netns_path: str  # /proc/<pid>/ns/net of the sandbox, or the pinned file
    netns: int = 0
    containers: dict = field(default_factory=dict)  # name -> id
    host_veth: str = ""
    bound_ports: list = field(default_factory=list)  # bound-only sockets the test holds in it

    def nsenter(self, argv):
        return ["nsenter", f"--net={self.netns_path}"] + argv


# ---------------------------------------------------------------- clean-up of this run and of dead runs


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _dead_run(pid):
    return pid is not None and pid != RUN and not _pid_alive(pid)


NAME_RE = re.compile(r"^/?" + re.escape(PREFIX) + r"(\d+)-")
NETNS_RE = re.compile(r"^" + re.escape(NETNS_PREFIX) + r"(\d+)-")
HEX_ID_RE = re.compile(r"^" + HEX_MARK + r"([0-9a-f]{8})[0-9a-f]{52}$")
UID_DIR_RE = re.compile(r"^pod" + HEX_MARK + r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-([0-9a-f]{12})$")


def _pid_of(name):
    for regex, base in ((NAME_RE, 10), (NETNS_RE, 10), (HEX_ID_RE, 16), (UID_DIR_RE, 16)):
        m = regex.match(name)
        if m:
            return int(m.group(1), base)
    return None


def objects(select):
    """What runs of this scenario left on the host, filtered by owner pid:
    {kind: [names]} for the runs `select(pid)` picks."""
    found = {}

    def add(kind, name):
        pid = _pid_of(name)
        if pid is not None and select(pid):
            found.setdefault(kind, []).append(name)

    for line in out(["docker", "ps", "-a", "--format", "{{.ID}} {{.Names}}", "--filter", "name=" + PREFIX],
                    check=False).splitlines():
        cid, _, name = line.partition(" ")
        if _pid_of(name) is not None and select(_pid_of(name)):
            found.setdefault("docker containers", []).append(cid)
    for line in out(PODMAN_GLOBAL + ["ps", "-a", "--format", "{{.ID}} {{.Names}}", "--filter", "name=" + PREFIX],
                    check=False).splitlines():
        cid, _, name = line.partition(" ")
        if _pid_of(name) is not None and select(_pid_of(name)):
            found.setdefault("podman containers", []).append(cid)
    for cid in ctr("containers", "ls", "-q", check=False).stdout.decode().split():
        add("containerd containers", cid)
    for line in out(["ip", "netns", "list"], check=False).splitlines():
        add("network namespaces", line.split(" ", 1)[0])
    for mount in cgroup_mounts():
        for qos in ("kubepods/besteffort", "kubepods/burstable"):
            d = os.path.join(mount, qos)
            for name in os.listdir(d) if os.path.isdir(d) else []:
                if UID_DIR_RE.match(name) and select(_pid_of(name)):
                    found.setdefault("cgroups", []).append(os.path.join(d, name))
    for name in out(["docker", "images", "--format", "{{.Repository}}", "--filter", f"reference={PREFIX}*"],
                    check=False).split():
        add("docker images", name)
    for name in out(PODMAN_GLOBAL + ["images", "--format", "{{.Repository}}"], check=False).split():
        if name.startswith("localhost/" + PREFIX):
            add("podman images", name[len("localhost/"):])
    for name in ctr("images", "ls", "-q", check=False).stdout.decode().split():
        if name.startswith("docker.io/library/" + PREFIX):
            add("containerd images", name[len("docker.io/library/"):])
    for name in os.listdir(WORK_PARENT):
        add("work dirs", name)
    return found


def remove_objects(found):
    ids = found.get("docker containers", [])
    if ids:
        run(["docker", "rm", "-f"] + ids, check=False, timeout=60)
    ids = found.get("podman containers", [])
    if ids:
        run(PODMAN_GLOBAL + ["rm", "-f", "-t", "0"] + ids, check=False, timeout=60)
    for cid in found.get("containerd containers", []):
        remove_ctr_container(cid)
    for name in found.get("network namespaces", []):
        run(["ip", "netns", "delete", name], check=False)
    for path in found.get("cgroups", []):
        remove_cgroup_tree(path)
    for name in found.get("docker images", []):
        run(["docker", "rmi", "-f", name], check=False)
    for name in found.get("podman images", []):
        run(PODMAN_GLOBAL + ["rmi", "-f", "localhost/" + name], check=False)
    for name in found.get("containerd images", []):
        ctr("images", "rm", "docker.io/library/" + name, check=False)
    for name in found.get("work dirs", []):
        shutil.rmtree(os.path.join(WORK_PARENT, name), ignore_errors=True)


def remove_cgroup_tree(path):
    """rmdir children first; a cgroup with tasks refuses, so nothing live goes."""
    for dirpath, _dirs, _files in os.walk(path, topdown=False):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def remove_dead_runs():
    """Leftovers of runs of this scenario whose process is gone."""
    remove_objects(objects(_dead_run))


def this_run_objects():
    return objects(lambda pid: pid == RUN)


# ---------------------------------------------------------------- images


@dataclass
class Images:
    docker: str
    containerd: str
    podman: str


def build_images(cleanup, workdir):
    """A busybox-static rootfs imported into each runtime under this run's name."""
    name = f"{PREFIX}{RUN}-busybox:latest"
    tar_path = os.path.join(workdir, "rootfs.tar")
    applets = out([BUSYBOX, "--list"]).split()
    with tarfile.open(tar_path, "w") as tar:
        for d in ("bin", "tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in applets:
            if applet != "busybox":
                info = tarfile.TarInfo("bin/" + applet)
                info.type = tarfile.SYMTYPE
                info.linkname = "busybox"
                tar.addfile(info)
    images = Images(name, "docker.io/library/" + name, "localhost/" + name)
    run(["docker", "import", tar_path, name], timeout=120)
    cleanup.push("docker image", lambda: run(["docker", "rmi", "-f", name], check=False))
    archive = os.path.join(workdir, "image-archive.tar")
    run(["docker", "save", "-o", archive, name], timeout=120)
    ctr("images", "import", archive, timeout=120)
    cleanup.push("ctr image", lambda: ctr("images", "rm", images.containerd, check=False))
    run(PODMAN_GLOBAL + ["import", tar_path, name], timeout=120)
    cleanup.push("podman image", lambda: run(PODMAN_GLOBAL + ["rmi", "-f", images.podman], check=False))
    return images


# ---------------------------------------------------------------- remote servers


class Servers:
    """Listeners in the remote namespace, served by one thread of this
    process: every connection is read until the client closes, then closed,
    so the client's side is the one left in TIME_WAIT."""

    def __init__(self, netns_path, ports, udp=()):
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()

        def listen():
            socks = []
            for port in ports:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", port))
                s.listen(4096)
                s.setblocking(False)
                socks.append(s)
            udp_socks = []
            for addr in udp:
                # Bound to the service's own address (local by its route), so that
                # answers come from it, as the NAT's reply tuple expects.
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(addr)
                s.setblocking(False)
                udp_socks.append(s)
            return socks, udp_socks

        self.listeners, self.udp = in_netns(netns_path, listen)
        for s in self.listeners:
            self.sel.register(s, selectors.EVENT_READ, True)
        for s in self.udp:
            self.sel.register(s, selectors.EVENT_READ, "udp")
        self.thread = threading.Thread(target=self._serve, name="remote-servers", daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                if key.data == "udp":
                    try:
                        data, peer = s.recvfrom(512)
                    except (BlockingIOError, InterruptedError):
                        continue
                    s.sendto(data, peer)  # the answer to a "DNS query"
                    continue
                if key.data:
                    try:
                        conn, _ = s.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    conn.setblocking(False)
                    self.sel.register(conn, selectors.EVENT_READ, False)
                    continue
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.sel.unregister(s)
                    s.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


# ---------------------------------------------------------------- a container's socket holder


class Holder:
    """portholder.py in a pod's container: its sockets are the container's."""

    SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "portholder.py")

    def __init__(self, cleanup, container_pid, netns_path):
        self.proc = subprocess.Popen(
            [sys.executable, self.SCRIPT, "--cgroups-of", str(container_pid), "--netns", netns_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        cleanup.push("socket holder", self.stop)
        self._expect("ready", 10)

    def _expect(self, what, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line:
            self.proc.kill()
            err = self.proc.stderr.read().strip()
            raise CommandError(f"setup: socket holder: no answer ({what}): {err[-500:]}")
        return line

    def ask(self, command, timeout=10):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._expect(command, timeout)
        if answer.startswith("unknown"):
            raise CommandError(f"setup: socket holder: {command}: {answer}")
        return answer

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


# ---------------------------------------------------------------- the node


class Node:
    def __init__(self, cleanup, workdir, images):
        self.cleanup = cleanup
        self.workdir = workdir
        self.images = images
        self.pods = {}
        self.holder = None  # pod C's client container's socket holder
        self.facts = {}  # what the setup observed from the kernel itself
        self.node_ns = self._netns("node")
        self.remote_ns = self._netns("remote")
        self.node_path = f"/run/netns/{self.node_ns}"
        self.remote_path = f"/run/netns/{self.remote_ns}"
        self.node_inode = os.stat(self.node_path).st_ino
        self.servers = None

    # ---- namespaces and links

    def _netns(self, role):
        name = f"{NETNS_PREFIX}{RUN}-{role}"
        run(["ip", "netns", "add", name])
        self.cleanup.push(f"netns {name}", lambda: run(["ip", "netns", "delete", name], check=False))
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def sysctl(self, netns_path, *settings):
        run(["nsenter", f"--net={netns_path}", "sysctl", "-qw", *settings])

    def build_network(self):
        node, remote = self.node_ns, self.remote_ns
        for path in (self.node_path, self.remote_path):
            # No IPv6 chatter: the node's conntrack table holds only the test's flows.
            self.sysctl(path, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        run(["ip", "-n", node, "link", "add", "pbbr0", "type", "bridge"])
        run(["ip", "-n", node, "link", "add", "pbr0", "type", "veth", "peer", "name", "eth0", "netns", remote])
        run(["ip", "-n", node, "addr", "add", GATEWAY + "/24", "dev", "pbbr0"])
        run(["ip", "-n", node, "addr", "add", NAT_ADDR + "/24", "dev", "pbr0"])
        run(["ip", "-n", node, "link", "set", "pbbr0", "up"])
        run(["ip", "-n", node, "link", "set", "pbr0", "up"])
        run(["ip", "-n", remote, "addr", "add", REMOTE_ADDR + "/24", "dev", "eth0"])
        run(["ip", "-n", remote, "link", "set", "eth0", "up"])
        run(["ip", "-n", remote, "route", "add", "local", SERVICE_NET, "dev", "lo"])
        run(["ip", "-n", node, "route", "add", SERVICE_NET, "via", REMOTE_ADDR])
        # UDP entries (the DNS queries) last as long as TCP TIME_WAIT ones, beyond the checks.
        self.sysctl(self.node_path, "net.ipv4.ip_forward=1", "net.netfilter.nf_conntrack_udp_timeout=120",
                    "net.netfilter.nf_conntrack_udp_timeout_stream=120")
        run(["ip", "netns", "exec", node, "iptables-nft", *IPTABLES_RULE.split()])
        rules = os.path.join(self.workdir, "node.nft")
        with open(rules, "w") as f:
            f.write(NFT_RULESET)
        run(["ip", "netns", "exec", node, "nft", "-f", rules])
        self.servers = Servers(self.remote_path, sorted({SHARED[1], FULL[1], NARROW_TARGET[1], BACKEND[1]}),
                               udp=[DNS])
        self.cleanup.push("remote servers", self.servers.close)

    def attach(self, pod, index):
        """A veth from the node's bridge into the pod's namespace, as a CNI bridge plugin makes it."""
        pod.host_veth = f"pbv{index}"
        self.sysctl(pod.netns_path, "net.ipv6.conf.default.disable_ipv6=1")
        target = pod.netns_path.split("/")[2] if pod.netns_path.startswith("/proc/") else os.path.basename(pod.netns_path)
        run(["ip", "-n", self.node_ns, "link", "add", pod.host_veth, "type", "veth", "peer", "name", "eth0",
             "netns", target])
        run(["ip", "-n", self.node_ns, "link", "set", pod.host_veth, "master", "pbbr0", "up"])
        enter = ["nsenter", f"--net={pod.netns_path}"]
        run(enter + ["ip", "addr", "add", pod.addr + "/24", "dev", "eth0"])
        run(enter + ["ip", "link", "set", "eth0", "up"])
        run(enter + ["ip", "route", "add", "default", "via", GATEWAY])

    # ---- pods

    def _docker_run(self, name, network, labels, script, cgroup_parent):
        args = ["docker", "run", "-d", "--pull", "never", "--name", name, "--network", network,
                "--cgroup-parent", cgroup_parent]
        for k, v in labels.items():
            args += ["--label", f"{k}={v}"]
        args += [self.images.docker, "sh", "-c", script]
        cid = out(args, timeout=60)
        self.cleanup.push(f"docker container {name}", lambda: run(["docker", "rm", "-f", cid], check=False))
        return cid, int(out(["docker", "inspect", "-f", "{{.State.Pid}}", cid]))

    def docker_pod(self, addr, containers):
        ns, name, uid = "cnpb-docker", f"shared-a-{short_name()}", pod_uid()
        parent = f"/kubepods/besteffort/pod{uid}"
        self._forget_cgroup(parent)
        labels = {"io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.name": name,
                  "io.kubernetes.pod.uid": uid}
        sandbox, pid = self._docker_run(
            f"{PREFIX}{RUN}-{name}-POD", "none",
            {**labels, "io.kubernetes.container.name": "POD", "io.kubernetes.docker.type": "podsandbox"},
            f"exec sleep {LONG_SLEEP}", parent)
        pod = Pod("docker pod A", "docker", ns, name, uid, addr, f"/proc/{pid}/ns/net")
        pod.netns = os.stat(pod.netns_path).st_ino
        pod.containers["POD"] = sandbox
        for cname, script in containers:
            cid, _ = self._docker_run(
                f"{PREFIX}{RUN}-{name}-{cname}", f"container:{sandbox}",
                {**labels, "io.kubernetes.container.name": cname, "io.kubernetes.docker.type": "container",
                 "io.kubernetes.sandbox.id": sandbox},
                script, parent)
            pod.containers[cname] = cid
        return pod

    def _ctr_run(self, cid, cgroup, netns_path, annotations, script):
        args = ["ctr", "-n", "k8s.io", "run", "-d", "--null-io", "--cgroup", cgroup,
                "--with-ns", f"network:{netns_path}"]
        for k, v in annotations.items():
            args += ["--annotation", f"{k}={v}"]
        args += [self.images.containerd, cid, "sh", "-c", script]
        run(args, timeout=60)
        self.cleanup.push(f"ctr container {cid[:12]}", lambda: remove_ctr_container(cid))
        for line in ctr("tasks", "ls").stdout.decode().splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                return int(fields[1])
        raise CommandError(f"setup: ctr task {cid} not listed")

    def containerd_pod(self, addr, containers):
        """As containerd's CRI plugin makes a pod: a pinned netns, a sandbox, app containers."""
        ns, name, uid = "cnpb-containerd", f"shared-b-{short_name()}", pod_uid()
        netns_name = self._netns("b")
        netns_path = f"/var/run/netns/{netns_name}"
        self._forget_cgroup(f"/kubepods/burstable/pod{uid}")
        sandbox = marked_id()
        common = {"io.kubernetes.cri.sandbox-id": sandbox, "io.kubernetes.cri.sandbox-name": name,
                  "io.kubernetes.cri.sandbox-namespace": ns, "io.kubernetes.cri.sandbox-uid": uid}
        self._ctr_run(sandbox, f"/kubepods/burstable/pod{uid}/{sandbox}", netns_path,
                      {**common, "io.kubernetes.cri.container-type": "sandbox",
                       "io.kubernetes.cri.sandbox-log-directory": f"/var/log/pods/{ns}_{name}_{uid}"},
                      f"exec sleep {LONG_SLEEP}")
        pod = Pod("containerd pod B", "containerd", ns, name, uid, addr, netns_path)
        pod.netns = os.stat(netns_path).st_ino
        pod.containers["POD"] = sandbox
        for cname, script in containers:
            cid = marked_id()
            self._ctr_run(cid, f"/kubepods/burstable/pod{uid}/{cid}", netns_path,
                          {**common, "io.kubernetes.cri.container-type": "container",
                           "io.kubernetes.cri.container-name": cname,
                           "io.kubernetes.cri.image-name": self.images.containerd},
                          script)
            pod.containers[cname] = cid
        return pod

    def _podman_run(self, name, network, annotations, script):
        args = PODMAN_GLOBAL + ["run", "-d", "--pull", "never", "--name", name, "--network", network,
                                "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
        for k, v in annotations.items():
            args += ["--annotation", f"{k}={v}"]
        args += [self.images.podman, "sh", "-c", script]
        cid = out(args, timeout=60)
        self.cleanup.push(f"podman container {name}",
                          lambda: run(PODMAN_GLOBAL + ["rm", "-f", "-t", "0", cid], check=False))
        return cid, int(out(PODMAN_GLOBAL + ["inspect", "-f", "{{.State.Pid}}", cid]))

    def podman_pod(self, addr, containers, before_containers=None):
        ns, name, uid = "cnpb-podman", f"narrow-c-{short_name()}", pod_uid()
        annotations = {"io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.name": name,
                       "io.kubernetes.pod.uid": uid}
        infra, pid = self._podman_run(f"{PREFIX}{RUN}-{name}-POD", "none",
                                      {**annotations, "io.kubernetes.container.name": "POD"},
                                      f"exec sleep {LONG_SLEEP}")
        pod = Pod("podman pod C", "podman", ns, name, uid, addr, f"/proc/{pid}/ns/net")
        pod.netns = os.stat(pod.netns_path).st_ino
        pod.containers["POD"] = infra
        if before_containers:
            before_containers(pod)
        for cname, script in containers:
            cid, _ = self._podman_run(f"{PREFIX}{RUN}-{name}-{cname}", f"container:{infra}",
                                      {**annotations, "io.kubernetes.container.name": cname}, script)
            pod.containers[cname] = cid
        return pod

    def _forget_cgroup(self, rel):
        """The pod's cgroup directories outlive its containers; remove them at the end."""
        def remove():
            for mount in cgroup_mounts():
                remove_cgroup_tree(os.path.join(mount, rel.lstrip("/")))
        self.cleanup.push(f"cgroup {rel}", remove)

    def build_pods(self):
        """Pod A (docker): a server on 8081 and a client that holds one connection to
        the shared destination. Pod B (containerd): an app container, tcp_tw_reuse=1.
        Pod C (podman): ip_local_port_range of 30 ports with one reserved, a listener
        of its server container and a bound-only socket inside it."""
        hold = (
            "mkfifo /tmp/hold\n"
            f"(while :; do nc {SHARED[0]} {SHARED[1]} </tmp/hold; sleep 0.2; done) &\n"
            "exec 3>/tmp/hold\n"
            f"exec sleep {LONG_SLEEP}\n"
        )
        a = self.docker_pod("198.18.64.2", [
            ("server", f"exec nc -ll -p {LOOPBACK_PORT} -e /bin/cat"),
            ("client", hold),
        ])
        self.pods["A"] = a
        self.attach(a, 0)
        b = self.containerd_pod("198.18.64.3", [("app", f"exec sleep {LONG_SLEEP}")])
        self.pods["B"] = b
        self.sysctl(b.netns_path, "net.ipv4.tcp_tw_reuse=1")
        self.attach(b, 1)

        def narrow(pod):
            self.sysctl(pod.netns_path, f"net.ipv4.ip_local_port_range={NARROW_RANGE[0]} {NARROW_RANGE[1]}",
                        f"net.ipv4.ip_local_reserved_ports={NARROW_RESERVED}")

        c = self.podman_pod("198.18.64.4", [("server", f"exec nc -ll -p {NARROW_LISTENER} -e /bin/cat"),
                                            ("client", f"exec sleep {LONG_SLEEP}")],
                            before_containers=narrow)
        self.pods["C"] = c
        self.attach(c, 2)
        client_pid = int(out(PODMAN_GLOBAL + ["inspect", "-f", "{{.State.Pid}}", c.containers["client"]]))
        self.holder = Holder(self.cleanup, client_pid, c.netns_path)
        self.holder.ask(f"bind {NARROW_BOUND}")
        c.bound_ports.append(NARROW_BOUND)
        wait_until("pod A's client connection to the shared destination", lambda: any(
            s[0] == "ESTAB" and s[2] == SHARED for s in ss_brief(a)))
        wait_until("pod C's listener", lambda: any(s[0] == "LISTEN" and s[1][1] == NARROW_LISTENER
                                                     for s in ss_brief(c)))
        wait_until("pod A's listener", lambda: any(s[0] == "LISTEN" and s[1][1] == LOOPBACK_PORT
                                                     for s in ss_brief(a)))

    # ---- traffic

    def connect(self, pod, dest, timeout=3.0, family=socket.AF_INET):
        """One connection from pod to dest, made in the pod's namespace."""

        def make():
            return socket.socket(family, socket.SOCK_STREAM)

        s = in_netns(pod.netns_path, make)
        s.settimeout(timeout)
        addr = dest[0] if family == socket.AF_INET else "::ffff:" + dest[0]
        try:
            s.connect((addr, dest[1]))
        except OSError:
            s.close()
            raise
        return s

    def fill_full_budget(self):
        """Pod C holds one ESTABLISHED connection per port of the 10-port masquerade
        range; an 11th connection's SYNs are then dropped by the NAT (insert_failed)."""
        size = FULL_PORTS[1] - FULL_PORTS[0] + 1
        self.holder.ask(f"hold {FULL[0]} {FULL[1]} {size}", timeout=30)
        self.facts["full_extra_connect"] = self.holder.ask(f"try {FULL[0]} {FULL[1]} 2.5")

    def shared_entries(self):
        text = out(["nsenter", f"--net={self.node_path}", "conntrack", "-L", "--src-nat", "-p", "tcp",
                    "--reply-src", SHARED[0], "--reply-port-src", str(SHARED[1])], check=False)
        return len(text.splitlines())

    def churn(self):
        """Short connections, the client closing first. Returns when they all sit in
        TIME_WAIT (pod side) and the node's conntrack holds them as TIME_WAIT."""
        a, b, c = self.pods["A"], self.pods["B"], self.pods["C"]
        started = time.monotonic()
        # Pod C: until the kernel refuses a port, alternating IPv4 and v4-mapped IPv6 sockets.
        made = 0
        refusal = None
        while made < 100:
            family = socket.AF_INET6 if made % 2 else socket.AF_INET
            try:
                s = self.connect(c, NARROW_TARGET, family=family)
            except OSError as e:
                refusal = errno.errorcode.get(e.errno, str(e.errno))
                break
            s.close()
            made += 1
        self.facts["narrow_connects"] = made
        self.facts["narrow_refusal"] = refusal
        # Pod A: from inside its client container, with busybox nc; loopback and the shared destination.
        loop = ("i=0; while [ $i -lt {n} ]; do nc {host} {port} </dev/null >/dev/null; i=$((i+1)); done")
        run(["docker", "exec", a.containers["client"], "sh", "-c",
             loop.format(n=SHARED_A_SHORT, host=SHARED[0], port=SHARED[1])], timeout=60)
        run(["docker", "exec", a.containers["client"], "sh", "-c",
             loop.format(n=LOOPBACK_SHORT, host="127.0.0.1", port=LOOPBACK_PORT)], timeout=60)
        run(["docker", "exec", a.containers["client"], "sh", "-c",
             loop.format(n=SERVICE_SHORT, host=SERVICE[0], port=SERVICE[1])], timeout=60)
        # Pod B: from its namespace, and on until the shared SNAT range is 85% full: near
        # full, the NAT may evict a TIME_WAIT entry for a new flow (Linux 6.5+), so the
        # count of entries is not simply the count of connections.
        made = 0
        while made < SHARED_B_SHORT or (self.shared_entries() < SHARED_TARGET and made < 4 * SHARED_B_SHORT):
            self.connect(b, SHARED).close()
            made += 1
        self.facts["shared_b_connects"] = made
        answered = 0
        for _ in range(DNS_QUERIES):
            s = in_netns(b.netns_path, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            with s:
                s.settimeout(2)
                s.sendto(b"query", DNS)
                try:
                    answered += s.recv(512) == b"query"
                except OSError:
                    pass
        self.facts["dns_answered"] = answered
        self.facts["churned_in_s"] = time.monotonic() - started

        def settled():
            for pod in (a, b, c):
                for state, _l, _r in ss_brief(pod):
                    if state in ("FIN-WAIT-1", "FIN-WAIT-2", "LAST-ACK", "CLOSING", "SYN-SENT", "CLOSE-WAIT"):
                        return False
            return True

        wait_until("the short connections to reach TIME_WAIT", settled, timeout=20)
        return started


SHARED_A_SHORT = 21
SERVICE_SHORT = 4
DNS_QUERIES = 7
SHARED_TARGET = 34  # SNAT entries to the shared destination, of 40
SHARED_B_SHORT = 12
LOOPBACK_SHORT = 5


def wait_until(what, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise CommandError(f"setup: timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def split_endpoint(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if host.startswith("::ffff:"):
        host = host[7:]
    return host, int(port) if port.isdigit() else 0


def ss_brief(pod):
    """(state, (local addr, port), (remote addr, port)) of every TCP socket in the pod's namespace."""
    text = out(pod.nsenter(["ss", "-tanH"]), check=False)
    socks = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5:
            socks.append((f[0], split_endpoint(f[3]), split_endpoint(f[4])))
    return socks
