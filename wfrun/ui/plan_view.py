"""`wfrun plan` for people: a table, a Gantt chart and the figures; or a mermaid gantt.

The chart has one row per resource and one column per phase. When the phases do not fit
the console, each column covers several consecutive phases (the caption says how many),
so 200 phases still read on an 80-column terminal. JSON needs no view:
`json.dumps(plan.as_dict(), indent=2)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wfrun.planner import Lifetime, Plan

if TYPE_CHECKING:
    from wfrun.engine.resume import Resume

USED, HELD, IDLE = "█", "░", "·"
LEGEND = f"{USED} used (or may be, by a spawn)   {HELD} live, kept for later   {IDLE} not live"
MAX_NAMES = 3  # consumers listed in a table cell before "+N more"
MAX_LABEL = 20  # resource-name column of the chart
MAX_CELL = 10  # chart columns never get wider than this


def render_plan(plan: Plan, console: Console, *, max_rows: int = 40) -> None:
    """Print the plan: summary, lifetime table, Gantt chart, figures.

    Both the table and the chart show at most `max_rows` resources (in start order) and
    say how many they left out.
    """
    width = console.width
    console.print(_clip(_summary(plan), width), no_wrap=True, overflow="crop")
    if not plan.resources:
        console.print("No resource is used by any phase: nothing to start.")
    else:
        console.print(_table(plan, max_rows))
        for line in gantt_lines(plan, width, max_rows=max_rows):
            console.print(Text(line), no_wrap=True, overflow="crop")
    if plan.unused:
        console.print(_clip(f"unused (never started): {', '.join(plan.unused)}", width))
    for line in _figures(plan):
        console.print(line)


def _summary(plan: Plan) -> str:
    count = f"{len(plan.order)} phase{'' if len(plan.order) == 1 else 's'}"
    return f"{plan.workflow}: {count}, {plan.execution} order: {' -> '.join(plan.order)}"


def _clip(text: str, width: int) -> str:
    """`text` cut to `width` characters, ending in '…' when cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _names(names: Iterable[str], limit: int = MAX_NAMES) -> str:
    listed = list(names)
    shown = ", ".join(listed[:limit])
    return f"{shown} +{len(listed) - limit} more" if len(listed) > limit else shown


def _table(plan: Plan, max_rows: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title="resource lifetimes", title_justify="left")
    table.add_column("resource", overflow="fold")
    table.add_column("type", overflow="fold")
    table.add_column("acquire", overflow="fold")
    table.add_column("release", overflow="fold")
    table.add_column("consumers", overflow="fold", ratio=1)
    lifetimes = list(plan.resources.values())
    for life in lifetimes[:max_rows]:
        table.add_row(
            life.name,
            life.type,
            f"{life.acquire} {plan.order[life.acquire]}",
            f"{life.release} {plan.order[life.release]}",
            _consumers(plan, life),
        )
    if len(lifetimes) > max_rows:
        table.caption = f"{len(lifetimes) - max_rows} more resources not shown"
    return table


def _consumers(plan: Plan, life: Lifetime) -> str:
    """Who keeps the resource alive: phases, templates they may spawn, dependents."""
    parts = [_names(plan.consumers(life.name))] if plan.uses.get(life.name) else []
    if life.templates:
        parts.append(
            f"{_names(life.templates)} if spawned by {_names(plan.names(life.spawn_uses))}"
        )
    if life.only_for_needs:
        parts.append(f"needed by {_names(life.needed_by)}")
    return "; ".join(parts)


