"""`wfrun plan` output for people: the table, the Gantt chart, the figures, mermaid."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from wfrun.planner import plan_workflow
from wfrun.spec.model import Agent, Phase, Resource, Workflow
from wfrun.ui.plan_view import gantt_lines, plan_mermaid, render_plan


def console(width: int = 80) -> Console:
    return Console(width=width, record=True, markup=False, highlight=False, color_system=None)


def design_example() -> Workflow:
    """The README's example workflow: exploit, patch, verify over code, app and notes."""
    return Workflow(
        name="exploit-and-patch",
        file=Path("wf.yaml"),
        execution="graph",
        resources={
            "code": Resource(name="code", type="workspace"),
            "app": Resource(name="app", type="process", needs=("code",)),
            "notes": Resource(name="notes", type="memory"),
        },
        agents={
            "attacker": Agent(
                name="attacker", type="shell", requires=("app",), optional=("notes",)
            ),
            "fixer": Agent(name="fixer", type="python", requires=("code",)),
        },
        phases={
            "exploit": Phase(name="exploit", agents=("attacker",)),
            "patch": Phase(name="patch", agents=("fixer",), needs=("exploit",)),
            "verify": Phase(name="verify", agents=("attacker",), needs=("patch",)),
        },
    )


def service_example() -> Workflow:
    """Sequential, with a resource kept only for another's needs and a spawnable template."""
    resources = {"code": (), "db": (), "app": ("code", "db"), "notes": (), "spare": ()}
    phases = {
        "setup": ("code",),
        "serve": ("app",),
        "write": ("notes",),
        "check": ("code",),
    }
    return Workflow(
        name="service",
        file=Path("wf.yaml"),
        resources={
            n: Resource(name=n, type="memory", needs=needs) for n, needs in resources.items()
        },
        phases={
            n: Phase(name=n, agents=(), resources=r, may_spawn=("retry",) if n == "write" else ())
            for n, r in phases.items()
        },
        templates={"retry": Phase(name="retry", agents=(), resources=("notes", "code"))},
    )


def many_phases(count: int, resources: int) -> Workflow:
    names = [f"res{i}" for i in range(resources)]
    return Workflow(
        name="many",
        file=Path("wf.yaml"),
        resources={n: Resource(name=n, type="memory") for n in names},
        phases={
            f"p{i}": Phase(
                name=f"p{i}",
                agents=(),
                resources=(names[i % resources], names[(i * 7) % resources]),
            )
            for i in range(count)
        },
    )


def test_design_example_chart() -> None:
    out = console()
    render_plan(plan_workflow(design_example()), out)
    text = out.export_text()
    lines = text.splitlines()
    assert lines[0] == "exploit-and-patch: 3 phases, graph order: exploit -> patch -> verify"
    assert [line.split() for line in lines if "workspace" in line or "process" in line] == [
        ["code", "workspace", "0", "exploit", "2", "verify", "exploit,", "patch,", "verify"],
        ["app", "process", "0", "exploit", "2", "verify", "exploit,", "verify"],
    ]
    chart = lines[lines.index("phase | exploit   patch     verify") :]
    assert chart[:5] == [
        "phase | exploit   patch     verify",
        "code  | ██████████████████████████████",
        "app   | ██████████░░░░░░░░░░██████████",
        "notes | ██████████░░░░░░░░░░██████████",
        "█ used (or may be, by a spawn)   ░ live, kept for later   · not live",
    ]
    assert chart[5:] == [
        "peak live: 3 (lower bound 3); 3 of 3 resources ever start",
        "resource x phase units held: 9 (100%) of 9 if all lived all run",
    ]


def test_table_says_why_a_resource_lives() -> None:
    out = console()
    render_plan(plan_workflow(service_example()), out)
    lines = [line.rstrip() for line in out.export_text().splitlines()]
    table = [line.strip() for line in lines[lines.index("resource lifetimes") :][:9]]
    assert table[2].split() == ["resource", "type", "acquire", "release", "consumers"]
    assert table[4:9] == [
        "code       memory   0 setup   3 check   setup, serve, check; retry if",
        "spawned by write",
        "db         memory   1 serve   1 serve   serve; needed by app",
        "app        memory   1 serve   1 serve   serve",
        "notes      memory   2 write   2 write   write; retry if spawned by write",
    ]
    assert lines[-3:] == [
        "unused (never started): spare",
        "peak live: 3 (lower bound 3); 4 of 5 resources ever start",
        "resource x phase units held: 7 (35%) of 20 if all lived all run",
    ]


def test_service_gantt_marks_used_held_and_idle() -> None:
    assert gantt_lines(plan_workflow(service_example()), 80) == [
        "phase | setup     serve     write     check",
        "code  | ████████████████████████████████████████",
        "db    | ··········██████████····················",
        "app   | ··········██████████····················",
        "notes | ····················██████████··········",
        "█ used (or may be, by a spawn)   ░ live, kept for later   · not live",
    ]


def test_narrow_columns_abbreviate_phase_names() -> None:
    assert gantt_lines(plan_workflow(design_example()), 20)[:4] == [
        "phase | ex… pa… ve…",
        "code  | ████████████",
        "app   | ████░░░░████",
        "notes | ████░░░░████",
    ]


def test_two_hundred_phases_fit_eighty_columns() -> None:
    plan = plan_workflow(many_phases(200, 60))
    out = console()
    render_plan(plan, out, max_rows=10)
    lines = out.export_text().splitlines()
    assert max(map(len, lines)) <= 80
    assert "each column is 3 consecutive phases (200 phases, 67 columns)" in lines
    assert lines.count("50 more resources not shown") == 1  # under the chart
    assert any(line.strip() == "50 more resources not shown" for line in lines[:20])  # table
    chart = [line for line in lines if line.startswith("res") and " | " in line]
    assert len(chart) == 10
    assert all(len(line) == len(chart[0]) for line in chart)
    assert lines[0].endswith("…")


def test_narrow_console_still_fits() -> None:
    plan = plan_workflow(many_phases(200, 3))
    assert max(map(len, gantt_lines(plan, 40))) <= 40


def test_plan_without_resources() -> None:
    workflow = Workflow(name="bare", file=Path("wf.yaml"), phases={"p": Phase(name="p", agents=())})
    out = console()
    render_plan(plan_workflow(workflow), out)
    assert out.export_text().splitlines()[:2] == [
        "bare: 1 phase, sequential order: p",
        "No resource is used by any phase: nothing to start.",
    ]


def test_mermaid() -> None:
    assert plan_mermaid(plan_workflow(service_example())) == (
        "gantt\n"
        "    title service resource lifetimes\n"
        "    dateFormat X\n"
        "    axisFormat %s\n"
        "    section phases\n"
        "    setup : 0, 1\n"
        "    serve : 1, 2\n"
        "    write : 2, 3\n"
        "    check : 3, 4\n"
        "    section resources\n"
        "    code : 0, 4\n"
        "    db : 1, 2\n"
        "    app : 1, 2\n"
        "    notes : 2, 3\n"
    )


def test_json_round_trips() -> None:
    plan = plan_workflow(service_example())
    text = json.dumps(plan.as_dict(), indent=2)
    assert json.loads(text) == plan.as_dict()
    assert json.loads(text)["templates"] == [
        {
            "name": "retry",
            "resources": ["code", "notes"],
            "spawns": [],
            "holds": ["code", "notes"],
            "spawned_by": ["write"],
        }
    ]
