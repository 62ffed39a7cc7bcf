"""Shared fixtures: a `wfrun_project` that runs the real CLI on real files, and hygiene.

Modelled on tox's `ToxProject`: a test writes its workflow inline, runs `wfrun` in-process
and gets back an outcome whose repr shows everything, so a failing assert explains itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

import pytest

REPO = Path(__file__).resolve().parent.parent
REPO_RECORDS = REPO / ".wfrun"

Files = Mapping[str, "str | bytes"]


def cannot_run(why: str, *, module: bool = False) -> NoReturn:
    """A test whose prerequisite is missing here: skipped on a developer's machine, a
    failure under CI=true, where `.ci/run` sets every prerequisite up (a test that skips
    in CI does not exist). `module`: called at a test module's top level."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true and this test cannot run: {why}", pytrace=False)
    pytest.skip(why, allow_module_level=module)


@dataclass(frozen=True)
class Outcome:
    """What one `wfrun` invocation did."""

    args: tuple[str, ...]
    cwd: Path
    code: int
    out: str
    err: str

    def assert_success(self) -> None:
        assert self.code == 0, repr(self)

    def assert_invalid(self) -> None:
        """Exit 2, the code for a user error, and never a traceback."""
        assert self.code == 2, repr(self)
        assert "Traceback" not in self.out + self.err, repr(self)

    def __repr__(self) -> str:
        return (
            f"\n--- wfrun {' '.join(self.args)}  (cwd {self.cwd}) exited {self.code}\n"
            f"--- stdout:\n{self.out}"
            f"--- stderr:\n{self.err}"
            "--- end"
        )


class WfrunProject:
    """A folder of files in tmp_path, and a way to run `wfrun` inside it."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self._monkeypatch = monkeypatch

    def write(self, files: Files) -> None:
        """Write files; text is dedented and a leading newline dropped, so line 1 is the
        first line you see in the test. Bytes are written as they are."""
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(dedent(content), encoding="utf-8")

    def run(self, *args: str) -> Outcome:
        """Run the real CLI in-process with the project folder as the working directory."""
        from typer.testing import CliRunner  # noqa: PLC0415 - keep collection free of the CLI

        from wfrun.cli import app  # noqa: PLC0415

        self._monkeypatch.chdir(self.path)
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        return Outcome(args, self.path, result.exit_code, result.stdout, result.stderr)


def dedent(text: str) -> str:
    """`textwrap.dedent`, minus the newline right after an opening triple quote."""
    text = textwrap.dedent(text)
    return text.removeprefix("\n")


@pytest.fixture
def wfrun_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Files], WfrunProject]:
    """`project = wfrun_project({"flow.yaml": "..."})`, then `project.run("validate", ...)`."""

    def make(files: Files) -> WfrunProject:
        project = WfrunProject(tmp_path / "project", monkeypatch)
        project.path.mkdir(exist_ok=True)
        project.write(files)
        return project

    return make


@pytest.fixture(autouse=True)
def _hermetic_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash logs go to a temp dir, never ~/.cache; output has no colour codes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture(autouse=True)
def _dont_write_run_records_into_the_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Every test starts in its own temp dir, and fails if `.wfrun/` appears in the repo."""
    existed = REPO_RECORDS.exists()
    monkeypatch.chdir(tmp_path)
    yield
    if not existed:
        assert not REPO_RECORDS.exists(), f"a test wrote {REPO_RECORDS}"


def only_run_dir(project: WfrunProject) -> Path:
    """The one run folder a project's single `wfrun run` made."""
    (found,) = (project.path / ".wfrun" / "runs").iterdir()
    return found


def run_events(project: WfrunProject, kind: str) -> list[dict[str, Any]]:
    """That run's events of one kind, in order."""
    lines = (only_run_dir(project) / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def run_record(project: WfrunProject) -> dict[str, Any]:
    """That run's run.json."""
    return cast(dict[str, Any], json.loads((only_run_dir(project) / "run.json").read_text()))


def wait_until(
    condition: Callable[[], object],
    what: str,
    *,
    timeout: float = 30,
    proc: subprocess.Popen[Any] | None = None,
) -> None:
    """Poll until `condition()` holds: a test waits on the thing it needs, never on a sleep
    that hopes it happened by then. Fails naming `what`, at once if `proc` ended first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"{what}: never, the process exited {proc.returncode} first:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.01)
