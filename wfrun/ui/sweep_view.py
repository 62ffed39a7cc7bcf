"""A sweep's progress (live line on a terminal, plain lines in CI, JSON events) and its
results table (text, csv, json), from events and from `sweep.json`."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from typing import Any, Self

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from wfrun.sweep.record import CellResult, SweepRecord
from wfrun.ui.terminal import printable


class SweepProgress:
    """Consumes cell events; shows done / failed / running, elapsed and ETA."""

    def __init__(self, console: Console, *, json_lines: bool, quiet: bool = False) -> None:
        self.console = console
        self.json_lines = json_lines
        self.quiet = quiet
        self.live: Live | None = None
        self.total = 0
        self.done = self.failed = self.running = 0
        self.started = time.monotonic()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def begin(self, record: SweepRecord, todo: int) -> None:
        self.total = todo
        self.started = time.monotonic()
        if self.json_lines:
            self._json({"kind": "sweep_started", "sweep": record.id, "dir": str(record.dir)})
            self._json({"kind": "cells", "total": len(record.results), "todo": todo})
        elif self.console.is_terminal and not self.quiet:
            self.live = Live(self._line(), console=self.console, refresh_per_second=4)
            self.live.start()
        elif not self.quiet:
            self.console.print(f"sweep {record.id}: {todo} cells to run ({record.dir})")

    def __call__(self, kind: str, result: CellResult) -> None:
        if kind == "cell_started":
            self.running += 1
        elif kind == "cell_finished":
            self.running = max(0, self.running - 1)
            self.done += 1
            self.failed += result.status != "succeeded"
        if self.json_lines:
            self._json({"kind": kind, **result.as_dict()})
        elif self.live is not None:
            if kind == "cell_finished" and result.status != "succeeded":
                self.live.console.print(_finished_line(self.done, self.total, result))
            self.live.update(self._line())
        elif kind == "cell_finished" and not (self.quiet and result.status == "succeeded"):
            self.console.print(_finished_line(self.done, self.total, result))

    def _line(self) -> Text:
        elapsed = time.monotonic() - self.started
        eta = ""
        if self.done and self.done < self.total:
            eta = f" · ETA {elapsed / self.done * (self.total - self.done):.0f}s"
        return Text(
            f"cells {self.done}/{self.total} done · {self.failed} failed · "
            f"{self.running} running · {elapsed:.0f}s elapsed{eta}"
        )

    @staticmethod
    def _json(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()


def _finished_line(done: int, total: int, result: CellResult) -> str:
    seconds = "" if result.seconds is None else f" {result.seconds:.2f}s"
    reason = f" — {printable(result.reason)}" if result.status != "succeeded" else ""
    width = len(str(total))
    return f"[{done:>{width}}/{total}] {result.status:<11} {printable(result.cell.id)}{seconds}{reason}"


# -- the results table --------------------------------------------------------------------

COLUMNS = ("trial", "status", "exit", "seconds", "tokens", "folder")


def rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The table from sweep.json data: matrix params, then trial, status, exit, ..."""
    cells = [c for c in data.get("cells", []) if isinstance(c, dict)]
    params: list[str] = []
    for cell in cells:
        for name in cell.get("params", {}):
            if name not in params:
                params.append(name)
    header = [*params, *COLUMNS]
    table = []
    for cell in cells:
        values = cell.get("params", {})
        seconds = cell.get("seconds")
        table.append(
            [
                *(printable(str(values.get(p, ""))) for p in params),
                str(cell.get("trial", "")),
                printable(str(cell.get("status", ""))),
                "" if cell.get("exit_code") is None else str(cell["exit_code"]),
                f"{seconds:.2f}" if isinstance(seconds, int | float) else "",
                "" if cell.get("tokens") is None else str(cell["tokens"]),
                printable(str(cell.get("folder", ""))),
            ]
        )
    return header, table


def render(console: Console, data: dict[str, Any], output_format: str) -> None:
    """Print the results as a table (text), CSV or JSON."""
    header, table = rows(data)
    if output_format == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(table)
        sys.stdout.write(buffer.getvalue())
        return
    statuses = [c.get("status") for c in data.get("cells", []) if isinstance(c, dict)]
    ok = sum(s == "succeeded" for s in statuses)
    title = (
        f"sweep {printable(str(data.get('id', '')))}: {printable(str(data.get('status', '')))}"
        f" — {ok}/{len(statuses)} cells succeeded"
    )
    shown = Table(*header, title=title, title_justify="left")
    for row in table:
        shown.add_row(*row)
    console.print(shown)
    failed = [c for c in data.get("cells", []) if isinstance(c, dict) and c.get("reason")]
    for cell in failed:
        if cell.get("status") != "succeeded":
            console.print(f"{printable(str(cell.get('id')))}: {printable(str(cell['reason']))}")
