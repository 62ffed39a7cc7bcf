"""`process`: a background service with a readiness probe."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from wfrun.builtins import probes, sockets
from wfrun.builtins.config import Argv, Config, ReadyProbe, Text
from wfrun.builtins.errors import ProcessError
from wfrun.engine import procs
from wfrun.engine.api import ResourceContext
from wfrun.engine.ports import AUTO, free_port
from wfrun.registry import TypeSpec

LOG_TAIL_LINES = 20
CLEANUP_GRACE = 5.0  # at most: cleanup uses the service's own grace when it was recorded
MAX_PORT = 65535
EXIT_WAIT = 2.0  # seconds a service that lost its port gets to exit and say why


class ProcessConfig(Config):
    """A long-running child process, stopped with its whole process group."""

    command: Argv = Field(min_length=1, description="argv of the service")
    cwd: str | None = Field(None, description="working directory (default: workflow folder)")
    env: dict[str, Text] = Field(default_factory=dict, description="extra environment")
    port: Annotated[int, Field(ge=1, le=MAX_PORT)] | Literal["auto"] | None = Field(
        None,
        description="the port it serves, if any; auto: a free loopback port, chosen at start",
    )
    ready: ReadyProbe | None = Field(None, description="probe that says the service is up")
    grace: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")

    @field_validator("port", mode="before")
    @classmethod
    def _port_or_auto(cls, value: Any) -> Any:
        """One clear message instead of pydantic's two (not an integer; not 'auto')."""
        if value is None or value == AUTO:
            return value
        if isinstance(value, str) and not value.strip().isdigit():
            msg = f"expected a port number (1-65535) or auto, got {value!r}"
            raise ValueError(msg)
        if isinstance(value, int | str) and not isinstance(value, bool):
            # The int's own bounds, said once (the union would add "or 'auto'" to each).
            number = int(value)
            if not 1 <= number <= MAX_PORT:
                kind, bound = (
                    ("greater_than_equal", 1) if number < 1 else ("less_than_equal", MAX_PORT)
                )
                words = kind.replace("_than_equal", " than or equal to").replace("_", " ")
                raise PydanticCustomError(kind, f"Input should be {words} {bound}")
        return value


class Process:
    """The live service. Its output goes to `run_dir/logs/<name>.log`."""

    def __init__(self, config: ProcessConfig, ctx: ResourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.cwd = ctx.base_dir / config.cwd if config.cwd else ctx.base_dir
        self.log_path = ctx.run_dir / "logs" / f"{ctx.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        # `auto` is normally chosen by the engine before rendering (so the `with:` can
        # read it); a Process built directly chooses it here.
        self.port: int | None = (
            free_port() if config.port == AUTO else cast(int | None, config.port)
        )
        self._facts: dict[str, Any] = {}
        self._stopping = False  # set before an orderly stop: that exit is no failure

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
        if failure is None:
            failure = self._stranger()
        if failure is not None:
            tail = self.log_tail()
            self.stop()
            msg = (
                failure
                if failure.startswith("port ")
                else f"{' '.join(self.config.command)} {failure}"
            )
            msg += (
                f"\nlast lines of {self.log_path}:\n{tail}"
                if tail
                else f" (no output in {self.log_path})"
            )
            raise ProcessError(msg)
        return {"pid": pid, "port": self._port(), "log": str(self.log_path)}

    def watch(self) -> str | None:
        """Block until the service exits (a blocking wait, no polling); say why when it
        was not wfrun stopping it, with the tail of its log. None after an orderly stop."""
        proc = self.proc
        if proc is None:
            return None
        code = proc.wait()
        if self._stopping:
            return None
        msg = f"service {self.ctx.name!r} {_exit_text(code)}"
        tail = self.log_tail()
        return f"{msg}\nlast lines of {self.log_path}:\n{tail}" if tail else msg

    def stop(self) -> None:
        self._stopping = True
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
            return None if code is None else _exit_text(code)

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
        probed = self._probed()
        return self.port if self.port is not None or probed is None else probed[1]

    def _probed(self) -> tuple[str, int] | None:
        """The host and port a tcp or http probe connects to."""
        return probes.probed_address(self.config.ready)

    def _stranger(self) -> str | None:
        """After the probe passed: why the socket it reached is not this service's.

        Anything may answer on a port; only a listening socket held by a process of
        the service's own group or session proves the service is up (checked once).
        """
        probed, proc = self._probed(), self.proc
        if probed is None or proc is None:
            return None
        ours = {proc.pid, *procs.members(proc.pid)}
        held = sockets.stranger(*probed, ours)
        if held is None:
            return None
        # The service itself usually dies of "address already in use": let it say so.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=EXIT_WAIT)
        code = proc.poll()
        status = "is still running" if code is None else _exit_text(code)
        return (
            f"{held}, not by service {self.ctx.name!r} (`{' '.join(self.config.command)}` {status})"
        )


def _exit_text(code: int) -> str:
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


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
        return bool(stat.start_time >= started)

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
