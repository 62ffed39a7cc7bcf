"""The scheduler: one loop for sequential and graph runs (sequential is one worker).

All scheduling state — what is ready, running and finished, the ledger, spawns — is
read and changed under one lock, `_lock`, by whichever thread has news. A worker that
finishes a phase records it, releases what the ledger says, decides what became ready
and starts what fits; the first phase it starts it keeps and runs itself, so a chain
of phases costs no thread switch. (Posting each finished phase to the main thread to
decide cost two or three context switches a phase: 2-3x a no-op phase's cost,
benchmarks/engine_overhead.py.) The main thread supervises: it waits on the inbox
with a timeout set by the nearest phase deadline, enforces timeouts, handles what
other threads post (a resource's watcher, the end of the run), and it is where Ctrl-C
and SIGTERM arrive.

Parallelism on demand (`workers.Demand`): phases that keep Python busy gain nothing from more
threads (one GIL), and four workers running no-op phases fell into a lock convoy that
made each phase 2-3x dearer; so while the process computes, one worker carries on and
the others wait. Once phases wait on something (a command, a socket), every free slot
gets a phase.

Workers (`engine/workers.py`) are daemon threads, not a `ThreadPoolExecutor`'s: an
agent that ignores its cancel must not keep wfrun from exiting.

A phase becomes *resolved-ready* when every need has finished or been skipped; then
its `if:` (and the implicit "upstream succeeded" rule) decides run or skip. A skip
cascades to dependents in the same pass (nox's `schedule_ready`): each event costs
O(its dependents + its resource set), never a scan of every phase.

The implicit rule, as in GitHub Actions: a phase runs only if its needs succeeded (in
a sequential run: no earlier phase failed) AND its `if:` holds — unless the `if:` reads
a `failed`, `skipped` or `status` field, in which case the `if:` alone decides.
"""

from __future__ import annotations

import functools
import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from wfrun.engine import events as ev
from wfrun.engine.capacity import Admission
from wfrun.engine.turns import CancelFlag, PhaseRun, TurnRunner, elapsed
from wfrun.engine.usage import UsageMeter
from wfrun.engine.workers import Demand, Workers
from wfrun.planner import Ledger, Plan
from wfrun.spec import expr
from wfrun.spec.model import Phase, Workflow
from wfrun.status import FAILED_STATES, FAILURE_FIELDS, PhaseStatus

