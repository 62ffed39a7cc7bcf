"""Every signal a run can get ends it the same way, and nothing the run started outlives it.

Real `wfrun run` subprocesses, real signals, real processes: the terminal closing
(SIGHUP) and Ctrl-\\ (SIGQUIT) tear down like SIGTERM; Ctrl-C at any moment, even while
Python still imports wfrun, prints no traceback; processes that left the run's session
are stopped at its end; a regex or a pipe never keeps a signal out; and cleanup never
signals a process that is not the run's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.engine.conftest import RunResult
from tests.faults.harness import FaultProject, check_record, child_commands, marked_pids
from wfrun.engine import procs

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


def _assert_torn_down(project: FaultProject, result: RunResult) -> None:
    """An interrupted run: exit 130, no traceback, a whole record, nothing left behind."""
    assert result.code == 130, result
    _no_traceback(result.err)
    check_record(result, project.journal(result))
    assert not project.leaks(), result


def _caught(pid: int, signum: int) -> bool:
    """Has process `pid` a handler for `signum` (its SigCgt mask says so)?"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask.split()[1], 16) >> (signum - 1) & 1)


# -- item 12: every interrupt tears down; Ctrl-C never prints a traceback ---------------


@contextmanager
def _sighup_inherited_as(action: signal.Handlers) -> Iterator[None]:
    """The SIGHUP action a child started in the block inherits: a terminal gives the
    default, `nohup` (and a CI job run under it) SIG_IGN, which wfrun keeps."""
    previous = signal.signal(signal.SIGHUP, action)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_sighup_and_sigquit_tear_down_like_sigterm(
    project: FaultProject, signum: signal.Signals
) -> None:
    project.write(HANGING_RUN)
    with _sighup_inherited_as(signal.SIG_DFL):  # as from a terminal, even if we run under nohup
        project.start("run", "flow.yaml")
    project.wait_for_event("turn_started")
    project.proc.send_signal(signum)  # type: ignore[union-attr]
    result = project.finish()
    _assert_torn_down(project, result)
    assert result.record["status"] == "interrupted", result
    assert signum.name in result.record["reason"], result


def test_under_nohup_sighup_is_ignored_and_sigterm_still_tears_down(
    project: FaultProject,
) -> None:
    """`nohup wfrun run` means: survive the terminal closing. The SIGHUP is not obeyed; a
    SIGTERM after it is, and the record names the SIGTERM."""
    project.write(HANGING_RUN)
    with _sighup_inherited_as(signal.SIG_IGN):
        proc = project.start("run", "flow.yaml")
    project.wait_for_event("turn_started")
    proc.send_signal(signal.SIGHUP)
    proc.send_signal(signal.SIGTERM)
    result = project.finish()
    assert result.code == 130, result
    assert "SIGTERM" in result.record["reason"], result
    assert "SIGHUP" not in result.record["reason"], result
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
    _assert_torn_down(project, result)


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


# -- item 14: nothing keeps a signal or a timeout out ------------------------------------

BACKTRACKING = """
version: 1
agents:
  judge:
    type: shell
    with:
      run: [python3, -c, "print('a' * 40 + 'b')"]
      success: {stdout_matches: "^(a+)+$"}
      TIMEOUT
phases:
  only: {agents: [judge]}
"""


def _turn_seconds(result: RunResult) -> float:
    (started,) = result.kinds("turn_started")
    (finished,) = result.kinds("agent_output")
    return float(finished["t"]) - float(started["t"])


def test_a_backtracking_stdout_regex_ends_within_the_timeout(project: FaultProject) -> None:
    project.write(BACKTRACKING.replace("TIMEOUT", "timeout: 2"))
    project.start("run", "flow.yaml")
    result = project.finish(timeout=60)  # a regex holding the GIL: the runner never ends
    assert result.code == 1, result
    _no_traceback(result.err)
    assert _turn_seconds(result) < 2 + 3, result  # the timeout, and a loaded machine's slack
    (output,) = result.kinds("agent_output")
    assert "no exit within the 2s timeout" in str(output), result
    assert not project.leaks(), result


def test_a_backtracking_stdout_regex_gives_way_to_sigterm(project: FaultProject) -> None:
    project.write(BACKTRACKING.replace("TIMEOUT", ""))
    proc = project.start("run", "flow.yaml")
    wait_until(  # the command printed and ended; the regex is at work, in a child
        lambda: any("re.search" in c for c in child_commands(proc.pid)),
        "the stdout_matches regex starts",
        proc=proc,
    )
    proc.send_signal(signal.SIGTERM)
    result = project.finish(timeout=60)
    _assert_torn_down(project, result)


PIPE_HELD = """
version: 1
agents:
  user:
    type: shell
    with: {run: "setsid sleep 300 & yes | sleep 300", shell: true, TIMEOUT}
phases:
  only: {agents: [user]}
"""


