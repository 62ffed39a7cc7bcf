"""`wfrun runs` and `wfrun show`: past runs from their records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from wfrun.engine.history import list_runs
from wfrun.engine.journal import CleanupResult
from wfrun.engine.records import EVENTS_FILE, RUN_FILE, read_json
from wfrun.planner import plan_workflow
from wfrun.spec import load_workflow


def render_runs(console: Console, runs_dir: Path) -> None:
    runs = list_runs(runs_dir)
    if not runs:
        console.print(f"no runs in {runs_dir}")
        return
    table = Table("workflow", "status", "started", "seconds", "run", title_justify="left")
    table.columns[-1].no_wrap = True
    table.columns[-1].overflow = "ignore"
    for run in runs:
        seconds = run.get("seconds")
        table.add_row(
            str(run.get("workflow", "")),
            str(run.get("status", "")),
            str(run.get("started_at", "")).replace("+00:00", "Z"),
            f"{seconds:.2f}" if isinstance(seconds, int | float) else "",
            run.get("id", run["dir"].name),
        )
    console.print(table)


def render_run(console: Console, run_dir: Path) -> None:
    data = read_json(run_dir / RUN_FILE)
    reason = f" — {data['reason']}" if data.get("reason") else ""
    console.print(f"run {data.get('id')} of {data.get('workflow')}: {data.get('status')}{reason}")
    console.print(f"record: {run_dir}")
    phases = Table("phase", "status", "turns", "seconds", "reason", title="phases")
    for name, phase in data.get("phases", {}).items():
        seconds = phase.get("seconds")
        phases.add_row(
            name,
            str(phase.get("status", "")),
            str(phase.get("iterations", "")),
            f"{seconds:.2f}" if isinstance(seconds, int | float) else "",
            str(phase.get("reason", "")),
        )
    console.print(phases)
    resources = Table("resource", "type", "starts", "stops", "problems", title="resources")
    for name, resource in data.get("resources", {}).items():
        starts, stops = resource.get("starts", []), resource.get("stops", [])
        problems = [s["error"] for s in (*starts, *stops) if s.get("error")]
        resources.add_row(
            name,
            str(resource.get("type", "")),
            str(len(starts)),
            str(len(stops)),
            "; ".join(problems),
        )
    console.print(resources)
    peaks = observed_peaks(run_dir, data)
    if peaks:
        bounds = _plan_bounds(data)
        capacity = Table("type", "observed peak", "plan's bound", title="alive at once")
        for kind, peak in peaks.items():
            capacity.add_row(kind, str(peak), str(bounds.get(kind, "?")))
        console.print(capacity)
    for entry in data.get("cleanup", []):
        console.print(f"cleanup at {entry['at']}: {'; '.join(entry['actions']) or 'nothing to do'}")


def render_cleanup(console: Console, results: list[CleanupResult]) -> None:
    if not results:
        console.print("nothing to clean up: no run left live resources behind")
    for result in results:
        console.print(f"run {result.run_id}:")
        for line in (*result.actions, *(f"FAILED {e}" for e in result.errors)):
            console.print(f"  {line}")


def observed_peaks(run_dir: Path, data: dict[str, Any]) -> dict[str, int]:
    """Per resource type, the most alive at once in the record's events (issue 15)."""
    types = {name: str(r.get("type", "")) for name, r in data.get("resources", {}).items()}
    alive: dict[str, int] = {}
    peaks: dict[str, int] = {}
    try:
        lines = (run_dir / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        kind = types.get(str(event.get("resource", "")), "")
        if event.get("kind") == "resource_started":
            alive[kind] = alive.get(kind, 0) + 1
            peaks[kind] = max(peaks.get(kind, 0), alive[kind])
        elif event.get("kind") == "resource_stopped" and kind in alive:
            alive[kind] -= 1
    return peaks


def _plan_bounds(data: dict[str, Any]) -> dict[str, int]:
    """The plan's bound per type, planned again from the recorded file ({} if it changed
    or is gone: the table then shows '?'; limits given with --limit are not recorded)."""
    try:
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data["params"].items()}
        workflow = load_workflow(data["file"], params=params)
        return plan_workflow(workflow).bound_by_type()
    except Exception:  # noqa: BLE001 - a missing or edited file only loses a column
        return {}
