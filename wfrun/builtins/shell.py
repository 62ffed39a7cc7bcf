"""`shell` and `check`: agents that run a command and judge it by its exit."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from wfrun.builtins import capture
from wfrun.builtins.config import Argv, Config, Text
from wfrun.engine import procs
from wfrun.registry import TypeSpec

if TYPE_CHECKING:  # the engine's API is imported by the first turn: validate needs none of it
    from wfrun.builtins.container import Container
    from wfrun.engine.api import AgentContext, Cancellation, TurnContext, TurnResult

PREVIOUS_LIMIT = 16_000  # characters of WFRUN_PREVIOUS; the kernel caps one variable at 128 KiB


class SuccessRule(Config):
    """What counts as success; both given means both must hold."""

    exit_code: int = Field(0, description="the exit code that means success")
    stdout_matches: str | None = Field(None, description="a regex stdout must match (search)")

    @field_validator("stdout_matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                msg = f"not a valid regular expression: {exc}"
                raise ValueError(msg) from exc
        return value


class ShellConfig(Config):
    """A command per turn; output is its captured stdout and stderr."""

    run: Argv | str = Field(description="argv list, or a string with shell: true")
    shell: bool = Field(False, description="run `run` through /bin/sh")
    cwd: str | None = Field(
        None,
        description="working directory (default: workflow folder; with in: a path in the "
        "container, default its workdir)",
    )
    in_: str | None = Field(
        None,
        alias="in",
        description="a container resource to run the command in (docker exec), not the host",
    )
    env: dict[str, Text] = Field(default_factory=dict, description="extra environment")
    timeout: float | None = Field(None, gt=0, description="seconds before the command is killed")
    success: SuccessRule = Field(default_factory=SuccessRule)
    until_success: bool = Field(False, description="keep taking turns until it succeeds")
    max_output: int = Field(64_000, gt=0, description="characters of output kept (the tail)")

    @model_validator(mode="after")
    def _string_needs_shell(self) -> ShellConfig:
        if isinstance(self.run, str) and not self.shell:
            msg = "a string `run:` needs `shell: true`; or write it as a list of arguments"
            raise ValueError(msg)
        if isinstance(self.run, list) and not self.run:
            msg = "`run:` is empty; give the command to run"
            raise ValueError(msg)
        return self


class ShellAgent:
    """Runs the command once per turn. `check` agents are done as soon as it succeeds."""

    def __init__(self, config: ShellConfig, ctx: AgentContext, *, done_on_success: bool) -> None:
        self.config = config
        self.ctx = ctx
        self.cwd = ctx.base_dir / config.cwd if config.cwd else ctx.base_dir
        self.done_on_success = done_on_success or config.until_success
        self.sandbox: Container | None = None
        if config.in_:
            # Only then: the sandbox imports the container type, which `validate` of a
            # workflow without containers should not pay for.
            from wfrun.builtins import sandbox  # noqa: PLC0415

            self.sandbox = sandbox.sandbox_of(config.in_, ctx)

    def act(self, ctx: TurnContext) -> TurnResult:
        from wfrun.engine.api import TurnResult  # noqa: PLC0415 - see the imports

        config = self.config
        run = config.run
        argv = ["/bin/sh", "-c", run] if isinstance(run, str) else list(run)
        if isinstance(run, list) and config.shell:
            # Each item is one argument, as without the shell: quoted, never re-split or
            # interpreted (`;`, `$`, spaces). Shell syntax belongs in a string `run:`.
            argv = ["/bin/sh", "-c", shlex.join(run)]
        env = {
            **self.ctx.environ,
            **config.env,
            "WFRUN_PHASE": ctx.phase,
            "WFRUN_ITERATION": str(ctx.iteration),
            "WFRUN_PREVIOUS": previous_text(ctx.previous),
            procs.RUN_ENV: _absolute(str(ctx.run_dir)),  # absolute: cwd may differ
        }
        if self.sandbox is not None:
            from wfrun.builtins import sandbox  # noqa: PLC0415 - imported by __init__

            passed = [*config.env, "WFRUN_PHASE", "WFRUN_ITERATION", "WFRUN_PREVIOUS"]
            done = sandbox.run(
                self.sandbox,
                argv[2] if argv[:2] == ["/bin/sh", "-c"] else shlex.join(argv),
                env=env,
                passed=passed,
                workdir=config.cwd,
                timeout=config.timeout,
                cancelled=ctx.cancelled,
                max_output=config.max_output,
                stdout_matches=config.success.stdout_matches,
            )
        else:
            live = capture.LiveLines(ctx.log)  # lines stream to the board and events.jsonl
            done = capture.run(
                argv,
                cwd=self.cwd,
                env=env,
                timeout=config.timeout,
                cancelled=ctx.cancelled,
                max_output=config.max_output,
                stdout_matches=config.success.stdout_matches,  # matched in a child: bounded
                on_output=live.feed,
            )
            live.close()
        where = f"container {config.in_}" if self.sandbox is not None else str(self.cwd)
        add_command(ctx, argv, where, done)
        success = done.exit_code == config.success.exit_code and done.matched is not False
        return TurnResult(
            output=describe(
                done,
                max_output=config.max_output,
                timeout=config.timeout,
                cancelled=ctx.cancelled,
            ),
            done=success if self.done_on_success else True,
            success=success,
            usage={"exit_code": done.exit_code, "seconds": done.duration_s},
        )


@functools.lru_cache(maxsize=64)
def _absolute(run_dir: str) -> str:
    """The run folder resolved once per run, not per turn (a syscall per path component)."""
    return str(Path(run_dir).resolve())


def previous_text(previous: Any) -> str:
    """`previous` as an environment variable can hold it: text, the tail if too long."""
    if previous is None:
        return ""
    text = previous if isinstance(previous, str) else str(previous)
    return text[-PREVIOUS_LIMIT:] if len(text) > PREVIOUS_LIMIT else text


def add_command(ctx: TurnContext, argv: list[str], where: str, done: capture.Captured) -> None:
    """A command's entry in the phase transcript (stdout and stderr as written, one stream)."""
    ctx.transcript(
        "command",
        argv=argv,
        cwd=where,
        exit_code=done.exit_code,
        output=done.output,
        output_chars=len(done.output),
        output_cut=done.truncated,
        timed_out=done.timed_out,
        cancelled=done.cancelled,
        seconds=done.duration_s,
    )


