"""Interrupts at the awkward moments the matrix found, and the harness's own checks.

Each test pins a bug the matrix found: a phase cut short while its resources start
must read `cancelled`; Ctrl-C during a stop must start no further phase; a SIGTERM
while the runner handles Ctrl-C must not abandon teardown.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.engine.conftest import RunResult
from tests.faults.harness import (
    FaultProject,
    check_record,
    main_thread_on_a_lock,
    main_thread_wakeups,
    marked_pids,
    writing_to_stdout,
)

PROBE = "{type: faulty, with: {inner: probe, settings: {tag: TAG}, stop_seconds: STOP}}"


def _run_with_signals(
    project: FaultProject, *moments: tuple[Path | str, signal.Signals]
) -> RunResult:
    """Start the run; at each moment (a file appears, or an event kind) send a signal."""
    project.start("run", "flow.yaml")
    for moment, signum in moments:
        if isinstance(moment, Path):
            project.wait_for_file(moment)
        else:
            project.wait_for_event(moment)
        project.interrupt(signum)
    return project.finish()


@pytest.fixture
def fault_project(tmp_path: Path) -> Iterator[FaultProject]:
    project = FaultProject(tmp_path)
    yield project
    project.sweep()


def test_a_phase_interrupted_while_its_resources_start_is_cancelled(
    fault_project: FaultProject,
) -> None:
    fault_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          r: {type: faulty, with: {inner: probe, settings: {tag: TAG}, start_seconds: 60}}
        agents:
          user: {type: act, requires: [r]}
        phases:
          only: {agents: [user]}
        """
    )
    result = _run_with_signals(fault_project, (fault_project.moment("r", "start"), signal.SIGINT))
    assert result.code == 130, result
    assert not fault_project.leaks(), result
    phase = result.record["phases"]["only"]
    assert (phase["status"], phase["reason"]) == ("cancelled", "the run was interrupted"), result


def test_no_phase_starts_after_ctrl_c_during_a_stop(fault_project: FaultProject) -> None:
    fault_project.write(
        f"""
        version: 1
        plugins: [plugin_types]
        resources:
          r: {PROBE.replace("STOP", "2")}
        agents:
          user: {{type: act, requires: [r]}}
          next: {{type: act}}
        phases:
          first: {{agents: [user]}}
          second: {{agents: [next]}}
        """
    )
    result = _run_with_signals(fault_project, (fault_project.moment("r", "stop"), signal.SIGINT))
    assert result.code == 130, result
    assert not fault_project.leaks(), result
    check_record(result, fault_project.journal(result))
    assert [e["phase"] for e in result.kinds("phase_started")] == ["first"], result
    assert result.record["phases"]["second"]["status"] == "skipped", result


