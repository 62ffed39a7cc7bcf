"""Whole outputs of `run` (plain lines), `runs`, `show`, `cleanup` and `types`.

As validate's messages are, these outputs are the contract with the person reading them:
each test runs the real CLI on a real workflow and compares the whole text, with only
what changes from run to run (ids, clock times, durations) normalised.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.conftest import Files, WfrunProject

FLOW = """
version: 1
name: views
resources:
  notes: {type: memory}
agents:
  hello: {type: shell, requires: [notes], with: {run: [echo, hello]}}
  sad: {type: shell, with: {run: [sh, -c, "echo broken >&2; exit 3"]}}
phases:
  greet: {agents: [hello], max_iterations: 1}
  fail: {agents: [sad], max_iterations: 1}
  never: {agents: [hello], max_iterations: 1}
"""

_VOLATILE = [
    (re.compile(r"\d{8}-\d{6}\.\d{3}-views-[0-9a-f]{4}"), "RUN-ID"),
    (re.compile(r"\[\s*\d+\.\d\ds\]"), "[T]"),
    (re.compile(r"\b\d+\.\d\ds\b"), "Ns"),
    (re.compile(r"\d{4}-\d\d-\d\dT[\d:…+]*"), "WHEN"),
    (re.compile(r"(?<=│ )\d+\.\d\d(?= )"), "N.NN"),
]


def _normal(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


@pytest.fixture
def project(wfrun_project: Callable[[Files], WfrunProject]) -> WfrunProject:
    made = wfrun_project({"flow.yaml": FLOW})
    outcome = made.run("run", "flow.yaml")
    assert outcome.code == 1, outcome
    return made


def test_plain_progress_of_a_failing_run(project: WfrunProject) -> None:
    outcome = project.run("run", "flow.yaml")
    assert _normal(outcome.out) == (
        "[T] run RUN-ID: 3 phases, record in .wfrun/runs/RUN-ID\n"
        "[T] greet: started (hello)\n"
        "[T] resource notes: started in Ns\n"
        "[T] greet: hello: hello\n"  # the line as the command printed it
        "[T] greet: hello #1 ok: hello\n"
        "[T] greet: succeeded in Ns\n"
        "[T] fail: started (sad)\n"
        "[T] fail: sad: broken\n"
        "[T] fail: sad #1 failed: broken\n"
        "[T] fail: failed in Ns: the last turn failed\n"
        "[T] never: skipped: an earlier phase failed\n"
        "[T] resource notes: stopped\n"
        "[T] run failed in Ns (phase failed: fail)\n"
        "  failed phases (1): fail (failed)\n"
    ), outcome


def test_runs_lists_the_run(project: WfrunProject) -> None:
    outcome = project.run("runs")
    outcome.assert_success()
    assert _normal(outcome.out) == (
        "┏━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ workflow ┃ status ┃ started       ┃ seconds ┃ run                            ┃\n"
        "┡━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ views    │ failed │ WHEN │ N.NN    │ RUN-ID │\n"
        "└──────────┴────────┴───────────────┴─────────┴────────────────────────────────┘\n"
    ), outcome


def test_show_explains_the_run(project: WfrunProject) -> None:
    outcome = project.run("show")
    assert _normal(outcome.out) == (
        "run RUN-ID of views: failed — phase failed: fail\n"
        "record: .wfrun/runs/RUN-ID\n"
        "tokens: none used\n"
        "phases\n"
        "┏━━━━━━━┳━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ phase ┃ status    ┃ turns ┃ seconds ┃ reason                  ┃\n"
        "┡━━━━━━━╇━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ greet │ succeeded │ 1     │ N.NN    │                         │\n"
        "│ fail  │ failed    │ 1     │ N.NN    │ the last turn failed    │\n"
        "│ never │ skipped   │       │         │ an earlier phase failed │\n"
        "└───────┴───────────┴───────┴─────────┴─────────────────────────┘\n"
        "failed phases (1):\n"
        "✗ fail: failed, exit code 3 — the last turn failed\n"
        "    broken\n"
        "resources\n"
        "┏━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━┳━━━━━━━━━━┓\n"
        "┃ resource ┃ type   ┃ starts ┃ stops ┃ problems ┃\n"
        "┡━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━╇━━━━━━━━━━┩\n"
        "│ notes    │ memory │ 1      │ 1     │          │\n"
        "└──────────┴────────┴────────┴───────┴──────────┘\n"
        "alive at once\n"
        "┏━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┓\n"
        "┃ type   ┃ observed peak ┃ plan's bound ┃\n"
        "┡━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━┩\n"
        "│ memory │ 1             │ 1            │\n"
        "└────────┴───────────────┴──────────────┘\n"
    ), outcome


def test_cleanup_with_nothing_to_do(project: WfrunProject) -> None:
    outcome = project.run("cleanup")
    outcome.assert_success()
    assert outcome.out == "nothing to clean up: no run left live resources behind\n", outcome


def test_types_shows_one_type_in_full(project: WfrunProject) -> None:
    outcome = project.run("types", "memory")
    outcome.assert_success()
    assert outcome.out == (
        "resource type 'memory' (wfrun)\n"
        "A key-value store (JSON values) shared across phases; saved with the run.\n"
        "attributes: ${resources.NAME.path}\n"
        "┏━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ with:   ┃ type           ┃ default ┃ description       ┃\n"
        "┡━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩\n"
        "│ initial │ dict[str, Any] │ {}      │ starting contents │\n"
        "└─────────┴────────────────┴─────────┴───────────────────┘\n"
    ), outcome
