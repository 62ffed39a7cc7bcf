"""`wfrun runs` and `wfrun show`: past runs from their records."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from wfrun.engine.history import list_runs
from wfrun.engine.journal import CleanupResult
from wfrun.engine.records import RUN_FILE, read_json


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
    for entry in data.get("cleanup", []):
        console.print(f"cleanup at {entry['at']}: {'; '.join(entry['actions']) or 'nothing to do'}")


def render_cleanup(console: Console, results: list[CleanupResult]) -> None:
    if not results:
        console.print("nothing to clean up: no run left live resources behind")
    for result in results:
        console.print(f"run {result.run_id}:")
        for line in (*result.actions, *(f"FAILED {e}" for e in result.errors)):
            console.print(f"  {line}")
