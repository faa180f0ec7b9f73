#!/usr/bin/env python3
"""End-to-end scenario for remote names (README "Remote names", issue 11):
every socket's remote end named on the port-budget node of portnode.py, from
the node alone and with `--kube` against a stand-in Kubernetes API.

On portnode's node (pods A, B, C on dockerd, containerd and podman behind a
bridge in a "node" namespace; a "remote" namespace serving 198.18.66.0/24;
the Service 198.18.67.1:80 DNATed in the node namespace) this scenario adds,
in the node namespace only:
  - a second backend, 198.18.66.7:8080, taken by every other new connection
    to the Service (nft numgen), and a masquerade for the pods' other flows;
  - a second Service, 198.18.67.2:80, DNATed to pod A's own listener (a
    backend on this node), its hairpin masqueraded as kube-proxy does;
and connections held open by processes in the pods' containers (portnode's
Holder, so each socket is that container's):
  - A -> C's listener, B -> A's listener (pod to pod, both ends on the node);
  - A -> 198.18.67.1:80 three times over IPv4, once over a v4-mapped IPv6
    socket, and once closed (a TIME_WAIT no process holds, renewed before
    it expires); B -> 198.18.67.2:80;
  - A -> the remote namespace's own address 198.18.65.2:8080, C -> a
    listener of the node namespace on its bridge address 198.18.64.1 (the
    lab's "node" namespace is not the machine's: nothing names it);
  - in the machine's own namespace (PID 1's, or where that is denied ours,
    as cnetstat takes it: the host), a connection from one of its
    non-loopback addresses to a listener on it, when it has such an address
    (nothing is added there: no address, route or rule).
For `--kube`: tests/kube_api_server.py over HTTPS with a CA made by openssl
now, a kubeconfig with a bearer token, and a PodList, ServiceList and
NodeList written here: a pod on another node at 198.18.66.2, pods at the
Service's backends, the Service shop/backend at 198.18.67.1, a node whose
InternalIP is 198.18.65.2 and a host-network pod there, the machine itself
as a node, pod A as itself, an entry naming pod B's address otherwise (the
node knows better), and a Succeeded pod whose address names nothing.

Every expectation comes from the kernel's tools read right before and right
after each cnetstat run, never from cnetstat: `ss -taneH` in each namespace
of the test (and in the host namespace for its one connection), with each
socket's holder read from /proc/PID/fd of the processes in the pods'
namespaces (what `ss -p` shows; `ss -p` itself reads every process of the
machine and takes seconds on a busy one); `ip -j addr` in every network
namespace of the machine (an address names a pod only where one namespace
holds it); `conntrack -L -d VIP` in the node namespace (the backend of each
connection to a Service); and from what the test built (which pod owns which
namespace, what the API fixtures list).

Usage: names.py BINARY            (root; dockerd, containerd, podman running)
       names.py --setup-only      build the node and print what the oracle expects
run.py calls scenario() as part of the main suite.
"""

import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import portnode  # noqa: E402
from checks import Report, compact, run_cnetstat  # noqa: E402
from portnode import (  # noqa: E402
    BACKEND,
    GATEWAY,
    LOOPBACK_PORT,
    NARROW_LISTENER,
    POD_NET,
    REMOTE_ADDR,
    SERVICE,
    SHARED,
    Holder,
    Node,
    Servers,
    in_netns,
    wait_until,
)
from ports import SS_STATES, endpoint, parse_conntrack  # noqa: E402
from sysenv import PODMAN_GLOBAL, Cleanup, CommandError, ctr, missing_prerequisites, out, run  # noqa: E402

BACKEND_2 = ("198.18.66.7", 8080)
# Pod A's connections to the Service: held over IPv4, held over a v4-mapped IPv6
# socket, and closed (its TIME_WAIT, no process). numgen alternates the backends.
SERVICE_HELD = 3
SERVICE_CONNECTIONS = SERVICE_HELD + 2
# A second Service, DNATed to pod A's own listener (the backend a pod of this node):
# pod B calls it, the node masquerades the hairpin so that A's answers come back through it.
LOCAL_SERVICE = ("198.18.67.2", 80)
POD_A_ADDR = "198.18.64.2"  # portnode's pod A
VIPS = (SERVICE, LOCAL_SERVICE)
NODE_PORT = 7070  # a listener of the node namespace, on its bridge address
TO_REMOTE_NODE = (REMOTE_ADDR, 8080)  # the remote namespace's own interface address

# What the stand-in API lists.
FAR_POD = ("faraway", "db-0")  # on another node, at SHARED's address
BACKEND_PODS = {BACKEND[0]: ("shop", "backend-0"), BACKEND_2[0]: ("shop", "backend-1")}
SERVICE_NAME = ("shop", "backend")
OTHER_SERVICE = ("default", "kubernetes", "198.18.67.9")
REMOTE_NODE = "lab-remote"  # InternalIP 198.18.65.2
HOST_NODE = "lab-host"  # the machine: InternalIP its own address
HOSTNET_POD = ("kube-system", "kube-proxy-lab-remote")  # hostNetwork, at the remote node's address
STALE_POD = ("stale", "old-b")  # the API's word for pod B's address; the node knows better
DONE_POD = ("batch", "report-0")  # Succeeded, at the node namespace's uplink address: names nothing

NAT_EXTRA = f"""\
insert rule ip cnpb_nat pre ip daddr {SERVICE[0]} tcp dport {SERVICE[1]} numgen inc mod 2 1 dnat to {BACKEND_2[0]}:{BACKEND_2[1]}
add rule ip cnpb_nat pre ip daddr {LOCAL_SERVICE[0]} tcp dport {LOCAL_SERVICE[1]} dnat to {POD_A_ADDR}:{LOOPBACK_PORT}
add rule ip cnpb_nat post oifname "pbr0" ip saddr {POD_NET} masquerade
add rule ip cnpb_nat post oifname "pbbr0" ip saddr {POD_NET} ct status dnat masquerade
"""

TOOLS = ("conntrack", "nft", "iptables-nft", "ss", "nsenter", "openssl", "ip")

NO_NAME = (None, None, None)


def host_netns_path():
    """The machine's own namespace as cnetstat takes it (design.md): PID 1's, or where
    that link is denied (a sandbox whose PID 1 holds a capability root lacks), the
    namespace cnetstat runs in, which is this process's."""
    try:
        os.stat("/proc/1/ns/net")
        return "/proc/1/ns/net"
    except OSError:
        return f"/proc/{os.getpid()}/ns/net"


def missing_tools():
    return [f"{t} is not installed (apt: conntrack nftables iptables iproute2 util-linux openssl)"
            for t in TOOLS if shutil.which(t) is None]


# ---------------------------------------------------------------- the oracle


def unmap(text):
    addr = ipaddress.ip_address(text)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def machine_namespaces():
    """{inode: path} of every network namespace of the machine a process or a bind mount holds."""
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            path = f"/proc/{pid}/ns/net"
            try:
                found.setdefault(os.stat(path).st_ino, path)
            except OSError:
                pass
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split(" ")
            if right.split(" ", 1)[0] == "nsfs" and fields[3].startswith("net:["):
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                found.setdefault(int(fields[3][5:-1]), point)
    return found


