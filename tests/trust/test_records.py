"""Issue 12, the record's part: a run record that cannot be written, read or trusted
never costs a teardown, a listing or the terminal."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cannot_run, wait_until
from tests.engine.conftest import EngineProject, RunResult, alive


@pytest.fixture
def project(tmp_path: Path) -> EngineProject:
    """A temp folder to run the real `wfrun` in, as a subprocess (see tests/engine)."""
    return EngineProject(tmp_path)


# Two services, so a failure while stopping the first cannot hide a leak of the second.
SERVICES = """
version: 1
resources:
  one:
    type: process
    with:
      command: [python3, -c, "import os, time; open('one.pid', 'w').write(str(os.getpid())); time.sleep(600)"]
      ready: {command: [test, -s, one.pid], timeout: 30}
  two:
    type: process
    with:
      command: [python3, -c, "import os, time; open('two.pid', 'w').write(str(os.getpid())); time.sleep(600)"]
      ready: {command: [test, -s, two.pid], timeout: 30}
agents:
  worker:
    type: shell
    requires: [one, two]
    with: {run: 'ACTION', shell: true}
  after:
    type: shell
    requires: [one, two]
    with: {run: 'echo after', shell: true}
phases:
  work: {agents: [worker]}
  more: {agents: [after]}
"""


def _services_stopped(project: EngineProject, proc: subprocess.CompletedProcess[str]) -> None:
    for name in ("one", "two"):
        pid = int((project.path / f"{name}.pid").read_text())
        assert not alive(pid), f"service {name} (pid {pid}) survived\n{proc}"


def test_run_folder_deleted_mid_run_still_stops_every_service(project):
    project.write(SERVICES.replace("ACTION", 'rm -rf "$WFRUN_RUN_DIR"; echo gone'))
    proc = subprocess.run(
        project.command("run", "flow.yaml"),
        cwd=project.path,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _services_stopped(project, proc)
    assert proc.returncode == 1, proc
    assert "the run record could not be written" in proc.stdout + proc.stderr, proc
    assert "Traceback" not in proc.stdout + proc.stderr, proc


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a disk that fills up during the run."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        cannot_run(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_full_disk_still_stops_every_service(project, tiny_disk):
    filler = "yes 0123456789abcdef | head -c 400000"
    project.write(SERVICES.replace("ACTION", filler))
    proc = subprocess.run(
        project.command("run", "flow.yaml", "--runs-dir", str(tiny_disk)),
        cwd=project.path,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _services_stopped(project, proc)
    assert proc.returncode == 1, proc
    assert "the run record could not be written" in proc.stdout + proc.stderr, proc
    assert "No space left on device" in proc.stdout + proc.stderr, proc
    assert "Traceback" not in proc.stdout + proc.stderr, proc


# -- 17: a damaged record never blocks `runs`, `show` or `cleanup` for the others ------

KILLED = """
version: 1
resources:
  scratch: {type: workspace}
agents:
  sleeper:
    type: shell
    requires: [scratch]
    with: {run: 'echo $$ > sleeper.pid; exec sleep 600', shell: true}
phases:
  wait: {agents: [sleeper]}
"""
OK_FLOW = """
version: 1
agents:
  hello: {type: shell, with: {run: [echo, hi]}}
phases:
  greet: {agents: [hello]}
