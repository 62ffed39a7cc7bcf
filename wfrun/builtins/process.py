"""`process`: a background service with a readiness probe."""

from __future__ import annotations

import subprocess
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from wfrun.builtins import probes, procs
from wfrun.builtins.config import Argv, Config, ReadyProbe, Text
from wfrun.builtins.errors import ProcessError
from wfrun.engine.api import ResourceContext
from wfrun.registry import TypeSpec

LOG_TAIL_LINES = 20
CLEANUP_GRACE = 5.0  # at most: cleanup uses the service's own grace when it was recorded


class ProcessConfig(Config):
    """A long-running child process, stopped with its whole process group."""

    command: Argv = Field(min_length=1, description="argv of the service")
    cwd: str | None = Field(None, description="working directory (default: workflow folder)")
    env: dict[str, Text] = Field(default_factory=dict, description="extra environment")
    port: int | None = Field(None, ge=1, le=65535, description="the port it serves, if any")
    ready: ReadyProbe | None = Field(None, description="probe that says the service is up")
    grace: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")


class Process:
    """The live service. Its output goes to `run_dir/logs/<name>.log`."""

    def __init__(self, config: ProcessConfig, ctx: ResourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.cwd = ctx.base_dir / config.cwd if config.cwd else ctx.base_dir
        self.log_path = ctx.run_dir / "logs" / f"{ctx.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._facts: dict[str, Any] = {}

    def start(self) -> Mapping[str, Any]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The run's mark, from the first instruction on: `wfrun cleanup` finds the service
        # even if a hard kill comes before the journal lists it.
        env = {**self.ctx.environ, **self.config.env, procs.RUN_ENV: run_dir(self.ctx)}
        try:
            with self.log_path.open("ab") as log:  # the child keeps its own descriptor
                self.proc = procs.spawn(self.config.command, cwd=self.cwd, env=env, stdout=log)
        except OSError as exc:
            msg = _spawn_failure(self.config.command[0], self.cwd, exc)
            raise ProcessError(msg) from exc
        pid = self.proc.pid
        self._facts = {
            "pid": pid,
            "pgid": pid,
            "start_time": procs.start_time(pid),
            "boot_id": procs.boot_id(),
            "command": self.config.command[0],
            "grace": self.config.grace,
        }
        self.ctx.journal_changed()  # before waiting: a hard kill now must still clean up
        try:
            failure = self._wait_ready(env)
        except BaseException:  # Ctrl-C while waiting: the service must not outlive us
            self.stop()
            raise
        if failure == probes.CANCELLED:
            self.stop()
            msg = f"{' '.join(self.config.command)} {failure}"
            raise ProcessError(msg)
        if failure is not None:
            tail = self.log_tail()
            self.stop()
            msg = f"{' '.join(self.config.command)} {failure}"
            msg += (
                f"\nlast lines of {self.log_path}:\n{tail}"
                if tail
                else f" (no output in {self.log_path})"
            )
            raise ProcessError(msg)
        return {"pid": pid, "port": self._port(), "log": str(self.log_path)}

    def stop(self) -> None:
        if self.proc is not None:
            procs.kill_session(self.proc.pid, grace=self.config.grace, proc=self.proc)
            self.proc = None

    def journal(self) -> Mapping[str, Any]:
        return dict(self._facts) if self.proc is not None else {}

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines the service printed (what a user needs when it fails)."""
        try:
            with self.log_path.open("rb") as log:
                size = log.seek(0, 2)
                log.seek(max(size - 8192, 0))
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def _wait_ready(self, env: Mapping[str, str]) -> str | None:
        proc = self.proc
        assert proc is not None

        def exited() -> str | None:
            code = proc.poll()
            if code is None:
                return None
            return f"killed by signal {-code}" if code < 0 else f"exited with code {code}"

        probe = self.config.ready
        if probe is None:
            return exited()
        check = probes.check_for(probe, cwd=self.cwd, env=env)
        return probes.wait_ready(
            check,
            timeout=probe.timeout,
            interval=probe.interval,
            exited=exited,
            cancelled=self.ctx.cancelled,
        )

    def _port(self) -> int | None:
        """`port`, else the port the probe checks (so `${resources.app.port}` just works)."""
        probe = self.config.ready
        if self.config.port is not None or probe is None:
            return self.config.port
        if probe.tcp:
            return int(probe.tcp.rpartition(":")[2])
        return urllib.parse.urlsplit(probe.http).port if probe.http else None


def run_dir(ctx: ResourceContext) -> str:
    """The run record folder, absolute: services run elsewhere than the runner."""
    return str(Path(ctx.run_dir).resolve())


def _spawn_failure(program: str, cwd: Path, exc: OSError) -> str:
    if not cwd.is_dir():
        return f"working directory {cwd} does not exist"
    if isinstance(exc, FileNotFoundError):
        return f"cannot run {program!r}: no such command (is it installed and on PATH?)"
    if isinstance(exc, PermissionError):
        return f"cannot run {program!r}: permission denied (is it executable?)"
    return f"cannot run {program!r}: {exc}"


def cleanup(entry: Mapping[str, Any]) -> str:
    """Stop a service a hard kill left behind, only if its pid is still the same process.

    A pid alone is not enough: the kernel reuses pids. The start time and boot id must
    match. If the leader is gone, survivors of its group are stopped only when they
    started after it (an unrelated group cannot share its pgid while any member lives).
    """
    pid, started = entry.get("pid"), entry.get("start_time")
    if not pid:
        return "nothing to clean up"
    if entry.get("boot_id") and entry["boot_id"] != procs.boot_id():
        return f"pid {pid} was from an earlier boot; nothing left to stop"
    if started is None:
        return f"left pid {pid} alone: no start time was recorded to tell it from a reused pid"
    now = procs.start_time(pid)
    if now is not None and now != started:
        return f"left pid {pid} alone: it is now a different process"
    grace = min(float(entry.get("grace", CLEANUP_GRACE)), CLEANUP_GRACE)
    if now is not None:
        count = procs.kill_session(pid, grace=grace)
        return f"stopped process group {pid} ({count} process(es))"

    def ours(stat: procs.ProcStat) -> bool:
        return stat.start_time >= started

    count = procs.kill_session(pid, grace=grace, keep=ours)
    if count:
        return f"pid {pid} was gone; stopped {count} leftover process(es) of its group"
    return f"pid {pid} and its group are gone"


TYPES = [
    TypeSpec(
        kind="resource",
        name="process",
        config=ProcessConfig,
        factory=Process,
        cleanup=cleanup,
        attributes=("pid", "port", "log"),
        doc="A background service process with a readiness probe; stopped as a process group.",
    )
]
