"""How the planner and the ledger scale, against a bare floor and the seed's old approach.

Random workflows: P phases, R = P/10 resources, 5 uses per phase (in each phase's
`resources:`), a fifth of the resources needing an earlier-declared one. Variants:

    uniform   each use picks any resource: ~50 consumers per resource
    single    90% of the resources have exactly one consumer; the rest are hot
    graph     uniform uses, `execution: graph`, each phase needing up to 2 of the 50
              phases before it, declared after what it needs (as files usually are)
    shuffled  graph, declared in random order: the general topological sort runs

Columns, in microseconds per phase (best of --repeats runs, garbage collector on; floor,
plan and ledger take turns, so a busy machine slows them alike):

    floor     one pass over each phase's declared uses recording first and last index:
              no closure over needs, no ordering, no output; nothing can be cheaper
    plan      `plan_workflow`, the whole static plan
    views     first access to `plan.steps` and `plan.uses` (built lazily: display only)
    ledger    `Ledger(plan)` plus a `finished` event per phase, in order
    old       the seed design: acquire at phase start; at phase end, for every resource
              it holds, scan every still-pending phase for another user (quadratic);
              run only when the estimate (c * P^2 from the size before) is under --budget

    python benchmarks/planner_scale.py           # P = 1e3, 1e4, 1e5
    python benchmarks/planner_scale.py --quick   # P = 1e2, 1e3, 1e4
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from wfrun.planner import Ledger, Plan, ResourceIndex, plan_workflow
from wfrun.spec.model import Agent, Phase, Resource, Workflow

USES = 5
AGENTS = 10
VARIANTS = ("uniform", "single", "graph", "shuffled")


def make_workflow(phases: int, variant: str, seed: int = 1) -> Workflow:
    """A random workflow of the given shape; same arguments, same workflow."""
    rng = random.Random(seed)
    count = max(USES, phases // 10)
    names = [f"r{i}" for i in range(count)]
    resources = {}
    for i, name in enumerate(names):
        needs = (names[rng.randrange(i)],) if i and rng.random() < 0.2 else ()
        resources[name] = Resource(name=name, type="memory", needs=needs)
    agents = {f"a{i}": Agent(name=f"a{i}", type="shell") for i in range(AGENTS)}
    uses = _uses(rng, phases, names, single=variant == "single")
    listed = []
    for i, chosen in enumerate(uses):
        after: tuple[str, ...] = ()
        if variant in ("graph", "shuffled") and i:
            after = tuple({f"p{rng.randrange(max(0, i - 50), i)}" for _ in range(2)})
        listed.append(
            Phase(name=f"p{i}", agents=(f"a{i % AGENTS}",), resources=tuple(chosen), needs=after)
        )
    if variant == "shuffled":
        rng.shuffle(listed)
    return Workflow(
        name=f"{variant}-{phases}",
        file=Path("bench.yaml"),
        resources=resources,
        agents=agents,
        phases={phase.name: phase for phase in listed},
        execution="graph" if variant in ("graph", "shuffled") else "sequential",
    )


def _uses(rng: random.Random, phases: int, names: list[str], *, single: bool) -> list[list[str]]:
    """USES distinct resources per phase; with `single`, 90% of resources used once."""
    if not single:
        return [rng.sample(names, USES) for _ in range(phases)]
    hot = names[: max(USES, len(names) // 10)]
    uses: list[list[str]] = [[] for _ in range(phases)]
    for name in names[len(hot) :]:
        uses[rng.randrange(phases)].append(name)
    out = []
    for own in uses:
        kept = own[: USES - 1]  # leave room for at least one hot resource
        out.append(kept + rng.sample([h for h in hot if h not in kept], USES - len(kept)))
    return out


def floor(workflow: Workflow) -> tuple[dict[str, int], dict[str, int]]:
    """First and last use of each declared use in one pass: the least a planner must do."""
    agents = workflow.agents
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, phase in enumerate(workflow.phases.values()):
        for r in phase.resources:
            if r not in first:
                first[r] = i
            last[r] = i
        for agent in phase.agents:
            for r in agents[agent].requires:
                if r not in first:
                    first[r] = i
                last[r] = i
    return first, last


def old_approach(workflow: Workflow) -> list[str]:
    """The seed design, faithfully: at each phase end, re-check every pending phase."""
    index = ResourceIndex(workflow)
    pending = {name: set(index.closed(index.named(p))) for name, p in workflow.phases.items()}
    live: set[str] = set()
    released: list[str] = []
    for name in list(pending):
        holds = pending.pop(name)
        live.update(holds)  # acquire at phase start
        for r in holds:  # phase end: does any pending phase still need r?
            if not any(r in other for other in pending.values()):
                live.discard(r)
                released.append(r)
    return released


def run_ledger(plan: Plan) -> int:
    """A full run's bookkeeping: build the ledger, finish every phase in order."""
    ledger = Ledger(plan)
    finished = ledger.finished
    return sum(len(finished(name).resources) for name in plan.order)