def address_holders(namespaces):
    """{address: {netns inode}} from `ip -j addr` in every namespace (run side by
    side), loopback and unspecified addresses left out as the README says."""
    procs = {}
    for inode, path in namespaces.items():
        procs[inode] = subprocess.Popen(["nsenter", f"--net={path}", "ip", "-j", "addr"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    holders = {}
    for inode, proc in procs.items():
        try:
            text, _ = proc.communicate(timeout=10)
            links = json.loads(text or b"[]")
        except (subprocess.TimeoutExpired, ValueError):
            proc.kill()
            proc.wait()
            continue
        for link in links:
            for info in link.get("addr_info", []):
                try:
                    addr = ipaddress.ip_address(info["local"])
                except (KeyError, ValueError):
                    continue
                if addr.is_loopback or addr.is_unspecified:
                    continue
                holders.setdefault(unmap(str(addr)), set()).add(inode)
    return holders


@dataclass(frozen=True)
class Sock:
    """A socket as `ss -taneH` shows it, addresses unmapped; `mapped`: a v4-mapped
    IPv6 socket; `ino`: its inode (0 for TIME_WAIT)."""
    state: str
    laddr: str
    lport: int
    raddr: str
    rport: int
    ino: int = 0
    mapped: bool = False


def parse_sockets(text):
    socks = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5 or f[0] not in SS_STATES:
            continue
        (laddr, lport), (raddr, rport) = endpoint(f[3]), endpoint(f[4])
        ino = re.search(r"\bino:(\d+)", line)
        socks.append(Sock(SS_STATES[f[0]], laddr, lport, raddr, rport, int(ino.group(1)) if ino else 0,
                          f[4].lower().startswith("[::ffff:")))
    return socks


def socket_holders(netns_inodes):
    """{socket inode: pid} for the sockets the processes of these namespaces hold
    (what `ss -p` reads, from the few processes that matter: a scan of every
    process's descriptors takes seconds on a busy machine)."""
    held = {}
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino not in netns_inodes:
                continue
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                held.setdefault(int(link[8:-1]), int(pid))
    return held


def container_of(pod, pid):
    """The pod's container whose id /proc/PID/cgroup names, else None."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            text = f.read()
    except OSError:
        return None
    return next((name for name, cid in pod.containers.items() if cid in text), None)


@dataclass
class Reading:
    at: float
    socks: dict  # netns inode -> [ports.Sock] (the host: only the test's pair)
    dnat: dict  # (laddr, lport, vip, vport) -> (backend addr, port), from conntrack -L -d VIP
    holders: dict = field(default_factory=dict)  # address -> {netns inode}
    owners: dict = field(default_factory=dict)  # (netns inode, socket inode) -> the pod container holding it


class Lab:
    """What the test built and knows, and the kernel's tools that read it."""

    def __init__(self, node, host_pair, host_netns):
        self.node = node
        self.host_pair = host_pair  # ((addr, port) listener, (addr, port) client) or None
        self.host_netns = host_netns
        self.remote_netns = os.stat(node.remote_path).st_ino
        self.pods = {p.netns: p for p in node.pods.values()}
        self.paths = {p.netns: p.netns_path for p in node.pods.values()}
        self.paths[node.node_inode] = node.node_path
        self.paths[self.remote_netns] = node.remote_path
        self.machine = machine_namespaces()
        self.holder_a = None  # pod A's client container's socket holder
        self.spent = {}  # seconds the oracle took, by tool
        self.timewait_at = None

    def make_timewait(self):
        """One short connection from pod A's client to the Service: its TIME_WAIT (no
        process) stays 60 s, its conntrack entry (DNATed) 120 s."""
        if self.holder_a.ask(f"try {SERVICE[0]} {SERVICE[1]} 3") != "connected":
            raise CommandError("setup: pod A's short connection to the Service failed")
        self.timewait_at = time.monotonic()

    def fresh_timewait(self):
        """A new TIME_WAIT before the last one gets near its 60 s, so that a slow run
        still has one to check."""
        if time.monotonic() - self.timewait_at > 40:
            self.make_timewait()

    def read(self, addresses=True):
        at = time.monotonic()
        self.spent["readings"] = self.spent.get("readings", 0) + 1
        socks = {}
        for inode, path in self.paths.items():
            socks[inode] = parse_sockets(out(["nsenter", f"--net={path}", "ss", "-taneH"]))
        if self.host_pair:
            port = self.host_pair[0][1]
            text = out(["nsenter", f"--net={host_netns_path()}", "ss", "-taneH",
                        f"( sport = :{port} or dport = :{port} )"])
            socks[self.host_netns] = parse_sockets(text)
        t = time.monotonic()
        self.spent["ss"] = self.spent.get("ss", 0) + t - at
        dnat = {}
        for vip, _port in VIPS:
            ct = out(["nsenter", f"--net={self.node.node_path}", "conntrack", "-L", "-p", "tcp", "-d", vip],
                     check=False)
            for e in parse_conntrack(ct):
                if (e.orig[1], e.orig[3]) != (e.reply[0], e.reply[2]):
                    dnat[(e.orig[0], e.orig[2], e.orig[1], e.orig[3])] = (e.reply[0], e.reply[2])
        reading = Reading(at, socks, dnat)
        t2 = time.monotonic()
        self.spent["conntrack"] = self.spent.get("conntrack", 0) + t2 - t
        held = socket_holders(set(self.pods))
        for inode, pod in self.pods.items():
            for sock in socks[inode]:
                if sock.ino in held:
                    reading.owners[(inode, sock.ino)] = container_of(pod, held[sock.ino])
        t3 = time.monotonic()
        self.spent["owners"] = self.spent.get("owners", 0) + t3 - t2
        if addresses:
            self.machine = machine_namespaces()
            reading.holders = address_holders(self.machine)
            self.spent["ip addr"] = self.spent.get("ip addr", 0) + time.monotonic() - t3
        return reading

    def local_name(self, reading, addr):
        """What the node alone says `addr` is: ('pod', ns, name) when one pod's
        namespace holds it, ('host', None, None) when only the machine's namespace
        does, NO_NAME when nothing or several hold it or the holder is no pod;
        None when the one holder is a namespace the test did not make (another
        run's), whose owner the test cannot know."""
        holders = reading.holders.get(addr, set())
        if len(holders) != 1:
            return NO_NAME
        (inode,) = holders
        if inode == self.host_netns:
            return ("host", None, None)
        if inode in self.pods:
            return ("pod", self.pods[inode].namespace, self.pods[inode].name)
        if inode in self.paths:
            return NO_NAME  # the lab's node and remote namespaces: no pod owns them
        return None

    def expected(self, reading, sock, api=None):
        """(remote_kind, remote_namespace, remote_name, remote_endpoint) of a socket,
        or None when the oracle cannot tell."""
        ep = reading.dnat.get((sock.laddr, sock.lport, sock.raddr, sock.rport))
        endpoint_text = f"{ep[0]}:{ep[1]}" if ep else None
        name = self.local_name(reading, sock.raddr)
        if name is None:
            return None
        if name == NO_NAME and api:
            name = api.get(sock.raddr, NO_NAME)
        if name == NO_NAME and ep:
            name = ("service", None, None)
        return (*name, endpoint_text)

    def backend_name(self, reading, addr, api=None):
        name = self.local_name(reading, addr)
        if name == NO_NAME and api:
            name = api.get(addr, NO_NAME)
        return name

    def inodes(self):
        return set(self.paths) | ({self.host_netns} if self.host_pair else set())


def wild(addr):
    """ss prints a dual-stack listener's address as `*` (read as 0.0.0.0), cnetstat as
    `::`: any unspecified address is "*" in a key."""
    return "*" if ipaddress.ip_address(addr).is_unspecified else addr


def row_key(row):
    try:
        return (row["netns"], wild(unmap(row["local_addr"])), row["local_port"], wild(unmap(row["remote_addr"])),
                row["remote_port"], row["state"])
    except (KeyError, TypeError, ValueError):
        return None


def sock_key(inode, s):
    return (inode, wild(s.laddr), s.lport, wild(s.raddr), s.rport, s.state)


def sock_text(inode, s):
    return f"netns {inode} {s.laddr}:{s.lport} -> {s.raddr}:{s.rport} {s.state}"


def row_remote(row):
    return (row.get("remote_kind"), row.get("remote_namespace"), row.get("remote_name"),
            row.get("remote_endpoint"))


def show(remote):
    kind, ns, name, ep = remote
    text = kind or "null"
    if ns or name:
        text += f" {ns}/{name}" if ns else f" {name}"
    return text + (f" -> {ep}" if ep else "")


# ---------------------------------------------------------------- the stand-in Kubernetes API


def openssl(workdir, *args):
    proc = subprocess.run(["openssl", *args], cwd=workdir, capture_output=True)
    if proc.returncode != 0:
        raise CommandError(f"openssl {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")


def make_pki(workdir):
    """A CA and a server certificate for 127.0.0.1 signed by it (as
    src/names/kube_api/test_pki.rs makes them), P-256 keys."""
    for name in ("ca", "server"):
        openssl(workdir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key")
    openssl(workdir, "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj",
            "/CN=cnetstat-names-e2e-ca", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem")
    openssl(workdir, "req", "-new", "-key", "server.key", "-subj", "/CN=localhost", "-out", "server.csr")
    with open(os.path.join(workdir, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl(workdir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial",
            "7", "-days", "2", "-sha256", "-extfile", "server.ext", "-out", "server.pem")


def k8s_pod(namespace, name, ip, node_name, host_ip, host_network=False, phase="Running"):
    """A Pod as GET /api/v1/pods lists it (Kubernetes API reference, pod-v1)."""
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "resourceVersion": "1001",
                     "creationTimestamp": "2025-01-01T00:00:00Z", "labels": {"app": name.rsplit("-", 1)[0]}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "resources": {}}],
                 "restartPolicy": "Always", "nodeName": node_name, "hostNetwork": host_network,
                 "serviceAccountName": "default"},
        "status": {"phase": phase, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": ip, "podIPs": [{"ip": ip}],
                   "startTime": "2025-01-01T00:00:01Z",
                   "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None,
                                   "lastTransitionTime": "2025-01-01T00:00:05Z"}]},
    }


