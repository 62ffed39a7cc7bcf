"""The Dask executor: each cell a task that runs the same child `wfrun run` on a worker.

`--dask local` starts a `LocalCluster` of worker processes (`-j` of them); `--dask
tcp://host:8786` uses an existing cluster. Workers need wfrun installed and the sweep
folder and the workflow's folder at the same paths (a shared filesystem; on one machine
that is given): the task writes the cell's record straight into the sweep folder.
Cells are gathered as they complete. A worker lost mid-cell fails that cell (status
`lost`), or reruns it up to `--retries` times (the scheduler's `allowed-failures`, set
for a LocalCluster; a remote scheduler keeps its own), and the other cells go on.
Dask is imported only here, only when asked for: `pip install 'wfrun[dask]'`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from wfrun.errors import UsageError
from wfrun.sweep import cell as cells
from wfrun.sweep.local import KILL_GRACE, OnEvent, SweepInterrupted, _die_with_parent
from wfrun.sweep.record import CellResult, SweepRecord


def run_cell_task(
    command: list[str], cell_dir: str, cwd: str, timeout: float | None, env: dict[str, str]
) -> tuple[int, float, bool]:
    """On a worker: run one cell; (exit code, seconds, timed out). Module-level, so it
    pickles by reference (the worker imports wfrun)."""
    Path(cell_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    began = time.monotonic()
    with (Path(cell_dir) / cells.OUTPUT).open("ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=cwd,
            process_group=0,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - a lost worker takes its cell down
        )
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, time.monotonic() - began, timed_out


def run_dask(
    record: SweepRecord,
    todo: list[CellResult],
    *,
    address: str,
    jobs: int,
    cell_timeout: float | None,
    retries: int,
    capacity_dir: Path | None,
    on_event: OnEvent,
) -> None:
    """Submit every cell, gather them as they complete, save each result as it lands."""
    try:
        import dask  # noqa: PLC0415 - the optional extra
        from distributed import Client, LocalCluster, as_completed  # noqa: PLC0415
    except ImportError as exc:
        message = "--dask needs Dask: pip install 'wfrun[dask]'"
        raise UsageError(message, hint="or run locally without --dask") from exc

    env = {cells.CAPACITY_ENV: str(capacity_dir)} if capacity_dir is not None else {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(dask.config.set({"distributed.scheduler.allowed-failures": retries}))
        if address == "local":
            cluster = stack.enter_context(
                LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
        else:
            client = stack.enter_context(Client(address))  # type: ignore[no-untyped-call]
        futures: dict[Any, CellResult] = {}
        began: dict[int, float] = {}
        for result in todo:
            cell_dir = record.cell_dir(result.cell)
            command = cells.cell_command(record.sweep.workflow, result.cell, cell_dir)
            future = client.submit(
                run_cell_task,
                command,
                str(cell_dir),
                str(record.sweep.workflow.parent),
                cell_timeout,
                env,
                key=f"wfrun-cell-{record.id}-{result.cell.folder}",
                pure=False,
            )
            futures[future] = result
            result.status, result.attempts = "running", result.attempts + 1
            began[result.cell.index] = time.monotonic()
            on_event("cell_started", result)
        record.save()
        try:
            for future in as_completed(list(futures)):  # type: ignore[no-untyped-call]
                _landed(record, futures[future], future, began, cell_timeout, on_event)
        except KeyboardInterrupt:
            client.cancel(list(futures))
            for result in futures.values():
                if result.status == "running":
                    result.status, result.reason = "interrupted", "the sweep was interrupted"
            record.save()
            raise SweepInterrupted from None


def _landed(
    record: SweepRecord,
    result: CellResult,
    future: Any,
    began: dict[int, float],
    cell_timeout: float | None,
    on_event: OnEvent,
) -> None:
    cell_dir = record.cell_dir(result.cell)
    try:
        code, seconds, timed_out = future.result()
    except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost connection: that cell only
        result.status, result.exit_code = "lost", None
        result.seconds = time.monotonic() - began[result.cell.index]
        result.reason = f"worker lost mid-cell: {type(exc).__name__}: {exc}"[:500]
        cells.cleanup_cell(cell_dir)
    else:
        result.exit_code, result.seconds = code, seconds
        result.status, reason = cells.status_of(code)
        facts = cells.run_facts(cells.newest_run(cell_dir))
        result.run_id, result.tokens = facts.get("run_id"), facts.get("tokens")
        result.reason = facts.get("reason") or reason
        if code < 0 or timed_out:
            cells.cleanup_cell(cell_dir)
        if timed_out:
            result.status, result.reason = "timeout", f"timed out after {cell_timeout:g}s"
    record.save()
    on_event("cell_finished", result)
