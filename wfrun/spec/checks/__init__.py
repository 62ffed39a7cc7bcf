"""Semantic checks: what a schema cannot see. Every check appends; none stops the rest.

Names must resolve (with "did you mean"), types must exist and their `with:` must
match the type's config model, `needs` must not form cycles, `if:` must parse and read
only names that will exist, and run-time placeholders must name real things.

    context.py     what the checks share: the file, declared names, problems found
    typed.py       a type's `with:`: config model, paths on disk, the type's own checks
    resources.py   `resources:` and `agents:` entries
    phases.py      `phases:` and `templates:` entries; `needs` cycles
    conditions.py  `if:` expressions
    references.py  `${resources...}` and `${phases...}` placeholders
    unused.py      warnings: what nothing uses
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel

from wfrun.errors import Diagnostic
from wfrun.registry import Registry
from wfrun.spec.checks.conditions import check_conditions
from wfrun.spec.checks.context import Context
from wfrun.spec.checks.phases import check_cycle, check_phases
from wfrun.spec.checks.references import check_references
from wfrun.spec.checks.resources import check_agents, check_resources
from wfrun.spec.checks.unused import check_unused
from wfrun.spec.document import AgentDoc, PhaseDoc, ResourceDoc, TemplateDoc
from wfrun.spec.interpolate import Reference
from wfrun.spec.source import Source


def check(
    source: Source,
    docs: Mapping[str, Mapping[str, BaseModel]],
    *,
    names: Mapping[str, list[str]],
    params: Mapping[str, Any],
    execution: str,
    references: Iterable[Reference],
    registry: Registry,
    base_dir: Path | None = None,
) -> list[Diagnostic]:
    """Every semantic problem in the (structurally checked) sections of a workflow;
    with `base_dir`, also what the types' `with:` name on disk (see `OnDisk`) and what
    the types' own checks find there (`TypeSpec.check`)."""
    ctx = Context(source, names, params, execution, registry, base_dir)
    resources = cast("Mapping[str, ResourceDoc]", docs["resources"])
    agents = cast("Mapping[str, AgentDoc]", docs["agents"])
    phases = cast("Mapping[str, PhaseDoc]", docs["phases"])
    templates = cast("Mapping[str, TemplateDoc]", docs["templates"])
    check_resources(ctx, resources)
    check_agents(ctx, agents)
    check_phases(ctx, phases, "phases")
    check_phases(ctx, templates, "templates")
    check_cycle(ctx, "resources", {name: r.needs for name, r in resources.items()})
    check_cycle(ctx, "phases", {name: p.needs for name, p in phases.items()})
    check_conditions(ctx, phases, templates)
    check_references(ctx, references, resources, agents, phases)
    if all(len(docs[section]) == len(names[section]) for section in docs):
        check_unused(ctx, resources, agents, phases, templates)  # else it would only cascade
    return ctx.found
