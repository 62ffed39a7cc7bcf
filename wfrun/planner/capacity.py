"""Capacity: what a graph run can really have alive at once, and limits the plan keeps.

Graph runs. A resource's *window* runs from the start of its earliest consumer to the
end of its last (a phase consumes what its `holds` lists: its closed resource set and
what the templates it may spawn use; a spawn may run until the run ends, so such a
resource's window stays open). Resource `a` *ends before* `b` when every consumer of
`a` is a strict ancestor of every consumer of `b`: then no run has both alive, since the
ledger stops `a` when its last holder is done, before any consumer of `b` may start.
That is a strict partial order; every set of resources alive together is an antichain
of it, so the largest antichain (its width, by Dilworth: resources minus a maximum
matching of the bipartite comparability graph; the antichain itself by König) is an
upper bound no run exceeds, whatever `if:` outcomes, durations and `--max-parallel`.

Limits (`limits:` by type or pool, and `--limit`). Sequential runs follow the plan, so
the plan itself must fit: sweeping the points, when a limit is exceeded the planner
stops, between two uses, the `restart: allowed` resource whose next use is farthest
(Belady), and starts it again before that use. Where nothing may be stopped, the plan
carries a `Problem` that `validate` reports at the resources' positions. Graph runs: the
planner proves one order (the stable topological one, or a greedy one that closes
windows first) fits the limits when the phases run one at a time; the engine's
`Admission` starts a phase only when it fits and that order, for the phases left, still
fits after the running ones finish (a banker's check), so a run never deadlocks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wfrun.errors import Diagnostic, Position
from wfrun.planner.model import Names
from wfrun.spec.model import Workflow


@dataclass(frozen=True, kw_only=True, slots=True)
class Window:
    """Graph runs: when a resource may be alive, as phases (and DAG levels to draw)."""

    first: Names  # consumers no other consumer must precede: it starts with one of them
    last: Names  # consumers no other consumer must follow: it stops after all of them
    levels: tuple[int, int]  # first and last DAG level it may be alive at
    open_end: bool  # a phase may spawn a template that uses it: alive to the run's end


@dataclass(frozen=True, kw_only=True, slots=True)
class Limit:
    """At most `limit` of `members` alive at once (`key` is a resource type or a pool)."""

    key: str
    limit: int
    members: Names  # acquired resources of that type or pool, in start order
    source: str  # "file" or "command line"


@dataclass(frozen=True, kw_only=True, slots=True)
class Split:
    """A sequential plan stops `resource` after `stop_after` and starts it before
    `start_before`: it is unused in between, and a limit needs the room."""

    resource: str
    stop_after: int
    start_before: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    """A point where a limit cannot be kept: nothing alive there may be stopped."""

    point: int
    phase: str
    key: str
    limit: int
    alive: Names  # the limit's resources alive at that point
    needed: Names  # of those, the ones the phase itself uses

    @property
    def message(self) -> str:
        alive = ", ".join(self.alive)
        return (
            f"limit {self.key}: {self.limit} is exceeded at phase {self.phase!r}"
            f" (point {self.point}): {len(self.alive)} alive there ({alive})"
        )

    @property
    def hint(self) -> str:
        if len(self.needed) > self.limit:
            return (
                f"phase {self.phase!r} alone uses {len(self.needed)}: raise the limit"
                f" to {len(self.needed)} or split the phase"
            )
        spare = [r for r in self.alive if r not in self.needed]
        return (
            f"mark one of {', '.join(spare)} `restart: allowed` (it is stopped and started"
            f" again around {self.phase!r}), or raise the limit to {len(self.alive)}"
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Queue:
    """Graph runs: a phase that may wait for capacity, and the resources it may wait on."""

    phase: str
    key: str
    limit: int
    contenders: Names  # the limit's resources that may be alive when it is ready


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """The capacity part of a plan."""

    levels: tuple[int, ...]  # per point: its DAG level (sequential: the point itself)
    windows: Mapping[str, Window]  # graph: per acquired resource (sequential: empty)
    upper_bound: int  # no run has more resources alive at once
    bound_set: Names  # resources that may all be alive at once: `upper_bound` of them
    limits: tuple[Limit, ...]
    splits: tuple[Split, ...]  # sequential: lifetimes split to keep the limits
    safe_order: Names  # graph with limits: an order proven to fit them, one at a time
    queues: tuple[Queue, ...]  # graph with limits: phases that may wait for capacity
    problems: tuple[Problem, ...]  # limits no plan keeps: `validate` reports them
    unknown_limits: Names  # limit keys naming no resource type or pool in the file
    before: Mapping[str, list[str]]  # graph: per resource, those it ends before

    def bound_of(self, members: Sequence[str], live: Sequence[set[str]]) -> int:
        """The most of `members` any run has alive at once: graph, the width of the
        order restricted to them; sequential, the most alive at one point (`live`)."""
        if self.windows:
            keep = set(members)
            before = {a: [b for b in bs if b in keep] for a, bs in self.before.items()}
            return len(width([m for m in members if m in self.windows], before))
        return max((len(alive.intersection(members)) for alive in live), default=0)

    def as_dict(self, order: Names) -> dict[str, object]:
        return {
            "upper_bound": self.upper_bound,
            "bound_resources": list(self.bound_set),
            "limits": [
                {"key": li.key, "limit": li.limit, "resources": list(li.members), "from": li.source}
                for li in self.limits
            ],
            "splits": [
                {
                    "resource": s.resource,
                    "stop_after": s.stop_after,
                    "stop_after_phase": order[s.stop_after],
                    "start_before": s.start_before,
                    "start_before_phase": order[s.start_before],
                }
                for s in self.splits
            ],
            "safe_order": list(self.safe_order),
            "queues": [
                {"phase": q.phase, "limit": q.key, "max": q.limit, "contenders": list(q.contenders)}
                for q in self.queues
            ],
            "problems": [
                {
                    "point": p.point,
                    "phase": p.phase,
                    "limit": p.key,
                    "max": p.limit,
                    "alive": list(p.alive),
                    "message": p.message,
                    "hint": p.hint,
                }
                for p in self.problems
            ],
        }


def limits_of(
    workflow: Workflow, acquired: Names, extra: Mapping[str, int] | None
) -> tuple[tuple[Limit, ...], Names]:
    """The limits in force (the command line wins over the file) and unknown keys."""
    merged = {**{k: (v, "file") for k, v in workflow.limits.items()}}
    for key, value in (extra or {}).items():
        merged[key] = (value, "command line")
    resources = workflow.resources
    known = {r.type for r in resources.values()} | {r.pool for r in resources.values() if r.pool}
    limits = tuple(
        Limit(
            key=key,
            limit=value,
            members=tuple(r for r in acquired if key in (resources[r].type, resources[r].pool)),
            source=source,
        )
        for key, (value, source) in merged.items()
    )
    return limits, tuple(key for key in merged if key not in known)


def levels_of(order: Names, needs: Sequence[Names]) -> tuple[int, ...]:
    """Each point's DAG level: 0 without needs, else one more than its deepest need."""
    at = {name: i for i, name in enumerate(order)}
    levels: list[int] = []
    for own in needs:
        levels.append(1 + max((levels[at[n]] for n in own), default=-1))
    return tuple(levels)


