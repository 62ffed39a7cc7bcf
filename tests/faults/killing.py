"""The hard-kill job: run the matrix's workflow, `kill -9` the runner at a seeded random
moment, then run `wfrun cleanup`; what was left before and after is read from the OS."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.engine.conftest import RunResult, journaled
from tests.faults.flow import FLOW, Faults, Turn, render
from tests.faults.harness import FaultProject, Leaks, read_events

FAST_SEEDS = (1, 2, 3)
SLOW_SEEDS = tuple(range(4, 16))
PACE = 0.4  # seconds per turn: the run takes about 2.5 s
WINDOW = 3.0  # the kill lands uniformly within this many seconds of run_started
HANG = Turn("work", "judge", 1)  # the turn a test holds the run in


@dataclass
class Killed:
    seed: int
    execution: str
    delay: float
    left: Leaks  # what the kill left behind
    journal: dict[str, Any]  # what the journal listed at the kill
    status: str  # the record's status at the kill
    cleanup: RunResult
    cleaned: Leaks  # what was left after `wfrun cleanup`
    record: dict[str, Any]  # run.json after cleanup
    events: list[dict[str, Any]]

    def __repr__(self) -> str:
        return (
            f"\nseed {self.seed} ({self.execution}): kill -9 {self.delay:.2f}s after "
            f"run_started; record was {self.status!r}; journal listed {sorted(self.journal)}"
            f"\n--- left by the kill: {self.left}{self.cleanup!r}\n--- after: {self.cleaned}"
        )


def kill_at_random(seed: int, path: Path, environ: Mapping[str, str]) -> Killed:
    rng = random.Random(seed)
    execution = rng.choice(["sequential", "graph"])
    delay = rng.uniform(0, WINDOW)
    project = FaultProject(path, environ)
    try:
        project.write(render(FLOW, Faults(pace=PACE), execution=execution, project=path))
        proc = project.start("run", "flow.yaml")
        project.wait_for_event("run_started", timeout=30)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=30)
        run_dir = project.last_run_dir()
        assert run_dir is not None
        journal = journaled(run_dir)
        status = json.loads((run_dir / "run.json").read_text())["status"]
        left = project.leaks(run_dir.name)
        cleanup = project.run("cleanup", timeout=60)
        return Killed(
            seed,
            execution,
            delay,
            left,
            journal,
            status,
            cleanup,
            project.leaks(run_dir.name),
            json.loads((run_dir / "run.json").read_text()),
            read_events(run_dir, partial_tail=True),  # a kill loses at most the line in flight
        )
    finally:
        project.sweep()
