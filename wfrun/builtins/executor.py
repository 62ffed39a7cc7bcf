"""`executor`: asks a model for the next command, runs it, feeds back what it printed.

The loop of the harness wfrun descends from. Each turn: system prompt + task + the
history of (reply, observation) go to the model; the first ```sh block of the reply runs
with /bin/sh in the target, and its exit code and output become the next observation.
Prose is never run: a reply without a command block is answered "no command found",
with the expected format. Only the model's explicit done signal (the stop token outside
any code block, in a reply without a command) ends the phase with success; running out
of turns without it is a failure, unless `success_on_exhaustion` says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from wfrun.builtins import capture, sandbox
from wfrun.builtins.chat import ChatModel, Message
from wfrun.builtins.config import Config
from wfrun.builtins.container import Container
from wfrun.builtins.errors import AgentSetupError
from wfrun.builtins.memory import Memory
from wfrun.builtins.process import Process
from wfrun.builtins.shell import add_command, describe, previous_text
from wfrun.builtins.workspace import Workspace
from wfrun.engine import procs
from wfrun.engine.api import AgentContext, LiveResource, TurnContext, TurnResult
from wfrun.registry import TypeSpec

DEFAULT_SYSTEM = (
    "You are an agent that completes a task by running shell commands. Reply with exactly "
    "one command in a ```sh code block; it runs with /bin/sh in the working directory and "
    "you will be shown its exit code and output. Take one small step at a time. When the "
    "task is complete, reply with {stop_token} outside any code block, and no command."
)
_BLOCK = re.compile(r"```[ \t]*(?:sh|bash|shell|console)?[ \t]*\n(.*?)```", re.DOTALL)


class ExecutorConfig(Config):
    """The agent loop: task + history -> model -> command -> observation."""

    task: str = Field(min_length=1, description="what the model is asked to do")
    model: str | None = Field(None, description="model resource (default: the first it has)")
    target: str | None = Field(
        None, description="workspace, process or container to run commands in (default: first)"
    )
    in_: str | None = Field(
        None,
        alias="in",
        description="a container resource the commands run in (docker exec): a sandbox",
    )
    memory: str | None = Field(
        None, description="memory resource that keeps the history (default: the first it has)"
    )
    stop_token: str = Field("DONE", min_length=1, description="the model says this when done")
    system: str | None = Field(
        None, description="system prompt; {stop_token} is filled in (a sensible default if unset)"
    )
    command_timeout: float = Field(60.0, gt=0, description="seconds per command")
    max_output: int = Field(8_000, gt=0, description="characters of each observation kept")
    success_on_exhaustion: bool = Field(
        False,
        description=(
            "when the phase's max_iterations run out before the model says stop_token, "
            "let the last command's exit code decide (default: the phase fails)"
        ),
    )


class Executor:
    """One model-driven agent; its history lives in a memory resource when it has one."""

    def __init__(self, config: ExecutorConfig, ctx: AgentContext) -> None:
        self.config = config
        self.ctx = ctx
        self.model = _model(config, ctx)
        self.target = _pick(config.target, ctx, (Workspace, Container, Process), "target")
        if config.in_ is not None:
            self.target = sandbox.sandbox_of(config.in_, ctx)
        memory = _pick(config.memory, ctx, (Memory,), "memory")
        self.memory = memory if isinstance(memory, Memory) else None
        self.key = f"executor/{ctx.name}/history"
        self._history: list[dict[str, Any]] = []
        self._input: str | None = None  # `previous` at this agent's first turn in the phase
        self._stop = re.compile(rf"(?<!\w){re.escape(config.stop_token)}(?!\w)")

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every (reply, command, observation) so far, oldest first."""
        if self.memory is not None:
            return list(self.memory.get(self.key, []))
        return list(self._history)

    def act(self, ctx: TurnContext) -> TurnResult:
        if self._input is None:
            # Later turns' `previous` is this loop's own last output, already in the history.
            self._input = previous_text(ctx.previous)
        messages = self.messages()
        reply = self.model.chat(messages)
        usage = reply.usage_event()
        text = reply.text.strip()
        stop = self.config.stop_token
        says_done = bool(self._stop.search(_BLOCK.sub("", text)))
        command = extract_command(text)
        action = "command" if command else ("done" if says_done else "none")
        ctx.transcript(
            "model_call",
            messages=[dict(m) for m in messages],
            reply=reply.text,
            action={"kind": action, "command": command},
            tokens_in=usage["prompt_tokens"],
            tokens_out=usage["completion_tokens"],
            latency_s=usage["latency_s"],
            retries=0,  # the client does not retry: a failed call fails the turn
            **({"cost": usage["cost"]} if "cost" in usage else {}),
        )
        if command is None and says_done:
            self._remember({"reply": text, "command": None, "observation": None})
            return TurnResult(output=text, done=True, success=True, usage=usage)
        if command is None:
            observation = (
                "No command found in your reply, so nothing was run. Reply with exactly one "
                "command in a ```sh code block, for example:\n```sh\nls -la\n```\n"
                f"or with {stop} alone, outside any code block, when the task is complete."
            )
            self._remember({"reply": text, "command": None, "observation": observation})
            shown = f"{text}\n[no command found in the reply: nothing was run]".lstrip("\n")
            return self._result(shown, ctx, success=False, usage=usage)
        done = self._run(command, ctx)
        add_command(ctx, ["/bin/sh", "-c", command], self._where(ctx), done)
        body = describe(
            done,
            max_output=self.config.max_output,
            timeout=self.config.command_timeout,
            cancelled=ctx.cancelled,
        )
        code = "none (killed)" if done.exit_code is None else str(done.exit_code)
        observation = f"exit code: {code}\n{body}".rstrip("\n")
        if says_done:  # "run this, then I'm done": the command runs, the claim waits for it
            observation += (
                f"\n[{stop} is only taken in a reply without a command: "
                f"reply {stop} alone if the task is now complete]"
            )
        self._remember({"reply": text, "command": command, "observation": observation})
        return self._result(
            f"$ {command}\n{observation}", ctx, success=done.exit_code == 0, usage=usage
        )

    def _result(
        self, output: str, ctx: TurnContext, *, success: bool, usage: dict[str, Any]
    ) -> TurnResult:
        """A turn that is not the done signal. On the phase's last turn it is a failure
        (the model never said it was done) unless `success_on_exhaustion` is set."""
        if ctx.iteration >= ctx.max_iterations and not self.config.success_on_exhaustion:
            note = (
                f"[max_iterations ({ctx.max_iterations}) ran out before the model said "
                f"{self.config.stop_token}: not a success]"
            )
            return TurnResult(output=f"{output}\n{note}", success=False, usage=usage)
        return TurnResult(output=output, success=success, usage=usage)

    def messages(self) -> list[Message]:
        """What the model sees next: system prompt, task (+ the phase's input), history."""
        system = (self.config.system or DEFAULT_SYSTEM).replace(
            "{stop_token}", self.config.stop_token
        )
        task = f"Task: {self.config.task}"
        if self._input:
            task += f"\n\nOutput of the previous phase:\n{self._input}"
        messages: list[Message] = [
            {"role": "system", "content": system},
            {"role": "user", "content": task},
        ]
        for step in self.history:
            messages.append({"role": "assistant", "content": step["reply"]})
            if step.get("observation"):
                messages.append({"role": "user", "content": step["observation"]})
        return messages

    def _run(self, command: str, ctx: TurnContext) -> capture.Captured:
        argv, cwd = ["/bin/sh", "-c", command], self.ctx.base_dir
        env = {**self.ctx.environ, procs.RUN_ENV: str(Path(ctx.run_dir).resolve())}
        if isinstance(self.target, Container):
            return sandbox.run(
                self.target,
                command,
                env=env,
                timeout=self.config.command_timeout,
                cancelled=ctx.cancelled,
                max_output=self.config.max_output,
            )
        if isinstance(self.target, Process):
            cwd = self.target.cwd
        elif self.target is not None:
            cwd = _path_of(self.target, ctx.attributes, self.ctx)
        live = capture.LiveLines(ctx.log)  # lines stream to the board and events.jsonl
        done = capture.run(
            argv,
            cwd=cwd,
            env=env,
            timeout=self.config.command_timeout,
            cancelled=ctx.cancelled,
            max_output=self.config.max_output,
            on_output=live.feed,
        )
        live.close()
        return done

    def _where(self, ctx: TurnContext) -> str:
        if isinstance(self.target, Container):
            return f"container {self.target.ctx.name}"
        if isinstance(self.target, Process):
            return str(self.target.cwd)
        if self.target is not None:
            return str(_path_of(self.target, ctx.attributes, self.ctx))
        return str(self.ctx.base_dir)

    def _remember(self, step: dict[str, Any]) -> None:
        if self.memory is not None:
            self.memory.append(self.key, step)
        else:
            self._history.append(step)


