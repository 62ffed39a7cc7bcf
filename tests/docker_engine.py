"""The Docker Engine the container tests use, or why there is none.

`make test` starts a private engine (scripts/docker-engine.sh) and builds the local
image (scripts/test-images.sh), then exports DOCKER_HOST. Run by hand, pytest uses the
engine DOCKER_HOST (or docker's default) names. In CI (`CI=true`) a missing engine
fails the tests that need one, with the reason; elsewhere they skip with one line.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from tests.conftest import cannot_run

REPO = Path(__file__).resolve().parent.parent
IMAGE = "wfrun-local/busybox:1"  # built offline from busybox-static by scripts/test-images.sh
DOCKER = shutil.which("docker")


@functools.cache
def problem() -> str | None:
    """Why no engine with the test image is usable here, or None when one is."""
    if DOCKER is None:
        return "docker is not installed (run `make test`, which sets up an engine)"
    try:
        done = subprocess.run(
            [DOCKER, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "no Docker Engine answered `docker info` within 20s"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"no Docker Engine is reachable ({why}); `make test` starts one"
    try:
        built = subprocess.run(
            [str(REPO / "scripts" / "test-images.sh")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"building {IMAGE} took longer than 300s"
    if built.returncode != 0:
        return f"could not build {IMAGE}: {built.stderr.strip()}"
    return None


def require_engine() -> None:
    """Skip (fail in CI) unless a Docker Engine and the test image are here."""
    why = problem()
    if why is None:
        return
    cannot_run(f"the container tests need a Docker Engine: {why}")


def containers(label: str) -> list[str]:
    """Ids of the containers (running or not) with `label` (KEY=VALUE)."""
    assert DOCKER is not None
    done = subprocess.run(
        [DOCKER, "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.split()


def remove(ids: list[str]) -> None:
    """Test hygiene: remove containers a failed test may have left."""
    if ids and DOCKER is not None:
        subprocess.run([DOCKER, "rm", "-f", *ids], capture_output=True, timeout=60, check=False)
