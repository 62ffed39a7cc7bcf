"""`port: auto`: a free loopback port, chosen as a resource starts, before its `with:` is
rendered, so the rest of that `with:` (its command, its `ready:` probe) can read it as
`${resources.SELF.port}`.

Two runs of one workflow side by side then never meet: each gets its own ports. A
fixed port is a promise nobody else keeps: the second run's services die on "address
already in use" while its phases talk to the first run's.

- `port: auto` (a `process`) becomes a number; the resource's `port` attribute is it.
- `auto:CONTAINER` in `ports:` (a `container`) becomes `127.0.0.1:HOST:CONTAINER`; the
  first one's host port is the `port` attribute.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Mapping
from typing import Any

AUTO = "auto"
AUTO_MAPPING = re.compile(r"^auto:(?P<container>\d{1,5}(?:/(?:tcp|udp|sctp))?)$")
LOOPBACK = "127.0.0.1"
RECENT = 1024  # ports handed out that free_port will not hand out again
MAX_TRIES = 64  # kernel picks tried for one not handed out lately

_handed: dict[int, None] = {}
_HANDED_LOCK = threading.Lock()


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now: the kernel's pick for a bind to port 0, and
    never one this process handed out among its last RECENT.

    The kernel may pick a port again as soon as it is free, before the service given it
    binds it: two services of one run starting at once were given the same port (seen
    in CI). Another program may still take it first; readiness then finds the port held
    by a stranger and says so, instead of trusting whoever answers.
    """
    with _HANDED_LOCK:
        for _ in range(MAX_TRIES):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed:
                break
        _handed[port] = None  # newest last: a dict is an ordered set
        if len(_handed) > RECENT:
            del _handed[next(iter(_handed))]
        return port


def assign(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`config` with every `auto` port replaced by a free one, and the attributes known
    now (`port`); both unchanged and empty when nothing asks for `auto`."""
    data = dict(config)
    early: dict[str, Any] = {}
    if data.get("port") == AUTO:
        data["port"] = early["port"] = free_port()
    ports = data.get("ports")
    if isinstance(ports, list) and any(isinstance(p, str) and AUTO_MAPPING.match(p) for p in ports):
        mapped = []
        for entry in ports:
            match = AUTO_MAPPING.match(entry) if isinstance(entry, str) else None
            if match is None:
                mapped.append(entry)
                continue
            host_port = free_port()
            early.setdefault("port", host_port)
            mapped.append(f"{LOOPBACK}:{host_port}:{match['container']}")
        data["ports"] = mapped
    return data, early
