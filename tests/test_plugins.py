"""Plugins through the real CLI: entry points of a distribution, and a workflow's `plugins:`.

tests/plugin_dist holds a package and a hand-written `.dist-info` folder, which is all
`importlib.metadata` needs to see a distribution: with the folder on PYTHONPATH, its
`wfrun.resources` and `wfrun.agents` entry points are found as an installed plugin's
would be, without pip. Each command runs as its own `python -m wfrun` subprocess, so
discovery starts from a fresh interpreter every time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import dedent
from wfrun.registry import default_registry

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIST = Path(__file__).resolve().parent / "plugin_dist"
ORIGIN = "plugin wfrun-demo-plugin"

FLOW = """
version: 1
name: greetings
resources:
  tally: {type: demo_tally, with: {start: 10, step: 5}}
agents:
  greeter:
    type: demo_greeter
    requires: [tally]
    with: {who: world, times: 3}
phases:
  greet: {agents: [greeter], max_iterations: 5}
"""


@dataclass(frozen=True)
class Outcome:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def __repr__(self) -> str:
        return (
            f"\n--- wfrun {' '.join(self.args)} exited {self.code}\n"
            f"--- stdout:\n{self.out}--- stderr:\n{self.err}--- end"
        )


def wfrun(cwd: Path, *args: str, plugin_dist: bool = True) -> Outcome:
    """The real CLI in a fresh interpreter; the demo distribution on PYTHONPATH if asked."""
    path = [str(REPO), *([str(PLUGIN_DIST)] if plugin_dist else [])]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(
        [sys.executable, "-m", "wfrun", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Outcome(args, done.returncode, done.stdout, done.stderr)


def write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(dedent(text), encoding="utf-8")


def record_of(runs: Path) -> tuple[Path, dict[str, Any]]:
    [run_dir] = sorted(runs.iterdir())
    return run_dir, json.loads((run_dir / "run.json").read_text(encoding="utf-8"))


def row(out: str, *cells: str) -> bool:
    """True if a table line of `out` has these cells, in order, each padded or not."""
    pattern = r"\s*│\s*".join(re.escape(cell) for cell in cells)
    return any(re.search(rf"│\s*{pattern}\s*│", line) for line in out.splitlines())


# -- entry points ------------------------------------------------------------------------


def test_without_the_distribution_the_types_are_unknown() -> None:
    """The types below come from the entry points, not from anything else."""
    registry = default_registry()
    assert registry.get("resource", "demo_tally") is None
    assert registry.get("agent", "demo_greeter") is None


def test_types_lists_the_plugin_types_with_their_origin(tmp_path: Path) -> None:
    outcome = wfrun(tmp_path, "types")
    assert outcome.code == 0, outcome
    assert row(outcome.out, "resource", "demo_tally", "start, step", "path, start", ORIGIN)
    assert row(outcome.out, "agent", "demo_greeter", "who, times", "", ORIGIN), outcome
    assert row(outcome.out, "resource", "workspace", "copy, git, keep, allow_outside", "path")


def test_types_name_shows_a_plugin_types_fields(tmp_path: Path) -> None:
    tally = wfrun(tmp_path, "types", "demo_tally")
    assert tally.code == 0, tally
    lines = tally.out.splitlines()
    assert lines[:3] == [
        f"resource type 'demo_tally' ({ORIGIN})",
        "Demo plugin resource: a counter in a JSON file of the run record.",
        "attributes: ${resources.NAME.path}, ${resources.NAME.start}",
    ]
    assert row(tally.out, "start", "int", "0", "the count before anyone adds to it")
    assert row(tally.out, "step", "int", "1", "how much each add() adds")

    greeter = wfrun(tmp_path, "types", "demo_greeter")
    assert greeter.code == 0, greeter
    assert greeter.out.splitlines()[0] == f"agent type 'demo_greeter' ({ORIGIN})"
    assert row(greeter.out, "who", "str", "(required)", "whom to greet")
    assert row(greeter.out, "times", "int", "1", "turns it takes before it is done")


def test_schema_has_the_plugin_types_in_its_unions(tmp_path: Path) -> None:
    outcome = wfrun(tmp_path, "schema")
    assert outcome.code == 0, outcome
    schema = json.loads(outcome.out)
    [resources] = schema["properties"]["resources"]["patternProperties"].values()
    [agents] = schema["properties"]["agents"]["patternProperties"].values()
    assert resources["discriminator"]["mapping"]["demo_tally"] == "#/$defs/Resource_demo_tally"
    assert agents["discriminator"]["mapping"]["demo_greeter"] == "#/$defs/Agent_demo_greeter"
    assert {"$ref": "#/$defs/Resource_demo_tally"} in resources["oneOf"]
    assert schema["$defs"]["GreeterConfig"]["properties"]["who"]["description"] == "whom to greet"

    validator = jsonschema.Draft202012Validator(schema)
    doc = yaml.safe_load(dedent(FLOW))
    assert [e.message for e in validator.iter_errors(doc)] == []
    doc["resources"]["tally"]["with"]["colour"] = "red"
    assert not validator.is_valid(doc)
    del doc["resources"]["tally"]["with"]["colour"]
    doc["agents"]["greeter"]["with"]["whom"] = "world"
    assert not validator.is_valid(doc)


def test_validate_checks_a_plugin_types_with(tmp_path: Path) -> None:
    write(tmp_path, {"good.yaml": FLOW})
    good = wfrun(tmp_path, "validate", "good.yaml")
    assert (good.code, good.out) == (0, "ok: 1 file valid\n"), good

    bad = FLOW.replace("step: 5", "step: 0").replace("times: 3", "times: many")
    write(tmp_path, {"bad.yaml": bad})
    outcome = wfrun(tmp_path, "validate", "bad.yaml")
    assert outcome.code == 2, outcome
    assert "Traceback" not in outcome.out + outcome.err
    assert outcome.out == (
        "bad.yaml:4:53: error: resources.tally.with.step: input should be greater than or "
        "equal to 1 (got 0)\n"
        "bad.yaml:9:31: error: agents.greeter.with.times: input should be a valid integer, "
        "unable to parse string as an integer (got 'many')\n"
        "2 errors in 1 file (invalid)\n"
    )


def test_run_uses_the_plugin_types(tmp_path: Path) -> None:
    write(tmp_path, {"flow.yaml": FLOW})
    outcome = wfrun(tmp_path, "run", "flow.yaml", "--runs-dir", "runs")
    assert outcome.code == 0, outcome
    run_dir, record = record_of(tmp_path / "runs")
    assert record["status"] == "succeeded"
    assert record["phases"]["greet"]["iterations"] == 3
    assert record["resources"]["tally"]["type"] == "demo_tally"
    assert (run_dir / "outputs" / "greet.txt").read_text() == "hello, world (greeting 25)"
    assert json.loads((run_dir / "tally.tally.json").read_text()) == {"count": 25}


# -- a workflow's `plugins:` key --------------------------------------------------------

LOCAL_TYPES = '''
"""Types that live beside the workflow file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from wfrun.registry import TypeSpec


class ShoutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(description="what to shout")
    repeat: int = Field(1, ge=1, description="how many times")


class Shout:
    def __init__(self, config: ShoutConfig, ctx: object) -> None:
        self.config = config

    def act(self, ctx: object) -> str:
        return " ".join([self.config.text.upper()] * self.config.repeat)


TYPES = [TypeSpec(kind="agent", name="shout", config=ShoutConfig, factory=Shout, doc="Shouts.")]
'''

LOCAL_FLOW = """
version: 1
name: local
plugins: [local_types]
agents:
  loud: {type: shout, with: {text: hey, repeat: 2}}
phases:
  say: {agents: [loud]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workflow folder that is not the working directory, so lookup is by file."""
    write(tmp_path / "project", {"local_types.py": LOCAL_TYPES, "flow.yaml": LOCAL_FLOW})
    return tmp_path / "project"


def test_plugins_key_loads_a_module_beside_the_workflow(tmp_path: Path, project: Path) -> None:
    good = wfrun(tmp_path, "validate", "project/flow.yaml", plugin_dist=False)
    assert (good.code, good.out) == (0, "ok: 1 file valid\n"), good

    outcome = wfrun(tmp_path, "run", "project/flow.yaml", "--runs-dir", "runs", plugin_dist=False)
    assert outcome.code == 0, outcome
    run_dir, record = record_of(tmp_path / "runs")
    assert record["status"] == "succeeded"
    assert record["plugins"] == ["local_types"]
    assert (run_dir / "outputs" / "say.txt").read_text() == "HEY HEY"


def test_plugins_key_types_are_validated(tmp_path: Path, project: Path) -> None:
    write(project, {"flow.yaml": LOCAL_FLOW.replace("repeat: 2", "repeat: 0, colour: red")})
    outcome = wfrun(tmp_path, "validate", "project/flow.yaml", plugin_dist=False)
    assert outcome.code == 2, outcome
    assert outcome.out == (
        "project/flow.yaml:5:49: error: agents.loud.with.repeat: input should be greater than "
        "or equal to 1 (got 0)\n"
        "project/flow.yaml:5:52: error: agents.loud.with.colour: unknown key 'colour'\n"
        "    hint: allowed keys: text, repeat\n"
        "2 errors in 1 file (invalid)\n"
    )


def test_a_plugin_module_that_does_not_import_is_a_positioned_error(
    tmp_path: Path, project: Path
) -> None:
    write(
        project,
        {
            "broken_types.py": "from __future__ import annotations\n\nimport no_such_dependency\n",
            "exploding_types.py": 'raise RuntimeError("plugin refuses to load")\n',
            "empty_types.py": "from __future__ import annotations\n",
            "flow.yaml": """
                version: 1
                plugins:
                  - broken_types
                  - no_such_module
                  - exploding_types
                  - empty_types
                agents:
                  echo: {type: shell, with: {run: [echo, hi]}}
                phases:
                  say: {agents: [echo]}
            """,
        },
    )
    hint = f"    hint: the module must be importable from {project} or installed\n"
    expected = (
        "project/flow.yaml:3:5: error: cannot import plugin module 'broken_types': "
        "No module named 'no_such_dependency'\n" + hint + "project/flow.yaml:4:5: error: "
        "cannot import plugin module 'no_such_module': No module named 'no_such_module'\n"
        + hint
        + "project/flow.yaml:5:5: error: cannot import plugin module 'exploding_types': "
        "plugin refuses to load\n" + hint + "project/flow.yaml:6:5: error: module "
        "'empty_types' has no TYPES list of wfrun TypeSpecs\n" + hint + "4 errors in 1 file "
        "(invalid)\n"
    )
    validated = wfrun(tmp_path, "validate", "project/flow.yaml", plugin_dist=False)
    assert (validated.code, validated.out) == (2, expected), validated

    ran = wfrun(tmp_path, "run", "project/flow.yaml", "--runs-dir", "runs", plugin_dist=False)
    assert ran.code == 2, ran
    assert "Traceback" not in ran.out + ran.err
    assert "project/flow.yaml:3:5: error: cannot import plugin module 'broken_types'" in (
        ran.out + ran.err
    )
    assert not (tmp_path / "runs").exists()  # nothing ran, so there is no record


def test_each_workflow_gets_the_plugin_beside_it(tmp_path: Path) -> None:
    """Two folders, each with its own `local_types.py`: one validate sees both right."""
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "local_types.py").write_text(
            "from __future__ import annotations\n"
            "from wfrun.builtins.config import Config\n"
            "from wfrun.registry import TypeSpec\n"
            "class Settings(Config):\n"
            "    pass\n"
            f"TYPES = [TypeSpec(kind='agent', name='agent_{name}', config=Settings)]\n"
        )
        (folder / "flow.yaml").write_text(
            "version: 1\nplugins: [local_types]\n"
            f"agents:\n  g: {{type: agent_{name}}}\nphases: {{p: {{agents: [g]}}}}\n"
        )
    done = subprocess.run(
        [sys.executable, "-m", "wfrun", "validate", "a/flow.yaml", "b/flow.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "ok: 2 files valid\n"
