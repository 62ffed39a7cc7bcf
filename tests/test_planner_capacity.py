"""Capacity (issue 15) at the planner level, with hypothesis on random DAGs.

A small simulator here runs a plan as the engine does (a resource starts with the first
phase whose set holds it, stops when every phase holding it is done; phases start when
their needs are done, at most `parallel` at once, in a random order with random skips)
and checks: the live count never exceeds the plan's upper bound; with limits, phases
admitted by `Admission` keep every limit and the run never deadlocks; sequential splits
keep the limits, split only `restart: allowed` resources, and keep every resource a
phase uses live at its point.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfrun.engine.capacity import Admission
from wfrun.planner import Plan, plan_workflow
from wfrun.spec.model import Phase, Resource, Workflow

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def workflows(draw: st.DrawFn, execution: str = "graph") -> Workflow:
    """Random resources (types t0/t1, some needing earlier ones, some restartable, some
    in pool `p`), phases holding random sets, random needs on earlier phases."""
    n_res = draw(st.integers(1, 7))
    resources = {}
    for i in range(n_res):
        needs = tuple(
            f"r{j}" for j in range(i) if draw(st.booleans()) and draw(st.integers(0, 3)) == 0
        )
        resources[f"r{i}"] = Resource(
            name=f"r{i}",
            type=draw(st.sampled_from(["t0", "t1"])),
            needs=needs,
            pool="p" if draw(st.booleans()) else None,
            restart=draw(st.booleans()),
        )
    n_phases = draw(st.integers(1, 9))
    phases = {}
    for i in range(n_phases):
        own = tuple(r for r in resources if draw(st.integers(0, 3)) == 0)
        needs = tuple(f"p{j}" for j in range(i) if draw(st.integers(0, 2)) == 0)
        phases[f"p{i}"] = Phase(
            name=f"p{i}", agents=(), resources=own, needs=needs if execution == "graph" else ()
        )
    return Workflow(
        name="wf",
        file=Path("wf.yaml"),
        execution=execution,  # type: ignore[arg-type]
        resources=resources,
        phases=phases,
    )


def simulate(
    plan: Plan,
    rng: random.Random,
    parallel: int,
    admission: Admission | None = None,
) -> list[set[str]]:
    """Run the plan's phases once; return the live set after every start."""
    steps = {s.phase: s for s in plan.steps}
    holders: dict[str, int] = {}
    for s in plan.steps:
        for r in s.holds:
            holders[r] = holders.get(r, 0) + 1
    waiting = {s.phase: len(s.needs) for s in plan.steps}
    dependents: dict[str, list[str]] = {s.phase: [] for s in plan.steps}
    for s in plan.steps:
        for n in s.needs:
            dependents[n].append(s.phase)
    ready = [p for p, w in waiting.items() if not w]
    running: list[str] = []
    live: set[str] = set()
    seen: list[set[str]] = []

    def done(phase: str) -> None:
        for r in steps[phase].holds:
            holders[r] -= 1
            if not holders[r]:
                live.discard(r)
        if admission is not None:
            admission.done(phase)
        for d in dependents[phase]:
            waiting[d] -= 1
            if not waiting[d]:
                ready.append(d)

    while ready or running:
        rng.shuffle(ready)
        started = False
        for phase in list(ready):
            if len(running) >= parallel:
                break
            if rng.random() < 0.2:  # an `if:` that is false: skipped, never started
                ready.remove(phase)
                done(phase)
                started = True
                continue
            if admission is not None and not admission.can_admit(phase):
                continue
            ready.remove(phase)
            if admission is not None:
                admission.admitted(phase)
            running.append(phase)
            live.update(steps[phase].resources)
            assert set(steps[phase].resources) <= live
            seen.append(set(live))
            started = True
        if running and (not started or rng.random() < 0.6):
            done(running.pop(rng.randrange(len(running))))
        elif not running and not started:
            raise AssertionError(f"deadlock: {ready} ready, nothing admissible")
    return seen


@SETTINGS
@given(workflows(), st.integers(1, 4), st.randoms(use_true_random=False))
def test_no_run_exceeds_the_upper_bound(
    workflow: Workflow, parallel: int, rng: random.Random
) -> None:
    plan = plan_workflow(workflow)
    bound = plan.capacity.upper_bound
    assert plan.lower_bound <= bound <= len(plan.resources)
    for alive in simulate(plan, rng, parallel):
        assert len(alive) <= bound, (alive, plan.capacity.bound_set)


@SETTINGS
@given(workflows(), st.integers(1, 4), st.integers(1, 4), st.randoms(use_true_random=False))
def test_admission_keeps_limits_and_never_deadlocks(
    workflow: Workflow, parallel: int, most: int, rng: random.Random
) -> None:
    limits = {"t0": most, "p": max(1, most - 1)}
    plan = plan_workflow(workflow, limits)
    if plan.capacity.problems:  # no order keeps them: validate refuses the run
        assert plan.capacity.safe_order == ()
        return
    members = {li.key: set(li.members) for li in plan.capacity.limits}
    for alive in simulate(plan, rng, parallel, Admission(plan)):
        for li in plan.capacity.limits:
            assert len(alive & members[li.key]) <= li.limit, (li, alive)


