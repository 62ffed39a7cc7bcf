"""`container`: a container run through the docker CLI (or podman: same arguments).

Networking is `none` (the default) or `host`: a bridge would put traffic on
private-range addresses, so it is an explicit opt-in (`network: bridge`, needed for
`ports:`). Commands run inside with `exec_argv` carry a random marker in their
environment, so a timeout or Ctrl-C can kill them (and what they started) inside the
container too: killing the `docker exec` client alone leaves them running.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from wfrun.builtins import probes, sockets
from wfrun.builtins.config import Argv, Config, ReadyProbe, Text
from wfrun.builtins.errors import ContainerError
from wfrun.engine.api import ResourceContext
from wfrun.engine.ports import AUTO, AUTO_MAPPING
from wfrun.registry import TypeSpec

INFO_TIMEOUT = 20.0
REMOVE_TIMEOUT = 60.0
ALIVE_EVERY = 1.0  # seconds between `inspect` calls while waiting for readiness
KILL_TIMEOUT = 20.0  # seconds the in-container kill of a command may take
EXEC_MARK = "WFRUN_EXEC"  # environment marker of the processes of one exec
# Runs "$1" with sh, then kills what it left behind (processes carrying this exec's mark,
# except this shell), and exits with its code: as a host command's session is cleaned up.
# The wrapper's own stderr is silenced (no "Killed" of its own); the command keeps its.
_EXEC_WRAPPER = (
    'exec 3>&2 2>/dev/null; /bin/sh -c "$1" REDIRECT 3>&-; rc=$?; '
    'for p in /proc/[0-9]*; do i=${p#/proc/}; [ "$i" = "$$" ] && continue; '
    'grep -q "$WFRUN_EXEC" "$p/environ" 2>/dev/null && kill -9 "$i" 2>/dev/null; done; '
    "exit $rc"
)
# Kills every process of the container whose environment holds the mark given as $1:
# all stopped first, then killed, so none sees another die (a shell would say "Killed").
_EXEC_KILLER = (
    'pids=; for p in /proc/[0-9]*; do grep -q "$1" "$p/environ" 2>/dev/null && '
    'pids="$pids ${p#/proc/}"; done; [ -z "$pids" ] && exit 0; '
    "kill -STOP $pids 2>/dev/null; kill -KILL $pids 2>/dev/null; exit 0"
)


class Mount(Config):
    """A host path (often `${resources.ws.path}`) mounted into the container."""

    source: str
    target: str
    read_only: bool = False


class ContainerConfig(Config):
    """`docker run -d` on start; `docker stop` (grace, then kill) and `docker rm` on stop."""

    image: str = Field(min_length=1, description="image reference, e.g. python:3.12-slim")
    command: Argv = Field(default_factory=list, description="argv (default: the image's)")
    env: dict[str, Text] = Field(
        default_factory=dict,
        description="environment variables (values travel in the CLI's environment, not argv)",
    )
    network: Literal["none", "host", "bridge"] = Field(
        "none",
        description="none (no network), host (the host's: serve on 127.0.0.1), or bridge "
        "(docker's private-range network; needed for ports:)",
    )
    port: int | Literal["auto"] | None = Field(
        None,
        description="the port the container serves on with network: host (the `port` "
        "attribute); auto picks a free loopback port before the rest of with: is rendered",
    )
    ports: list[Text] = Field(
        default_factory=list,
        description="published ports with network: bridge, HOST:CONTAINER as for docker -p; "
        "auto:CONTAINER publishes it on a free loopback port (the `port` attribute)",
    )
    cpus: float | None = Field(None, gt=0, description="CPU limit, as docker run --cpus")
    memory: str | None = Field(None, description="memory limit, as docker run --memory (256m)")
    user: str | None = Field(None, description="user[:group] the container runs as")
    mounts: list[Mount] = Field(default_factory=list, description="bind mounts")
    workdir: str | None = Field(None, description="working directory inside the container")
    ready: ReadyProbe | None = Field(None, description="probe that says the service is up")
    engine: str = Field("docker", description="the CLI to call (docker or podman)")
    start_timeout: float = Field(
        600.0, gt=0, description="seconds `docker run` may take (it may pull the image)"
    )
    stop_grace: float = Field(
        10.0, ge=0, description="seconds between SIGTERM and SIGKILL when stopping"
    )

    @field_validator("ports")
    @classmethod
    def _auto_mapping(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry.startswith(AUTO) and not AUTO_MAPPING.match(entry):
                msg = f"expected auto:CONTAINER_PORT such as auto:8080, got {entry!r}"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _ports_need_bridge(self) -> ContainerConfig:
        if self.ports and self.network != "bridge":
            msg = (
                f"ports: are published through a bridge network, not network: {self.network}; "
                "use network: host with port: (auto), or set network: bridge"
            )
            raise ValueError(msg)
        if self.port is not None and self.network != "host":
            msg = f"port: is served on the host's network: set network: host (not {self.network})"
            raise ValueError(msg)
        return self


def ensure_engine(engine: str, env: Mapping[str, str]) -> str:
    """The engine CLI's path, once `<engine> info` proves a daemon answers."""
    path = shutil.which(engine, path=env.get("PATH"))
    if path is None:
        msg = f"{engine} is not installed (no {engine!r} on PATH); install it or set engine:"
        raise ContainerError(msg)
    try:
        done = _cli([path, "info"], env=env, timeout=INFO_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        msg = (
            f"{engine} is installed but no engine answered `{engine} info` within {INFO_TIMEOUT:g}s"
        )
        raise ContainerError(msg) from exc
    if done.returncode != 0:
        detail = _last_line(done.stderr)
        msg = f"{engine} is installed but no engine is reachable (is the daemon running?)"
        raise ContainerError(f"{msg}: {detail}" if detail else msg)
    return path


class Container:
    """The live container, named `wfrun-<resource>-<random>` and labelled with the run."""

    def __init__(self, config: ContainerConfig, ctx: ResourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.name = f"wfrun-{ctx.name}-{secrets.token_hex(4)}"
        self.id = ""
        self.cli = config.engine
        self._env = {**ctx.environ, **config.env}
        self._created = False
        self._stopping = False

    def start(self) -> Mapping[str, Any]:
        self.cli = ensure_engine(self.config.engine, self._env)
        self._created = True
        self.ctx.journal_changed()  # the name is known: a hard kill from here on can clean up
        try:
            done = _cli(self._run_argv(), env=self._env, timeout=self.config.start_timeout)
        except subprocess.TimeoutExpired as exc:
            msg = f"`{self.config.engine} run` took longer than {self.config.start_timeout:g}s"
            raise ContainerError(msg) from exc
        if done.returncode != 0:
            msg = f"{self.config.engine} run {self.config.image} failed: {reason(done.stderr)}"
            raise ContainerError(msg)
        self.id = done.stdout.strip()
        self.ctx.journal_changed()
        failure = self._wait_ready()
        if failure is None:
            failure = self._stranger()
        if failure is not None:
            tail = self._log_tail()
            msg = f"container {self.name} ({self.config.image}) {failure}"
            raise ContainerError(f"{msg}\nlast lines of its log:\n{tail}" if tail else msg)
        port = self._host_port()
        return {"id": self.id, "name": self.name, **({"port": port} if port else {})}

    def watch(self) -> str | None:
        """Block until the container stops (`docker wait`); say why when wfrun did not
        stop it, with its exit code and the tail of its log."""
        if not self._created:
            return None
        done = subprocess.run(
            [self.cli, "wait", self.name],
            env=self._env,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if self._stopping:
            return None
        code = done.stdout.strip() or "?"
        msg = f"container {self.name} ({self.config.image}) exited with code {code}"
        tail = self._log_tail()
        return f"{msg}\nlast lines of its log:\n{tail}" if tail else msg

    def stop(self) -> None:
        if not self._created:
            return
        self._stopping = True
        grace = self.config.stop_grace
        with contextlib.suppress(subprocess.TimeoutExpired):  # rm -f below kills it anyway
            _cli(
                [self.cli, "stop", "-t", f"{grace:g}", self.name],
                env=self._env,
                timeout=grace + REMOVE_TIMEOUT,
            )
        message = remove(self.cli, self.name, env=self._env)
        self.ctx.log(message)
        self._created = False

    def journal(self) -> Mapping[str, Any]:
        if not self._created:
            return {}
        entry = {"name": self.name, "id": self.id, "engine": self.config.engine}
        entry["run"] = self.ctx.run_dir.name
        host = self._env.get("DOCKER_HOST")
        return {**entry, "docker_host": host} if host else entry

    def exec_argv(
        self,
        command: str,
        *,
        workdir: str | None = None,
        env: Iterable[str] = (),
        mark: str | None = None,
        merge_stderr: bool = False,
    ) -> list[str]:
        """argv that runs a shell `command` inside the container. `env` names variables
        passed from the CLI's environment; `mark` tags the command's processes so that
        `kill_marked` can end them, and they end what they leave behind. `merge_stderr`
        joins stderr to stdout inside, so the order between the two is kept (docker
        carries them apart)."""
        argv = [self.cli, "exec"]
        if workdir:
            argv += ["-w", workdir]
        for key in env:
            argv += ["-e", key]
        if mark is None:
            return [*argv, self.name, "/bin/sh", "-c", command]
        argv += ["-e", f"{EXEC_MARK}={mark}"]
        wrapper = _EXEC_WRAPPER.replace("REDIRECT", "2>&1" if merge_stderr else "2>&3")
        return [*argv, self.name, "/bin/sh", "-c", wrapper, "wfrun-exec", command]

    def kill_marked(self, mark: str) -> None:
        """Kill, inside the container, every process of the exec tagged `mark`."""
        with contextlib.suppress(subprocess.TimeoutExpired, ContainerError):
            _cli(
                [self.cli, "exec", self.name, "/bin/sh", "-c", _EXEC_KILLER, "kill", mark],
                env=self._env,
                timeout=KILL_TIMEOUT,
            )

    def _log_tail(self) -> str:
        try:
            logs = _cli([self.cli, "logs", "--tail", "20", self.name], env=self._env, timeout=30)
        except subprocess.TimeoutExpired:
            return ""
        return (logs.stdout + logs.stderr).strip()

    def _probed_port(self) -> tuple[str, int] | None:
        """The host and port a tcp or http probe connects to."""
        return probes.probed_address(self.config.ready)

    def _stranger(self) -> str | None:
        """After a tcp/http probe passed on the host's network: why the socket it reached
        is not held by a process of this container (its own pid namespace), or None."""
        probed = self._probed_port()
        if probed is None or self.config.network != "host":
            return None
        ours = set(self._members())
        if not ours:
            return None  # nothing can be told (no /proc, or another user's engine)
        held = sockets.stranger(*probed, ours)
        return None if held is None else f"is not what answers: {held}"

    def _members(self) -> list[int]:
        """Host pids of the container's processes: those in its init's pid namespace."""
        done = _cli(
            [self.cli, "inspect", "-f", "{{.State.Pid}}", self.name], env=self._env, timeout=30
        )
        init = done.stdout.strip()
        try:
            namespace = Path(f"/proc/{init}/ns/pid").readlink()
        except OSError:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if (entry / "ns" / "pid").readlink() == namespace:
                        found.append(int(entry.name))
        return found

    def _host_port(self) -> int | None:
        """`port` (network: host), else the host port of the first published port."""
        if isinstance(self.config.port, int):
            return self.config.port
        for entry in self.config.ports:
            parts = entry.split("/")[0].split(":")
            if len(parts) >= 2 and parts[-2].isdigit():
                return int(parts[-2])
        return None

    def _run_argv(self) -> list[str]:
        config = self.config
        argv = [self.cli, "run", "-d", "--name", self.name]
        argv += ["--label", f"wfrun.run={self.ctx.run_dir.name}"]
        argv += ["--label", f"wfrun.resource={self.ctx.name}"]
        argv += ["--network", config.network]
        if config.cpus is not None:
            argv += ["--cpus", f"{config.cpus:g}"]
        if config.memory is not None:
            argv += ["--memory", config.memory]
        if config.user is not None:
            argv += ["--user", config.user]
        for port in config.ports:
            argv += ["-p", port]
        for key in config.env:
            argv += ["-e", key]  # the value comes from the CLI's environment: not in `ps`
        for mount in config.mounts:
            source = (self.ctx.base_dir / mount.source).resolve()
            argv += ["-v", f"{source}:{mount.target}" + (":ro" if mount.read_only else "")]
        if config.workdir:
            argv += ["-w", config.workdir]
        return [*argv, config.image, *config.command]

    def _wait_ready(self) -> str | None:
        probe = self.config.ready
        if probe is None:
            return None
        check = probes.check_for(
            probe,
            cwd=self.ctx.base_dir,
            env=self._env,
            command_prefix=[self.cli, "exec", self.name],
        )
        last = [0.0]

        def exited() -> str | None:
            if time.monotonic() - last[0] < ALIVE_EVERY:
                return None
            last[0] = time.monotonic()
            done = _cli(
                [self.cli, "inspect", "-f", "{{.State.Running}}", self.name],
                env=self._env,
                timeout=30,
            )
            return None if done.stdout.strip() == "true" else "stopped"

        return probes.wait_ready(
            check,
            timeout=probe.timeout,
            interval=probe.interval,
            exited=exited,
            cancelled=self.ctx.cancelled,
        )


def remove(engine: str, name: str, *, env: Mapping[str, str]) -> str:
    """`<engine> rm -f name`; a container that is already gone is fine."""
    done = _cli([engine, "rm", "-f", name], env=env, timeout=REMOVE_TIMEOUT)
    if done.returncode == 0:
        return f"removed container {name}"
    if "no such container" in done.stderr.lower():
        return f"container {name} was already gone"
    msg = f"{engine} rm -f {name} failed: {reason(done.stderr)}"
    raise ContainerError(msg)


def cleanup(entry: Mapping[str, Any]) -> str:
    """Remove a container a hard kill left behind: by its unique name, and any other the
    run's label names (a `docker run` the journal did not see finish)."""
    name = entry.get("name")
    if not name:
        return "nothing to clean up"
    engine = str(entry.get("engine") or "docker")
    env = dict(os.environ)
    if entry.get("docker_host"):
        env["DOCKER_HOST"] = str(entry["docker_host"])
    path = ensure_engine(engine, env)
    message = remove(path, str(name), env=env)
    run = entry.get("run")
    if run:
        listed = _cli(
            [path, "ps", "-aq", "--filter", f"label=wfrun.run={run}"], env=env, timeout=30
        )
        for other in listed.stdout.split():
            remove(path, other, env=env)
    return message


def _cli(
    argv: Sequence[str], *, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv),
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        msg = f"{argv[0]} is not installed (not found on PATH)"
        raise ContainerError(msg) from exc


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def reason(stderr: str) -> str:
    """docker's own reason for a failure: its stderr without the generic advice
    ("Run 'docker run --help' for more information") it ends with."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    kept = [line for line in lines if not (line.startswith("Run '") and "--help'" in line)]
    return " ".join(kept or lines)


TYPES = [
    TypeSpec(
        kind="resource",
        name="container",
        config=ContainerConfig,
        factory=Container,
        cleanup=cleanup,
        attributes=("id", "name", "port"),
        doc="A container run through the docker CLI; removed on stop.",
    )
]
