"""What the side-by-side benchmarks share: the machine line, interleaved rounds, medians.

A benchmark here measures wfrun beside a reference (the bare operation, or a peer) in
the same run, taking turns (wfrun, reference, wfrun, reference, ...) so that whatever
else the machine is doing slows both alike; it reports medians and their ratio. Every
loop is bounded twice: by a count of rounds and by a time budget.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


def reference_speed() -> float:
    """Milliseconds for a fixed bit of pure-Python work (best of 5), the same work as
    engine_overhead.py's `ref ms`: a slow moment of this shared VM shows here too."""
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        table: dict[int, str] = {}
        for i in range(20_000):
            table[i % 997] = f"{i}"
        best = min(best, time.perf_counter() - began)
    return best * 1e3


def machine_line(title: str) -> str:
    """`title`, then the date, nproc, load average, Python and the reference speed."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{title} | {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | nproc {os.cpu_count()}"
        f" | load {load} | Python {platform.python_version()}"
        f" | ref {reference_speed():.1f} ms (pure-Python yardstick, lower is faster)"
    )


@dataclass(frozen=True)
class Bounds:
    """At most `rounds` rounds; no new round after `budget` seconds once `min_rounds`
    are done."""

    rounds: int
    budget: float
    min_rounds: int = 3


def interleaved(
    contenders: Mapping[str, Callable[[], float]], bounds: Bounds
) -> dict[str, list[float]]:
    """Each contender's measurements, taken in turns, round after round.

    A contender returns its own measurement (so it can leave set-up out).
    """
    results: dict[str, list[float]] = {name: [] for name in contenders}
    began = time.perf_counter()
    for done in range(bounds.rounds):
        if done >= bounds.min_rounds and time.perf_counter() - began > bounds.budget:
            break
        for name, measure in contenders.items():
            results[name].append(measure())
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "n/a"


class Table:
    """Rows printed as they are measured: fixed widths, the first column left-aligned."""

    def __init__(self, *columns: tuple[str, int]) -> None:
        self.widths = [width for _, width in columns]
        self.row(*(name for name, _ in columns))

    def row(self, *cells: object) -> None:
        first, *rest = (str(c) for c in cells)
        text = first.ljust(self.widths[0]) + "".join(
            c.rjust(w) for c, w in zip(rest, self.widths[1:], strict=True)
        )
        print(text.rstrip(), flush=True)
