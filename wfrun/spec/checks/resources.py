"""`resources:` and `agents:` entries: their types and the resources they name."""

from __future__ import annotations

from collections.abc import Mapping

from wfrun.errors import brief
from wfrun.spec.checks.context import Context
from wfrun.spec.checks.typed import typed
from wfrun.spec.document import AgentDoc, ResourceDoc
from wfrun.spec.locate import suggest


def check_resources(ctx: Context, resources: Mapping[str, ResourceDoc]) -> None:
    """Each resource's type and `with:`; its `needs` name other declared resources."""
    for name, resource in resources.items():
        if ctx.full:
            return
        typed(ctx, "resource", "resources", name, resource)
        for i, need in enumerate(resource.needs):
            path = ("resources", name, "needs", i)
            if need == name:
                ctx.add(ctx.source.at(path), f"resource {brief(name)} needs itself")
            else:
                ctx.known(path, need, "resources", "resource", f"resource {brief(name)}")


def check_agents(ctx: Context, agents: Mapping[str, AgentDoc]) -> None:
    """Each agent's type and `with:`; `requires` must be configured, `optional` may not be."""
    configured = ctx.names["resources"]
    for name, agent in agents.items():
        if ctx.full:
            return
        typed(ctx, "agent", "agents", name, agent)
        for i, wanted in enumerate(agent.requires):
            if wanted not in ctx.declared["resources"]:
                path = ("agents", name, "requires", i)
                hint = suggest(wanted, configured) or (
                    "configure it under `resources:`, or move it to `optional:`"
                )
                message = (
                    f"agent {brief(name)} requires resource {brief(wanted)}, "
                    "which is not configured"
                )
                ctx.add(ctx.source.at(path), message, hint)
        for i, wanted in enumerate(agent.optional):
            if wanted in ctx.declared["resources"]:
                continue
            close = suggest(wanted, configured)
            if close:
                message = f"optional resource {brief(wanted)} is not configured, so it is unused"
                where = ctx.source.at(("agents", name, "optional", i))
                ctx.add(where, message, close, severity="warning")
