"""Cold start: `wfrun validate` of a small file in a new process, beside a bare import.

Each measurement is a new process, run to its exit (wall time, output discarded):

    wfrun        `python -m wfrun validate workflows/hello.yaml`, and the same through
                 the `wfrun` console script beside this Python, when it is installed
    reference    `python -c "import typer, pydantic, yaml"`: a new process importing
                 only wfrun's own stack; `python -c pass` (the interpreter alone) is
                 printed under the table

The commands take turns, round after round; medians and ratios are printed. Last, one
`python -X importtime -m wfrun validate` run lists the imports that cost the most
(cumulative, so a package includes what it imports).

    python benchmarks/startup.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as benchmarks/startup.py
from benchmarks.common import Bounds, Table, interleaved, machine_line, median, ratio

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "workflows" / "hello.yaml"
BARE_IMPORT = "import typer, pydantic, yaml"
# `import pydantic` is lazy: BaseModel's machinery loads when first used. Any validator
# built on pydantic models pays for it, so this second reference is that floor.
ONE_MODEL = (
    "import typer, yaml; from pydantic import BaseModel\nclass M(BaseModel):\n    x: int\nM(x=1)"
)
# Without PYTHONDONTWRITEBYTECODE (set on some CI machines and this VM): the untimed
# first round writes wfrun's .pyc files, as any installed copy has them; else every cold
# start would compile wfrun from source while the reference loads its packages' .pyc.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"NO_COLOR": "1"}


def timed(argv: list[str]) -> float:
    """Seconds for `argv` in a new process, from start to exit."""
    began = time.perf_counter()
    done = subprocess.run(
        argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr.decode()}")
    return seconds


def slowest_imports(count: int) -> list[tuple[float, str]]:
    """(cumulative ms, module) of the `count` costliest imports of one cold validate."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "wfrun", "validate", str(SMALL)],
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    found = []
    for line in done.stderr.splitlines():  # "import time: self [us] | cumulative | name"
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            found.append((int(parts[1]) / 1e3, parts[2].rstrip()))
    return sorted(found, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 21")
    args = parser.parse_args()
    bounds = Bounds(5, 8.0) if args.quick else Bounds(21, 45.0, min_rounds=7)
    python = sys.executable
    script = Path(python).with_name("wfrun")
    commands = {
        "module": [python, "-m", "wfrun", "validate", str(SMALL)],
        "bare": [python, "-c", BARE_IMPORT],
        "model": [python, "-c", ONE_MODEL],
        "interpreter": [python, "-c", "pass"],
    }
    if script.exists():
        commands["script"] = [str(script), "validate", str(SMALL)]
    print(machine_line("startup.py" + (" --quick" if args.quick else "")))
    print()
    for argv in commands.values():  # once untimed: the page cache, .pyc files
        timed(argv)
    got = interleaved({name: partial(timed, argv) for name, argv in commands.items()}, bounds)
    bare = median(got["bare"]) * 1e3
    model = median(got["model"]) * 1e3
    table = Table(
        ("what (a new process each time)", 46),
        ("wfrun ms", 10),
        ("reference ms", 14),
        ("ratio", 8),
        ("n", 4),
        ("  reference is", 0),
    )
    rows = [("python -m wfrun validate hello.yaml", "module")]
    if "script" in got:
        rows.append(("wfrun validate hello.yaml (console script)", "script"))
    for what, key in rows:
        ms = median(got[key]) * 1e3
        table.row(
            what, f"{ms:.0f}", f"{bare:.0f}", ratio(ms, bare), len(got[key]), "  " + BARE_IMPORT
        )
        table.row(
            "", "", f"{model:.0f}", ratio(ms, model), len(got["model"]), "  + one pydantic model"
        )
    print(f"interpreter alone (python -c pass): {median(got['interpreter']) * 1e3:.0f} ms")
    print()
    print("costliest imports of one cold validate (python -X importtime, cumulative ms):")
    for ms, name in slowest_imports(12):
        print(f"{ms:10.1f}  {name}")


if __name__ == "__main__":
    main()
