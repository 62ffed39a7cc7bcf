"""Run-time placeholders (`${resources.r.a}`, `${phases.p.f}`): where they may be used,
and that they name real things, ready by the time they are read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wfrun.errors import Position, brief
from wfrun.spec.checks.context import Context
from wfrun.spec.document import AgentDoc, PhaseDoc, ResourceDoc
from wfrun.spec.interpolate import Reference
from wfrun.spec.locate import listing, suggest
from wfrun.spec.source import PathKey
from wfrun.status import PHASE_FIELDS


def check_references(
    ctx: Context,
    refs: Iterable[Reference],
    resources: Mapping[str, ResourceDoc],
    agents: Mapping[str, AgentDoc],
    phases: Mapping[str, PhaseDoc],
) -> None:
    """Each run-time placeholder the interpolator collected."""
    for ref in refs:
        if ctx.full:
            return
        where = ctx.source.within(ref.path, ref.offset)
        section, owner = ref.path[0], ref.path[1] if len(ref.path) > 1 else ""
        in_with = len(ref.path) > 2 and ref.path[2] == "with"
        if not in_with or section not in ("resources", "agents"):
            message = f"{ref.text} can only be used inside a resource's or agent's `with:`"
            ctx.add(where, message, "it is resolved when the resource or agent starts")
            continue
        if ref.namespace == "phases":
            if _phase_reference(ctx, where, ref, section):
                _read_before(ctx, where, ref, str(owner), phases)
            continue
        _resource_reference(ctx, where, ref, str(section), str(owner), resources, agents)


def _phase_reference(ctx: Context, where: Position, ref: Reference, section: PathKey | str) -> bool:
    """True if `ref` names a field of a declared phase, from an agent's `with:`."""
    if section == "resources":
        message = f"{ref.text}: resources start before phases finish"
        ctx.add(where, message, "read phase outputs from an agent's `with:`")
        return False
    if len(ref.parts) != 2 or ref.parts[1] not in PHASE_FIELDS:
        ctx.add(where, f"{ref.text} is not a phase field", f"fields: {', '.join(PHASE_FIELDS)}")
        return False
    if ref.parts[0] not in ctx.declared["phases"]:
        hint = suggest(ref.parts[0], ctx.names["phases"]) or _declared("phases", ctx.names)
        ctx.add(where, f"{ref.text} names unknown phase {brief(ref.parts[0])}", hint)
        return False
    return True


def _read_before(
    ctx: Context, where: Position, ref: Reference, agent: str, phases: Mapping[str, PhaseDoc]
) -> None:
    """An agent's `with:` is rendered in every phase that uses it: each of those must
    run after the phase it reads, by the same rule as `if:`."""
    other = ref.parts[0]
    for phase, doc in phases.items():
        if agent not in doc.agents or ctx.full:
            continue
        use = f"phase {brief(phase)} uses agent {brief(agent)}, whose {ref.text}"
        if ctx.execution == "sequential" and ctx.order[other] >= ctx.order[phase]:
            message = f"{use} reads phase {brief(other)}, which runs after it"
            hint = f"a phase can only read phases listed before it; move {brief(other)} up"
            ctx.add(where, message, hint)
        elif ctx.execution == "graph" and not ctx.needs("phases", phases).of(phase, other):
            message = f"{use} reads phase {brief(other)}, which {brief(phase)} does not need"
            hint = f"add {brief(other)} to the `needs` of {brief(phase)}, so it has finished"
            ctx.add(where, message, hint)


def _resource_reference(
    ctx: Context,
    where: Position,
    ref: Reference,
    section: str,
    owner: str,
    resources: Mapping[str, ResourceDoc],
    agents: Mapping[str, AgentDoc],
) -> None:
    target = ref.parts[0]
    if target not in ctx.declared["resources"]:
        hint = suggest(target, ctx.names["resources"]) or _declared("resources", ctx.names)
        ctx.add(where, f"{ref.text} names unknown resource {brief(target)}", hint)
        return
    if len(ref.parts) != 2:
        ctx.add(where, f"{ref.text}: write ${{resources.NAME.ATTRIBUTE}}")
        return
    resource = resources.get(target)
    spec = ctx.registry.get("resource", resource.type) if resource else None
    if spec is not None and ref.parts[1] not in spec.attributes:
        attrs = ", ".join(spec.attributes) or "none"
        hint = suggest(ref.parts[1], spec.attributes) or f"{spec.name} attributes: {attrs}"
        message = f"{ref.text}: a {spec.name} resource has no attribute {brief(ref.parts[1])}"
        ctx.add(where, message, hint)
        return
    if (
        section == "resources"
        and target != owner
        and not ctx.needs("resources", resources).of(owner, target)
    ):
        message = f"resource {brief(owner)} uses {ref.text} but does not need {brief(target)}"
        ctx.add(where, message, f"add {brief(target)} to its `needs`, so it starts first")
    elif section == "agents" and owner in agents:
        agent = agents[owner]
        if target not in (*agent.requires, *agent.optional):
            message = f"agent {brief(owner)} uses {ref.text} but does not require {brief(target)}"
            ctx.add(where, message, f"add {brief(target)} to its `requires`")


def _declared(section: str, names: Mapping[str, list[str]]) -> str:
    return f"declared {section}: {listing(names[section]) or 'none'}"
