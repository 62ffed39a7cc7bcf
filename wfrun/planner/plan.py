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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from wfrun.gcpause import gc_paused
from wfrun.planner import capacity as cap
from wfrun.planner.model import Lifetime, Names, Plan, Step, TemplatePlan
from wfrun.planner.sets import ResourceIndex, phase_points
from wfrun.spec.model import Phase, Workflow


def plan_workflow(workflow: Workflow, limits: Mapping[str, int] | None = None) -> Plan:
    """Plan `workflow`: O(P log P + sum of resource-set sizes), no I/O, deterministic;
    graph runs add the bound (see `planner.capacity`). `limits` (type or pool -> most
    alive at once) add to, and override, the file's `limits:`.

    The loader guarantees every name resolves and no `needs` cycle exists.
    """
    with gc_paused():
        return _plan(workflow, limits)


def _plan(workflow: Workflow, limits: Mapping[str, int] | None) -> Plan:
    index = ResourceIndex(workflow)
    order, listed, needs = phase_points(workflow)
    points = len(order)
    named, closed = index.phase_sets(listed)  # closed sets, in start order
    unnamed = index.needed.difference(*named)  # needed, but no listed phase names them
    first, last = _first_last(closed)  # a closed set covers everything its phase needs
    spawning = _Spawning.of(workflow, index, order, listed, closed)
    for r, spawners in spawning.uses.items():
        # sequential: used at the spawner's point; graph: held to the end of the run
        first[r] = min(first.get(r, points), spawners[0])
        end = points - 1 if workflow.execution == "graph" else spawners[-1]
        last[r] = max(last.get(r, -1), end)
    acquired = tuple(r for r in index.start if r in first)
    stop_order = acquired[::-1]
    steps = _steps(index, order, needs, named, closed, spawning, acquired, first, last)
    if workflow.execution == "graph":  # the bound is costly and only `plan` shows it: lazy
        steps_now = steps

        def capacity_of() -> cap.Capacity:
            args = (workflow, index, order, needs, steps_now, acquired, spawning, limits)
            return _capacity(*args)[1]

    else:  # splits change the steps: settled now
        steps, capacity = _capacity(
            workflow, index, order, needs, steps, acquired, spawning, limits
        )

        def capacity_of() -> cap.Capacity:
            return capacity

    return Plan(
        workflow=workflow.name,
        execution=workflow.execution,
        order=order,
        steps=steps,
        resources=_lifetimes(workflow, index, spawning, unnamed, acquired, first, last),
        unused=tuple(r for r in index.start if r not in first),
        templates=_templates(workflow, index, spawning),
        start_order=acquired,
        stop_order=stop_order,
        rank=index.rank,
        resource_needs=index.needs,
        declared=len(index.rank),
        peak=max((step.live for step in steps), default=0),
        lower_bound=max(map(len, closed), default=0),
        units_held=sum(step.live for step in steps),
        units_whole_run=len(index.rank) * points,
        capacity_of=capacity_of,
        has_limits=bool(cap.limits_of(workflow, acquired, limits)[0]),
    )


def _capacity(
    workflow: Workflow,
    index: ResourceIndex,
    order: Names,
    needs: tuple[Names, ...],
    steps: tuple[Step, ...],
    acquired: Names,
    spawning: _Spawning,
    extra: Mapping[str, int] | None,
) -> tuple[tuple[Step, ...], cap.Capacity]:
    """The bound, the limits and what keeping them takes (see `planner.capacity`)."""
    holds = [step.holds for step in steps]
    limits, unknown = cap.limits_of(workflow, acquired, extra)
    splits: list[cap.Split] = []
    problems: list[cap.Problem] = []
    queues: list[cap.Queue] = []
    safe: Names = ()
    windows: dict[str, cap.Window] = {}
    before: dict[str, list[str]] = {}
    if workflow.execution == "graph":
        consumers: dict[str, list[int]] = {r: [] for r in acquired}
        for i, own in enumerate(holds):
            for r in own:
                consumers[r].append(i)
        windows, before, levels = cap.graph_relation(order, needs, consumers, set(spawning.uses))
        bound = cap.width(acquired, before)
        if limits:
            safe, problems = _safe_order(order, needs, holds, limits)
            queues = cap.queues_of(order, holds, limits, before)
    else:
        levels = tuple(range(len(order)))
        if limits:
            splits, problems = cap.split_for_limits(order, holds, limits, workflow, index.rank)
        if splits:
            steps = _split_steps(steps, splits, acquired, index.rank)
        peak = max(steps, key=lambda s: s.live, default=None)
        bound = _live_at(steps, peak.index, acquired, splits) if peak else ()
    return steps, cap.Capacity(
        levels=levels,
        windows=windows,
        upper_bound=len(bound),
        bound_set=bound,
        limits=limits,
        splits=tuple(splits),
        safe_order=safe,
        queues=tuple(queues),
        problems=tuple(problems),
        unknown_limits=unknown,
        before=before,
    )


