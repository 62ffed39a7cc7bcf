"""`process`: a background service with a readiness probe."""

from __future__ import annotations

from pydantic import Field

from wfrun.builtins.config import Argv, Config, ReadyProbe, Text
from wfrun.registry import TypeSpec


class ProcessConfig(Config):
    """A long-running child process, stopped with its whole process group."""

    command: Argv = Field(min_length=1, description="argv of the service")
    cwd: str | None = Field(None, description="working directory (default: workflow folder)")
    env: dict[str, Text] = Field(default_factory=dict, description="extra environment")
    port: int | None = Field(None, ge=1, le=65535, description="the port it serves, if any")
    ready: ReadyProbe | None = Field(None, description="probe that says the service is up")
    grace: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")


TYPES = [
    TypeSpec(
        kind="resource",
        name="process",
        config=ProcessConfig,
        attributes=("pid", "port", "log"),
        doc="A background service process with a readiness probe; stopped as a process group.",
    )
]
