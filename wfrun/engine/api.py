"""The plugin API: what a resource or agent type implements, and what it is given.

A type is a `TypeSpec` (see `wfrun.registry`) whose `factory` builds a live object from
its validated `with:` model and a context:

    resource factory(config, ResourceContext) -> LiveResource
    agent factory(config, AgentContext) -> Agent

Resources are started and stopped by the engine, exactly once each, when the plan says.
Agents are built when a phase starts (their `with:` may read the phase's resources and
earlier phases' outputs) and take turns through `act`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

Log = Callable[[str], None]
Transcript = Callable[..., None]  # transcript(type, **fields): an entry in the phase's transcript


def no_transcript(kind: str, /, **fields: Any) -> None:
    """The default `TurnContext.transcript` (a plugin's own context): entries go nowhere."""
    del kind, fields


class Cancellation(Protocol):
    """`ctx.cancelled` of a turn: set once its phase is cancelled (a timeout, the run
    stopping). `threading.Event` is one; the engine gives a cheaper one of its own."""

    def is_set(self) -> bool: ...

    # Block until set or `timeout` seconds passed; True if set.
    def wait(self, timeout: float | None = None) -> bool: ...


@runtime_checkable
class LiveResource(Protocol):
    """A started thing: the engine calls `start` once, then `stop` once (even on failure)."""

    # Make it usable (block until ready) and return its `${resources.r.attr}` values.
    # Waits should end early once ctx.cancelled is set (the run is being torn down).
    def start(self) -> Mapping[str, Any]: ...

    # Release everything `start` made; must not raise for a half-started resource, and
    # may be called while `start` is still running in another thread (teardown).
    def stop(self) -> None: ...

    # JSON facts that let `cleanup` undo `start` after a hard kill (pids, paths, ids).
    def journal(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, kw_only=True)
class ResourceContext:
    """What a resource is given besides its config."""

    name: str
    run_dir: Path  # the run record folder; put logs under run_dir / "logs"
    base_dir: Path  # the workflow file's folder: relative paths start here
    environ: Mapping[str, str]
    log: Log = print
    journal_changed: Callable[[], None] = lambda: None  # call when journal() changes
    cancelled: threading.Event = field(default_factory=threading.Event)  # the run is stopping


@dataclass(frozen=True)
class Spawn:
    """A request to add a phase from a template, after the current phase."""

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TurnResult:
    """What one turn produced. `done` ends the phase; `success` is the turn's verdict."""

    output: str = ""
    done: bool = False
    success: bool = True
    spawn: Sequence[Spawn] = ()
    usage: Mapping[str, Any] = field(default_factory=dict)  # e.g. tokens, latency


@dataclass(frozen=True, kw_only=True)
class AgentContext:
    """What an agent is given when its phase starts."""

    name: str
    phase: str
    run_dir: Path
    base_dir: Path
    environ: Mapping[str, str]
    resources: Mapping[str, LiveResource]  # what this agent requires or optionally has
    attributes: Mapping[str, Mapping[str, Any]]  # their `start()` values, by resource


@dataclass(frozen=True, kw_only=True)
class TurnContext:
    """Everything one turn may read. `previous` is the last message before this turn."""

    workflow: str
    phase: str
    agent: str
    iteration: int  # 1-based
    max_iterations: int
    previous: Any
    history: Sequence[TurnResult]  # this phase's turns so far
    resources: Mapping[str, LiveResource]
    attributes: Mapping[str, Mapping[str, Any]]
    params: Mapping[str, Any]
    run_dir: Path
    base_dir: Path
    cancelled: Cancellation
    log: Log
    # Add an entry to the run's transcript.jsonl: ctx.transcript("note", text=...). Masked
    # and cut like the rest of the record; a no-op where no record is kept.
    transcript: Transcript = no_transcript


class Agent(Protocol):
    """Takes turns. Returns a TurnResult, or a string / None for a finished, successful turn."""

    # One turn; should return promptly once ctx.cancelled is set.
    def act(self, ctx: TurnContext) -> TurnResult | str | None: ...


ResourceFactory = Callable[[Any, ResourceContext], LiveResource]
AgentFactory = Callable[[Any, AgentContext], Agent]
Cleanup = Callable[[Mapping[str, Any]], str]  # undoes a journal entry; says what it did


def as_result(value: TurnResult | str | None) -> TurnResult:
    """Normalise what `act` returned: a string (or None) is a finished, successful turn.

    One-shot functions are the common case; return a TurnResult to keep the phase going.
    """
    if isinstance(value, TurnResult):
        return value
    if value is None:
        return TurnResult(done=True)
    if isinstance(value, str):
        return TurnResult(output=value, done=True)
    msg = f"an agent's act() must return TurnResult, str or None, not {type(value).__name__}"
    raise TypeError(msg)
