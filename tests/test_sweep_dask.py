"""`wfrun sweep --dask local`: cells through a real Dask LocalCluster of worker processes,
records written straight into the (shared) sweep folder (issue 16)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import cannot_run
from tests.test_sweep import Sweeper, explain, sweeper

try:
    import distributed  # noqa: F401 - only whether it is installed (wfrun[dask])
except ImportError:
    cannot_run("dask.distributed is not installed: pip install -e '.[dask]'", module=True)

__all__ = ["sweeper"]  # the fixture, shared with test_sweep.py

# worker: kill -9 the Dask worker process running this cell (the cell's wfrun's parent).
KILL_WORKER = """
[ "$1" = worker ] || exit 0
runner=$(python3 -c "import json,os; print(json.load(open(os.environ['WFRUN_RUN_DIR']+'/run.json'))['pid'])")
kill -9 $(ps -o ppid= -p "$runner")
sleep 30
"""


@pytest.mark.timeout(240)
def test_a_3x2x2_sweep_through_a_local_cluster(sweeper: Sweeper) -> None:
    proc = sweeper.run(
        "sweep", "flow.yaml", "-m", "task=t1,t2,t3", "-m", "model=replay,other",
        "--trials", "2", "-j", "2", "--dask", "local", "--format", "csv",
    )  # fmt: skip
    assert proc.returncode == 0, explain(proc)
    rows = list(csv.DictReader(io.StringIO(proc.stdout[proc.stdout.index("task,") :])))
    assert len(rows) == 12
    assert {r["status"] for r in rows} == {"succeeded"}
    record = sweeper.record()
    assert record["executor"] == "local"
    for cell in record["cells"]:
        (run,) = sweeper.runs_of(cell)  # the worker wrote it into the sweep folder
        assert json.loads((run / "run.json").read_text())["status"] == "succeeded"


@pytest.mark.timeout(240)
def test_a_worker_lost_mid_cell_fails_only_that_cell(sweeper: Sweeper) -> None:
    sweeper.write("cell.sh", KILL_WORKER)
    proc = sweeper.run(
        "sweep", "flow.yaml", "-m", "mode=ok,worker,fine", "-j", "2", "--dask", "local",
    )  # fmt: skip
    assert proc.returncode == 1, explain(proc)
    status = {c["params"]["mode"]: c["status"] for c in sweeper.record()["cells"]}
    assert status == {"ok": "succeeded", "worker": "lost", "fine": "succeeded"}, explain(proc)
    sweeper.write("cell.sh", "exit 0\n")
    again = sweeper.run("sweep", "--resume", sweeper.sweep_dir().name, "--dask", "local")
    assert again.returncode == 0, explain(again)
    assert {c["status"] for c in sweeper.record()["cells"]} == {"succeeded"}
