"""Every signal a run can get ends it the same way, and nothing the run started outlives it.

Real `wfrun run` subprocesses, real signals, real processes: the terminal closing
(SIGHUP) and Ctrl-\\ (SIGQUIT) tear down like SIGTERM; Ctrl-C at any moment, even while
Python still imports wfrun, prints no traceback; processes that left the run's session
are stopped at its end; a regex or a pipe never keeps a signal out; and cleanup never
signals a process that is not the run's.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import FaultProject, check_record

HANGING_RUN = """
version: 1
plugins: [plugin_types]
resources:
  r: {type: probe, with: {tag: TAG}}
agents:
  user: {type: shell, requires: [r], with: {run: "sleep 120 & sleep 120; wait", shell: true}}
phases:
  only: {agents: [user]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[FaultProject]:
    found = FaultProject(tmp_path)
    yield found
    found.sweep()


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err, err
    assert "KeyboardInterrupt" not in err, err
    assert "Fatal Python error" not in err, err


def _caught(pid: int, signum: int) -> bool:
    """Has process `pid` a handler for `signum` (its SigCgt mask says so)?"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask.split()[1], 16) >> (signum - 1) & 1)


# -- item 12: every interrupt tears down; Ctrl-C never prints a traceback ---------------


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_sighup_and_sigquit_tear_down_like_sigterm(
    project: FaultProject, signum: signal.Signals
) -> None:
    project.write(HANGING_RUN)
    project.start("run", "flow.yaml")
    project.wait_for_event("turn_started")
    project.proc.send_signal(signum)  # type: ignore[union-attr]
    result = project.finish()
    assert result.code == 130, result
    _no_traceback(result.err)
    check_record(result, project.journal(result))
    assert result.record["status"] == "interrupted", result
    assert signum.name in result.record["reason"], result
    assert not project.leaks(), result


def test_ctrl_c_again_and_again_through_teardown_ends_with_130(project: FaultProject) -> None:
    project.write(
        HANGING_RUN.replace(
            "r: {type: probe, with: {tag: TAG}}",
            "r: {type: faulty, with: {inner: probe, settings: {tag: TAG}, stop_seconds: 1.5}}",
        )
    )
    proc = project.start("run", "flow.yaml")
    project.wait_for_event("turn_started")
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:  # to the very last moment
        project.interrupt(signal.SIGINT)
        time.sleep(0.03)
    result = project.finish()
    assert result.code == 130, result
    _no_traceback(result.err)
    check_record(result, project.journal(result))
    assert not project.leaks(), result


@pytest.mark.parametrize("delay", [0.15, 0.22, 0.3, 0.45])
def test_ctrl_c_while_wfrun_starts_prints_no_traceback(project: FaultProject, delay: float) -> None:
    """Through the imports of wfrun to the run's own handler: 130, no traceback, nothing
    left. The delays count from the moment Python took charge of SIGINT (SigCgt); its own
    start-up (`site`, some 0.1 s here) comes before any line of wfrun and is not ours."""
    project.write(HANGING_RUN)
    proc = project.start("run", "flow.yaml")
    deadline = time.monotonic() + 30
    while not _caught(proc.pid, signal.SIGINT):
        assert proc.poll() is None, "python ended before it could take a signal"
        assert time.monotonic() < deadline, "python never started"
        time.sleep(0.001)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)
    result = project.finish()
    assert result.code == 130, result
    _no_traceback(result.err)
    assert not project.leaks(), result
    if result.run_dir is not None and result.record:
        check_record(result, project.journal(result))
