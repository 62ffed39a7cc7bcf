"""The scheduler's worker threads, and how many of them to keep busy.

Daemon threads, not a `ThreadPoolExecutor`'s: an agent that ignores its cancel must not
keep wfrun from exiting, and an executor's threads are joined at exit. A worker whose
chain of jobs ended says so (`idle`): the next job submitted goes to it rather than to
a new thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Job = TypeVar("Job")

SHORT_JOB = 0.001  # seconds: a job this short leaves its worker computing, not waiting
WINDOW = 0.002  # seconds of CPU use looked back on to tell computing from waiting
BUSY = 0.5  # share of one CPU above which the process computes: more workers only contend


class Workers(Generic[Job]):
    """Daemon threads that run phases handed to them; one more for each abandoned one."""

    def __init__(self, run: Callable[[Job], None]) -> None:
        self._run = run
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Job) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                thread = threading.Thread(
                    target=self._work, name=f"wfrun-worker-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)

    def stop(self) -> None:
        """Let every worker end (a stuck one ends with the process: it is a daemon)."""
        for _ in self._threads:
            self._jobs.put(None)

    def idle(self) -> None:
        """The calling worker is done with its job: a job submitted now may be its own."""
        with self._lock:
            self._idle += 1

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._run(job)


class Demand:
    """Parallelism on demand: how many jobs to start now.

    While the process computes (jobs that end within SHORT_JOB, a python agent at
    work), more workers only fight over one GIL: four workers running no-op phases of a
    wide graph fell into a lock convoy, about one context switch and 2-3x the cost a
    phase. Then a worker that finished a job takes a next one only if nothing else runs,
    and the others wait. Once jobs wait on something (a command, a socket, a sleep),
    every free slot gets one, from the worker that finished or from whoever looks next.
    Not thread-safe: the scheduler calls it under its lock.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,  # this process's CPU seconds
    ) -> None:
        self._clock, self._cpu = clock, cpu
        self._looked = (clock(), cpu())

    def share(self, done_started: float | None, others_running: bool) -> int | None:
        """None: start every job that fits; else at most that many. `done_started` is when
        the job that just finished started (None: the main thread asks)."""
        waited = done_started is not None and self._clock() - done_started >= SHORT_JOB
        if waited or self._cpu_idle():
            return None
        return 0 if others_running else 1

    def _cpu_idle(self) -> bool:
        """Whether the process used under BUSY of a CPU since the last look, at least
        WINDOW ago (shorter spans measure the clock, not the workload)."""
        now = self._clock()
        then, cpu_then = self._looked
        if now - then < WINDOW:
            return False
        cpu = self._cpu()  # a system call, unlike the clock: only once a window
        self._looked = (now, cpu)
        return cpu - cpu_then < BUSY * (now - then)
