"""Graph plans with the bound (issue 15): time, growth, and what each method holds.

Branchy graphs: P phases in stages; a stage is a fork phase, B = 8 parallel chains of
L = 4 phases, and a join phase (34 phases). R = P/100 resources (services are few and
expensive), each used by 2 consecutive phases of one random chain of one random stage.
Phases are declared level by level, as Kahn's algorithm orders them.

Columns:

    plan s      `plan_workflow`, the whole plan including the bound (best of --repeats)
    bound s     of that, `graph_relation` + `width` (the windows, the order, Dilworth)
    bound       the upper bound: most resources any run can have alive at once
    used        resource x phase units actually used: sum of consumers
    dag         units of the DAG windows: per resource, phases on the levels it may
                be alive at (what can run beside it)
    topo        units of (first, last) index intervals over one topological order
                (BountyBench's method; the plan's `units_held`)
    all         resources x phases: everything alive all run

    python benchmarks/planner_graph.py            # P = 1e3, 1e4, 1e5
    python benchmarks/planner_graph.py --quick    # P = 1e2, 1e3, 1e4
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from wfrun.planner import capacity as cap
from wfrun.planner import plan_workflow
from wfrun.spec.model import Phase, Resource, Workflow

CHAINS = 8
LENGTH = 4


def make_workflow(phases: int, seed: int = 1) -> Workflow:
    rng = random.Random(seed)
    stages = max(1, phases // (CHAINS * LENGTH + 2))
    count = max(1, phases // 100)
    users: dict[tuple[int, int, int], list[str]] = {}
    for i in range(count):
        at = (rng.randrange(stages), rng.randrange(CHAINS), rng.randrange(LENGTH - 1))
        for step in (0, 1):
            users.setdefault((at[0], at[1], at[2] + step), []).append(f"r{i}")
    declared: dict[str, Phase] = {}
    join = ""
    for s in range(stages):
        fork = f"s{s}fork"
        declared[fork] = Phase(name=fork, agents=(), needs=(join,) if join else ())
        for k in range(LENGTH):  # level by level
            for c in range(CHAINS):
                name = f"s{s}c{c}k{k}"
                need = fork if k == 0 else f"s{s}c{c}k{k - 1}"
                own = tuple(users.get((s, c, k), ()))
                declared[name] = Phase(name=name, agents=(), needs=(need,), resources=own)
        join = f"s{s}join"
        ends = tuple(f"s{s}c{c}k{LENGTH - 1}" for c in range(CHAINS))
        declared[join] = Phase(name=join, agents=(), needs=ends)
    resources = {f"r{i}": Resource(name=f"r{i}", type="process") for i in range(count)}
    return Workflow(
        name="branchy",
        file=Path("branchy.yaml"),
        execution="graph",
        resources=resources,
        phases=declared,
    )


def best(func: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        func()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = (100, 1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    header = f"{'P':>7} {'R':>5} {'plan s':>8} {'bound s':>8} {'bound':>5}"
    header += f" {'used':>6} {'dag':>8} {'topo':>10} {'all':>12}"
    print(header)
    previous = 0.0
    for size in sizes:
        workflow = make_workflow(size)
        plan = plan_workflow(workflow)
        spent = best(lambda w=workflow: plan_workflow(w), args.repeats)
        holds = [s.holds for s in plan.steps]
        consumers: dict[str, list[int]] = {r: [] for r in plan.resources}
        for i, own in enumerate(holds):
            for r in own:
                consumers[r].append(i)
        needs = [s.needs for s in plan.steps]

        def bound(
            c: dict[str, list[int]] = consumers,
            n: list[tuple[str, ...]] = needs,
            order: tuple[str, ...] = plan.order,
        ) -> None:
            _, before, _ = cap.graph_relation(order, n, c, set())
            cap.width(list(c), before)

        bound_s = best(bound, args.repeats)
        levels = plan.capacity.levels
        per_level: dict[int, int] = {}
        for level in levels:
            per_level[level] = per_level.get(level, 0) + 1
        dag = sum(
            sum(per_level[v] for v in range(w.levels[0], w.levels[1] + 1))
            for w in plan.capacity.windows.values()
        )
        used = sum(len(c) for c in consumers.values())
        growth = f"  (x{spent / previous:.1f})" if previous else ""
        print(
            f"{len(plan.order):>7} {len(plan.resources):>5} {spent:>8.3f} {bound_s:>8.3f}"
            f" {plan.capacity.upper_bound:>5} {used:>6} {dag:>8} {plan.units_held:>10}"
            f" {plan.units_whole_run:>12}{growth}"
        )
        previous = spent
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
