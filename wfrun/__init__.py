"""wfrun: a YAML workflow runner that plans exactly when each resource must be alive.

The Python API mirrors the CLI:

    import wfrun
    workflow = wfrun.load("flow.yaml", params={"port": "9000"})
    plan = wfrun.plan(workflow)
    summary = wfrun.run(workflow, plan=plan)  # RunSummary(status, exit_code, run_dir, ...)

The names are imported on first use, so `import wfrun.spec` (what `wfrun validate`
needs) does not load the engine.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("wfrun")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from wfrun.engine.runner import RunSummary
    from wfrun.engine.runner import run_workflow as run
    from wfrun.planner import Plan
    from wfrun.planner import plan_workflow as plan
    from wfrun.spec import Workflow
    from wfrun.spec import load_workflow as load

_LAZY = {
    "RunSummary": ("wfrun.engine.runner", "RunSummary"),
    "run": ("wfrun.engine.runner", "run_workflow"),
    "Plan": ("wfrun.planner", "Plan"),
    "plan": ("wfrun.planner", "plan_workflow"),
    "Workflow": ("wfrun.spec", "Workflow"),
    "load": ("wfrun.spec", "load_workflow"),
}

__all__ = ["Plan", "RunSummary", "Workflow", "__version__", "load", "plan", "run"]


def __getattr__(name: str) -> Any:
    """Import an API name when it is first used (PEP 562)."""
    if name not in _LAZY:
        msg = f"module 'wfrun' has no attribute {name!r}"
        raise AttributeError(msg)
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
