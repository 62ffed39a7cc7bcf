"""Run a sweep (or the unfinished cells of a past one) and say how it went."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wfrun.sweep.cell import cleanup_cell
from wfrun.sweep.local import OnEvent, SweepInterrupted, run_local
from wfrun.sweep.record import DONE, SweepRecord, new_record

OK, FAILED, INTERRUPTED = 0, 1, 130


@dataclass(frozen=True)
class SweepOptions:
    """How to run the cells: where, how many at once, how long each may take."""

    jobs: int = 1
    cell_timeout: float | None = None
    dask: str | None = None  # None: local processes; "local" or a scheduler address
    retries: int = 0
    limits: dict[str, int] | None = None  # across all cells (beats the sweep file's)


def run_sweep(record: SweepRecord, options: SweepOptions, on_event: OnEvent) -> int:
    """Run every cell of `record` that has not succeeded; the sweep's exit code."""
    todo = [r for r in record.results if r.status not in DONE]
    for result in todo:
        result.status = "pending"
        if record.cell_dir(result.cell).is_dir():  # resumed: what a killed attempt left
            cleanup_cell(record.cell_dir(result.cell))
    limits = {**record.sweep.limits, **(options.limits or {})}
    record.status, record.meta = "running", {"limits": limits, "executor": options.dask or "local"}
    record.save()
    capacity_dir = _capacity(record, limits)
    try:
        if options.dask:
            from wfrun.sweep.dask import run_dask  # noqa: PLC0415 - dask is an optional extra

            run_dask(
                record,
                todo,
                address=options.dask,
                jobs=options.jobs,
                cell_timeout=options.cell_timeout,
                retries=options.retries,
                capacity_dir=capacity_dir,
                on_event=on_event,
            )
        else:
            run_local(
                record,
                todo,
                jobs=options.jobs,
                cell_timeout=options.cell_timeout,
                capacity_dir=capacity_dir,
                on_event=on_event,
            )
    except SweepInterrupted:
        for result in record.results:
            if result.status in {"pending", "running"}:
                result.status = "interrupted" if result.status == "running" else "pending"
        record.status = "interrupted"
        record.save()
        raise
    failed = any(r.status not in DONE for r in record.results)
    record.status = "failed" if failed else "succeeded"
    record.save()
    return FAILED if failed else OK


def _capacity(record: SweepRecord, limits: dict[str, int]) -> Path | None:
    """The folder of slot files that caps live resources across cells (None: no limits)."""
    if not limits:
        return None
    from wfrun.sweep.capacity import prepare  # noqa: PLC0415 - only with limits

    return prepare(record.dir / "capacity", limits)


__all__ = ["SweepOptions", "new_record", "run_sweep"]
