"""`wfrun plan` for people: a table, a Gantt chart and the figures; or a mermaid gantt.

The chart has one row per resource and one column per phase. When the phases do not fit
the console, each column covers several consecutive phases (the caption says how many),
so 200 phases still read on an 80-column terminal. JSON needs no view:
`json.dumps(plan.as_dict(), indent=2)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wfrun.planner import Lifetime, Plan

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


def _figures(plan: Plan) -> list[str]:
    whole = plan.units_whole_run
    share = f" ({plan.units_held / whole:.0%})" if whole else ""
    started = f"{len(plan.resources)} of {plan.declared} resources ever start"
    return [
        f"peak live: {plan.peak} (lower bound {plan.lower_bound}); {started}",
        f"resource x phase units held: {plan.units_held}{share} of {whole} if all lived all run",
    ]


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
