"""Event consumers for the terminal: a live board (TTY), plain lines (CI), JSON lines.

The live board keeps a small state updated per event (cheap) and renders it from rich's
refresh thread a few times a second, so progress costs little however fast phases go.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from wfrun.engine import events as ev

_STATUS_STYLE = {
    "running": "bold cyan",
    "succeeded": "green",
    "failed": "bold red",
    "timeout": "bold red",
    "error": "bold red",
    "cancelled": "yellow",
    "skipped": "dim",
    "pending": "dim",
}
_SYMBOL = {
    "running": "▶",
    "succeeded": "✓",
    "failed": "✗",
    "timeout": "⏱",
    "error": "✗",
    "cancelled": "■",
    "skipped": "↷",
    "pending": "·",
}


def _last_line(text: str, width: int = 100) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= width else line[: width - 1] + "…"


class JsonLines:
    """`--json`: every event as one JSON object per line, flushed as it goes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def handle(self, event: ev.Event) -> None:
        self.stream.write(ev.to_json(event) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class PlainLines:
    """For pipes and CI logs: one line per thing that happened; `quiet` keeps problems only.

    Written straight to the stream: rich's print costs about a millisecond a line.
    """

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.stream = console.file
        self.quiet = quiet

    def handle(self, event: ev.Event) -> None:
        line, problem = self._line(event)
        if line and (problem or not self.quiet):
            self.stream.write(f"[{event.t:8.2f}s] {line}\n")
            self.stream.flush()

    def _line(self, event: ev.Event) -> tuple[str, bool]:
        match event:
            case ev.RunStarted():
                count = len(event.phases)
                noun = "phase" if count == 1 else "phases"
                return f"run {event.run_id}: {count} {noun}, record in {event.run_dir}", False
            case ev.PhaseStarted():
                origin = f", spawned by {event.spawned_by}" if event.spawned_by else ""
                return f"{event.phase}: started ({', '.join(event.agents)}{origin})", False
            case ev.AgentOutput():
                verdict = "ok" if event.success else "failed"
                text = _last_line(event.output)
                return f"{event.phase}: {event.agent} #{event.iteration} {verdict}: {text}", False
            case ev.AgentLog():
                return f"{event.phase}: {event.agent}: {event.line}", False
            case ev.PhaseFinished():
                why = f": {event.reason}" if event.reason else ""
                bad = event.status != "succeeded"
                return f"{event.phase}: {event.status} in {event.seconds:.2f}s{why}", bad
            case ev.PhaseSkipped():
                return f"{event.phase}: skipped: {event.reason}", False
            case ev.PhaseSpawned():
                return (
                    f"{event.spawner}: spawned {event.phase} from template {event.template}",
                    False,
                )
            case ev.ResourceStarted():
                return f"resource {event.resource}: started in {event.seconds:.2f}s", False
            case ev.ResourceFailed():
                return f"resource {event.resource}: failed to start: {event.error}", True
            case ev.ResourceStopped():
                if event.error:
                    return f"resource {event.resource}: stop failed: {event.error}", True
                return f"resource {event.resource}: stopped", False
            case ev.Notice():
                return event.message, event.level != "info"
            case ev.RunFinished():
                why = f" ({event.reason})" if event.reason else ""
                return f"run {event.status} in {event.seconds:.2f}s{why}", event.exit_code != 0
            case _:
                return "", False

    def close(self) -> None:
        return None


@dataclass
class _PhaseRow:
    name: str
    status: str = "pending"
    agent: str = ""
    iteration: int = 0
    max_iterations: int = 0
    started: float = 0.0
    seconds: float | None = None


class LiveBoard:
    """A rich live display: the phase table, live resources, the last agent output."""

    MAX_ROWS = 14
    OUTPUT_LINES = 6

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._phases: dict[str, _PhaseRow] = {}
        self._resources: dict[str, str] = {}
        self._output: deque[str] = deque(maxlen=self.OUTPUT_LINES)
        self._title = "wfrun"
        self._origin = time.monotonic()
        self._counts: dict[str, int] = {}
        self._final: str = ""
        self._live = Live(
            get_renderable=self._render,
            console=console,
            refresh_per_second=8,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def handle(self, event: ev.Event) -> None:
        with self._lock:
            self._apply(event)

    def _apply(self, event: ev.Event) -> None:
        match event:
            case ev.RunStarted():
                self._title = f"{event.workflow} · run {event.run_id}"
                self._origin = time.monotonic() - event.t
                for name in event.phases:
                    self._phases[name] = _PhaseRow(name)
            case ev.PhaseStarted():
                row = self._phases.setdefault(event.phase, _PhaseRow(event.phase))
                row.status, row.started = "running", event.t
                row.max_iterations = event.max_iterations
            case ev.TurnStarted():
                row = self._phases[event.phase]
                row.agent, row.iteration = event.agent, event.iteration
            case ev.AgentOutput():
                line = _last_line(event.output)
                if line:
                    self._output.append(f"{event.phase} · {event.agent} #{event.iteration}: {line}")
            case ev.AgentLog():
                self._output.append(f"{event.phase} · {event.agent}: {_last_line(event.line)}")
            case ev.PhaseFinished():
                row = self._phases.setdefault(event.phase, _PhaseRow(event.phase))
                row.status, row.seconds = event.status, event.seconds
            case ev.PhaseSkipped():
                self._phases.setdefault(event.phase, _PhaseRow(event.phase)).status = "skipped"
            case ev.PhaseSpawned():
                self._phases.setdefault(event.phase, _PhaseRow(event.phase))
            case ev.ResourceStarting():
                self._resources[event.resource] = "starting"
            case ev.ResourceStarted():
                self._resources[event.resource] = "live"
            case ev.ResourceStopping():
                self._resources[event.resource] = "stopping"
            case ev.ResourceStopped() | ev.ResourceFailed():
                self._resources.pop(event.resource, None)
            case ev.Notice():
                self._output.append(event.message)
            case ev.RunFinished():
                why = f" — {event.reason}" if event.reason else ""
                self._final = f"run {event.status} in {event.seconds:.2f}s{why}"
            case _:
                pass

    def _render(self) -> Group:
        with self._lock:
            return Group(*self._renderables())

    def _renderables(self) -> list[Any]:
        now = time.monotonic() - self._origin
        rows = list(self._phases.values())
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        shown = _pick_rows(rows, self.MAX_ROWS)
        table = _phase_table(self._title, shown, now)
        parts: list[Any] = [table]
        hidden = len(rows) - len(shown)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        more = f" ({hidden} not shown)" if hidden else ""
        parts.append(Text(f"{len(rows)} phases: {summary}{more}", style="dim"))
        live = ", ".join(
            name if state == "live" else f"{name} ({state})"
            for name, state in self._resources.items()
        )
        parts.append(Text(f"resources live: {live or 'none'}"))
        parts.extend(Text(f"  {line}", style="dim") for line in self._output)
        if self._final:
            parts.append(Text(self._final, style="bold"))
        return parts

    def close(self) -> None:
        self._live.stop()  # renders the final state once more, then lets go of the terminal


_COLUMNS = ("", "phase", "status", "agent", "turn", "time")


def _phase_table(title: str, rows: list[_PhaseRow], now: float) -> Text:
    """The phase table as aligned text: a rich `Table` cost ~10 ms a frame to lay out.

    Names are identifiers (ASCII), so `len` is their width on screen.
    """
    cells = [_COLUMNS]
    for row in rows:
        timing = ""
        if row.seconds is not None:
            timing = f"{row.seconds:6.1f}s"
        elif row.status == "running":
            timing = f"{now - row.started:6.1f}s"
        turn = f"{row.iteration}/{row.max_iterations}" if row.iteration else ""
        symbol = _SYMBOL.get(row.status, "?")
        cells.append((symbol, row.name, row.status, row.agent, turn, timing))
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    text = Text(title, style="italic", no_wrap=True, overflow="ellipsis")
    for index, line in enumerate(cells):
        text.append("\n")
        style = "bold" if index == 0 else _STATUS_STYLE.get(rows[index - 1].status, "")
        for column, (cell, width) in enumerate(zip(line, widths, strict=True)):
            padded = f" {cell.ljust(width)} "
            text.append(padded, style=style if index == 0 or column in (0, 2) else "")
    return text


def _pick_rows(rows: list[_PhaseRow], limit: int) -> list[_PhaseRow]:
    """All rows if they fit; else running first, then the latest finished, then pending."""
    if len(rows) <= limit:
        return rows
    running = [r for r in rows if r.status == "running"]
    finished = [r for r in rows if r.status not in ("running", "pending")]
    pending = [r for r in rows if r.status == "pending"]
    room = max(0, limit - len(running))
    recent = finished[-(room // 2 or 1) :] if finished and room else []
    upcoming = pending[: max(0, room - len(recent))]
    keep = {id(r) for r in (*running[:limit], *recent, *upcoming)}
    return [r for r in rows if id(r) in keep]


def progress_sinks(
    console: Console, *, json_lines: bool, quiet: bool, live: bool | None = None
) -> list[ev.EventSink]:
    """The right consumer for where output goes: JSON, a live board on a TTY, or lines."""
    if json_lines:
        return [JsonLines()]
    if live is None:
        live = console.is_terminal and not quiet
    if live:
        return [LiveBoard(console)]
    return [PlainLines(console, quiet=quiet)]
