"""Ground truth straight from the kernel, independent of cnetstat: the TCP
tables of one network namespace (format: the kernel's
Documentation/networking/proc_net_tcp.rst), which processes hold each socket
inode, and their names."""

import ipaddress
import os
import socket
from dataclasses import dataclass

from sysenv import run

STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}


@dataclass(frozen=True)
class KSock:
    netns: int
    proto: str
    local_addr: ipaddress._BaseAddress
    local_port: int
    remote_addr: ipaddress._BaseAddress
    remote_port: int
    state: str
    uid: int
    inode: int

    def key(self):
        return socket_key(
            self.netns, self.local_addr, self.local_port, self.remote_addr, self.remote_port, self.state
        )

    def text(self):
        return (
            f"{self.proto} {show(self.local_addr)}:{self.local_port} -> "
            f"{show(self.remote_addr)}:{self.remote_port} {self.state} inode={self.inode} netns={self.netns}"
        )


def unmapped(addr):
    """v4-mapped IPv6 as its IPv4 address, so a row matches whichever way
    cnetstat chose to print it."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def show(addr):
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return f"[::ffff:{addr.ipv4_mapped}]"
    return f"[{addr}]" if addr.version == 6 else str(addr)


def socket_key(netns, laddr, lport, raddr, rport, state):
    return (netns, unmapped(laddr), lport, unmapped(raddr), rport, state)


def _address(hex_text):
    raw = bytes.fromhex(hex_text)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    # Four 32-bit words, each printed in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return ipaddress.IPv6Address(socket.inet_ntop(socket.AF_INET6, words))


def parse_table(text, proto, netns):
    socks = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote = fields[1], fields[2]
        lhex, lport = local.split(":")
        rhex, rport = remote.split(":")
        socks.append(
            KSock(
                netns=netns,
                proto=proto,
                local_addr=_address(lhex),
                local_port=int(lport, 16),
                remote_addr=_address(rhex),
                remote_port=int(rport, 16),
                state=STATES[int(fields[3], 16)],
                uid=int(fields[7]),
                inode=int(fields[9]),
            )
        )
    return socks


def netns_of_pid(pid):
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def sockets_of_pid(pid):
    """Every TCP socket of the network namespace `pid` lives in."""
    netns = netns_of_pid(pid)
    socks = []
    for name, proto in (("tcp", "tcp"), ("tcp6", "tcp6")):
        with open(f"/proc/{pid}/net/{name}") as f:
            socks += parse_table(f.read(), proto, netns)
    return socks


def sockets_of_netns_file(path):
    """Every TCP socket of a namespace no process may hold, through a
    short-lived `cat` that joins it."""
    netns = os.stat(path).st_ino
    socks = []
    for name, proto in (("tcp", "tcp"), ("tcp6", "tcp6")):
        text = run(["nsenter", f"--net={path}", "cat", f"/proc/net/{name}"]).stdout.decode()
        socks += parse_table(text, proto, netns)
    return socks


def socket_holders():
    """socket inode -> {pid: comm} for every process on the host."""
    holders = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().rstrip("\n")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                holders.setdefault(int(target[8:-1]), {})[pid] = comm
    return holders


def pids_in_netns(netns):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino == netns:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def cgroup_text(pid):
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return f.read()
    except OSError:
        return ""
