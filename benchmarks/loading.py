"""Loading big files: `validate` and `plan` in-process, beside PyYAML's parsers alone.

Two generated files per run (written to a temporary folder):

    generated   P phases, R `memory` resources (every fifth one `needs` the one before),
                50 `shell` agents each requiring a resource, each phase one agent and
                one more resource, sequential: 10,000 phases / 500 resources (--quick:
                1,000 / 50), about eight YAML values a phase
    load_graph  the file benchmarks/load_graph.py runs: 8,000 phases / 800 resources
                (--quick: 2,000 / 200), graph execution

Columns, medians in seconds (the four take turns, round after round):

    load        `wfrun.load(path)`: read, parse with positions, validate (what
                `wfrun validate` does); a refused file shows the first diagnostic
    plan        `wfrun.plan(workflow)` of the loaded workflow
    C compose   `yaml.compose(text, Loader=yaml.CSafeLoader)`: libyaml builds the same
                node tree, with the marks positions come from
    py compose  `yaml.compose(text, Loader=yaml.SafeLoader)`: the pure-Python parser

    python benchmarks/loading.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import wfrun
from wfrun.errors import SpecError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as benchmarks/loading.py
from benchmarks.common import Bounds, Table, interleaved, machine_line, median, ratio
from benchmarks.load_graph import write_load_workflow

AGENTS = 50


def write_generated(folder: Path, phases: int, resources: int, seed: int = 3) -> Path:
    rng = random.Random(seed)
    lines = ["version: 1", "name: big", "resources:"]
    for r in range(resources):
        needs = f", needs: [r{r - 1}]" if r % 5 else ""
        lines.append(f"  r{r}: {{type: memory{needs}}}")
    lines.append("agents:")
    for a in range(AGENTS):
        required = f"r{rng.randrange(resources)}"
        lines.append(f'  a{a}: {{type: shell, requires: [{required}], with: {{run: ["true"]}}}}')
    lines.append("phases:")
    for p in range(phases):
        agent, held = rng.randrange(AGENTS), rng.randrange(resources)
        lines.append(f"  p{p}: {{agents: [a{agent}], resources: [r{held}]}}")
    path = folder / f"big-{phases}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def count_values(node: yaml.Node | None) -> int:
    """YAML values as wfrun's loader counts them: every node, mapping keys included."""
    if isinstance(node, yaml.MappingNode):
        return 1 + sum(count_values(k) + count_values(v) for k, v in node.value)
    if isinstance(node, yaml.SequenceNode):
        return 1 + sum(count_values(item) for item in node.value)
    return 0 if node is None else 1


class Loads:
    """`wfrun.load` of one file, timed; keeps the workflow (for plan) or why it was refused."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.workflow: wfrun.Workflow | None = None
        self.refused = ""

    def load(self) -> float:
        began = time.perf_counter()
        try:
            self.workflow = wfrun.load(self.path)
        except SpecError as exc:
            seconds = time.perf_counter() - began
            first = exc.diagnostics[0]
            self.refused = f"{first.message} (line {first.position.line})"
            return seconds
        return time.perf_counter() - began

    def plan(self) -> float:
        if self.workflow is None:
            return float("nan")
        began = time.perf_counter()
        wfrun.plan(self.workflow)
        return time.perf_counter() - began


def composing(text: str, loader: Any) -> Callable[[], float]:
    def timed() -> float:
        began = time.perf_counter()
        yaml.compose(text, Loader=loader)
        return time.perf_counter() - began

    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 and 2,000 phases")
    args = parser.parse_args()
    sizes = [(1_000, 50), (2_000, 200)] if args.quick else [(10_000, 500), (8_000, 800)]
    bounds = Bounds(3, 4.0, min_rounds=1) if args.quick else Bounds(5, 20.0, min_rounds=2)
    print(machine_line("loading.py" + (" --quick" if args.quick else "")))
    print()
    table = Table(
        ("file", 11),
        ("phases", 8),
        ("res.", 6),
        ("KB", 6),
        ("values", 9),
        ("load s", 9),
        ("plan s", 9),
        ("C compose", 11),
        ("py compose", 12),
        ("load/C", 8),
        ("load/py", 9),
        ("n", 3),
    )
    refusals = []
    with tempfile.TemporaryDirectory(prefix="wfrun-bench-") as folder:
        for (phases, resources), kind in zip(sizes, ("generated", "load_graph"), strict=True):
            if kind == "generated":
                path = write_generated(Path(folder), phases, resources)
            else:
                path = write_load_workflow(Path(folder), phases, resources)
            text = path.read_text()
            loads = Loads(path)
            got = interleaved(
                {
                    "load": loads.load,
                    "plan": loads.plan,
                    "c": composing(text, yaml.CSafeLoader),
                    "py": composing(text, yaml.SafeLoader),
                },
                bounds,
            )
            load, plan, c, py = (median(got[k]) for k in ("load", "plan", "c", "py"))
            values = count_values(yaml.compose(text, Loader=yaml.CSafeLoader))
            table.row(
                kind,
                f"{phases:,}",
                f"{resources:,}",
                f"{len(text.encode()) / 1024:.0f}",
                f"{values:,}",
                f"{load:.3f}" + ("*" if loads.refused else ""),
                "refused" if loads.refused else f"{plan:.3f}",
                f"{c:.3f}",
                f"{py:.3f}",
                ratio(load, c),
                ratio(load, py),
                len(got["load"]),
            )
            if loads.refused:
                refusals.append(f"  {kind}, {phases:,} phases: {loads.refused}")
    if refusals:
        print("* refused: its load s is the time taken to refuse it; the first diagnostic:")
    for line in refusals:
        print(line)


if __name__ == "__main__":
    main()
