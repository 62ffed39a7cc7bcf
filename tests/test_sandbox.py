"""`in: RESOURCE`: `shell`, `check` and `executor` commands run inside a container
(`docker exec`), with the host's exit-code, output, timeout and cancel semantics; a
timeout or Ctrl-C kills the command inside the container too. Real engine (see
tests/docker_engine.py): in CI a missing engine fails these tests, elsewhere they skip."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.docker_engine import IMAGE, containers, remove, require_engine
from tests.engine.conftest import EngineProject, RunResult, send

BOX = f"""
          box:
            type: container
            with: {{image: {IMAGE}, command: [sleep, "3000"], stop_grace: 0}}"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[EngineProject]:
    require_engine()
    made = EngineProject(tmp_path)
    yield made
    runs = made.path / ".wfrun" / "runs"
    for run in runs.iterdir() if runs.is_dir() else []:
        remove(containers(f"wfrun.run={run.name}"))


def outputs(result: RunResult) -> list[dict[str, Any]]:
    return [e for e in result.events if e["kind"] == "agent_output"]


def left(result: RunResult) -> list[str]:
    assert result.run_dir is not None, result
    return containers(f"wfrun.run={result.run_dir.name}")


def test_shell_and_check_run_inside_the_container(project: EngineProject) -> None:
    project.write(
        f"""
        version: 1
        resources:{BOX}
        agents:
          where:
            type: shell
            requires: [box]
            with:
              in: box
              run: "readlink /bin/sh; echo to-stderr >&2; exit 3"
              shell: true
          env:
            type: check
            requires: [box]
            with:
              in: box
              run: [sh, -c, 'echo "$PWD $WFRUN_PHASE $GREETING"']
              cwd: /tmp
              env: {{GREETING: hello}}
        phases:
          one: {{agents: [where], expect: failure}}
          two: {{agents: [env]}}
        """
    )
    result = project.run("run", "flow.yaml", "--json", timeout=120)
    assert result.code == 0, result
    where, env = outputs(result)
    # The container's /bin/sh is busybox (the host's is not): it ran in there, and
    # stdout and stderr arrive in order, with the command's own exit code.
    assert where["output"] == "busybox\nto-stderr", where
    assert where["usage"]["exit_code"] == 3
    assert not where["success"]
    assert env["output"] == "/tmp two hello", env
    assert env["success"]
    assert left(result) == []


def test_a_timeout_kills_the_command_inside_and_leftovers_die_too(
    project: EngineProject,
) -> None:
    """The command is killed in the container, not only its `docker exec` client; one
    that exits by itself takes its background processes with it, as on the host."""
    project.write(
        f"""
        version: 1
        resources:{BOX}
        agents:
          slow:
            type: shell
            requires: [box]
            with: {{in: box, run: "sleep 301 & sleep 302", shell: true, timeout: 1}}
          leaver:
            type: shell
            requires: [box]
            with: {{in: box, run: "sleep 303 & echo left one", shell: true}}
          look:
            type: check
            requires: [box]
            with:
              in: box
              run: "sleep 0.5; ps -o args | grep 'sleep 30[0-9]$'; test $? = 1"
              shell: true
        phases:
          one: {{agents: [slow], expect: failure}}
          two: {{agents: [leaver]}}
          three: {{agents: [look]}}
        """
    )
    began = time.monotonic()
    result = project.run("run", "flow.yaml", "--json", timeout=120)
    assert result.code == 0, result
    slow, leaver, look = outputs(result)
    assert slow["output"] == "\n[killed: no exit within the 1s timeout]", slow  # as on the host
    assert slow["usage"]["exit_code"] is None
    assert leaver["output"] == "left one", leaver
    assert look["success"], look  # no sleep 301/302/303 left in the container
    assert time.monotonic() - began < 60
    assert left(result) == []


def test_ctrl_c_kills_the_command_inside_and_removes_the_container(
    project: EngineProject,
) -> None:
    project.write(
        f"""
        version: 1
        resources:{BOX}
        agents:
          long:
            type: shell
            requires: [box]
            with: {{in: box, run: "echo begun; sleep 3001", shell: true}}
        phases:
          only: {{agents: [long]}}
        """
    )
    proc = project.start("run", "flow.yaml", "--json")
    project.wait_for_event("turn_started", timeout=60, agent="long")
    wait_until(lambda: _running(b"sleep\x003001\x00"), "sleep 3001 inside the container", proc=proc)
    began = time.monotonic()
    code, _, _ = send(proc, signal.SIGINT)
    assert code == 130
    assert time.monotonic() - began < 30
    result = project.result(code, "", "")
    (long,) = outputs(result)
    assert "[killed: " in long["output"], long
    assert left(result) == []


ANSWERS = """
- |
  Where am I?
  ```sh
  readlink /bin/sh; id -u; exit 4
  ```
- DONE
"""


def test_the_executor_runs_the_model_s_commands_in_the_sandbox(
    project: EngineProject,
) -> None:
    (project.path / "answers.yaml").write_text(ANSWERS)
    project.write(
        f"""
        version: 1
        resources:
          llm: {{type: model, with: {{provider: replay, script: answers.yaml}}}}
          sandbox:
            type: container
            with: {{image: {IMAGE}, command: [sleep, "3000"], user: "65534", stop_grace: 0}}
        agents:
          solver:
            type: executor
            requires: [llm, sandbox]
            with: {{task: look around, in: sandbox, command_timeout: 30}}
        phases:
          only: {{agents: [solver], max_iterations: 3}}
        """
    )
    result = project.run("run", "flow.yaml", "--json", timeout=120)
    assert result.code == 0, result
    first = outputs(result)[0]
    assert first["output"] == "$ readlink /bin/sh; id -u; exit 4\nexit code: 4\nbusybox\n65534"
    assert left(result) == []


def test_in_must_name_a_container_it_requires(project: EngineProject) -> None:
    project.write(
        """
        version: 1
        resources:
          ws: {type: workspace}
        agents:
          a: {type: shell, requires: [ws], with: {in: ws, run: ["true"]}}
        phases:
          only: {agents: [a]}
        """
    )
    result = project.run("run", "flow.yaml", timeout=60)
    assert result.code == 1, result
    assert "agent 'a': in: 'ws' is not a container resource" in result.out + result.err


def test_the_container_example_exploits_patches_and_verifies(project: EngineProject) -> None:
    example = Path(__file__).resolve().parent.parent / "workflows" / "exploit-and-patch-containers"
    result = project.run("run", str(example / "workflow.yaml"), "--json", timeout=180)
    assert result.code == 0, result
    attacker, fixer, verifier = outputs(result)
    assert attacker["output"] == "FLAG{wfrun-containers-7c1e}", attacker
    assert fixer["success"], fixer
    assert "404 Not Found" in verifier["output"], verifier
    assert not verifier["success"]  # the phase expects this failure
    assert left(result) == []


def _running(cmdline: bytes) -> bool:
    """A process with this command line runs on this machine (a container's processes
    are the host kernel's too, seen here under host pids)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == cmdline:
                    return True
            except OSError:
                continue  # gone meanwhile
    return False
