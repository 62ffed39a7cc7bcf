"""Orders and resource sets: the part of planning that reads the spec directly.

Everything here is deterministic: ties between independent names always go to the one
declared first, so the same file gives the same plan, output and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import partial
from heapq import heappop, heappush
from itertools import chain, compress, count, repeat
from operator import add, attrgetter, not_
from typing import NamedTuple, TypeVar

from wfrun.errors import PlanError
from wfrun.planner.model import Names
from wfrun.spec.model import Phase, Resource, Workflow

_RESOURCES = attrgetter("resources")
_NEEDS = attrgetter("needs")
_AGENTS = attrgetter("agents")
_K = TypeVar("_K")
_V = TypeVar("_V")


def stable_topological_order(
    names: Sequence[str], needs: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    """Order `names` so each comes after what it needs; ties go to declaration order.

    This is the order `nx.lexicographical_topological_sort(key=declaration index)` gives,
    without building a graph (it is on the planning hot path for 10^5 phases).
    """
    names = tuple(names)
    moved = _stable_order(names, list(map(needs.get, names, repeat(()))))
    return names if moved is None else tuple(moved.names)


class _Order(NamedTuple):
    """An order other than declaration order: each entry's declaration index, name, needs."""

    indices: list[int]
    names: list[str]
    needs: list[Sequence[str]]


def _stable_order(names: Sequence[str], needs: Sequence[Sequence[str]]) -> _Order | None:
    """None if declaration order already works, else the order.

    Files usually declare things after what they need: one O(V + E) pass finds that.
    """
    seen: set[str] = set()
    add = seen.add
    for name, own in zip(names, needs, strict=True):
        if own and not seen.issuperset(own):
            return _kahn(names, needs)
        add(name)
    return None


def _kahn(names: Sequence[str], needs: Sequence[Sequence[str]]) -> _Order:
    """Kahn's algorithm, smallest declaration index first, without building out-edges.

    Take the smaller of the next declared name and the smallest woken one; a name with
    a need not placed yet waits on it, and is woken (pushed on a heap) when that need is
    placed. A name waits at most once per need: O((V + E) log V). The names waiting on
    one form a linked list of indices (`waiting` holds the first, `after` the next): no
    list per name for the garbage collector to walk. The order's names and needs are
    collected as they are placed, while still in the cache.
    """
    placed: set[str] = set()
    waiting: dict[str, int] = {}
    after = [-1] * len(names)
    woken: list[int] = []  # a heap
    order = _Order([], [], [])
    total = len(names)
    upcoming = 0
    while True:
        if woken and (upcoming == total or woken[0] < upcoming):
            i = heappop(woken)
        elif upcoming < total:
            i = upcoming
            upcoming += 1
        else:
            break
        own = needs[i]
        for need in own:
            if need not in placed:
                after[i] = waiting.get(need, -1)
                waiting[need] = i
                break
        else:
            name = names[i]
            placed.add(name)
            order.indices.append(i)
            order.names.append(name)
            order.needs.append(own)
            j = waiting.pop(name, -1)
            while j >= 0:
                heappush(woken, j)
                j = after[j]
    if len(order.indices) != total:
        stuck = [name for name in names if name not in placed]
        msg = f"cannot order {', '.join(stuck)}: their needs form a cycle"
        raise PlanError(msg)
    return order


def resource_order(workflow: Workflow) -> tuple[str, ...]:
    """Every declared resource in start order: what it needs first, then declaration."""
    return ResourceIndex(workflow).start


def phase_order(workflow: Workflow) -> tuple[str, ...]:
    """The points of the plan: listed order (sequential) or stable topological (graph)."""
    return phase_points(workflow)[0]


def phase_points(workflow: Workflow) -> tuple[Names, Collection[Phase], tuple[Names, ...]]:
    """The phase order, the listed phases in it, and their declared needs.

    Sequential (or graph already in order): the phases as declared, no copy. Per-point
    columns are tuples, not lists: the garbage collector stops walking a tuple once
    nothing in it needs walking (names, tuples of names), and walks a list every time.
    """
    phases = workflow.phases
    names = tuple(phases)
    listed = phases.values()
    needs = tuple(map(_NEEDS, listed))
    moved = _stable_order(names, needs) if workflow.execution == "graph" else None
    if moved is None:
        return names, listed, needs
    declared = list(listed)
    return tuple(moved.names), tuple(map(declared.__getitem__, moved.indices)), tuple(moved.needs)


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

    __slots__ = ("agent_named", "extension", "needed", "needs", "rank", "start")

    def __init__(self, workflow: Workflow) -> None:
        resources = workflow.resources
        names = tuple(resources)
        needs = list(map(_NEEDS, resources.values()))
        moved = _stable_order(names, needs)
        self.start = names if moved is None else tuple(moved.names)
        self.rank = dict(zip(self.start, count()))  # every declared resource's place
        self.needs = dict(zip(names, needs, strict=True))
        self.needed = set(chain.from_iterable(needs))  # what some resource needs
        # resource -> everything it needs, transitively, without itself
        self.extension = _Memo(partial(_extension, resources))
        self.extension.update(dict.fromkeys(compress(names, map(not_, needs)), ()))
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
        named, closure = self.phase_sets((phase,))
        return named[0] + closure[0]

    def phase_sets(self, phases: Iterable[Phase]) -> tuple[tuple[Names, ...], tuple[Names, ...]]:
        """What each of `phases` names itself, and what that needs, transitively.

        The planner's hot path, so no Python-level loop and few new tuples: adding an
        empty tuple gives back the same tuple. A phase whose agents name nothing keeps its
        own `resources:` tuple (`own + ()` is `own`). `sum(extensions, ())` concatenates
        in C, so a phase whose resources need nothing gets `()`, one with a single needy
        resource gets that resource's memoized extension, and only phases naming two or
        more build a new tuple (quadratic in those, which stay few).
        """
        parts = map(self.agent_named.__getitem__, map(_AGENTS, phases))
        named = tuple(map(add, map(_RESOURCES, phases), parts))
        extensions = map(map, repeat(self.extension.__getitem__), named)
        # a list grows in place; a tuple built from an iterator is reallocated as it
        # grows, and the garbage collector walks each new copy again
        closure = list(map(sum, extensions, repeat(())))
        return named, tuple(closure)

    def ordered(self, names: Iterable[str]) -> tuple[str, ...]:
        """`names` (closed over needs already) in start order."""
        return tuple(sorted(names, key=self.rank.__getitem__))


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
