"""What containers cost: engine start, image build, container start/stop, `docker exec`.

Needs the docker CLI and dockerd (`make bench` wraps it in scripts/with-docker.sh). The
engine row stops and starts the private engine of scripts/docker-engine.sh only when
that script started it (it never touches an engine someone else runs); the image row
removes and rebuilds scripts/test-images.sh's image. The container rows run wfrun's own
`container` type (start: `docker run -d` + readiness; stop: `docker stop` + `rm`); the
command rows run `true` in a sandbox (`wfrun.builtins.sandbox.run`: `docker exec` with
the kill-inside wrapper) beside a bare `docker exec` and a host command
(`capture.run`). Medians over N rounds.

    python benchmarks/containers.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wfrun.builtins import capture, sandbox
from wfrun.builtins.container import Container, ContainerConfig
from wfrun.engine.api import ResourceContext

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
IMAGE = "wfrun-local/busybox:1"


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:9.1f} ms"


def sh(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True)


def engine_row() -> str:
    marker = (
        Path(
            subprocess.run(
                [str(SCRIPTS / "docker-engine.sh"), "env"],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.split("=", 1)[1]
            .strip()
            .removeprefix("unix://")
        ).parent
        / "started-by-script"
    )
    if not marker.exists():
        return "(an engine this script did not start: not restarted)"
    stop = timed(lambda: sh(str(SCRIPTS / "docker-engine.sh"), "stop"))
    start = timed(lambda: sh(str(SCRIPTS / "docker-engine.sh"), "start"))
    return f"start {start * 1000:.0f} ms, stop {stop * 1000:.0f} ms (vfs, no bridge)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    rows = [("engine (scripts/docker-engine.sh)", engine_row())]
    sh("docker", "rmi", "-f", IMAGE)
    build = timed(lambda: sh(str(SCRIPTS / "test-images.sh")))
    reuse = timed(lambda: sh(str(SCRIPTS / "test-images.sh")))
    rows.append(("image build (busybox-static, import)", f"{build * 1000:9.1f} ms"))
    rows.append(("image script, image already there", f"{reuse * 1000:9.1f} ms"))
    with tempfile.TemporaryDirectory() as tmp:
        ctx = ResourceContext(
            name="bench", run_dir=Path(tmp), base_dir=Path(tmp), environ=dict(os.environ),
            log=lambda _line: None,
        )  # fmt: skip
        config = ContainerConfig.model_validate(
            {"image": IMAGE, "command": ["sleep", "3000"], "stop_grace": 0}
        )
        starts, stops = [], []
        for _ in range(rounds):
            box = Container(config, ctx)
            starts.append(timed(box.start))
            stops.append(timed(box.stop))
        rows.append(("container start (run -d)", median_ms(starts)))
        rows.append(("container stop (stop + rm)", median_ms(stops)))
        box = Container(config, ctx)
        box.start()
        try:
            env = dict(os.environ)
            wrapped = [timed(lambda: sandbox.run(box, "true", env=env)) for _ in range(rounds * 3)]
            bare = [
                timed(lambda: sh("docker", "exec", box.name, "true")) for _ in range(rounds * 3)
            ]
        finally:
            box.stop()
        host = [timed(lambda: capture.run(["true"], cwd=tmp, env=env)) for _ in range(rounds * 3)]
    rows.append(("command in a sandbox (in:)", median_ms(wrapped)))
    rows.append(("bare `docker exec NAME true`", median_ms(bare)))
    rows.append(("the same command on the host", median_ms(host)))
    width = max(len(name) for name, _ in rows)
    print(f"{'what':<{width}}  median of {rounds} (commands: {rounds * 3})")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
