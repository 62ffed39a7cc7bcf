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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from itertools import accumulate, compress, count, filterfalse, groupby, repeat
from operator import add, attrgetter, sub
from typing import TypeVar

from wfrun.planner.model import Columns, Lifetime, Names, Plan, TemplatePlan
from wfrun.planner.sets import ResourceIndex, phase_points
from wfrun.spec.model import Phase, Workflow

_T = TypeVar("_T")
_MAY_SPAWN = attrgetter("may_spawn")
_LIFETIME = partial(tuple.__new__, Lifetime)  # `Lifetime._make` less a Python-level call


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

    The loader guarantees every name resolves and no `needs` cycle exists. The passes
    over phases are the hot path (10^5 phases in well under a second): C-level maps where
    they can be, one plain loop (first and last uses) where they cannot, shared tuples
    rather than new ones (see `Columns`), no per-phase sorting, no per-resource use
    lists (`Plan.uses` builds those on demand, for display).
    """
    index = ResourceIndex(workflow)
    order, listed, needs = phase_points(workflow)
    points = len(order)
    named, closure = index.phase_sets(listed)
    first, last = _first_last(named)
    unnamed = index.needed.difference(first)  # needed, but no listed phase names them
    _cover_needs(index, first, last)
    spawning = _Spawning(workflow, index, order, listed, named, closure)
    spawning.stretch(first, last)
    acquired = tuple(filter(first.__contains__, index.start))
    stop_order = acquired[::-1]
    starts, stops, live = _starts_stops(points, acquired, stop_order, first, last)
    lifetimes = _lifetimes(workflow, index, spawning, unnamed, acquired, first, last)
    lower_bound = _largest(named, closure)
    return Plan(
        workflow=workflow.name,
        execution=workflow.execution,
        order=order,
        resources=lifetimes,
        unused=tuple(filterfalse(first.__contains__, index.start)),
        templates=_templates(workflow, index, spawning),
        start_order=acquired,
        stop_order=stop_order,
        rank=index.rank,
        resource_needs=index.needs,
        declared=len(index.rank),
        peak=max(live, default=0),
        lower_bound=lower_bound,
        units_held=sum(map(sub, map(last.__getitem__, acquired), map(first.__getitem__, acquired)))
        + len(acquired),
        units_whole_run=len(index.rank) * points,
        columns=Columns(
            needs=needs,
            named=named,
            closure=closure,
            spawned=tuple(spawning.spawned) if spawning.spawned else ((),) * points,
            spawns=tuple(spawning.reaches) if spawning.reaches else ((),) * points,
            starts=starts,
            stops=stops,
            live=live,
        ),
    )


def _first_last(sets: Iterable[tuple[str, ...]]) -> tuple[dict[str, int], dict[str, int]]:
    """The first and last point whose set holds each name: one pass, the floor's loop."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, own in enumerate(sets):
        for r in own:
            if r not in first:
                first[r] = i
            last[r] = i
    return first, last


def _cover_needs(index: ResourceIndex, first: dict[str, int], last: dict[str, int]) -> None:
    """Stretch the intervals of what phases name over everything they need.

    A closed set holds r exactly when its phase names r or something that needs r, so
    r's closed interval spans its named one and those of its dependents. Walking start
    order backwards settles every dependent before what it needs: O(R + needs edges),
    instead of a pass over each phase's whole closed set.
    """
    for r in reversed(index.start):
        needs = index.needs[r]
        if needs and r in first:
            begin = first[r]
            end = last[r]
            for needed in needs:
                if first.get(needed, begin) >= begin:
                    first[needed] = begin
                if last.get(needed, end) <= end:
                    last[needed] = end


class _Spawning:
    """What the listed phases may spawn: their holds, and the spawn rule's uses.

    Few phases spawn, so everything here is O(spawners x what they may spawn), after
    one C-level pass to find the spawners.
    """

    def __init__(
        self,
        workflow: Workflow,
        index: ResourceIndex,
        order: tuple[str, ...],
        listed: Iterable[Phase],
        named: tuple[Names, ...],
        closure: tuple[Names, ...],
    ) -> None:
        self.spawns = spawns = _Spawns(workflow, index)
        self.graph = workflow.execution == "graph"
        self.points = len(order)
        self.reaches: list[Names] = []  # per point, once some phase spawns
        self.spawned: list[Names] = []  # per point, once some phase spawns
        self.uses: defaultdict[str, list[int]] = defaultdict(list)  # resource -> spawners
        self.spawned_by: defaultdict[str, list[str]] = defaultdict(list)
        # `may_spawn` names declared templates (the loader checks): none, no spawners
        spawners = compress(count(), map(_MAY_SPAWN, listed)) if spawns.templates else ()
        for i in spawners:
            if not self.reaches:
                self.spawned = [()] * self.points
                self.reaches = [()] * self.points
            reach, union = spawns.of(workflow.phases[order[i]].may_spawn)
            self.reaches[i] = reach
            for template in reach:
                self.spawned_by[template].append(order[i])
            for r in union:  # all of it, even what the phase uses itself: see the rule above
                self.uses[r].append(i)
            self.spawned[i] = tuple(union.difference(named[i], closure[i]))

    def stretch(self, first: dict[str, int], last: dict[str, int]) -> None:
        """Count spawnable resources as used (see the rule in the module docstring)."""
        for r, spawners in self.uses.items():
            # sequential: used at the spawner's point; graph: held to the end of the run
            first[r] = min(first.get(r, self.points), spawners[0])
            end = self.points - 1 if self.graph else spawners[-1]
            last[r] = max(last.get(r, -1), end)


