"""`executor`: asks a model for the next command, runs it, feeds back what it printed."""

from __future__ import annotations

from pydantic import Field

from wfrun.builtins.config import Config
from wfrun.registry import TypeSpec


class ExecutorConfig(Config):
    """The agent loop: task + history -> model -> command -> observation."""

    task: str = Field(min_length=1, description="what the model is asked to do")
    model: str | None = Field(None, description="model resource (default: the one it requires)")
    target: str | None = Field(
        None, description="workspace, process or container to run commands in (default: first)"
    )
    stop_token: str = Field("DONE", min_length=1, description="the model says this when done")
    system: str | None = Field(None, description="system prompt (a sensible default if unset)")
    command_timeout: float = Field(60.0, gt=0, description="seconds per command")
    max_output: int = Field(8_000, gt=0, description="characters of each observation kept")


TYPES = [
    TypeSpec(
        kind="agent",
        name="executor",
        config=ExecutorConfig,
        doc="Model-driven loop: asks a model for a command, runs it, feeds the output back.",
    )
]
