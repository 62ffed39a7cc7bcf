"""The core never imports the CLI or the terminal libraries (STYLE rule 3).

Each check runs in a fresh interpreter, so what this test process imported does not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UI_LIBRARIES = ("rich", "typer", "click", "shellingham", "pygments", "markdown_it")

PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
if sys.argv[2:]:
    from wfrun.registry import default_registry
    from wfrun.spec import load_workflow
    default_registry()  # imports every built-in type's module
    for path in sys.argv[2:]:
        load_workflow(path, environ={})
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _imported(module: str, *workflows: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *map(str, workflows)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "module", ["wfrun.spec", "wfrun.registry", "wfrun.planner", "wfrun.errors"]
)
def test_core_module_leaves_ui_libraries_out(module: str) -> None:
    assert not set(UI_LIBRARIES) & _imported(module)


def test_loading_every_example_leaves_ui_libraries_out() -> None:
    examples = [*REPO.glob("workflows/*.yaml"), *REPO.glob("workflows/*/workflow.yaml")]
    assert examples
    assert not set(UI_LIBRARIES) & _imported("wfrun.spec", *examples)


def test_the_probe_does_see_them_in_the_cli() -> None:
    """Guard against a probe that could never fail. (The CLI imports rich only when it
    prints through a console: the views import it.)"""
    assert "typer" in _imported("wfrun.cli")
    assert "rich" in _imported("wfrun.ui.run_view")


def _wfrun_modules(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('wfrun')))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.mark.parametrize("module", ["wfrun", "wfrun.spec", "wfrun.spec.expr"])
def test_importing_the_api_or_the_language_leaves_the_engine_out(module: str) -> None:
    """`import wfrun` is light: `wfrun validate` and plugins reading the spec pay for
    the spec alone; the engine loads when `wfrun.run` is first used."""
    loaded = _wfrun_modules(module)
    assert module in loaded
    assert not {m for m in loaded if m.startswith(("wfrun.engine", "wfrun.planner"))}


def test_the_api_names_load_on_first_use() -> None:
    loaded = _wfrun_modules("wfrun; wfrun.run")
    assert "wfrun.engine.runner" in loaded


# The CLI run as `python -m wfrun ARGS`, listing at exit every module it loaded.
CLI_PROBE = """
import atexit, json, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["wfrun", *sys.argv[2:]]
runpy.run_module("wfrun", run_name="__main__", alter_sys=True)
"""

# The plugin API that built-in types import (their `with:` models, contexts, process
# helpers): not the engine.
PLUGIN_API = ("wfrun.engine", "wfrun.engine.api", "wfrun.engine.ports", "wfrun.engine.procs")

GRAPH_FLOW = """\
version: 1
execution: graph
agents:
  g: {type: shell, with: {run: [echo]}}
phases:
  a: {agents: [g]}
  b: {agents: [g], needs: [a], if: "phases.a.success"}
  c: {agents: [g], needs: [a, b]}
"""


def _cli_modules(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    listing = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", CLI_PROBE, str(listing), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )
    return done.returncode, set(json.loads(listing.read_text()))


def test_validate_loads_neither_the_engine_nor_the_planner_nor_networkx(tmp_path: Path) -> None:
    """`wfrun validate` runs in every pre-commit hook and CI job: it loads the spec,
    the types and the CLI, not what runs or plans a workflow (nor a graph library for
    the cycle check); a cycle is still found."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(GRAPH_FLOW)
    code, loaded = _cli_modules(tmp_path, "validate", str(flow))
    assert code == 0
    assert "wfrun.spec.checks" in loaded
    heavy = {m for m in loaded if m.startswith(("wfrun.engine", "wfrun.planner"))}
    assert heavy <= set(PLUGIN_API)
    assert "networkx" not in loaded

    flow.write_text(GRAPH_FLOW.replace("needs: [a]", "needs: [a, c]"))
    code, loaded = _cli_modules(tmp_path, "validate", str(flow))
    assert code == 2
    assert "networkx" not in loaded


def test_help_loads_no_part_of_the_core(tmp_path: Path) -> None:
    code, loaded = _cli_modules(tmp_path, "--help")
    assert code == 0
    assert not {m for m in loaded if m.startswith(("wfrun.engine", "wfrun.planner", "wfrun.spec"))}


SHELL_AND_WORKSPACE = """\
version: 1
resources:
  scratch: {type: workspace}
agents:
  g: {type: shell, requires: [scratch], with: {run: [echo], cwd: "${resources.scratch.path}"}}
phases:
  a: {agents: [g]}
"""


def test_validate_imports_only_the_types_the_file_names(tmp_path: Path) -> None:
    """A clean `validate` of a file naming `shell` and `workspace` imports those two
    types' modules, not the other built-ins' (nor tenacity, which only a model call
    needs, nor rich: "ok" is one plain line). A misnamed type still gets its hint."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(SHELL_AND_WORKSPACE)
    code, loaded = _cli_modules(tmp_path, "validate", str(flow))
    assert code == 0
    assert {"wfrun.builtins.shell", "wfrun.builtins.workspace"} <= loaded
    others = ("process", "memory", "container", "model", "python_agent", "executor")
    assert not {f"wfrun.builtins.{name}" for name in others} & loaded
    assert not {"wfrun.builtins.openai_api", "wfrun.builtins.sandbox", "wfrun.engine.api"} & loaded
    assert not {"tenacity", "rich"} & {m.split(".")[0] for m in loaded}

    flow.write_text(SHELL_AND_WORKSPACE.replace("type: workspace", "type: workspaces"))
    done = subprocess.run(
        [sys.executable, "-m", "wfrun", "validate", "flow.yaml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 2
    assert done.stdout == (
        "flow.yaml:3:19: error: unknown resource type 'workspaces'\n"
        "    hint: did you mean 'workspace'?\n"
        "1 error in 1 file (invalid)\n"
    )
