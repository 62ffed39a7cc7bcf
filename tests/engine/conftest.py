"""Engine tests run `wfrun run` as a real subprocess and check the record and the OS."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

HERE = Path(__file__).resolve().parent
PLUGIN = HERE / "plugin_types.py"
PROBE_ROOT = Path(os.environ.get("TMPDIR", "/tmp"))


@dataclass
class RunResult:
    code: int
    out: str
    err: str
    run_dir: Path | None
    events: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]

    def __repr__(self) -> str:
        return f"\n--- exit {self.code}\n--- stdout:\n{self.out}\n--- stderr:\n{self.err}--- end"


class EngineProject:
    """A temp folder with a workflow and the test plugin, and ways to run wfrun on it."""

    process_group: int | None = None  # `start`'s runner stays in pytest's group

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc: subprocess.Popen[str] | None = None
        self.tag = (
            "t" + uuid.uuid4().hex[:8]
        )  # marks this test's temp dirs; a letter first, or YAML reads 1776 as a number
        shutil.copy(PLUGIN, path / "plugin_types.py")

    def write(self, text: str, name: str = "flow.yaml") -> Path:
        target = self.path / name
        text = textwrap.dedent(text).lstrip("\n").replace("TAG", self.tag)
        target.write_text(text, encoding="utf-8")
        return target

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "wfrun", *args]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        env["PYTHONPATH"] = str(HERE.parent.parent)
        return env

    def run(self, *args: str, timeout: float = 60) -> RunResult:
        proc = subprocess.run(
            self.command(*args),
            cwd=self.path,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return self.result(proc.returncode, proc.stdout, proc.stderr)

    def start(self, *args: str) -> subprocess.Popen[str]:
        self.proc = subprocess.Popen(
            self.command(*args),
            cwd=self.path,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            process_group=self.process_group,
        )
        return self.proc

    def result(self, code: int, out: str, err: str) -> RunResult:
        run_dir = self.last_run_dir()
        events: list[dict[str, Any]] = []
        record: dict[str, Any] = {}
        if run_dir is not None:
            lines = (run_dir / "events.jsonl").read_text().splitlines()
            events = [json.loads(line) for line in lines if line.strip()]
            record = json.loads((run_dir / "run.json").read_text())
        return RunResult(code, out, err, run_dir, events, record)

    def last_run_dir(self) -> Path | None:
        runs = self.path / ".wfrun" / "runs"
        found = sorted(runs.iterdir()) if runs.is_dir() else []
        return found[-1] if found else None

    def wait_for_event(self, kind: str, timeout: float = 20, **match: Any) -> dict[str, Any]:
        """Poll the newest run's events.jsonl until an event of `kind` matching shows up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run_dir = self.last_run_dir()
            if run_dir is not None and (run_dir / "events.jsonl").exists():
                for line in (run_dir / "events.jsonl").read_text().splitlines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line being written
                    if event["kind"] == kind and all(event.get(k) == v for k, v in match.items()):
                        return cast(dict[str, Any], event)
            if self.proc is not None and self.proc.poll() is not None:
                out, err = self.proc.communicate()
                pytest.fail(f"wfrun exited {self.proc.returncode} first:\n{out}\n{err}")
            time.sleep(0.02)
        pytest.fail(f"no {kind} event {match} within {timeout}s")

    # -- what the OS says --------------------------------------------------------------

    def leftover_dirs(self) -> list[Path]:
        return sorted(PROBE_ROOT.glob(f"wfrun-probe-{self.tag}-*"))

    def assert_nothing_left(self, result: RunResult) -> None:
        assert self.leftover_dirs() == [], result
        for event in result.kinds("resource_started"):
            pid = event["attributes"].get("pid")
            if pid:
                assert not alive(pid), f"child {pid} of {event['resource']} survived\n{result!r}"
        assert result.run_dir is not None, result
        if result.kinds("resource_started"):
            assert (result.run_dir / "journal.json").exists(), result
        assert journaled(result.run_dir) == {}, result


def journaled(run_dir: Path) -> dict[str, Any]:
    """The resources a run's journal lists as live (no journal: it never started one)."""
    path = run_dir / "journal.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())["live"]  # type: ignore[no-any-return]


def alive(pid: int) -> bool:
    """True if `pid` is a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def engine_project(tmp_path: Path) -> Iterator[EngineProject]:
    project = EngineProject(tmp_path)
    yield project
    if project.proc is not None and project.proc.poll() is None:  # a test failed midway
        project.proc.kill()
        project.proc.communicate()
    for path in project.leftover_dirs():  # never leave a failing test's mess behind
        shutil.rmtree(path, ignore_errors=True)


def send(proc: subprocess.Popen[str], signum: signal.Signals) -> tuple[int, str, str]:
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


Waiter = Callable[..., dict[str, Any]]
