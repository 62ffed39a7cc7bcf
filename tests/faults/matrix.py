"""Run one case of the fault matrix, and say what the README promises for it.

Runs are real `python -m wfrun run` subprocesses, several at a time (a run mostly waits:
for a slow stop, a timeout, a signal), each in its own folder with its own TMPDIR and
marker, so cases never see each other's leftovers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.engine.conftest import RunResult
from tests.faults.flow import FLOW, SLOW, SLOW_STOP, TIMEOUT, Case, Faults, Flow, Turn, render
from tests.faults.harness import FaultProject, Leaks

WORKERS = int(os.environ.get("WFRUN_FAULT_WORKERS", "3"))
K = TypeVar("K")
T = TypeVar("T")


@dataclass
class Outcome:
    case: Case
    result: RunResult
    leaks: Leaks
    seconds: float
    journal: dict[str, Any]  # journal.json's live resources when the run ended
    cleanup: RunResult | None = None  # `wfrun cleanup`, after a stop that raised
    cleaned: Leaks | None = None  # what was left after it

    def __repr__(self) -> str:
        text = f"{self.case.id} ({self.seconds:.1f}s){self.result!r}\n--- leaks: {self.leaks}"
        if self.cleanup is not None:
            text += f"\n--- cleanup:{self.cleanup!r}\n--- then: {self.cleaned}"
        return text


def faults(flow: Flow, case: Case) -> Faults:
    target = case.target
    match case.kind:
        case "start-fails":
            return Faults(resources={target: {"fail_start": True}})
        case "stop-raises":
            return Faults(resources={target: {"fail_stop": True}})
        case "turn-raises":
            return Faults(raise_on=case.turn(flow))
        case "turn-times-out":
            turn = case.turn(flow)
            return Faults(hang=turn, timeout={turn.phase: TIMEOUT})
        case "signal-in-start":
            return Faults(resources={target: {"start_seconds": SLOW}})
        case "signal-in-turn":
            return Faults(hang=case.turn(flow))
        case "signal-in-stop" | "two-signals-in-stop":
            return Faults(resources={target: {"stop_seconds": SLOW_STOP}})
        case "second-signal-in-teardown":
            return Faults(resources={target: {"stop_seconds": SLOW_STOP}}, hang=first_turn(flow))
    raise AssertionError(case.kind)


def first_turn(flow: Flow) -> Turn:
    busiest = flow.busiest()
    return next(t for t in flow.turns() if t.phase == busiest)


def moments(flow: Flow, case: Case) -> list[Callable[[FaultProject], object]]:
    """When to send each of the case's signals."""

    def file(what: str) -> Callable[[FaultProject], object]:
        return lambda p: p.wait_for_file(p.moment(case.target, what))

    def turn_of(text: str) -> Callable[[FaultProject], object]:
        turn = next(t for t in flow.turns() if str(t) == text)
        return lambda p: p.wait_for_event(
            "turn_started", timeout=30, phase=turn.phase, agent=turn.agent, iteration=turn.iteration
        )

    match case.kind:
        case "signal-in-start":
            return [file("start")]
        case "signal-in-turn":
            return [turn_of(case.target)]
        case "signal-in-stop":
            return [file("stop")]
        case "two-signals-in-stop":
            return [file("stop"), lambda _: time.sleep(SLOW_STOP / 4)]
        case "second-signal-in-teardown":
            return [turn_of(str(first_turn(flow))), file("stop")]
    return []


def execute(
    case: Case, path: Path, environ: Mapping[str, str] | None = None, flow: Flow = FLOW
) -> Outcome:
    """Run the case; leaks are read before the project is swept clean."""
    project = FaultProject(path, environ)
    began = time.monotonic()
    try:
        project.write(render(flow, faults(flow, case), execution=case.execution, project=path))
        if case.signals:
            project.start("run", "flow.yaml")
            for signum, moment in zip(case.signals, moments(flow, case), strict=True):
                moment(project)
                project.interrupt(signum)
            result = project.finish()
        else:
            result = project.run("run", "flow.yaml", timeout=90)
        run_id = result.run_dir.name if result.run_dir else None
        leaks = project.leaks(run_id)
        seconds = time.monotonic() - began
        outcome = Outcome(case, result, leaks, seconds, project.journal(result))
        if case.kind == "stop-raises":
            outcome.cleanup = project.run("cleanup", timeout=60)
            outcome.cleanup.record = project.result(0, "", "").record
            outcome.cleaned = project.leaks(run_id)
        return outcome
    finally:
        project.sweep()


class Background:
    """Runs every selected test's run at once, a few at a time, on threads; each test
    then waits only for its own. A run mostly waits (for a slow stop, a timeout, a
    signal) and the tests that run in the foreground meanwhile wait too, so the wall
    time is about the CPU the runs need, not the sum of their waits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.environ = dict(os.environ)  # now, on the main thread: fixtures change it later
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fault")
        self._futures: dict[str, Future[Any]] = {}

    def submit(self, job: Callable[[K, Path, Mapping[str, str]], T], key: K) -> Future[T]:
        name = f"{job.__name__}-{getattr(key, 'id', key)}"
        if name not in self._futures:
            folder = self.root / name
            folder.mkdir()
            self._futures[name] = self._pool.submit(job, key, folder, self.environ)
        return self._futures[name]

    def get(self, job: Callable[[K, Path, Mapping[str, str]], T], key: K) -> T:
        return self.submit(job, key).result(timeout=SLOW + 60)

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown(wait=True)
