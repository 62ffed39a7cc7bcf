"""The registry knows every type's name without importing it, and imports on first use.

The import checks run in a fresh interpreter (what this test process imported does not
count); the plugins are tests/plugin_dist's, found through its entry points.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from wfrun.registry import BUILTIN_TYPES, TypeSpec, builtin_registry

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIST = Path(__file__).resolve().parent / "plugin_dist"


def test_the_table_names_exactly_each_modules_types_in_order() -> None:
    for module, names in BUILTIN_TYPES.items():
        types: list[TypeSpec] = importlib.import_module(module).TYPES
        assert tuple((spec.kind, spec.name) for spec in types) == names, module


def test_listing_gives_the_types_in_table_order_with_their_origin() -> None:
    registry = builtin_registry()
    listed = [(spec.kind, spec.name, spec.origin) for spec in registry]
    table = [(kind, name) for names in BUILTIN_TYPES.values() for kind, name in names]
    assert [(kind, name) for kind, name, _ in listed] == sorted(
        table, key=lambda pair: pair[0] != "resource"
    )
    assert {origin for _, _, origin in listed} == {"wfrun"}


PROBE = """
import json, sys
from wfrun.registry import default_registry
registry = default_registry()
seen = {"names": registry.names("resource") + registry.names("agent")}
def imported():
    return sorted(m for m in sys.modules if m.startswith(("wfrun.builtins.", "wfrun_demo")))
seen["before"] = imported()
for kind, name in [arg.split(":") for arg in sys.argv[1:]]:
    spec = registry.get(kind, name)
    seen[name] = spec and [spec.name, spec.origin]
seen["after"] = imported()
print(json.dumps(seen))
"""


def _probe(*lookups: str, path: Path = PLUGIN_DIST) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(path)])}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *lookups],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_names_are_known_without_importing_any_type() -> None:
    seen = _probe()
    assert seen["names"] == [
        *("workspace", "process", "memory", "container", "model", "demo_tally"),
        *("shell", "check", "python", "executor", "demo_greeter"),
    ]
    assert seen["before"] == seen["after"] == []


def test_a_named_type_imports_its_module_and_no_other_types() -> None:
    seen = _probe("resource:memory", "agent:demo_greeter")
    assert seen["memory"] == ["memory", "wfrun"]
    assert seen["demo_greeter"] == ["demo_greeter", "plugin wfrun-demo-plugin"]
    after = set(seen["after"])
    assert {"wfrun.builtins.memory", "wfrun_demo_plugin"} <= after
    others = ("workspace", "process", "container", "model", "shell", "python_agent", "executor")
    assert not {f"wfrun.builtins.{name}" for name in others} & after


def test_a_broken_plugin_fails_only_the_workflows_that_name_its_types(tmp_path: Path) -> None:
    """Its entry point is loaded when its type is named: then the error, exit 2."""
    info = tmp_path / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[wfrun.agents]\nbroken = no_such_module:TYPES\n")
    flow = "version: 1\nagents:\n  a: {type: shell, with: {run: [echo]}}\nphases:\n  p: {agents: [a]}\n"
    (tmp_path / "fine.yaml").write_text(flow)
    (tmp_path / "broken.yaml").write_text(flow.replace("type: shell", "type: broken"))

    def validate(name: str) -> tuple[int, str]:
        env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}
        done = subprocess.run(
            [sys.executable, "-m", "wfrun", "validate", name],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            cwd=tmp_path,
            env=env,
        )
        return done.returncode, done.stdout + done.stderr

    assert validate("fine.yaml") == (0, "ok: 1 file valid\n")
    message = (
        "error: cannot load entry point 'broken' (no_such_module:TYPES): "
        "No module named 'no_such_module'\n"
    )
    assert validate("broken.yaml") == (2, message)
