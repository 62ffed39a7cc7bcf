"""The lifetime-interval planner and the run-time ledger.

Hand-written plans with exact expectations first, then properties on random workflows,
checked against naive oracles written here (fixpoint closure, networkx orders, brute
force intervals) and against a simulated run that feeds the ledger random valid
finish/skip/spawn orders.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfrun.errors import PlanError
from wfrun.planner import (
    Ledger,
    LedgerError,
    Plan,
    Reacquire,
    Release,
    Step,
    plan_workflow,
    resource_order,
    resource_set,
    stable_topological_order,
)
from wfrun.spec.model import Agent, Phase, Resource, Workflow

# --- building workflows ----------------------------------------------------------------


def make(
    *,
    resources: Mapping[str, tuple[str, ...]] = {},
    agents: Mapping[str, dict[str, Any]] = {},
    phases: Mapping[str, dict[str, Any]] = {},
    templates: Mapping[str, dict[str, Any]] = {},
    execution: str = "sequential",
    types: Mapping[str, str] = {},
) -> Workflow:
    """A Workflow from compact dicts: resource -> needs; agent/phase -> keyword fields."""
    return Workflow(
        name="wf",
        file=Path("wf.yaml"),
        execution=execution,  # type: ignore[arg-type]
        resources={
            n: Resource(name=n, type=types.get(n, "memory"), needs=needs)
            for n, needs in resources.items()
        },
        agents={n: Agent(name=n, type="shell", **kw) for n, kw in agents.items()},
        phases={n: Phase(name=n, **{"agents": (), **kw}) for n, kw in phases.items()},
        templates={n: Phase(name=n, **{"agents": (), **kw}) for n, kw in templates.items()},
    )


def design_example(*, notes: bool = True) -> Workflow:
    """The README's example workflow: code/app/notes, attacker/fixer, exploit/patch/verify."""
    resources = {"code": (), "app": ("code",)}
    if notes:
        resources["notes"] = ()
    return make(
        resources=resources,
        types={"code": "workspace", "app": "process", "notes": "memory"},
        agents={
            "attacker": {"requires": ("app",), "optional": ("notes",)},
            "fixer": {"requires": ("code",)},
        },
        execution="graph",
        phases={
            "exploit": {"agents": ("attacker",)},
            "patch": {"agents": ("fixer",), "needs": ("exploit",)},
            "verify": {"agents": ("attacker",), "needs": ("patch",)},
        },
    )


def service_example() -> Workflow:
    """Sequential: a service that needs a workspace and a database, used in one phase."""
    return make(
        resources={"code": (), "db": (), "app": ("code", "db"), "notes": ()},
        phases={
            "setup": {"resources": ("code",)},
            "serve": {"resources": ("app",)},
            "write": {"resources": ("notes",)},
            "check": {"resources": ("code",)},
        },
    )


# --- hand-written plans ------------------------------------------------------------------


def test_design_example_plan() -> None:
    plan = plan_workflow(design_example())
    assert plan.order == ("exploit", "patch", "verify")
    assert [s.resources for s in plan.steps] == [
        ("code", "app", "notes"),
        ("code",),
        ("code", "app", "notes"),
    ]
    assert plan.start_order == ("code", "app", "notes")
    assert plan.stop_order == ("notes", "app", "code")
    assert [(r.name, r.type, r.acquire, r.release) for r in plan.resources.values()] == [
        ("code", "workspace", 0, 2),
        ("app", "process", 0, 2),
        ("notes", "memory", 0, 2),
    ]
    assert [plan.consumers(r) for r in plan.resources] == [
        ("exploit", "patch", "verify"),
        ("exploit", "verify"),
        ("exploit", "verify"),
    ]
    assert [(s.start, s.stop, s.live) for s in plan.steps] == [
        (("code", "app", "notes"), (), 3),
        ((), (), 3),
        ((), ("notes", "app", "code"), 3),
    ]
    assert plan.resources["code"].needed_by == ("app",)
    assert not plan.resources["code"].only_for_needs  # fixer requires it itself
    assert (plan.peak, plan.lower_bound, plan.units_held, plan.units_whole_run) == (3, 3, 9, 9)


