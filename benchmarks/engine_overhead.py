"""Engine overhead per no-op phase: sequential and a wide graph, progress off and on.

Each phase has one agent whose turn returns at once, so what is measured is wfrun's own
cost: scheduling, events, the run record (events.jsonl + run.json) and, with progress
on, the live board (rich, rendering to a terminal-like stream). Prints a table.

    python benchmarks/engine_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from wfrun.builtins.config import Config
from wfrun.engine.api import AgentContext, TurnContext, TurnResult
from wfrun.engine.events import EventSink
from wfrun.engine.runner import run_workflow
from wfrun.planner import plan_workflow
from wfrun.registry import TypeSpec, builtin_registry
from wfrun.spec.model import Agent, Phase, Workflow
from wfrun.ui.progress import LiveBoard, PlainLines

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as benchmarks/engine_overhead.py
from benchmarks.common import reference_speed

_DONE = TurnResult(output="", done=True)


class NoopConfig(Config):
    """No settings."""


class Noop:
    def __init__(self, config: NoopConfig, ctx: AgentContext) -> None:
        del config, ctx

    def act(self, ctx: TurnContext) -> TurnResult:
        del ctx
        return _DONE


def workflow(phases: int, execution: str) -> Workflow:
    agent = Agent(name="noop", type="noop")
    return Workflow(
        name="bench",
        file=Path("bench.yaml").resolve(),
        execution=execution,  # type: ignore[arg-type]
        agents={"noop": agent},
        phases={
            f"p{i}": Phase(name=f"p{i}", agents=("noop",), max_iterations=1) for i in range(phases)
        },
    )


def measure(phases: int, execution: str, progress: str) -> tuple[float, float]:
    """Wall and CPU µs per phase for one full run (plan excluded: it has its own benchmark).

    CPU time (all threads) is reported too: on a shared 2-core machine it is the steadier
    of the two when something else is running.
    """
    registry = builtin_registry()
    registry.add(TypeSpec(kind="agent", name="noop", config=NoopConfig, factory=Noop))
    flow = workflow(phases, execution)
    plan = plan_workflow(flow)
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100, color_system="standard")
    with tempfile.TemporaryDirectory() as runs:
        makers: dict[str, Callable[[], list[EventSink]]] = {
            "off": list,
            "live": lambda: [LiveBoard(console)],
            "plain": lambda: [PlainLines(console)],
        }
        sinks = makers[progress]()
        began, cpu_began = time.perf_counter(), time.process_time()
        summary = run_workflow(
            flow, plan=plan, registry=registry, runs_dir=Path(runs), max_parallel=4, sinks=sinks
        )
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    assert summary.status == "succeeded", summary
    return seconds / phases * 1e6, cpu / phases * 1e6


def best_of(size: int, execution: str) -> list[tuple[float, float]]:
    """The best run of each progress mode, taken in turns so drift hits all of them alike.

    Short runs get more tries (this VM's speed wanders by tens of percent from one
    moment to the next; the best is the cost of wfrun, the rest is the machine).
    """
    modes = ("off", "live", "plain")
    tries: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    for _ in range(max(3, 2_000 // size)):
        for mode in modes:
            tries[mode].append(measure(size, execution, mode))
    return [min(tries[mode]) for mode in modes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="sizes 100 and 1,000 only")
    args = parser.parse_args()
    sizes = [100, 1_000] if args.quick else [100, 1_000, 10_000]
    header = (
        "execution",
        "phases",
        "off µs",
        "live µs",
        "plain µs",
        "live/off",
        "off cpu",
        "live cpu",
        "ref ms",
    )
    print(f"{header[0]:<11}" + "".join(f"{h:>10}" for h in header[1:]))
    for execution in ("sequential", "graph"):
        for size in sizes:
            reference = reference_speed()
            off, live, plain = best_of(size, execution)
            cells = (off[0], live[0], plain[0], live[0] / off[0], off[1], live[1], reference)
            print(
                f"{execution:<11}{size:>10,}"
                + "".join(
                    f"{c:>10.2f}" if i in (3, 6) else f"{c:>10.1f}" for i, c in enumerate(cells)
                )
            )


if __name__ == "__main__":
    main()
