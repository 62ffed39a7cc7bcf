"""What a plan is: frozen dataclasses, and their stable JSON shape (`Plan.as_dict`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

from wfrun.spec.model import Execution

if TYPE_CHECKING:
    from wfrun.planner.capacity import Capacity

PLAN_FORMAT = 1  # bump when `Plan.as_dict` changes incompatibly
Names = tuple[str, ...]  # resource or phase names


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    """One point of the plan: a phase, what starts just before it, what stops just after."""

    index: int
    phase: str
    needs: Names  # declared phase needs: the DAG's edges in graph mode
    resources: Names  # its resource set, closed over needs, in start order
    holds: Names  # resources + what the templates it may spawn could use
    spawns: Names  # templates it may spawn, directly or through others
    start: Names  # start just before the phase, in this order
    stop: Names  # stop just after the phase, in this order
    live: int  # resources live during this point
    direct: Names  # what the ledger counts for it: what it names itself, plus `holds`
    # beyond `resources` (what needs it is counted through the live resources that need it)
    pause: Names = ()  # sequential, to keep `limits:`: stop just after it, started again later

    @staticmethod
    def of(
        index: int,
        phase: str,
        needs: Names,
        resources: Names,
        holds: Names,
        spawns: Names,
        start: Names,
        stop: Names,
        live: int,
        direct: Names,
    ) -> Step:
        """`Step(...)` without `pause`, for the planner's loop over every point.

        The frozen dataclass's `__init__` sets each field through `object.__setattr__`:
        at 10^5 points that was a sixth of a plan. This sets the slots directly, at a
        third of the cost; tests/test_planner.py holds it to the constructor.
        """
        step = _new(Step)
        _set_index(step, index)
        _set_phase(step, phase)
        _set_needs(step, needs)
        _set_resources(step, resources)
        _set_holds(step, holds)
        _set_spawns(step, spawns)
        _set_start(step, start)
        _set_stop(step, stop)
        _set_live(step, live)
        _set_direct(step, direct)
        _set_pause(step, ())
        return step


_new = object.__new__
(
    _set_index,
    _set_phase,
    _set_needs,
    _set_resources,
    _set_holds,
    _set_spawns,
    _set_start,
    _set_stop,
    _set_live,
    _set_direct,
    _set_pause,
) = (getattr(Step, f.name).__set__ for f in fields(Step))


@dataclass(frozen=True, kw_only=True, slots=True)
class Lifetime:
    """When one resource lives: from just before `acquire` to just after `release`."""

    name: str
    type: str
    acquire: int
    release: int
    spawn_uses: tuple[int, ...]  # points whose phase may spawn a template that uses it
    templates: Names  # spawnable templates whose resource set holds it
    needs: Names
    needed_by: Names  # acquired resources that need it, in start order
    only_for_needs: bool  # nothing names it itself: it lives for its dependents

    @property
    def span(self) -> int:
        """Points it is live for: its share of the resource-phase units held."""
        return self.release - self.acquire + 1


@dataclass(frozen=True, kw_only=True, slots=True)
class TemplatePlan:
    """A template: what a phase spawned from it holds, and who may spawn it."""

    name: str
    resources: Names  # in start order
    spawns: Names  # templates its instances may spawn, transitively
    holds: Names  # resources + those of `spawns`: what a spawned phase holds
    spawned_by: Names  # listed phases that may spawn it, directly or not


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything the engine needs to acquire and release resources, computed up front."""

    workflow: str
    execution: Execution
    order: Names  # point i runs phase order[i]
    steps: tuple[Step, ...]  # one per point, in order
    resources: Mapping[str, Lifetime]  # acquired resources, in start order
    unused: Names  # declared but never used: never acquired
    templates: Mapping[str, TemplatePlan]  # every declared template
    start_order: Names  # acquired resources
    stop_order: Names
    rank: Mapping[str, int]  # every declared resource's place in start order
    resource_needs: Mapping[str, Names]  # every declared resource's needs
    declared: int  # resources in the file
    peak: int  # most resources live at one point
    lower_bound: int  # largest single resource set: no plan can do better
    units_held: int  # sum of spans: resource x phase units held
    units_whole_run: int  # declared x phases: holding everything for the whole run
    capacity_of: Callable[[], Capacity] = field(repr=False, compare=False)
    has_limits: bool = False  # `limits:` or `--limit` apply: capacity decides admission

    @cached_property
    def capacity(self) -> Capacity:
        """The bound on resources alive at once; limits and how they are kept. A graph's
        bound (an antichain of its windows) is computed on first use: a run without
        limits never needs it."""
        return self.capacity_of()

    @cached_property
    def resource_sets(self) -> tuple[Names, ...]:
        """Each point's resource set (closed over needs), in start order."""
        return tuple(step.resources for step in self.steps)

    @cached_property
    def uses(self) -> Mapping[str, tuple[int, ...]]:
        """Per acquired resource, the points whose phase's resource set holds it."""
        found: dict[str, list[int]] = {r: [] for r in self.resources}
        for step in self.steps:
            for r in step.resources:
                found[r].append(step.index)
        return {r: tuple(points) for r, points in found.items()}

    def live_sets(self) -> list[set[str]]:
        """The resources alive at each point, from the steps' start, pause and stop."""
        live: set[str] = set()
        out: list[set[str]] = []
        for step in self.steps:
            live.update(step.start)
            out.append(set(live))
            live.difference_update(step.pause)
            live.difference_update(step.stop)
        return out

    def bound_by_type(self) -> dict[str, int]:
        """Per resource type, the most alive at once in any run (see `Capacity.bound_of`)."""
        types: dict[str, list[str]] = {}
        for life in self.resources.values():
            types.setdefault(life.type, []).append(life.name)
        live = [] if self.execution == "graph" else self.live_sets()
        return {t: self.capacity.bound_of(names, live) for t, names in types.items()}

    def consumers(self, resource: str) -> Names:
        """Phases whose resource set holds `resource`, in order."""
        return self.names(self.uses.get(resource, ()))

    def names(self, points: tuple[int, ...]) -> Names:
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
            "capacity": {  # added in format 1: no field above changed
                **self.capacity.as_dict(self.order),
                "levels": list(self.capacity.levels),
                "pauses": {s.phase: list(s.pause) for s in self.steps if s.pause},
                "windows": {r: self._window(r) for r in self.resources},
            },
        }

    def _window(self, resource: str) -> dict[str, Any]:
        """A resource's window as phases: first and last consumers (graph: in DAG terms)."""
        window = self.capacity.windows.get(resource)
        if window is not None:
            first, last, open_end = window.first, window.last, window.open_end
        else:
            life = self.resources[resource]
            first, last = (self.order[life.acquire],), (self.order[life.release],)
            open_end = False
        return {"first": list(first), "last": list(last), "open_end": open_end}
