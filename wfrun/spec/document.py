"""The workflow file's shape, as pydantic models: the single source of truth for keys.

These models check structure only. `with:` stays a plain mapping here because which
model checks it depends on `type`; `spec.checks` validates it against the registry and
`spec.schema` builds the per-type union for editors from the same registry.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wfrun import constants as C

Name = Annotated[str, StringConstraints(pattern=C.NAME_PATTERN, max_length=C.MAX_NAME_CHARS)]
Names = list[Name]
MODULE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ResourceDoc(_Strict):
    """A resource: a typed thing with a lifecycle."""

    type: str = Field(description="resource type, e.g. workspace, process, memory")
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with", description="the type's settings"
    )
    needs: Names = Field(
        default_factory=list, description="resources that must start before this one"
    )
    pool: Name | None = Field(
        None, description="a named pool whose `limits:` entry it counts against (beside its type)"
    )
    restart: Literal["never", "allowed"] = Field(
        "never",
        description="allowed: a sequential plan may stop it between uses and start it again"
        " to keep `limits:`",
    )


class AgentDoc(_Strict):
    """An agent: a typed actor that takes turns in phases."""

    type: str = Field(description="agent type, e.g. shell, python, check, executor")
    requires: Names = Field(default_factory=list, description="resources it cannot work without")
    optional: Names = Field(
        default_factory=list, description="resources it uses only if the workflow has them"
    )
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with", description="the type's settings"
    )


Ending = Literal["failure", "timeout", "error"]


def _every_ending() -> list[Ending]:
    return ["failure", "timeout", "error"]


class RetryDoc(_Strict):
    """`retry:` on a phase: run it again after a failed attempt (issue 19)."""

    attempts: int = Field(2, ge=1, le=100, description="attempts in all (2: one retry)")
    backoff: float = Field(
        0.0, ge=0, le=3600, description="seconds before the second attempt; doubled each time"
    )
    on: list[Ending] = Field(
        default_factory=_every_ending,
        min_length=1,
        description="which endings are retried",
    )


class _PhaseFields(_Strict):
    agents: Names = Field(default_factory=list, description="agents that take turns, in order")
    resources: Names = Field(
        default_factory=list, description="resources held beyond what its agents require"
    )
    max_iterations: int = Field(
        C.DEFAULT_MAX_ITERATIONS, ge=1, description="turns at most before the phase ends"
    )
    if_: str | None = Field(None, alias="if", description="run only when this expression holds")
    expect: Literal["success", "failure"] = Field(
        "success", description="failure inverts the verdict (a verify phase)"
    )
    timeout: float | None = Field(None, gt=0, description="seconds before the phase is cancelled")
    may_spawn: Names = Field(
        default_factory=list, description="templates its agents may add as phases at run time"
    )
    retry: RetryDoc | None = Field(None, description="attempts, backoff and on: which endings")


class PhaseDoc(_PhaseFields):
    """A phase: agents taking turns until one says done."""

    needs: Names = Field(
        default_factory=list, description="phases that must finish first (execution: graph)"
    )


class TemplateDoc(_PhaseFields):
    """A phase template that agents may spawn at run time, with its own params."""

    params: dict[Name, Any] = Field(
        default_factory=dict, description="spawn-time params and their defaults"
    )


class BudgetDoc(_Strict):
    """What a whole run may use; crossing any of them stops it (failed, with teardown)."""

    tokens: int | None = Field(None, ge=1, description="model tokens, input plus output")
    cost: float | None = Field(None, gt=0, description="cost, from the models' price:")
    seconds: float | None = Field(None, gt=0, description="wall-clock seconds of the run")


class WorkflowDoc(_Strict):
    """A wfrun workflow file."""

    version: Literal[1] = Field(description="format version; always 1")
    name: Name | None = Field(None, description="workflow name (default: the file's name)")
    description: str = Field("", description="what the workflow is for")
    params: dict[Name, Any] = Field(
        default_factory=dict, description="defaults, overridden with -p name=value"
    )
    resources: dict[Name, ResourceDoc] = Field(default_factory=dict)
    agents: dict[Name, AgentDoc] = Field(default_factory=dict)
    execution: Literal["sequential", "graph"] = Field(
        "sequential", description="listed order, or a DAG by phase needs"
    )
    phases: dict[Name, PhaseDoc] = Field(min_length=1)
    templates: dict[Name, TemplateDoc] = Field(default_factory=dict)
    limits: dict[Name, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="most resources of a type (or a named pool) alive at once, e.g. {container: 2}",
    )
    plugins: list[Annotated[str, StringConstraints(pattern=MODULE_PATTERN)]] = Field(
        default_factory=list,
        description="Python modules (beside the workflow, or installed) that register types",
    )
    secrets: list[Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]] = Field(
        default_factory=list,
        description="environment variables whose values wfrun shows and records only as ***",
    )
    budget: BudgetDoc | None = Field(
        None, description="stop the run when it crosses {tokens, cost, seconds}"
    )
    max_spawns: int | None = Field(
        None, ge=0, description="stop the run when agents spawn more phases than this"
    )


def known_keys(model: type[BaseModel]) -> list[str]:
    """The keys a user may write for `model`, by their YAML spelling."""
    return [field.alias or name for name, field in model.model_fields.items()]