def test_design_example_without_notes_drops_the_optional_resource() -> None:
    plan = plan_workflow(design_example(notes=False))
    assert plan.steps[0].resources == ("code", "app")
    assert plan.start_order == ("code", "app")


def test_design_example_as_json() -> None:
    data = json.loads(json.dumps(plan_workflow(design_example()).as_dict()))
    assert data["format"] == 1
    assert data["order"] == ["exploit", "patch", "verify"]
    assert data["phases"][1] == {
        "index": 1,
        "name": "patch",
        "needs": ["exploit"],
        "resources": ["code"],
        "holds": ["code"],
        "spawns": [],
        "start": [],
        "stop": [],
        "live": 3,
    }
    assert data["resources"][1] == {
        "name": "app",
        "type": "process",
        "acquire": 0,
        "release": 2,
        "consumers": ["exploit", "verify"],
        "spawners": [],
        "templates": [],
        "needs": ["code"],
        "needed_by": [],
        "only_for_needs": False,
    }
    assert data["figures"] == {
        "phases": 3,
        "resources": 3,
        "acquired": 3,
        "peak": 3,
        "lower_bound": 3,
        "units_held": 9,
        "units_whole_run": 9,
    }
    assert list(data) == [
        "format",
        "workflow",
        "execution",
        "order",
        "phases",
        "resources",
        "unused",
        "templates",
        "start_order",
        "stop_order",
        "figures",
        "capacity",  # added without changing the fields above: still format 1
    ]


def test_design_example_ledger_when_patch_is_skipped() -> None:
    ledger = Ledger(plan_workflow(design_example()))
    assert ledger.finished("exploit") == Release()
    assert ledger.skipped("patch") == Release()  # verify still holds everything
    assert ledger.skipped("verify") == Release(("notes", "app", "code"))
    assert ledger.pending == ()
    assert ledger.released == {"code", "app", "notes"}


def test_design_example_ledger_releases_only_what_nobody_holds() -> None:
    workflow = make(
        resources={"code": (), "app": ("code",), "notes": ()},
        agents={"attacker": {"requires": ("app",)}, "scribe": {"requires": ("notes",)}},
        execution="graph",
        phases={
            "exploit": {"agents": ("attacker", "scribe")},
            "patch": {"resources": ("code",), "needs": ("exploit",)},
            "verify": {"agents": ("attacker",), "needs": ("patch",)},
        },
    )
    ledger = Ledger(plan_workflow(workflow))
    assert ledger.finished("exploit") == Release(("notes",))
    assert ledger.holders("code") == 2
    assert ledger.finished("patch") == Release()
    assert ledger.finished("verify") == Release(("app", "code"))


def test_sequential_service_plan() -> None:
    plan = plan_workflow(service_example())
    assert plan.start_order == ("code", "db", "app", "notes")
    assert [(s.start, s.stop, s.live) for s in plan.steps] == [
        (("code",), (), 1),
        (("db", "app"), ("app", "db"), 3),
        (("notes",), ("notes",), 2),
        ((), ("code",), 1),
    ]
    assert plan.steps[1].resources == ("code", "db", "app")
    db = plan.resources["db"]
    assert (db.acquire, db.release, db.needed_by, db.only_for_needs) == (1, 1, ("app",), True)
    assert not plan.resources["code"].only_for_needs
    assert (plan.peak, plan.lower_bound, plan.units_held, plan.units_whole_run) == (3, 3, 7, 16)


def test_sequential_ledger_matches_the_stop_lists() -> None:
    plan = plan_workflow(service_example())
    ledger = Ledger(plan)
    assert [ledger.finished(p).resources for p in plan.order] == [
        (),
        ("app", "db"),
        ("notes",),
        ("code",),
    ]


def test_unused_resources_are_never_started() -> None:
    plan = plan_workflow(
        make(resources={"a": (), "b": (), "c": ("b",)}, phases={"p": {"resources": ("a",)}})
    )
    assert list(plan.resources) == ["a"]
    assert plan.unused == ("b", "c")
    assert plan.units_whole_run == 3
    ledger = Ledger(plan)
    assert ledger.holders("b") == 0
    assert ledger.finished("p") == Release(("a",))


