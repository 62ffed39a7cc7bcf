"""Needs as a graph: cycles, and who needs whom (directly or not), for the checks.

Iterative throughout: a chain of 10,000 needs must not hit the recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class Needed:
    """Which entries each entry needs, directly or not, as bitsets (Python ints).

    Built once per section in O(entries x edges / 64) word operations: walking the needs
    afresh for each `if:` took 90 s on a chain of 8,000 phases. Entries on a cycle
    (reported on its own) need each other, and themselves.
    """

    def __init__(self, needs: Mapping[str, list[str]]) -> None:
        succ: dict[str, dict[str, None]] = {name: {} for name in needs}
        for name, wanted in needs.items():
            for need in wanted:  # needed names whose own entry is invalid count too
                succ[name][need] = None
                succ.setdefault(need, {})
        self.bit = {name: 1 << i for i, name in enumerate(succ)}
        self._below: dict[str, int] = {}
        full: dict[str, int] = {}  # a name's part's bits and all they need
        for members in _strong_parts(succ):  # needs come first
            part = set(members)
            within = sum(self.bit[name] for name in members)
            cyclic = len(members) > 1 or members[0] in succ[members[0]]
            reach = within if cyclic else 0
            for name in members:
                for need in succ[name]:
                    if need not in part:
                        reach |= full[need]
            for name in members:
                self._below[name] = reach
                full[name] = within | reach

    def of(self, name: str, other: str) -> bool:
        """True if `name` needs `other`, directly or through others."""
        return bool(self._below.get(name, 0) & self.bit.get(other, 0))


def find_cycle(needs: Mapping[str, list[str]]) -> list[str] | None:
    """The first cycle a depth-first search meets, as `[a, b, ..., a]`; None if there is none.

    Nodes in order of first appearance among the edges, edges in `needs:` order (the
    order networkx's `find_cycle` walked, so the reported cycle stays the same).
    Iterative: a chain of 10,000 needs must not hit the recursion limit.
    """
    succ: dict[str, dict[str, None]] = {}
    for name, wanted in needs.items():
        for need in wanted:
            if need in needs and need != name:
                succ.setdefault(name, {})[need] = None
                succ.setdefault(need, {})
    active, done = 1, 2
    state: dict[str, int] = {}
    for start, first in succ.items():
        if start in state:
            continue
        path, walks = [start], [iter(first)]
        state[start] = active
        while walks:
            following = next(walks[-1], None)
            if following is None:
                state[path.pop()] = done
                walks.pop()
            elif state.get(following) == active:
                return [*path[path.index(following) :], following]
            elif following not in state:
                state[following] = active
                path.append(following)
                walks.append(iter(succ[following]))
    return None


def _strong_parts(succ: Mapping[str, Mapping[str, None]]) -> Iterator[list[str]]:
    """Strongly connected parts (Tarjan, iterative), each after every part it needs."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root, first in succ.items():
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        walks = [(root, iter(first))]
        while walks:
            node, walk = walks[-1]
            for following in walk:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    walks.append((following, iter(succ[following])))
                    break
                if following in on_stack:
                    low[node] = min(low[node], index[following])
            else:
                walks.pop()
                if walks:
                    parent = walks[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    members: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    yield members
