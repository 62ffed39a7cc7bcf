"""Orders and resource sets: the part of planning that reads the spec directly.

Everything here is deterministic: ties between independent names always go to the one
declared first, so the same file gives the same plan, output and tests.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from itertools import accumulate, repeat
from operator import add, attrgetter
from typing import TypeVar

from wfrun.errors import PlanError
from wfrun.spec.model import Phase, Resource, Workflow


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

    A phase's set is what it *names* (its own `resources:` and what its agents name)
    plus their *extensions* (everything they need, transitively; `()` for most). The
    per-resource extension and the per-agent-group parts are memos, filled on first
    lookup: each closure is computed once, and only if some phase asks for it.
    """

    __slots__ = ("agent_named", "extension", "rank", "start")

    def __init__(self, workflow: Workflow) -> None:
        self.start = resource_order(workflow)  # every declared resource, in start order
        self.rank = {name: i for i, name in enumerate(self.start)}
        # resource -> everything it needs, transitively, without itself
        self.extension = _Memo(partial(_extension, workflow.resources))
        # agent group -> the resources it names: required, and optional if configured
        self.agent_named = _Memo(partial(_agent_named, workflow))

    def agent_part(self, agents: tuple[str, ...]) -> tuple[str, ...]:
        """The resources a group of agents names: required, and optional if configured."""
        return self.agent_named[agents]

    def closure(self, resource: str) -> tuple[str, ...]:
        """`resource` and everything it needs, transitively."""
        return (resource, *self.extension[resource])

    def resource_set(self, phase: Phase) -> tuple[str, ...]:
        """See the module-level `resource_set`."""
        return self.ordered(set(self.closed(phase)))

    def closed(self, phase: Phase) -> tuple[str, ...]:
        """`phase`'s resource set, closed over needs, unordered and *possibly repeating*.

        A repeat changes neither first/last uses nor reference counts, which add and
        remove it alike; deduplicating is left to what displays the set.
        """
        return self.phase_sets((phase,))[1][0]

    def phase_sets(self, phases: Sequence[Phase]) -> tuple[list[Names], list[Names]]:
        """What each of `phases` names itself, and its set closed over needs (`closed`).

        The planner's hot path, so no Python-level loop: `sum(extensions, start)`
        concatenates tuples in C, and adding an empty one gives back the same tuple, so a
        phase whose resources need nothing costs no new tuple. (It is quadratic in the
        number of needy resources one phase names, which stays small.)
        """
        parts = map(self.agent_named.__getitem__, map(_AGENTS, phases))
        named = list(map(add, map(_RESOURCES, phases), parts))
        extensions = map(map, repeat(self.extension.__getitem__), named)
        return named, list(map(sum, extensions, named))

    def ordered(self, names: Iterable[str]) -> tuple[str, ...]:
        """`names` (closed over needs already) in start order."""
        return tuple(sorted(names, key=self.rank.__getitem__))


Names = tuple[str, ...]
_RESOURCES = attrgetter("resources")
_AGENTS = attrgetter("agents")
_K = TypeVar("_K")
_V = TypeVar("_V")


class _Memo(dict[_K, _V]):
    """A dict that fills a missing key with `make(key)`, once.

    Lookups stay C-level (`map(memo.__getitem__, keys)`), hits and misses alike.
    """

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[_K], _V]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: _K) -> _V:
        value = self[key] = self._make(key)
        return value


def _extension(resources: Mapping[str, Resource], resource: str) -> Names:
    """Everything `resource` needs, transitively, without itself (iterative: no depth limit)."""
    found: dict[str, None] = {}
    stack = list(resources[resource].needs)
    while stack:
        name = stack.pop()
        if name not in found:
            found[name] = None
            stack += resources[name].needs
    return tuple(found)


def _agent_named(workflow: Workflow, agents: Names) -> Names:
    """The resources `agents` name: required, and optional if the workflow configures it."""
    configured = workflow.resources
    names: list[str] = []
    for agent_name in agents:
        agent = workflow.agents[agent_name]
        names += agent.requires
        names += [name for name in agent.optional if name in configured]
    return tuple(dict.fromkeys(names))
