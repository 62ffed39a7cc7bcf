"""Run `wfrun` as a real subprocess with its own TMPDIR and a marker, and check the OS.

Every process a run starts, however deep, inherits the marker variable from the
runner's environment, so /proc tells what is left; every temp dir it makes lands in the
project's own TMPDIR, so listing it tells the rest. Zombies count as dead: they hold
nothing. The run record is checked for being complete and consistent.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cannot_run
from tests.engine.conftest import EngineProject, RunResult, journaled
from wfrun.engine import procs

REPO = Path(__file__).resolve().parent.parent.parent
MARKER = "WFRUN_FAULT_MARKER"
EXIT = {"succeeded": 0, "failed": 1, "interrupted": 130}  # README "exit codes"
FINAL = {"succeeded", "failed", "interrupted", "error", "killed"}
LIFECYCLE = {
    "resource_starting",
    "resource_started",
    "resource_failed",
    "resource_stopping",
    "resource_stopped",
}
DOCKER = shutil.which("docker")


def _docker_reachable() -> bool:
    if DOCKER is None:
        return False
    try:
        done = subprocess.run([DOCKER, "info"], capture_output=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


DOCKER_OK = _docker_reachable()
NO_DOCKER = "docker has no daemon here" if DOCKER else "docker is not installed"


@dataclass
class Leaks:
    """What a run left behind, as the OS sees it."""

    dirs: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)  # "pid (sid N): cmdline"
    containers: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.dirs or self.processes or self.containers)


class FaultProject(EngineProject):
    """An EngineProject whose runs are marked and keep their temp dirs where we look."""

    process_group = 0  # `start`: the runner leads its own process group, as from a shell

    def __init__(self, path: Path, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(path)
        self.tmp = path / "tmp"
        self.tmp.mkdir()
        self.marker = uuid.uuid4().hex
        # Runs started from a background thread take a snapshot made on the main thread:
        # per-test fixtures change os.environ under them.
        self.environ = dict(os.environ if environ is None else environ)

    def env(self) -> dict[str, str]:
        return {
            **self.environ,
            "NO_COLOR": "1",
            "PYTHONPATH": str(REPO),
            "TMPDIR": str(self.tmp),
            MARKER: self.marker,
        }

    def interrupt(self, signum: signal.Signals) -> None:
        """Ctrl-C goes to the terminal's foreground group; SIGTERM to the runner alone."""
        assert self.proc is not None
        if signum == signal.SIGINT:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def finish(self, timeout: float = 90) -> RunResult:
        assert self.proc is not None
        out, err = self.proc.communicate(timeout=timeout)
        return self.result(self.proc.returncode, out, err)

    def result(self, code: int, out: str, err: str) -> RunResult:
        run_dir = self.last_run_dir()
        result = RunResult(code, out, err, run_dir)
        if run_dir is not None:
            result.events = read_events(run_dir)
            if (run_dir / "run.json").exists():
                result.record = json.loads((run_dir / "run.json").read_text())
        return result

    def wait_for_file(self, path: Path, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.proc is not None and self.proc.poll() is not None:
                out, err = self.proc.communicate()
                pytest.fail(f"wfrun exited {self.proc.returncode} before {path.name}:\n{out}{err}")
            if time.monotonic() > deadline:
                pytest.fail(f"{path.name} did not appear within {timeout}s")
            time.sleep(0.02)

    def moment(self, resource: str, what: str) -> Path:
        """The file a `faulty` resource touches when its slow start or stop begins."""
        return self.path / f".moment-{resource}-{what}"

    def journal(self, result: RunResult) -> dict[str, Any]:
        """The live resources the run's journal lists right now."""
        assert result.run_dir is not None, result
        return journaled(result.run_dir)

    # -- what the OS says --------------------------------------------------------------

    def leaks(self, run_id: str | None = None) -> Leaks:
        dirs = sorted(p.name for p in self.tmp.iterdir())
        containers = _containers(run_id) if run_id and DOCKER_OK else []
        return Leaks(dirs, marked_processes(self.marker), containers)

    def sweep(self) -> None:
        """Hygiene after a test, pass or fail: nothing of ours may outlive it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        deadline = time.monotonic() + 10
        while (pids := marked_pids(self.marker)) and time.monotonic() < deadline:
            for pid in pids:  # again and again: a survivor may fork meanwhile
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)  # SIGKILL is sent, not yet done
        for path in self.tmp.iterdir():
            shutil.rmtree(path, ignore_errors=True)


def read_events(run_dir: Path, *, partial_tail: bool = False) -> list[dict[str, Any]]:
    """Every event; each line must parse (a hard kill may cut the last one short)."""
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    tail = lines.pop()  # "" when the file ends with a newline
    assert partial_tail or tail == "", f"events.jsonl ends mid-line: {tail!r}"
    return [json.loads(line) for line in lines]


def marked_pids(marker: str, variable: str = MARKER) -> list[int]:
    """Live processes whose environment carries `variable=marker`."""
    needle = f"{variable}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if needle in environ.split(b"\0") and procs.is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def marked_processes(marker: str, variable: str = MARKER) -> list[str]:
    """`marked_pids`, described for an assertion message."""
    found = []
    for pid in marked_pids(marker, variable):
        stat = procs.read_stat(pid)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if stat is not None:
            found.append(f"{pid} (session {stat.session}): {cmdline.decode(errors='replace')}")
    return found


# -- what a process is doing: its threads' system calls ---------------------------------

# Linux's numbers for the calls a test waits on a process to be blocked in.
_SYSCALLS = {"x86_64": {"write": 1, "futex": 202}, "aarch64": {"write": 64, "futex": 98}}


def _syscall(name: str) -> int:
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        cannot_run(f"no system call numbers for {platform.machine()} in the harness")
    return numbers[name]


def thread_calls(pid: int) -> dict[int, list[int]]:
    """Each blocked thread of `pid` (tid -> the system call's number and its six
    arguments), from /proc/<pid>/task/<tid>/syscall; a running thread is left out."""
    calls = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "syscall").read_text().split()
        except PermissionError:
            cannot_run("/proc/<pid>/syscall is not readable here (ptrace_scope)")
        except OSError:  # the thread ended meanwhile
            continue
        if len(fields) >= 7 and fields[0] != "-1":  # not "running", nor "-1 sp pc"
            calls[int(task.name)] = [int(f, 0) for f in fields[:7]]
    return calls


def writing_to_stdout(pid: int) -> bool:
    """A thread of `pid` is blocked in write(1, ...): its stdout pipe is full."""
    write = _syscall("write")
    return any(call[:2] == [write, 1] for call in thread_calls(pid).values())


def main_thread_on_a_lock(pid: int) -> bool:
    """The main thread waits on a lock with no deadline: a futex wait with no timeout
    (a queue or a condition with a timeout, the GIL too, wait with one)."""
    call = thread_calls(pid).get(pid)
    return call is not None and call[0] == _syscall("futex") and call[4] == 0


def main_thread_wakeups(pid: int) -> int:
    """How often the main thread has gone to sleep and woken (voluntary switches)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    msg = f"/proc/{pid}/status has no voluntary_ctxt_switches"
    raise AssertionError(msg)


def child_commands(pid: int) -> list[str]:
    """The command lines of `pid`'s live children (zombies hold nothing: left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            if int(ppid) != pid or state == "Z":
                continue
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip())
        except OSError:  # gone meanwhile
            continue
    return found


def _containers(run_id: str) -> list[str]:
    assert DOCKER is not None
    done = subprocess.run(
        [DOCKER, "ps", "-aq", "--filter", f"label=wfrun.run={run_id}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout.split()


# -- the record ------------------------------------------------------------------------


def check_record(
    result: RunResult, journal: dict[str, Any], *, left: frozenset[str] = frozenset()
) -> None:
    """The record is complete and consistent: a final status that matches the exit code,
    a run_finished last, every start matched by exactly one stop, and a journal (as the
    run left it) that lists exactly the resources `left` (those whose stop failed)."""
    assert result.run_dir is not None, result
    record, events = result.record, result.events
    assert record["status"] in FINAL - {"killed"}, result
    assert record["exit_code"] == EXIT[record["status"]] == result.code, result
    assert [e["kind"] for e in events].count("run_finished") == 1, result
    assert events[-1]["kind"] == "run_finished", result
    assert events[-1]["status"] == record["status"], result
    for name, entry in record["resources"].items():
        kinds = [  # its lifecycle: a resource's own log lines (`resource_log`) come anywhere
            e["kind"] for e in events if e.get("resource") == name and e["kind"] in LIFECYCLE
        ]
        started = kinds.count("resource_started")
        assert kinds.count("resource_stopping") == started, (name, kinds, result)
        assert kinds.count("resource_stopped") == started, (name, kinds, result)
        assert kinds.count("resource_starting") == len(entry["starts"]), (name, kinds, result)
        assert len(entry.get("stops", [])) == started, (name, entry, result)
        _in_order(name, kinds, result)
    for phase, entry in record["phases"].items():
        assert entry["status"] not in ("pending", "running"), (phase, result)
    stop_errors = {e["resource"] for e in events if e["kind"] == "resource_stopped" and e["error"]}
    assert stop_errors == left, result
    assert set(journal) == set(left), (journal, result)


def _in_order(name: str, kinds: list[str], result: RunResult) -> None:
    """starting -> (started -> stopping -> stopped | failed), over and over."""
    expect: dict[str, set[str | None]] = {
        "resource_starting": {None, "resource_stopped", "resource_failed"},
        "resource_started": {"resource_starting"},
        "resource_failed": {"resource_starting"},
        "resource_stopping": {"resource_started"},
        "resource_stopped": {"resource_stopping"},
    }
    before: str | None = None
    for kind in kinds:
        assert before in expect[kind], (name, kinds, result)
        before = kind
    assert before in (None, "resource_stopped", "resource_failed"), (name, kinds, result)
