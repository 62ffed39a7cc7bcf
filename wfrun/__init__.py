"""wfrun: a YAML workflow runner that plans exactly when each resource must be alive.

The Python API mirrors the CLI:

    import wfrun
    workflow = wfrun.load("flow.yaml", params={"port": "9000"})
    plan = wfrun.plan(workflow)
    summary = wfrun.run(workflow, plan=plan)  # RunSummary(status, exit_code, run_dir, ...)

The names are imported on first use: importing the package itself must stay cheap, so
`wfrun` can take charge of Ctrl-C (see `wfrun.__main__`) before anything heavy loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfrun.engine.runner import RunSummary
    from wfrun.engine.runner import run_workflow as run
    from wfrun.planner import Plan
    from wfrun.planner import plan_workflow as plan
    from wfrun.spec import Workflow
    from wfrun.spec import load_workflow as load

    __version__: str

_EXPORTS = {  # name -> (module, attribute)
    "Plan": ("wfrun.planner", "Plan"),
    "RunSummary": ("wfrun.engine.runner", "RunSummary"),
    "Workflow": ("wfrun.spec", "Workflow"),
    "load": ("wfrun.spec", "load_workflow"),
    "plan": ("wfrun.planner", "plan_workflow"),
    "run": ("wfrun.engine.runner", "run_workflow"),
}

__all__ = ["Plan", "RunSummary", "Workflow", "__version__", "load", "plan", "run"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            value = version("wfrun")
        except PackageNotFoundError:  # running from a source tree that was never installed
            value = "0+unknown"
    elif name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        msg = f"module 'wfrun' has no attribute {name!r}"
        raise AttributeError(msg)
    globals()[name] = value
    return value