def live_sets(plan: Plan) -> list[set[str]]:
    """The live set at each point of a sequential plan, from its start/pause/stop lists."""
    live: set[str] = set()
    out: list[set[str]] = []
    for step in plan.steps:
        live.update(step.start)
        out.append(set(live))
        live.difference_update(step.pause)
        live.difference_update(step.stop)
    return out


@SETTINGS
@given(workflows("sequential"), st.integers(1, 4))
def test_sequential_splits_keep_limits_and_uses(workflow: Workflow, most: int) -> None:
    plan = plan_workflow(workflow, {"t0": most, "p": most})
    capacity = plan.capacity
    sets = live_sets(plan)
    for step, alive in zip(plan.steps, sets, strict=True):
        assert set(step.holds) <= alive  # every resource a phase uses is live at its point
        assert step.live == len(alive)
    for split in capacity.splits:
        assert workflow.resources[split.resource].restart  # only `restart: allowed` splits
        assert split.stop_after < split.start_before
    if not capacity.problems:
        for alive in sets:
            for li in capacity.limits:
                assert len(alive & set(li.members)) <= li.limit
        assert capacity.upper_bound == max((len(a) for a in sets), default=0)
    else:  # nothing restartable was left to stop at the reported point
        problem = capacity.problems[0]
        assert len(problem.alive) > problem.limit


@SETTINGS
@given(workflows("sequential"))
def test_without_restarts_a_limit_is_kept_or_reported(workflow: Workflow) -> None:
    fixed = replace(
        workflow,
        resources={n: replace(r, restart=False) for n, r in workflow.resources.items()},
    )
    plan = plan_workflow(fixed, {"t0": 1})
    assert plan.capacity.splits == ()
    over = any(len(alive & set(plan.capacity.limits[0].members)) > 1 for alive in live_sets(plan))
    assert bool(plan.capacity.problems) == over


def test_four_branches_bound_is_four_and_json_documents_it() -> None:
    resources = {f"s{i}": Resource(name=f"s{i}", type="process") for i in range(4)}
    phases: dict[str, Phase] = {
        f"b{i}": Phase(name=f"b{i}", agents=(), resources=(f"s{i}",)) for i in range(4)
    }
    phases["end"] = Phase(name="end", agents=(), needs=tuple(phases))
    workflow = Workflow(
        name="four", file=Path("four.yaml"), execution="graph", resources=resources, phases=phases
    )
    plan = plan_workflow(workflow)
    assert plan.peak == 1  # one topological order's view: what the issue complained of
    assert plan.capacity.upper_bound == 4
    data: Mapping[str, Any] = json.loads(json.dumps(plan.as_dict()))["capacity"]
    assert data["upper_bound"] == 4
    assert data["levels"] == [0, 0, 0, 0, 1]
    assert data["windows"]["s0"] == {"first": ["b0"], "last": ["b0"], "open_end": False}


def test_admission_refuses_the_start_that_would_deadlock() -> None:
    """a uses r1; d uses r2; c uses r1 and needs d; at most one alive. Starting a first
    fits, but then d can never fit (r1 waits for c, c waits for d): a banker's check
    starts d first (the planner's proven order), or a only after d."""
    resources = {r: Resource(name=r, type="t0") for r in ("r1", "r2")}
    phases = {
        "a": Phase(name="a", agents=(), resources=("r1",)),
        "d": Phase(name="d", agents=(), resources=("r2",)),
        "c": Phase(name="c", agents=(), resources=("r1",), needs=("d",)),
    }
    workflow = Workflow(
        name="w", file=Path("w.yaml"), execution="graph", resources=resources, phases=phases
    )
    plan = plan_workflow(workflow, {"t0": 1})
    assert plan.capacity.problems == ()
    assert plan.capacity.safe_order == ("d", "a", "c")
    admission = Admission(plan)
    assert not admission.can_admit("a")  # it fits, but leaves no safe sequence
    assert admission.can_admit("d")
    for seed in range(50):
        simulate(plan, random.Random(seed), 2, Admission(plan))


@SETTINGS
@given(workflows())
def test_upper_bound_is_the_largest_antichain_brute_force(workflow: Workflow) -> None:
    """Against an oracle: networkx reachability, every subset of resources tried."""
    plan = plan_workflow(workflow)
    dag: nx.DiGraph[str] = nx.DiGraph()
    dag.add_nodes_from(plan.order)
    dag.add_edges_from((n, s.phase) for s in plan.steps for n in s.needs)
    below = {p: nx.descendants(dag, p) for p in plan.order}
    users = {r: [s.phase for s in plan.steps if r in s.holds] for r in plan.resources}

    def ends_before(a: str, b: str) -> bool:
        return all(y in below[x] for x in users[a] for y in users[b])

    names = list(plan.resources)
    best = 0
    for size in range(len(names), 0, -1):
        if any(
            not any(ends_before(a, b) for a in group for b in group if a != b)
            for group in itertools.combinations(names, size)
        ):
            best = size
            break
    assert plan.capacity.upper_bound == best
    group = plan.capacity.bound_set
    assert len(group) == best
    assert not any(ends_before(a, b) for a in group for b in group if a != b)
