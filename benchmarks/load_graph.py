"""Load: a wide graph of many phases sharing real resources, run by the real CLI.

Generates a graph workflow (seeded): P phases, R workspace resources (every fifth one
`needs` the one before), each phase's agent requires one workspace and the phase holds
two more; each phase needs one or two of the 40 phases before it. The agent writes into
its workspace (so a workspace that is not live fails the phase) and sleeps 2 ms.
Runs `wfrun run --json --max-parallel 16` in a fresh process and reports wall time,
peak RSS, and whether every resource started and stopped exactly once; when not, why:
a refused file's first diagnostic, a failed run's reason, or which resources were off.

    python benchmarks/load_graph.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wfrun
from wfrun.errors import SpecError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as benchmarks/load_graph.py
from benchmarks.common import machine_line

AGENT_MODULE = """\
import time
from pathlib import Path


def touch(ctx):
    (workspace,) = ctx.attributes.values()
    Path(workspace["path"], ctx.phase).write_text(ctx.phase)
    time.sleep(0.002)
    return "ok"
"""

# A fresh interpreter runs wfrun and reports its peak RSS: RUSAGE_CHILDREN of the
# test process would mix in every other child it ever waited for.
_MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=open(sys.argv[0] + '.out', 'w')).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def write_load_workflow(folder: Path, phases: int, resources: int, seed: int = 7) -> Path:
    """The workflow file (and its agent module) in `folder`."""
    rng = random.Random(seed)
    lines = ["version: 1", "name: load", "execution: graph", "resources:"]
    for r in range(resources):
        need = f", needs: [w{r - 1}]" if r % 5 else ""
        lines.append(f"  w{r}: {{type: workspace{need}}}")
    lines.append("agents:")
    for r in range(resources):
        lines.append(
            f"  a{r}: {{type: python, requires: [w{r}], with: {{call: 'load_agent:touch'}}}}"
        )
    lines.append("phases:")
    for p in range(phases):
        agent = rng.randrange(resources)
        held = sorted({f"w{rng.randrange(resources)}" for _ in range(2)})
        needs = (
            sorted({f"p{rng.randrange(max(0, p - 40), p)}" for _ in range(rng.randint(1, 2))})
            if p
            else []
        )
        lines.append(
            f"  p{p}: {{agents: [a{agent}], resources: [{', '.join(held)}], needs: [{', '.join(needs)}]}}"
        )
    (folder / "load_agent.py").write_text(AGENT_MODULE)
    path = folder / "load.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class LoadResult:
    code: int
    seconds: float
    peak_rss_mb: float
    events: list[dict[str, Any]]
    leftovers: list[Path]
    stderr: str = ""

    def count(self, kind: str) -> Counter[str]:
        return Counter(e["resource"] for e in self.events if e["kind"] == kind)

    def max_running(self) -> int:
        running = peak = 0
        for event in self.events:
            if event["kind"] == "phase_started":
                running += 1
                peak = max(peak, running)
            elif event["kind"] == "phase_finished":
                running -= 1
        return peak


def run_load(folder: Path, phases: int, resources: int, max_parallel: int = 16) -> LoadResult:
    """Run the generated workflow in a fresh process, with its own TMPDIR to check for leaks."""
    flow = write_load_workflow(folder, phases, resources)
    temp = folder / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "NO_COLOR": "1"}
    script = folder / "measure"
    command = [sys.executable, "-m", "wfrun", "run", str(flow), "--json"]
    command += ["--max-parallel", str(max_parallel), "--runs-dir", str(folder / "runs")]
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE.replace("sys.argv[0]", repr(str(script))), *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    code, rss_kb = (int(x) for x in done.stdout.split())
    out = Path(f"{script}.out").read_text()
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    leftovers = sorted(temp.iterdir())
    return LoadResult(code, seconds, rss_kb / 1024, events, leftovers, done.stderr)


def why_not(result: LoadResult, flow: Path) -> str:
    """Why the run did not start and stop every resource exactly once ("" if it did)."""
    if result.code != 0:
        try:
            wfrun.load(flow)
        except SpecError as exc:  # refused: the first diagnostic, as `wfrun validate` shows
            first = exc.diagnostics[0]
            return f"refused: {first.message} (line {first.position.line})"
        finished = [e for e in result.events if e["kind"] == "run_finished"]
        if finished:
            return f"exit {result.code}: {finished[-1].get('reason') or finished[-1]['status']}"
        last = result.stderr.strip().splitlines()[-1:] or ["no output"]
        return f"exit {result.code}: {last[0]}"
    started, stopped = result.count("resource_started"), result.count("resource_stopped")
    if again := sorted(r for r, n in started.items() if n != 1):
        return f"started more than once: {', '.join(again[:5])}"
    if not started:
        return "no resource started"
    if started != stopped:
        off = sorted(r for r in set(started) | set(stopped) if started[r] != stopped[r])
        return f"started and stopped unequally: {', '.join(off[:5])}"
    if result.leftovers:
        return f"left in TMPDIR: {', '.join(p.name for p in result.leftovers[:5])}"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="up to 2,000 phases only")
    args = parser.parse_args()
    sizes = [(200, 20), (1_000, 100), (2_000, 200)] + ([] if args.quick else [(8_000, 800)])
    print(machine_line("load_graph.py" + (" --quick" if args.quick else "")))
    print(
        f"{'phases':>8}{'resources':>11}{'seconds':>10}{'peak RSS MB':>13}{'max running':>13}  exactly once"
    )
    for phases, resources in sizes:
        with tempfile.TemporaryDirectory() as folder:
            result = run_load(Path(folder), phases, resources)
            why = why_not(result, Path(folder) / "load.yaml")
        print(
            f"{phases:>8,}{resources:>11,}{result.seconds:>10.2f}{result.peak_rss_mb:>13.1f}"
            f"{result.max_running():>13}  {f'NO ({why})' if why else 'yes'}"
        )


if __name__ == "__main__":
    main()