def test_sigterm_while_the_runner_handles_ctrl_c_does_not_abandon_teardown(
    fault_project: FaultProject,
) -> None:
    fault_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          r: {type: probe, with: {tag: TAG}}
        agents:
          chatty: {type: act, requires: [r], with: {seconds: 60, log_chars: 200000}}
        phases:
          only: {agents: [chatty]}
        """
    )
    proc = fault_project.start("run", "flow.yaml")  # its stdout is not read: the pipe fills
    fault_project.wait_for_event("turn_started")
    wait_until(
        lambda: writing_to_stdout(proc.pid), "the log line blocks on the full pipe", proc=proc
    )
    woke = main_thread_wakeups(proc.pid)
    fault_project.interrupt(signal.SIGINT)
    wait_until(  # the handler ran; the notice after it waits for the emitter's lock
        lambda: main_thread_wakeups(proc.pid) > woke and main_thread_on_a_lock(proc.pid),
        "the runner's main thread takes Ctrl-C and blocks in its notice",
        proc=proc,
    )
    fault_project.interrupt(signal.SIGTERM)
    result = fault_project.finish()
    assert proc.returncode == 130, result
    assert not fault_project.leaks(), result
    check_record(result, fault_project.journal(result))


def test_ctrl_c_during_a_stop_on_the_main_thread_waits_for_it(fault_project: FaultProject) -> None:
    """The scheduler's main thread stops the resources of a phase it gave up on (timed
    out, agent ignoring the cancel). A Ctrl-C then must not cut that stop in half: it
    finishes once, then the run is interrupted."""
    fault_project.write(
        f"""
        version: 1
        plugins: [plugin_types]
        resources:
          r: {PROBE.replace("STOP", "1.5")}
        agents:
          stuck: {{type: act, requires: [r], with: {{seconds: 60, ignore_cancel: true}}}}
        phases:
          only: {{agents: [stuck], timeout: 0.5}}
        """
    )
    result = _run_with_signals(fault_project, (fault_project.moment("r", "stop"), signal.SIGINT))
    assert result.code == 130, result
    check_record(result, fault_project.journal(result))  # one resource_stopping, one stopped
    assert not fault_project.leaks(), result
    (stopped,) = result.kinds("resource_stopped")
    assert stopped["seconds"] >= 1.4, result  # the whole stop, not its first moments
    assert result.record["phases"]["only"]["status"] == "timeout", result


def test_ctrl_c_while_a_service_waits_to_be_ready_is_prompt(fault_project: FaultProject) -> None:
    """The readiness wait gives up on the cancel, instead of teardown waiting 10 s for it."""
    fault_project.write(
        """
        version: 1
        resources:
          svc:
            type: process
            with:
              command: [sleep, "300"]
              ready: {command: [sh, -c, "touch probed; false"], timeout: 120, interval: 0.05}
        agents:
          user: {type: shell, requires: [svc], with: {run: ["true"]}}
        phases:
          only: {agents: [user]}
        """
    )
    fault_project.start("run", "flow.yaml")
    fault_project.wait_for_file(fault_project.path / "probed")  # the readiness wait is on
    began = time.monotonic()
    fault_project.interrupt(signal.SIGINT)
    result = fault_project.finish()
    assert result.code == 130, result
    assert time.monotonic() - began < 5, result
    assert not fault_project.leaks(), result
    check_record(result, fault_project.journal(result))
    failed = result.kinds("resource_failed")
    assert [e["error"] for e in failed] == [
        "sleep 300 was cancelled before it was ready: the run is stopping"
    ], result


# -- the harness can fail --------------------------------------------------------------


def test_the_leak_check_sees_what_a_buggy_stop_leaves(fault_project: FaultProject) -> None:
    """A stop that returns without stopping anything: wfrun cannot know its files are
    left, the OS can; its processes wfrun finds by their mark."""
    fault_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          ws: {type: faulty, with: {inner: workspace, forget_stop: true}}
          r: {type: faulty, needs: [ws], with: {inner: probe, settings: {tag: TAG}, forget_stop: true}}
        agents:
          user: {type: act, requires: [r]}
        phases:
          only: {agents: [user]}
        """
    )
    result = fault_project.run("run", "flow.yaml")
    assert result.code == 0, result
    leaks = fault_project.leaks(result.run_dir.name if result.run_dir else None)
    assert [d.split("-")[:3] for d in leaks.dirs] == [
        ["wfrun", "probe", fault_project.tag],
        ["wfrun", "ws", "ws"],
    ]
    # Its process carries the run's mark: the run's end found and stopped it, and said so.
    child = next(e for e in result.kinds("resource_started") if e["resource"] == "r")
    assert leaks.processes == [], leaks
    notices = [e["message"] for e in result.kinds("notice")]
    assert any(str(child["attributes"]["pid"]) in m for m in notices), result
    fault_project.sweep()
    assert not fault_project.leaks()


def test_the_leak_check_sees_a_marked_process_however_deep(fault_project: FaultProject) -> None:
    env = fault_project.env()
    shell = subprocess.Popen(
        ["sh", "-c", "setsid sleep 60 & wait"], env=env, start_new_session=True
    )
    deadline = time.monotonic() + 10
    while len(marked_pids(fault_project.marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fault_project.leaks().processes) == 2
    fault_project.sweep()
    shell.wait()
    assert not fault_project.leaks()


def test_the_record_check_sees_a_missing_stop(fault_project: FaultProject) -> None:
    fault_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          r: {type: probe, with: {tag: TAG}}
        agents:
          user: {type: act, requires: [r]}
        phases:
          only: {agents: [user]}
        """
    )
    result = fault_project.run("run", "flow.yaml")
    journal = fault_project.journal(result)
    check_record(result, journal)  # consistent as written
    result.events = [e for e in result.events if e["kind"] != "resource_stopped"]
    with pytest.raises(AssertionError):
        check_record(result, journal)
    with pytest.raises(AssertionError):
        check_record(result, {"r": {}})  # a journal that still lists it
    result.record = {**result.record, "status": "running"}
    with pytest.raises(AssertionError):
        check_record(result, journal)
    assert json.loads((result.run_dir / "run.json").read_text())["status"] == "succeeded"  # type: ignore[operator]
