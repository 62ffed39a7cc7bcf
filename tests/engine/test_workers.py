"""Parallelism on demand: more workers only while jobs wait on something.

The clocks are the test's: what is checked is the rule, not this machine's speed.
"""

from __future__ import annotations

from wfrun.engine.workers import BUSY, SHORT_JOB, WINDOW, Demand


class Clocks:
    """A wall clock and a CPU clock the test moves."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.used = 5.0

    def compute(self, seconds: float) -> None:
        self.wall += seconds
        self.used += seconds

    def wait(self, seconds: float) -> None:
        self.wall += seconds


def _demand() -> tuple[Demand, Clocks]:
    clocks = Clocks()
    return Demand(clock=lambda: clocks.wall, cpu=lambda: clocks.used), clocks


def test_a_job_that_waited_fills_every_slot() -> None:
    demand, clocks = _demand()
    started = clocks.wall
    clocks.compute(SHORT_JOB * 2)  # even computing: a job that long did not end at once
    assert demand.share(started, others_running=True) is None


def test_while_the_process_computes_one_worker_carries_on_and_the_others_wait() -> None:
    demand, clocks = _demand()
    clocks.compute(WINDOW * 2)
    assert demand.share(clocks.wall, others_running=True) == 0
    clocks.compute(WINDOW * 2)
    assert demand.share(clocks.wall, others_running=False) == 1  # never leave the run idle


def test_once_the_process_waits_every_slot_gets_a_job() -> None:
    demand, clocks = _demand()
    clocks.compute(WINDOW * BUSY * 0.9)
    clocks.wait(WINDOW)  # under BUSY of a CPU over the window: waiting
    assert demand.share(None, others_running=True) is None
    assert demand.share(clocks.wall, others_running=True) == 0  # too soon to tell: computing
