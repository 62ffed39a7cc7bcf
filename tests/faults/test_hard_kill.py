"""`kill -9` the runner, then `wfrun cleanup`: nothing is left, and nothing else is touched.

The kill lands at a seeded random moment of the matrix's workflow (each turn paced so
the run lasts a few seconds: starts, turns and stops are all likely). Cleanup must stop
every process and remove every temp dir the run made, mark the record `killed`, and
never signal a process that is not the run's — a pid is checked against the start time
the journal recorded with it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docker_engine import IMAGE, containers, remove, require_engine
from tests.engine.conftest import journaled
from tests.faults.flow import FLOW, Faults, render
from tests.faults.harness import FaultProject
from tests.faults.killing import FAST_SEEDS, HANG, SLOW_SEEDS, Killed
from wfrun.engine import procs

SEEDS = [
    *FAST_SEEDS,
    *[pytest.param(seed, marks=pytest.mark.slow) for seed in SLOW_SEEDS],
]


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_at_a_random_moment_then_cleanup_leaves_nothing(
    kills: Callable[[int], Killed], seed: int
) -> None:
    killed = kills(seed)
    assert killed.cleanup.code == 0, killed
    assert not killed.cleaned, killed
    assert journaled(killed.cleanup.run_dir) == {}, killed  # type: ignore[arg-type]
    if killed.status == "running":  # killed mid-run: cleanup says so in the record
        assert killed.record["status"] == "killed", killed
        assert killed.record["cleanup"], killed
    else:  # the run had finished: its verdict stands
        assert killed.record["status"] == killed.status, killed
        assert killed.events[-1]["kind"] == "run_finished", killed
    if killed.left.processes or killed.left.dirs:
        assert f"run {killed.record['id']}:" in killed.cleanup.out, killed


def test_cleanup_never_signals_a_reused_pid(tmp_path: Path) -> None:
    """The service dies after the kill and its pid goes to an unrelated process: the
    journal's start time no longer matches, so cleanup leaves that process alone."""
    project = FaultProject(tmp_path)
    stranger: subprocess.Popen[bytes] | None = None
    try:
        project.write(render(FLOW, Faults(hang=HANG), execution="sequential", project=tmp_path))
        proc = project.start("run", "flow.yaml")
        started = project.wait_for_event("resource_started", resource="svc")
        project.wait_for_event("turn_started", phase=HANG.phase, agent=HANG.agent)
        proc.kill()
        proc.communicate(timeout=30)
        run_dir = project.last_run_dir()
        assert run_dir is not None
        journal = json.loads((run_dir / "journal.json").read_text())
        entry = journal["live"]["svc"]["entry"]
        service = started["attributes"]["pid"]
        assert entry["pid"] == service
        assert entry["start_time"] == procs.start_time(service)
        procs.kill_session(service, grace=0)  # the service exits...
        assert not procs.is_alive(service)
        # ...and an unrelated process, which the run never started, gets its pid.
        stranger = subprocess.Popen(["sleep", "60"], start_new_session=True, env={})
        entry["pid"] = entry["pgid"] = stranger.pid
        (run_dir / "journal.json").write_text(json.dumps(journal))
        cleaned = project.run("cleanup")
        assert cleaned.code == 0, cleaned
        assert stranger.poll() is None, cleaned  # untouched
        assert f"svc: left pid {stranger.pid} alone: it is now a different process" in (
            cleaned.out
        ), cleaned
        assert not project.leaks(run_dir.name), cleaned  # everything of the run's is gone
        assert json.loads((run_dir / "run.json").read_text())["status"] == "killed"
    finally:
        if stranger is not None:
            stranger.kill()
            stranger.wait()
        project.sweep()


def test_kill_9_right_after_a_service_spawns_is_still_cleanable(tmp_path: Path) -> None:
    """The service's first instruction freezes the runner (SIGSTOP to its parent): the
    earliest moment a kill can come. Whether or not the journal lists it yet, cleanup
    must find and stop it."""
    project = FaultProject(tmp_path)
    try:
        project.write(
            """
            version: 1
            resources:
              code: {type: workspace}
              svc:
                type: process
                needs: [code]
                with:
                  command: [sh, -c, 'kill -STOP $PPID; exec sleep 300']
                  cwd: ${resources.code.path}
            agents:
              user: {type: shell, requires: [svc], with: {run: ["true"]}}
            phases:
              only: {agents: [user]}
            """
        )
        proc = project.start("run", "flow.yaml")
        deadline = time.monotonic() + 30
        while (stat := procs.read_stat(proc.pid)) is None or stat.state != "T":
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the service never stopped the runner"
            time.sleep(0.01)
        proc.kill()  # SIGKILL works on a stopped process
        proc.communicate(timeout=30)
        run_dir = project.last_run_dir()
        assert run_dir is not None
        listed = sorted(journaled(run_dir))
        left = project.leaks(run_dir.name)
        assert any("sleep 300" in p for p in left.processes), left  # the kill left it
        cleaned = project.run("cleanup")
        assert cleaned.code == 0, cleaned
        assert not project.leaks(run_dir.name), (listed, left, cleaned)
        assert json.loads((run_dir / "run.json").read_text())["status"] == "killed"
    finally:
        project.sweep()