"""


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout}s"
        time.sleep(0.02)


def _damaged_runs(runs: Path, journal_from: Path) -> dict[str, Path]:
    """Runs that sort before the others, each with a different damage."""
    damage: dict[str, bytes | None] = {
        "00000000-000000.000-garbage-0001": b"{not json \xff\xfe",
        "00000000-000000.000-list-0002": b"[1, 2, 3]\n",
        "00000000-000000.000-folder-0003": None,  # run.json is a directory
        "00000000-000000.000-journaled-0004": b'{"status": "runn',  # cut short
    }
    made = {}
    for name, content in damage.items():
        run = runs / name
        run.mkdir()
        if content is None:
            (run / "run.json").mkdir()
        else:
            (run / "run.json").write_bytes(content)
        made[name] = run
    # A journal listing a live resource (gone since) beside an unreadable run.json: on
    # main, `cleanup` died on it before reaching the killed run after it.
    journal = json.loads((journal_from / "journal.json").read_text())
    for entry in journal["live"].values():
        entry["entry"]["path"] = str(runs / "wfrun-ws-gone-000000000000")
    journal["runner"]["pid"] = 999_999_999
    (made["00000000-000000.000-journaled-0004"] / "journal.json").write_text(json.dumps(journal))
    return made


def test_damaged_records_never_block_runs_show_or_cleanup(project, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # whole table cells, to read them
    project.write(OK_FLOW, "ok.yaml")
    assert project.run("run", "ok.yaml").code == 0
    project.write(KILLED)
    proc = project.start("run", "flow.yaml")
    pid_file = project.path / "sleeper.pid"
    try:
        _wait_for(pid_file, proc)
        killed = project.last_run_dir()
        assert killed is not None
        workspace = Path(
            next(iter(json.loads((killed / "journal.json").read_text())["live"].values()))["entry"][
                "path"
            ]
        )
        proc.kill()  # kill -9: the turn's command and the workspace stay behind
        proc.communicate(timeout=60)
        sleeper = int(pid_file.read_text())
        assert alive(sleeper)
        runs = project.path / ".wfrun" / "runs"
        damaged = _damaged_runs(runs, killed)

        listed = project.run("runs")
        assert listed.code == 0, listed
        assert "Traceback" not in listed.out + listed.err, listed
        for name in (*damaged, killed.name):
            assert name in listed.out, listed
        assert listed.out.count("unreadable") == len(damaged), listed
        assert "killed — run `wfrun cleanup`" in listed.out, listed
        assert "succeeded" in listed.out, listed

        shown = project.run("show", killed.name)
        assert shown.code == 0, shown
        assert "killed — run `wfrun cleanup`" in shown.out, shown
        assert "running" not in shown.out, shown
        for name in damaged:
            bad = project.run("show", name)
            assert bad.code == 1, bad
            assert "unreadable" in bad.out, bad
            assert "Traceback" not in bad.out + bad.err, bad

        cleaned = project.run("cleanup")
        assert "Traceback" not in cleaned.out + cleaned.err, cleaned
        assert "run.json could not be read" in cleaned.out, cleaned
        assert cleaned.code == 1, cleaned  # the damaged run is reported as a problem
        deadline = time.monotonic() + 30
        while alive(sleeper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(sleeper), cleaned
        assert not workspace.exists(), cleaned
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if pid_file.exists() and alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


# -- 21: what agents print never drives the terminal ---------------------------------

NOISY_TEXT = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\rbell\x07 c1\x9b5m\x1bc end"
NOISY = {
    "noisy.py": f"import sys\nTEXT = {NOISY_TEXT!r}\nprint(TEXT)\nprint(TEXT, file=sys.stderr)\nsys.exit(1)\n",
    "noisyagent.py": f"def act(ctx):\n    raise RuntimeError({NOISY_TEXT!r})\n",
    "flow.yaml": """
        version: 1
        execution: graph
        agents:
          noisy: {type: shell, with: {run: [python3, noisy.py]}}
          raiser: {type: python, with: {call: "noisyagent:act"}}
        phases:
          talk: {agents: [noisy]}
          boom: {agents: [raiser]}
        """,
}
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n"]


@pytest.mark.parametrize("mode", [["--quiet"], [], ["show"]], ids=["quiet", "plain", "show"])
def test_control_characters_from_agents_never_reach_the_terminal(wfrun_project, monkeypatch, mode):
    monkeypatch.setenv("COLUMNS", "300")
    project = wfrun_project(NOISY)
    outcome = project.run("run", "flow.yaml", *(mode if mode != ["show"] else []))
    assert outcome.code == 1, outcome
    if mode == ["show"]:
        outcome = project.run("show")
        assert outcome.code == 0, outcome
    shown = outcome.out + outcome.err
    assert "RuntimeError" in shown, outcome  # the message is there, only cleaned
    assert "red" in shown, outcome
    assert [c for c in CONTROLS if c in shown] == [], outcome
    assert "[2J" not in shown, outcome  # the sequence goes whole, not just its ESC


# -- 18: removing a workspace never leaves it ---------------------------------------

MOUNTER = """
version: 1
resources:
  ws: {type: workspace}
