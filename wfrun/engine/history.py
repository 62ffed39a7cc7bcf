"""Past runs: find run records by id, prefix or recency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfrun.engine.journal import run_is_live
from wfrun.engine.records import RUN_FILE, read_json
from wfrun.errors import UsageError
from wfrun.spec.locate import suggest


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every run record, oldest first; one that cannot be read is listed as unreadable
    (never in the way of the others), one whose runner is gone as killed."""
    return [read_run(path) for path in _run_dirs(runs_dir)]


def _run_dirs(runs_dir: Path) -> list[Path]:
    """Run folders, oldest first, read no further: a damaged one is still found."""
    if not runs_dir.is_dir():
        return []
    return [path for path in sorted(runs_dir.iterdir()) if (path / RUN_FILE).exists()]


def read_run(run_dir: Path) -> dict[str, Any]:
    """A run's run.json with `dir` added, or what it can say when the record is damaged."""
    try:
        data = read_json(run_dir / RUN_FILE)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return {"dir": run_dir, "id": run_dir.name, "status": "unreadable", "reason": why}
    if not isinstance(data, dict):
        why = f"run.json holds {type(data).__name__}, not an object"
        return {"dir": run_dir, "id": run_dir.name, "status": "unreadable", "reason": why}
    data = {**data, "dir": run_dir}
    if data.get("status") == "running" and not run_is_live(run_dir, data):
        data["status"] = "killed — run `wfrun cleanup`"
    return data


def find_run(runs_dir: Path, run_id: str | None) -> Path:
    """A run by id, unique prefix or `last`; the newest when `run_id` is None."""
    runs = _run_dirs(runs_dir)
    if not runs:
        msg = f"no runs in {runs_dir}"
        raise UsageError(msg, hint="start one with `wfrun run FILE`")
    if run_id in (None, "last"):
        return runs[-1]
    matches = [r for r in runs if r.name == run_id] or [
        r for r in runs if r.name.startswith(run_id)
    ]
    if len(matches) == 1:
        return matches[0]
    names = [r.name for r in runs]
    if matches:
        hint = f"it matches {len(matches)} runs; give more of the id"
    else:
        hint = suggest(run_id, names) or "see `wfrun runs`"
    msg = f"no single run {run_id!r} in {runs_dir}"
    raise UsageError(msg, hint=hint)
