"""What a turn costs: shell turns, DAG fan-outs and python agents, each beside its reference.

Workflows are written as YAML into a temporary folder (a python agent's module beside
them), loaded and planned once with the public API (`wfrun.load`, `wfrun.plan`), then
run with `wfrun.run` into a temporary runs folder; only the run is timed. Each row takes
turns with its reference(s), round after round, and reports medians:

    shell turn        one `shell` agent running `true`, per turn, two ways: N phases of
                      one turn each, and one phase of N turns (an agent that never
                      succeeds: success means exit 1, until_success) -- beside
                      `subprocess.run(["true"])`; then N phases again, both sides
                      with 400 idle `sleep 600` processes on the host (started here,
                      killed by pid after)
    DAG fan-out       root -> 100 leaves -> join, `execution: graph`, at 8 and 100 slots
                      (`max_parallel`); leaves are `shell` agents running `sleep 0.01`,
                      or `python` agents whose function sleeps 10 ms. Makespan beside
                      the floor (ceil(100 / slots) waves x 10 ms, root and join not
                      counted), a ThreadPoolExecutor(slots) doing the same 100 sleeps
                      (`subprocess.run(["sleep", "0.01"])` or `time.sleep(0.01)`, plus
                      the root and join), and LangGraph's StateGraph of the same shape
                      (`max_concurrency` = slots) when `langgraph` is installed
    python agent      a no-op `python` agent (`call: noop_agent:noop`, returns None), per
                      phase over 1,000 phases, beside a registered no-op agent type
                      (engine_overhead.py's Noop) over the same phases

    python benchmarks/commands.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib
import math
import operator
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypedDict

import wfrun
from wfrun.registry import Registry, TypeSpec, default_registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as benchmarks/commands.py
from benchmarks.common import Bounds, Table, interleaved, machine_line, median, ratio
from benchmarks.engine_overhead import Noop, NoopConfig  # the same no-op agent type

langgraph: Any
try:
    langgraph = importlib.import_module("langgraph.graph")
except ImportError:  # optional: a peer column, "n/a" without it
    langgraph = None

LEAVES = 100
LEAF_SECONDS = 0.01
IDLE_PROCESSES = 400

AGENT_MODULE = """\
import time


def noop(ctx):
    return None


def sleep10(ctx):
    time.sleep(0.01)
"""


def registry_with_noop() -> Registry:
    registry = default_registry()
    registry.add(TypeSpec(kind="agent", name="noop", config=NoopConfig, factory=Noop))
    return registry


# --- workflow files -------------------------------------------------------------------


def sequential_yaml(name: str, agent: str, phases: int) -> str:
    lines = ["version: 1", f"name: {name}", "agents:", f"  a: {agent}", "phases:"]
    lines += [f"  p{i}: {{agents: [a], max_iterations: 1}}" for i in range(phases)]
    return "\n".join(lines) + "\n"


def spin_yaml(turns: int) -> str:
    """One phase, `turns` turns of `true`: success means exit 1, so it never comes."""
    agent = '{type: shell, with: {run: ["true"], until_success: true, success: {exit_code: 1}}}'
    return (
        f"version: 1\nname: spin\nagents:\n  a: {agent}\n"
        f"phases:\n  spin: {{agents: [a], max_iterations: {turns}}}\n"
    )


def fan_yaml(edge: str, leaf: str) -> str:
    """root -> LEAVES leaves -> join; `edge` runs root and join, `leaf` each leaf."""
    lines = ["version: 1", "name: fan", "execution: graph", "agents:"]
    lines += [f"  edge: {edge}", f"  leaf: {leaf}", "phases:"]
    lines.append("  root: {agents: [edge], max_iterations: 1}")
    lines += [
        f"  l{i}: {{agents: [leaf], needs: [root], max_iterations: 1}}" for i in range(LEAVES)
    ]
    leaves = ", ".join(f"l{i}" for i in range(LEAVES))
    lines.append(f"  join: {{agents: [edge], needs: [{leaves}], max_iterations: 1}}")
    return "\n".join(lines) + "\n"


SHELL_TRUE = '{type: shell, with: {run: ["true"]}}'
SHELL_SLEEP = '{type: shell, with: {run: [sleep, "0.01"]}}'
PY_NOOP = "{type: python, with: {call: 'noop_agent:noop'}}"
PY_SLEEP = "{type: python, with: {call: 'noop_agent:sleep10'}}"


class Runner:
    """Workflows in one temporary folder, runs in another; `timed(name)` runs one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runs = folder / "runs"
        self.registry = registry_with_noop()
        (folder / "noop_agent.py").write_text(AGENT_MODULE)
        self.loaded: dict[str, tuple[wfrun.Workflow, wfrun.Plan]] = {}

    def add(self, name: str, text: str) -> None:
        path = self.folder / f"{name}.yaml"
        path.write_text(text)
        workflow = wfrun.load(path, registry=self.registry)
        self.loaded[name] = (workflow, wfrun.plan(workflow))

    def timed(self, name: str, *, slots: int = 4, expect: str = "succeeded") -> float:
        """Seconds for one `wfrun.run` of workflow `name`."""
        workflow, plan = self.loaded[name]
        began = time.perf_counter()
        summary = wfrun.run(
            workflow, plan=plan, registry=self.registry, runs_dir=self.runs, max_parallel=slots
        )
        seconds = time.perf_counter() - began
        if summary.status != expect:
            raise SystemExit(f"{name}: run {summary.status}, expected {expect}: {summary.reason}")
        return seconds