def describe(
    done: capture.Captured,
    *,
    max_output: int,
    timeout: float | None,
    cancelled: Cancellation | None = None,
) -> str:
    """The turn's output: what the command printed (trailing newlines dropped, as `$(...)`
    does), and a note when it was cut, timed out or cancelled (saying why: `cancelled`
    is the turn's flag, which knows whether its phase timed out or the run stopped)."""
    notes = []
    if done.truncated:
        notes.append(f"[output cut: only the last {max_output} characters are kept]")
    text = done.output.rstrip("\n")
    if done.timed_out:
        text += f"\n[killed: no exit within the {timeout:g}s timeout]"
    elif done.cancelled:
        text += f"\n[killed: {cancel_reason(cancelled)}]"
    return "\n".join([*notes, text]) if notes else text


def cancel_reason(cancelled: Cancellation | None) -> str:
    """Why a turn's cancel flag was set: the engine's flag carries a `reason` (a phase
    timeout says "timed out after 5s"); a plain Event only says that it was."""
    reason = getattr(cancelled, "reason", "") if cancelled is not None else ""
    return reason if isinstance(reason, str) and reason else "the run was cancelled"


def _shell_agent(config: ShellConfig, ctx: AgentContext) -> ShellAgent:
    return ShellAgent(config, ctx, done_on_success=False)


def _check_agent(config: ShellConfig, ctx: AgentContext) -> ShellAgent:
    return ShellAgent(config, ctx, done_on_success=True)


TYPES = [
    TypeSpec(
        kind="agent",
        name="shell",
        config=ShellConfig,
        factory=_shell_agent,
        doc="Runs a command each turn; success is its exit code (or a stdout regex).",
    ),
    TypeSpec(
        kind="agent",
        name="check",
        config=ShellConfig,
        factory=_check_agent,
        doc="A shell command whose success ends the phase: the verify half of act-then-check.",
    ),
]