def gantt_lines(plan: Plan, width: int, *, max_rows: int = 40) -> list[str]:
    """The chart as plain lines no wider than `width` (empty if there is nothing to draw)."""
    levels = plan.capacity.levels
    if plan.execution == "graph" and len(set(levels)) < len(levels):  # a chain draws as one
        return _level_lines(plan, width, max_rows)
    points = len(plan.order)
    rows = list(plan.resources.values())[:max_rows]
    if not points or not rows:
        return []
    label = min(MAX_LABEL, max(5, *(len(life.name) for life in rows)))
    room = max(1, width - label - 3)
    per = -(-points // room)  # phases per column, rounded up
    columns = -(-points // per)
    cell = max(1, min(MAX_CELL, room // columns)) if per == 1 else 1
    lines = [f"{'phase':<{label}} | {_axis(plan, per, columns, cell)}".rstrip()]
    for life in rows:
        bar = _bar(plan, life, per, columns)
        name = _clip(life.name, label)
        lines.append(f"{name:<{label}} | {''.join(ch * cell for ch in bar)}")
    lines.append(_clip(LEGEND, width))
    if per > 1:
        lines.append(
            _clip(
                f"each column is {per} consecutive phases ({points} phases, {columns} columns)",
                width,
            )
        )
    if len(plan.resources) > len(rows):
        lines.append(f"{len(plan.resources) - len(rows)} more resources not shown")
    return lines


def _axis(plan: Plan, per: int, columns: int, cell: int) -> str:
    """Phase names when each column is wide enough; else a ruler of point numbers."""
    if per == 1 and cell >= 4:
        return "".join(f"{_clip(name, cell - 1):<{cell}}" for name in plan.order)
    axis = [" "] * (columns * cell)
    step = 10 if cell == 1 else max(1, 10 // cell)
    for column in range(0, columns, step):
        mark = str(column * per)
        start = column * cell
        if start + len(mark) <= len(axis):
            axis[start : start + len(mark)] = mark
    return "".join(axis)


def _bar(plan: Plan, life: Lifetime, per: int, columns: int) -> list[str]:
    """One character per column: used (or spawnable there), live but idle, or not live."""
    bar = [IDLE] * columns
    for column in range(life.acquire // per, life.release // per + 1):
        bar[column] = HELD
    for point in (*plan.uses.get(life.name, ()), *life.spawn_uses):
        bar[point // per] = USED
    return bar


def _level_lines(plan: Plan, width: int, max_rows: int) -> list[str]:
    """Graph runs: one column per DAG level (phases that may run together share one), a
    resource held over its window's levels: what a run can do, not one order of it."""
    levels = plan.capacity.levels
    depth = max(levels, default=-1) + 1
    rows = list(plan.resources.values())[:max_rows]
    if not depth or not rows:
        return []
    label = min(MAX_LABEL, max(5, *(len(life.name) for life in rows)))
    room = max(1, width - label - 3)
    per = -(-depth // room)
    columns = -(-depth // per)
    cell = max(1, min(MAX_CELL, room // columns)) if per == 1 else 1
    lines = [f"{'level':<{label}} | {''.join(f'{c * per:<{cell}}' for c in range(columns))}"]
    at = {name: levels[i] for i, name in enumerate(plan.order)}
    for life in rows:
        bar = [IDLE] * columns
        window = plan.capacity.windows[life.name]
        for column in range(window.levels[0] // per, window.levels[1] // per + 1):
            bar[column] = HELD
        for phase in plan.consumers(life.name):
            bar[at[phase] // per] = USED
        lines.append(f"{_clip(life.name, label):<{label}} | {''.join(c * cell for c in bar)}")
    lines.append(_clip(LEGEND, width))
    for level in range(min(depth, 8)):
        names = [name for name in plan.order if at[name] == level]
        lines.append(_clip(f"level {level}: {', '.join(names)}", width))
    if depth > 8:
        lines.append(f"... {depth - 8} more levels")
    if len(plan.resources) > len(rows):
        lines.append(f"{len(plan.resources) - len(rows)} more resources not shown")
    return lines


def _figures(plan: Plan) -> list[str]:
    whole = plan.units_whole_run
    share = f" ({plan.units_held / whole:.0%})" if whole else ""
    started = f"{len(plan.resources)} of {plan.declared} resources ever start"
    capacity = plan.capacity
    lines = [
        f"peak live: {capacity.upper_bound} (lower bound {plan.lower_bound}); {started}",
        f"resource x phase units held: {plan.units_held}{share} of {whole} if all lived all run",
    ]
    if plan.execution == "graph" and capacity.upper_bound != plan.peak:
        lines.insert(
            1,
            f"any run may have {_names(capacity.bound_set)} alive at once"
            f" ({plan.peak} in the topological order above)",
        )
    for li in capacity.limits:
        lines.append(f"limit {li.key}: {li.limit} ({li.source}; {_names(li.members)})")
    for split in capacity.splits:
        lines.append(
            f"split {split.resource}: stopped after {plan.order[split.stop_after]},"
            f" started again before {plan.order[split.start_before]}"
        )
    for queue in capacity.queues:
        lines.append(
            f"{queue.phase} may queue for capacity ({queue.key}: {queue.limit};"
            f" {_names(queue.contenders)} may be alive)"
        )
    return lines


_UNSAFE = re.compile(r"[:;#\n]")


def plan_mermaid(plan: Plan) -> str:
    """A mermaid `gantt`: integer points on the axis, one bar per phase and per resource.

    A resource's bar runs from its acquire point to just past its release point (mermaid
    bars end where the next begins).
    """
    lines = [
        "gantt",
        f"    title {_UNSAFE.sub('_', plan.workflow)} resource lifetimes",
        "    dateFormat X",
        "    axisFormat %s",
        "    section phases",
    ]
    lines += [f"    {_UNSAFE.sub('_', name)} : {i}, {i + 1}" for i, name in enumerate(plan.order)]
    if plan.resources:
        lines.append("    section resources")
        lines += [
            f"    {_UNSAFE.sub('_', life.name)} : {life.acquire}, {life.release + 1}"
            for life in plan.resources.values()
        ]
    return "\n".join(lines) + "\n"


def _id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def plan_flowchart(plan: Plan) -> str:
    """A mermaid flowchart of the DAG (sequential: the chain), each phase with its
    resources; a dashed edge from a resource to its first consumers."""
    lines = ["flowchart TD"]
    for step in plan.steps:
        used = f"<br/>{', '.join(step.resources)}" if step.resources else ""
        lines.append(f'    p_{_id(step.phase)}["{_UNSAFE.sub("_", step.phase)}{used}"]')
    for i, step in enumerate(plan.steps):
        before = step.needs if plan.execution == "graph" else plan.order[i - 1 : i]
        lines += [f"    p_{_id(n)} --> p_{_id(step.phase)}" for n in before]
    for name, life in plan.resources.items():
        lines.append(f'    r_{_id(name)}(["{_UNSAFE.sub("_", name)}: {life.type}"])')
        window = plan.capacity.windows.get(name)
        first = window.first if window else (plan.order[life.acquire],)
        lines += [f"    r_{_id(name)} -.-> p_{_id(p)}" for p in first]
    return "\n".join(lines) + "\n"


def plan_dot(plan: Plan) -> str:
    """Graphviz: phases as boxes with their needs, resources as ellipses to first users."""
    lines = [f'digraph "{_id(plan.workflow)}" {{', "  rankdir=TB;"]
    for step in plan.steps:
        label = "\\n".join((step.phase, *step.resources))
        lines.append(f'  "p:{step.phase}" [shape=box, label="{label}"];')
    for i, step in enumerate(plan.steps):
        before = step.needs if plan.execution == "graph" else plan.order[i - 1 : i]
        lines += [f'  "p:{n}" -> "p:{step.phase}";' for n in before]
    for name, life in plan.resources.items():
        lines.append(f'  "r:{name}" [shape=ellipse, label="{name}\\n{life.type}"];')
        window = plan.capacity.windows.get(name)
        first = window.first if window else (plan.order[life.acquire],)
        lines += [f'  "r:{name}" -> "p:{p}" [style=dashed];' for p in first]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_resume(resumed: Resume, plan: Plan, console: Console, *, json_format: str) -> None:
    """`wfrun plan --resume` (issue 19): per phase, reused or why it runs again, and the
    resources that start (only those of the phases that run)."""
    runs = {name for name, d in resumed.decisions.items() if not d.reused}
    starting = [
        r
        for r in plan.start_order
        if any(r in s for p, s in zip(plan.order, plan.resource_sets, strict=True) if p in runs)
    ]
    if json_format == "json":
        data = {
            "parent": resumed.parent_id,
            "phases": {
                n: {"reused": d.reused, "reason": d.reason, "identity": d.identity}
                for n, d in resumed.decisions.items()
            },
            "resources_started": starting,
        }
        console.print_json(data=data)
        return
    table = Table(box=box.SIMPLE_HEAD, title=f"resume of run {resumed.parent_id}")
    for column in ("phase", "decision", "why", "identity"):
        table.add_column(column)
    for name, decision in resumed.decisions.items():
        verdict = "reused" if decision.reused else "runs"
        table.add_row(name, verdict, decision.reason, decision.identity[:12])
    console.print(table)
    names = ", ".join(starting) if starting else "none"
    console.print(f"resources that start: {names}")
