"""What a plan is: frozen dataclasses, and their stable JSON shape (`Plan.as_dict`).

Per-point data lives in `Columns`, one tuple per field aligned with `Plan.order`: at
10^5 phases, one object per point would cost more than the planning itself. `Plan.steps`
is the readable view, one `Step` per point, built on first access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from wfrun.spec.model import Execution

PLAN_FORMAT = 1  # bump when `Plan.as_dict` changes incompatibly
Names = tuple[str, ...]  # resource or phase names


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    """One point of the plan: a phase, what starts just before it, what stops just after."""

    index: int
    phase: str
    needs: tuple[str, ...]  # declared phase needs: the DAG's edges in graph mode
    resources: tuple[str, ...]  # its resource set, closed over needs, in start order
    holds: tuple[str, ...]  # resources + what the templates it may spawn could use
    spawns: tuple[str, ...]  # templates it may spawn, directly or through others
    start: tuple[str, ...]  # start just before the phase, in this order
    stop: tuple[str, ...]  # stop just after the phase, in this order
    live: int  # resources live during this point


class Lifetime(NamedTuple):
    """When one resource lives: from just before `acquire` to just after `release`.

    A NamedTuple rather than a frozen dataclass: there is one per acquired resource
    (10^4 in a 10^5-phase plan), and it builds several times faster.
    """

    name: str
    type: str
    acquire: int
    release: int
    spawn_uses: tuple[int, ...]  # points whose phase may spawn a template that uses it
    templates: tuple[str, ...]  # spawnable templates whose resource set holds it
    needs: tuple[str, ...]
    needed_by: tuple[str, ...]  # acquired resources that need it, in start order
    only_for_needs: bool  # nothing names it itself: it lives for its dependents

    @property
    def span(self) -> int:
        """Points it is live for: its share of the resource-phase units held."""
        return self.release - self.acquire + 1


@dataclass(frozen=True, kw_only=True, slots=True)
class TemplatePlan:
    """A template: what a phase spawned from it holds, and who may spawn it."""

    name: str
    resources: tuple[str, ...]  # in start order
    spawns: tuple[str, ...]  # templates its instances may spawn, transitively
    holds: tuple[str, ...]  # resources + those of `spawns`: what a spawned phase holds
    spawned_by: tuple[str, ...]  # listed phases that may spawn it, directly or not


@dataclass(frozen=True, kw_only=True, slots=True)
class Columns:
    """Per-point data, each tuple aligned with `Plan.order`.

    Point i's resource set is `named[i]` plus `closure[i]`, and it holds those plus
    `spawned[i]`. Kept apart so that most entries are shared tuples, not new ones:
    `named[i]` is usually the phase's own `resources:` tuple, `closure[i]` the memoized
    needs of its one needy resource, `spawned[i]` empty. Unordered, and a name may repeat
    (sorting and deduplicating 10^5 small sets would double the planning time; repeats
    change neither first/last uses nor reference counts); `Plan.steps` gives them merged,
    in start order.
    """

    needs: tuple[tuple[str, ...], ...]
    named: tuple[tuple[str, ...], ...]  # its own `resources:` and what its agents name
    closure: tuple[tuple[str, ...], ...]  # what those need, transitively
    spawned: tuple[tuple[str, ...], ...]  # what templates it may spawn add to its holds
    spawns: tuple[tuple[str, ...], ...]
    starts: tuple[tuple[str, ...], ...]  # in start order
    stops: tuple[tuple[str, ...], ...]  # in stop order
    live: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything the engine needs to acquire and release resources, computed up front."""

    workflow: str
    execution: Execution
    order: tuple[str, ...]  # point i runs phase order[i]
    resources: Mapping[str, Lifetime]  # acquired resources, in start order
    unused: tuple[str, ...]  # declared but never used: never acquired
    templates: Mapping[str, TemplatePlan]  # every declared template
    start_order: tuple[str, ...]  # acquired resources
    stop_order: tuple[str, ...]
    rank: Mapping[str, int]  # every declared resource's place in start order
    resource_needs: Mapping[str, tuple[str, ...]]  # every declared resource's needs
    declared: int  # resources in the file
    peak: int  # most resources live at one point
    lower_bound: int  # largest single resource set: no plan can do better
    units_held: int  # sum of spans: resource x phase units held
    units_whole_run: int  # declared x phases: holding everything for the whole run
    columns: Columns = field(repr=False)

    @cached_property
    def steps(self) -> tuple[Step, ...]:
        """One `Step` per point, in order, resource sets in start order."""
        c = self.columns
        key = self.rank.__getitem__
        steps: list[Step] = []
        for i, (name, resources) in enumerate(zip(self.order, self.resource_sets, strict=True)):
            spawned = c.spawned[i]
            steps.append(
                Step(
                    index=i,
                    phase=name,
                    needs=c.needs[i],
                    resources=resources,
                    holds=tuple(sorted({*resources, *spawned}, key=key)) if spawned else resources,
                    spawns=c.spawns[i],
                    start=c.starts[i],
                    stop=c.stops[i],
                    live=c.live[i],
                )
            )
        return tuple(steps)

    @cached_property
    def resource_sets(self) -> tuple[tuple[str, ...], ...]:
        """Each point's resource set (closed over needs), in start order: all a run needs
        of the plan per phase, without building a `Step` for each."""
        c = self.columns
        key = self.rank.__getitem__
        return tuple(
            tuple(sorted({*named, *closure}, key=key))
            for named, closure in zip(c.named, c.closure, strict=True)
        )

    @cached_property
    def uses(self) -> Mapping[str, tuple[int, ...]]:
        """Per acquired resource, the points whose phase's resource set holds it.

        Built on first access (one pass over the columns): only displays need it, and
        keeping 10^5 x 5 use lists during planning costs more than the planning.
        """
        found: dict[str, list[int]] = {r: [] for r in self.resources}
        for i, sets in enumerate(zip(self.columns.named, self.columns.closure, strict=True)):
            for r in set(sets[0] + sets[1]):
                found[r].append(i)
        return {r: tuple(points) for r, points in found.items()}

    def consumers(self, resource: str) -> tuple[str, ...]:
        """Phases whose resource set holds `resource`, in order."""
        return self.names(self.uses.get(resource, ()))

    @cached_property
    def index(self) -> Mapping[str, int]:
        """Phase name -> its point."""
        return {name: i for i, name in enumerate(self.order)}

    def step(self, phase: str) -> Step:
        """The step of a listed phase, by name."""
        return self.steps[self.index[phase]]

    def names(self, points: tuple[int, ...]) -> tuple[str, ...]:
        """Phase names at `points` (for `Plan.uses` and `Lifetime.spawn_uses`)."""
        return tuple(self.order[i] for i in points)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict with a stable shape; the fields are listed in `wfrun.planner`."""
        return {
            "format": PLAN_FORMAT,
            "workflow": self.workflow,
            "execution": self.execution,
            "order": list(self.order),
            "phases": [
                {
                    "index": s.index,
                    "name": s.phase,
                    "needs": list(s.needs),
                    "resources": list(s.resources),
                    "holds": list(s.holds),
                    "spawns": list(s.spawns),
                    "start": list(s.start),
                    "stop": list(s.stop),
                    "live": s.live,
                }
                for s in self.steps
            ],
            "resources": [
                {
                    "name": r.name,
                    "type": r.type,
                    "acquire": r.acquire,
                    "release": r.release,
                    "consumers": list(self.consumers(r.name)),
                    "spawners": list(self.names(r.spawn_uses)),
                    "templates": list(r.templates),
                    "needs": list(r.needs),
                    "needed_by": list(r.needed_by),
                    "only_for_needs": r.only_for_needs,
                }
                for r in self.resources.values()
            ],
            "unused": list(self.unused),
            "templates": [
                {
                    "name": t.name,
                    "resources": list(t.resources),
                    "spawns": list(t.spawns),
                    "holds": list(t.holds),
                    "spawned_by": list(t.spawned_by),
                }
                for t in self.templates.values()
            ],
            "start_order": list(self.start_order),
            "stop_order": list(self.stop_order),
            "figures": {
                "phases": len(self.order),
                "resources": self.declared,
                "acquired": len(self.resources),
                "peak": self.peak,
                "lower_bound": self.lower_bound,
                "units_held": self.units_held,
                "units_whole_run": self.units_whole_run,
            },
        }
