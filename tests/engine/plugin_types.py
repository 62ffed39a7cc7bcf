"""Test-only types with fault switches, loaded through a workflow's `plugins:` key.

They make real things — a temp dir and a child process per resource — so tests can
check against the OS that nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Any

from wfrun.builtins.config import Config
from wfrun.engine.api import AgentContext, ResourceContext, Spawn, TurnContext, TurnResult
from wfrun.registry import TypeSpec

PREFIX = "wfrun-probe-"


class ProbeConfig(Config):
    tag: str = "x"
    fail_start: bool = False
    fail_stop: bool = False
    start_seconds: float = 0.0


class Probe:
    """A temp dir plus a sleeping child process in its own session."""

    def __init__(self, config: ProbeConfig, ctx: ResourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.path: str | None = None
        self.child: subprocess.Popen[bytes] | None = None

    def start(self) -> Mapping[str, Any]:
        self.path = tempfile.mkdtemp(prefix=f"{PREFIX}{self.config.tag}-{self.ctx.name}-")
        self.child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(300)"],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ctx.journal_changed()
        deadline = time.monotonic() + self.config.start_seconds
        while time.monotonic() < deadline and not self.ctx.cancelled.is_set():
            time.sleep(0.01)
        if self.config.fail_start:
            msg = f"{self.ctx.name} refused to start"
            raise RuntimeError(msg)
        return {"path": self.path, "pid": self.child.pid}

    def stop(self) -> None:
        if self.config.fail_stop:
            msg = f"{self.ctx.name} refused to stop"
            raise RuntimeError(msg)
        if self.child is not None:
            self.child.kill()
            self.child.wait()
        if self.path:
            shutil.rmtree(self.path, ignore_errors=True)

    def journal(self) -> Mapping[str, Any]:
        return {"path": self.path, "pid": self.child.pid if self.child else None}


def cleanup_probe(entry: Mapping[str, Any]) -> str:
    pid = entry.get("pid")
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if entry.get("path"):
        shutil.rmtree(entry["path"], ignore_errors=True)
    return f"killed {pid}, removed {entry.get('path')}"


class ActConfig(Config):
    seconds: float = 0.0
    fail: bool = False
    boom: bool = False
    ignore_cancel: bool = False
    spawn: list[str] = []
    say: str = "ok"
    done: bool = True


class Act:
    def __init__(self, config: ActConfig, ctx: AgentContext) -> None:
        self.config = config

    def act(self, ctx: TurnContext) -> TurnResult:
        deadline = time.monotonic() + self.config.seconds
        while time.monotonic() < deadline:
            if ctx.cancelled.is_set() and not self.config.ignore_cancel:
                break
            time.sleep(0.005)
        if self.config.boom:
            msg = "the agent blew up"
            raise ValueError(msg)
        spawn = [Spawn(name) for name in self.config.spawn] if ctx.iteration == 1 else []
        return TurnResult(
            output=self.config.say, done=self.config.done, success=not self.config.fail, spawn=spawn
        )


TYPES = [
    TypeSpec(
        kind="resource",
        name="probe",
        config=ProbeConfig,
        factory=Probe,
        cleanup=cleanup_probe,
        attributes=("path", "pid"),
        doc="Test resource: a temp dir and a child process, with fault switches.",
    ),
    TypeSpec(kind="agent", name="act", config=ActConfig, factory=Act, doc="Test agent."),
]
