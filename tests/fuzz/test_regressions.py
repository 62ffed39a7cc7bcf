"""Bugs the fuzzers found that are not about limits, each pinned by the smallest input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wfrun.errors import UsageError
from wfrun.spec import inspect_workflow, load_workflow
from wfrun.spec.graphs import Needed


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


def test_a_param_override_is_read_with_the_files_limits(tmp_path: Path) -> None:
    """Regression: -p values went through yaml.safe_load, without wfrun's limits: a
    base-60 number of 200,000 parts took 18 s; now it is text, which an int refuses."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "version: 1\nparams: {n: 3}\nagents: {g: {type: shell, with: {run: [echo]}}}\n"
        "phases: {a: {agents: [g]}}\n",
        encoding="utf-8",
    )
    start = time.process_time()
    with pytest.raises(UsageError) as info:
        load_workflow(flow, params={"n": "1" + ":1" * 200_000}, environ={})
    assert time.process_time() - start < 2
    assert str(info.value) == (
        f"-p {('n=1' + ':1' * 40)[:60]}…: expected a whole number, like the default 3"
    )
    assert load_workflow(flow, params={"n": "190:20:30"}, environ={}).params == {"n": 685230}


def test_needs_are_answered_from_bitsets_built_once() -> None:
    """Regression: each `if:` walked its phase's needs afresh; on a chain of 8,000
    phases, each reading the first, that was 90 s. The answers must not change."""
    needs = {"a": [], "b": ["a"], "c": ["b", "ghost"], "x": ["y"], "y": ["x"], "s": ["s"]}
    needed = Needed(needs)
    assert [other for other in needs if needed.of("c", other)] == ["a", "b"]
    assert needed.of("c", "ghost")  # a need whose own entry is invalid still counts
    assert not needed.of("a", "b")
    assert [needed.of("x", "y"), needed.of("x", "x"), needed.of("s", "s")] == [True] * 3  # cycles
    assert not needed.of("nope", "a")

    chain = {f"p{i}": [f"p{i - 1}"] if i else [] for i in range(10_000)}
    start = time.process_time()
    needed = Needed(chain)
    assert all(needed.of(f"p{i}", "p0") for i in range(1, 10_000))
    assert time.process_time() - start < 2


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("params.n < 2 < 3 and a_very_long_tail", "if: comparisons cannot be chained"),
        ("true and phases.nowhere.success", "if: unknown phase 'nowhere'"),
    ],
)
def test_an_if_made_by_a_placeholder_is_faulted_at_its_start(
    tmp_path: Path, when: str, message: str
) -> None:
    """Regression: offsets into the substituted text were added to the column of
    `${params.when}`, pointing past the end of the line."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        f"version: 1\nparams: {{n: 1, when: '{when}'}}\n"
        "agents: {g: {type: shell, with: {run: [echo]}}}\n"
        "phases:\n  a: {agents: [g]}\n  b: {agents: [g], if: '${params.when}'}\n",
        encoding="utf-8",
    )
    result = inspect_workflow(flow, environ={})
    assert [(str(d.position), d.message) for d in result.errors] == [(f"{flow}:6:24", message)]


def test_a_type_whose_check_recurses_too_deeply_is_a_message(tmp_path: Path) -> None:
    """Regression: the shell type compiles `stdout_matches` to check it; a regex nested
    5,000 deep raised RecursionError out of validation: a traceback."""
    flow = tmp_path / "flow.yaml"
    regex = "(" * 5000 + ")" * 5000
    flow.write_text(
        "version: 1\nagents:\n"
        f"  g: {{type: shell, with: {{run: [echo], success: {{stdout_matches: '{regex}'}}}}}}\n"
        "phases: {a: {agents: [g]}}\n",
        encoding="utf-8",
    )
    result = inspect_workflow(flow, environ={})
    assert [(str(d.position), d.message, d.hint) for d in result.diagnostics] == [
        (
            f"{flow}:3:20",
            "the agent type 'shell' cannot check `with:`: nested too deeply",
            "simplify the settings (a regex with fewer groups?)",
        )
    ]