agents:
  mounter:
    type: shell
    requires: [ws]
    with:
      run: >-
        mkdir bound fresh deep &&
        mount --bind "$OUTSIDE_BOUND" bound &&
        mount -t tmpfs -o size=64k tmpfs fresh && echo mine > fresh/file &&
        ln -s "$OUTSIDE_LINKED" deep/link && ln -s "$OUTSIDE_LINKED/keep.txt" file-link &&
        echo ok > own.txt
      shell: true
      cwd: ${resources.ws.path}
phases:
  mount: {agents: [mounter]}
"""


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` (from /proc/self/mountinfo), deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == str(path) or point.startswith(f"{path}/"):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def test_workspace_removal_never_follows_a_mount_or_a_link_out(project, monkeypatch, tmp_path):
    bound, linked = tmp_path / "bound-outside", tmp_path / "linked-outside"
    for folder in (bound, linked):
        folder.mkdir()
        (folder / "keep.txt").write_text("precious")
    monkeypatch.setenv("OUTSIDE_BOUND", str(bound))
    monkeypatch.setenv("OUTSIDE_LINKED", str(linked))
    if subprocess.run(["mount", "--bind", str(bound), str(linked)], check=False).returncode:
        cannot_run("cannot mount here (not root, or no mount namespace rights)")
    subprocess.run(["umount", str(linked)], check=True)
    project.write(MOUNTER)
    result = project.run("run", "flow.yaml")
    started = result.kinds("resource_started")
    workspace = Path(started[0]["attributes"]["path"]) if started else None
    try:
        assert (bound / "keep.txt").read_text() == "precious", result
        assert (linked / "keep.txt").read_text() == "precious", result
        assert workspace is not None, result
        assert not (workspace / "own.txt").exists(), result  # the rest was removed
        assert "Traceback" not in result.out + result.err, result
        assert result.code == 1, result  # a workspace left in part is no success
        assert "mount point" in result.record["resources"]["ws"]["stops"][0]["error"], result
    finally:
        if workspace is not None:
            for point in _mounts_under(workspace):
                subprocess.run(["umount", "-l", point], check=False)
            shutil.rmtree(workspace, ignore_errors=True)


def test_copy_dot_with_the_temp_dir_inside_the_workflow_folder(project, monkeypatch):
    inside = project.path / "tmp"
    inside.mkdir()
    monkeypatch.setenv("TMPDIR", str(inside))
    (project.path / "app").mkdir()
    (project.path / "app" / "main.py").write_text("print('hi')\n")
    project.write(
        """
        version: 1
        resources:
          ws: {type: workspace, with: {copy: [.]}}
          other: {type: workspace, with: {copy: [.]}}
        agents:
          lister:
            type: shell
            requires: [ws, other]
            with: {run: 'find . | sort', shell: true, cwd: "${resources.ws.path}"}
        phases:
          look: {agents: [lister]}
        """
    )
    result = project.run("run", "flow.yaml", timeout=120)
    assert result.code == 0, result
    listing = (result.run_dir / "outputs" / "look.txt").read_text().split()
    assert "./app/main.py" in listing, listing
    assert not [line for line in listing if "wfrun-ws-" in line], listing
    assert list(inside.iterdir()) == [], "a workspace was left behind"


# -- 19: odd input files, runs folders and outputs are the user's to fix: exit 2 -------


def _wfrun(project: EngineProject, *args: str, stdout: int | None = None) -> RunResult:
    proc = subprocess.run(
        project.command(*args),
        cwd=project.path,
        env=project.env(),
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,  # a FIFO once waited here for a writer forever
        check=False,
    )
    return RunResult(proc.returncode, proc.stdout or "", proc.stderr, None)


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_a_fifo_or_a_device_as_the_workflow_file_is_exit_2_without_a_hang(project, command):
    fifo = project.path / "flow.yaml"
    os.mkfifo(fifo)
    silent = subprocess.Popen(["sh", "-c", f"sleep 40 > '{fifo}'"])  # opens, never writes
    try:
        started = time.monotonic()
        result = _wfrun(project, command, str(fifo))
        assert result.code == 2, result
        shown = result.out + result.err
        assert f"{fifo}:1:1: error: nothing came from a pipe within 10 s" in shown, result
        assert time.monotonic() - started < 40, result
    finally:
        silent.kill()
        silent.wait()
    result = _wfrun(project, command, str(fifo))  # no writer at all: empty, at once
    assert result.code == 2, result
    assert f"{fifo}:1:1: error:" in result.out + result.err, result
    result = _wfrun(project, command, "/dev/zero")
    assert result.code == 2, result
    assert "/dev/zero:1:1: error: file is over the" in result.out + result.err, result
    assert "Traceback" not in result.err, result


def test_a_pipe_with_a_writer_is_read(project):
    """`wfrun validate <(generate)` keeps working: a pipe that delivers is a file."""
    fifo = project.path / "flow.yaml"
    os.mkfifo(fifo)
    text = OK_FLOW.lstrip("\n")
    # As `<(generate)` does: the writer holds the pipe open before wfrun reads, then
    # takes its time to write.
    writer = subprocess.Popen(["sh", "-c", f"exec > '{fifo}'; sleep 1; printf '%s' '{text}'"])
    try:
        wait_until(  # the kernel function a FIFO's open() waits in for the other end
            lambda: Path(f"/proc/{writer.pid}/wchan").read_text() == "wait_for_partner",
            "the writer waits in open() for a reader",
            proc=writer,
        )
        result = _wfrun(project, "validate", str(fifo))
    finally:
        writer.kill()
        writer.wait()
    assert result.code == 0, result


def test_a_bad_runs_dir_is_exit_2(project, tmp_path):
    project.write(OK_FLOW)
    (project.path / "a-file").write_text("not a folder")
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(readonly)],
        capture_output=True,
        check=False,
    )
    targets = ["a-file", "a-file/runs", "/dev/null/runs"]
    if mounted.returncode == 0:
        targets.append(str(readonly / "runs"))
    try:
        for runs_dir in targets:
            result = _wfrun(project, "run", "flow.yaml", "--runs-dir", runs_dir)
            assert result.code == 2, result
            assert f"cannot create a run record in {runs_dir}" in result.err, result
            assert "--runs-dir" in result.err, result
            assert "Traceback" not in result.err, result
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(readonly)], check=False)


@pytest.mark.parametrize("args", [["validate", "ok.yaml"], ["plan", "ok.yaml"], ["schema"]])
def test_a_full_stdout_is_not_an_internal_error(project, args):
    project.write(OK_FLOW, "ok.yaml")
    with open("/dev/full", "w") as full:  # noqa: PTH123 - a device, not a path to build
        result = _wfrun(project, *args, stdout=full.fileno())
    assert result.code == 2, result
    assert "cannot write the output: No space left on device" in result.err, result
    assert "Traceback" not in result.err, result
    assert "internal error" not in result.err, result


@pytest.mark.parametrize("name", ["my flow;rm", "x" * 250, "2024.flow"])
def test_a_default_name_from_an_odd_file_name_is_checked(project, name):
    project.write(OK_FLOW, f"{name}.yaml")
    for command in ("validate", "run"):
        result = _wfrun(project, command, f"{name}.yaml")
        assert result.code == 2, result
        assert "the workflow's name defaults to the file's" in result.err + result.out, result
        assert "set `name:` or rename the file" in result.err + result.out, result
    assert not (project.path / ".wfrun").exists()
    project.write(OK_FLOW.replace("version: 1", "version: 1\nname: fine"), f"{name}.yaml")
    assert _wfrun(project, "run", f"{name}.yaml").code == 0
