"""Warnings: resources no phase uses, agents that take part in no phase."""

from __future__ import annotations

from collections.abc import Mapping

from wfrun.errors import brief
from wfrun.spec.checks.context import Context
from wfrun.spec.document import AgentDoc, PhaseDoc, ResourceDoc, TemplateDoc


def check_unused(
    ctx: Context,
    resources: Mapping[str, ResourceDoc],
    agents: Mapping[str, AgentDoc],
    phases: Mapping[str, PhaseDoc],
    templates: Mapping[str, TemplateDoc],
) -> None:
    """Resources and agents that nothing uses (warnings)."""
    steps = [*phases.values(), *templates.values()]
    used_agents = {name for step in steps for name in step.agents}
    used = {name for step in steps for name in step.resources}
    for name in used_agents:
        if name in agents:
            used.update(agents[name].requires, agents[name].optional)
    used.update(need for r in resources.values() for need in r.needs)
    for name in resources:
        if name not in used:
            where = ctx.source.at(("resources", name), key=True)
            message = f"resource {brief(name)} is used by no phase, so it never starts"
            ctx.add(where, message, "remove it, or use it from a phase", "warning")
    for name in agents:
        if name not in used_agents:
            where = ctx.source.at(("agents", name), key=True)
            ctx.add(where, f"agent {brief(name)} takes part in no phase", "", "warning")
