"""`phases:` and `templates:` entries: the names they use, and `needs` (no cycles)."""

from __future__ import annotations

from collections.abc import Mapping

from wfrun.errors import brief
from wfrun.spec.checks.context import Context
from wfrun.spec.document import PhaseDoc, TemplateDoc
from wfrun.spec.graphs import find_cycle


def check_phases(
    ctx: Context, phases: Mapping[str, PhaseDoc] | Mapping[str, TemplateDoc], section: str
) -> None:
    """Each entry names declared agents, resources and templates; `needs` only in a graph."""
    noun = "phase" if section == "phases" else "template"
    for name, phase in phases.items():
        if ctx.full:
            return
        owner = f"{noun} {brief(name)}"
        if not phase.agents:
            where = ctx.source.at((section, name), key=True)
            hint = "list the agents that take turns in it: `agents: [name]`"
            ctx.add(where, f"{owner} has no agents", hint)
        for i, agent in enumerate(phase.agents):
            ctx.known((section, name, "agents", i), agent, "agents", "agent", owner)
        for i, resource in enumerate(phase.resources):
            path = (section, name, "resources", i)
            ctx.known(path, resource, "resources", "resource", owner)
        for i, template in enumerate(phase.may_spawn):
            path = (section, name, "may_spawn", i)
            ctx.known(path, template, "templates", "template", owner)
        needs = phase.needs if isinstance(phase, PhaseDoc) else []
        if needs and ctx.execution != "graph":
            where = ctx.source.at((section, name, "needs"), key=True)
            message = f"{owner} has `needs`, but phases run in listed order"
            hint = "add `execution: graph` at the top level, or remove `needs`"
            ctx.add(where, message, hint)
            continue
        for i, need in enumerate(needs):
            path = (section, name, "needs", i)
            if need == name:
                ctx.add(ctx.source.at(path), f"{owner} needs itself")
            else:
                ctx.known(path, need, "phases", "phase", owner)


def check_cycle(ctx: Context, section: str, needs: Mapping[str, list[str]]) -> None:
    """Report one cycle as `a -> b -> a`, placed at the `needs:` entry that closes it."""
    ring = find_cycle(needs)
    if ring is None:
        return
    first, second = ring[0], ring[1]
    where = ctx.source.at((section, first, "needs", needs[first].index(second)))
    noun = "resource" if section == "resources" else "phase"
    message = f"{noun} needs form a cycle: {_ring(ring)}"
    ctx.add(where, message, "remove one of these needs")


def _ring(names: list[str]) -> str:
    """`a -> b -> a`; a cycle through 5,000 phases shows its start and its length."""
    if len(names) <= 8:
        return " -> ".join(names)
    return f"{' -> '.join(names[:4])} -> … -> {names[-1]} ({len(names) - 1:,} in the cycle)"
