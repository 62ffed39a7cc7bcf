"""`secrets:`: a secret's value reaches the agents that need it, and nothing wfrun writes."""

from __future__ import annotations

from pathlib import Path

import pytest

SECRET = "s3cr3t-Vx9-token"

FLOW = """
version: 1
plugins: [plugin_types]
secrets: [WF_TOKEN]
params:
  token: ${env.WF_TOKEN}
resources:
  scratch: {type: workspace}
agents:
  user:
    type: shell
    requires: [scratch]
    with:
      run: 'test "$WF_TOKEN" = "${params.token}" && echo "token is $WF_TOKEN" && echo "err $WF_TOKEN" >&2'
      shell: true
      cwd: ${resources.scratch.path}
  spawner: {type: act, with: {spawn: [echo], say: "spawning with ${params.token}"}}
  leaky: {type: act, with: {fail: true, say: "failed holding ${env.WF_TOKEN}"}}
phases:
  use: {agents: [user]}
  spawn: {agents: [spawner], may_spawn: [echo]}
  leak: {agents: [leaky]}
templates:
  echo:
    agents: [user]
"""


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WF_TOKEN", SECRET)
    return SECRET


def _files_containing(root: Path, needle: str) -> list[Path]:
    return [
        path for path in root.rglob("*") if path.is_file() and needle.encode() in path.read_bytes()
    ]


@pytest.mark.parametrize("output", [[], ["--json"], ["--quiet"]])
def test_secret_values_never_reach_the_terminal_or_the_record(engine_project, secret_env, output):
    engine_project.write(FLOW)
    result = engine_project.run("run", "flow.yaml", *output)
    assert result.code == 1, result  # `leak` fails on purpose, after the others ran
    statuses = {name: p["status"] for name, p in result.record["phases"].items()}
    assert statuses["use"] == "succeeded", result  # the agent got the real value
    assert statuses["echo-1"] == "succeeded", result
    assert secret_env not in result.out + result.err
    assert _files_containing(engine_project.path / ".wfrun", secret_env) == []
    if output != ["--quiet"]:
        assert "***" in result.out  # masked, not dropped: the test can see it would leak
    masked = (result.run_dir / "outputs" / "use.txt").read_text()
    assert masked.strip() == "token is ***\nerr ***"
    assert result.record["params"]["token"] == "***"


def test_without_secrets_the_value_is_shown(engine_project, secret_env):
    """The masking is what hides it: the same run without `secrets:` prints the value."""
    engine_project.write(FLOW.replace("secrets: [WF_TOKEN]\n", ""))
    result = engine_project.run("run", "flow.yaml")
    assert secret_env in result.out
    assert _files_containing(engine_project.path / ".wfrun", secret_env)
