"""Test-only types with fault switches, loaded through a workflow's `plugins:` key.

They make real things — a temp dir and a child process per resource — so tests can
check against the OS that nothing is left behind. `faulty` wraps any built-in type (or
`probe`) and injects a fault around the real thing: a start that fails after the
resource came up, a stop that raises before doing anything, a slow start or stop; the
`faulty` agent raises on chosen turns.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from wfrun.builtins.config import Config
from wfrun.engine import procs
from wfrun.engine.api import (
    Agent,
    AgentContext,
    LiveResource,
    ResourceContext,
    Spawn,
    TurnContext,
    TurnResult,
    as_result,
)
from wfrun.registry import Kind, TypeSpec, builtin_registry

PREFIX = "wfrun-probe-"


def _slow_start(ctx: ResourceContext, seconds: float, *, fail: bool) -> None:
    """The end of a start: `seconds` more (cut short on cancel), then refuse if told to."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not ctx.cancelled.is_set():
        time.sleep(0.01)
    if fail:
        msg = f"{ctx.name} refused to start"
        raise RuntimeError(msg)


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
        # As the built-ins do: the dir is journaled before it exists, and the child carries
        # the run's mark, so a hard kill at any moment leaves nothing cleanup cannot find.
        name = f"{PREFIX}{self.config.tag}-{self.ctx.name}-{secrets.token_hex(6)}"
        self.path = str(Path(tempfile.gettempdir()) / name)
        self.ctx.journal_changed()
        Path(self.path).mkdir(mode=0o700)
        run_dir = str(Path(self.ctx.run_dir).resolve())
        self.child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(300)"],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, procs.RUN_ENV: run_dir},
        )
        self.ctx.journal_changed()
        _slow_start(self.ctx, self.config.start_seconds, fail=self.config.fail_start)
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
        if self.child is None:
            return {"path": self.path, "pid": None}
        started = procs.start_time(self.child.pid)
        return {"path": self.path, "pid": self.child.pid, "start_time": started}


def cleanup_probe(entry: Mapping[str, Any]) -> str:
    """Kill the child only while its pid is still the process the probe started."""
    pid, started = entry.get("pid"), entry.get("start_time")
    if entry.get("path"):
        shutil.rmtree(entry["path"], ignore_errors=True)
    if not pid:
        return f"removed {entry.get('path')}"
    if started is None or procs.start_time(pid) != started:
        return f"left pid {pid} alone: it is not the probe's child, removed {entry.get('path')}"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return f"killed {pid}, removed {entry.get('path')}"


class ActConfig(Config):
    seconds: float = 0.0
    fail: bool = False
    boom: bool = False
    ignore_cancel: bool = False
    spawn: list[str] = []
    say: str = "ok"
    done: bool = True
    log_chars: int = 0  # one log line this long first (fills a pipe nobody reads)


class Act:
    def __init__(self, config: ActConfig, ctx: AgentContext) -> None:
        self.config = config

    def act(self, ctx: TurnContext) -> TurnResult:
        if self.config.log_chars:
            ctx.log("x" * self.config.log_chars)
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


def _spec(kind: Kind, name: str) -> TypeSpec:
    """A built-in type, or probe/act, for `faulty` to wrap."""
    registry = builtin_registry()
    registry.add_all(TYPES[:2], origin="wfrun")
    spec = registry.get(kind, name)
    if spec is None or spec.factory is None:
        msg = f"faulty cannot wrap {kind} type {name!r}"
        raise ValueError(msg)
    return spec


class FaultyConfig(Config):
    inner: str = Field(description="the wrapped resource type: a built-in, or probe")
    settings: dict[str, Any] = Field(default_factory=dict, description="its `with:`")
    fail_start: bool = False  # raise once the inner resource is up (the worst moment)
    fail_stop: bool = False  # raise before stopping it: it stays for `wfrun cleanup`
    start_seconds: float = 0.0  # a slow start, after the inner start; cut short on cancel
    stop_seconds: float = 0.0  # a slow stop, before the inner stop; never cut short
    forget_stop: bool = False  # a buggy stop: returns without stopping anything


class Faulty:
    """A real resource of another type, with a fault around it.

    When it enters a slow start or stop it touches `.moment-<name>-start` or `-stop`
    beside the workflow, so a test can send a signal exactly then.
    """

    def __init__(self, config: FaultyConfig, ctx: ResourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.inner: LiveResource | None = None

    def start(self) -> Mapping[str, Any]:
        spec = _spec("resource", self.config.inner)
        assert spec.factory is not None
        self.inner = spec.factory(spec.config.model_validate(self.config.settings), self.ctx)
        attributes = dict(self.inner.start())
        self.ctx.journal_changed()
        if self.config.start_seconds:
            self._moment("start")
        _slow_start(self.ctx, self.config.start_seconds, fail=self.config.fail_start)
        return attributes

    def stop(self) -> None:
        if self.config.stop_seconds:
            self._moment("stop")
            time.sleep(self.config.stop_seconds)
        if self.config.fail_stop:
            msg = f"{self.ctx.name} refused to stop"
            raise RuntimeError(msg)
        if self.inner is not None and not self.config.forget_stop:
            self.inner.stop()

    def journal(self) -> Mapping[str, Any]:
        if self.inner is None:
            return {}
        return {"inner": self.config.inner, "entry": dict(self.inner.journal())}

    def _moment(self, what: str) -> None:
        (Path(self.ctx.base_dir) / f".moment-{self.ctx.name}-{what}").touch()


def cleanup_faulty(entry: Mapping[str, Any]) -> str:
    if not entry.get("inner"):
        return "nothing to clean up"
    spec = _spec("resource", entry["inner"])
    if spec.cleanup is None:
        return f"nothing to clean up for type {entry['inner']!r}"
    return spec.cleanup(entry.get("entry", {}))


class FaultyAgentConfig(Config):
    inner: str = Field(description="the wrapped agent type")
    settings: dict[str, Any] = Field(default_factory=dict, description="its `with:`")
    raise_on: list[int] = Field(default_factory=list, description="turns that raise")


class FaultyAgent:
    def __init__(self, config: FaultyAgentConfig, ctx: AgentContext) -> None:
        spec = _spec("agent", config.inner)
        self.config = config
        assert spec.factory is not None
        self.inner: Agent = spec.factory(spec.config.model_validate(config.settings), ctx)

    def act(self, ctx: TurnContext) -> TurnResult:
        if ctx.iteration in self.config.raise_on:
            msg = f"turn {ctx.iteration} blew up"
            raise RuntimeError(msg)
        return as_result(self.inner.act(ctx))


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
    TypeSpec(
        kind="resource",
        name="faulty",
        config=FaultyConfig,
        factory=Faulty,
        cleanup=cleanup_faulty,
        attributes=("path", "pid", "port", "log", "id", "name"),
        doc="Test resource: another type's resource with a fault injected around it.",
    ),
    TypeSpec(
        kind="agent",
        name="faulty",
        config=FaultyAgentConfig,
        factory=FaultyAgent,
        doc="Test agent: another type's agent that raises on chosen turns.",
    ),
]