def k8s_service(namespace, name, cluster_ip, port, target_port):
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "resourceVersion": "1002"},
        "spec": {"ports": [{"protocol": "TCP", "port": port, "targetPort": target_port}],
                 "selector": {"app": name}, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                 "type": "ClusterIP", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {}},
    }


def k8s_node(name, internal_ip, pod_cidr):
    return {
        "metadata": {"name": name, "uid": str(uuid.uuid4()), "labels": {"kubernetes.io/hostname": name}},
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": internal_ip}, {"type": "Hostname", "address": name}],
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    }


def k8s_list(kind, items):
    return {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1003"}, "items": items}


class KubeApi:
    """tests/kube_api_server.py serving the fixtures, and what they name."""

    SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kube_api_server.py")

    def __init__(self, cleanup, workdir, node, host_addr):
        self.dir = os.path.join(workdir, "kube")
        os.mkdir(self.dir)
        self.cleanup = cleanup
        make_pki(self.dir)
        self.token = "cnetstat-names-e2e-" + secrets.token_hex(8)
        a, b = node.pods["A"], node.pods["B"]
        remote = (REMOTE_NODE, REMOTE_ADDR)
        here = (HOST_NODE, host_addr or GATEWAY)
        pods = [
            k8s_pod(*FAR_POD, SHARED[0], *remote),
            *(k8s_pod(ns, name, ip, *remote) for ip, (ns, name) in BACKEND_PODS.items()),
            k8s_pod(*HOSTNET_POD, REMOTE_ADDR, *remote, host_network=True),
            k8s_pod(a.namespace, a.name, a.addr, *here),
            k8s_pod(*STALE_POD, b.addr, *here),
            k8s_pod(*DONE_POD, portnode.NAT_ADDR, *remote, phase="Succeeded"),
        ]
        services = [k8s_service(*SERVICE_NAME, SERVICE[0], SERVICE[1], BACKEND[1]),
                    k8s_service(*OTHER_SERVICE, 443, 6443)]
        nodes = [k8s_node(REMOTE_NODE, REMOTE_ADDR, "198.18.68.0/24")] + (
            [k8s_node(HOST_NODE, host_addr, POD_NET)] if host_addr else [])
        for file, body in (("pods.json", k8s_list("PodList", pods)), ("services.json", k8s_list("ServiceList", services)),
                           ("nodes.json", k8s_list("NodeList", nodes))):
            with open(os.path.join(self.dir, file), "w") as f:
                json.dump(body, f, indent=1)
        # What each address is by the API alone, weakest first as design.md orders them
        # (nodes, pods but host-network ones, Services), before the node's own view.
        self.names = {}
        for n in nodes:
            self.names[n["status"]["addresses"][0]["address"]] = ("node", None, n["metadata"]["name"])
        for p in pods:
            # A finished pod's address may be anyone's now (testdata/kube/README.md).
            if not p["spec"]["hostNetwork"] and p["status"]["phase"] not in ("Succeeded", "Failed"):
                self.names[p["status"]["podIP"]] = ("pod", p["metadata"]["namespace"], p["metadata"]["name"])
        for s in services:
            self.names[s["spec"]["clusterIP"]] = ("service", s["metadata"]["namespace"], s["metadata"]["name"])
        self.without_pods = {k: v for k, v in self.names.items() if v[0] != "pod"}

    def start(self, label, *options):
        """A server (`--forbid PATH` etc.), its kubeconfig and its log."""
        log = os.path.join(self.dir, f"{label}.log")
        proc = subprocess.Popen(
            [sys.executable, self.SERVER, "--mode", "https", "--token", self.token, "--lifetime", "120",
             "--cert", os.path.join(self.dir, "server.pem"), "--key", os.path.join(self.dir, "server.key"),
             "--ca", os.path.join(self.dir, "ca.pem"), "--fixtures", self.dir, "--log", log, *options],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                stream.close()

        self.cleanup.push(f"kube API server {label}", stop)
        line = proc.stdout.readline().decode().strip()
        if not line.isdigit():
            stop()
            raise CommandError(f"setup: the stand-in API did not start: {line!r} {proc.stderr.read().decode()[-300:]}")
        kubeconfig = os.path.join(self.dir, f"{label}.kubeconfig")
        with open(kubeconfig, "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
                    f"clusters:\n- name: lab\n  cluster:\n    server: https://127.0.0.1:{line}\n"
                    f"    certificate-authority: {os.path.join(self.dir, 'ca.pem')}\n"
                    f"users:\n- name: viewer\n  user:\n    token: {self.token}\n"
                    "contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: viewer\n")
        return kubeconfig, log


# ---------------------------------------------------------------- the table


def parse_listing_table(text):
    """Lines of the listing table cut at its header's columns: [{column: cell}]."""
    lines = text.splitlines()
    if not lines:
        return [], []
    head = lines[0]
    names = head.split()
    starts = [m.start() for m in re.finditer(r"\S+", head)]
    rows = []
    for line in lines[1:]:
        if not line.strip():
            continue
        cells = {name: line[s: starts[i + 1] if i + 1 < len(starts) else None].strip()
                 for i, (name, s) in enumerate(zip(names, starts))}
        cells["text"] = line
        rows.append(cells)
    return names, rows


def cell_endpoint(text):
    """`198.18.64.2:41000`, `[::ffff:198.18.64.2]:8081` -> (addr, port)."""
    try:
        addr, port = endpoint(text.split(" ", 1)[0])
        return unmap(addr), port
    except ValueError:
        return None


def name_text(name):
    """The table's words for a name (README: `pod shop/db-0`, `svc kube-system/kube-dns`, `node node-2`, `host`)."""
    kind, ns, nm = name
    short = {"service": "svc"}.get(kind, kind)
    parts = [p for p in (ns, nm) if p]
    return short + (" " + "/".join(parts) if parts else "")


def expected_cell(lab, reading, sock, api=None):
    """The REMOTE cell README's examples show, or None when the oracle cannot tell."""
    exp = lab.expected(reading, sock, api)
    if exp is None:
        return None
    kind, ns, nm, ep = exp
    if kind is None and ep is None:
        return ""
    text = f" ({name_text((kind, ns, nm))}"
    if ep:
        text += f" → {ep}"
        backend = lab.backend_name(reading, ep.rsplit(":", 1)[0], api)
        if backend and backend != NO_NAME:
            text += " " + name_text(backend)
    return text + ")"


# ---------------------------------------------------------------- the scenario


@dataclass
class Observation:
    result: object
    before: Reading
    after: Reading


class Scenario:
    def __init__(self, binary, report, lab, api):
        self.binary = binary
        self.report = report
        self.lab = lab
        self.api = api
        self.timings = []

    def check(self, name, problems):
        self.report.check("names: " + name, problems)

    def observe(self, args, env=None):
        self.lab.fresh_timewait()
        before = self.lab.read()
        result = run_cnetstat([self.binary] + args, env=env)
        after = self.lab.read(addresses=False)
        after.holders = before.holders
        self.timings.append((" ".join(args), result.seconds))
        return Observation(result, before, after)

    # ---- comparing a listing with the oracle

    def socket_problems(self, obs, api=None, select=None):
        """Every socket of the test's namespaces (as ss shows it before and after
        the run) against its row; `select(inode, sock)` picks which. Returns
        (problems, number of sockets compared)."""
        rows = {}
        problems = []
        for row in obs.result.rows:
            key = row_key(row)
            if key in rows:
                problems.append(f"two rows for one socket: {compact(rows[key])} and {compact(row)}")
            rows[key] = row
        compared = 0
        for inode in sorted(self.lab.inodes()):
            before = {sock_key(inode, s): s for s in obs.before.socks.get(inode, [])}
            after = {sock_key(inode, s): s for s in obs.after.socks.get(inode, [])}
            for key in sorted(set(before) & set(after), key=str):
                sock = before[key]
                if select and not select(inode, sock):
                    continue
                if sock.state == "LISTEN" and "-a" not in obs.result.argv and "-l" not in obs.result.argv:
                    continue
                want = {self.lab.expected(r, sock, api) for r in (obs.before, obs.after)}
                if None in want:
                    continue
                compared += 1
                row = rows.get(key)
                if row is None:
                    problems.append(f"no row for {sock_text(inode, sock)}")
                    continue
                got = row_remote(row)
                if got not in want:
                    problems.append(f"{sock_text(inode, sock)}: {show(got)}, expected "
                                    f"{' or '.join(sorted(map(show, want)))}\n  row: {compact(row)}")
        return problems, compared

    def is_pod_to_pod(self, inode, sock):
        return inode in self.lab.pods and sock.raddr in {p.addr for p in self.lab.pods.values()}

    @staticmethod
    def is_service(inode, sock):
        return (sock.raddr, sock.rport) == SERVICE

    @staticmethod
    def is_local_service(inode, sock):
        return (sock.raddr, sock.rport) == LOCAL_SERVICE

    def is_node_or_host(self, inode, sock):
        """Pod C's connection to the node namespace's listener, both ends; the host's connection, both ends."""
        return ((sock.raddr, sock.rport) == (GATEWAY, NODE_PORT)
                or (inode == self.lab.node.node_inode and sock.lport == NODE_PORT and sock.state != "LISTEN")
                or inode == self.lab.host_netns)

    def named_checks(self, title, obs, api=None):
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        problems += [f"not a JSON object: {line[:200]}" for line in res.bad_lines]
        self.check(f"{title}: exit 0, JSON Lines", problems)
        groups = [
            ("a pod's connection to another pod of the node (A -> C, B -> A) and the accepted ends: "
             "remote_kind pod, that pod's namespace and name", self.is_pod_to_pod, 4),
            (f"connections to the Service {SERVICE[0]}:{SERVICE[1]}: remote_kind service, "
             + ("its name, " if api else "remote_name null, ")
             + "remote_endpoint the backend conntrack DNATed each to (IPv4, v4-mapped IPv6, TIME_WAIT)",
             self.is_service, SERVICE_CONNECTIONS),
            (f"pod B's connection to {LOCAL_SERVICE[0]}:{LOCAL_SERVICE[1]}, DNATed to pod A: remote_kind service, "
             "no name, remote_endpoint pod A's address and port", self.is_local_service, 1),
            (f"pod C -> the lab node namespace's {GATEWAY}:{NODE_PORT} (no pod's, not the machine's namespace): "
             "nothing named" + ("; the host namespace's connection to its own address: host"
                                if self.lab.host_pair else ""),
             self.is_node_or_host, 2 + (2 if self.lab.host_pair else 0)),
            ("every socket of the test's namespaces, as ss, ip addr and conntrack say", None, 20),
        ]
        for name, select, least in groups:
            found, compared = self.socket_problems(obs, api, select)
            if compared < least:
                found.append(f"only {compared} sockets to compare, the setup made at least {least}")
            self.check(f"{title}: {name}", found)

    # ---- checks

    def setup(self):
        lab = self.lab
        reading = lab.read()
        problems = []
        for pod in lab.pods.values():
            holders = reading.holders.get(pod.addr, set())
            if holders != {pod.netns}:
                problems.append(f"{pod.label}'s {pod.addr} is held by namespaces {sorted(holders)}, "
                                f"expected only its own {pod.netns} (another run on this machine?)")
        a, b, c = (lab.node.pods[k] for k in "ABC")

        def estab(pod_or_inode, dest):
            inode = pod_or_inode if isinstance(pod_or_inode, int) else pod_or_inode.netns
            return sum(1 for s in reading.socks[inode] if s.state == "ESTABLISHED" and (s.raddr, s.rport) == dest)

        wanted = [(a, (c.addr, NARROW_LISTENER), 1), (b, (a.addr, LOOPBACK_PORT), 1),
                  (a, SERVICE, SERVICE_HELD + 1), (a, TO_REMOTE_NODE, 1), (a, SHARED, 1),
                  (c, (GATEWAY, NODE_PORT), 1), (b, LOCAL_SERVICE, 1)]
        for pod, dest, n in wanted:
            if estab(pod, dest) != n:
                problems.append(f"{pod.label}: {estab(pod, dest)} ESTABLISHED to {dest[0]}:{dest[1]}, expected {n}")
        tw = sum(1 for s in reading.socks[a.netns] if s.state == "TIME_WAIT" and (s.raddr, s.rport) == SERVICE)
        if tw < 1:
            problems.append(f"{a.label}: {tw} TIME_WAIT to {SERVICE[0]}:{SERVICE[1]}, expected 1")
        mapped = [ln for ln in out(a.nsenter(["ss", "-tanH", "dst", f"[::ffff:{SERVICE[0]}]:{SERVICE[1]}"])).splitlines()
                  if "ESTAB" in ln]
        if len(mapped) != 1:
            problems.append(f"{a.label}: {len(mapped)} v4-mapped IPv6 sockets to the Service, expected 1")
        to_service = {k: v for k, v in reading.dnat.items() if k[2:] == SERVICE}
        backends = sorted(set(to_service.values()))
        if len(to_service) != SERVICE_CONNECTIONS or backends != sorted({BACKEND, BACKEND_2}):
            problems.append(f"conntrack -L -d {SERVICE[0]}: {len(to_service)} DNAT entries to {backends}, expected "
                            f"{SERVICE_CONNECTIONS} to {BACKEND[0]}:{BACKEND[1]} and {BACKEND_2[0]}:{BACKEND_2[1]}")
        local = sorted({v for k, v in reading.dnat.items() if k[2:] == LOCAL_SERVICE})
        if local != [(a.addr, LOOPBACK_PORT)]:
            problems.append(f"conntrack -L -d {LOCAL_SERVICE[0]}: backends {local}, expected pod A's "
                            f"{a.addr}:{LOOPBACK_PORT}")
        if lab.host_pair:
            (addr, port), _ = lab.host_pair
            if reading.holders.get(addr) != {lab.host_netns}:
                problems.append(f"the host's {addr} is held by {sorted(reading.holders.get(addr, ()))}")
            if estab(lab.host_netns, (addr, port)) != 1:
                problems.append(f"no ESTABLISHED connection to {addr}:{port} in the host namespace")
        self.check(f"setup: the kernel's view (pods {a.addr}, {b.addr}, {c.addr} each in one namespace; "
                   f"{SERVICE_CONNECTIONS} connections to {SERVICE[0]}:{SERVICE[1]} DNATed to {len(backends)} backends, "
                   f"{LOCAL_SERVICE[0]}:{LOCAL_SERVICE[1]} to pod A"
                   + (f"; host {lab.host_pair[0][0]} in the host namespace only" if lab.host_pair else "") + ")",
                   problems)

    def listing(self):
        obs = self.observe(["--format", "json", "-a"])
        self.named_checks("-a --format json (the node alone)", obs)
        return obs

    def partitions(self, reading, pod):
        """The pod's outbound sockets by destination, split as README's summary groups
        them: per container (None for a socket no process holds, a TIME_WAIT) and per
        address family (a v4-mapped IPv6 socket's remote address is written
        differently). {(addr, port): {(container, mapped): [Sock]}}."""
        socks = reading.socks[pod.netns]
        listening = {s.lport for s in socks if s.state == "LISTEN"}
        parts = {}
        for s in socks:
            if s.state == "LISTEN" or s.lport in listening:
                continue
            container = reading.owners.get((pod.netns, s.ino)) if s.ino else None
            parts.setdefault((s.raddr, s.rport), {}).setdefault((container, s.mapped), []).append(s)
        return parts

    def part_expected(self, reading, socks, api):
        """(names, remote_endpoints) of a group of these sockets: the names the oracle
        gives them, and how many distinct backends conntrack shows for them."""
        names = {self.lab.expected(reading, s, api) for s in socks}
        names = None if None in names else {n[:3] for n in names}
        backends = {reading.dnat[k] for k in ((s.laddr, s.lport, s.raddr, s.rport) for s in socks)
                    if k in reading.dnat}
        return names, len(backends) or None

    def summary(self, api=None, kubeconfig=None):
        args = ["--summary", "--format", "json"] + (["--kube", "--kubeconfig", kubeconfig] if api else [])
        obs = self.observe(args)
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        lab = self.lab
        compared = 0
        for pod in lab.pods.values():
            before, after = self.partitions(obs.before, pod), self.partitions(obs.after, pod)
            for dest in sorted(set(before) & set(after)):
                for part in sorted(set(before[dest]) & set(after[dest]), key=str):
                    container, mapped = part
                    wants = [self.part_expected(r, p[dest][part], api) for r, p in ((obs.before, before),
                                                                                  (obs.after, after))]
                    counts = {len(before[dest][part]), len(after[dest][part])}
                    groups = [g for g in res.rows if g.get("netns") == pod.netns and g.get("direction") == "out"
                              and isinstance(g.get("remote_addr"), str) and unmap(g["remote_addr"]) == dest[0]
                              and g.get("remote_port") == dest[1] and g.get("container") == container
                              and g["remote_addr"].lower().startswith("::ffff:") == mapped]
                    where = (f"{pod.label} ({container or 'no process'}{', v4-mapped' if mapped else ''}) -> "
                             f"{dest[0]}:{dest[1]}")
                    if len(groups) != 1:
                        problems.append(f"{where}: {len(groups)} groups, expected 1: {[compact(g) for g in groups]}")
                        continue
                    g = groups[0]
                    compared += 1
                    got = (g.get("remote_kind"), g.get("remote_namespace"), g.get("remote_name"))
                    if g.get("count") not in counts:
                        problems.append(f"{where}: count {g.get('count')}, ss shows {sorted(counts)}")
                    names = [w[0] for w in wants if w[0] is not None]
                    if names and all(len(n) == 1 and got not in n for n in names):
                        problems.append(f"{where}: named {show((*got, None))}, expected "
                                        f"{show((*next(iter(names[0])), None))}: {compact(g)}")
                    if g.get("remote_endpoints") not in {w[1] for w in wants}:
                        problems.append(f"{where}: remote_endpoints {g.get('remote_endpoints')!r}, conntrack shows "
                                        f"{' or '.join(str(w[1]) for w in wants)} distinct backends for its "
                                        f"{len(before[dest][part])} sockets: {compact(g)}")
            # Inbound groups: the remote end is no key, so no name (README JSON).
            for g in res.rows:
                if g.get("netns") == pod.netns and g.get("direction") == "in" and any(
                        g.get(k) is not None for k in ("remote_kind", "remote_namespace", "remote_name",
                                                       "remote_endpoints")):
                    problems.append(f"{pod.label}: an inbound group carries a remote name: {compact(g)}")
        if compared < 8:
            problems.append(f"only {compared} groups compared")
        title = "--summary --format json" + (" --kube" if api else "")
        self.check(f"{title}: every outbound group of the pods (per container and address family) named as its "
                   "sockets are, remote_endpoints = the distinct backends conntrack shows for its sockets, count "
                   "as ss; inbound groups unnamed", problems)

    def summary_by_pod(self):
        """--by pod: the remote end is no key, so no group carries a name (README JSON)."""
        res = run_cnetstat([self.binary, "--by", "pod", "--format", "json"])
        problems = [] if res.returncode == 0 else [res.describe()]
        mine = [g for g in res.rows if g.get("pod") in {p.name for p in self.lab.pods.values()}]
        if len(mine) != len(self.lab.pods):
            problems.append(f"{len(mine)} groups for the test's {len(self.lab.pods)} pods: {[compact(g) for g in mine]}")
        problems += [f"named: {compact(g)}" for g in res.rows
                     if any(g.get(k) is not None for k in ("remote_kind", "remote_namespace", "remote_name",
                                                           "remote_endpoints"))]
        self.check("--by pod --format json: the remote end is no key, no group is named", problems)

    def table(self, api=None, kubeconfig=None):
        args = ["-a"] + (["--kube", "--kubeconfig", kubeconfig] if api else [])
        obs = self.observe(args)
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        names, lines = parse_listing_table(res.stdout)
        for col in ("LOCAL", "REMOTE", "STATE"):
            if col not in names:
                problems.append(f"no {col} column in the header {names}")
        lab = self.lab
        by_local = {}
        for line in lines:
            local = cell_endpoint(line.get("LOCAL", ""))
            remote = cell_endpoint(line.get("REMOTE", ""))
            if local and remote:
                by_local.setdefault((local, remote), []).append(line)
        shown = []
        for inode in sorted(lab.inodes()):
            for s in obs.before.socks.get(inode, []):
                if not (self.is_pod_to_pod(inode, s) or self.is_service(inode, s) or self.is_node_or_host(inode, s)
                        or self.is_local_service(inode, s) or (s.raddr, s.rport) in (SHARED, TO_REMOTE_NODE)):
                    continue
                if s not in obs.after.socks.get(inode, []):
                    continue
                wants = {expected_cell(lab, r, s, api) for r in (obs.before, obs.after)}
                if None in wants:
                    continue
                candidates = by_local.get(((s.laddr, s.lport), (s.raddr, s.rport)), [])
                if len(candidates) != 1:
                    problems.append(f"{len(candidates)} lines for {sock_text(inode, s)}")
                    continue
                cell = candidates[0]["REMOTE"]
                first = cell.split(" ", 1)[0]
                suffix = cell[len(first):]
                if suffix not in wants:
                    problems.append(f"{sock_text(inode, s)}: REMOTE {cell!r}, expected "
                                    f"{' or '.join(repr(first + w) for w in sorted(wants))}\n  line: "
                                    f"{candidates[0]['text']!r}")
                else:
                    shown.append(cell)
        if not any("(svc" in c for c in shown):
            problems.append("no Service cell compared")
        example = next((c for c in shown if "(svc" in c), "")
        self.check(f"table{' --kube' if api else ''}: the REMOTE cell names each remote end as the README shows "
                   f"(e.g. {example!r})", problems)

    def summary_table(self, api=None, kubeconfig=None):
        """The summary's REMOTE cell: a pod's or node's name; a Service's with the
        number of distinct backends of the group instead of one backend."""
        args = ["--summary"] + (["--kube", "--kubeconfig", kubeconfig] if api else [])
        obs = self.observe(args)
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        names, lines = parse_listing_table(res.stdout)
        for col in ("POD", "CONTAINER", "REMOTE"):
            if col not in names:
                problems.append(f"no {col} column in the header {names}")
        shown = []
        for pod in self.lab.pods.values():
            before, after = self.partitions(obs.before, pod), self.partitions(obs.after, pod)
            for dest in sorted(set(before) & set(after)):
                for part in sorted(set(before[dest]) & set(after[dest]), key=str):
                    container, mapped = part
                    wanted = set()
                    for r, p in ((obs.before, before), (obs.after, after)):
                        names_of, backends = self.part_expected(r, p[dest][part], api)
                        if names_of is None or len(names_of) != 1:
                            continue
                        kind, ns, nm = next(iter(names_of))
                        want = "" if kind is None else f" ({name_text((kind, ns, nm))}"
                        if backends:
                            want += f" → {backends} backend{'s' if backends > 1 else ''}"
                        wanted.add(want + (")" if want else ""))
                    if not wanted:
                        continue
                    where = (f"{pod.label} ({container or 'no process'}{', v4-mapped' if mapped else ''}) -> "
                             f"{dest[0]}:{dest[1]}")
                    mine = [ln for ln in lines if ln.get("POD") == pod.name
                            and ln.get("CONTAINER") == (container or "(pod)")
                            and cell_endpoint(ln.get("REMOTE", "")) == dest
                            and ln["REMOTE"].lower().startswith("[::ffff:") == mapped]
                    if len(mine) != 1:
                        problems.append(f"{where}: {len(mine)} lines, expected 1")
                        continue
                    cell = mine[0]["REMOTE"]
                    first = cell.split(" ", 1)[0]
                    if cell[len(first):] not in wanted:
                        problems.append(f"{where}: REMOTE {cell!r}, expected "
                                        f"{' or '.join(repr(first + w) for w in sorted(wanted))}\n"
                                        f"  line: {mine[0]['text']!r}")
                    elif "svc" in cell:
                        shown.append(cell)
        if not shown:
            problems.append("no Service cell compared")
        self.check(f"--summary{' --kube' if api else ''} table: each group's REMOTE cell names its destination, a "
                   f"Service's with the count of its backends (e.g. {max(shown, key=len, default='')!r})", problems)

    def remote_filter(self, spec, select, args=(), what=""):
        obs = self.observe(["--format", "json", "-a", "--remote", spec, *args])
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        lab = self.lab
        want = set()
        for inode in lab.inodes():
            common = set(obs.before.socks.get(inode, [])) & set(obs.after.socks.get(inode, []))
            want |= {sock_key(inode, s) for s in common if select(s)}
        got = {row_key(r) for r in res.rows if r.get("netns") in lab.inodes()}
        for key in sorted(want - got, key=str):
            problems.append(f"missing: {key}")
        for key in sorted(got - want, key=str):
            problems.append(f"kept, but ss shows its remote end elsewhere: {key}")
        if not want:
            problems.append("ss shows no socket it should keep: nothing was compared")
        self.check(f"--remote {spec}{' ' + ' '.join(args[:1]) if args else ''}: exactly the sockets of the test's "
                   f"namespaces {what} ({len(want)} as ss shows them)", problems)

    def local_filters(self):
        a = self.lab.node.pods["A"]
        self.remote_filter(f"pod/{a.namespace}/{a.name}", lambda s: s.raddr == a.addr,
                           what=f"whose remote address is pod A's {a.addr}")
        # Without the API nothing names the Service: nothing to keep, and a note.
        spec = f"svc/{'/'.join(SERVICE_NAME)}"
        res = run_cnetstat([self.binary, "--format", "json", "-a", "--remote", spec])
        problems = [] if res.returncode == 0 else [res.describe()]
        mine = [r for r in res.rows if r.get("netns") in self.lab.inodes()]
        if mine:
            problems.append(f"{len(mine)} rows kept, e.g. {compact(mine[0])}")
        notes = [ln for ln in res.stderr.splitlines() if spec in ln]
        if len(notes) != 1:
            problems.append(f"expected one note naming {spec}, stderr: {res.stderr.strip()[:400]!r}")
        self.check(f"--remote {spec} without --kube (nothing names the Service): no socket of the test's "
                   f"namespaces, one note", problems)

    def ports_view(self, kubeconfig):
        """--ports rows name their destination too (issue 11: listing, summary and port
        rows): each netns budget of the pods as its sockets are named, with the
        distinct backends conntrack shows for them; each SNAT budget of the node by
        its translated destination."""
        obs = self.observe(["--ports", "--format", "json", "--kube", "--kubeconfig", kubeconfig])
        res = obs.result
        problems = [] if res.returncode == 0 else [res.describe()]
        api = self.api.names
        lab = self.lab
        compared = 0
        for row in res.rows:
            try:
                dst, dport, src = unmap(row["dst_addr"]), row["dst_port"], unmap(row["src_addr"])
            except (KeyError, TypeError, ValueError):
                continue
            got = (row.get("remote_kind"), row.get("remote_namespace"), row.get("remote_name"))
            where = f"{row.get('scope')} row {src} -> {dst}:{dport}"
            if row.get("scope") == "netns" and row.get("netns") in lab.pods:
                pod = lab.pods[row["netns"]]
                wants = []
                for r in (obs.before, obs.after):
                    parts = self.partitions(r, pod).get((dst, dport), {})
                    socks = [s for group in parts.values() for s in group if s.laddr == src]
                    if socks:
                        wants.append(self.part_expected(r, socks, api))
                if not wants or any(w[0] is None or len(w[0]) != 1 for w in wants):
                    continue
                compared += 1
                if got not in {next(iter(w[0])) for w in wants}:
                    problems.append(f"{where}: named {show((*got, None))}, expected "
                                    f"{show((*next(iter(wants[0][0])), None))}")
                if row.get("remote_endpoints") not in {w[1] for w in wants}:
                    problems.append(f"{where}: remote_endpoints {row.get('remote_endpoints')!r}, conntrack shows "
                                    f"{wants[0][1]} distinct backends for its sockets")
            elif row.get("scope") == "snat" and row.get("netns") == lab.node.node_inode:
                names = {lab.backend_name(r, dst, api) for r in (obs.before, obs.after)}
                if None in names:
                    continue
                compared += 1
                if got not in names:
                    problems.append(f"{where}: named {show((*got, None))}, expected "
                                    f"{show((*next(iter(names)), None))}")
        if compared < 8:
            problems.append(f"only {compared} rows compared")
        self.check("--ports --kube: the pods' netns budgets and the node's SNAT budgets named by destination, a "
                   "Service's with the distinct backends conntrack shows", problems)

    def kubeconfig_from_env(self, kubeconfig):
        env = dict(os.environ, KUBECONFIG=kubeconfig)
        obs = self.observe(["--format", "json", "-a", "--kube"], env=env)
        problems = [] if obs.result.returncode == 0 else [obs.result.describe()]
        problems += [f"warning: {ln}" for ln in obs.result.stderr.splitlines() if "--kube" in ln]
        found, compared = self.socket_problems(obs, self.api.names)
        problems += found
        if compared < 20:
            problems.append(f"only {compared} sockets compared")
        self.check("--kube with KUBECONFIG instead of --kubeconfig: the same names", problems)

    def record_replay(self, kubeconfig):
        """A recording made with --kube names the same without the API: the replay's
        rows against the oracle read around the recording run."""
        path = os.path.join(self.api.dir, "names-recording.json")
        obs = self.observe(["--record", path, "--format", "json", "-a", "--kube", "--kubeconfig", kubeconfig])
        replayed = run_cnetstat([self.binary, "--replay", path, "--format", "json", "-a"])
        problems = [r.describe() for r in (obs.result, replayed) if r.returncode != 0]
        found, compared = self.socket_problems(Observation(replayed, obs.before, obs.after), self.api.names)
        problems += found
        if compared < 20:
            problems.append(f"only {compared} sockets compared")
        self.check("--kube --record, then --replay without the API: every remote end named as the oracle said "
                   "when it was recorded", problems)

    def kube(self):
        api = self.api
        kubeconfig, log = api.start("working")
        obs = self.observe(["--format", "json", "-a", "--kube", "--kubeconfig", kubeconfig])
        self.named_checks("--kube -a --format json", obs, api.names)
        problems, _ = self.socket_problems(
            obs, api.names,
            lambda inode, s: inode in self.lab.pods and (s.raddr, s.rport) in (SHARED, TO_REMOTE_NODE))
        self.check(f"--kube: pod A's connections to {SHARED[0]} (the API's pod {'/'.join(FAR_POD)} on another node) "
                   f"and to {REMOTE_ADDR} (node {REMOTE_NODE}, not its host-network pod)", problems)
        warnings = [ln for ln in obs.result.stderr.splitlines() if "--kube" in ln]
        requests = open(log).read().splitlines() if os.path.exists(log) else []
        problems = [f"warning: {w}" for w in warnings]
        for path in ("/api/v1/pods", "/api/v1/services", "/api/v1/nodes"):
            gets = [r for r in requests if r.startswith(f"GET {path}")]
            if len(gets) != 1 or "auth=token" not in gets[0]:
                problems.append(f"{path}: expected one GET with the token, the server logged {gets}")
        self.check("--kube: no warning; one GET each of pods, Services and nodes, with the kubeconfig's token",
                   problems)
        self.summary(api.names, kubeconfig)
        self.table(api.names, kubeconfig)
        self.summary_table(api.names, kubeconfig)
        kube = ["--kube", "--kubeconfig", kubeconfig]
        self.remote_filter(f"svc/{'/'.join(SERVICE_NAME)}", lambda s: (s.raddr, s.rport) == SERVICE, kube,
                           f"to {SERVICE[0]}:{SERVICE[1]}")
        self.remote_filter(f"node/{REMOTE_NODE}", lambda s: s.raddr == REMOTE_ADDR, kube, f"to {REMOTE_ADDR}")
        self.remote_filter(f"pod/{'/'.join(FAR_POD)}", lambda s: s.raddr == SHARED[0], kube, f"to {SHARED[0]}")
        self.record_replay(kubeconfig)
        self.ports_view(kubeconfig)
        self.kubeconfig_from_env(kubeconfig)

        kubeconfig, log = api.start("forbidden", "--forbid", "/api/v1/pods")
        obs = self.observe(["--format", "json", "-a", "--kube", "--kubeconfig", kubeconfig])
        warnings = [ln for ln in obs.result.stderr.splitlines() if "--kube" in ln]
        problems = [] if obs.result.returncode == 0 else [obs.result.describe()]
        if len(warnings) != 1:
            problems.append(f"expected one --kube warning, got {len(warnings)}: {warnings}")
        found, compared = self.socket_problems(obs, api.without_pods)
        problems += found
        if compared < 20:
            problems.append(f"only {compared} sockets compared")
        self.check("--kube, pods forbidden (403): one --kube warning; Services, nodes and the node's own names "
                   "still as the oracle says, the API's pods not", problems)

    def run_all(self):
        self.listing()
        self.summary()
        self.summary_by_pod()
        self.table()
        self.summary_table()
        self.local_filters()
        if self.api:
            self.kube()


# ---------------------------------------------------------------- building it


def container_pid(pod, container):
    cid = pod.containers[container]
    if pod.runtime == "docker":
        return int(out(["docker", "inspect", "-f", "{{.State.Pid}}", cid]))
    if pod.runtime == "podman":
        return int(out(PODMAN_GLOBAL + ["inspect", "-f", "{{.State.Pid}}", cid]))
    for line in ctr("tasks", "ls").stdout.decode().splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == cid:
            return int(fields[1])
    raise CommandError(f"setup: no task for {cid}")


def host_address():
    """A non-loopback address of the machine's own namespace (PID 1's), if it has one."""
    links = json.loads(out(["nsenter", f"--net={host_netns_path()}", "ip", "-j", "addr"]) or "[]")
    for family in ("inet", "inet6"):
        for link in links:
            for info in link.get("addr_info", []):
                if info.get("family") == family and info.get("scope") == "global" and not info.get("tentative"):
                    addr = ipaddress.ip_address(info["local"])
                    if not addr.is_loopback:
                        return str(addr)
    return None


def host_connection(cleanup, addr):
    """A listener on the host's own address and one connection to it, both in
    the host namespace, held by this process. Returns ((addr, port), (addr, port))."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    def make():
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.bind((addr, 0))
        listener.listen(4)
        client = socket.socket(family, socket.SOCK_STREAM)
        client.settimeout(5)
        client.connect(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        return listener, client, accepted

    socks = in_netns(host_netns_path(), make)
    cleanup.push("host connection", lambda: [s.close() for s in socks])
    return socks[0].getsockname()[:2], socks[1].getsockname()[:2]


def build(cleanup, workdir, images):
    node = Node(cleanup, workdir, images)
    node.build_network()
    rules = os.path.join(workdir, "names.nft")
    with open(rules, "w") as f:
        f.write(NAT_EXTRA)
    run(["ip", "netns", "exec", node.node_ns, "nft", "-f", rules])
    node_servers = Servers(node.node_path, [NODE_PORT])
    cleanup.push("node namespace listener", node_servers.close)
    node.build_pods()
    a, b, c = (node.pods[k] for k in "ABC")
    holder_a = Holder(cleanup, container_pid(a, "client"), a.netns_path)
    holder_b = Holder(cleanup, container_pid(b, "app"), b.netns_path)
    holder_a.ask(f"hold {c.addr} {NARROW_LISTENER} 1")
    holder_b.ask(f"hold {a.addr} {LOOPBACK_PORT} 1")
    holder_a.ask(f"hold {SERVICE[0]} {SERVICE[1]} {SERVICE_HELD}")
    holder_a.ask(f"hold ::ffff:{SERVICE[0]} {SERVICE[1]} 1")
    holder_b.ask(f"hold {LOCAL_SERVICE[0]} {LOCAL_SERVICE[1]} 1")
    holder_a.ask(f"hold {TO_REMOTE_NODE[0]} {TO_REMOTE_NODE[1]} 1")
    node.holder.ask(f"hold {GATEWAY} {NODE_PORT} 1")
    addr = host_address()
    host_pair = host_connection(cleanup, addr) if addr else None
    lab = Lab(node, host_pair, os.stat(host_netns_path()).st_ino)
    lab.holder_a = holder_a
    lab.make_timewait()

    def accepted():
        r = lab.read(addresses=False)
        settled = all(s.state in ("ESTABLISHED", "LISTEN", "TIME_WAIT") for socks in r.socks.values() for s in socks)
        return settled and sum(1 for inode in (a.netns, c.netns) for s in r.socks[inode]
                               if s.state == "ESTABLISHED" and s.lport in (LOOPBACK_PORT, NARROW_LISTENER)
                               and s.raddr in (a.addr, b.addr, GATEWAY)) >= 3

    wait_until("the pod-to-pod connections on both ends", accepted, timeout=10)
    return node, lab, addr


def print_expected(lab, api):
    reading = lab.read()
    for inode in sorted(lab.inodes()):
        for s in reading.socks.get(inode, []):
            exp = lab.expected(reading, s)
            kube = lab.expected(reading, s, api.names) if api else None
            print(f"# expect {sock_text(inode, s)}: {show(exp) if exp else '?'}"
                  + (f"; --kube: {show(kube) if kube else '?'}" if api else ""))


def scenario(binary, report, images=None):
    """Builds the node, runs every check, removes it all."""
    cleanup = Cleanup()
    started = time.monotonic()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    s = None
    try:
        portnode.remove_dead_runs()
        workdir = tempfile.mkdtemp(prefix=f"{portnode.PREFIX}{portnode.RUN}-", dir=portnode.WORK_PARENT)
        cleanup.push("work dir", lambda: run(["rm", "-rf", workdir], check=False))
        if images is None:
            images = portnode.build_images(cleanup, workdir)
            print(f"# names: images imported ({time.monotonic() - started:.1f}s)", flush=True)
        built_from = time.monotonic()
        node, lab, host_addr = build(cleanup, workdir, images)
        api = KubeApi(cleanup, workdir, node, host_addr)
        for key in ("A", "B", "C"):
            p = node.pods[key]
            print(f"# names: {p.label} {p.namespace}/{p.name} {p.addr} netns {p.netns}", flush=True)
        print(f"# names: node built in {time.monotonic() - built_from:.1f}s; node netns {node.node_inode}; "
              + (f"host connection {lab.host_pair[1][0]}:{lab.host_pair[1][1]} -> "
                 f"{lab.host_pair[0][0]}:{lab.host_pair[0][1]}" if lab.host_pair
                 else "the host namespace has no non-loopback address: no host connection"), flush=True)
        s = Scenario(binary, report, lab, api)
        s.setup()
        if binary is None:
            print_expected(lab, api)
        else:
            checks_from = time.monotonic()
            s.run_all()
            slowest = max(s.timings, key=lambda t: t[1]) if s.timings else ("", 0)
            print(f"# names: {len(s.timings)} cnetstat runs ({sum(t for _, t in s.timings):.1f}s; slowest "
                  f"{slowest[1]:.2f}s: {slowest[0][:60]}) and the readings around them in "
                  f"{time.monotonic() - checks_from:.1f}s; oracle: "
                  + ", ".join(f"{k} {v:.1f}s" if isinstance(v, float) else f"{v} {k}" for k, v in lab.spent.items()),
                  flush=True)
    except KeyboardInterrupt as e:
        report.check("names: run", [f"interrupted ({str(e) or 'Ctrl-C'}); cleaning up"])
    except CommandError as e:
        report.check("names: setup", [str(e)])
    except Exception:
        report.check("names: harness", [traceback.format_exc()])
    finally:
        hold = float(os.environ.get("E2E_HOLD", "0") or 0)
        if hold:
            print(f"# E2E_HOLD: keeping the names node for {hold:.0f}s", flush=True)
            try:
                time.sleep(hold)
            except KeyboardInterrupt:
                pass
        for sig in saved:
            signal.signal(sig, signal.SIG_IGN)
        cleanup.run_all()
        left = portnode.this_run_objects()
        portnode.remove_objects(left)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        report.check("names: cleanup left nothing behind", [f"left behind (now removed): {left}"] if left else [])
        total = time.monotonic() - started
        print(f"# names: {total:.0f}s in all", flush=True)


def main(argv):
    setup_only = "--setup-only" in argv
    args = [a for a in argv if a != "--setup-only"]
    if (setup_only and args) or (not setup_only and len(args) != 1) or any(a.startswith("-") for a in args):
        print(__doc__, file=sys.stderr)
        return 2
    binary = None if setup_only else os.path.abspath(args[0])
    reasons = missing_prerequisites() + missing_tools()
    if binary and "--kube" not in run_cnetstat([binary, "--help"]).stdout:
        reasons.append(f"{binary} has no --kube")
    if reasons:
        ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
        print(("FAIL" if ci else "SKIP") + " names scenario: " + "; ".join(reasons))
        return 1 if ci else 0

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    report = Report()
    scenario(binary, report)
    print(report.summary_line())
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
