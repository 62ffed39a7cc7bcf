"""The scheduler: one set of rules for sequential and graph runs (sequential is one worker).

Every decision and the ledger live under one lock (`_state`). A worker that finishes a
phase records it, decides what became ready, and runs the next phase itself: no thread
handoff per phase (a handoff cost more than the rest of a no-op phase). The main thread
supervises: it waits for the end, enforces timeouts, is where Ctrl-C and SIGTERM
arrive, and fills free slots.

Parallelism on demand: phases waiting for free slots go to other workers when the
running phases leave the CPU idle (they wait on a process, a socket, a sleep: a worker
finishing a phase looks), or when no phase has started for `STALL` seconds (the
supervisor looks). Phases that keep Python busy gain nothing from more threads (one
GIL) and lost a third of their speed to the contention.

A phase becomes *resolved-ready* when every need has finished or been skipped; then
its `if:` (and the implicit "upstream succeeded" rule) decides run or skip. A skip
cascades to dependents in the same pass (nox's `schedule_ready`): each event costs
O(its dependents + its resource set), never a scan of every phase.

The implicit rule, as in GitHub Actions: a phase runs only if its needs succeeded (in
a sequential run: no earlier phase failed) AND its `if:` holds — unless the `if:` reads
a `failed`, `skipped` or `status` field, in which case the `if:` alone decides.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from wfrun.engine import events as ev
from wfrun.engine.capacity import Admission
from wfrun.engine.turns import FAILED_STATES, PhaseRun, TurnRunner, elapsed
from wfrun.planner import Ledger, Plan
from wfrun.spec import expr
from wfrun.spec.model import Phase, Workflow

TIMEOUT_GRACE = 5.0  # seconds a cancelled phase gets to return before it is abandoned
STALL = 0.01  # seconds without a phase start after which waiting phases get workers
WINDOW = 0.002  # seconds of CPU use a worker looks back on to tell busy from waiting
BUSY = 0.5  # share of one CPU the process uses above which more workers only contend
_FAILURE_FIELDS = frozenset({"failed", "skipped", "status"})


class Scheduler:
    """Runs every phase of a plan to a final state, releasing resources per the ledger."""

    def __init__(
        self,
        workflow: Workflow,
        plan: Plan,
        runner: TurnRunner,
        *,
        max_parallel: int,
        environ: Mapping[str, str],
    ) -> None:
        self.workflow = workflow
        self.plan = plan
        self.runner = runner
        self.pool = runner.pool
        self.emit = runner.emitter.emit
        self.environ = environ
        self.sequential = workflow.execution == "sequential"
        self.max_parallel = 1 if self.sequential else max(1, max_parallel)
        self.ledger = Ledger(plan)
        self.runs: dict[str, PhaseRun] = {}
        self.results = self.runs  # read by workers for `${phases...}`
        runner.results = self.runs
        self.running: dict[str, PhaseRun] = {}
        self.ready: deque[PhaseRun] = deque()  # needs resolved, not yet decided
        self.runnable: deque[PhaseRun] = deque()  # decided to run, waiting for a slot
        self.sequence: deque[PhaseRun] = deque()
        self.failed_any = False
        self.last_output: Any = None
        self._state = threading.Condition()  # guards everything above; notified on changes
        self._jobs: queue.SimpleQueue[PhaseRun | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._abandoned = 0  # workers stuck in a phase that was given up on
        self._stopping = False  # interrupted: record what finishes, start nothing
        self._crash: BaseException | None = None  # a bug in wfrun, raised on the main thread
        self._spawn_ids = itertools.count(1)
        self._last_start = 0.0  # monotonic time of the latest phase start
        self._watching = False  # the supervisor wakes every STALL (else: told by notify)
        self._looked = (time.monotonic(), time.process_time())  # at a worker's last look
        self.pool.on_failure = self._resource_failed
        # capacity (issue 15): graph runs with limits admit phases via a banker's check;
        # sequential plans that split lifetimes stop resources after these phases
        self.admission = None if self.sequential or not plan.capacity.limits else Admission(plan)
        self._pauses = {step.phase: step.pause for step in plan.steps if step.pause}
        self._build_runs()

    # -- setup -------------------------------------------------------------------------

    def _build_runs(self) -> None:
        phases = self.workflow.phases
        for name, resources in zip(self.plan.order, self.plan.resource_sets, strict=True):
            phase = phases[name]
            run = PhaseRun(
                name=name,
                spec=phase,
                needs=() if self.sequential else phase.needs,
                resources=resources,
                params=self.workflow.params,
            )
            self.runs[run.name] = run
        for run in self.runs.values():
            run.waiting_on = len(run.needs)
            for need in run.needs:
                self.runs[need].dependents.append(run.name)
        if self.sequential:
            self.sequence.extend(self.runs.values())
        else:
            self.ready.extend(run for run in self.runs.values() if not run.needs)

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        """Until every phase is final. KeyboardInterrupt propagates (the runner tears down)."""
        with self._state:
            self._hand_out(self._dispatch(limit=1))
            while self.running or self.runnable:
                if self._crash is not None:
                    raise self._crash
                self._state.wait(self._next_timeout())
                self._expire()
                if self._slot_waiting() and time.monotonic() - self._last_start >= STALL:
                    self._hand_out(self._dispatch(limit=self.max_parallel))
            if self._crash is not None:
                raise self._crash

    def _dispatch(self, limit: int) -> list[PhaseRun]:
        """Decide every newly ready phase once; start up to `limit` while slots are free."""
        started: list[PhaseRun] = []
        if self.sequential:
            while not self.running and self.sequence:
                run = self.sequence.popleft()
                go, reason = self._decide(run)
                if go:
                    self._start(run)
                    started.append(run)
                else:
                    self._skip(run, reason)
            return started
        while self.ready:  # skips may make more phases ready: loop until none is
            run = self.ready.popleft()
            go, reason = self._decide(run)
            if go:
                self.runnable.append(run)
            else:
                self._skip(run, reason)
        while self._slot_waiting() and len(started) < limit:
            admitted = self._admissible()
            if admitted is None:  # capacity (issue 15): wait for a running phase to finish
                break
            self._start(admitted)
            started.append(admitted)
        return started

    def _admissible(self) -> PhaseRun | None:
        """The first runnable phase the limits admit (capacity, issue 15; lock held)."""
        if self.admission is None:
            return self.runnable.popleft()
        for run in self.runnable:
            if self.admission.can_admit(run.name):
                self.runnable.remove(run)
                return run
        return None

    def _slot_waiting(self) -> bool:
        """A decided phase waits and a slot is free (lock held)."""
        return bool(self.runnable) and len(self.running) < self.max_parallel and not self._stopping

    def _cpu_idle(self) -> bool:
        """Whether the process used under BUSY of a CPU lately (a worker asks, lock held).

        Looks back at least WINDOW: shorter spans measure the clock, not the workload.
        """
        now, cpu = time.monotonic(), time.process_time()
        then, cpu_then = self._looked
        if now - then < WINDOW:
            return False
        self._looked = (now, cpu)
        return cpu - cpu_then < BUSY * (now - then)

    def _hand_out(self, runs: list[PhaseRun]) -> None:
        """Queue phases for idle workers, adding workers up to the parallel limit."""
        for run in runs:
            if len(self._workers) - self._abandoned < self.max_parallel:
                self._add_worker()
            self._jobs.put(run)
        if any(run.deadline is not None for run in runs):
            self._state.notify()  # the supervisor re-reads deadlines

    def _add_worker(self) -> None:
        thread = threading.Thread(target=self._work, name=f"wfrun-worker-{len(self._workers)}")
        thread.daemon = True  # an agent that ignores cancellation must not hang exit
        thread.start()
        self._workers.append(thread)

    def _work(self) -> None:
        job = self._jobs.get()
        while job is not None:
            try:
                self.runner.run(job)
            except Exception as exc:  # noqa: BLE001 - a wfrun bug fails the phase, loudly
                job.status, job.success = "error", False
                job.reason = f"internal error: {type(exc).__name__}: {exc}"
            with self._state:
                try:
                    job = self._next_job(job)
                except Exception as exc:  # noqa: BLE001 - a bug in the bookkeeping ends the run
                    self._crash, job = exc, None
                    self._state.notify()
            if job is None:
                job = self._jobs.get()

    def _next_job(self, done: PhaseRun) -> PhaseRun | None:
        """Record `done`; return the phase this worker runs next, if any (lock held)."""
        if self._stopping:
            if self.running.pop(done.name, None) is not None:
                self._finished(done)
            self._state.notify()
            return None
        if not self._complete(done):
            self._abandoned -= 1  # its phase was given up on; the worker is free again
            return None
        if self._stopping:  # interrupted while its resources were being released
            self._state.notify()
            return None
        started = self._dispatch(limit=1)
        mine = started[0] if started else None
        if self._slot_waiting() and self._cpu_idle():  # the others wait on something: join in
            self._hand_out(self._dispatch(limit=self.max_parallel))
        if (
            not (self.running or self.runnable)  # the end
            or (mine and mine.deadline is not None)  # a deadline to watch
            or (not self._watching and self._slot_waiting())  # a phase waits: watch for stalls
        ):
            self._state.notify()
        return mine

    def _next_timeout(self) -> float:
        self._watching = self._slot_waiting()
        wait = STALL if self._watching else 0.5
        deadlines = [r.deadline for r in self.running.values() if r.deadline is not None]
        if not deadlines:
            return wait
        return max(0.0, min(wait, min(deadlines) - time.monotonic()))

    def _expire(self) -> None:
        now = time.monotonic()
        for run in list(self.running.values()):
            if run.deadline is None or now < run.deadline:
                continue
            if not run.cancelled.is_set():
                run.cancel(f"timed out after {run.spec.timeout:g}s")
                run.deadline = now + TIMEOUT_GRACE
            else:  # it ignored the cancel: give up on it, the thread is a daemon
                run.status, run.success = "timeout", False
                run.reason = f"{run.cancel_reason}; the agent did not stop and was abandoned"
                self._abandoned += 1
                self._complete(run)
                self._hand_out(self._dispatch(limit=1))

    # -- decisions ---------------------------------------------------------------------

    def _decide(self, run: PhaseRun) -> tuple[bool, str]:
        if self.sequential:
            upstream_ok, why = not self.failed_any, "an earlier phase failed"
        else:
            bad = [n for n in run.needs if self.runs[n].status != "succeeded"]
            upstream_ok = not bad
            why = "needs did not succeed: " + ", ".join(f"{n} ({self.runs[n].status})" for n in bad)
        condition = run.spec.condition
        if condition is None:
            return upstream_ok, why
        try:
            holds = bool(expr.evaluate(condition, self._lookup))
        except expr.ExpressionError as exc:  # a failure of the phase, never a quiet skip
            run.status = "error"
            return False, f"if: {run.spec.condition_text} could not be evaluated: {exc}"
        explicit = any(
            name.parts[0] == "phases" and name.parts[-1] in _FAILURE_FIELDS
            for name in expr.names(condition)
        )
        if not holds:
            return False, f"if: {run.spec.condition_text} is false"
        if not explicit and not upstream_ok:
            return False, why
        return True, ""

    def _lookup(self, parts: tuple[str, ...]) -> Any:
        head = parts[0]
        if head == "phases":
            return self.runs[parts[1]].field_value(parts[2])
        if head == "params":
            value: Any = self.workflow.params
            for part in parts[1:]:
                value = value[part]
            return value
        return self.environ.get(parts[1])

    # -- transitions -------------------------------------------------------------------

    def _start(self, run: PhaseRun) -> None:
        run.status = "running"
        run.started = self._last_start = time.monotonic()
        run.previous = self._previous(run)
        if run.spec.timeout is not None:
            run.deadline = run.started + run.spec.timeout
        self.running[run.name] = run
        if self.admission is not None:  # capacity (issue 15)
            self.admission.admitted(run.name)
        self.emit(
            ev.PhaseStarted,
            phase=run.name,
            agents=run.spec.agents,
            max_iterations=run.spec.max_iterations,
            spawned_by=run.spawned_by,
        )

    def _previous(self, run: PhaseRun) -> Any:
        if self.sequential or run.spawned_by:
            return self.runs[run.spawned_by].output if run.spawned_by else self.last_output
        if not run.needs:
            return None
        if len(run.needs) == 1:
            return self.runs[run.needs[0]].output
        return {need: self.runs[need].output for need in run.needs}

    def _complete(self, run: PhaseRun) -> bool:
        """Record a finished phase; False for an abandoned phase reporting late."""
        if self.running.pop(run.name, None) is None:
            return False
        if run.cancelled.is_set() and run.cancel_reason.startswith("timed out"):
            run.status, run.success = "timeout", False
            run.reason = run.reason if "abandoned" in run.reason else run.cancel_reason
        if run.status in FAILED_STATES:
            self.failed_any = True
        self.last_output = run.output
        self._finished(run)
        spawned = self._spawn(run)
        self.pool.release(self.ledger.finished(run.name).resources)
        self._capacity_done(run)
        self._resolve_dependents(run)
        if self.sequential:
            self.sequence.extendleft(reversed(spawned))
        else:
            self.ready.extend(spawned)
        return True

    def _spawn(self, run: PhaseRun) -> list[PhaseRun]:
        made: list[PhaseRun] = []
        for request in run.spawns:
            template: Phase = self.workflow.templates[request.template]
            name = f"{request.template}-{next(self._spawn_ids)}"
            reacquire = self.ledger.spawned(request.template, name, run.name)
            params = {**self.workflow.params, **template.params, **request.params}
            child = PhaseRun(
                name=name,
                spec=template,
                needs=(run.name,),
                resources=self.plan.templates[request.template].resources,
                params=params,
                spawned_by=run.name,
                template=request.template,
            )
            self.runs[name] = child
            if self.admission is not None:  # capacity (issue 15)
                self.admission.spawned(name, request.template)
            self.emit(
                ev.PhaseSpawned,
                phase=name,
                template=request.template,
                spawner=run.name,
                params=dict(request.params),
                reacquire=reacquire.resources,
            )
            made.append(child)
        return made

    def _skip(self, run: PhaseRun, reason: str) -> None:
        """Skip `run`; its dependents become ready and are decided in the same pass."""
        if run.status == "error":  # its `if:` could not be evaluated: it fails instead
            run.reason, run.started, self.failed_any = reason, time.monotonic(), True
            self._finished(run)
            self.pool.release(self.ledger.finished(run.name).resources)
            self._capacity_done(run)
            self._resolve_dependents(run)
            return
        run.status, run.reason = "skipped", reason
        self.emit(ev.PhaseSkipped, phase=run.name, reason=reason)
        self.pool.release(self.ledger.skipped(run.name).resources)
        self._capacity_done(run)
        self._resolve_dependents(run)

    def _capacity_done(self, run: PhaseRun) -> None:
        """Capacity (issue 15): stop what a split plan pauses after `run`, and tell the
        admission its resources may stop counting (lock held)."""
        self.pool.release(self._pauses.get(run.name, ()))
        if self.admission is not None:
            self.admission.done(run.name)

    def _resolve_dependents(self, run: PhaseRun) -> None:
        for name in run.dependents:
            dependent = self.runs[name]
            dependent.waiting_on -= 1
            if dependent.waiting_on == 0:
                self.ready.append(dependent)

    # -- stopping ----------------------------------------------------------------------

    def interrupt(self) -> None:
        """Start nothing more. Lock-free: a signal handler calls it, maybe mid-decision."""
        self._stopping = True

    def _resource_failed(self, name: str, reason: str) -> None:
        """A live resource broke on its own: the running phases holding it fail with why
        (later ones fail when they acquire it). Called from the pool's watch thread."""
        with self._state:
            for run in self.running.values():
                if name in run.resources:
                    run.cancel(reason, status="failed")

    def cancel_running(self, reason: str) -> None:
        with self._state:
            self._stopping = True
            for run in self.running.values():
                run.cancel(reason)

    def drain(self, grace: float) -> None:
        """Wait (bounded) for cancelled phases to return, recording how they ended."""
        deadline = time.monotonic() + grace
        with self._state:
            self._stopping = True
            while self.running and (left := deadline - time.monotonic()) > 0:
                self._state.wait(left)
            for run in self.running.values():
                run.status, run.success = "cancelled", False
                run.reason = "abandoned: it did not stop in time"
                self._finished(run)
            self.running.clear()

    def _finished(self, run: PhaseRun) -> None:
        self.emit(
            ev.PhaseFinished,
            phase=run.name,
            status=run.status,
            success=run.success,
            iterations=run.iterations,
            seconds=elapsed(run.started),
            output=run.output,
            reason=run.reason,
        )

    def not_run(self) -> list[PhaseRun]:
        """Phases that never got to run because the run was stopped."""
        return [run for run in self.runs.values() if run.status == "pending"]

    def stop_workers(self) -> None:
        for _ in self._workers:
            self._jobs.put(None)