def test_empty_workflow() -> None:
    plan = plan_workflow(make(resources={"a": ()}))
    assert (plan.order, plan.steps, dict(plan.resources), plan.unused) == ((), (), {}, ("a",))
    assert (plan.peak, plan.lower_bound, plan.units_held, plan.units_whole_run) == (0, 0, 0, 0)
    assert Ledger(plan).pending == ()


# --- resource sets and orders ------------------------------------------------------------


def test_resource_set_closes_over_needs_in_start_order() -> None:
    workflow = make(
        resources={"c": ("b",), "b": ("a",), "a": (), "x": ()},
        agents={"w": {"requires": ("c",), "optional": ("x", "ghost")}},
    )
    assert resource_order(workflow) == ("a", "b", "c", "x")
    phase = Phase(name="p", agents=("w",), resources=("c", "c"))
    assert resource_set(workflow, phase) == ("a", "b", "c", "x")
    assert resource_set(workflow, Phase(name="q", agents=())) == ()


def test_resource_set_takes_optional_only_when_configured() -> None:
    workflow = make(resources={"notes": ()}, agents={"w": {"optional": ("notes", "ghost")}})
    assert resource_set(workflow, Phase(name="p", agents=("w",))) == ("notes",)


def test_stable_topological_order_keeps_declaration_order_when_it_can() -> None:
    needs = {"b": ("a",), "c": (), "d": ("c", "a")}
    assert stable_topological_order(("a", "b", "c", "d"), needs) == ("a", "b", "c", "d")
    assert stable_topological_order(("d", "c", "b", "a"), needs) == ("c", "a", "d", "b")


def test_stable_topological_order_reports_a_cycle() -> None:
    with pytest.raises(PlanError, match="cannot order a, b: their needs form a cycle"):
        stable_topological_order(("a", "b", "c"), {"a": ("b",), "b": ("a",)})


def test_graph_phase_order_is_stable_topological() -> None:
    workflow = make(
        execution="graph",
        phases={
            "report": {"needs": ("scan", "fix")},
            "fix": {"needs": ("scan",)},
            "lint": {},
            "scan": {},
        },
    )
    assert plan_workflow(workflow).order == ("lint", "scan", "fix", "report")


# --- spawns ------------------------------------------------------------------------------


def spawn_example(execution: str) -> Workflow:
    return make(
        resources={"code": (), "db": (), "notes": ()},
        execution=execution,
        phases={
            "attack": {"resources": ("code",), "may_spawn": ("fix",)},
            "report": {
                "resources": ("notes",),
                **({"needs": ("attack",)} if execution == "graph" else {}),
            },
        },
        templates={"fix": {"resources": ("db", "code")}},
    )


def test_sequential_spawn_lives_at_the_spawners_point() -> None:
    plan = plan_workflow(spawn_example("sequential"))
    db = plan.resources["db"]
    assert (db.acquire, db.release, db.templates, db.spawn_uses) == (0, 0, ("fix",), (0,))
    assert plan.consumers("db") == ()
    assert plan.steps[0].holds == ("code", "db")
    assert plan.steps[0].spawns == ("fix",)
    assert plan.steps[0].stop == ("db", "code")
    assert plan.templates["fix"].spawned_by == ("attack",)


def test_graph_spawn_lives_to_the_end_of_the_run() -> None:
    plan = plan_workflow(spawn_example("graph"))
    # nothing waits for a spawned phase: it may outlast `report`
    assert [(r.name, r.acquire, r.release) for r in plan.resources.values()] == [
        ("code", 0, 1),
        ("db", 0, 1),
        ("notes", 1, 1),
    ]
    assert plan.steps[1].stop == ("notes", "db", "code")


def test_ledger_spawn_of_declared_template_needs_no_reacquire() -> None:
    ledger = Ledger(plan_workflow(spawn_example("graph")))
    assert ledger.spawned("fix", "fix#1", "attack") == Reacquire()
    assert ledger.finished("attack") == Release()  # fix#1 holds code and db
    assert ledger.finished("report") == Release(("notes",))
    assert ledger.finished("fix#1") == Release(("db", "code"))


def test_ledger_releases_template_resources_when_the_spawner_spawned_nothing() -> None:
    ledger = Ledger(plan_workflow(spawn_example("graph")))
    assert ledger.finished("attack") == Release(("db", "code"))


