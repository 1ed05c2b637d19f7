#!/usr/bin/env python3
"""Hosts for the tests: network namespaces joined by a wire in user space.

Each host is a network namespace with one TUN device, `lnk0`, on an address
that exists only inside these namespaces (10.77.0.0/24). One process, the
wire, holds every host's TUN and carries the IPv4 packets between them, link
by link (a link is a pair of hosts), with what a link can do wrong:

- `delay` (seconds, one way; the order of a link's packets is kept),
- `loss` (the share of packets dropped, each on its own dice),
- `cut` (every packet dropped, silently: a switch that died, not a cable
  pulled out; the hosts' own links stay up).

The kernel here has no `netem` queueing discipline (`tc qdisc add ... netem`
answers "Specified qdisc kind is unknown"), so the wire does in user space
what netem would do on a veth pair. `ip link set lnk0 down` inside a host
still works as the other kind of fault (the host's own link gone: its
connections fail at once).

Used as a module (`Hosts`) by the end-to-end tests, which must run as root.
The wire itself runs as a child process: `python3 netwire.py wire HOST=NS=ADDR
...`, reading commands on stdin, one per line, each answered with one line:

    link A B delay=0.2 loss=0.05   (any of delay=, loss=, cut=0|1)
    stats                          (packets carried and dropped, as JSON)
"""
from __future__ import annotations

import ctypes
import fcntl
import heapq
import json
import os
import random
import selectors
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

SUBNET = "10.77.0"
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
DEVICE = "lnk0"


class HostsError(RuntimeError):
    """A host could not be made, or the wire did not answer."""


@dataclass
class Link:
    delay: float = 0.0
    loss: float = 0.0
    cut: bool = False
    carried: int = 0
    dropped: int = 0


# -- the wire (child process) -------------------------------------------------