def test_cleanup_leaves_a_run_that_is_still_going_alone(tmp_path: Path) -> None:
    project = FaultProject(tmp_path)
    try:
        project.write(render(FLOW, Faults(hang=HANG), execution="sequential", project=tmp_path))
        proc = project.start("run", "flow.yaml")
        project.wait_for_event("turn_started", phase=HANG.phase, agent=HANG.agent)
        run_dir = project.last_run_dir()
        assert run_dir is not None
        before = project.leaks(run_dir.name)
        every = project.run("cleanup")
        this = project.run("cleanup", run_dir.name)
        assert (every.code, this.code) == (0, 0), (every, this)
        assert "nothing to clean up" in every.out, every
        assert f"still running (pid {proc.pid}): left alone" in this.out, this
        assert project.leaks(run_dir.name) == before  # nothing touched
        assert sorted(journaled(run_dir)) == ["code", "scratch", "svc"]
        project.interrupt(signal.SIGINT)
        result = project.finish()
        assert result.code == 130, result
        assert not project.leaks(run_dir.name), result
    finally:
        project.sweep()


SPAWNER = '''
import os
import subprocess


def act(ctx):
    """Starts a process of its own, as user code does, then works until cancelled."""
    child = subprocess.Popen(
        ["sleep", "300"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    temp = ctx.base_dir / "spawned.pid.tmp"
    temp.write_text(str(child.pid))
    os.replace(temp, ctx.base_dir / "spawned.pid")
    ctx.cancelled.wait(300)
    return "done"
'''


def test_cleanup_finds_what_python_code_started_itself(tmp_path: Path) -> None:
    """A `python` agent starts a process with plain `subprocess` (no wfrun helper), then
    the runner is killed: the process inherited the run's tag, so cleanup stops it."""
    project = FaultProject(tmp_path)
    try:
        (project.path / "spawner.py").write_text(SPAWNER)
        project.write(
            """
            version: 1
            agents:
              starter: {type: python, with: {call: "spawner:act"}}
            phases:
              only: {agents: [starter]}
            """
        )
        proc = project.start("run", "flow.yaml")
        pid_file = project.path / "spawned.pid"
        project.wait_for_file(pid_file)
        child = int(pid_file.read_text())
        proc.kill()
        proc.communicate(timeout=30)
        run_dir = project.last_run_dir()
        assert run_dir is not None
        assert procs.is_alive(child)  # the kill left it
        assert child in procs.run_processes(run_dir.name)
        cleaned = project.run("cleanup")
        assert cleaned.code == 0, cleaned
        assert f"stopped 1 leftover process(es) the run started: {child}" in cleaned.out, cleaned
        assert not procs.is_alive(child), cleaned
        assert not project.leaks(run_dir.name), cleaned
        assert json.loads((run_dir / "run.json").read_text())["status"] == "killed"
    finally:
        project.sweep()


def test_kill_9_with_a_container_live_then_cleanup_removes_it(tmp_path: Path) -> None:
    """The runner is killed while a container and a command inside it (`in:`) run:
    the container outlives the kill; `wfrun cleanup` removes it (found by its journal
    entry and the run's label), so `docker ps -a --filter label=...` lists nothing."""
    require_engine()
    project = FaultProject(tmp_path)
    run_label = ""
    try:
        project.write(
            f"""
            version: 1
            resources:
              box: {{type: container, with: {{image: {IMAGE}, command: [sleep, "300"]}}}}
            agents:
              long: {{type: shell, requires: [box], with: {{in: box, run: [sleep, "300"]}}}}
            phases:
              only: {{agents: [long]}}
            """
        )
        proc = project.start("run", "flow.yaml")
        project.wait_for_event("turn_started", timeout=60, agent="long")
        proc.kill()
        proc.communicate(timeout=30)
        run_dir = project.last_run_dir()
        assert run_dir is not None
        run_label = f"wfrun.run={run_dir.name}"
        assert len(containers(run_label)) == 1  # the kill left it
        cleaned = project.run("cleanup", timeout=120)
        assert cleaned.code == 0, cleaned
        assert "removed container wfrun-box-" in cleaned.out, cleaned
        assert containers(run_label) == [], cleaned
        assert not project.leaks(run_dir.name), cleaned
        assert json.loads((run_dir / "run.json").read_text())["status"] == "killed"
    finally:
        if run_label:
            remove(containers(run_label))
        project.sweep()
