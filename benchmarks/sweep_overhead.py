"""Sweep overhead per cell: 100 no-op cells locally at -j 1/2/4 and on a 2-worker
LocalCluster, against a shell loop of `wfrun run` (issue 16). Prints a table.

    .venv/bin/python -m benchmarks.sweep_overhead [CELLS]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW = """version: 1
params: {i: 0}
agents:
  a: {type: shell, with: {run: [true]}}
phases:
  p: {agents: [a]}
"""


def timed(command: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    cells = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    wfrun = [sys.executable, "-m", "wfrun"]
    values = ",".join(str(i) for i in range(cells))
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "flow.yaml").write_text(FLOW, encoding="utf-8")
        loop = f"for i in $(seq {cells}); do {' '.join(wfrun)} run flow.yaml -q -p i=$i; done"
        rows.append(("shell loop of `wfrun run`", timed(["sh", "-c", loop], base)))
        for jobs in (1, 2, 4):
            shutil.rmtree(base / ".wfrun", ignore_errors=True)
            command = [*wfrun, "sweep", "flow.yaml", "-m", f"i={values}", "-j", str(jobs), "-q"]
            rows.append((f"wfrun sweep -j {jobs}", timed(command, base)))
        try:
            import distributed  # noqa: F401, PLC0415
        except ImportError:
            pass
        else:
            command = [*wfrun, "sweep", "flow.yaml", "-m", f"i={values}", "-j", "2"]
            rows.append(
                (
                    "wfrun sweep --dask local (2 workers)",
                    timed([*command, "--dask", "local", "-q"], base),
                )
            )
    print(f"{cells} no-op cells")
    print(f"{'how':<40} {'total s':>8} {'ms/cell':>8}")
    for name, seconds in rows:
        print(f"{name:<40} {seconds:>8.1f} {seconds / cells * 1000:>8.0f}")


if __name__ == "__main__":
    main()
