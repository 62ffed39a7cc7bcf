"""Planning: the phase order and one lifetime interval per resource.

Points are the phases in order (sequential: as listed; graph: stable topological order,
the static view of a run whose real releases the `Ledger` drives). Resource r is
acquired just before the first point that may use it and released just after the last.
Each phase's resource set is closed over `needs`, so a needed resource is used wherever
its dependents are and its interval covers theirs; within one point, start order
(topological by `needs`, then declaration) starts what is needed first, and stop order
(its reverse) stops it last.

Spawns, conservatively. A phase that `may_spawn` templates (directly, or through
templates that spawn others) *holds* their resources as well as its own:

- sequential: a spawned phase runs right after its spawner, before the next listed
  phase, so the template's resources count as used at the spawner's point;
- graph: a spawned phase depends only on its spawner and nothing waits for it, so it
  may still run when the last planned phase ends; the template's resources are held
  from the spawner's point to the last point.

At run time the `Ledger` is tighter: it lets go of them once the spawner and what it
spawned are done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from itertools import accumulate, chain, compress, count
from operator import attrgetter

from wfrun.planner.model import Columns, Lifetime, Plan, TemplatePlan
from wfrun.planner.sets import ResourceIndex, phase_order
from wfrun.spec.model import Phase, Workflow


class _Spawns:
    """Templates reachable through `may_spawn`, and the resources they could use."""

    def __init__(self, workflow: Workflow, index: ResourceIndex) -> None:
        self.templates = workflow.templates
        self.sets = {name: index.resource_set(t) for name, t in self.templates.items()}
        self._memo: dict[tuple[str, ...], tuple[tuple[str, ...], frozenset[str]]] = {}
        self._declared = {name: i for i, name in enumerate(self.templates)}

    def of(self, may_spawn: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str]]:
        """(templates reachable from `may_spawn`, the union of their resource sets)."""
        found = self._memo.get(may_spawn)
        if found is None:
            seen = set(may_spawn)
            stack = list(may_spawn)
            while stack:
                for name in self.templates[stack.pop()].may_spawn:
                    if name not in seen:
                        seen.add(name)
                        stack.append(name)
            reach = tuple(sorted(seen, key=self._declared.__getitem__))
            union = frozenset().union(*(self.sets[name] for name in reach))
            found = self._memo[may_spawn] = (reach, union)
        return found


def plan_workflow(workflow: Workflow) -> Plan:
    """Plan `workflow`: O(P log P + sum of resource-set sizes), no I/O, deterministic.

    The loader guarantees every name resolves and no `needs` cycle exists. The loop over
    phases is the hot path (10^5 phases in well under a second): plain dicts and lists,
    no per-phase objects or sorting, no per-resource use lists (`Plan.uses` builds those
    on demand, for display).
    """
    index = ResourceIndex(workflow)
    order = phase_order(workflow)
    points = len(order)
    listed = list(map(workflow.phases.__getitem__, order))
    sets = list(map(index.closed, listed))
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, own in enumerate(sets):
        for r in own:
            if r not in first:
                first[r] = i
            last[r] = i

    spawns = _Spawns(workflow, index)
    holds = sets.copy()
    reaches: list[tuple[str, ...]] = [()] * points
    spawn_uses: defaultdict[str, list[int]] = defaultdict(list)
    spawned_by: defaultdict[str, list[str]] = defaultdict(list)
    for i in compress(count(), map(attrgetter("may_spawn"), listed)):
        reach, union = spawns.of(listed[i].may_spawn)
        reaches[i] = reach
        for template in reach:
            spawned_by[template].append(order[i])
        for r in union:  # all of it, even what the phase uses itself: see the rule above
            spawn_uses[r].append(i)
        extra = union.difference(sets[i])
        if extra:
            holds[i] = sets[i] + tuple(extra)
    for r, spawners in spawn_uses.items():
        # sequential: used at the spawner's point; graph: held to the end of the run
        first[r] = min(first.get(r, points), spawners[0])
        end = points - 1 if workflow.execution == "graph" else spawners[-1]
        last[r] = max(last.get(r, -1), end)

    acquired = index.ordered(first)
    starts: list[tuple[str, ...]] = [()] * points
    stops: list[tuple[str, ...]] = [()] * points
    delta = [0] * (points + 1)
    for point, group in _group(acquired, first).items():
        starts[point] = group
        delta[point] += len(group)
    for point, group in _group(acquired[::-1], last).items():
        stops[point] = group
        delta[point + 1] -= len(group)
    live = tuple(accumulate(delta[:points]))

    rank = index.rank
    return Plan(
        workflow=workflow.name,
        execution=workflow.execution,
        order=order,
        resources=_lifetimes(
            workflow, index, listed, acquired, first, last, spawns, spawn_uses, spawned_by
        ),
        unused=tuple(r for r in index.start if r not in first),
        templates=_templates(workflow, index, spawns, spawned_by),
        start_order=acquired,
        stop_order=acquired[::-1],
        rank=rank,
        declared=len(rank),
        peak=max(live, default=0),
        lower_bound=_largest(sets),
        units_held=sum(last[r] - first[r] + 1 for r in acquired),
        units_whole_run=len(rank) * points,
        columns=Columns(
            needs=tuple(map(attrgetter("needs"), listed)),
            sets=tuple(sets),
            holds=tuple(holds),
            spawns=tuple(reaches),
            starts=tuple(starts),
            stops=tuple(stops),
            live=live,
        ),
    )


def _largest(sets: Iterable[tuple[str, ...]]) -> int:
    """The largest set's size. Sets may repeat names; a length bounds the size, so most
    never need deduplicating."""
    best = 0
    for own in sets:
        if len(own) > best:
            best = max(best, len(set(own)))
    return best


def _group(names: Iterable[str], point: Mapping[str, int]) -> dict[int, tuple[str, ...]]:
    """Names grouped by point, each group keeping the order of `names`."""
    groups: defaultdict[int, list[str]] = defaultdict(list)
    for name in names:
        groups[point[name]].append(name)
    return {p: tuple(group) for p, group in groups.items()}


def _templates(
    workflow: Workflow,
    index: ResourceIndex,
    spawns: _Spawns,
    spawned_by: Mapping[str, list[str]],
) -> dict[str, TemplatePlan]:
    """One `TemplatePlan` per declared template, spawnable or not (the ledger needs all)."""
    plans: dict[str, TemplatePlan] = {}
    for name, template in workflow.templates.items():
        reach, union = spawns.of(template.may_spawn)
        own = spawns.sets[name]
        plans[name] = TemplatePlan(
            name=name,
            resources=own,
            spawns=reach,
            holds=index.ordered(union.union(own)),
            spawned_by=tuple(spawned_by.get(name, ())),
        )
    return plans


def _lifetimes(
    workflow: Workflow,
    index: ResourceIndex,
    listed: list[Phase],
    acquired: tuple[str, ...],
    first: Mapping[str, int],
    last: Mapping[str, int],
    spawns: _Spawns,
    spawn_uses: Mapping[str, list[int]],
    spawned_by: Mapping[str, list[str]],
) -> dict[str, Lifetime]:
    """One `Lifetime` per acquired resource, in start order."""
    resources = workflow.resources
    needed_by: defaultdict[str, list[str]] = defaultdict(list)
    for r in acquired:
        for needed in resources[r].needs:
            needed_by[needed].append(r)
    spawnable = [t for t in spawns.templates if t in spawned_by]  # declaration order
    by_templates: defaultdict[str, list[str]] = defaultdict(list)
    for name in spawnable:
        for r in spawns.sets[name]:
            by_templates[r].append(name)
    named = (
        _named_directly(index, set(needed_by), listed, [spawns.templates[t] for t in spawnable])
        if needed_by
        else set()
    )
    lifetimes: dict[str, Lifetime] = {}
    for r in acquired:
        resource = resources[r]
        dependents = needed_by.get(r)
        lifetimes[r] = Lifetime(
            name=r,
            type=resource.type,
            acquire=first[r],
            release=last[r],
            spawn_uses=tuple(spawn_uses[r]) if r in spawn_uses else (),
            templates=tuple(by_templates[r]) if r in by_templates else (),
            needs=resource.needs,
            needed_by=tuple(dependents) if dependents else (),
            only_for_needs=bool(dependents) and r not in named,
        )
    return lifetimes


def _named_directly(
    index: ResourceIndex, candidates: set[str], *groups: Iterable[Phase]
) -> set[str]:
    """The `candidates` some phase or template asks for itself, not only through `needs`.

    Intersecting with the candidates (few) rather than collecting every name (10^5 x 5)
    is several times cheaper.
    """
    named: set[str] = set()
    for group in groups:
        phases = list(group)
        named |= candidates.intersection(chain.from_iterable(map(attrgetter("resources"), phases)))
        for agents in set(map(attrgetter("agents"), phases)):
            named |= candidates.intersection(index.agent_part(agents))
    return named