def _safe_order(
    order: Names, needs: tuple[Names, ...], holds: list[Names], limits: tuple[cap.Limit, ...]
) -> tuple[Names, list[cap.Problem]]:
    """An order that keeps the limits one phase at a time: the stable one, or greedy."""
    for points in (range(len(order)), cap.greedy_order(needs, order, holds)):
        over = cap.over_limits(points, holds, limits)
        if not over:
            return tuple(order[i] for i in points), []
    problems = [
        cap.Problem(
            point=i,
            phase=order[i],
            key=li.key,
            limit=li.limit,
            alive=tuple(alive),
            needed=tuple(r for r in holds[i] if r in li.members),
        )
        for i, li, alive in over
    ]
    return (), problems


def _segments(
    steps: tuple[Step, ...], acquired: Names, splits: list[cap.Split]
) -> dict[str, list[tuple[int, int]]]:
    """Per resource, the point ranges it is alive for once split."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for step in steps:
        for r in step.start:  # a split plan starts some again: the first start counts
            first.setdefault(r, step.index)
        for r in step.stop:
            last[r] = step.index
    cuts: defaultdict[str, list[cap.Split]] = defaultdict(list)
    for s in splits:
        cuts[s.resource].append(s)
    segments: dict[str, list[tuple[int, int]]] = {}
    for r in acquired:
        begin = first[r]
        found: list[tuple[int, int]] = []
        for s in sorted(cuts.get(r, ()), key=lambda s: s.stop_after):
            found.append((begin, s.stop_after))
            begin = s.start_before
        found.append((begin, last[r]))
        segments[r] = found
    return segments


def _split_steps(
    steps: tuple[Step, ...],
    splits: list[cap.Split],
    acquired: Names,
    rank: Mapping[str, int],
) -> tuple[Step, ...]:
    """Steps with the splits: `pause` stops after a point, `start` includes restarts."""
    segments = _segments(steps, acquired, splits)
    starts: defaultdict[int, list[str]] = defaultdict(list)
    pauses: defaultdict[int, list[str]] = defaultdict(list)
    live = [0] * len(steps)
    for r in acquired:
        for k, (a, b) in enumerate(segments[r]):
            starts[a].append(r)
            if k < len(segments[r]) - 1:
                pauses[b].append(r)
            for i in range(a, b + 1):
                live[i] += 1
    return tuple(
        replace(
            step,
            start=tuple(sorted(starts.get(step.index, ()), key=rank.__getitem__)),
            pause=tuple(sorted(pauses.get(step.index, ()), key=rank.__getitem__, reverse=True)),
            live=live[step.index],
        )
        for step in steps
    )


def _live_at(
    steps: tuple[Step, ...], point: int, acquired: Names, splits: list[cap.Split]
) -> Names:
    """The resources alive at `point` (sequential)."""
    segments = _segments(steps, acquired, splits)
    return tuple(r for r in acquired if any(a <= point <= b for a, b in segments[r]))


def _first_last(sets: list[Names]) -> tuple[dict[str, int], dict[str, int]]:
    """The first and last point whose set holds each name."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, own in enumerate(sets):
        for r in own:
            first.setdefault(r, i)
            last[r] = i
    return first, last


