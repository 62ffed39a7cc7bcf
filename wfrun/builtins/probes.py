"""Readiness probes: is a service up yet? (tcp connect, http 2xx, or a command exit 0).

Each check returns None when ready, else a short reason; `wait_ready` polls one until
it passes, the service exits, or the timeout runs out, and returns why it never did.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence

from wfrun.builtins import capture
from wfrun.builtins.config import ReadyProbe

Check = Callable[[float], str | None]  # (seconds allowed) -> None if ready, else why not
# Probes target the service wfrun just started, usually on loopback: never via a proxy.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def tcp_check(address: str) -> Check:
    """Ready when a TCP connection to `host:port` is accepted."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")

    def check(seconds: float) -> str | None:
        try:
            with socket.create_connection((host, int(port)), timeout=seconds):
                return None
        except OSError as exc:
            return f"cannot connect to {address}: {exc.strerror or exc}"

    return check


def http_check(url: str) -> Check:
    """Ready when a GET on `url` answers 2xx."""

    def check(seconds: float) -> str | None:
        try:
            with _NO_PROXY.open(url, timeout=seconds) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            return f"GET {url} answered HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"GET {url} failed: {reason}"
        return None if 200 <= status < 300 else f"GET {url} answered HTTP {status}"

    return check


def command_check(
    argv: Sequence[str], *, cwd: str | os.PathLike[str], env: Mapping[str, str]
) -> Check:
    """Ready when `argv` exits 0."""

    def check(seconds: float) -> str | None:
        done = capture.run(argv, cwd=cwd, env=env, timeout=seconds, max_output=500)
        if done.exit_code == 0:
            return None
        last = done.output.strip().splitlines()[-1:] or [""]
        how = "timed out" if done.timed_out else f"exited {done.exit_code}"
        return f"`{' '.join(argv)}` {how}" + (f": {last[0]}" if last[0] else "")

    return check


def check_for(
    probe: ReadyProbe,
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    command_prefix: Sequence[str] = (),
) -> Check:
    """The check a probe describes; `command_prefix` runs commands elsewhere (docker exec)."""
    if probe.tcp is not None:
        return tcp_check(probe.tcp)
    if probe.http is not None:
        return http_check(probe.http)
    return command_check([*command_prefix, *(probe.command or [])], cwd=cwd, env=env)


def probed_address(probe: ReadyProbe | None) -> tuple[str, int] | None:
    """The host and port a tcp or http probe connects to (None for a command probe)."""
    if probe is None:
        return None
    if probe.tcp:
        host, _, port = probe.tcp.rpartition(":")
        return host.strip("[]"), int(port)
    if probe.http:
        url = urllib.parse.urlsplit(probe.http)
        default = 443 if url.scheme == "https" else 80
        return url.hostname or "localhost", url.port or default
    return None


CANCELLED = "was cancelled before it was ready: the run is stopping"


def wait_ready(
    check: Check,
    *,
    timeout: float,
    interval: float,
    exited: Callable[[], str | None] = lambda: None,
    cancelled: threading.Event | None = None,
) -> str | None:
    """Poll `check` until it passes (None) or `timeout`; return why it never passed.

    `exited` says why the service is gone (e.g. "exited with code 1"), or None while
    it runs: a dead service fails at once instead of after the whole timeout. Once
    `cancelled` is set (the run is being torn down) it gives up with `CANCELLED`.
    """
    deadline = time.monotonic() + timeout
    reason = ""
    stopping = cancelled or threading.Event()
    while True:
        if stopping.is_set():
            return CANCELLED
        gone = exited()
        if gone is not None:
            return f"{gone} before it was ready" + (f" (last check: {reason})" if reason else "")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return f"not ready after {timeout:g}s: {reason}"
        # Each attempt gets at least a second, even near the deadline: a command probe
        # cut short would only report "timed out" instead of what it found.
        result = check(min(max(remaining, 1.0), 5.0))
        if result is None:
            return None
        reason = result
        stopping.wait(max(min(interval, deadline - time.monotonic()), 0))
