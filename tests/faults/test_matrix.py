"""The fault matrix: a fault at every lifecycle point of one multi-phase workflow.

For each case the run must exit as the README says (0 ok, 1 failed, 130 interrupted),
leave no process, temp dir or container behind, and write a complete, consistent
record. A stop that raises leaves its resource in the journal, and `wfrun cleanup`
then leaves nothing. By default the sequential matrix sends SIGTERM (it takes Ctrl-C's
path) and Ctrl-C twice only at the first point of each kind; `-m slow` adds the rest and
the whole matrix again in graph mode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docker_engine import require_engine
from tests.faults.flow import CONTAINER_FLOW, FLOW, TIMEOUT, Case, Flow, Turn, cases
from tests.faults.harness import check_record
from tests.faults.matrix import Outcome, execute, first_turn

CASES = [
    pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.slow else [])
    for case in (*cases(FLOW), *cases(FLOW, "graph"))
]


def test_the_matrix_covers_every_lifecycle_point() -> None:
    """The cases come from the workflow's structure; this is what it amounts to."""
    resources, turns = len(FLOW.resources), len(FLOW.turns())
    assert (resources, turns) == (3, 4)
    held = len(FLOW.holds(FLOW.busiest()))
    faults = 2 * resources + 2 * turns  # start fails, stop raises; turn raises, times out
    signals = 2 * (2 * resources + turns)  # SIGINT and SIGTERM in every start, stop, turn
    twice = resources  # Ctrl-C twice while a resource is slow to stop after its phase
    second = 2 * held  # Ctrl-C in a turn, then SIGINT or SIGTERM during a slow stop
    assert faults + signals + twice + second == 14 + 20 + 3 + 6 == 43
    assert len(list(cases(FLOW))) == len(list(cases(FLOW, "graph"))) == 43
    # By default SIGTERM (which takes Ctrl-C's path) and Ctrl-C twice in a stop only
    # at the first point of each kind: 7 + 2 of them, and 2 second signals, run with -m slow.
    assert sum(not case.slow for case in cases(FLOW)) == 43 - 7 - 2 - 2
    assert len(list(cases(CONTAINER_FLOW, only="box"))) == 9


@pytest.mark.parametrize("case", CASES)
def test_fault(matrix: Callable[[Case], Outcome], case: Case) -> None:
    check(FLOW, case, matrix(case))


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id) for c in cases(CONTAINER_FLOW, only="box")]
)
def test_container_fault(tmp_path: Path, case: Case) -> None:
    require_engine()
    check(CONTAINER_FLOW, case, execute(case, tmp_path, flow=CONTAINER_FLOW))


def check(flow: Flow, case: Case, outcome: Outcome) -> None:
    result = outcome.result
    code, status, phases = expected(flow, case)
    assert (result.code, result.record.get("status")) == (code, status), outcome
    actual = {p: e["status"] for p, e in result.record["phases"].items()}
    assert actual == phases, outcome
    assert "Traceback" not in result.out + result.err, outcome
    left = frozenset({case.target}) if case.kind == "stop-raises" else frozenset()
    check_record(result, outcome.journal, left=left)
    CHECKS[case.kind](flow, case, outcome)


def expected(flow: Flow, case: Case) -> tuple[int, str, dict[str, str]]:
    """Exit code, run status and each phase's status the README promises for `case`."""
    names = flow.names()

    def at(phase: str, status: str) -> dict[str, str]:
        i = names.index(phase)
        return {
            **dict.fromkeys(names[:i], "succeeded"),
            phase: status,
            **dict.fromkeys(names[i + 1 :], "skipped"),
        }

    turn = _turn(flow, case)
    match case.kind:
        case "start-fails":
            return 1, "failed", at(flow.first_use(case.target), "failed")
        case "stop-raises":
            return 1, "failed", dict.fromkeys(names, "succeeded")
        case "turn-raises":
            return 1, "failed", at(turn.phase, "error")
        case "turn-times-out":
            return 1, "failed", at(turn.phase, "timeout")
        case "signal-in-start":
            return 130, "interrupted", at(flow.first_use(case.target), "cancelled")
        case "signal-in-turn":
            return 130, "interrupted", at(turn.phase, "cancelled")
        case "signal-in-stop" | "two-signals-in-stop":  # after its last phase: that finished
            last = names.index(flow.last_use(case.target))
            statuses = at(names[last], "succeeded")
            return (
                130,
                "interrupted",
                {p: "skipped" if i > last else s for i, (p, s) in enumerate(statuses.items())},
            )
        case "second-signal-in-teardown":
            return 130, "interrupted", at(flow.busiest(), "cancelled")
    raise AssertionError(case.kind)


