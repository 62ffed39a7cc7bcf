"""The local executor: each cell a child `wfrun run` process, at most `jobs` at once.

One thread polls the children (no pool threads to stop on Ctrl-C). Each child has its
own process group, so a terminal's Ctrl-C reaches only the sweep, which then sends
SIGTERM to every running cell (each tears its run down), waits, and exits 130. A cell
past `--cell-timeout` gets SIGTERM, SIGKILL after a grace, then its journal is cleaned
up. Children get SIGTERM if the sweep itself dies (Linux: PR_SET_PDEATHSIG), so a
kill -9 of the sweep still tears each cell down; what a kill -9 of a cell leaves, its
journal lists (`wfrun cleanup --runs-dir CELL/runs`, or `wfrun sweep --resume`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from wfrun.sweep import cell as cells
from wfrun.sweep.record import CellResult, SweepRecord

KILL_GRACE = 20.0  # seconds a cell has to tear down after SIGTERM before SIGKILL
POLL = 0.02

OnEvent = Callable[[str, CellResult], None]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM of the sweep: every cell was stopped (exit 130)."""


@dataclass
class _Running:
    result: CellResult
    proc: subprocess.Popen[bytes]
    started: float
    deadline: float | None
    kill_at: float | None = None
    timed_out: bool = False


def run_local(
    record: SweepRecord,
    todo: list[CellResult],
    *,
    jobs: int,
    cell_timeout: float | None,
    capacity_dir: Path | None,
    on_event: OnEvent,
) -> None:
    """Run `todo`'s cells, `jobs` at a time; each result is updated and saved as it ends."""
    queue = list(todo)
    running: list[_Running] = []
    env = cells.cell_env(capacity_dir)
    with _signals_interrupt():
        try:
            while queue or running:
                while queue and len(running) < jobs:
                    running.append(_start(record, queue.pop(0), cell_timeout, env, on_event))
                now = time.monotonic()
                for item in list(running):
                    if item.proc.poll() is not None:
                        running.remove(item)
                        _finish(record, item, on_event)
                    else:
                        _enforce_timeout(item, now)
                time.sleep(POLL)
        except KeyboardInterrupt:
            _stop_all(record, running, on_event)
            raise SweepInterrupted from None


def _start(
    record: SweepRecord,
    result: CellResult,
    timeout: float | None,
    env: dict[str, str],
    on_event: OnEvent,
) -> _Running:
    cell_dir = record.cell_dir(result.cell)
    cell_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = cells.cell_command(record.sweep.workflow, result.cell, cell_dir)
    with (cell_dir / cells.OUTPUT).open("ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=record.sweep.workflow.parent,
            process_group=0,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - one thread forks; prctl only
        )
    result.status, result.attempts = "running", result.attempts + 1
    result.exit_code = result.seconds = None
    result.reason = ""
    record.save()
    on_event("cell_started", result)
    now = time.monotonic()
    return _Running(result, proc, now, None if timeout is None else now + timeout)


def _enforce_timeout(item: _Running, now: float) -> None:
    if item.deadline is not None and now >= item.deadline and not item.timed_out:
        item.timed_out = True
        item.kill_at = now + KILL_GRACE
        _signal_group(item.proc, signal.SIGTERM)
    elif item.kill_at is not None and now >= item.kill_at:
        _signal_group(item.proc, signal.SIGKILL)
        item.kill_at = None


def _finish(record: SweepRecord, item: _Running, on_event: OnEvent) -> None:
    result = item.result
    code = item.proc.returncode
    result.seconds = time.monotonic() - item.started
    result.exit_code = code
    result.status, reason = cells.status_of(code)
    cell_dir = record.cell_dir(result.cell)
    facts = cells.run_facts(cells.newest_run(cell_dir))
    result.run_id, result.tokens = facts.get("run_id"), facts.get("tokens")
    result.reason = facts.get("reason") or reason
    if code < 0 or item.timed_out:
        cleaned = cells.cleanup_cell(cell_dir)  # a SIGKILL leaves its journal's resources
        if cleaned:
            result.reason = f"{result.reason}; cleaned up: {'; '.join(cleaned)}"
    if item.timed_out:
        result.status = "timeout"
        result.reason = f"timed out after {item.deadline and item.deadline - item.started:g}s"
    record.save()
    on_event("cell_finished", result)


def _stop_all(record: SweepRecord, running: list[_Running], on_event: OnEvent) -> None:
    """SIGTERM every running cell, wait for each to tear down (SIGKILL after a grace)."""
    for item in running:
        _signal_group(item.proc, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE
    for item in running:
        try:
            item.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(item.proc, signal.SIGKILL)
            item.proc.wait()
        _finish(record, item, on_event)
        if item.result.status != "succeeded":
            item.result.status = "interrupted"
            item.result.reason = "the sweep was interrupted"
    record.save()


def _signal_group(proc: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    """The child leads its own group; the group holds what it started outside sessions."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the sweep dies, however it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Ctrl-C, SIGTERM, SIGHUP and SIGQUIT all stop the sweep one way: stop every cell
    (`wfrun/__main__.py`'s quiet handler would exit at once and leave them running)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupt) for s in _SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