def extract_command(reply: str) -> str | None:
    """The first ```sh (or bare ```) block's command; None without one. Prose is never
    a command: a line of it run in a shell does whatever its words happen to mean."""
    block = _BLOCK.search(reply)
    if block is not None:
        return block.group(1).strip() or None
    return None


def _model(config: ExecutorConfig, ctx: AgentContext) -> ChatModel:
    found = _pick(config.model, ctx, (ChatModel,), "model")
    if found is None:
        msg = f"executor {ctx.name!r} needs a model resource: add one to its requires:"
        raise AgentSetupError(msg)
    if not isinstance(found, ChatModel):
        msg = f"executor {ctx.name!r}: resource {config.model!r} is not a model (it has no chat())"
        raise AgentSetupError(msg)
    return found


def _pick(
    name: str | None, ctx: AgentContext, kinds: Sequence[type], role: str
) -> LiveResource | None:
    """The named resource, else the first of ctx.resources that is one of `kinds`."""
    if name is not None:
        if name not in ctx.resources:
            msg = (
                f"executor {ctx.name!r}: {role} {name!r} is not among its resources "
                f"({', '.join(ctx.resources) or 'none'}); add it to requires: or optional:"
            )
            raise AgentSetupError(msg)
        return ctx.resources[name]
    for live in ctx.resources.values():
        if isinstance(live, tuple(kinds)):
            return live
    return None


def _path_of(
    target: LiveResource, attributes: Mapping[str, Mapping[str, Any]], ctx: AgentContext
) -> Path:
    for name, live in ctx.resources.items():
        if live is target and attributes.get(name, {}).get("path"):
            return Path(attributes[name]["path"])
    if isinstance(target, Workspace) and target.path is not None:
        return target.path
    return ctx.base_dir


TYPES = [
    TypeSpec(
        kind="agent",
        name="executor",
        config=ExecutorConfig,
        factory=Executor,
        doc="Model-driven loop: asks a model for a command, runs it, feeds the output back.",
    )
]
