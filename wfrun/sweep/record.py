"""`sweep.json`: the matrix and each cell's status, exit code, time and tokens.

Written whole and atomically after each cell ends, so a killed sweep leaves a readable
record: cells still `running` in it were interrupted (`--resume` runs them again).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfrun.errors import UsageError
from wfrun.sweep.spec import Cell, Sweep

SWEEPS_DIR = ".wfrun/sweeps"
SWEEP_FILE = "sweep.json"
CELLS_DIR = "cells"
FORMAT = 1

# A cell's status: pending (never started), running, then one of these.
SUCCEEDED = "succeeded"
DONE = frozenset({SUCCEEDED})


@dataclass
class CellResult:
    """What one cell did (None fields: not known yet)."""

    cell: Cell
    status: str = "pending"
    exit_code: int | None = None
    seconds: float | None = None
    tokens: int | None = None
    reason: str = ""
    run_id: str | None = None
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.cell.index,
            "id": self.cell.id,
            "folder": self.cell.folder,
            "params": self.cell.params,
            "trial": self.cell.trial,
            "status": self.status,
            "exit_code": self.exit_code,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "tokens": self.tokens,
            "reason": self.reason,
            "run_id": self.run_id,
            "attempts": self.attempts,
        }


@dataclass
class SweepRecord:
    """The sweep folder and what is known of each cell."""

    dir: Path
    sweep: Sweep
    results: list[CellResult]
    started_at: str = ""
    status: str = "running"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.dir.name

    def cell_dir(self, cell: Cell) -> Path:
        return self.dir / CELLS_DIR / cell.folder

    def save(self) -> None:
        data = {
            "format": FORMAT,
            "id": self.id,
            "name": self.sweep.name,
            "status": self.status,
            "started_at": self.started_at,
            "sweep": self.sweep.as_dict(),
            "pid": os.getpid(),
            **self.meta,
            "cells": [r.as_dict() for r in self.results],
        }
        path = self.dir / SWEEP_FILE
        temp = path.with_suffix(f".tmp{os.getpid()}")
        temp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        temp.replace(path)


def new_record(sweeps_dir: Path, sweep: Sweep, cells: list[Cell]) -> SweepRecord:
    """A fresh, private sweep folder named by time and a random suffix."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    name = f"{stamp}-{sweep.name or sweep.workflow.stem}-{secrets.token_hex(3)}"
    path = sweeps_dir / name
    path.mkdir(parents=True, mode=0o700)
    (path / CELLS_DIR).mkdir(mode=0o700)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record = SweepRecord(path, sweep, [CellResult(c) for c in cells], started_at=started)
    record.save()
    return record


def find_sweep(sweeps_dir: Path, prefix: str) -> Path | None:
    """The sweep folder whose id (or path) is `prefix`, or starts with it; None if none."""
    given = Path(prefix)
    if (given / SWEEP_FILE).is_file():
        return given
    if not sweeps_dir.is_dir():
        return None
    found = sorted(p for p in sweeps_dir.iterdir() if p.name.startswith(prefix))
    if len(found) > 1:
        names = ", ".join(p.name for p in found[:5])
        msg = f"{prefix!r} names several sweeps: {names}"
        raise UsageError(msg, hint="give more of the id")
    return found[0] if found else None


def read_record(path: Path) -> dict[str, Any]:
    """sweep.json as data; a damaged one is a UsageError naming the file."""
    try:
        data = json.loads((path / SWEEP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        message = f"cannot read {path / SWEEP_FILE}: {exc}"
        raise UsageError(message, hint="is it a sweep folder?") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        msg = f"{path / SWEEP_FILE} is not a sweep record"
        raise UsageError(msg)
    return data


def load_record(path: Path) -> SweepRecord:
    """A past sweep, to resume: its spec and cells as recorded."""
    data = read_record(path)
    spec = data.get("sweep") or {}
    sweep = Sweep(
        Path(spec["workflow"]),
        {k: list(v) for k, v in spec.get("matrix", {}).items()},
        list(spec.get("include", [])),
        list(spec.get("exclude", [])),
        int(spec.get("trials", 1)),
        dict(spec.get("limits", {})),
        name=str(data.get("name", "")),
    )
    results = []
    for entry in data["cells"]:
        cell = Cell(int(entry["index"]), dict(entry["params"]), int(entry["trial"]))
        results.append(
            CellResult(
                cell,
                status=str(entry.get("status", "pending")),
                exit_code=entry.get("exit_code"),
                seconds=entry.get("seconds"),
                tokens=entry.get("tokens"),
                reason=str(entry.get("reason", "")),
                run_id=entry.get("run_id"),
                attempts=int(entry.get("attempts", 0)),
            )
        )
    return SweepRecord(path, sweep, results, started_at=str(data.get("started_at", "")))