def _starts_stops(
    points: int,
    start_order: Names,
    stop_order: Names,
    first: Mapping[str, int],
    last: Mapping[str, int],
) -> tuple[tuple[Names, ...], tuple[Names, ...], tuple[int, ...]]:
    """Per point: what starts before it (start order), what stops after it (stop order),
    and how many resources are live during it.

    A stable sort by point keeps start (stop) order within a point; grouping then costs
    one Python step per point that has any, and one tuple each.
    """
    delta = [0] * (points + 1)  # live(i) - live(i - 1)
    starts: list[Names] = [()] * points
    for at, group in groupby(sorted(start_order, key=first.__getitem__), first.__getitem__):
        starts[at] = names = tuple(group)
        delta[at] += len(names)
    stops: list[Names] = [()] * points
    for at, group in groupby(sorted(stop_order, key=last.__getitem__), last.__getitem__):
        stops[at] = names = tuple(group)
        delta[at + 1] -= len(names)
    return tuple(starts), tuple(stops), tuple(accumulate(delta[:points]))


def _largest(named: Sequence[Names], closure: Sequence[Names]) -> int:
    """The largest resource set's size, without deduplicating every set.

    Sets may repeat names, so a length only bounds a size. The longest sets usually
    repeat none, and C-level scans of the lengths find them; otherwise, going down the
    lengths, only sets longer than the best size so far are deduplicated.
    """
    lengths = list(map(add, map(len, named), map(len, closure)))
    best = 0
    for length in range(max(lengths, default=0), 0, -1):
        if length <= best:
            break
        for i in _positions(lengths, length):
            best = max(best, len(set(named[i]).union(closure[i])))
            if best == length:
                break
    return best


def _positions(values: list[int], value: int) -> Iterator[int]:
    """The indices of `value` in `values`, found by C-level scans."""
    i = -1
    for _ in range(values.count(value)):
        i = values.index(value, i + 1)
        yield i


def _templates(
    workflow: Workflow, index: ResourceIndex, spawning: _Spawning
) -> dict[str, TemplatePlan]:
    """One `TemplatePlan` per declared template, spawnable or not (the ledger needs all)."""
    spawns = spawning.spawns
    plans: dict[str, TemplatePlan] = {}
    for name, template in workflow.templates.items():
        reach, union = spawns.of(template.may_spawn)
        own = spawns.sets[name]
        plans[name] = TemplatePlan(
            name=name,
            resources=own,
            spawns=reach,
            holds=index.ordered(union.union(own)),
            spawned_by=tuple(spawning.spawned_by.get(name, ())),
        )
    return plans


def _lifetimes(
    workflow: Workflow,
    index: ResourceIndex,
    spawning: _Spawning,
    unnamed: set[str],
    acquired: tuple[str, ...],
    first: Mapping[str, int],
    last: Mapping[str, int],
) -> dict[str, Lifetime]:
    """One `Lifetime` per acquired resource, in start order, built column by column.

    `unnamed`: needed resources no listed phase names itself; those no spawnable
    template names either live only for the resources that need them.
    """
    resources = workflow.resources
    needs = index.needs
    needed_by: defaultdict[str, list[str]] = defaultdict(list)
    for r in compress(acquired, map(needs.__getitem__, acquired)):  # those that need any
        for needed in needs[r]:
            needed_by[needed].append(r)
    spawns = spawning.spawns
    spawnable = [t for t in spawns.templates if t in spawning.spawned_by]  # declared order
    by_templates: defaultdict[str, list[str]] = defaultdict(list)
    for name in spawnable:
        template = spawns.templates[name]
        unnamed = unnamed.difference(template.resources, index.agent_part(template.agents))
        for r in spawns.sets[name]:
            by_templates[r].append(name)
    only_for_needs = unnamed.intersection(needed_by)
    declared = list(map(resources.__getitem__, acquired))
    columns = zip(
        acquired,
        map(attrgetter("type"), declared),
        map(first.__getitem__, acquired),
        map(last.__getitem__, acquired),
        map(_tuples(spawning.uses).get, acquired, repeat(())),
        map(_tuples(by_templates).get, acquired, repeat(())),
        map(attrgetter("needs"), declared),
        map(_tuples(needed_by).get, acquired, repeat(())),
        map(only_for_needs.__contains__, acquired),
        strict=True,
    )
    return dict(zip(acquired, map(_LIFETIME, columns), strict=True))


def _tuples(lists: Mapping[str, list[_T]]) -> dict[str, tuple[_T, ...]]:
    """The same lists, as tuples (the few resources that have any)."""
    return {key: tuple(value) for key, value in lists.items()}
