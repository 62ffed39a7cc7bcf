"""`shell` and `check`: agents that run a command and judge it by its exit."""

from __future__ import annotations

from pydantic import Field, model_validator

from wfrun.builtins.config import Argv, Config, Text
from wfrun.registry import TypeSpec


class SuccessRule(Config):
    """What counts as success; both given means both must hold."""

    exit_code: int = Field(0, description="the exit code that means success")
    stdout_matches: str | None = Field(None, description="a regex stdout must match")


class ShellConfig(Config):
    """A command per turn; output is its captured stdout and stderr."""

    run: Argv | str = Field(description="argv list, or a string with shell: true")
    shell: bool = Field(False, description="run `run` through /bin/sh")
    cwd: str | None = Field(None, description="working directory")
    env: dict[str, Text] = Field(default_factory=dict, description="extra environment")
    timeout: float | None = Field(None, gt=0, description="seconds before the command is killed")
    success: SuccessRule = Field(default_factory=SuccessRule)
    until_success: bool = Field(False, description="keep taking turns until it succeeds")
    max_output: int = Field(64_000, gt=0, description="characters of output kept")

    @model_validator(mode="after")
    def _string_needs_shell(self) -> ShellConfig:
        if isinstance(self.run, str) and not self.shell:
            msg = "a string `run:` needs `shell: true`; or write it as a list of arguments"
            raise ValueError(msg)
        if isinstance(self.run, list) and not self.run:
            msg = "`run:` is empty; give the command to run"
            raise ValueError(msg)
        return self


TYPES = [
    TypeSpec(
        kind="agent",
        name="shell",
        config=ShellConfig,
        doc="Runs a command each turn; success is its exit code (or a stdout regex).",
    ),
    TypeSpec(
        kind="agent",
        name="check",
        config=ShellConfig,
        doc="A shell command whose success ends the phase: the verify half of act-then-check.",
    ),
]