def views(workflow: Workflow) -> Callable[[], object]:
    """A fresh plan (untimed), and a call that builds its lazy views (timed)."""
    plan = plan_workflow(workflow)
    return lambda: (plan.steps, plan.uses)


def best_interleaved(funcs: list[Callable[[], object]], repeats: int) -> list[float]:
    """`best_of` for several calls taking turns, so that a busy machine (other processes
    on the same cores) slows all of them alike and their ratios stay meaningful."""
    best = [float("inf")] * len(funcs)
    for _ in range(repeats):
        for k, func in enumerate(funcs):
            gc.collect()
            start = time.perf_counter()
            func()
            best[k] = min(best[k], time.perf_counter() - start)
    return best


def best_of(func: Callable[[], object], repeats: int) -> float:
    """Best wall time of `repeats` calls, in seconds, each after a full collection."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def best_fresh(make: Callable[[], Callable[[], object]], repeats: int) -> float:
    """Like `best_of`, for calls that only do their work once (cached properties)."""
    best = float("inf")
    for _ in range(repeats):
        func = make()
        gc.collect()
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="P = 1e2, 1e3, 1e4")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds for one old run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variant", choices=VARIANTS, action="append")
    args = parser.parse_args(argv)
    sizes = [100, 1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]

    header = (
        f"{'variant':<8} {'P':>7} {'R':>6} {'floor':>6} {'plan':>6} {'views':>6} "
        f"{'ledger':>6} {'old':>9} {'plan/floor':>10} {'old/plan':>9} {'plan s':>7}"
    )
    print(f"microseconds per phase, best of {args.repeats}")
    print(header)
    print("-" * len(header))
    for variant in args.variant or VARIANTS:
        old_per_p2 = 0.0  # seconds / P^2 at the last size the old approach ran
        for phases in sizes:
            workflow = make_workflow(phases, variant)
            plan = plan_workflow(workflow)
            floor_s, plan_s, ledger_s = best_interleaved(
                [
                    partial(floor, workflow),
                    partial(plan_workflow, workflow),
                    partial(run_ledger, plan),
                ],
                args.repeats,
            )
            views_s = best_fresh(partial(views, workflow), min(args.repeats, 3))
            estimate = old_per_p2 * phases**2
            if estimate > args.budget:
                old = f"~{estimate / phases * 1e6:.0f}*"
                ratio = f"~{estimate / plan_s:.0f}*"
            else:
                old_s = best_of(partial(old_approach, workflow), 1)
                old_per_p2 = old_s / phases**2
                old = f"{old_s / phases * 1e6:.1f}"
                ratio = f"{old_s / plan_s:.1f}"
            us = 1e6 / phases
            print(
                f"{variant:<8} {phases:>7} {len(workflow.resources):>6} {floor_s * us:>6.2f} "
                f"{plan_s * us:>6.2f} {views_s * us:>6.2f} {ledger_s * us:>6.2f} {old:>9} "
                f"{plan_s / floor_s:>10.1f} {ratio:>9} {plan_s:>7.3f}"
            )
    print(f"* old: skipped, its estimate exceeded {args.budget:.0f} s; value extrapolated (c*P^2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
