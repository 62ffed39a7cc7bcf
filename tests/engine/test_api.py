"""The Python API: wfrun.load, wfrun.plan, wfrun.run, as a script would use them."""

from __future__ import annotations

import pytest

import wfrun
from wfrun.errors import SpecError


def test_load_plan_run(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "version: 1\n"
        "params: {word: hi}\n"
        "resources: {ws: {type: workspace}}\n"
        "agents:\n"
        "  say: {type: shell, requires: [ws], with: {run: [echo, '${params.word}'],"
        " cwd: '${resources.ws.path}'}}\n"
        "phases: {p: {agents: [say]}}\n"
    )
    workflow = wfrun.load(flow, params={"word": "hello"})
    plan = wfrun.plan(workflow)
    assert plan.order == ("p",)
    summary = wfrun.run(workflow, plan=plan, runs_dir=tmp_path / "runs")
    assert summary.status == "succeeded"
    assert summary.exit_code == 0
    assert summary.phases["p"]["status"] == "succeeded"
    assert (summary.run_dir / "outputs" / "p.txt").read_text() == "hello"
    assert oct(summary.run_dir.stat().st_mode & 0o777) == "0o700"


def test_load_raises_spec_error_with_every_problem(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("version: 1\nphases: {a: {agents: [x]}, b: {agents: [y]}}\n")
    with pytest.raises(SpecError) as caught:
        wfrun.load(flow)
    assert [d.message for d in caught.value.diagnostics] == [
        "phase 'a' names unknown agent 'x'",
        "phase 'b' names unknown agent 'y'",
    ]
