"""`wfrun runs` and `wfrun show`: past runs from their records.

A record is read, never trusted: a damaged one is reported as such (the others are
still shown), and what agents wrote in it is shown without control characters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from wfrun.engine.history import list_runs, read_run
from wfrun.engine.journal import CleanupResult
from wfrun.engine.records import EVENTS_FILE
from wfrun.engine.transcript import last_exit_codes
from wfrun.ui.terminal import printable


def render_runs(console: Console, runs_dir: Path) -> None:
    runs = list_runs(runs_dir)
    if not runs:
        console.print(f"no runs in {runs_dir}")
        return
    table = Table("workflow", "status", "started", "seconds", "run", title_justify="left")
    table.columns[-1].no_wrap = True
    table.columns[-1].overflow = "ignore"
    for run in runs:
        status = _text(run.get("status"))
        if status == "unreadable":
            status = f"unreadable: {_text(run.get('reason'))}"
        table.add_row(
            _text(run.get("workflow")),
            status,
            _text(run.get("started_at")).replace("+00:00", "Z"),
            _seconds(run.get("seconds")),
            _text(run.get("id", run["dir"].name)),
        )
    console.print(table)


def render_run(console: Console, run_dir: Path) -> bool:
    """Show one run; False when its record could not be read (nothing more to show)."""
    data = read_run(run_dir)
    reason = f" — {_text(data['reason'])}" if data.get("reason") else ""
    status = _text(data.get("status"))
    console.print(f"run {_text(data.get('id'))} of {_text(data.get('workflow'))}: {status}{reason}")
    console.print(f"record: {run_dir}")
    if status == "unreadable":
        return False
    console.print(usage_line(data.get("tokens"), data.get("cost")) or "tokens: none used")
    entries = _entries(data.get("phases"))
    counted = any(isinstance(p.get("tokens"), dict) for _, p in entries)
    extra = ("tokens", "cost") if counted else ()  # narrow tables keep reasons on one line
    phases = Table("phase", "status", "turns", "seconds", *extra, "reason", title="phases")
    for name, phase in entries:
        tokens = phase["tokens"] if isinstance(phase.get("tokens"), dict) else {}
        usage = (
            f"{_text(tokens.get('in'))}/{_text(tokens.get('out'))}" if tokens else "",
            f"{phase['cost']:.4f}" if isinstance(phase.get("cost"), int | float) else "",
        )
        phases.add_row(
            name,
            _text(phase.get("status")),
            _text(phase.get("iterations")),
            _seconds(phase.get("seconds")),
            *(usage if counted else ()),
            _text(phase.get("reason")),
        )
    console.print(phases)
    render_failures(console, run_dir, data)
    resources = Table("resource", "type", "starts", "stops", "problems", title="resources")
    for name, resource in _entries(data.get("resources")):
        starts, stops = _list(resource.get("starts")), _list(resource.get("stops"))
        problems = [
            _text(s["error"]) for s in (*starts, *stops) if isinstance(s, dict) and s.get("error")
        ]
        resources.add_row(
            name,
            _text(resource.get("type")),
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
            capacity.add_row(_text(kind), str(peak), str(bounds.get(kind, "?")))
        console.print(capacity)
    for entry in _list(data.get("cleanup")):
        if isinstance(entry, dict):
            actions = "; ".join(map(_text, _list(entry.get("actions")))) or "nothing to do"
            console.print(f"cleanup at {_text(entry.get('at'))}: {actions}")
    return True


def usage_line(tokens: Any, cost: Any) -> str:
    """`tokens: 2442 in, 264 out (2706), cost 0.0005` — empty when none were counted."""
    if not isinstance(tokens, dict) or not (tokens.get("in") or tokens.get("out")):
        return ""
    used_in, used_out = int(tokens.get("in") or 0), int(tokens.get("out") or 0)
    priced = f", cost {cost:.4f}" if isinstance(cost, int | float) else ", cost: no price: given"
    return f"tokens: {used_in} in, {used_out} out ({used_in + used_out}){priced}"


def render_failures(console: Console, run_dir: Path, data: Mapping[str, Any]) -> None:
    """Each failed phase: its reason, its last command's exit code, the last lines of its
    output (or of the service log its reason names)."""
    failed = [(n, p) for n, p in _entries(data.get("phases")) if p.get("status") in _FAILED]
    if not failed:
        return
    console.print(f"failed phases ({len(failed)}):", style="bold red")
    codes = last_exit_codes(run_dir)
    for name, phase in failed:
        code = codes.get(name)
        shown = f", exit code {code}" if code is not None else ""
        console.print(
            f"✗ {name}: {_text(phase.get('status'))}{shown} — {_text(phase.get('reason'))}"
        )
        for line in failure_tail(run_dir, name, phase, data):
            console.print(f"    {_text(line)}", markup=False, highlight=False)


_FAILED = frozenset({"failed", "timeout", "error", "cancelled"})
TAIL_LINES = 10


def failure_tail(
    run_dir: Path, phase: str, entry: Mapping[str, Any], data: Mapping[str, Any]
) -> list[str]:
    """The last lines of the phase's output, else of a log of a resource its reason names."""
    candidates = []
    if isinstance(entry.get("output"), str):
        candidates.append(run_dir / entry["output"])
    reason = str(entry.get("reason") or "")
    for resource, _ in _entries(data.get("resources")):
        if resource and resource in reason:
            candidates.extend(sorted((run_dir / "logs").glob(f"{resource}*")))
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        lines = text.rstrip("\n").splitlines()[-TAIL_LINES:]
        if lines:
            return [f"({path.name})", *lines] if path.parent.name == "logs" else lines
    return []


def render_cleanup(console: Console, results: list[CleanupResult]) -> None:
    if not results:
        console.print("nothing to clean up: no run left live resources behind")
    for result in results:
        console.print(f"run {result.run_id}:")
        for line in (*result.actions, *(f"FAILED {e}" for e in result.errors)):
            console.print(f"  {printable(line)}")


def _text(value: Any) -> str:
    """A record's value for the terminal: missing is empty, control characters go."""
    return "" if value is None else printable(str(value))


def _seconds(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _entries(value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """Name -> entry pairs of a record's table; a damaged entry shows as empty."""
    if not isinstance(value, dict):
        return []
    return [(_text(k), v if isinstance(v, dict) else {}) for k, v in value.items()]


def observed_peaks(run_dir: Path, data: dict[str, Any]) -> dict[str, int]:
    """Per resource type, the most alive at once in the record's events (issue 15)."""
    types = {name: str(r.get("type", "")) for name, r in _entries(data.get("resources"))}
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
    from wfrun.planner import plan_workflow  # noqa: PLC0415 - only `show` plans again
    from wfrun.spec import load_workflow  # noqa: PLC0415 - only `show` plans again

    try:
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data["params"].items()}
        workflow = load_workflow(data["file"], params=params)
        return plan_workflow(workflow).bound_by_type()
    except Exception:  # noqa: BLE001 - a missing or edited file only loses a column
        return {}
