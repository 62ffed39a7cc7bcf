"""Issue 12, secrets: a value named in `secrets:` is masked wherever wfrun shows or
writes it — with a trailing newline, in error messages, in a crash log, in the run id
and across the cut of long output."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.engine.conftest import EngineProject

SECRET = "sk-live-Q7v2-9fXw"


@pytest.fixture
def project(tmp_path: Path) -> EngineProject:
    """A temp folder to run the real `wfrun` in, as a subprocess (see tests/engine)."""
    return EngineProject(tmp_path)


def _leaks(project: EngineProject, out: str, err: str, needle: str = SECRET) -> list[str]:
    """Where the secret shows: the terminal, or any file under the project or cache."""
    found = [name for name, text in (("stdout", out), ("stderr", err)) if needle in text]
    found += [
        str(path)
        for path in project.path.rglob("*")
        if path.is_file()
        and needle.encode() in path.read_bytes()
        and path.name not in ("flow.yaml", "crashy.py")
    ]
    found += [str(path) for path in project.path.rglob("*") if needle in path.name]
    return found


def test_a_secret_with_a_trailing_newline_is_masked(project, monkeypatch):
    monkeypatch.setenv("API_KEY", SECRET + "\n")
    project.write(
        """
        version: 1
        secrets: [API_KEY]
        agents:
          talker:
            type: shell
            with: {run: 'printf "key=%s;" "$(printenv API_KEY)"; printf "%s" "$API_KEY"', shell: true}
        phases:
          talk: {agents: [talker]}
        """
    )
    result = project.run("run", "flow.yaml")
    assert result.code == 0, result
    assert "key=***;" in result.out, result
    assert _leaks(project, result.out, result.err) == [], result


def test_a_secret_in_a_validation_message_is_masked(project, monkeypatch):
    monkeypatch.setenv("API_KEY", SECRET)
    project.write(
        """
        version: 1
        secrets: [API_KEY]
        params:
          tries: ${env.API_KEY}
        agents:
          a: {type: shell, with: {run: [echo, hi]}}
        phases:
          p: {agents: [a], max_iterations: "${params.tries}"}
        """
    )
    for command in ("validate", "plan", "run"):
        result = project.run(command, "flow.yaml")
        assert result.code == 2, result
        assert "***" in result.err + result.out, result
        assert _leaks(project, result.out, result.err) == [], result


CRASHY = """
from pydantic import BaseModel, field_validator

from wfrun.registry import TypeSpec


class CrashConfig(BaseModel):
    key: str = ""

    @field_validator("key")
    @classmethod
    def _boom(cls, value: str) -> str:
        raise RuntimeError(f"a bug, holding {value}")  # not a ValueError: pydantic lets it out


TYPES = [TypeSpec(kind="agent", name="crashy", config=CrashConfig, factory=lambda c, x: None)]
"""


def test_a_secret_in_a_crash_log_is_masked_and_the_log_is_private(project, monkeypatch, tmp_path):
    monkeypatch.setenv("API_KEY", SECRET)
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    (project.path / "crashy.py").write_text(CRASHY)
    project.write(
        """
        version: 1
        plugins: [crashy]
        secrets: [API_KEY]
        agents:
          a: {type: crashy, with: {key: "${env.API_KEY}"}}
        phases:
          p: {agents: [a]}
        """
    )
    result = project.run("validate", "flow.yaml")
    assert result.code == 3, result  # a plugin's bug is an internal error: logged
    logs = list((cache / "wfrun").glob("crash-*.log"))
    assert len(logs) == 1, result
    assert stat.S_IMODE(logs[0].stat().st_mode) == 0o600, oct(logs[0].stat().st_mode)
    text = logs[0].read_text()
    assert "a bug, holding ***" in text, text
    assert SECRET not in text, text
    assert SECRET not in result.out + result.err, result


def test_a_secret_in_the_workflow_name_stays_out_of_the_run_id(project, monkeypatch):
    monkeypatch.setenv("API_KEY", SECRET)
    project.write(
        """
        version: 1
        name: ${env.API_KEY}
        secrets: [API_KEY]
        agents:
          a: {type: shell, with: {run: [echo, hi]}}
        phases:
          p: {agents: [a]}
        """
    )
    result = project.run("run", "flow.yaml")
    assert result.code == 0, result
    assert _leaks(project, result.out, result.err) == [], result
    assert result.record["workflow"] == "***", result


def test_a_secret_cut_in_two_by_the_output_limit_is_masked(project, monkeypatch):
    """The turn's output is cut to its last 64,000 characters: the cut may fall inside
    the secret; what is left of it must not show."""
    monkeypatch.setenv("API_KEY", SECRET)
    project.write(
        """
        version: 1
        secrets: [API_KEY]
        agents:
          talker:
            type: python
            with: {call: "talk:act"}
        phases:
          talk: {agents: [talker]}
        """
    )
    (project.path / "talk.py").write_text(
        "import os\n\n"
        "def act(ctx):\n"
        "    # the last 64,000 characters start 5 characters into the secret\n"
        "    return os.environ['API_KEY'] + 'x' * (64_000 - len(os.environ['API_KEY']) + 5)\n"
    )
    result = project.run("run", "flow.yaml", "--json")
    assert result.code == 0, result
    tail = SECRET[5:]
    assert _leaks(project, result.out, result.err, tail) == [], result