def test_ledger_reacquires_for_an_undeclared_spawn() -> None:
    workflow = make(
        resources={"code": (), "app": ("code",)},
        phases={"a": {"resources": ("app",)}, "b": {}},
        templates={"retry": {"resources": ("app",)}},
    )
    ledger = Ledger(plan_workflow(workflow))
    assert ledger.finished("a") == Release(("app", "code"))
    assert ledger.spawned("retry", "retry#1", "b") == Reacquire(("code", "app"))
    assert ledger.released == frozenset()
    assert ledger.finished("b") == Release()
    assert ledger.finished("retry#1") == Release(("app", "code"))


def test_ledger_rejects_impossible_events() -> None:
    ledger = Ledger(plan_workflow(spawn_example("graph")))
    with pytest.raises(LedgerError, match="phase 'nope' is not a phase of this run"):
        ledger.finished("nope")
    with pytest.raises(LedgerError, match="unknown template 'nope'"):
        ledger.spawned("nope", "x", "attack")
    with pytest.raises(LedgerError, match="phase name 'report' is already taken"):
        ledger.spawned("fix", "report", "attack")
    ledger.finished("attack")
    with pytest.raises(LedgerError, match="phase 'attack' is already reported"):
        ledger.skipped("attack")
    with pytest.raises(LedgerError, match="spawner 'attack' is not pending"):
        ledger.spawned("fix", "fix#1", "attack")


def test_template_spawning_itself_is_planned() -> None:
    workflow = make(
        resources={"a": (), "b": ()},
        phases={"p": {"may_spawn": ("retry",)}},
        templates={
            "retry": {"resources": ("a",), "may_spawn": ("retry", "more")},
            "more": {"resources": ("b",)},
        },
    )
    plan = plan_workflow(workflow)
    assert plan.steps[0].spawns == ("retry", "more")
    assert plan.templates["retry"].holds == ("a", "b")
    assert plan.templates["more"].spawned_by == ("p",)


def test_planner_does_not_import_rich() -> None:
    code = "import sys, wfrun.planner; print('rich' in sys.modules, 'typer' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.split() == ["False", "False"]


# --- oracles -----------------------------------------------------------------------------


def oracle_direct(workflow: Workflow, phase: Phase) -> set[str]:
    """What a phase names itself: `resources:`, agents' requires and configured optional."""
    names = set(phase.resources)
    for agent in phase.agents:
        names |= set(workflow.agents[agent].requires)
        names |= {o for o in workflow.agents[agent].optional if o in workflow.resources}
    return names


def oracle_set(workflow: Workflow, phase: Phase) -> set[str]:
    """Naive fixpoint: direct uses, then keep adding needs until nothing changes."""
    names = oracle_direct(workflow, phase)
    while True:
        more = {n for r in names for n in workflow.resources[r].needs} - names
        if not more:
            return names
        names |= more