# --- references -----------------------------------------------------------------------


def subprocess_true(count: int) -> float:
    began = time.perf_counter()
    for _ in range(count):
        subprocess.run(["true"], check=True)
    return time.perf_counter() - began


def run_true() -> None:
    subprocess.run(["true"], check=True)


def run_sleep() -> None:
    subprocess.run(["sleep", str(LEAF_SECONDS)], check=True)


def sleep_leaf() -> None:
    time.sleep(LEAF_SECONDS)


def nothing() -> None:
    pass


def thread_pool(slots: int, edge: Callable[[], None], leaf: Callable[[], None]) -> float:
    """root, then LEAVES leaves on `slots` threads, then join: seconds."""
    began = time.perf_counter()
    edge()
    with ThreadPoolExecutor(slots) as pool:
        for future in [pool.submit(leaf) for _ in range(LEAVES)]:
            future.result()
    edge()
    return time.perf_counter() - began


class FanState(TypedDict):
    done: Annotated[list[int], operator.add]


def langgraph_fan(edge: Callable[[], None], leaf: Callable[[], None]) -> Any:
    """The same shape as a compiled LangGraph StateGraph (None without langgraph)."""
    if langgraph is None:
        return None

    def node(act: Callable[[], None], index: int) -> Callable[[FanState], dict[str, list[int]]]:
        def run(state: FanState) -> dict[str, list[int]]:
            del state
            act()
            return {"done": [index]}

        return run

    graph = langgraph.StateGraph(FanState)
    graph.add_node("root", node(edge, -1))
    graph.add_edge(langgraph.START, "root")
    names = [f"l{i}" for i in range(LEAVES)]
    for i, name in enumerate(names):
        graph.add_node(name, node(leaf, i))
        graph.add_edge("root", name)
    graph.add_node("join", node(edge, LEAVES))
    graph.add_edge(names, "join")
    graph.add_edge("join", langgraph.END)
    return graph.compile()


def langgraph_timed(app: Any, slots: int) -> float:
    began = time.perf_counter()
    state = app.invoke({"done": []}, config={"max_concurrency": slots})
    seconds = time.perf_counter() - began
    if len(state["done"]) != LEAVES + 2:
        raise SystemExit(f"langgraph ran {len(state['done'])} nodes, expected {LEAVES + 2}")
    return seconds