TIMEOUT_GRACE = 5.0  # seconds a cancelled phase gets to return before it is abandoned
IDLE_WAKE = 0.5  # seconds the loop sleeps at most with no deadline to watch
WATCH = 0.002  # seconds between the main thread's looks while phases wait for a free slot


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
        reused: Mapping[str, str] | None = None,
        parent: str = "",
        identities: Mapping[str, str] | None = None,
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
        runner.results = self.runs  # read by workers for `${phases...}`
        self.running: dict[str, PhaseRun] = {}
        self.ready: deque[PhaseRun] = deque()  # needs resolved, not yet decided
        self.runnable: deque[PhaseRun] = deque()  # decided to run, waiting for a slot
        self.sequence: deque[PhaseRun] = deque()
        self.failed_any = False
        self.last_output: Any = None
        self._lock = threading.Lock()  # guards all scheduling state (see the docstring)
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._here = threading.local()  # a worker's `keeping` and `kept` (`_work`)
        self._demand = Demand()  # how many phases to start while the process computes
        self._workers = Workers(self._work)
        self._stopping = False  # interrupted: record what finishes, start nothing
        self._spawn_ids = itertools.count(1)
        self.pool.on_failure = self._resource_failed
        # capacity (issue 15): graph runs with limits admit phases via a banker's check;
        # sequential plans that split lifetimes stop resources after these phases
        self.admission = None if self.sequential or not plan.has_limits else Admission(plan)
        self._pauses = {step.phase: step.pause for step in plan.steps if step.pause}
        self.reused = dict(reused or {})  # `--resume` (issue 19): phase -> recorded output
        self.parent = parent
        self.identities = dict(identities or {})
        self._limits_hook(workflow, runner)
        self._build_runs()

    # -- budget: and max_spawns: (issue 18) ----------------------------------------------

    def _limits_hook(self, workflow: Workflow, runner: TurnRunner) -> None:
        """Crossing `budget:` or `max_spawns:` stops the run: failed, with the reason."""
        self.stop_reason = ""
        self._spawned = 0
        seconds = workflow.budget.get("seconds")
        self._budget_deadline = time.monotonic() + seconds if seconds else None
        if workflow.budget.get("tokens") or workflow.budget.get("cost"):
            meter = UsageMeter(workflow.budget, lambda r: self._inbox.put(lambda: self.stop(r)))
            runner.on_usage = meter.add

    def stop(self, reason: str) -> None:
        """Stop the run gracefully: start nothing more, cancel what runs (teardown follows).
        Called with the lock held (from the inbox, a deadline or a spawn)."""
        if self.stop_reason:
            return
        self.stop_reason = reason
        self.emit(ev.Notice, message=f"stopping the run: {reason}", level="warning")
        self._cancel_running(reason)

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

    # -- the loop (main thread) --------------------------------------------------------

    def run(self) -> None:
        """Until every phase is final. KeyboardInterrupt propagates (the runner tears down)."""
        with self._lock:
            self._dispatch(self._share())
        while True:
            with self._lock:
                if not self.running:
                    return
                timeout = self._next_timeout()
            self._wait_and_handle(timeout)
            with self._lock:
                self._expire()
                self._dispatch(self._share())

    def _wait_and_handle(self, timeout: float) -> None:
        """Handle the next message, and any already waiting; return at `timeout` if none."""
        try:
            handle = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            with self._lock:
                handle()
            try:
                handle = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _work(self, run: PhaseRun) -> None:
        """A worker's part: run the phase, then record it and hand out what is next, under
        the lock. The first phase it hands out it keeps and runs itself: no other worker
        is woken for it, so a chain of short phases costs no thread switch. Never raises."""
        here = self._here
        kept: PhaseRun | None = run
        while kept is not None:
            run, here.kept = kept, None
            self._run_one(run)
            here.keeping = True
            try:
                with self._lock:
                    self._complete(run)
                    self._dispatch(self._share(run))
                    wake = not self.running or self._stopping
            except Exception as exc:  # noqa: BLE001 - a bug in the bookkeeping: the main thread raises it
                self._inbox.put(functools.partial(_reraise, exc))
                wake = False
            finally:
                here.keeping = False
            kept = here.kept
            if wake:  # the end, or a stop the main thread is waiting out
                self._inbox.put(_nothing)
        self._workers.idle()

    def _run_one(self, run: PhaseRun) -> None:
        try:
            if run.backoff and run.cancelled.wait(run.backoff):  # `retry:` backoff, cut short
                run.status, run.success = run.cancel_status, False
                run.reason = run.cancel_reason or "cancelled"
            else:
                self.runner.run(run)
        except Exception as exc:  # noqa: BLE001 - a wfrun bug fails the phase, loudly
            run.status, run.success = PhaseStatus.ERROR, False
            run.reason = f"internal error: {type(exc).__name__}: {exc}"

    def _dispatch(self, limit: int | None = None) -> None:
        """Decide every newly ready phase once; start what fits in the free slots (at most
        `limit` of them)."""
        if self._stopping:
            return
        if self.sequential:
            while not self.running and self.sequence:
                run = self.sequence.popleft()
                go, reason = self._decide(run)
                if go:
                    self._start(run)
                else:
                    self._skip(run, reason)
            return
        while self.ready:  # skips may make more phases ready: loop until none is
            run = self.ready.popleft()
            go, reason = self._decide(run)
            if go:
                self.runnable.append(run)
            else:
                self._skip(run, reason)
        started = 0
        while self.runnable and len(self.running) < self.max_parallel and started != limit:
            admitted = self._admissible()
            if admitted is None:  # capacity (issue 15): wait for a running phase to finish
                break
            self._start(admitted)
            started += 1

    def _share(self, done: PhaseRun | None = None) -> int | None:
        """How many phases to start now; None: every one that fits (lock held)."""
        return self._demand.share(done.started if done is not None else None, bool(self.running))

    def _admissible(self) -> PhaseRun | None:
        """The first runnable phase the limits admit (capacity, issue 15)."""
        if self.admission is None:
            return self.runnable.popleft()
        for run in self.runnable:
            if self.admission.can_admit(run.name):
                self.runnable.remove(run)
                return run
        return None

    def _next_timeout(self) -> float:
        deadlines = [r.deadline for r in self.running.values() if r.deadline is not None]
        if self._budget_deadline is not None and not self.stop_reason:
            deadlines.append(self._budget_deadline)
        wake = IDLE_WAKE
        if self.runnable and len(self.running) < self.max_parallel:
            wake = WATCH  # phases wait for a slot: look whether they may have one (`_share`)
        if not deadlines:
            return wake
        return max(0.0, min(wake, min(deadlines) - time.monotonic()))

    def _expire(self) -> None:
        now = time.monotonic()
        if self._budget_deadline is not None and now >= self._budget_deadline:
            seconds = self.workflow.budget["seconds"]
            self.stop(f"budget exceeded: the run took longer than {seconds:g}s")
        for run in list(self.running.values()):
            if run.deadline is None or now < run.deadline:
                continue
            if not run.cancelled.is_set():
                run.cancel(f"timed out after {run.spec.timeout:g}s")
                run.deadline = now + TIMEOUT_GRACE
            else:  # it ignored the cancel: give up on it, the thread is a daemon
                run.status, run.success = PhaseStatus.TIMEOUT, False
                run.reason = f"{run.cancel_reason}; the agent did not stop and was abandoned"
                self._complete(run)

    # -- decisions ---------------------------------------------------------------------

    def _decide(self, run: PhaseRun) -> tuple[bool, str]:
        if self.sequential:
            upstream_ok, why = not self.failed_any, "an earlier phase failed"
        else:
            bad = [n for n in run.needs if self.runs[n].status != PhaseStatus.SUCCEEDED]
            upstream_ok = not bad
            why = "needs did not succeed: " + ", ".join(f"{n} ({self.runs[n].status})" for n in bad)
        condition = run.spec.condition
        if condition is None:
            return upstream_ok, why
        try:
            holds = bool(expr.evaluate(condition, self._lookup))
        except expr.ExpressionError as exc:  # a failure of the phase, never a quiet skip
            run.status = PhaseStatus.ERROR
            return False, f"if: {run.spec.condition_text} could not be evaluated: {exc}"
        explicit = any(
            name.parts[0] == "phases" and name.parts[-1] in FAILURE_FIELDS
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
        run.status = PhaseStatus.RUNNING
        run.started = time.monotonic()
        run.previous = self._previous(run)
        if run.spec.timeout is not None:
            run.deadline = run.started + run.spec.timeout
        self.running[run.name] = run
        if self.admission is not None:  # capacity (issue 15)
            self.admission.admitted(run.name)
        if run.name in self.reused:  # `--resume`: its record stands; nothing is acquired
            self._reuse(run)
            return
        self._launch(run)

    def _launch(self, run: PhaseRun) -> None:
        """Say the phase (or its next attempt) started and hand it to a worker."""
        self.emit(
            ev.PhaseStarted,
            phase=run.name,
            agents=run.spec.agents,
            max_iterations=run.spec.max_iterations,
            spawned_by=run.spawned_by,
        )
        here = self._here
        if getattr(here, "keeping", False) and here.kept is None:
            here.kept = run  # the worker that decided it runs it next (`_work`)
        else:
            self._workers.submit(run)
        if run.deadline is not None:  # the main thread re-reads the deadlines
            self._inbox.put(_nothing)

    def _reuse(self, run: PhaseRun) -> None:
        """`--resume` (issue 19): finish `run` with its recorded output, through the same
        path as a phase that ran (the ledger releases nothing that was never acquired)."""
        run.status, run.success = PhaseStatus.SUCCEEDED, True
        run.output, run.deadline = self.reused[run.name], None
        identity = self.identities.get(run.name, "")
        self.emit(ev.PhaseReused, phase=run.name, parent=self.parent, identity=identity)
        self._inbox.put(lambda: self._complete(run))

    def _previous(self, run: PhaseRun) -> Any:
        if self.sequential or run.spawned_by:
            return self.runs[run.spawned_by].output if run.spawned_by else self.last_output
        if not run.needs:
            return None
        if len(run.needs) == 1:
            return self.runs[run.needs[0]].output
        return {need: self.runs[need].output for need in run.needs}

    def _complete(self, run: PhaseRun) -> None:
        """Record a finished phase (an abandoned one reporting late is ignored)."""
        if self.running.pop(run.name, None) is None:
            return
        if self._stopping:  # interrupted: record it; teardown releases everything
            self._finished(run)
            return
        if run.cancelled.is_set() and run.cancel_reason.startswith("timed out"):
            run.status, run.success = PhaseStatus.TIMEOUT, False
            run.reason = run.reason if "abandoned" in run.reason else run.cancel_reason
        if self._retry(run):
            return
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

    def _retry(self, run: PhaseRun) -> bool:
        """`retry:` (issue 19): start another attempt of a failed phase if its policy says
        so. Its resources stay held (the ledger hears nothing); a resource that failed to
        start is started again only if it is `restart: allowed`, else the failure stands."""
        policy = run.spec.retry
        if policy is None or run.attempt >= policy.attempts or run.status not in policy.on:
            return False
        if "abandoned" in run.reason:  # its agent may still be running: never start another
            return False
        if run.start_failed:
            resource = self.workflow.resources.get(run.start_failed)
            if resource is None or not resource.restart:
                return False
            self.pool.forget_failure(run.start_failed)
        wait = policy.backoff * 2 ** (run.attempt - 1)
        self.emit(
            ev.PhaseRetry,
            phase=run.name,
            attempt=run.attempt + 1,
            attempts=policy.attempts,
            reason=run.reason,
            status=run.status,
            wait=wait,
        )
        run.attempt += 1
        run.backoff = wait
        run.status, run.success, run.output, run.reason = PhaseStatus.RUNNING, False, "", ""
        run.iterations, run.start_failed = 0, ""
        run.spawns.clear()
        run.cancelled, run.cancel_reason = CancelFlag(), ""
        run.cancel_status = PhaseStatus.CANCELLED
        now = time.monotonic()
        if run.spec.timeout is not None:
            run.deadline = now + wait + run.spec.timeout
        self.running[run.name] = run
        self._launch(run)
        return True

    def _spawn(self, run: PhaseRun) -> list[PhaseRun]:
        made: list[PhaseRun] = []
        for request in run.spawns:
            limit = self.workflow.max_spawns
            if limit is not None and self._spawned >= limit:
                self.stop(f"max_spawns exceeded: {run.name} asked for more than {limit} spawns")
                break
            self._spawned += 1
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
        if run.status == PhaseStatus.ERROR:  # its `if:` could not be read: it fails instead
            run.reason, run.started, self.failed_any = reason, time.monotonic(), True
            self._finished(run)
            self.pool.release(self.ledger.finished(run.name).resources)
            self._capacity_done(run)
            self._resolve_dependents(run)
            return
        run.status, run.reason = PhaseStatus.SKIPPED, reason
        self.emit(ev.PhaseSkipped, phase=run.name, reason=reason)
        self.pool.release(self.ledger.skipped(run.name).resources)
        self._capacity_done(run)
        self._resolve_dependents(run)

    def _capacity_done(self, run: PhaseRun) -> None:
        """Capacity (issue 15): stop what a split plan pauses after `run`, and tell the
        admission its resources may stop counting."""
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
        """A live resource broke on its own (the pool's watch thread says so): the running
        phases holding it fail with why; later ones fail when they acquire it."""

        def fail_holders() -> None:
            for run in self.running.values():
                if name in run.resources:
                    run.cancel(reason, status=PhaseStatus.FAILED)

        self._inbox.put(fail_holders)

    def cancel_running(self, reason: str) -> None:
        with self._lock:
            self._cancel_running(reason)

    def _cancel_running(self, reason: str) -> None:
        """Start nothing more, cancel what runs (lock held)."""
        self._stopping = True
        for run in self.running.values():
            run.cancel(reason)

    def drain(self, grace: float) -> None:
        """Wait (bounded) for cancelled phases to return, recording how they ended."""
        self._stopping = True
        deadline = time.monotonic() + grace
        while (left := deadline - time.monotonic()) > 0:
            with self._lock:
                if not self.running:
                    break
            self._wait_and_handle(left)
        with self._lock:
            for run in self.running.values():
                run.status, run.success = PhaseStatus.CANCELLED, False
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
        return [run for run in self.runs.values() if run.status == PhaseStatus.PENDING]

    def stop_workers(self) -> None:
        self._workers.stop()


def _nothing() -> None:
    """A message that only wakes the main thread (to re-read deadlines, or to end)."""


def _reraise(exc: BaseException) -> None:
    raise exc
