"""The run-time ledger: reference counts that say when to release each resource.

A phase holds its plan `holds`: what it names itself, plus the resources of the
templates it may spawn, so nothing a future spawn needs is released while the spawner
is pending; a spawned phase holds its template's `holds`. Per resource the ledger
counts the pending phases that hold it, plus the live resources that need it: a needed
resource outlives its dependents, the same liveness as counting every phase whose
closed set holds it, without walking closures per event. When a phase is finished or
skipped its holdings are decremented; those that reach zero are released and let go of
what they need, which may be released in turn; each batch is given dependents first.
Every event costs O(that phase's holdings + what it releases): no scan over the other
phases or resources (the seed design's quadratic re-check).

The ledger is pure bookkeeping: it never starts or stops anything, the engine does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain

from wfrun.planner.model import Plan


@dataclass(frozen=True, slots=True)
class Release:
    """Resources to stop now, in this order (dependents before what they need)."""

    resources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.resources)


@dataclass(frozen=True, slots=True)
class Reacquire:
    """Resources to start again, in this order, before the spawned phase runs.

    They were released earlier, or never started (no listed phase may spawn the template).
    A spawn its spawner declares in `may_spawn` (directly, or through the templates it
    spawns) never needs this: the spawner has held those resources all along.
    """

    resources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.resources)


_NOTHING = Release()


class LedgerError(RuntimeError):
    """The engine reported an impossible event: a bug in the engine, never a user error."""


class Ledger:
    """Counts holders per resource; releases each one when its count hits zero.

    Contract with the engine: report every phase exactly once as `finished` or
    `skipped`, and report a spawn (`spawned`) while its spawner is still pending.
    """

    __slots__ = ("_count", "_done", "_needs", "_pending", "_rank", "_released", "_templates")

    def __init__(self, plan: Plan) -> None:
        # phase -> what it holds directly (what it needs is held through those)
        self._pending = {step.phase: step.direct for step in plan.steps}
        self._needs = plan.resource_needs
        self._count = _counts(self._pending.values(), plan.start_order, self._needs)
        self._rank = plan.rank.__getitem__
        self._templates = {name: t.holds for name, t in plan.templates.items()}
        self._done: set[str] = set()
        self._released: set[str] = set()

    def finished(self, phase: str) -> Release:
        """`phase` is done (whatever its outcome): release what nobody else holds."""
        holds = self._pending.pop(phase, None)
        if holds is None:
            state = "already reported" if phase in self._done else "not a phase of this run"
            msg = f"phase {phase!r} is {state}"
            raise LedgerError(msg)
        self._done.add(phase)
        counts = self._count
        out: list[str] = []
        for r in holds:
            left = counts[r] - 1
            counts[r] = left
            if not left:
                out.append(r)
        if not out:
            return _NOTHING  # most events release nothing: no new object
        k = 0
        while k < len(out):  # a released resource lets go of what it needs (`out` grows)
            for needed in self._needs[out[k]]:
                left = counts[needed] - 1
                counts[needed] = left
                if not left:
                    out.append(needed)
            k += 1
        if len(out) > 1:  # dependents first: their rank is higher
            out.sort(key=self._rank, reverse=True)
        self._released.update(out)
        return Release(tuple(out))

    def skipped(self, phase: str) -> Release:
        """`phase` will never run (its `if:` was false, or an ancestor failed)."""
        return self.finished(phase)

    def spawned(self, template: str, as_phase: str, spawner: str) -> Reacquire:
        """`spawner` added phase `as_phase` from `template`; it holds the template's set."""
        if spawner not in self._pending:
            msg = f"spawner {spawner!r} is not pending: report spawns before it finishes"
            raise LedgerError(msg)
        if as_phase in self._pending or as_phase in self._done:
            msg = f"phase name {as_phase!r} is already taken"
            raise LedgerError(msg)
        holds = self._templates.get(template)
        if holds is None:
            msg = f"unknown template {template!r}"
            raise LedgerError(msg)
        counts = self._count
        again = [r for r in holds if not counts.get(r)]  # start order, as `holds` is
        for r in holds:
            counts[r] = counts.get(r, 0) + 1
        for r in again:  # live again: it holds what it needs (in `holds` too: it is closed)
            for needed in self._needs[r]:
                counts[needed] += 1
        self._released.difference_update(again)
        self._pending[as_phase] = holds
        return Reacquire(tuple(again))

    def holders(self, resource: str) -> int:
        """Pending phases holding `resource`, themselves or through what needs it (0:
        released, or never acquired). A diagnostic: it scans the pending phases."""
        return sum(resource in self._closed(holds) for holds in self._pending.values())

    def _closed(self, holds: tuple[str, ...]) -> set[str]:
        found = set(holds)
        stack = list(holds)
        while stack:
            for needed in self._needs[stack.pop()]:
                if needed not in found:
                    found.add(needed)
                    stack.append(needed)
        return found

    @property
    def pending(self) -> tuple[str, ...]:
        """Phases not yet finished or skipped, listed ones first, then spawned ones."""
        return tuple(self._pending)

    @property
    def released(self) -> frozenset[str]:
        """Resources released so far and not re-acquired since (a copy: O(released))."""
        return frozenset(self._released)

    def __repr__(self) -> str:
        return f"Ledger(pending={len(self._pending)}, released={len(self._released)})"


def _counts(
    holds: Iterable[tuple[str, ...]],
    start_order: tuple[str, ...],
    needs: Mapping[str, tuple[str, ...]],
) -> dict[str, int]:
    """Per resource: phases holding it directly, plus live resources that need it.

    Going backwards through start order settles every resource's dependents before it.
    """
    counts = dict(Counter(chain.from_iterable(holds)))
    for r in reversed(start_order):
        if counts.get(r):
            for needed in needs[r]:
                counts[needed] = counts.get(needed, 0) + 1
    return counts
