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
from typing import IO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.segment import Segment
from rich.style import Style

from wfrun.engine import events as ev
from wfrun.engine.usage import cost_of, tokens_of
from wfrun.ui.terminal import printable

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
        self.totals = _Totals()

    def handle(self, event: ev.Event) -> None:
        self.totals.add(event)
        line, problem = self._line(event)
        if line and (problem or not self.quiet):
            self.stream.write(f"[{event.t:8.2f}s] {printable(line)}\n")
            if isinstance(event, ev.RunFinished):
                for extra in self.totals.summary(reasons=False):
                    self.stream.write(f"  {printable(extra)}\n")
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
            case ev.PhaseRetry():
                return _retry_line(event), True
            case ev.PhaseReused():
                return f"{event.phase}: reused from run {event.parent}", False
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


class _Totals:
    """What the end of a run must say however many phases passed: every failed phase with
    its reason (the first MAX_FAILED, then a count), and the tokens and cost used."""

    MAX_FAILED = 50

    def __init__(self) -> None:
        self.failed: dict[str, str] = {}
        self.tokens = [0, 0]
        self.cost: float | None = None

    def add(self, event: ev.Event) -> None:
        if isinstance(event, ev.PhaseFinished) and event.status in _FAILED:
            self.failed[event.phase] = f"{event.status}: {event.reason}".rstrip(": ")
        elif isinstance(event, ev.AgentOutput) and event.usage:
            tokens_in, tokens_out = tokens_of(event.usage)
            self.tokens[0] += tokens_in
            self.tokens[1] += tokens_out
            if "cost" in event.usage:
                self.cost = (self.cost or 0.0) + cost_of(event.usage)

    def summary(self, *, reasons: bool = True) -> list[str]:
        """Plain lines said each reason as its phase ended: they list names only."""
        lines = []
        if self.tokens[0] or self.tokens[1]:
            cost = f", cost {self.cost:.4f}" if self.cost is not None else ""
            lines.append(f"tokens: {self.tokens[0]} in, {self.tokens[1]} out{cost}")
        if self.failed and not reasons:
            names = [f"{name} ({why.split(':')[0]})" for name, why in self.failed.items()]
            more = len(names) - self.MAX_FAILED
            tail = f" … and {more} more (wfrun show RUN)" if more > 0 else ""
            lines.append(
                f"failed phases ({len(names)}): {', '.join(names[: self.MAX_FAILED])}{tail}"
            )
        elif self.failed:
            lines.append(f"failed phases ({len(self.failed)}):")
            items = list(self.failed.items())
            lines += [f"  ✗ {name}: {why}" for name, why in items[: self.MAX_FAILED]]
            if len(items) > self.MAX_FAILED:
                lines.append(f"  … and {len(items) - self.MAX_FAILED} more (wfrun show RUN)")
        return lines


_FAILED = frozenset({"failed", "timeout", "error", "cancelled"})


