"""Capacity (issue 15) through the real CLI: the plan's bound, `--limit` and `limits:`
kept by real runs of real services (`process` with `port: auto`), counted from events."""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.engine.conftest import EngineProject, RunResult, engine_project

__all__ = ["engine_project"]  # the fixture, from tests/engine/conftest.py


SERVICE = "[{py}, -m, http.server, '${{resources.{name}.port}}', --bind, 127.0.0.1]"


def service(name: str, restart: bool = False) -> str:
    command = SERVICE.format(py=sys.executable, name=name)
    extra = ", restart: allowed" if restart else ""
    return (
        f"  {name}: {{type: process{extra}, with: {{command: {command}, port: auto,"
        f' ready: {{tcp: "127.0.0.1:${{resources.{name}.port}}", timeout: 30}}}}}}\n'
    )


def observed_peak(events: list[dict[str, Any]]) -> int:
    """Most resources alive at once, from resource_started / resource_stopped."""
    alive = peak = 0
    for event in events:
        if event["kind"] == "resource_started":
            alive += 1
            peak = max(peak, alive)
        elif event["kind"] == "resource_stopped":
            alive -= 1
    return peak


def branches() -> str:
    text = "version: 1\nname: branches\nexecution: graph\nresources:\n"
    text += "".join(service(f"s{i}") for i in range(1, 5))
    text += "agents:\n"
    for i in range(1, 5):
        text += f'  a{i}: {{type: check, requires: [s{i}], with: {{run: [sleep, "0.4"]}}}}\n'
    text += '  last: {type: check, with: {run: ["true"]}}\nphases:\n'
    for i in range(1, 5):
        text += f"  b{i}: {{agents: [a{i}], max_iterations: 1}}\n"
    text += "  end: {agents: [last], max_iterations: 1, needs: [b1, b2, b3, b4]}\n"
    return text


def write(project: EngineProject, text: str) -> None:
    (project.path / "flow.yaml").write_text(text, encoding="utf-8")


def test_four_branches_bound_four_and_limit_two_kept(engine_project: EngineProject) -> None:
    write(engine_project, branches())
    plan = engine_project.run("plan", "flow.yaml", "--format", "json")
    assert plan.code == 0, plan
    assert json.loads(plan.out)["capacity"]["upper_bound"] == 4, plan
    table = engine_project.run("plan", "flow.yaml")  # the chart by DAG level, the bound
    assert "level 0: b1, b2, b3, b4" in table.out, table
    assert "peak live: 4 (lower bound 1)" in table.out, table
    flowchart = engine_project.run("plan", "flow.yaml", "--format", "mermaid").out
    assert flowchart.startswith("flowchart TD\n")
    assert "p_b1 --> p_end" in flowchart
    assert "digraph" in engine_project.run("plan", "flow.yaml", "--format", "dot").out
    free = engine_project.run("run", "flow.yaml", "-j", "4", timeout=120)
    assert free.code == 0, free
    assert 1 <= observed_peak(free.events) <= 4, free
    shown = engine_project.run("show")  # observed peak per type beside the plan's bound
    row = next(line for line in shown.out.splitlines() if line.strip("│ ").startswith("process"))
    cells = [cell.strip() for cell in row.split("│")[2:4]]
    assert cells == [str(observed_peak(free.events)), "4"], shown.out
    limited = engine_project.run("run", "flow.yaml", "-j", "4", "--limit", "process=2", timeout=120)
    assert limited.code == 0, limited
    assert observed_peak(limited.events) == 2, limited
    assert len(limited.kinds("resource_started")) == 4, limited
    engine_project.assert_nothing_left(limited)


def sequential(restart: bool) -> str:
    text = "version: 1\nname: seq\nlimits: {process: 2}\nresources:\n"
    text += service("a", restart) + service("b") + service("c")
    text += "agents:\n"
    for name in ("a", "b", "c"):
        text += f'  u{name}: {{type: check, requires: [{name}], with: {{run: ["true"]}}}}\n'
    text += "phases:\n"
    text += "  p1: {agents: [ua], max_iterations: 1}\n"
    text += "  p2: {agents: [ub], max_iterations: 1}\n"
    text += "  p3: {agents: [uc], max_iterations: 1}\n"
    text += "  p4: {agents: [ua, ub], max_iterations: 1}\n"
    return text


def test_sequential_limit_positioned_error_then_split(engine_project: EngineProject) -> None:
    write(engine_project, sequential(restart=False))
    bad = engine_project.run("validate", "flow.yaml")
    assert bad.code == 2, bad
    text = bad.out + bad.err
    for line in (5, 6, 7):  # the three services
        assert f"flow.yaml:{line}:3: error: limit process: 2 is exceeded at phase 'p3'" in text, bad
    assert "restart: allowed" in text, bad
    assert engine_project.run("run", "flow.yaml").code == 2
    write(engine_project, sequential(restart=True))
    assert engine_project.run("validate", "flow.yaml").code == 0
    plan = engine_project.run("plan", "flow.yaml")
    assert "split a: stopped after p1, started again before p4" in plan.out, plan
    result: RunResult = engine_project.run("run", "flow.yaml", timeout=120)
    assert result.code == 0, result
    assert observed_peak(result.events) == 2, result
    starts = [e["resource"] for e in result.kinds("resource_started")]
    assert sorted(starts) == ["a", "a", "b", "c"], result
    engine_project.assert_nothing_left(result)
