"""Running a command to completion: output, timeouts, cancel, and nothing left behind."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from builtin_helpers import alive, wait_dead, wait_for_file

from wfrun.builtins import capture

pytest_plugins = ["builtin_fixtures"]


INTERLEAVED = (
    "import sys, time\n"
    "for i in range(3):\n"
    "    print(f'out{i}', flush=True)\n"
    "    print(f'err{i}', file=sys.stderr, flush=True)\n"
)


def test_output_keeps_the_order_streams_were_written_in(tmp_path: Path) -> None:
    done = capture.run([sys.executable, "-c", INTERLEAVED], cwd=tmp_path, env=os.environ)
    assert done.exit_code == 0
    assert done.output == "out0\nerr0\nout1\nerr1\nout2\nerr2\n"
    assert done.stdout is None


def test_split_stdout_keeps_stdout_apart(tmp_path: Path) -> None:
    done = capture.run(
        [sys.executable, "-c", INTERLEAVED], cwd=tmp_path, env=os.environ, split_stdout=True
    )
    assert done.stdout == "out0\nout1\nout2\n"
    assert sorted(done.output.split()) == ["err0", "err1", "err2", "out0", "out1", "out2"]
    assert not done.timed_out
    assert not done.cancelled
    assert not done.truncated


def test_exit_code_and_cwd(tmp_path: Path) -> None:
    done = capture.run(["sh", "-c", "pwd; exit 3"], cwd=tmp_path, env=os.environ)
    assert done.exit_code == 3
    assert done.output.strip() == str(tmp_path)


def test_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"sleep 30 & echo $! > {pid_file}; wait"
    began = time.monotonic()
    done = capture.run(["sh", "-c", script], cwd=tmp_path, env=os.environ, timeout=0.5)
    assert time.monotonic() - began < 3
    assert done.timed_out
    assert done.exit_code is None
    assert wait_dead([int(wait_for_file(pid_file))]) == []


def test_cancel_stops_it_promptly(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    began = time.monotonic()
    done = capture.run(["sleep", "30"], cwd=tmp_path, env=os.environ, cancelled=cancel)
    assert time.monotonic() - began < 3
    assert done.cancelled
    assert done.exit_code is None


def test_background_processes_do_not_outlive_the_command(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    done = capture.run(
        ["sh", "-c", f"sleep 30 >/dev/null 2>&1 & echo $! > {pid_file}; echo started"],
        cwd=tmp_path,
        env=os.environ,
    )
    assert done.exit_code == 0
    assert done.output == "started\n"
    pid = int(pid_file.read_text())
    assert wait_dead([pid]) == [], f"background sleep {pid} survived"
    assert not alive(pid)


def test_long_output_keeps_the_tail(tmp_path: Path) -> None:
    code = "for i in range(20000): print(f'line {i}')"
    done = capture.run([sys.executable, "-c", code], cwd=tmp_path, env=os.environ, max_output=50)
    assert done.truncated
    assert len(done.output) == 50
    assert done.output.endswith("line 19999\n")


def test_missing_command_and_missing_cwd_are_exit_127(tmp_path: Path) -> None:
    done = capture.run(["wfrun-no-such-command"], cwd=tmp_path, env=os.environ)
    assert (done.exit_code, done.output) == (127, "command not found: wfrun-no-such-command")
    gone = tmp_path / "gone"
    done = capture.run(["true"], cwd=gone, env=os.environ)
    assert (done.exit_code, done.output) == (127, f"working directory not found: {gone}")