# -- graph: the bound ------------------------------------------------------------------


def graph_relation(
    order: Names,
    needs: Sequence[Names],
    consumers: Mapping[str, list[int]],
    open_end: set[str],
) -> tuple[dict[str, Window], dict[str, list[str]], tuple[int, ...]]:
    """Windows, and per resource the resources it ends before (the `<` order).

    Reachability as bit sets over the consumer points only, built in one topological
    pass: memory O(points x consumer points / 8), time O(edges x that / 64).
    """
    at = {name: i for i, name in enumerate(order)}
    levels = levels_of(order, needs)
    consuming = sorted({i for points in consumers.values() for i in points})
    bit = {p: 1 << k for k, p in enumerate(consuming)}
    ancestors: list[int] = []  # per point: consumer points strictly before it
    for own in needs:
        mask = 0
        for need in own:
            j = at[need]
            mask |= ancestors[j] | bit.get(j, 0)
        ancestors.append(mask)
    windows: dict[str, Window] = {}
    mask_of: dict[str, int] = {}
    common: dict[str, int] = {}
    for r, points in consumers.items():
        full = 0
        for p in points:
            full |= bit[p]
        first = [p for p in points if not ancestors[p] & full]
        reached = 0
        for p in points:
            reached |= ancestors[p]
        last = [p for p in points if not reached & bit[p]]
        mask_of[r] = full
        both = -1
        for p in first:
            both &= ancestors[p]
        common[r] = both
        end = max(levels) if r in open_end else max(levels[p] for p in last)
        windows[r] = Window(
            first=tuple(order[p] for p in first),
            last=tuple(order[p] for p in last),
            levels=(min(levels[p] for p in first), end),
            open_end=r in open_end,
        )
    before: dict[str, list[str]] = {r: [] for r in consumers}
    names = list(consumers)
    for a in names:
        if a in open_end:
            continue
        mask = mask_of[a]
        before[a] = [b for b in names if b != a and common[b] & mask == mask]
    return windows, before, levels


