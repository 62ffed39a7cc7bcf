"""The report's data, read from a run record, and its rendering (Jinja2, inline SVG).

The record is read, never trusted (as `wfrun show` does): a missing or damaged part
leaves its section empty. The plan is made again from the recorded workflow file when
it is still there; otherwise the report says the plan is unavailable.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from wfrun.engine.records import EVENTS_FILE, RUN_FILE
from wfrun.engine.transcript import TRANSCRIPT_FILE, read_entries

FAILED = frozenset({"failed", "timeout", "error", "cancelled"})
MAX_TRANSCRIPT_BYTES = 200_000  # of one phase's transcript shown; the record has it all
MAX_TOTAL_TRANSCRIPT_BYTES = 8_000_000  # of all transcripts together
MAX_GRAPH_PHASES = 400  # the phase graph is drawn up to this many phases
ROW = 16  # Gantt row height, px
LABEL = 190  # Gantt label column, px
WIDTH = 1000  # Gantt width, px


@dataclass
class Bar:
    """One Gantt bar, in run seconds."""

    kind: str  # phase | resource | planned
    name: str
    start: float
    end: float
    status: str = ""


@dataclass
class PhaseInfo:
    name: str
    status: str
    reason: str = ""
    seconds: float | None = None
    iterations: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    needs: list[str] = field(default_factory=list)
    output_tail: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)
    transcript_note: str = ""

    @property
    def failed(self) -> bool:
        return self.status in FAILED


def read_events(run_dir: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = (run_dir / EVENTS_FILE).open(encoding="utf-8")
    except OSError:
        return
    with handle:
        for line in handle:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            if isinstance(event, dict):
                yield event


def _read_run(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _entries(value: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(value, dict):
        return []
    return [(str(k), v if isinstance(v, dict) else {}) for k, v in value.items()]


def _transcripts(
    run_dir: Path, phases: Mapping[str, Any]
) -> dict[str, tuple[list[dict[str, Any]], str]]:
    """Each phase's entries (up to `MAX_TRANSCRIPT_BYTES`, all of them together up to
    `MAX_TOTAL_TRANSCRIPT_BYTES`) and a note where they were cut."""
    shown: dict[str, tuple[list[dict[str, Any]], str]] = {name: ([], "") for name in phases}
    used: dict[str, int] = dict.fromkeys(phases, 0)
    total = 0
    path = run_dir / TRANSCRIPT_FILE
    for size, entry in read_entries(run_dir):
        name = entry.get("phase")
        if not isinstance(name, str) or name not in shown:
            continue
        entries, note = shown[name]
        if note:
            continue
        if total + size > MAX_TOTAL_TRANSCRIPT_BYTES:
            shown[name] = entries, "transcripts not shown past this point (too large)"
        elif used[name] + size > MAX_TRANSCRIPT_BYTES:
            shown[name] = entries, f"cut here: the full transcript is {path} (phase {name!r})"
        else:
            used[name] += size
            total += size
            entries.append(entry)
    return shown


def _plan(data: Mapping[str, Any]) -> Any:
    """The plan made again from the recorded file; None if it is gone or changed."""
    from wfrun.planner import plan_workflow  # noqa: PLC0415 - only when a report is made
    from wfrun.spec import load_workflow  # noqa: PLC0415 - only when a report is made

    try:
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data["params"].items()}
        workflow = load_workflow(data["file"], params=params)
        return workflow, plan_workflow(workflow)
    except Exception:  # noqa: BLE001 - a missing or edited file only loses the plan
        return None


def _timeline(run_dir: Path) -> tuple[list[Bar], dict[str, str], float]:
    """Phase spans and resource lifetimes as the events tell them; spawners; the end."""
    started: dict[str, float] = {}
    bars: list[Bar] = []
    resource_open: dict[str, float] = {}
    spawned_by: dict[str, str] = {}
    end = 0.0
    for event in read_events(run_dir):
        kind, t = event.get("kind"), event.get("t")
        if not isinstance(t, int | float):
            continue
        end = max(end, float(t))
        if kind == "phase_started":
            started[str(event.get("phase"))] = float(t)
        elif kind == "phase_finished":
            name = str(event.get("phase"))
            begin = started.pop(name, float(t) - float(event.get("seconds") or 0))
            bars.append(Bar("phase", name, begin, float(t), str(event.get("status", ""))))
        elif kind == "resource_starting":
            resource_open[str(event.get("resource"))] = float(t)
        elif kind == "resource_stopped":
            name = str(event.get("resource"))
            if name in resource_open:
                bars.append(Bar("resource", name, resource_open.pop(name), float(t)))
        elif kind == "phase_spawned":
            spawned_by[str(event.get("phase"))] = str(event.get("spawner"))
    for name, begin in resource_open.items():  # never stopped (a killed run)
        bars.append(Bar("resource", name, begin, end, "not stopped"))
    return bars, spawned_by, end


def collect(run_dir: Path) -> dict[str, Any]:
    """Everything the template shows, from the record at `run_dir`."""
    data = _read_run(run_dir)
    phases: dict[str, PhaseInfo] = {}
    for name, entry in _entries(data.get("phases")):
        tokens: dict[str, Any] = entry["tokens"] if isinstance(entry.get("tokens"), dict) else {}
        phases[name] = PhaseInfo(
            name=name,
            status=str(entry.get("status", "")),
            reason=str(entry.get("reason") or ""),
            seconds=entry.get("seconds") if isinstance(entry.get("seconds"), int | float) else None,
            iterations=entry.get("iterations")
            if isinstance(entry.get("iterations"), int)
            else None,
            tokens_in=int(tokens.get("in") or 0),
            tokens_out=int(tokens.get("out") or 0),
            cost=entry.get("cost") if isinstance(entry.get("cost"), int | float) else None,
        )
    bars, spawned_by, end = _timeline(run_dir)
    phase_bars = {b.name: b for b in bars if b.kind == "phase"}

    planned = _plan(data)
    plan_note = "" if planned else "plan unavailable: the workflow file is gone or changed"
    if planned:
        workflow, plan = planned
        for name, phase in workflow.phases.items():
            if name in phases:
                phases[name].needs = list(phase.needs)
        for name, life in plan.resources.items():
            first = phase_bars.get(plan.order[life.acquire])
            last = phase_bars.get(plan.order[life.release])
            if first is not None and last is not None:
                bars.append(Bar("planned", name, first.start, last.end))
    for child, parent in spawned_by.items():
        if child in phases and parent not in phases[child].needs:
            phases[child].needs.append(parent)

    transcripts = _transcripts(run_dir, phases)
    for info in phases.values():
        info.entries, info.transcript_note = transcripts[info.name]
        if info.failed:
            info.output_tail = _tail(run_dir, data.get("phases", {}).get(info.name, {}))

    ordered = sorted(phases.values(), key=lambda p: (not p.failed,))  # failures first
    resources = [(n, r) for n, r in _entries(data.get("resources"))]
    total = max([end, *(b.end for b in bars)], default=0.0) or 1.0
    return {
        "run": data,
        "run_dir": str(run_dir),
        "phases": ordered,
        "failed": [p for p in ordered if p.failed],
        "resources": resources,
        "gantt": _gantt(bars, total, list(phases), [n for n, _ in resources]),
        "graph": _graph(list(phases.values()), sequential=data.get("execution") != "graph"),
        "plan_note": plan_note,
        "tokens": data.get("tokens") if isinstance(data.get("tokens"), dict) else {},
        "cost": data.get("cost") if isinstance(data.get("cost"), int | float) else None,
    }


def _tail(run_dir: Path, entry: Any, lines: int = 15) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("output"), str):
        return ""
    try:
        text = (run_dir / entry["output"]).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _gantt(
    bars: list[Bar], total: float, phases: list[str], resources: list[str]
) -> dict[str, Any]:
    """Rows (resources, then phases, in record order) and bars placed on one time axis."""
    rows = [("resource", r) for r in resources] + [("phase", p) for p in phases]
    index = {row: i for i, row in enumerate(rows)}
    scale = (WIDTH - LABEL - 40) / total
    placed = []
    for bar in bars:
        row = index.get(("phase" if bar.kind == "phase" else "resource", bar.name))
        if row is None:
            continue
        planned = bar.kind == "planned"
        placed.append(
            {
                "kind": bar.kind,
                "name": bar.name,
                "status": bar.status,
                "start": round(bar.start, 6),
                "end": round(bar.end, 6),
                "x": round(LABEL + bar.start * scale, 2),
                "y": row * ROW + (2 if planned else 6) + 20,
                "w": round(max(1.0, (bar.end - bar.start) * scale), 2),
                "h": ROW - 4 if planned else ROW - 8,
            }
        )
    ticks = []
    step = _tick(total)
    value = 0.0
    while value <= total + 1e-9:
        ticks.append({"x": round(LABEL + value * scale, 2), "label": f"{value:g}s"})
        value += step
    return {
        "rows": [{"kind": k, "name": n, "y": i * ROW + 20} for i, (k, n) in enumerate(rows)],
        "bars": placed,
        "ticks": ticks,
        "width": WIDTH,
        "height": len(rows) * ROW + 30,
        "label": LABEL,
        "row": ROW,
        "total": total,
    }


def _tick(total: float) -> float:
    for step in (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600):
        if total / step <= 10:
            return float(step)
    return 7200.0


def _graph(phases: list[PhaseInfo], *, sequential: bool) -> dict[str, Any]:
    """Phases in layers by their needs (listed order inside a layer), as SVG boxes; a
    sequential run is a chain in the order its phases ran."""
    if len(phases) > MAX_GRAPH_PHASES:
        return {"skipped": f"{len(phases)} phases: the graph is drawn up to {MAX_GRAPH_PHASES}"}
    by_name = {p.name: p for p in phases}
    layer: dict[str, int] = {}
    for phase in phases:  # records list phases in start order: needs come first
        layer[phase.name] = 1 + max(
            (layer.get(n, -1) for n in phase.needs if n in by_name), default=-1
        )
    if sequential:
        layer = {p.name: i for i, p in enumerate(phases)}
    columns: dict[int, list[str]] = {}
    for name, depth in layer.items():
        columns.setdefault(depth, []).append(name)
    box_w, box_h, gap_x, gap_y = 150, 28, 40, 12
    where: dict[str, tuple[float, float]] = {}
    nodes = []
    for depth, names in columns.items():
        for row, name in enumerate(names):
            x, y = 10 + depth * (box_w + gap_x), 10 + row * (box_h + gap_y)
            where[name] = (x, y)
            nodes.append({"name": name, "x": x, "y": y, "status": by_name[name].status})
    edges = []
    for phase in phases:
        for need in phase.needs:
            if need in where and phase.name in where:
                (x1, y1), (x2, y2) = where[need], where[phase.name]
                edges.append(
                    {"x1": x1 + box_w, "y1": y1 + box_h / 2, "x2": x2, "y2": y2 + box_h / 2}
                )
    if sequential:
        edges = []
        ordered = [p.name for p in phases]
        for a, b in itertools.pairwise(ordered):
            (x1, y1), (x2, y2) = where[a], where[b]
            edges.append({"x1": x1 + box_w, "y1": y1 + box_h / 2, "x2": x2, "y2": y2 + box_h / 2})
    width = 20 + (max(columns, default=0) + 1) * (box_w + gap_x)
    height = 20 + max((len(v) for v in columns.values()), default=1) * (box_h + gap_y)
    return {
        "nodes": nodes,
        "edges": edges,
        "width": width,
        "height": height,
        "box_w": box_w,
        "box_h": box_h,
    }


def _pretty(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("wfrun.report", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["pretty"] = _pretty


def render(run_dir: Path) -> str:
    """The report of the run at `run_dir`, as one HTML document with nothing external."""
    return _ENV.get_template("report.html.j2").render(**collect(run_dir))
