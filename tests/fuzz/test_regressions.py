"""Bugs the fuzzers found that are not about limits, each pinned by the smallest input."""

from __future__ import annotations

from pathlib import Path

from wfrun.spec import load_workflow


def test_a_list_param_holding_a_date_can_be_used_inside_a_string(tmp_path: Path) -> None:
    """Regression: `x ${params.l}` formats a list as JSON, and a YAML date in it raised
    TypeError (not JSON serializable): a traceback instead of a workflow."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "version: 1\n"
        "params: {l: [2001-01-01, {at: 2002-02-02 10:00:00}]}\n"
        'description: "x ${params.l}"\n'
        "agents: {g: {type: shell, with: {run: [echo]}}}\n"
        "phases: {a: {agents: [g]}}\n",
        encoding="utf-8",
    )
    workflow = load_workflow(flow, environ={})
    assert workflow.description == 'x ["2001-01-01", {"at": "2002-02-02 10:00:00"}]'
