"""Admission: graph runs start a phase only when the limits stay kept, now and later.

Pure bookkeeping the scheduler calls under its lock; it never starts or stops anything.
It models a resource as alive from the start of its first holder (a phase whose plan
`holds` lists it) until every holder is done: the ledger's rule, so what really lives
is always a subset of what it counts.

`can_admit(phase)` is a banker's check. The phase must fit now; and after admitting
it, a safe sequence must still exist: every running phase finishes (they hold all they
need), then the phases not started yet run one at a time in the planner's proven order
(`Capacity.safe_order`), each fitting. Initially that sequence is the proven order
itself; when nothing runs, the first phase left in it is always admissible (admitting
it keeps the same sequence), so the run never deadlocks. Skips only shorten the
sequence. A check costs O(the holds of the phases left): limits are for expensive
resources, and a run without limits has no `Admission` at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from wfrun.planner import Plan


class Admission:
    """Counts, per limited resource, the holders not yet done; admits phases that fit."""

    def __init__(self, plan: Plan) -> None:
        limits = plan.capacity.limits
        self._limits = [(li.limit, frozenset(li.members)) for li in limits]
        limited = frozenset().union(*(m for _, m in self._limits))
        self._holds: dict[str, tuple[str, ...]] = {
            s.phase: tuple(r for r in s.holds if r in limited) for s in plan.steps
        }
        self._templates = {
            name: tuple(r for r in t.holds if r in limited) for name, t in plan.templates.items()
        }
        self._count: dict[str, int] = {}
        for holds in self._holds.values():
            for r in holds:
                self._count[r] = self._count.get(r, 0) + 1
        self._open: set[str] = set()  # a holder started, some holder not done
        self._running: set[str] = set()
        self._waiting = list(plan.capacity.safe_order or plan.order)  # not started yet
        self._spawned: list[str] = []  # spawned, not started yet: run first in the check

    def can_admit(self, phase: str) -> bool:
        """Whether starting `phase` now keeps every limit and leaves a safe sequence."""
        holds = self._holds.get(phase, ())
        if not holds:
            return True
        alive = self._open | set(holds)
        if not self._fits(alive):
            return False
        count = dict(self._count)
        alive = self._finish(alive, count, (*self._running, phase))
        for name in (*self._spawned, *self._waiting):
            if name == phase:
                continue
            own = self._holds.get(name, ())
            alive |= set(own)
            if not self._fits(alive):
                return False
            alive = self._finish(alive, count, (name,))
        return True

    def admitted(self, phase: str) -> None:
        """`phase` starts: its resources count as alive."""
        self._running.add(phase)
        self._forget(phase)
        self._open.update(self._holds.get(phase, ()))

    def spawned(self, phase: str, template: str) -> None:
        """A spawn added `phase`: it holds its template's resources (its spawner, still
        pending, holds them as well, so none of them was released)."""
        holds = self._templates.get(template, ())
        self._holds[phase] = holds
        for r in holds:
            self._count[r] = self._count.get(r, 0) + 1
        self._spawned.append(phase)

    def done(self, phase: str) -> None:
        """`phase` finished or was skipped: its resources may stop counting."""
        self._running.discard(phase)
        self._forget(phase)
        self._open = self._finish(self._open, self._count, (phase,))

    def _forget(self, phase: str) -> None:
        if phase in self._spawned:
            self._spawned.remove(phase)
        elif phase in self._waiting:
            self._waiting.remove(phase)

    def _finish(self, alive: set[str], count: dict[str, int], phases: Iterable[str]) -> set[str]:
        """Alive after `phases` are done (updates `count`)."""
        out = set(alive)
        for name in phases:
            for r in self._holds.get(name, ()):
                count[r] -= 1
                if not count[r]:
                    out.discard(r)
        return out

    def _fits(self, alive: set[str]) -> bool:
        return all(len(alive & members) <= limit for limit, members in self._limits)
