"""Process groups and identities: real children, grandchildren and orphans."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from builtin_helpers import FORKING_SERVICE, alive, kill_leftovers, wait_dead, wait_for_file

from wfrun.engine import procs

pytest_plugins = ["builtin_fixtures"]


def test_start_time_identifies_a_process_and_survives_odd_names(tmp_path: Path) -> None:
    odd = tmp_path / "sle) ep (x"  # /proc/<pid>/stat puts the name in parentheses
    shutil.copy(shutil.which("sleep") or "/bin/sleep", odd)
    proc = subprocess.Popen([str(odd), "30"])
    try:
        stat = procs.read_stat(proc.pid)
        assert stat is not None
        assert stat.pgrp == os.getpgrp()
        assert stat.session == os.getsid(0)
        mine = procs.start_time(os.getpid())
        assert mine is not None
        assert procs.start_time(proc.pid) == stat.start_time >= mine
    finally:
        proc.kill()
        proc.wait()
    assert procs.start_time(proc.pid) is None
    assert not procs.is_alive(proc.pid)


def test_spawn_starts_a_new_session_and_group(tmp_path: Path) -> None:
    proc = procs.spawn(["sleep", "30"], cwd=tmp_path, env=os.environ, stdout=subprocess.DEVNULL)
    try:
        assert os.getpgid(proc.pid) == proc.pid
        assert os.getsid(proc.pid) == proc.pid
    finally:
        procs.kill_session(proc.pid, grace=1, proc=proc)
    assert proc.returncode == -signal.SIGTERM


def test_a_zombie_is_not_a_member(tmp_path: Path) -> None:
    proc = procs.spawn(["true"], cwd=tmp_path, env=os.environ, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while procs.read_stat(proc.pid).state != "Z":  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert procs.members(proc.pid) == []
    proc.wait()


def test_kill_session_stops_every_descendant(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    script = tmp_path / "service.py"
    script.write_text(FORKING_SERVICE)
    proc = procs.spawn(
        [sys.executable, str(script), str(pid_file)],
        cwd=tmp_path,
        env=os.environ,
        stdout=subprocess.DEVNULL,
    )
    try:
        children = [int(pid) for pid in wait_for_file(pid_file).split()]
        assert all(alive(pid) for pid in [proc.pid, *children])
        began = time.monotonic()
        count = procs.kill_session(proc.pid, grace=0.3, proc=proc)
        assert count == 5
        assert wait_dead([proc.pid, *children]) == []
        assert time.monotonic() - began < 3  # the stubborn child was SIGKILLed after the grace
    finally:
        kill_leftovers(pid_file)
        proc.kill()
        proc.wait()


def test_kill_session_with_keep_spares_the_others(tmp_path: Path) -> None:
    proc = procs.spawn(["sleep", "30"], cwd=tmp_path, env=os.environ, stdout=subprocess.DEVNULL)
    try:
        count = procs.kill_session(proc.pid, grace=0.1, keep=lambda stat: False)
        assert count == 0
        assert alive(proc.pid)
    finally:
        procs.kill_session(proc.pid, grace=0.1, proc=proc)
    assert not alive(proc.pid)


def test_boot_id_is_stable() -> None:
    assert procs.boot_id() == procs.boot_id() != ""
