"""Resume (issue 19, items 1 and 4): through the real CLI, on real files and processes.

A resumed run reuses the phases that succeeded unchanged (no resource starts for them
alone), their outputs and memories stand in; an edited phase and everything after it
runs again; a run killed with `kill -9` is cleaned up and continued.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Files, WfrunProject
from tests.engine.conftest import EngineProject, alive, engine_project

__all__ = ["engine_project"]  # the fixture, from tests/engine/conftest.py

MakeProject = Callable[[Files], WfrunProject]

STEPS = """
from pathlib import Path


def remember(ctx):
    ctx.resources["notes"].set("fact", "from phase 1")
    return "remembered"


def recall(ctx):
    if not (Path(ctx.base_dir) / "fixed").exists():
        raise RuntimeError("not fixed yet")
    return str(ctx.resources["notes"].get("fact"))
"""

FLOW = """
version: 1
resources:
  notes: {type: memory}
  only1: {type: workspace}
agents:
  rem: {type: python, requires: [notes, only1], with: {call: "steps:remember"}}
  two: {type: shell, with: {run: [echo, TWO]}}
  three: {type: shell, with: {run: [echo, "${phases.p2.output}"]}}
  check: {type: python, requires: [notes], with: {call: "steps:recall"}}
  five: {type: shell, with: {run: [echo, "${phases.p3.output}+${phases.p1.output}"]}}
phases:
  p1: {agents: [rem], max_iterations: 1}
  p2: {agents: [two], max_iterations: 1}
  p3: {agents: [three], max_iterations: 1}
  p4: {agents: [check], max_iterations: 1}
  p5: {agents: [five], max_iterations: 1}
"""


def runs(project: WfrunProject | EngineProject) -> list[Path]:
    return sorted((project.path / ".wfrun" / "runs").iterdir())


def events(run: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def record(run: Path) -> dict[str, Any]:
    return json.loads((run / "run.json").read_text())  # type: ignore[no-any-return]


def failed_then_fixed(make: MakeProject) -> WfrunProject:
    project = make({"flow.yaml": FLOW.replace("TWO", "two"), "steps.py": STEPS})
    first = project.run("run", "flow.yaml")
    assert first.code == 1, first
    assert record(runs(project)[0])["phases"]["p4"]["status"] == "error"
    (project.path / "fixed").write_text("")
    return project


def test_resume_reuses_what_succeeded_and_runs_the_rest(wfrun_project: MakeProject) -> None:
    project = failed_then_fixed(wfrun_project)
    shown = project.run("plan", "flow.yaml", "--resume")
    shown.assert_success()
    assert "resources that start: notes" in shown.out, shown
    outcome = project.run("run", "flow.yaml", "--resume")
    outcome.assert_success()
    parent, resumed = runs(project)
    assert [e["phase"] for e in events(resumed, "phase_reused")] == ["p1", "p2", "p3"]
    assert [e["phase"] for e in events(resumed, "phase_started")] == ["p4", "p5"]
    # no resource started for the reused phases alone: only1 is p1's, notes is p4's too
    assert [e["resource"] for e in events(resumed, "resource_started")] == ["notes"]
    outputs = {e["phase"]: e["output"] for e in events(resumed, "phase_finished")}
    assert outputs["p4"] == "from phase 1"  # the memory p1 wrote, back from the record
    assert outputs["p5"].strip() == "two+remembered"  # outputs of reused phases read back
    data = record(resumed)
    assert data["parent"] == parent.name
    assert data["status"] == "succeeded"
    assert data["phases"]["p2"]["reused_from"] == parent.name
    assert data["phases"]["p2"]["identity"] == record(parent)["phases"]["p2"]["identity"]


def test_an_edited_phase_and_everything_after_it_run_again(wfrun_project: MakeProject) -> None:
    project = failed_then_fixed(wfrun_project)
    project.run("run", "flow.yaml", "--resume").assert_success()
    project.write({"flow.yaml": FLOW.replace("TWO", "deux")})
    shown = project.run("plan", "flow.yaml", "--resume", "--format", "json")
    shown.assert_success()
    phases = json.loads(shown.out)["phases"]
    assert {n: p["reused"] for n, p in phases.items()} == {
        "p1": True,
        "p2": False,
        "p3": False,
        "p4": False,
        "p5": False,
    }
    assert phases["p2"]["reason"] == "its definition or an input changed"
    assert phases["p3"]["reason"] == "its definition or an input changed"  # upstream changed
    outcome = project.run("run", "flow.yaml", "--resume")
    outcome.assert_success()
    latest = runs(project)[-1]
    assert [e["phase"] for e in events(latest, "phase_reused")] == ["p1"]
    outputs = {e["phase"]: e["output"] for e in events(latest, "phase_finished")}
    assert outputs["p5"].strip() == "deux+remembered"
    assert outputs["p4"] == "from phase 1"


def test_a_workspace_that_cannot_come_back_makes_its_consumers_run_again(
    wfrun_project: MakeProject,
) -> None:
    flow = FLOW.replace("TWO", "two").replace(
        "check: {type: python, requires: [notes]", "check: {type: python, requires: [notes, only1]"
    )
    project = wfrun_project({"flow.yaml": flow, "steps.py": STEPS})
    assert project.run("run", "flow.yaml").code == 1
    (project.path / "fixed").write_text("")
    shown = project.run("plan", "flow.yaml", "--resume", "--format", "json")
    phases = json.loads(shown.out)["phases"]
    assert phases["p1"]["reused"] is False
    assert phases["p1"]["reason"] == "workspace only1 cannot come back from the record"
    assert phases["p2"]["reason"] == "it reads p1, which runs again"


def test_resume_without_a_past_run_is_a_usage_error(wfrun_project: MakeProject) -> None:
    project = wfrun_project({"flow.yaml": FLOW, "steps.py": STEPS})
    outcome = project.run("run", "flow.yaml", "--resume")
    assert outcome.code == 2, outcome
    assert "no run of workflow 'flow'" in outcome.out + outcome.err


# -- item 4: a run killed with kill -9 ---------------------------------------------------


KILLED = """
version: 1
plugins: [plugin_types]
resources:
  a: {type: probe, with: {tag: TAG}}
  b: {type: probe, with: {tag: TAG}}
agents:
  first: {type: act, requires: [a], with: {say: one}}
  slow: {type: shell, requires: [b], with: {shell: true, run: "test -f go || sleep 60; echo ok"}}
phases:
  one: {agents: [first], max_iterations: 1}
  long: {agents: [slow], max_iterations: 1}
"""


def test_a_run_killed_with_kill_9_is_cleaned_up_and_resumed(engine_project: EngineProject) -> None:
    engine_project.write(KILLED)
    proc = engine_project.start("run", "flow.yaml")
    started = engine_project.wait_for_event("resource_started", resource="b")
    engine_project.wait_for_event("turn_started", phase="long")
    proc.kill()
    proc.communicate(timeout=30)
    assert alive(started["attributes"]["pid"])  # the hard kill left b behind
    (engine_project.path / "go").write_text("")
    result = engine_project.run("run", "flow.yaml", "--resume")
    assert result.code == 0, result
    assert "b: killed" in result.out, result  # the cleanup ran first
    assert not alive(started["attributes"]["pid"])
    assert [e["phase"] for e in result.kinds("phase_reused")] == ["one"]
    assert [e["resource"] for e in result.kinds("resource_started")] == ["b"]
    killed, resumed = runs(engine_project)
    assert result.record["parent"] == killed.name
    assert record(killed)["status"] == "killed"
    assert resumed == result.run_dir
    engine_project.assert_nothing_left(result)