def test_a_pipe_held_open_outside_the_session_does_not_outlast_the_timeout(
    project: FaultProject,
) -> None:
    """`yes` fills a pipe `sleep` never reads; the `setsid` sleep keeps the output pipe
    open after the session is killed. The turn ends at its timeout all the same."""
    project.write(PIPE_HELD.replace("TIMEOUT", "timeout: 1"))
    project.start("run", "flow.yaml")
    result = project.finish(timeout=60)
    assert result.code == 1, result
    assert _turn_seconds(result) < 1 + 1.5, result  # was the timeout + 2 s for the pipe
    assert not project.leaks(), result


def test_a_pipe_held_open_outside_the_session_gives_way_to_sigterm(
    project: FaultProject,
) -> None:
    project.write(PIPE_HELD.replace(", TIMEOUT", ""))
    proc = project.start("run", "flow.yaml")
    wait_until(  # the turn's command has set its pipe up: `yes` fills it
        lambda: (run := _commands(project)).count("sleep 300") == 2 and "yes" in run,
        "the turn's pipeline starts",
        proc=proc,
    )
    proc.send_signal(signal.SIGTERM)
    result = project.finish(timeout=60)
    _assert_torn_down(project, result)


# -- item 13: nothing the run started outlives it, even after a clean exit --------------

ESCAPING = """
version: 1
agents:
  user:
    type: shell
    with:
      shell: true
      run: |
        setsid sh -c 'echo $$ > one.pid; exec sleep 300' &
        (sleep 300 &)
        sh -c "setsid sh -c 'echo \\$\\$ > two.pid; exec sleep 300' &"
        i=0
        while [ ! -s one.pid ] || [ ! -s two.pid ]; do
          i=$((i+1)); [ $i -gt 1000 ] && break; sleep 0.01
        done
        echo ok
phases:
  only: {agents: [user]}
"""


def test_processes_that_left_the_session_are_stopped_when_the_run_ends(
    project: FaultProject,
) -> None:
    """`setsid` helpers and a double fork escape the turn's session: the run's end finds
    them by their WFRUN_RUN_DIR and stops them, and says so. (The command waits until
    both helpers have left the session: else the turn's own group kill may catch them
    first, and there is nothing left for the end to find.)"""
    project.write(ESCAPING)
    project.start("run", "flow.yaml")
    result = project.finish()
    assert result.code == 0, result
    assert not project.leaks(), result
    notices = [e["message"] for e in result.kinds("notice")]
    assert any("the run left running" in m for m in notices), result


# -- item 15: cleanup never kills a stranger ------------------------------------------

SERVICE = """
version: 1
resources:
  svc: {type: process, with: {command: [sleep, "300"], grace: 1}}
agents:
  user: {type: shell, requires: [svc], with: {run: [sleep, "300"]}}
phases:
  only: {agents: [user]}
"""


def test_cleanup_leaves_a_stranger_alone_though_pid_start_and_boot_match(
    project: FaultProject,
) -> None:
    """A run is killed (-9) with its service live. Its journal is then made to name a
    stranger — a process (and its child, in its group and session) this test started,
    with the right start time and boot but not the run's WFRUN_RUN_DIR — as a pid reused
    in the same tick would. `wfrun cleanup` stops the real service, leaves both strangers
    alone, and says so."""
    project.write(SERVICE)
    proc = project.start("run", "flow.yaml")
    started = project.wait_for_event("resource_started", resource="svc")
    project.wait_for_event("turn_started")
    proc.kill()
    proc.communicate()
    service = started["attributes"]["pid"]
    env = {k: v for k, v in project.env().items() if k not in ("WFRUN_FAULT_MARKER",)}
    stranger = subprocess.Popen(
        ["sh", "-c", "sleep 300 & exec sleep 300"], env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while len(procs.members(stranger.pid)) < 2 or _comm(stranger.pid) != "sleep":
            assert time.monotonic() < deadline, "the stranger did not start"
            time.sleep(0.01)
        strangers = sorted(procs.members(stranger.pid))
        run_dir = project.last_run_dir()
        assert run_dir is not None
        journal = json.loads((run_dir / "journal.json").read_text())
        journal["live"]["svc-reused"] = {  # the pid the kernel "reused", as a journal holds it
            "type": "process",
            "since": journal["live"]["svc"]["since"],
            "entry": {**journal["live"]["svc"]["entry"], **procs.identity(stranger.pid)},
        }
        (run_dir / "journal.json").write_text(json.dumps(journal))
        cleanup = project.run("cleanup")
        assert cleanup.code == 0, cleanup
        assert "left alone" in cleanup.out, cleanup
        assert all(procs.is_alive(pid) for pid in strangers), cleanup
        assert not procs.is_alive(service), cleanup
        assert not project.leaks(), cleanup
    finally:
        for pid in procs.members(stranger.pid):
            os.kill(pid, signal.SIGKILL)
        stranger.wait()


def _commands(project: FaultProject) -> list[str]:
    """The command lines of the processes the project's run started, however deep."""
    found = []
    for pid in marked_pids(project.marker):
        try:
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # gone meanwhile
            continue
    return [c.strip() for c in found]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