def oracle_order(names: Iterable[str], needs: Mapping[str, Iterable[str]]) -> list[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    declared = list(names)
    graph.add_nodes_from(declared)
    graph.add_edges_from((n, name) for name in declared for n in needs[name])
    return list(nx.lexicographical_topological_sort(graph, key=declared.index))


def oracle_reach(workflow: Workflow, may_spawn: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(may_spawn)
    while todo:
        t = todo.pop()
        if t not in seen:
            seen.add(t)
            todo += workflow.templates[t].may_spawn
    return seen


def oracle_holds(workflow: Workflow, phase: Phase) -> set[str]:
    held = oracle_set(workflow, phase)
    for t in oracle_reach(workflow, phase.may_spawn):
        held |= oracle_set(workflow, workflow.templates[t])
    return held


def needs_closure(workflow: Workflow, resource: str) -> set[str]:
    """Everything `resource` needs, transitively (not itself)."""
    return oracle_set(workflow, Phase(name="_", agents=(), resources=(resource,))) - {resource}


# --- random workflows --------------------------------------------------------------------


@st.composite
def workflows(draw: st.DrawFn, execution: str | None = None) -> Workflow:
    """Valid random workflows: acyclic needs, known names, optional names that may not exist."""
    resources = [f"r{i}" for i in range(draw(st.integers(0, 6)))]
    rank = draw(st.permutations(range(len(resources))))
    needs = {
        r: tuple(
            draw(
                st.lists(
                    st.sampled_from([o for j, o in enumerate(resources) if rank[j] < rank[i]]),
                    max_size=2,
                    unique=True,
                )
            )
            if rank[i]
            else ()
        )
        for i, r in enumerate(resources)
    }
    some = st.lists(st.sampled_from(resources), max_size=3) if resources else st.just([])
    agents = {
        f"a{k}": {
            "requires": tuple(draw(some)),
            "optional": tuple(draw(st.lists(st.sampled_from([*resources, "ghost"]), max_size=2))),
        }
        for k in range(draw(st.integers(1, 3)))
    }
    templates = [f"t{k}" for k in range(draw(st.integers(0, 3)))]
    spawnable = (
        st.lists(st.sampled_from(templates), max_size=2, unique=True) if templates else st.just([])
    )

    def phase() -> dict[str, Any]:
        return {
            "agents": tuple(
                draw(st.lists(st.sampled_from(sorted(agents)), max_size=2, unique=True))
            ),
            "resources": tuple(draw(some)),
            "may_spawn": tuple(draw(spawnable)),
        }

    execution = execution or draw(st.sampled_from(["sequential", "graph"]))
    names = [f"p{i}" for i in range(draw(st.integers(0, 7)))]
    prank = draw(st.permutations(range(len(names))))
    phases = {}
    for i, name in enumerate(names):
        fields = phase()
        before = [o for j, o in enumerate(names) if prank[j] < prank[i]]
        if execution == "graph" and before:
            fields["needs"] = tuple(
                draw(st.lists(st.sampled_from(before), max_size=2, unique=True))
            )
        phases[name] = fields
    return make(
        resources=needs,
        agents=agents,
        phases=phases,
        templates={t: phase() for t in templates},
        execution=execution,
        types={r: draw(st.sampled_from(["workspace", "process", "memory"])) for r in resources},
    )


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- static properties -------------------------------------------------------------------


@PROPERTY
@given(workflows())
def test_orders_and_sets_match_the_oracles(workflow: Workflow) -> None:
    plan = plan_workflow(workflow)
    phases = workflow.phases
    if workflow.execution == "sequential":
        assert list(plan.order) == list(phases)
    else:
        assert list(plan.order) == oracle_order(phases, {n: p.needs for n, p in phases.items()})
    start = oracle_order(workflow.resources, {n: r.needs for n, r in workflow.resources.items()})
    assert list(plan.start_order) == [r for r in start if r in plan.resources]
    assert plan.stop_order == plan.start_order[::-1]
    assert list(plan.unused) == [r for r in start if r not in plan.resources]
    for step in plan.steps:
        phase = phases[step.phase]
        assert set(step.resources) == oracle_set(workflow, phase)
        assert set(step.holds) == oracle_holds(workflow, phase)
        assert set(step.spawns) == oracle_reach(workflow, phase.may_spawn)
        for names in (step.resources, step.holds):
            assert list(names) == sorted(names, key=start.index)
    for name, template in workflow.templates.items():
        assert set(plan.templates[name].resources) == oracle_set(workflow, template)
        assert set(plan.templates[name].holds) == oracle_holds(workflow, template)


@PROPERTY
@given(workflows())
def test_intervals_are_exactly_the_possible_uses(workflow: Workflow) -> None:
    plan = plan_workflow(workflow)
    last = len(plan.order) - 1
    graph = workflow.execution == "graph"
    expected: dict[str, tuple[int, int]] = {}
    for i, name in enumerate(plan.order):
        phase = workflow.phases[name]
        reach = oracle_reach(workflow, phase.may_spawn)
        spawnable = set().union(*(oracle_set(workflow, workflow.templates[t]) for t in reach))
        for r in oracle_set(workflow, phase) | spawnable:
            lo, hi = expected.get(r, (i, i))
            end = last if graph and r in spawnable else i  # graph: a spawn may run last
            expected[r] = (min(lo, i), max(hi, end))
    assert {r: (life.acquire, life.release) for r, life in plan.resources.items()} == expected
    assert plan.units_held == sum(hi - lo + 1 for lo, hi in expected.values())
    assert plan.units_whole_run == len(workflow.resources) * len(plan.order)
    spawnable = set().union(
        *(oracle_reach(workflow, p.may_spawn) for p in workflow.phases.values())
    )
    users = [*workflow.phases.values(), *(workflow.templates[t] for t in spawnable)]
    named = set().union(*(oracle_direct(workflow, p) for p in users))
    for r, life in plan.resources.items():
        assert life.only_for_needs == (r not in named)
        assert life.templates == tuple(
            t
            for t in workflow.templates
            if t in spawnable and r in oracle_set(workflow, workflow.templates[t])
        )
        assert plan.consumers(r) == tuple(
            n for n in plan.order if r in oracle_set(workflow, workflow.phases[n])
        )
        assert life.needs == workflow.resources[r].needs
        for needed in life.needs:  # a needed resource outlives its dependents
            outer = plan.resources[needed]
            assert outer.acquire <= life.acquire
            assert life.release <= outer.release
            assert r in outer.needed_by


@PROPERTY
@given(workflows())
def test_walking_the_steps_keeps_every_promise(workflow: Workflow) -> None:
    plan = plan_workflow(workflow)
    live: set[str] = set()
    started: Counter[str] = Counter()
    sizes = []
    for step in plan.steps:
        for r in step.start:
            assert r not in live
            assert set(workflow.resources[r].needs) <= live, "needs start first"
            live.add(r)
            started[r] += 1
        assert set(step.holds) <= live, "every phase's resources live for the whole phase"
        assert len(live) == step.live
        sizes.append(len(live))
        for r in step.stop:
            assert r in live
            assert not any(r in workflow.resources[o].needs for o in live - {r}), (
                "dependents stop first"
            )
            live.remove(r)
    assert not live
    assert started == Counter(list(plan.resources))
    assert plan.peak == max(sizes, default=0)
    assert plan.lower_bound == max(
        (len(oracle_set(workflow, p)) for p in workflow.phases.values()), default=0
    )
    assert plan.peak >= plan.lower_bound
    json.dumps(plan.as_dict())  # JSON-able


# --- the ledger, simulated ---------------------------------------------------------------


class Run:
    """A model of the engine's bookkeeping, checked against the ledger after every event."""

    def __init__(self, workflow: Workflow, plan: Plan) -> None:
        self.workflow = workflow
        self.plan = plan
        self.ledger = Ledger(plan)
        self.kind: dict[str, Phase] = dict(workflow.phases)  # pending or done: its definition
        self.pending = set(workflow.phases)
        self.live = set(plan.resources)
        self.released: Counter[str] = Counter()
        self.reacquired: Counter[str] = Counter()
        self.start = list(plan.rank)
        self.spawned = 0
        self._holds: dict[str, set[str]] = {}
        self.check()

    def holds(self, phase: str) -> set[str]:
        if phase not in self._holds:
            self._holds[phase] = oracle_holds(self.workflow, self.kind[phase])
        return self._holds[phase]

    def check(self) -> None:
        """Live is exactly what pending phases hold: nothing early, nothing late."""
        held = set().union(*(self.holds(p) for p in self.pending))
        assert self.live == held
        assert set(self.ledger.pending) == self.pending
        for r in self.start:  # the ledger counts live dependents, not phases: see holders()
            holders = sum(r in self.holds(p) for p in self.pending)
            assert self.ledger.holders(r) == holders, r

    def done(self, phase: str, *, skip: bool) -> tuple[str, ...]:
        release = self.ledger.skipped(phase) if skip else self.ledger.finished(phase)
        self.pending.remove(phase)
        batch = release.resources
        assert list(batch) == sorted(batch, key=self.start.index, reverse=True), "stop order"
        for r in batch:
            assert r in self.live, f"{r} released twice"
            self.live.remove(r)
            self.released[r] += 1
        self.check()
        return batch

    def spawn(self, template: str, spawner: str) -> str:
        self.spawned += 1
        child = f"{template}#{self.spawned}"
        declared = template in oracle_reach(self.workflow, self.kind[spawner].may_spawn)
        again = self.ledger.spawned(template, child, spawner).resources
        if declared:
            assert again == ()
        want = [r for r in self.start if r in self.holds_of(template) and r not in self.live]
        assert list(again) == want, "re-acquire what is not live, in start order"
        self.live.update(again)
        self.reacquired.update(again)
        self.kind[child] = self.workflow.templates[template]
        self.pending.add(child)
        self.check()
        return child

    def holds_of(self, template: str) -> set[str]:
        return oracle_holds(self.workflow, self.workflow.templates[template])

    def finish_checks(self) -> None:
        assert not self.pending
        assert not self.live
        for r in self.released.keys() | self.reacquired.keys() | set(self.plan.resources):
            planned = 1 if r in self.plan.resources else 0
            assert self.released[r] == planned + self.reacquired[r], r


def draw_spawns(data: st.DataObject, run: Run, spawner: str) -> list[str]:
    """Templates to spawn: mostly declared ones, sometimes any (exercises re-acquire)."""
    if run.spawned >= 6 or not run.workflow.templates:
        return []
    declared = sorted(oracle_reach(run.workflow, run.kind[spawner].may_spawn))
    anything = sorted(run.workflow.templates)
    pool = declared if declared and data.draw(st.integers(0, 4)) > 0 else anything
    return data.draw(st.lists(st.sampled_from(pool), max_size=2))


@PROPERTY
@given(workflows(), st.data())
def test_ledger_over_random_runs(workflow: Workflow, data: st.DataObject) -> None:
    run = Run(workflow, plan_workflow(workflow))
    graph = workflow.execution == "graph"
    needs = {n: p.needs for n, p in workflow.phases.items()}
    after: dict[str, str] = {}  # spawned phase -> its spawner
    finished: set[str] = set()
    while run.pending:
        if graph:  # any phase whose needs (or spawner) are done may go next
            ready = sorted(
                p
                for p in run.pending
                if all(n not in run.pending for n in needs.get(p, ()))
                and after.get(p) not in run.pending
            )
            phase = data.draw(st.sampled_from(ready))
        else:  # listed order; spawned phases right after their spawner
            phase = next(p for p in [*after, *run.plan.order] if p in run.pending)
        skip = data.draw(st.booleans())
        if not skip:
            for template in draw_spawns(data, run, phase):
                after[run.spawn(template, phase)] = phase
        run.done(phase, skip=skip)
        if not skip:
            finished.add(phase)
    run.finish_checks()


@PROPERTY
@given(workflows(execution="sequential"), st.data())
def test_sequential_ledger_releases_at_the_planned_points(
    workflow: Workflow, data: st.DataObject
) -> None:
    plan = plan_workflow(workflow)
    run = Run(workflow, plan)
    for step in plan.steps:
        released: set[str] = set()
        queue = [step.phase]
        while queue:  # the phase, then what it spawned, before the next listed phase
            phase = queue.pop(0)
            skip = data.draw(st.booleans())
            if not skip and run.spawned < 6:
                declared = sorted(oracle_reach(workflow, run.kind[phase].may_spawn))
                for template in (
                    data.draw(st.lists(st.sampled_from(declared), max_size=2)) if declared else []
                ):
                    queue.append(run.spawn(template, phase))
            released.update(run.done(phase, skip=skip))
        assert released == set(step.stop)
    run.finish_checks()


def test_step_of_is_the_constructor() -> None:
    """`Step.of` (the planner's fast path) makes what `Step(...)` makes, field for field;
    a field added to Step must be added to it (its parameters are the fields in order)."""
    values: dict[str, Any] = {
        "index": 3,
        "phase": "p",
        "needs": ("a",),
        "resources": ("r", "s"),
        "holds": ("r", "s", "t"),
        "spawns": ("tpl",),
        "start": ("s",),
        "stop": ("r",),
        "live": 2,
        "direct": ("r",),
    }
    made = Step.of(*values.values())
    assert made == Step(**values)
    assert dataclasses.asdict(made) == dataclasses.asdict(Step(**values))
    names = [f.name for f in dataclasses.fields(Step)]
    assert list(inspect.signature(Step.of).parameters) == names[:-1]
    assert names[-1] == "pause"
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.live = 3  # type: ignore[misc]
