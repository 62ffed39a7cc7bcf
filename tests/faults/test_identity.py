"""A pid and its start time name a process; cleanup signals nothing else (real processes)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wfrun.engine import procs
from wfrun.engine.journal import cleanup_run, runs_needing_cleanup
from wfrun.engine.records import JOURNAL_FILE, RUN_FILE, read_json, write_json
from wfrun.registry import builtin_registry

RUN_ID = "20261123-000000.000-flow-beef"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process that says it belongs to run RUN_ID, as everything a run starts does."""
    env = {**os.environ, procs.RUN_ENV: f"/somewhere/.wfrun/runs/{RUN_ID}"}
    child = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    deadline = time.monotonic() + 10
    while procs.read_stat(child.pid) is None or _comm(child.pid) != "sleep":  # exec'd
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield child
    child.kill()
    child.wait()


def _comm(pid: int) -> str:
    try:
        return (procs.PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def test_same_process_tells_a_reused_pid_apart(sleeper: subprocess.Popen[bytes]) -> None:
    facts = procs.identity(sleeper.pid)
    assert procs.same_process(facts) is True
    assert procs.same_process({**facts, "start_time": facts["start_time"] - 1}) is False
    assert procs.same_process({**facts, "boot_id": "another boot"}) is False
    assert procs.same_process({**facts, "start_time": None}) is None  # cannot tell
    sleeper.kill()
    sleeper.wait()
    assert procs.same_process(facts) is False


def test_run_processes_finds_a_run_by_its_mark_only(sleeper: subprocess.Popen[bytes]) -> None:
    found = procs.run_processes(RUN_ID)
    assert found == {sleeper.pid: procs.start_time(sleeper.pid)}
    assert procs.run_processes(RUN_ID + "0") == {}
    assert procs.run_processes(RUN_ID[:-1]) == {}


def test_stop_processes_signals_only_the_process_it_was_given(
    sleeper: subprocess.Popen[bytes],
) -> None:
    started = procs.start_time(sleeper.pid)
    assert started is not None
    assert procs.stop_processes({sleeper.pid: started - 1}, grace=0.1) == 0  # "reused"
    assert sleeper.poll() is None
    assert procs.stop_processes({sleeper.pid: started}, grace=5) == 1
    assert sleeper.wait(timeout=5) < 0


def test_a_run_without_a_journal_is_told_alive_or_dead_by_its_run_json(tmp_path: Path) -> None:
    """A run that started no resource has no journal: run.json's `runner` alone says
    whether it is still going. Here the runner is this very process, once as it is and
    once with another start time (its pid since reused)."""
    me = procs.identity(os.getpid())
    runs = {
        "going": me,
        "dead": {**me, "start_time": me["start_time"] - 1},
    }
    for name, runner in runs.items():
        (tmp_path / name).mkdir()
        header = {"id": name, "status": "running", "pid": os.getpid(), "runner": runner}
        write_json(tmp_path / name / RUN_FILE, header)
    assert runs_needing_cleanup(tmp_path) == [tmp_path / "dead"]
    going = cleanup_run(tmp_path / "going", builtin_registry())
    dead = cleanup_run(tmp_path / "dead", builtin_registry())
    assert going.running, going
    assert not dead.running, dead
    assert read_json(tmp_path / "going" / RUN_FILE)["status"] == "running"
    assert read_json(tmp_path / "dead" / RUN_FILE)["status"] == "killed"
    assert not any((tmp_path / name / JOURNAL_FILE).exists() for name in runs)  # none made
