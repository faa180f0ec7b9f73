"""Commands, prerequisites and clean-up for the end-to-end test.

Everything the test creates on the host is findable by name, so a crashed run
is cleaned by the next one: containers, images, files and directories are
named `cnetstat-e2e-*`; ids and UUIDs that must look like a runtime's own
(64 hex characters, pod UIDs, `cni-<uuid>` namespaces) start with `ce2e`.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

PREFIX = "cnetstat-e2e-"
HEX_MARK = "ce2e"
WORK_PARENT = "/tmp"
IMAGE = PREFIX + "busybox:latest"
CTR_IMAGE = "docker.io/library/" + IMAGE
PODMAN_IMAGE = "localhost/" + IMAGE
CTR_NS = "k8s.io"
CRIO_RUNROOT = "/run/containers/storage/overlay-containers"
PODMAN_GLOBAL = ["podman", "--cgroup-manager", "cgroupfs"]
TOOLS = ["docker", "ctr", "podman", "runc", "ip", "unshare", "nsenter", "mount"]
BUSYBOX = "/bin/busybox"

VERBOSE = bool(os.environ.get("E2E_VERBOSE"))


class CommandError(Exception):
    pass


def run(args, *, check=True, stdin=None, timeout=60, env=None):
    """Runs a command, returns CompletedProcess with bytes output."""
    if VERBOSE:
        print("+ " + shlex.join(args), file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(
            args,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise CommandError(f"{shlex.join(args)}: no answer after {timeout}s") from None
    except FileNotFoundError:
        raise CommandError(f"{args[0]}: not found") from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise CommandError(f"{shlex.join(args)}: exit {proc.returncode}: {err}")
    return proc


def out(args, **kw):
    return run(args, **kw).stdout.decode().strip()


def is_static_elf(path):
    """True when the ELF file has no PT_INTERP program header."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:
                return False
            phoff = int.from_bytes(head[32:40], "little")
            phentsize = int.from_bytes(head[54:56], "little")
            phnum = int.from_bytes(head[56:58], "little")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    pt_interp = 3
    return all(
        int.from_bytes(table[i * phentsize : i * phentsize + 4], "little") != pt_interp
        for i in range(phnum)
    )


def missing_prerequisites():
    """What keeps the test from running here, as readable reasons."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("not running as root")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            reasons.append(f"{tool} is not installed")
    if not is_static_elf(BUSYBOX):
        reasons.append(f"{BUSYBOX} missing or not static (Debian package busybox-static)")
    if reasons:
        return reasons
    probes = [
        (["docker", "version", "--format", "{{.Server.Version}}"], "dockerd"),
        (["ctr", "version"], "containerd"),
        (PODMAN_GLOBAL + ["version"], "podman"),
    ]
    for args, what in probes:
        try:
            run(args, timeout=15)
        except CommandError as e:
            reasons.append(f"{what} does not answer: {e}")
    return reasons


class Cleanup:
    """Undo actions, run last-in first-out; one failing does not stop the rest."""

    def __init__(self):
        self._undo = []

    def push(self, what, fn):
        self._undo.append((what, fn))

    def run_all(self):
        while self._undo:
            what, fn = self._undo.pop()
            try:
                fn()
            except Exception as e:  # keep going: the rest must still be undone
                print(f"cleanup: {what}: {e}", file=sys.stderr)


def sigterm_as_interrupt():
    """SIGTERM and SIGHUP unwind through finally blocks like Ctrl-C does."""

    def handler(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def ignore_interrupts():
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


# ---- leftovers: found by name, removed in dependency order ----

MARKED_NETNS = re.compile(r"^(cni-)?" + HEX_MARK + r"[0-9a-f]{4}-")


def _ours_hex(name):
    return name.startswith(HEX_MARK) and re.fullmatch(r"[0-9a-f]{64}", name) is not None


def _kill_marked_host_processes():
    """Host-side helpers run busybox through symlinks in a work dir, so their
    argv[0] names it."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        if argv0.startswith(os.path.join(WORK_PARENT, PREFIX)):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _remove_docker_containers():
    ids = out(["docker", "ps", "-aq", "--filter", "name=" + PREFIX], check=False).split()
    if ids:
        run(["docker", "rm", "-f"] + ids, check=False, timeout=60)


