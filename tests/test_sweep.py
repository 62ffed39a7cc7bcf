"""`wfrun sweep`: every cell a full `wfrun run` in its own process (issue 16).

Through the real CLI as a subprocess (signals, children, timing), on real files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

FLOW = """
version: 1
params: {task: a, model: m, mode: ok}
agents:
  work:
    type: shell
    with: {run: [sh, cell.sh, "${params.mode}"]}
phases:
  only: {agents: [work]}
"""

# ok: succeed; fail: exit 1; hang: sleep; kill: kill -9 the cell's own wfrun. Once
# `fixed` exists every mode succeeds (what --resume runs again).
CELL_SH = """
[ -e fixed ] && exit 0
case "$1" in
  ok) exit 0 ;;
  fail) exit 1 ;;
  hang) exec sleep 600 ;;
  kill) python3 -c "import json,os; os.kill(json.load(open(os.environ['WFRUN_RUN_DIR']+'/run.json'))['pid'], 9)"; sleep 30 ;;
esac
"""


class Sweeper:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.write("flow.yaml", FLOW)
        self.write("cell.sh", CELL_SH)

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return target

    def env(self) -> dict[str, str]:
        env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(REPO))
        env.pop("WFRUN_RUNS_DIR", None)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "wfrun", *args]

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.path,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.path,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def sweep_dir(self) -> Path:
        found = sorted((self.path / ".wfrun" / "sweeps").iterdir())
        assert len(found) == 1, found
        return found[0]

    def record(self) -> dict[str, Any]:
        return json.loads((self.sweep_dir() / "sweep.json").read_text())  # type: ignore[no-any-return]

    def cells(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.record()["cells"]}

    def runs_of(self, cell: dict[str, Any]) -> list[Path]:
        runs = self.sweep_dir() / "cells" / cell["folder"] / "runs"
        return sorted(runs.iterdir()) if runs.is_dir() else []


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"\nexit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


@pytest.fixture
def sweeper(tmp_path: Path) -> Sweeper:
    return Sweeper(tmp_path)


def test_a_3x2x2_sweep_at_j4_writes_every_record_and_the_table(sweeper: Sweeper) -> None:
    proc = sweeper.run(
        "sweep", "flow.yaml", "-m", "task=t1,t2,t3", "-m", "model=replay,other",
        "--trials", "2", "-j", "4", "--format", "csv",
    )  # fmt: skip
    assert proc.returncode == 0, explain(proc)
    rows = list(csv.DictReader(io.StringIO(proc.stdout[proc.stdout.index("task,") :])))
    assert len(rows) == 12, explain(proc)
    combos = {(r["task"], r["model"], r["trial"]) for r in rows}
    assert combos == {
        (t, m, str(k)) for t in ("t1", "t2", "t3") for m in ("replay", "other") for k in (1, 2)
    }
    assert {r["status"] for r in rows} == {"succeeded"}
    assert {r["exit"] for r in rows} == {"0"}
    record = sweeper.record()
    assert record["status"] == "succeeded"
    assert record["sweep"]["matrix"] == {"task": ["t1", "t2", "t3"], "model": ["replay", "other"]}
    for cell in record["cells"]:
        (run,) = sweeper.runs_of(cell)
        summary = json.loads((run / "run.json").read_text())
        assert summary["status"] == "succeeded"
        assert summary["params"]["task"] == cell["params"]["task"]
        assert cell["run_id"] == run.name
        assert cell["seconds"] > 0
    shown = sweeper.run("show", sweeper.sweep_dir().name[:20])
    assert shown.returncode == 0, explain(shown)
    assert "12/12 cells succeeded" in shown.stdout
    assert shown.stdout.count("succeeded") >= 12


def test_failed_hung_and_killed_cells_then_resume_runs_only_those(sweeper: Sweeper) -> None:
    proc = sweeper.run(
        "sweep", "flow.yaml", "-m", "mode=ok,fail,hang,kill", "-j", "4",
        "--cell-timeout", "8", "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 1, explain(proc)
    cells = sweeper.cells()
    status = {c["params"]["mode"]: c["status"] for c in cells.values()}
    assert status == {"ok": "succeeded", "fail": "failed", "hang": "timeout", "kill": "killed"}
    by_mode = {c["params"]["mode"]: c for c in cells.values()}
    hung = json.loads((sweeper.runs_of(by_mode["hang"])[0] / "run.json").read_text())
    assert hung["status"] == "interrupted", hung  # SIGTERM: the cell's run tore down
    killed = json.loads((sweeper.runs_of(by_mode["kill"])[0] / "run.json").read_text())
    assert killed["status"] in {"running", "killed"}, killed  # its runner died mid-run
    assert sweeper.record()["status"] == "failed"

    sweeper.write("fixed", "")
    again = sweeper.run("sweep", "--resume", sweeper.sweep_dir().name, "-j", "4")
    assert again.returncode == 0, explain(again)
    after = {c["params"]["mode"]: c for c in sweeper.cells().values()}
    assert {m: c["status"] for m, c in after.items()} == dict.fromkeys(status, "succeeded")
    assert len(sweeper.runs_of(after["ok"])) == 1  # kept, not run again
    for mode in ("fail", "hang", "kill"):
        assert len(sweeper.runs_of(after[mode])) == 2, mode
        assert after[mode]["attempts"] == 2


def test_sigint_mid_sweep_stops_every_cell_and_exits_130(sweeper: Sweeper) -> None:
    proc = sweeper.start("sweep", "flow.yaml", "-m", "mode=hang", "--trials", "4", "-j", "2")
    deadline = time.monotonic() + 60
    started: list[Path] = []
    while time.monotonic() < deadline and len(started) < 2:
        time.sleep(0.1)
        base = sweeper.path / ".wfrun" / "sweeps"
        started = [
            p for p in base.glob("*/cells/*/runs/*/events.jsonl") if "turn_started" in p.read_text()
        ]
    assert len(started) == 2, "two cells never got going"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, f"{out}\n{err}"
    record = sweeper.record()
    assert record["status"] == "interrupted"
    statuses = sorted(c["status"] for c in record["cells"])
    assert statuses == ["interrupted", "interrupted", "pending", "pending"], record
    for events in started:
        summary = json.loads((events.parent / "run.json").read_text())
        assert summary["status"] == "interrupted", summary  # each cell tore down itself


def test_a_param_value_that_breaks_one_cell_is_reported_with_the_cell(sweeper: Sweeper) -> None:
    sweeper.write(
        "typed.yaml",
        """
        version: 1
        params: {tries: 2}
        agents:
          a: {type: shell, with: {run: [true]}}
        phases:
          p: {agents: [a], max_iterations: "${params.tries}"}
        """,
    )
    proc = sweeper.run("sweep", "typed.yaml", "-m", "tries=1,many")
    assert proc.returncode == 2, explain(proc)
    assert "cell tries=many" in proc.stderr, explain(proc)
    assert "Traceback" not in proc.stderr
    assert not (sweeper.path / ".wfrun" / "sweeps").exists()  # nothing ran


def test_a_sweep_file_is_validated_with_positions_and_runs(sweeper: Sweeper) -> None:
    sweeper.write(
        "bad.yaml",
        """
        workflow: flow.yaml
        matrix:
          mode: [ok]
          task: []
        exclude: [{nope: 1}]
        trials: 0
        colour: red
        """,
    )
    proc = sweeper.run("validate", "bad.yaml")
    assert proc.returncode == 2, explain(proc)
    text = proc.stdout + proc.stderr
    for where in ("bad.yaml:4:9:", "bad.yaml:5:12:", "bad.yaml:6:9:", "bad.yaml:7:1:"):
        assert where in text, explain(proc)
    sweeper.write(
        "good.yaml",
        """
        workflow: flow.yaml
        matrix: {task: [t1, t2], mode: [ok]}
        include: [{task: t3, mode: ok}]
        exclude: [{task: t2}]
        trials: 2
        """,
    )
    ok = sweeper.run("validate", "good.yaml", "flow.yaml")
    assert ok.returncode == 0, explain(ok)
    proc = sweeper.run("sweep", "good.yaml", "-j", "2", "--json")
    assert proc.returncode == 0, explain(proc)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    finished = [e for e in events if e["kind"] == "cell_finished"]
    assert sorted(e["id"] for e in finished) == [
        "task=t1,mode=ok,trial=1", "task=t1,mode=ok,trial=2",
        "task=t3,mode=ok,trial=1", "task=t3,mode=ok,trial=2",
    ]  # fmt: skip
    schema = sweeper.run("schema", "--sweep")
    assert json.loads(schema.stdout)["title"] == "wfrun sweep"


SERVICE = """
import os, signal, sys, time
alive = sys.argv[1]
mine = os.path.join(alive, str(os.getpid()))
def down(signum, frame):
    os.remove(mine)
    sys.exit(0)