@dataclass
class _PhaseRow:
    name: str
    index: int  # listing order
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
        # Kept as events arrive, so a frame costs O(rows shown), not O(phases): at 10,000
        # phases a full scan per frame took 5 ms, with the board's lock held.
        self._counts: dict[str, int] = {}  # status -> phases
        self._running: dict[str, _PhaseRow] = {}  # in start order
        self._recent: deque[_PhaseRow] = deque(maxlen=self.MAX_ROWS)  # latest finished
        self._order: list[_PhaseRow] = []  # listing order (spawned ones appended)
        self._first_pending = 0  # no pending row before this index of _order
        self._final: str = ""
        self._totals = _Totals()
        self._live = Live(
            get_renderable=self._render,
            console=console,
            refresh_per_second=8,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def handle(self, event: ev.Event) -> None:
        with self._lock:
            self._apply(event)
        if isinstance(event, ev.RunStarted):
            self._live.start()  # not in __init__: a board never used must not leave a thread

    def _apply(self, event: ev.Event) -> None:
        self._totals.add(event)
        match event:
            case ev.RunStarted():
                self._title = f"{event.workflow} · run {event.run_id}"
                self._origin = time.monotonic() - event.t
                for name in event.phases:
                    self._row(name)
            case ev.PhaseStarted():
                row = self._row(event.phase)
                self._set_status(row, "running")
                row.started, row.max_iterations = event.t, event.max_iterations
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
                row = self._row(event.phase)
                self._set_status(row, event.status)
                row.seconds = event.seconds
            case ev.PhaseSkipped():
                self._set_status(self._row(event.phase), "skipped")
            case ev.PhaseRetry():
                self._output.append(_retry_line(event))
            case ev.PhaseSpawned():
                self._row(event.phase)
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

    def _row(self, name: str) -> _PhaseRow:
        row = self._phases.get(name)
        if row is None:
            row = self._phases[name] = _PhaseRow(name, len(self._order))
            self._order.append(row)
            self._counts["pending"] = self._counts.get("pending", 0) + 1
        return row

    def _set_status(self, row: _PhaseRow, status: str) -> None:
        self._counts[row.status] -= 1
        self._counts[status] = self._counts.get(status, 0) + 1
        if row.status == "running":
            self._running.pop(row.name, None)
        row.status = status
        if status == "running":
            self._running[row.name] = row
        elif status != "pending":
            self._recent.append(row)

    def _pick_rows(self) -> list[_PhaseRow]:
        """All rows if they fit; else running first, then the latest finished, then pending."""
        limit = self.MAX_ROWS
        if len(self._order) <= limit:
            return self._order
        running = list(self._running.values())[:limit]
        room = limit - len(running)
        recent = list(self._recent)[-(room // 2 or 1) :] if self._recent and room else []
        shown = {id(r): r for r in (*running, *recent, *self._upcoming(room - len(recent)))}
        return sorted(shown.values(), key=lambda r: r.index)

    def _upcoming(self, count: int) -> list[_PhaseRow]:
        """The first `count` pending rows in listing order."""
        order = self._order
        while self._first_pending < len(order) and order[self._first_pending].status != "pending":
            self._first_pending += 1
        found: list[_PhaseRow] = []
        index = self._first_pending
        while index < len(order) and len(found) < count:
            if order[index].status == "pending":
                found.append(order[index])
            index += 1
        return found

    def _render(self) -> _Frame:
        with self._lock:
            return self._frame()

    def _frame(self) -> _Frame:
        now = time.monotonic() - self._origin
        shown = self._pick_rows()
        frame = _Frame()
        frame.line((self._title, _ITALIC))
        _phase_table(frame, shown, now)
        total = len(self._order)
        hidden = total - len(shown)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(self._counts.items()) if n)
        more = f" ({hidden} not shown)" if hidden else ""
        frame.line((f"{total} phases: {summary}{more}", _DIM))
        live = ", ".join(
            name if state == "live" else f"{name} ({state})"
            for name, state in self._resources.items()
        )
        frame.line((f"resources live: {live or 'none'}", None))
        for line in self._output:
            frame.line((f"  {line}", _DIM))
        if self._final:
            frame.line((self._final, _BOLD))
            for line in self._totals.summary():
                frame.line((line, _STYLES["failed"] if "✗" in line else None))
        return frame

    def close(self) -> None:
        self._live.stop()  # renders the final state once more, then lets go of the terminal


class _Frame:
    """A frame as ready-made segments, one list per line, cut with "…" where too wide.

    rich's `Text` (spans, wrapping, division into lines) was most of a frame's cost, and
    rows of styled cells need none of it. Lines never wrap: the frame keeps its height.
    """

    def __init__(self) -> None:
        self.lines: list[list[Segment]] = []

    def line(self, *cells: tuple[str, Style | None]) -> None:
        """One line of cells; a lone cell of several lines (a long reason) makes several."""
        if len(cells) == 1 and "\n" in cells[0][0]:
            text, style = cells[0]
            for part in text.splitlines():
                self.line((part, style))
            return
        self.lines.append([Segment(_printable(text), style) for text, style in cells])

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        for line in self.lines:
            if Segment.get_line_length(line) > width:
                yield from Segment.adjust_line_length(line, width - 1)
                yield _ELLIPSIS
            else:
                yield from line
            yield _NEWLINE


def _printable(text: str) -> str:
    """The text without control characters: an escape sequence or a carriage return in an
    agent's output would move the cursor under the board. Tabs become spaces."""
    return text if text.isprintable() else printable(text).expandtabs(4).replace("\n", "")


_COLUMNS = ("", "phase", "status", "agent", "turn", "time")
_NEWLINE, _ELLIPSIS = Segment.line(), Segment("…")
_ITALIC, _BOLD, _DIM = Style(italic=True), Style(bold=True), Style(dim=True)
_STYLES = {status: Style.parse(style) for status, style in _STATUS_STYLE.items()}


def _phase_table(frame: _Frame, rows: list[_PhaseRow], now: float) -> None:
    """The phase table as aligned cells: a rich `Table` cost ~10 ms a frame to lay out.

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
    for index, line in enumerate(cells):
        padded = [f" {cell.ljust(width)} " for cell, width in zip(line, widths, strict=True)]
        if index == 0:
            frame.line(("".join(padded), _BOLD))
            continue
        style = _STYLES.get(rows[index - 1].status)
        frame.line(
            (padded[0], style), (padded[1], None), (padded[2], style), ("".join(padded[3:]), None)
        )


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


def _retry_line(event: ev.PhaseRetry) -> str:
    """`retry:` (issue 19): which attempt failed, how, and when the next one starts."""
    wait = f" in {event.wait:g}s" if event.wait else ""
    return (
        f"{event.phase}: attempt {event.attempt - 1} {event.status}: {event.reason}; "
        f"attempt {event.attempt} of {event.attempts}{wait}"
    )
