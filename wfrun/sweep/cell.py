"""One cell as a child `wfrun run`: its command, and what its record says afterwards.

Shared by the local and the Dask executor. A cell is a whole `wfrun run` in a process
of its own, so it brings its own resources, ports, record and journal: a crash, a hang
or a kill -9 of one cell touches no other, and `wfrun cleanup` finds what it left.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfrun.sweep.spec import Cell

RUNS = "runs"  # a cell folder's runs dir: every attempt's record
OUTPUT = "output.log"  # what the child printed (its --quiet problems)
CAPACITY_ENV = "WFRUN_CAPACITY_DIR"  # the sweep's slots shared across cells (--limit)

STATUS_BY_CODE = {0: "succeeded", 1: "failed", 2: "invalid", 3: "error", 130: "interrupted"}


def cell_command(workflow: Path, cell: Cell, cell_dir: Path) -> list[str]:
    """`python -m wfrun run FLOW -p ... --runs-dir CELL/runs --quiet`."""
    params = [arg for k, v in cell.params.items() for arg in ("-p", f"{k}={v}")]
    runs = str(cell_dir / RUNS)
    return [sys.executable, "-m", "wfrun", "run", str(workflow), *params, "--runs-dir", runs, "-q"]


def cell_env(capacity_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("WFRUN_RUNS_DIR", None)  # --runs-dir is given; an inherited one must not win
    if capacity_dir is not None:
        env[CAPACITY_ENV] = str(capacity_dir)
    return env


def status_of(code: int) -> tuple[str, str]:
    """The cell's status and a reason from the child's exit code."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return "killed", f"the cell's wfrun was killed by {name}"
    status = STATUS_BY_CODE.get(code, "error")
    return status, "" if code == 0 else f"wfrun run exited {code}"


def newest_run(cell_dir: Path) -> Path | None:
    runs = cell_dir / RUNS
    found = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    return found[-1] if found else None


def run_facts(run_dir: Path | None) -> dict[str, Any]:
    """The run's id, reason and tokens (prompt + completion over every turn)."""
    if run_dir is None:
        return {}
    facts: dict[str, Any] = {"run_id": run_dir.name}
    try:
        summary = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        facts["reason"] = str(summary.get("reason") or "")
    except (OSError, ValueError):
        pass
    tokens: int | None = None
    try:
        lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        if '"usage"' not in line:
            continue
        try:
            usage = json.loads(line).get("usage") or {}
        except ValueError:
            continue
        if isinstance(usage, Mapping) and {"prompt_tokens", "completion_tokens"} & set(usage):
            count = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
            tokens = (tokens or 0) + count
    facts["tokens"] = tokens
    return facts


def cleanup_cell(cell_dir: Path) -> list[str]:
    """Stop what a killed cell's run left behind (its journal); the actions taken."""
    from wfrun.engine.journal import cleanup_run, runs_needing_cleanup  # noqa: PLC0415
    from wfrun.registry import default_registry  # noqa: PLC0415 - only after a kill

    actions: list[str] = []
    runs = cell_dir / RUNS
    if not runs.is_dir():
        return actions
    for target in runs_needing_cleanup(runs):
        result = cleanup_run(target, default_registry())
        actions += [*result.actions, *result.errors]
    return actions
