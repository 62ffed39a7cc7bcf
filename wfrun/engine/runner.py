"""Run a workflow end to end, and guarantee teardown whatever happens.

An agent raising or a resource failing ends its phase; Ctrl-C or SIGTERM cancels the
running phases; a bug in wfrun itself is recorded. In every case the `finally` below
stops every started resource (newest first, each stop isolated), while further
interrupts are deferred so a second Ctrl-C cannot abandon the remaining stops, and the
run record is finished.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Self

from wfrun import constants as C
from wfrun.engine import events as ev
from wfrun.engine import procs
from wfrun.engine.journal import Journal
from wfrun.engine.pool import ResourcePool
from wfrun.engine.records import RecordSink, describe, new_run_dir, now_iso
from wfrun.engine.resume import Resume
from wfrun.engine.resume import identities as phase_identities
from wfrun.engine.runtag import tagged_environment
from wfrun.engine.scheduler import Scheduler
from wfrun.engine.turns import TurnRunner
from wfrun.errors import RunError
from wfrun.planner import Plan, plan_workflow
from wfrun.redact import Redactor
from wfrun.registry import Registry, default_registry, with_plugins
from wfrun.spec.model import Workflow
from wfrun.status import FAILED_STATES, RUN_EXIT_CODES, PhaseStatus, RunStatus

CANCEL_GRACE = 10.0
SWEEP_GRACE = 1.0  # seconds a process the run left behind gets between SIGTERM and SIGKILL
# Every signal that asks a run to end: Ctrl-C, `kill`, the terminal closing, Ctrl-\.
# Each one tears down like Ctrl-C; none may end the process with resources still live.
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@dataclass(frozen=True)
class RunSummary:
    """What `wfrun.run` returns: the verdict and where the record is."""

    run_id: str
    run_dir: Path
    status: str
    exit_code: int
    phases: Mapping[str, Mapping[str, Any]]
    seconds: float
    reason: str = ""


def run_workflow(
    workflow: Workflow,
    *,
    plan: Plan | None = None,
    registry: Registry | None = None,
    runs_dir: Path | None = None,
    max_parallel: int = C.DEFAULT_MAX_PARALLEL,
    sinks: Sequence[ev.EventSink] = (),
    environ: Mapping[str, str] | None = None,
    resume: Resume | None = None,
) -> RunSummary:
    """Run every phase per the plan; returns the summary (raises only for wfrun bugs)."""
    plan = plan or plan_workflow(workflow)
    registry = with_plugins(registry or default_registry(), workflow.plugins, workflow.base_dir)
    environ = dict(os.environ if environ is None else environ)
    redactor = Redactor.for_environ(workflow.secrets, environ)
    name = workflow.name if redactor.text(workflow.name) == workflow.name else "masked"
    run_id, run_dir = new_run_dir(runs_dir or Path(C.RUNS_DIR), name)  # a folder: no secret
    journal = Journal(run_dir)
    header = {
        "id": run_id,
        "workflow": workflow.name,
        "file": str(workflow.file),
        "execution": workflow.execution,
        "params": redactor.data(dict(workflow.params)),
        "plugins": list(workflow.plugins),
        "started_at": now_iso(),
        "max_parallel": max_parallel,
        "pid": os.getpid(),
        "runner": journal.runner,  # cleanup tells a dead run from a live one
    }
    identities = _lineage(header, workflow, resume)
    record = RecordSink(run_dir, header=redactor.data(header), identities=identities)
    if resume is not None:  # its memories come back (the record's identities: RecordSink)
        resume.restore_memories(run_dir)
    emitter = ev.Emitter(
        [record, *sinks],
        strict=[record],
        redact=redactor.event if redactor else None,
        mask=redactor.text if redactor else None,
    )
    pool = ResourcePool(
        workflow, registry, run_dir=run_dir, environ=environ, emitter=emitter, journal=journal
    )
    runner = TurnRunner(workflow, registry, pool, emitter, {}, run_dir, environ)
    scheduler = Scheduler(
        workflow,
        plan,
        runner,
        max_parallel=max_parallel,
        environ=environ,
        reused=resume.reused if resume is not None else None,
        parent=resume.parent_id if resume is not None else "",
        identities=identities,
    )
    emitter.emit(
        ev.RunStarted,
        run_id=run_id,
        workflow=workflow.name,
        file=str(workflow.file),
        run_dir=str(run_dir),
        execution=workflow.execution,
        phases=list(plan.order),
        max_parallel=scheduler.max_parallel,
        started_at=header["started_at"],
    )
    status, reason = RunStatus.SUCCEEDED, ""
    crash: BaseException | None = None
    with (
        _Interrupts(emitter, on_first=scheduler.interrupt) as interrupts,
        tagged_environment(run_dir),
    ):
        try:
            scheduler.run()
            if scheduler.stop_reason:  # budget: or max_spawns: crossed (issue 18)
                status, reason = RunStatus.FAILED, scheduler.stop_reason
        except KeyboardInterrupt:
            interrupts.defer()  # (the handler did both already, unless it came from elsewhere)
            scheduler.interrupt()
            status, reason = RunStatus.INTERRUPTED, f"interrupted ({interrupts.cause})"
            emitter.emit(
                ev.Notice, message="interrupted: cancelling running phases", level="warning"
            )
            pool.cancel()
            scheduler.cancel_running("the run was interrupted")
            scheduler.drain(CANCEL_GRACE)
        except Exception as exc:  # noqa: BLE001 - a bug in wfrun: tear down, then re-raise
            interrupts.defer()
            status, reason, crash = (
                RunStatus.ERROR,
                f"internal error: {type(exc).__name__}: {exc}",
                exc,
            )
            pool.cancel()
            scheduler.cancel_running("internal error")
            scheduler.drain(CANCEL_GRACE)
        finally:
            interrupts.defer()
            unwritten = lambda: _unwritten(record, journal)
            _finish(scheduler, pool, emitter, status, reason, run_dir, unwritten)
    summary = _summary(run_id, run_dir, record, emitter)
    if crash is not None:
        raise crash
    if record.failure and record.failure not in summary.reason:  # failed at the last write
        raise RunError(record.failure)
    return summary


def _lineage(header: dict[str, Any], workflow: Workflow, resume: Resume | None) -> dict[str, str]:
    """Issue 19: each phase's identity (a later `--resume` compares them; the record's
    `identities.json`) and, in the header, the parent run."""
    if resume is not None:
        header["parent"] = resume.parent_id
    return phase_identities(workflow)


def _finish(
    scheduler: Scheduler,
    pool: ResourcePool,
    emitter: ev.Emitter,
    status: RunStatus,
    reason: str,
    run_dir: Path,
    unwritten: Callable[[], str],
) -> None:
    """Stop everything, mark what never ran, write the verdict. Runs exactly once."""
    for run in scheduler.not_run():
        run.status = PhaseStatus.SKIPPED
        run.reason = "the run stopped before it" if status != RunStatus.SUCCEEDED else "never ready"
        emitter.emit(ev.PhaseSkipped, phase=run.name, reason=run.reason)
    scheduler.stop_workers()
    scheduler.runner.transcript.close()
    pool.stop_all()
    _sweep(run_dir, emitter)
    failed = [r.name for r in scheduler.runs.values() if r.status in FAILED_STATES]
    if status == RunStatus.SUCCEEDED and failed:
        status = RunStatus.FAILED
        reason = f"phase{'s' if len(failed) > 1 else ''} failed: {', '.join(failed)}"
    if pool.stop_errors:  # something may be left behind: never call that a success
        status = RunStatus.FAILED if status == RunStatus.SUCCEEDED else status
        stops = "some resources failed to stop: " + "; ".join(pool.stop_errors)
        reason = f"{reason}; {stops}" if reason else stops
    lost = unwritten()
    if lost:  # an unrecorded run is no success, whatever its phases said
        status = RunStatus.FAILED if status == RunStatus.SUCCEEDED else status
        reason = f"{reason}; {lost}" if reason else lost
    emitter.emit(
        ev.RunFinished,
        status=status,
        exit_code=RUN_EXIT_CODES[status],
        seconds=emitter.now(),
        failed=failed,
        reason=reason,
    )
    emitter.close()


def _sweep(run_dir: Path, emitter: ev.Emitter) -> None:
    """Stop what the run started that is still running after every stop: processes that
    left their session (`setsid`, a daemonising service, a `python` agent's Popen). Each
    carries `WFRUN_RUN_DIR`: one scan of /proc per run finds them, none per command."""
    found = procs.run_processes(run_dir.name)
    if found:
        count = procs.stop_processes(found, grace=SWEEP_GRACE)
        pids = ", ".join(map(str, sorted(found)))
        message = f"stopped {count} process(es) the run left running: {pids}"
        emitter.emit(ev.Notice, message=message, level="warning")


def _unwritten(record: RecordSink, journal: Journal) -> str:
    """Why the record is incomplete ("" when it is whole)."""
    if record.failure:
        return record.failure
    if journal.failure is not None:
        return f"the run record could not be written: {describe(journal.failure)}"
    return ""


def _summary(run_id: str, run_dir: Path, record: RecordSink, emitter: ev.Emitter) -> RunSummary:
    data = record.summary
    return RunSummary(
        run_id=run_id,
        run_dir=run_dir,
        status=data["status"],
        exit_code=data["exit_code"],
        phases=data["phases"],
        seconds=data.get("seconds", emitter.now()),
        reason=data.get("reason", ""),
    )


class _Interrupts:
    """SIGINT, SIGTERM, SIGHUP and SIGQUIT for the whole run, installed once so no
    signal finds a gap.

    The first one, while phases run, tells the scheduler to start nothing more (a flag:
    the handler must not wait for a lock) and raises KeyboardInterrupt. From then on,
    and from the moment teardown begins, signals are noted, never obeyed: a second
    Ctrl-C must not abandon the remaining stops. Notes are emitted from a short-lived
    thread, since the main thread may hold the emitter's lock when the signal lands.
    """

    def __init__(self, emitter: ev.Emitter, *, on_first: Callable[[], None]) -> None:
        self._emitter = emitter
        self._on_first = on_first
        self._deferring = False
        self._previous: dict[int, Any] = {}
        self.cause = "Ctrl-C or SIGTERM"  # named after the first signal, once one came

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for sig in INTERRUPTS:
                if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                    continue  # `nohup wfrun run`: the terminal closing is not a stop
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def defer(self) -> None:
        """Teardown began: from now on a signal is only noted."""
        self._deferring = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if not self._deferring:
            self._deferring = True
            self.cause = _CAUSES.get(signal.Signals(signum), signal.Signals(signum).name)
            self._on_first()
            raise KeyboardInterrupt
        message = f"{signal.Signals(signum).name}: still stopping resources"
        threading.Thread(
            target=self._emitter.emit,
            args=(ev.Notice,),
            kwargs={"message": message, "level": "warning"},
            daemon=True,
        ).start()


_CAUSES = {
    signal.SIGINT: "Ctrl-C",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP: the terminal closed",
    signal.SIGQUIT: "SIGQUIT",
}
