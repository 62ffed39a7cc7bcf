"""`container`: a container run through the docker CLI (or podman: same arguments)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, field_validator

from wfrun.builtins import probes
from wfrun.builtins.config import Argv, Config, ReadyProbe, Text
from wfrun.builtins.errors import ContainerError
from wfrun.engine.api import ResourceContext
from wfrun.engine.ports import AUTO, AUTO_MAPPING
from wfrun.registry import TypeSpec

INFO_TIMEOUT = 20.0
REMOVE_TIMEOUT = 60.0
ALIVE_EVERY = 1.0  # seconds between `inspect` calls while waiting for readiness


class Mount(Config):
    """A host path (often `${resources.ws.path}`) mounted into the container."""

    source: str
    target: str
    read_only: bool = False


class ContainerConfig(Config):
    """`docker run -d` on start, `docker rm -f` on stop."""

    image: str = Field(min_length=1, description="image reference, e.g. python:3.12-slim")
    command: Argv = Field(default_factory=list, description="argv (default: the image's)")
    env: dict[str, Text] = Field(default_factory=dict, description="environment variables")
    ports: list[Text] = Field(
        default_factory=list,
        description="published ports, HOST:CONTAINER as for docker -p; "
        "auto:CONTAINER publishes it on a free loopback port (the `port` attribute)",
    )
    mounts: list[Mount] = Field(default_factory=list, description="bind mounts")
    workdir: str | None = Field(None, description="working directory inside the container")
    ready: ReadyProbe | None = Field(None, description="probe that says the service is up")
    engine: str = Field("docker", description="the CLI to call (docker or podman)")
    start_timeout: float = Field(
        600.0, gt=0, description="seconds `docker run` may take (it may pull the image)"
    )

    @field_validator("ports")
    @classmethod
    def _auto_mapping(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry.startswith(AUTO) and not AUTO_MAPPING.match(entry):
                msg = f"expected auto:CONTAINER_PORT such as auto:8080, got {entry!r}"
                raise ValueError(msg)
        return value


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
            msg = f"{self.config.engine} run {self.config.image} failed: {_last_line(done.stderr)}"
            raise ContainerError(msg)
        self.id = done.stdout.strip()
        self.ctx.journal_changed()
        failure = self._wait_ready()
        if failure is not None:
            logs = _cli([self.cli, "logs", "--tail", "20", self.name], env=self._env, timeout=30)
            tail = (logs.stdout + logs.stderr).strip()
            msg = f"container {self.name} ({self.config.image}) {failure}"
            raise ContainerError(f"{msg}\nlast lines of its log:\n{tail}" if tail else msg)
        port = self._host_port()
        return {"id": self.id, "name": self.name, **({"port": port} if port else {})}

    def stop(self) -> None:
        if not self._created:
            return
        message = remove(self.cli, self.name, env=self._env)
        self.ctx.log(message)
        self._created = False

    def journal(self) -> Mapping[str, Any]:
        if not self._created:
            return {}
        return {"name": self.name, "id": self.id, "engine": self.config.engine}

    def exec_argv(self, command: str, *, workdir: str | None = None) -> list[str]:
        """argv that runs a shell `command` inside the container."""
        where = ["-w", workdir] if workdir else []
        return [self.cli, "exec", *where, self.name, "/bin/sh", "-c", command]

    def _host_port(self) -> int | None:
        """The host port of the first published port (`auto:` ones are numbers by now)."""
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
    msg = f"{engine} rm -f {name} failed: {_last_line(done.stderr)}"
    raise ContainerError(msg)


def cleanup(entry: Mapping[str, Any]) -> str:
    """Remove a container a hard kill left behind (by its unique name)."""
    name = entry.get("name")
    if not name:
        return "nothing to clean up"
    engine = str(entry.get("engine") or "docker")
    path = ensure_engine(engine, os.environ)
    return remove(path, str(name), env=os.environ)


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