def _turn(flow: Flow, case: Case) -> Turn:
    if case.kind in ("turn-raises", "turn-times-out", "signal-in-turn"):
        return case.turn(flow)
    return first_turn(flow)


# -- what else each kind of case must show ---------------------------------------------


def _nothing_left(flow: Flow, case: Case, outcome: Outcome) -> None:
    assert not outcome.leaks, outcome


def _start_failed(flow: Flow, case: Case, outcome: Outcome) -> None:
    _nothing_left(flow, case, outcome)
    record = outcome.result.record
    failed = [e for e in outcome.result.events if e["kind"] == "resource_failed"]
    assert [(e["resource"], e["error"]) for e in failed] == [
        (case.target, f"{case.target} refused to start")
    ], outcome
    reason = record["phases"][flow.first_use(case.target)]["reason"]
    assert reason == f"resource {case.target!r} failed to start: {case.target} refused to start"


def _stop_raised(flow: Flow, case: Case, outcome: Outcome) -> None:
    name = case.target
    result = outcome.result
    assert (
        f"some resources failed to stop: {name}: {name} refused to stop"
        in (result.record["reason"])
    ), outcome
    # Exactly that resource's files are left, and the ones it needs were still stopped;
    # its processes carry the run's mark, so the run's end stopped them.
    assert all(f"-{name}-" in d for d in outcome.leaks.dirs), outcome
    assert not outcome.leaks.processes, outcome
    cleanup = outcome.cleanup
    assert cleanup is not None
    assert cleanup.code == 0, outcome
    assert f"{name}: " in cleanup.out, outcome
    assert not outcome.cleaned, outcome
    assert cleanup.record["status"] == "failed", outcome  # a finished run stays as it ended
    assert [list(c["actions"]) != [] for c in cleanup.record["cleanup"]] == [True], outcome


def _turn_raised(flow: Flow, case: Case, outcome: Outcome) -> None:
    _nothing_left(flow, case, outcome)
    turn = case.turn(flow)
    reason = outcome.result.record["phases"][turn.phase]["reason"]
    assert reason == (
        f"agent {turn.agent!r} raised RuntimeError: turn {turn.iteration} blew up (traceback: "
        f"{outcome.result.run_dir and outcome.result.run_dir.resolve()}/logs/{turn.phase}.{turn.agent}.traceback.txt)"
    )


def _timed_out(flow: Flow, case: Case, outcome: Outcome) -> None:
    _nothing_left(flow, case, outcome)
    turn = case.turn(flow)
    phase = outcome.result.record["phases"][turn.phase]
    assert phase["reason"] == f"timed out after {TIMEOUT:g}s", outcome
    last = [e for e in outcome.result.kinds("turn_started") if e["phase"] == turn.phase][-1]
    assert (last["agent"], last["iteration"]) == (turn.agent, turn.iteration), outcome


def _second_signal(flow: Flow, case: Case, outcome: Outcome) -> None:
    _nothing_left(flow, case, outcome)
    second = case.signals[1].name
    notices = [e["message"] for e in outcome.result.kinds("notice")]
    assert f"{second}: still stopping resources" in notices, outcome
    stopped = [e["resource"] for e in outcome.result.kinds("resource_stopped")]
    assert sorted(stopped) == sorted(flow.holds(flow.busiest())), outcome


CHECKS = {
    "start-fails": _start_failed,
    "stop-raises": _stop_raised,
    "turn-raises": _turn_raised,
    "turn-times-out": _timed_out,
    "signal-in-start": _nothing_left,
    "signal-in-turn": _nothing_left,
    "signal-in-stop": _nothing_left,
    "two-signals-in-stop": _nothing_left,
    "second-signal-in-teardown": _second_signal,
}