@contextmanager
def idle_processes(count: int) -> Any:
    """`count` idle `sleep 600` processes on the host; killed (by pid) and reaped after."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            started.append(
                subprocess.Popen(
                    ["sleep", "600"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in started:
            proc.wait()


# --- rows -----------------------------------------------------------------------------


CPU: dict[str, list[float]] = {}  # this process's CPU seconds per measurement, by label


def with_cpu(label: str, measure: Callable[[], float]) -> Callable[[], float]:
    """`measure`, also noting this process's CPU time (all threads; not the children's):
    on a loaded machine the wall clock drifts, CPU per turn much less."""

    def run() -> float:
        began = time.process_time()
        seconds = measure()
        CPU.setdefault(label, []).append(time.process_time() - began)
        return seconds

    return run


def turn_rows(runner: Runner, table: Table, turns: int, bounds: Bounds) -> None:
    """Per turn, idle host: N phases of one turn, one phase of N turns; then N phases
    again with IDLE_PROCESSES more processes on the host."""
    runner.add("turns", sequential_yaml("turns", SHELL_TRUE, turns))
    runner.add("spin", spin_yaml(turns))
    got = interleaved(
        {
            "phases": with_cpu("phases", lambda: runner.timed("turns")),
            "spin": with_cpu("spin", lambda: runner.timed("spin", expect="failed")),
            "bare": with_cpu("bare", lambda: subprocess_true(turns)),
        },
        bounds,
    )
    with idle_processes(IDLE_PROCESSES):
        busy = interleaved(
            {
                "phases": with_cpu("busy phases", lambda: runner.timed("turns")),
                "bare": with_cpu("busy bare", lambda: subprocess_true(turns)),
            },
            bounds,
        )
    for what, results, key in (
        (f"{turns} phases x 1 turn", got, "phases"),
        (f"1 phase x {turns} turns", got, "spin"),
        (f"{turns} phases x 1 turn, +{IDLE_PROCESSES} procs", busy, "phases"),
    ):
        ms, bare = (median(results[k]) / turns * 1e3 for k in (key, "bare"))
        table.row(
            f"shell `true`, {what}",
            "ms/turn",
            f"{ms:.2f}",
            f"{bare:.2f}",
            ratio(ms, bare),
            len(results[key]),
            '  subprocess.run(["true"])',
        )
    for what, key, bare_key in (
        ("phases", "phases", "bare"),
        ("spin", "spin", "bare"),
        (f"phases, +{IDLE_PROCESSES} procs", "busy phases", "busy bare"),
    ):
        ms, bare = (median(CPU[k]) / turns * 1e3 for k in (key, bare_key))
        table.row(
            f"  CPU of this process per turn, {what}",
            "ms/turn",
            f"{ms:.2f}",
            f"{bare:.2f}",
            ratio(ms, bare),
            len(CPU[key]),
            "  (children not counted)",
        )


def noop_row(runner: Runner, table: Table, phases: int, bounds: Bounds) -> None:
    runner.add("pynoop", sequential_yaml("pynoop", PY_NOOP, phases))
    runner.add("noop", sequential_yaml("noop", "{type: noop}", phases))
    got = interleaved(
        {"python": lambda: runner.timed("pynoop"), "noop": lambda: runner.timed("noop")},
        bounds,
    )
    python, noop = (median(got[k]) / phases * 1e6 for k in ("python", "noop"))
    table.row(
        f"no-op `python` agent, {phases:,} phases",
        "µs/phase",
        f"{python:.0f}",
        f"{noop:.0f}",
        ratio(python, noop),
        len(got["python"]),
        "  registered no-op agent type",
    )


def fan_rows(
    runner: Runner, kind: str, slot_counts: list[int], bounds: Bounds
) -> list[tuple[Any, ...]]:
    """Makespans (ms) of the fan-out for each slot count: wfrun, floor, threads, langgraph."""
    edge, leaf = (run_true, run_sleep) if kind == "shell" else (nothing, sleep_leaf)
    edge_yaml, leaf_yaml = (SHELL_TRUE, SHELL_SLEEP) if kind == "shell" else (PY_NOOP, PY_SLEEP)
    runner.add(f"fan_{kind}", fan_yaml(edge_yaml, leaf_yaml))
    app = langgraph_fan(edge, leaf)
    rows = []
    for slots in slot_counts:
        contenders: dict[str, Callable[[], float]] = {
            "wfrun": with_cpu(
                f"{kind} {slots} wfrun", partial(runner.timed, f"fan_{kind}", slots=slots)
            ),
            "threads": with_cpu(f"{kind} {slots} threads", partial(thread_pool, slots, edge, leaf)),
        }
        if app is not None:
            contenders["langgraph"] = partial(langgraph_timed, app, slots)
        got = interleaved(contenders, bounds)
        floor = math.ceil(LEAVES / slots) * LEAF_SECONDS * 1e3
        wf, threads = median(got["wfrun"]) * 1e3, median(got["threads"]) * 1e3
        lang = median(got["langgraph"]) * 1e3 if app is not None else None
        rows.append((kind, slots, wf, floor, threads, lang, len(got["wfrun"])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer turns, phases and rounds")
    args = parser.parse_args()
    turns, phases = (10, 300) if args.quick else (30, 1_000)
    # Quick: a row whose round takes over a second gets one round.
    bounds = Bounds(3, 1.0, min_rounds=1) if args.quick else Bounds(7, 6.0)
    print(machine_line("commands.py" + (" --quick" if args.quick else "")))
    print()
    with tempfile.TemporaryDirectory(prefix="wfrun-bench-") as folder:
        runner = Runner(Path(folder))
        table = Table(
            ("what", 44),
            ("unit", 9),
            ("wfrun", 9),
            ("reference", 11),
            ("ratio", 8),
            ("n", 4),
            ("  reference is", 0),
        )
        turn_rows(runner, table, turns, bounds)
        noop_row(runner, table, phases, bounds)
        print()
        print(
            f"DAG root -> {LEAVES} leaves (10 ms each) -> join, makespan in ms; floor ="
            f" ceil({LEAVES}/slots) x 10 ms (root and join not counted)"
        )
        fans = Table(
            ("leaves", 8),
            ("slots", 6),
            ("wfrun", 9),
            ("floor", 8),
            ("threads", 9),
            ("langgraph", 11),
            ("wfrun/floor", 13),
            ("wfrun/threads", 15),
            ("wfrun/langgraph", 17),
            ("n", 4),
        )
        fan_plan = [("shell", [8, 100]), ("python", [8, 100])]
        for kind, slot_counts in fan_plan:
            for kind_, slots, wf, floor, threads, lang, n in fan_rows(
                runner, kind, slot_counts, bounds
            ):
                fans.row(
                    kind_,
                    slots,
                    f"{wf:.0f}",
                    f"{floor:.0f}",
                    f"{threads:.0f}",
                    "n/a" if lang is None else f"{lang:.0f}",
                    ratio(wf, floor),
                    ratio(wf, threads),
                    "n/a" if lang is None else ratio(wf, lang),
                    n,
                )
        if langgraph is None:
            print("langgraph: n/a (pip install langgraph)")
        print("CPU of this process per phase of the fan-out (ms; the children not counted):")
        for kind, slot_counts in fan_plan:
            for slots in slot_counts:
                wf, threads = (
                    median(CPU[f"{kind} {slots} {who}"]) / (LEAVES + 2) * 1e3
                    for who in ("wfrun", "threads")
                )
                print(f"  {kind:7} {slots:4} slots: wfrun {wf:.2f}, threads {threads:.2f}")
        print(
            "threads = ThreadPoolExecutor(slots) running the 100 leaves (subprocess.run"
            ' ["sleep", "0.01"] or time.sleep(0.01)), root and join in the caller'
        )


if __name__ == "__main__":
    main()