signal.signal(signal.SIGTERM, down)
open(mine, "w").close()
with open(os.path.join(alive, "..", "counts.log"), "a") as log:
    log.write(f"{len(os.listdir(alive))}\\n")
while True:
    time.sleep(1)
"""


def test_limit_caps_live_services_across_all_cells(sweeper: Sweeper) -> None:
    (sweeper.path / "state" / "alive").mkdir(parents=True)
    sweeper.write("service.py", SERVICE)
    sweeper.write(
        "svc.yaml",
        f"""
        version: 1
        params: {{task: a}}
        resources:
          svc:
            type: process
            with: {{command: [{sys.executable}, service.py, state/alive], cwd: {sweeper.path}}}
        agents:
          a: {{type: shell, requires: [svc], with: {{run: [sleep, "0.4"]}}}}
        phases:
          p: {{agents: [a]}}
        """,
    )
    proc = sweeper.run(
        "sweep", "svc.yaml", "-m", "task=t1,t2,t3,t4,t5,t6", "-j", "4", "--limit", "process=2"
    )
    assert proc.returncode == 0, explain(proc)
    counts = [int(x) for x in (sweeper.path / "state" / "counts.log").read_text().split()]
    assert len(counts) == 6, counts
    assert max(counts) <= 2, counts
    assert list((sweeper.path / "state" / "alive").iterdir()) == []  # all were stopped


def test_the_example_sweep_runs_offline(sweeper: Sweeper) -> None:
    example = REPO / "workflows" / "exploit-and-patch" / "sweep.yaml"
    proc = sweeper.run("sweep", str(example), "-j", "4", "-q", "--format", "csv")
    assert proc.returncode == 0, explain(proc)
    assert sweeper.record()["status"] == "succeeded"
    assert len(sweeper.record()["cells"]) == 9
