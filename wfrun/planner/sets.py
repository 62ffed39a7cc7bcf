"""Orders and resource sets: the part of planning that reads the spec directly.

Everything here is deterministic: ties between independent names always go to the one
declared first, so the same file gives the same plan, output and tests.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate

from wfrun.errors import PlanError
from wfrun.spec.model import Phase, Workflow


def stable_topological_order(
    names: Sequence[str], needs: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    """Order `names` so each comes after what it needs; ties go to declaration order.

    This is the order `nx.lexicographical_topological_sort(key=declaration index)` gives,
    without building a graph (it is on the planning hot path for 10^5 phases). Files
    usually declare things after what they need, and then the answer is the declaration
    order itself: one O(V + E) check finds that; otherwise Kahn's algorithm with a heap.
    """
    seen: set[str] = set()
    for name in names:
        if not seen.issuperset(needs.get(name, ())):
            return _kahn(names, needs)
        seen.add(name)
    return tuple(names)


def _kahn(names: Sequence[str], needs: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Kahn's algorithm with a heap of declaration indices: O((V + E) log V).

    Edges are kept in flat lists (dependents of node i are `dependents[start[i]:start[i+1]]`)
    rather than one list per node: no per-node objects for the garbage collector to walk.
    """
    index = {name: i for i, name in enumerate(names)}
    indegree = [0] * len(names)
    sources: list[int] = []
    targets: list[int] = []
    for i, name in enumerate(names):
        own = needs.get(name)
        if own:
            indegree[i] = len(own)
            sources += map(index.__getitem__, own)
            targets += [i] * len(own)
    start = [0] * (len(names) + 1)
    for source in sources:
        start[source + 1] += 1
    start = list(accumulate(start))
    fill = start[:-1]
    dependents = [0] * len(sources)
    for source, target in zip(sources, targets, strict=True):
        dependents[fill[source]] = target
        fill[source] += 1
    ready = [i for i, degree in enumerate(indegree) if not degree]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in dependents[start[i] : start[i + 1]]:
            indegree[j] -= 1
            if not indegree[j]:
                heapq.heappush(ready, j)
    if len(order) != len(names):
        done = set(order)
        stuck = [name for i, name in enumerate(names) if i not in done]
        msg = f"cannot order {', '.join(stuck)}: their needs form a cycle"
        raise PlanError(msg)
    return tuple(map(names.__getitem__, order))


def resource_order(workflow: Workflow) -> tuple[str, ...]:
    """Every declared resource in start order: what it needs first, then declaration."""
    resources = workflow.resources
    return stable_topological_order(
        tuple(resources), {name: r.needs for name, r in resources.items()}
    )


def phase_order(workflow: Workflow) -> tuple[str, ...]:
    """The points of the plan: listed order (sequential) or stable topological (graph)."""
    phases = workflow.phases
    if workflow.execution != "graph":
        return tuple(phases)
    return stable_topological_order(tuple(phases), {name: p.needs for name, p in phases.items()})


def resource_set(workflow: Workflow, phase: Phase) -> tuple[str, ...]:
    """What `phase` (a listed phase or a template) holds while it runs, in start order.

    Its agents' `requires`, their `optional` that the workflow configures, its own
    `resources:`, closed over resource `needs`. One-off use; `plan_workflow` shares the
    lookups across phases instead of rebuilding them per call.
    """
    return ResourceIndex(workflow).resource_set(phase)


class ResourceIndex:
    """Lookups built once per workflow, so each phase's set costs O(its size).

    `rank` gives each declared resource its place in start order; `needy` holds the
    resources that need others, so sets without them skip the closure entirely. The
    closure of each needy resource is computed once, when first asked for.
    """

    __slots__ = ("_agent_parts", "_agents", "_closures", "_resources", "needy", "rank", "start")

    def __init__(self, workflow: Workflow) -> None:
        self._resources = workflow.resources
        self._agents = workflow.agents
        self.start = resource_order(workflow)
        self.rank = {name: i for i, name in enumerate(self.start)}
        self.needy = frozenset(name for name, r in self._resources.items() if r.needs)
        self._agent_parts: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._closures: dict[str, tuple[str, ...]] = {}

    def agent_part(self, agents: tuple[str, ...]) -> tuple[str, ...]:
        """The resources a group of agents brings: required, and optional if configured."""
        part = self._agent_parts.get(agents)
        if part is None:
            configured = self._resources
            names: list[str] = []
            for agent_name in agents:
                agent = self._agents[agent_name]
                names += agent.requires
                names += [name for name in agent.optional if name in configured]
            part = self._agent_parts[agents] = tuple(dict.fromkeys(names))
        return part

    def closure(self, resource: str) -> tuple[str, ...]:
        """`resource` and everything it needs, transitively (iterative: no depth limit)."""
        found = self._closures.get(resource)
        if found is None:
            resources = self._resources
            names = {resource}
            stack = [resource]
            while stack:
                for needed in resources[stack.pop()].needs:
                    if needed not in names:
                        names.add(needed)
                        stack.append(needed)
            found = self._closures[resource] = tuple(names)
        return found

    def resource_set(self, phase: Phase) -> tuple[str, ...]:
        """See the module-level `resource_set`."""
        return self.ordered(set(self.closed(phase)))

    def closed(self, phase: Phase) -> tuple[str, ...]:
        """`phase`'s resource set, closed over needs, unordered and *possibly repeating*.

        The planner's hot path. A phase that needs no closure gets its own `resources:`
        tuple back, no copy; a repeat there (or from an agent) changes neither first/last
        uses nor reference counts, which add and remove it alike.
        """
        direct = phase.resources
        agents = phase.agents
        if agents:
            part = self._agent_parts.get(agents)
            if part is None:
                part = self.agent_part(agents)
            direct += part
        needy = self.needy
        if needy.isdisjoint(direct):
            return direct
        names = set(direct)
        closures = self._closures
        for name in direct:
            if name in needy:
                names.update(closures.get(name) or self.closure(name))
        return tuple(names)

    def ordered(self, names: Iterable[str]) -> tuple[str, ...]:
        """`names` (closed over needs already) in start order."""
        return tuple(sorted(names, key=self.rank.__getitem__))