def _remove_podman_containers():
    ids = out(PODMAN_GLOBAL + ["ps", "-aq", "--filter", "name=" + PREFIX], check=False).split()
    if ids:
        run(PODMAN_GLOBAL + ["rm", "-f", "-t", "0"] + ids, check=False, timeout=60)


def ctr(*args, **kw):
    return run(["ctr", "-n", CTR_NS] + list(args), **kw)


def remove_ctr_container(cid):
    ctr("tasks", "kill", "-s", "SIGKILL", cid, check=False)
    deadline = time.monotonic() + 10
    while ctr("tasks", "delete", cid, check=False).returncode != 0:
        if cid not in ctr("tasks", "ls", "-q", check=False).stdout.decode().split():
            break
        if time.monotonic() > deadline:
            ctr("tasks", "delete", "--force", cid, check=False)
            break
        time.sleep(0.1)
    ctr("containers", "delete", cid, check=False)


def _remove_ctr_containers():
    for cid in ctr("containers", "ls", "-q", check=False).stdout.decode().split():
        if _ours_hex(cid):
            remove_ctr_container(cid)


def _remove_netns():
    for line in out(["ip", "netns", "list"], check=False).splitlines():
        name = line.split(" ", 1)[0]
        if MARKED_NETNS.match(name) or name.startswith(PREFIX):
            run(["ip", "netns", "delete", name], check=False)


def _remove_crio_state():
    if os.path.isdir(CRIO_RUNROOT):
        for name in os.listdir(CRIO_RUNROOT):
            if _ours_hex(name):
                shutil.rmtree(os.path.join(CRIO_RUNROOT, name), ignore_errors=True)


def cgroup_mounts():
    """Mount points of every cgroup v1 hierarchy and of cgroup2."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype = right.split(" ", 1)[0]
            if fstype in ("cgroup", "cgroup2"):
                points.append(left.split(" ")[4])
    return points


def _remove_cgroups():
    """rmdir every pod cgroup with a marked UID (children first), then the
    kubepods levels above it when they became empty. rmdir of a cgroup that
    still has tasks or children fails, so nothing live is touched."""
    for mount in cgroup_mounts():
        for top in os.listdir(mount) if os.path.isdir(mount) else []:
            if not top.startswith("kubepods"):
                continue
            for dirpath, dirnames, _ in os.walk(os.path.join(mount, top), topdown=False):
                if "pod" + HEX_MARK in os.path.basename(dirpath):
                    for sub, _dirs, _files in os.walk(dirpath, topdown=False):
                        try:
                            os.rmdir(sub)
                        except OSError:
                            pass
            for dirpath, _dirnames, _ in os.walk(os.path.join(mount, top), topdown=False):
                base = os.path.basename(dirpath)
                if base.startswith("kubepods") or base in ("burstable", "besteffort"):
                    try:
                        os.rmdir(dirpath)
                    except OSError:
                        pass


def _remove_images():
    run(["docker", "rmi", "-f", IMAGE], check=False)
    ctr("images", "rm", CTR_IMAGE, check=False)
    run(PODMAN_GLOBAL + ["rmi", "-f", PODMAN_IMAGE], check=False)


def _remove_work_dirs():
    for name in os.listdir(WORK_PARENT):
        if name.startswith(PREFIX):
            path = os.path.join(WORK_PARENT, name)
            if os.path.ismount(path):
                run(["umount", "-l", path], check=False)
            shutil.rmtree(path, ignore_errors=True)


def remove_leftovers(images=True):
    """Removes everything any run of this test may have left behind."""
    steps = [
        _kill_marked_host_processes,
        _remove_docker_containers,
        _remove_podman_containers,
        _remove_ctr_containers,
        _remove_netns,
        _remove_crio_state,
        _remove_cgroups,
    ]
    if images:
        steps.append(_remove_images)
    steps.append(_remove_work_dirs)
    for step in steps:
        try:
            step()
        except Exception as e:  # one runtime failing must not leave the others
            print(f"cleanup: {step.__name__}: {e}", file=sys.stderr)
