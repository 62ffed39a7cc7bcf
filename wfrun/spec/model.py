"""The validated workflow, as frozen dataclasses the planner and engine consume.

Pydantic models (`spec.schema_models`) check the file; these carry the result. They hold
plain data only: the planner must be able to work from them without any live object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wfrun.errors import Position
from wfrun.spec.expr import Node

Execution = Literal["sequential", "graph"]
Expect = Literal["success", "failure"]


@dataclass(frozen=True, kw_only=True)
class Resource:
    """A declared resource: its type, raw `with:` (run-time placeholders kept) and needs."""

    name: str
    type: str
    config: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    pool: str | None = None  # counts against `limits:` of this pool, beside its type
    restart: bool = False  # `restart: allowed`: a sequential plan may split its lifetime


@dataclass(frozen=True, kw_only=True)
class Agent:
    """A declared agent: `requires` must be configured; `optional` is used if it is."""

    name: str
    type: str
    config: Mapping[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Retry:
    """`retry:`: attempts in all, seconds before the second (doubled after), which
    endings (`failed`, `timeout`, `error` statuses) get another attempt."""

    attempts: int = 1
    backoff: float = 0.0
    on: frozenset[str] = frozenset({"failed", "timeout", "error"})


@dataclass(frozen=True, kw_only=True)
class Phase:
    """A phase, or a template of one (then `params` holds its spawn-time defaults)."""

    name: str
    agents: tuple[str, ...]
    resources: tuple[str, ...] = ()
    max_iterations: int = 10
    needs: tuple[str, ...] = ()
    condition: Node | None = None
    condition_text: str = ""
    expect: Expect = "success"
    timeout: float | None = None
    may_spawn: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    retry: Retry | None = None


@dataclass(frozen=True, kw_only=True)
class Workflow:
    """A whole validated workflow. Dicts keep declaration order, which breaks ties."""

    name: str
    file: Path
    version: int = 1
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Resource] = field(default_factory=dict)
    agents: Mapping[str, Agent] = field(default_factory=dict)
    execution: Execution = "sequential"
    phases: Mapping[str, Phase] = field(default_factory=dict)
    templates: Mapping[str, Phase] = field(default_factory=dict)
    plugins: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # environment variable names, never their values
    limits: Mapping[str, int] = field(default_factory=dict)  # type or pool -> most alive at once
    budget: Mapping[str, float] = field(default_factory=dict)  # tokens, cost, seconds
    max_spawns: int | None = None  # spawned phases the run may add at most
    # where capacity problems are reported: "resources.NAME" and "limits.KEY" -> position
    places: Mapping[str, Position] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """Relative paths in `with:` are relative to the workflow file's folder."""
        return self.file.parent