def width(names: Sequence[str], before: Mapping[str, list[str]]) -> Names:
    """A largest antichain of `before` (a transitive strict order): Dilworth via
    Hopcroft-Karp, then König's cover; the antichain is what neither side covers."""
    import networkx as nx  # noqa: PLC0415 - costly to import; only a bound needs it

    graph: nx.Graph[tuple[int, str]] = nx.Graph()
    left = [(0, r) for r in names]
    graph.add_nodes_from(left)
    graph.add_nodes_from((1, r) for r in names)
    graph.add_edges_from(((0, a), (1, b)) for a in names for b in before.get(a, ()))
    if graph.number_of_edges() == 0:
        return tuple(names)
    matching = nx.bipartite.hopcroft_karp_matching(graph, top_nodes=left)
    # König in one pass (networkx's `to_vertex_cover` walks once per vertex: quadratic):
    # Z = what alternating paths from unmatched left vertices reach; the cover is
    # (left - Z) + (right & Z), so the antichain is left in Z whose right copy is not.
    reached = {v for v in left if v not in matching}
    stack = list(reached)
    while stack:
        v = stack.pop()
        for w in graph[v]:  # left -> right by any edge not in the matching
            if w in reached or matching.get(v) == w:
                continue
            reached.add(w)
            back = matching.get(w)  # right -> left by its matching edge
            if back is not None and back not in reached:
                reached.add(back)
                stack.append(back)
    return tuple(r for r in names if (0, r) in reached and (1, r) not in reached)


# -- limits: sequential splits ---------------------------------------------------------


def split_for_limits(
    order: Names,
    holds: Sequence[Names],
    limits: Sequence[Limit],
    workflow: Workflow,
    rank: Mapping[str, int],
) -> tuple[list[Split], list[Problem]]:
    """Sweep the points; where a limit is exceeded, stop the restartable resource whose
    next use is farthest (Belady) after its previous use. O(points x alive) per limit."""
    uses: defaultdict[str, list[int]] = defaultdict(list)
    for i, own in enumerate(holds):
        for r in own:
            uses[r].append(i)
    groups = [(li, set(li.members)) for li in limits]
    needs = {r: set(workflow.resources[r].needs) for r in uses}
    live: set[str] = set()
    splits: list[Split] = []
    problems: list[Problem] = []
    reported: set[str] = set()
    cursor = dict.fromkeys(uses, 0)  # index into uses[r] of its next use at or after i
    for i, own in enumerate(holds):
        need = set(own)
        for r in need:
            live.add(r)
            cursor[r] += 1  # now points past i
        for li, members in groups:
            alive = live & members
            while len(alive) > li.limit:
                victim = _farthest(alive - need, live, needs, uses, cursor, workflow, rank)
                if victim is None:
                    if li.key not in reported:
                        reported.add(li.key)
                        problems.append(
                            Problem(
                                point=i,
                                phase=order[i],
                                key=li.key,
                                limit=li.limit,
                                alive=tuple(sorted(alive, key=rank.__getitem__)),
                                needed=tuple(sorted(alive & need, key=rank.__getitem__)),
                            )
                        )
                    break
                k = cursor[victim]
                splits.append(
                    Split(
                        resource=victim,
                        stop_after=uses[victim][k - 1],
                        start_before=uses[victim][k],
                    )
                )
                live.discard(victim)
                alive.discard(victim)
        for r in [r for r in live if cursor[r] == len(uses[r])]:
            live.discard(r)  # its last use is behind: the ledger stops it
    splits.sort(key=lambda s: (s.stop_after, -rank[s.resource]))
    return splits, problems


def _farthest(
    candidates: set[str],
    live: set[str],
    needs: Mapping[str, set[str]],
    uses: Mapping[str, list[int]],
    cursor: Mapping[str, int],
    workflow: Workflow,
    rank: Mapping[str, int],
) -> str | None:
    """The restartable candidate used again last, that no live resource needs."""
    needed = {n for r in live for n in needs[r]}
    best: tuple[int, int] | None = None
    found: str | None = None
    for r in candidates:
        if not workflow.resources[r].restart or r in needed or cursor[r] >= len(uses[r]):
            continue
        key = (uses[r][cursor[r]], rank[r])
        if best is None or key > best:
            best, found = key, r
    return found


