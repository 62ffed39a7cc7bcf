"""Past runs: find run records by id, prefix or recency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfrun.engine.records import RUN_FILE, read_json
from wfrun.errors import UsageError
from wfrun.spec.locate import suggest


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every readable run record, oldest first."""
    if not runs_dir.is_dir():
        return []
    found = []
    for path in sorted(runs_dir.iterdir()):
        record = path / RUN_FILE
        if record.is_file():
            try:
                found.append({"dir": path, **read_json(record)})
            except ValueError:
                found.append({"dir": path, "id": path.name, "status": "unreadable"})
    return found


def find_run(runs_dir: Path, run_id: str | None) -> Path:
    """A run by id, unique prefix or `last`; the newest when `run_id` is None."""
    runs = [r["dir"] for r in list_runs(runs_dir)]
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