@dataclass
class _Spawning:
    """What the listed phases may spawn, per point and per resource."""

    templates: dict[str, Names]  # template -> its resource set, in start order
    reach: dict[Names, tuple[Names, frozenset[str]]]  # may_spawn -> (templates, resources)
    spawns: dict[int, Names] = field(default_factory=dict)  # point -> templates reachable
    extra: dict[int, frozenset[str]] = field(default_factory=dict)  # point -> beyond its set
    uses: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    spawned_by: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(
        cls,
        workflow: Workflow,
        index: ResourceIndex,
        order: Names,
        listed: list[Phase],
        closed: list[Names],
    ) -> _Spawning:
        sets = {
            name: index.ordered(index.closed(index.named(t)))
            for name, t in workflow.templates.items()
        }
        spawning = cls(templates=sets, reach={})
        for i, phase in enumerate(listed):
            if not phase.may_spawn:
                continue
            reach, union = spawning.reachable(workflow, phase.may_spawn)
            spawning.spawns[i] = reach
            for template in reach:
                spawning.spawned_by[template].append(order[i])
            for r in union:  # all of it, even what the phase uses itself: see the rule above
                spawning.uses[r].append(i)
            spawning.extra[i] = union.difference(closed[i])
        return spawning

    def reachable(self, workflow: Workflow, may_spawn: Names) -> tuple[Names, frozenset[str]]:
        """(templates reachable through `may_spawn`, in declaration order; their resources)."""
        if may_spawn not in self.reach:
            seen = set(may_spawn)
            stack = list(may_spawn)
            while stack:
                for name in workflow.templates[stack.pop()].may_spawn:
                    if name not in seen:
                        seen.add(name)
                        stack.append(name)
            reach = tuple(name for name in self.templates if name in seen)
            union = frozenset(r for name in reach for r in self.templates[name])
            self.reach[may_spawn] = (reach, union)
        return self.reach[may_spawn]


def _steps(
    index: ResourceIndex,
    order: Names,
    needs: tuple[Names, ...],
    named: list[Names],
    closed: list[Names],
    spawning: _Spawning,
    acquired: Names,
    first: dict[str, int],
    last: dict[str, int],
) -> tuple[Step, ...]:
    """One `Step` per point: its sets, what starts before it and stops after it, live count.

    `closed`: each point's resource set, in start order already."""
    none: Names = ()
    starts: defaultdict[int, list[str]] = defaultdict(list)
    stops: defaultdict[int, list[str]] = defaultdict(list)
    for r in acquired:  # start order within a point
        starts[first[r]].append(r)
    for r in reversed(acquired):  # stop order within a point
        stops[last[r]].append(r)
    steps: list[Step] = []
    live = 0
    extras, spawns = spawning.extra, spawning.spawns
    for i, phase in enumerate(order):
        start = tuple(starts[i]) if i in starts else none
        stop = tuple(stops[i]) if i in stops else none
        resources = closed[i]
        live += len(start)
        extra = extras.get(i) if extras else None
        steps.append(
            Step.of(
                i,
                phase,
                needs[i],
                resources,
                index.ordered({*resources, *extra}) if extra else resources,
                spawns.get(i, none) if spawns else none,
                start,
                stop,
                live,
                tuple({*named[i], *extra}) if extra else named[i],
            )
        )
        live -= len(stop)
    return tuple(steps)


def _templates(
    workflow: Workflow, index: ResourceIndex, spawning: _Spawning
) -> dict[str, TemplatePlan]:
    """One `TemplatePlan` per declared template, spawnable or not (the ledger needs all)."""
    plans: dict[str, TemplatePlan] = {}
    for name, template in workflow.templates.items():
        reach, union = spawning.reachable(workflow, template.may_spawn)
        own = spawning.templates[name]
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
    acquired: Names,
    first: dict[str, int],
    last: dict[str, int],
) -> dict[str, Lifetime]:
    """One `Lifetime` per acquired resource, in start order.

    `unnamed`: needed resources no listed phase names itself; those no spawnable
    template names either live only for the resources that need them.
    """
    needed_by: defaultdict[str, list[str]] = defaultdict(list)
    for r in acquired:
        for needed in index.needs[r]:
            needed_by[needed].append(r)
    by_templates: defaultdict[str, list[str]] = defaultdict(list)
    for name, resources in spawning.templates.items():
        if name not in spawning.spawned_by:
            continue
        unnamed = unnamed.difference(index.named(workflow.templates[name]))
        for r in resources:
            by_templates[r].append(name)
    return {
        r: Lifetime(
            name=r,
            type=workflow.resources[r].type,
            acquire=first[r],
            release=last[r],
            spawn_uses=tuple(spawning.uses.get(r, ())),
            templates=tuple(by_templates.get(r, ())),
            needs=workflow.resources[r].needs,
            needed_by=tuple(needed_by.get(r, ())),
            only_for_needs=r in unnamed and r in needed_by,
        )
        for r in acquired
    }