def _enter(ns_path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(ns_path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {ns_path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def _open_tun(ns: str) -> int:
    """The TUN device `lnk0` of namespace `ns`, opened from inside it."""
    home = f"/proc/{os.getpid()}/ns/net"
    home_fd = os.open(home, os.O_RDONLY)
    try:
        _enter(f"/run/netns/{ns}")
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", DEVICE.encode(), IFF_TUN | IFF_NO_PI))
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(home_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back home")
        os.close(home_fd)
    return fd


def run_wire(hosts: Sequence[str], seed: int = 0) -> None:
    """hosts: `NAME=NS=ADDR` each. Carries packets until stdin closes."""
    names: dict[int, str] = {}
    fds: dict[str, int] = {}
    by_addr: dict[bytes, str] = {}
    for spec in hosts:
        name, ns, addr = spec.split("=")
        fd = _open_tun(ns)
        names[fd] = name
        fds[name] = fd
        by_addr[bytes(int(p) for p in addr.split("."))] = name
    links: dict[frozenset[str], Link] = {}

    def link(a: str, b: str) -> Link:
        return links.setdefault(frozenset((a, b)), Link())

    dice = random.Random(seed)
    pending: list[tuple[float, int, int, bytes]] = []
    order = 0
    sel = selectors.DefaultSelector()
    for fd in fds.values():
        sel.register(fd, selectors.EVENT_READ, "tun")
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    sel.register(stdin, selectors.EVENT_READ, "control")
    commands = b""
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        timeout = max(0.0, pending[0][0] - now) if pending else None
        for key, _ in sel.select(timeout):
            if key.data == "control":
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return
                commands += chunk
                while b"\n" in commands:
                    line, commands = commands.split(b"\n", 1)
                    print(_command(line.decode().split(), link, links), flush=True)
                continue
            src = names[key.fd]
            while True:
                try:
                    packet = os.read(key.fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if len(packet) < 20 or packet[0] >> 4 != 4:
                    continue  # IPv4 only
                dst = by_addr.get(packet[16:20])
                if dst is None or dst == src:
                    continue
                lk = link(src, dst)
                if lk.cut or (lk.loss > 0 and dice.random() < lk.loss):
                    lk.dropped += 1
                    continue
                lk.carried += 1
                order += 1
                heapq.heappush(pending, (time.monotonic() + lk.delay, order, fds[dst], packet))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, fd, packet = heapq.heappop(pending)
            try:
                os.write(fd, packet)
            except OSError:
                pass  # that host's link is down: the packet is lost, as on a wire


def _command(words: list[str], link: Callable[[str, str], Link], links: dict[frozenset[str], Link]) -> str:
    try:
        if words and words[0] == "link" and len(words) >= 3:
            lk = link(words[1], words[2])
            for setting in words[3:]:
                name, value = setting.split("=")
                if name == "delay":
                    lk.delay = float(value)
                elif name == "loss":
                    lk.loss = float(value)
                elif name == "cut":
                    lk.cut = value == "1"
                else:
                    return f"error unknown setting {name}"
            return "ok"
        if words == ["stats"]:
            return json.dumps({"-".join(sorted(k)): {"carried": v.carried, "dropped": v.dropped} for k, v in links.items()})
        return f"error unknown command {' '.join(words)}"
    except ValueError as e:
        return f"error {e}"


# -- the hosts (test side) ----------------------------------------------------

@dataclass
class Hosts:
    """Namespaces `PREFIX-NAME` for each name, with addresses 10.77.0.1,
    .2, ... in the order given, and the wire between them. A context
    manager: everything it made is removed on exit."""
    names: Sequence[str]
    prefix: str = field(default_factory=lambda: f"trl{os.getpid()}")
    wire: Optional[subprocess.Popen[str]] = None
    made: list[str] = field(default_factory=list)

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def address(self, name: str) -> str:
        return f"{SUBNET}.{list(self.names).index(name) + 1}"

    def run(self, name: str, cmd: Sequence[str]) -> list[str]:
        """`cmd` to run inside host `name` (execs it: the pid stays the command's)."""
        return ["ip", "netns", "exec", self.ns(name), *cmd]

    def __enter__(self) -> "Hosts":
        try:
            for name in self.names:
                ns = self.ns(name)
                _ip("netns", "add", ns)
                self.made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"],
                               check=False, capture_output=True)
                _ip("netns", "exec", ns, "ip", "tuntap", "add", "dev", DEVICE, "mode", "tun")
                _ip("-n", ns, "addr", "add", f"{self.address(name)}/24", "dev", DEVICE)
                _ip("-n", ns, "link", "set", DEVICE, "up")
            specs = [f"{n}={self.ns(n)}={self.address(n)}" for n in self.names]
            self.wire = subprocess.Popen([sys.executable, __file__, "wire", *specs], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1)
            assert self.wire.stdout is not None
            line = self.wire.stdout.readline().strip()
            if line != "ready":
                raise HostsError(f"the wire did not start: {line!r} (exit {self.wire.poll()})")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ask(self, line: str) -> str:
        if self.wire is None or self.wire.stdin is None or self.wire.stdout is None:
            raise HostsError("the wire is not running")
        self.wire.stdin.write(line + "\n")
        self.wire.stdin.flush()
        answer = self.wire.stdout.readline().strip()
        if not answer or answer.startswith("error"):
            raise HostsError(f"the wire refused {line!r}: {answer!r}")
        return answer

    def link(self, a: str, b: str, *, delay: Optional[float] = None, loss: Optional[float] = None,
             cut: Optional[bool] = None) -> None:
        """Sets what the link between hosts a and b does (both ways)."""
        settings = [f"delay={delay}"] if delay is not None else []
        settings += [f"loss={loss}"] if loss is not None else []
        settings += [f"cut={int(cut)}"] if cut is not None else []
        self._ask(" ".join(["link", a, b, *settings]))

    def every_link(self, *, delay: Optional[float] = None, loss: Optional[float] = None) -> None:
        """Sets the delay and loss of every link."""
        for i, a in enumerate(self.names):
            for b in self.names[i + 1:]:
                self.link(a, b, delay=delay, loss=loss)

    def link_down(self, name: str, down: bool = True) -> None:
        """`ip link set lnk0 down` (or up) inside host `name`."""
        _ip("-n", self.ns(name), "link", "set", DEVICE, "down" if down else "up")

    def stats(self) -> dict[str, dict[str, int]]:
        """Packets carried and dropped, by link (`a-db`: the names sorted)."""
        stats: dict[str, dict[str, int]] = json.loads(self._ask("stats"))
        return stats

    def close(self) -> None:
        if self.wire is not None:
            if self.wire.stdin is not None:
                try:
                    self.wire.stdin.close()
                except OSError:
                    pass
            try:
                self.wire.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.wire.kill()
                self.wire.wait()
            self.wire = None
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        self.made.clear()


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise HostsError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def available() -> Optional[str]:
    """None when hosts can be made here; else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not Path("/dev/net/tun").exists():
        return "no /dev/net/tun"
    if subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        return "no iproute2 (`ip`)"
    return None


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "wire":
        run_wire(sys.argv[2:])
    else:
        sys.exit(__doc__)
