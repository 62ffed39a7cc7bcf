"""The scheduler's worker threads.

Daemon threads, not a `ThreadPoolExecutor`'s: an agent that ignores its cancel must not
keep wfrun from exiting, and an executor's threads are joined at exit. A worker whose
chain of jobs ended says so (`idle`): the next job submitted goes to it rather than to
a new thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Job = TypeVar("Job")


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