# -- limits: graph order ---------------------------------------------------------------


def order_fits(order: Sequence[int], holds: Sequence[Names], limits: Sequence[Limit]) -> bool:
    """Whether running the points in `order`, one at a time, keeps every limit (a
    resource is alive from its first holder's start to its last holder's end)."""
    return not over_limits(order, holds, limits)


def over_limits(
    order: Sequence[int], holds: Sequence[Names], limits: Sequence[Limit]
) -> list[tuple[int, Limit, list[str]]]:
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for k, i in enumerate(order):
        for r in holds[i]:
            first.setdefault(r, k)
            last[r] = k
    found: list[tuple[int, Limit, list[str]]] = []
    for li in limits:
        opens: defaultdict[int, list[str]] = defaultdict(list)
        closes: defaultdict[int, int] = defaultdict(int)
        for r in li.members:
            if r in first:
                opens[first[r]].append(r)
                closes[last[r]] += 1
        alive: list[str] = []
        count = 0
        for k in range(len(order)):
            alive += opens.get(k, [])
            count += len(opens.get(k, []))
            if count > li.limit:
                found.append((order[k], li, [r for r in alive if last[r] >= k]))
                break
            count -= closes.get(k, 0)
    return found


def greedy_order(needs: Sequence[Names], order: Names, holds: Sequence[Names]) -> list[int]:
    """A topological order that prefers phases opening nothing new, then those that
    close the most: finishes windows before opening others (ties: stable order)."""
    at = {name: i for i, name in enumerate(order)}
    waiting = [len(own) for own in needs]
    dependents: defaultdict[int, list[int]] = defaultdict(list)
    for i, own in enumerate(needs):
        for n in own:
            dependents[at[n]].append(i)
    left: defaultdict[str, int] = defaultdict(int)
    for own in holds:
        for r in own:
            left[r] += 1
    opened: set[str] = set()
    ready = [i for i, w in enumerate(waiting) if not w]
    out: list[int] = []
    while ready:

        def cost(i: int) -> tuple[int, int, int]:
            new = sum(r not in opened for r in holds[i])
            closing = sum(left[r] == 1 for r in holds[i])
            return (new, -closing, i)

        best = min(ready, key=cost)
        ready.remove(best)
        out.append(best)
        for r in holds[best]:
            opened.add(r)
            left[r] -= 1
        for d in dependents.get(best, ()):
            waiting[d] -= 1
            if not waiting[d]:
                ready.append(d)
    return out


def queues_of(
    order: Names,
    holds: Sequence[Names],
    limits: Sequence[Limit],
    before: Mapping[str, list[str]],
) -> list[Queue]:
    """Phases holding a limited resource that may be alive with more than the limit's
    worth of its members: they may wait for capacity."""
    found: list[Queue] = []
    after: defaultdict[str, set[str]] = defaultdict(set)
    for a, bs in before.items():
        for b in bs:
            after[b].add(a)
    for li in limits:
        members = set(li.members)
        for i, own in enumerate(holds):
            mine = [r for r in own if r in members]
            if not mine:
                continue
            may = {
                r
                for r in li.members
                if r in mine or all(r not in before.get(h, ()) and r not in after[h] for h in mine)
            }
            if len(may) > li.limit:
                found.append(
                    Queue(
                        phase=order[i],
                        key=li.key,
                        limit=li.limit,
                        contenders=tuple(r for r in li.members if r in may),
                    )
                )
    return found


def diagnostics(capacity: Capacity, workflow: Workflow) -> list[Diagnostic]:
    """Limits no plan keeps, at the positions of the resources involved (and unknown
    limit keys of the file at their own): what `validate` reports."""
    places = workflow.places
    start = Position(str(workflow.file), 1, 1)
    found: list[Diagnostic] = []
    known = sorted(
        {r.type for r in workflow.resources.values()}
        | {r.pool for r in workflow.resources.values() if r.pool}
    )
    for key in capacity.unknown_limits:
        if key in workflow.limits:
            message = f"limit {key!r} names no resource type or pool of this workflow"
            hint = f"known: {', '.join(known)}" if known else "declare resources first"
            found.append(Diagnostic(places.get(f"limits.{key}", start), message, hint))
    for problem in capacity.problems:
        for r in problem.alive:
            where = places.get(f"resources.{r}", start)
            found.append(Diagnostic(where, problem.message, problem.hint))
    return found
