"""The run-time ledger: reference counts that say when to release each resource.

Per resource it keeps the number of holders not yet finished or skipped. A phase holds
its plan `holds`: its own resource set (closed over `needs`, so a needed resource is held
by every holder of its dependents and reaches zero no earlier than they do) plus the
resources of the templates it may spawn, so nothing a future spawn needs is released
while the spawner is pending. A spawned phase holds its template's `holds`. When a
phase is finished or skipped its holdings are decremented; those that reach zero are
released, dependents first. Every event costs O(that phase's holdings): no scan over
the other phases or resources (the seed design's quadratic re-check).

The ledger is pure bookkeeping: it never starts or stops anything, the engine does.
"""

from __future__ import annotations

from collections import Counter
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
    """Counts pending holders per resource; releases each one when its count hits zero.

    Contract with the engine: report every phase exactly once as `finished` or
    `skipped`, and report a spawn (`spawned`) while its spawner is still pending.
    """

    __slots__ = ("_count", "_done", "_pending", "_rank", "_released", "_templates")

    def __init__(self, plan: Plan) -> None:
        self._pending: dict[str, tuple[str, ...]] = dict(
            zip(plan.order, plan.columns.holds, strict=True)
        )
        self._rank = plan.rank.__getitem__
        self._count: dict[str, int] = dict(Counter(chain.from_iterable(self._pending.values())))
        self._templates = {name: t.holds for name, t in plan.templates.items()}
        self._done: set[str] = set()
        self._released: set[str] = set()

    @classmethod
    def from_plan(cls, plan: Plan) -> Ledger:
        """Same as `Ledger(plan)`; reads better at call sites that build from a plan."""
        return cls(plan)

    def finished(self, phase: str) -> Release:
        """`phase` is done (whatever its outcome): release what nobody else holds."""
        holds = self._pending.pop(phase, None)
        if holds is None:
            state = "already reported" if phase in self._done else "not a phase of this run"
            msg = f"phase {phase!r} is {state}"
            raise LedgerError(msg)
        self._done.add(phase)
        count = self._count
        out: list[str] = []
        for r in holds:
            left = count[r] - 1
            count[r] = left
            if not left:
                out.append(r)
        if not out:
            return _NOTHING  # most events release nothing: no new object
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
        count = self._count
        again: list[str] = []
        for r in holds:
            held = count.get(r, 0)
            if not held:
                again.append(r)
            count[r] = held + 1
        self._released.difference_update(again)
        self._pending[as_phase] = holds
        return Reacquire(tuple(again))

    def holders(self, resource: str) -> int:
        """Pending phases holding `resource` (0: released, or never acquired)."""
        return self._count.get(resource, 0)

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
