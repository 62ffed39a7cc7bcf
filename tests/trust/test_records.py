"""Issue 12, the record's part: a run record that cannot be written, read or trusted
never costs a teardown, a listing or the terminal."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import EngineProject, alive


@pytest.fixture
def project(tmp_path: Path) -> EngineProject:
    """A temp folder to run the real `wfrun` in, as a subprocess (see tests/engine)."""
    return EngineProject(tmp_path)


# Two services, so a failure while stopping the first cannot hide a leak of the second.
SERVICES = """
version: 1
resources:
  one:
    type: process
    with:
      command: [python3, -c, "import os, time; open('one.pid', 'w').write(str(os.getpid())); time.sleep(600)"]
      ready: {command: [test, -s, one.pid], timeout: 30}
  two:
    type: process
    with:
      command: [python3, -c, "import os, time; open('two.pid', 'w').write(str(os.getpid())); time.sleep(600)"]
      ready: {command: [test, -s, two.pid], timeout: 30}
agents:
  worker:
    type: shell
    requires: [one, two]
    with: {run: 'ACTION', shell: true}
  after:
    type: shell
    requires: [one, two]
    with: {run: 'echo after', shell: true}
phases:
  work: {agents: [worker]}
  more: {agents: [after]}
"""


def _services_stopped(project: EngineProject, proc: subprocess.CompletedProcess[str]) -> None:
    for name in ("one", "two"):
        pid = int((project.path / f"{name}.pid").read_text())
        assert not alive(pid), f"service {name} (pid {pid}) survived\n{proc}"


def test_run_folder_deleted_mid_run_still_stops_every_service(project):
    project.write(SERVICES.replace("ACTION", 'rm -rf "$WFRUN_RUN_DIR"; echo gone'))
    proc = subprocess.run(
        project.command("run", "flow.yaml"),
        cwd=project.path,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _services_stopped(project, proc)
    assert proc.returncode == 1, proc
    assert "the run record could not be written" in proc.stdout + proc.stderr, proc
    assert "Traceback" not in proc.stdout + proc.stderr, proc


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a disk that fills up during the run."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_full_disk_still_stops_every_service(project, tiny_disk):
    filler = "yes 0123456789abcdef | head -c 400000"
    project.write(SERVICES.replace("ACTION", filler))
    proc = subprocess.run(
        project.command("run", "flow.yaml", "--runs-dir", str(tiny_disk)),
        cwd=project.path,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _services_stopped(project, proc)
    assert proc.returncode == 1, proc
    assert "the run record could not be written" in proc.stdout + proc.stderr, proc
    assert "No space left on device" in proc.stdout + proc.stderr, proc
    assert "Traceback" not in proc.stdout + proc.stderr, proc
