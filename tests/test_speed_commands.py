"""A command runs on the thread that runs its turn: no reader thread per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

AGENTS = """
import threading


def threads(ctx):
    return str(threading.active_count())
"""

# Sequential: one worker. Phase `python` counts the runner's threads from inside; phase
# `shell` counts them from a command the runner is waiting on (its parent's tasks).
FLOW = """\
version: 1
name: threads
agents:
  py: {type: python, with: {call: "thread_count_agent:threads"}}
  sh: {type: shell, with: {run: [sh, -c, "ls /proc/$PPID/task | wc -l"]}}
phases:
  python: {agents: [py], max_iterations: 1}
  shell: {agents: [sh], max_iterations: 1}
"""


def test_a_shell_command_adds_no_thread_to_the_runner(tmp_path: Path) -> None:
    (tmp_path / "thread_count_agent.py").write_text(AGENTS)
    (tmp_path / "flow.yaml").write_text(FLOW)
    done = subprocess.run(
        [sys.executable, "-m", "wfrun", "run", "--json", "flow.yaml"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    outputs = {e["phase"]: e["output"].strip() for e in events if e["kind"] == "phase_finished"}
    assert outputs["shell"] == outputs["python"]
