"""Who holds a listening TCP port.

A probe that connects to a port proves only that *something* answers there. Before a
service counts as ready, wfrun asks the kernel which processes own the listening
sockets a connection to the probed address would reach (/proc/net/tcp{,6} give the
socket inodes, /proc/<pid>/fd which process holds each), so a stranger that already
had the port is never taken for the service. Linux only: elsewhere nothing is known
and nothing is refused.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

PROC = Path("/proc")
_LISTEN = "0A"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Listener(NamedTuple):
    """One listening socket: its local address, port and inode."""

    address: Address
    port: int
    inode: int


class Holder(NamedTuple):
    """A process that holds a listening socket."""

    pid: int
    command: str


def listeners(port: int) -> list[Listener]:
    """Sockets listening on `port` in this network namespace (empty if /proc can't tell)."""
    found = []
    for name, width in (("tcp", 4), ("tcp6", 16)):
        try:
            lines = (PROC / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            address, _, port_hex = fields[1].partition(":")
            if int(port_hex, 16) == port:
                found.append(Listener(_address(address, width), port, int(fields[9])))
    return found


def _address(text: str, width: int) -> Address:
    """/proc/net/tcp writes each 32-bit word of the address in host byte order."""
    words = [int(text[i : i + 8], 16) for i in range(0, len(text), 8)]
    return ipaddress.ip_address(struct.pack(f"={len(words)}I", *words)[:width])


def reached_by(host: str, port: int) -> list[Listener]:
    """The listeners on `port` that a connection to `host` may reach."""
    found = listeners(port)
    targets = _resolve(host, port)
    exact = [s for s in found if s.address in targets or s.address.is_unspecified]
    exact = [s for s in exact if any(_same_family(s.address, t) for t in targets)]
    if exact:
        return exact
    # An IPv6 socket on [::] also accepts IPv4 connections (unless IPV6_V6ONLY).
    return [s for s in found if s.address.version == 6 and s.address.is_unspecified]


def _resolve(host: str, port: int) -> set[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return set()
    return {ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos}


def _same_family(a: Address, b: Address) -> bool:
    return a.version == b.version


def holders(inodes: Iterable[int], pids: Iterable[int] | None = None) -> dict[int, Holder]:
    """inode -> the process holding that socket, looked up among `pids` (default: all
    processes this user may inspect; another user's are not visible)."""
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    found: dict[int, Holder] = {}
    if not wanted:
        return found
    candidates = pids if pids is not None else _all_pids()
    for pid in candidates:
        try:
            fds = list((PROC / str(pid) / "fd").iterdir())
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                target = str(fd.readlink())
            except OSError:
                continue
            inode = wanted.get(target)
            if inode is not None and inode not in found:
                found[inode] = Holder(pid, _command(pid))
        if len(found) == len(wanted):
            break
    return found


def _all_pids() -> list[int]:
    try:
        return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _command(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    text = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return text if len(text) <= 120 else text[:117] + "..."


def stranger(host: str, port: int, ours: Iterable[int]) -> str | None:
    """Why the socket at host:port is not held by the processes `ours`, or None.

    None also when nothing can be told: no /proc, or the listener belongs to a process
    this user cannot inspect (another user's, e.g. a container engine's proxy).
    """
    reached = reached_by(host, port)
    if not reached:
        return None
    mine = set(ours)
    owned = holders([s.inode for s in reached], mine)
    others = [s.inode for s in reached if s.inode not in owned]
    if not others:
        return None
    for holder in holders(others).values():
        if holder.pid not in mine:
            return f"port {port} is held by another process (pid {holder.pid}, `{holder.command}`)"
    return None
