"""Helpers for the built-in types' tests: process checks, free ports, turn contexts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from wfrun.engine.api import AgentContext, LiveResource, TurnContext


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped) counts as dead."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return text[text.rindex(")") + 2] not in "ZX"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def turn(
    ctx: AgentContext,
    *,
    iteration: int = 1,
    previous: Any = None,
    cancelled: threading.Event | None = None,
) -> TurnContext:
    """The context of one turn of the agent built from `ctx`."""
    return TurnContext(
        workflow="test",
        phase=ctx.phase,
        agent=ctx.name,
        iteration=iteration,
        max_iterations=10,
        previous=previous,
        history=(),
        resources=ctx.resources,
        attributes=ctx.attributes,
        params={},
        run_dir=ctx.run_dir,
        base_dir=ctx.base_dir,
        cancelled=cancelled or threading.Event(),
        log=lambda _line: None,
    )


@contextlib.contextmanager
def started(resource: LiveResource) -> Iterator[Mapping[str, Any]]:
    """Start `resource`, yield its attributes, and always stop it."""
    try:
        yield resource.start()
    finally:
        resource.stop()


# A service that forks: a plain child, one in its own process group, one that ignores
# SIGTERM, and a double-forked orphan. It writes their pids to argv[1], then listens on
# 127.0.0.1:argv[2] (if given) so a tcp probe can see it is ready.
FORKING_SERVICE = """
import os, signal, socket, sys, time

def child(mode):
    pid = os.fork()
    if pid:
        return pid
    if mode == "own-group":
        os.setpgid(0, 0)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "orphan":
        if os.fork():
            os._exit(0)
        with open(sys.argv[1] + ".orphan.tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(sys.argv[1] + ".orphan.tmp", sys.argv[1] + ".orphan")  # never seen empty
    time.sleep(600)
    os._exit(0)

pids = [child(mode) for mode in ("plain", "own-group", "stubborn", "orphan")]
while not os.path.exists(sys.argv[1] + ".orphan"):
    time.sleep(0.01)
with open(sys.argv[1] + ".orphan") as f:
    pids[-1] = int(f.read())
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(" ".join(map(str, pids)))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
print("forked", pids, flush=True)
if len(sys.argv) > 2:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(sys.argv[2])))
    server.listen()
    print("listening", flush=True)
time.sleep(600)
"""


def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)
    return path.read_text()


def wait_dead(pids: list[int], timeout: float = 3.0) -> list[int]:
    """The pids still alive after `timeout` (orphans may need a moment to be reaped)."""
    deadline = time.monotonic() + timeout
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def kill_leftovers(pid_file: Path) -> None:
    """Test hygiene: SIGKILL whatever a failed test left alive from `pid_file`."""
    if pid_file.exists():
        for pid in map(int, pid_file.read_text().split()):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
